"""The virtio-net guest (docs/model.md section 1): per-flow socket limits that hold bytes
until the guest frees the skb, napi_tx, and chained descriptors without
VIRTIO_RING_F_INDIRECT_DESC. Each rule is pinned to the kernel source it comes from
(docs/kernel-history.md Q6 and Q8 quote the lines); the engine and the reference model
must agree on every one of them bit for bit.
"""

import math
import re
from pathlib import Path

import pytest

from zclab import Config, ConfigError, simulate
from zclab.model.config import PARAMETERS, SOCK_MIN_SNDBUF, virtio_descs
from zclab.model.engine import core
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC, WORKLOAD_PRESETS
from zclab.model.reference import ReferenceModel, simulate_reference
from zclab.model.simulation import kernel_args, uses_extensions, variant

#: 64 KB TSO frames, zero-copy under v4.15's rules
TSO = dict(policy="linux-4.15", mode="zerocopy", workload="tcp_stream_64k", n_packets=5_000, warmup_packets=500)
TRUESIZE_64K = 65536 + 576
NEW_FIELDS = ("guest_napi_tx", "guest_indirect_desc", "guest_sndbuf_bytes", "guest_tsq_bytes",
              "guest_truesize_overhead", "guest_tx_poll_ns")


def simple_guest(**on) -> dict:
    """zclab's older guest (presets.SIMPLE_GUEST: every virtio-net knob off, no socket limit)
    with the knobs being tested switched on: the tests of one rule keep the rest as they were
    written, not as the 6.1 guest of the defaults has them."""
    return {**SIMPLE_GUEST, **on}


def assert_same(a: dict, b: dict):
    diff = {k: (a[k], b[k]) for k in a
            if not (a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])))}
    assert not diff, diff


# --- the numbers, from the source ----------------------------------------------------------------

def test_the_truesize_overhead_is_skb_truesizes_fixed_part():
    """include/net/sock.h: SK_WMEM_MAX = SKB_TRUESIZE(256) * 256, and net.core.wmem_default
    is 212992 on x86-64: SKB_TRUESIZE(256) = 832, so its fixed part, SKB_DATA_ALIGN(sizeof(struct
    sk_buff)) + SKB_DATA_ALIGN(sizeof(struct skb_shared_info)), is 576 (shinfo: 48 bytes of
    fields and 17 frags of 16, 320; sk_buff 256 aligned)."""
    assert (256 + Config().guest_truesize_overhead) * 256 == 212992
    assert 48 + 17 * 16 == 320 and Config().guest_truesize_overhead - 320 == 256
    # SOCK_MIN_SNDBUF = 2 * (2048 + SKB_DATA_ALIGN(sizeof(struct sk_buff)))
    assert SOCK_MIN_SNDBUF == 2 * (2048 + 256)


def test_a_send_buffer_below_sock_min_sndbuf_is_refused_with_the_field_value_and_what_is_allowed():
    allowed = "must be 0 (off) or from 4608 to 2147483647"
    with pytest.raises(ConfigError, match=re.escape(f"guest_sndbuf_bytes=100: {allowed}") + "$") as err:
        Config(guest_sndbuf_bytes=100)
    assert (err.value.field, err.value.value) == ("guest_sndbuf_bytes", 100)
    with pytest.raises(ConfigError, match=re.escape(f"flows[1].guest_sndbuf_bytes=4607: {allowed}")):
        Config(flows=[{"name": "a"}, {"name": "b", "guest_sndbuf_bytes": 4607}])
    with pytest.raises(ConfigError, match=re.escape("guest_tsq_bytes=-1: must be from 0 to 2147483647")):
        Config(guest_tsq_bytes=-1)
    assert Config(guest_sndbuf_bytes=0).guest_sndbuf_bytes == 0  # off
    assert Config(guest_sndbuf_bytes=SOCK_MIN_SNDBUF).guest_sndbuf_bytes == 4608


def test_a_chain_longer_than_the_ring_is_refused_without_indirect_descriptors():
    with pytest.raises(ConfigError) as err:
        Config(guest_indirect_desc=False, ring_size=16, workload="tcp_stream_64k")
    assert err.value.field == "guest_indirect_desc" and err.value.value is False
    assert "a 65536-byte packet takes 18 descriptors" in str(err.value) and "ring_size=16" in str(err.value)
    # the largest size any flow can draw decides; a size of weight 0 is never drawn
    Config(guest_indirect_desc=False, ring_size=16, size_dist="empirical", size_table="1500:1,65536:0")
    with pytest.raises(ConfigError):
        Config(guest_indirect_desc=False, ring_size=16, flows=[{"name": "a"}, {"name": "b", "size_dist": "uniform",
                                                                                "size_max": 65536}])
    assert Config(guest_indirect_desc=True, ring_size=16, workload="tcp_stream_64k").ring_size == 16


def test_descriptors_of_a_chain_are_the_header_the_linear_part_and_a_page_per_4k():
    """xmit_skb (6.1): sg_set_buf for the header when it is not pushed into the linear
    part, then skb_to_sgvec: one entry for the linear part and one per fragment. 2 +
    MAX_SKB_FRAGS = 19 is virtio-net's stop threshold: a 64 KB frame must fit it."""
    assert [virtio_descs(n, 66) for n in (1, 66, 67, 4162, 4163, 1500, 9000, 65536)] == [2, 2, 3, 3, 4, 3, 5, 18]
    assert virtio_descs(65536, 0) == 17  # no linear part: no entry for it
    assert max(virtio_descs(n, h) for n in range(1, 65537, 97) for h in (0, 66, 1024)) <= 2 + 17
    p = kernel_args(Config(gso_hdr_bytes=66))["params"][0]
    for n in (1, 66, 67, 1500, 4162, 4163, 65536):
        assert core._vdescs(p, n) == virtio_descs(n, 66)


# --- the socket's rules: sock_alloc_send_pskb, sock_def_write_space, tcp_small_queue_check -------

def test_a_datagram_sender_blocks_at_sndbuf_and_wakes_only_below_half():
    """sock_alloc_send_pskb: sleep while sk_wmem_alloc >= sk_sndbuf; sock_def_write_space
    wakes the writer once sock_writeable: sk_wmem_alloc < sk_sndbuf >> 1 (6.1)."""
    m = ReferenceModel(Config(guest_sndbuf_bytes=10_000))
    fl = m.flows[0]
    fl.wmem = 9_999
    assert m.sock_try(0)  # below: it allocates (and may go past sndbuf)
    fl.wmem = 10_000
    assert not m.sock_try(0) and fl.sleeping
    m.sock_release(0, 4_000)  # 6,000: below sndbuf, but asleep until below half
    assert fl.sleeping and not m.sock_try(0)
    m.sock_release(0, 1_000)  # 5,000 is not below 5,000
    assert fl.sleeping
    m.sock_release(0, 1)
    assert not fl.sleeping and m.sock_try(0)
    # the engine's helpers give the same answers
    assert core._sock_try(9_999, 0, 10_000, 0) == (True, 0)
    assert core._sock_try(10_000, 0, 10_000, 0) == (False, 1)
    assert core._sock_try(6_000, 1, 10_000, 0) == (False, 1)
    assert core._sock_wakes(5_000, 1, 10_000) == 1 and core._sock_wakes(4_999, 1, 10_000) == 0


def test_tcp_small_queues_hold_above_the_limit_and_release_at_each_free():
    """tcp_small_queue_check: throttled while sk_wmem_alloc > limit; tcp_wfree lets the
    tasklet try again at every free: no hysteresis."""
    m = ReferenceModel(Config(guest_tsq_bytes=10_000))
    fl = m.flows[0]
    fl.wmem = 10_000
    assert m.sock_try(0)  # not above
    fl.wmem = 10_001
    assert not m.sock_try(0) and not fl.sleeping
    m.sock_release(0, 1)
    assert m.sock_try(0)
    assert core._sock_try(10_000, 0, 0, 10_000) == (True, 0) and core._sock_try(10_001, 0, 0, 10_000) == (False, 0)


@pytest.mark.parametrize("limit, in_flight", [
    # tcp_limit_output_bytes of 4.2 to 4.20: sends while 3 x 66,112 <= 262,144, not at 4
    (dict(guest_tsq_bytes=262_144), 4),
    # of 5.0 on (16 * 65536): 15 x 66,112 <= 1 MiB < 16 x 66,112
    (dict(guest_tsq_bytes=1 << 20), 16),
    # net.core.wmem_default: 3 x 66,112 < 212,992 <= 4 x 66,112
    (dict(guest_sndbuf_bytes=212_992), 4),
])
def test_with_napi_tx_a_socket_limit_bounds_the_skbs_a_flow_has_not_had_freed(limit, in_flight):
    base = Config(**TSO, **simple_guest(guest_napi_tx=True), trace_packets=2_000)
    r = simulate(base.replace(**limit))
    assert r.summary["outstanding_max"] == in_flight and r.summary["socket_wait_time_fraction"] > 0.5
    t = r.trace
    posted = t["t_post"].to_numpy()
    used = t["t_used"].to_numpy()
    assert max(((posted <= x) & (used > x)).sum() for x in posted) <= in_flight
    assert simulate(base).summary["outstanding_max"] == 64 + 1  # no limit but v4.15's: > min(128, 256 >> 2)


@pytest.mark.parametrize("limit", [dict(guest_tsq_bytes=1), dict(guest_sndbuf_bytes=SOCK_MIN_SNDBUF)])
def test_without_napi_tx_skb_orphan_ends_the_charge_at_the_post_so_a_bulk_sender_never_waits(limit):
    """start_xmit (6.1): if (!use_napi) skb_orphan(skb): the bytes in the ring are no
    socket's. A bulk sender then has at most the packet it is sending charged: the tiniest
    limit changes nothing, so such a run stays in the plain variant."""
    base = Config(**TSO, **SIMPLE_GUEST)  # napi_tx off
    assert not base.guest_napi_tx and variant(base)[0]  # the coalesced NIC: the extended variant applies the limit
    s = simulate(base.replace(**limit)).summary
    assert s["socket_wait_time_fraction"] == 0.0
    assert_same(s, simulate(base).summary)
    # the synthetic NIC: the limit keeps the run in the plain variant, which is exact: the
    # reference model, which applies the socket's rules, gives the same numbers
    synthetic = base.replace(**SYNTHETIC_NIC)
    assert not variant(synthetic)[0] and not variant(synthetic.replace(**limit))[0]
    assert_same(simulate_reference(synthetic.replace(**limit)).summary, simulate(synthetic).summary)


def test_without_napi_tx_an_open_loop_socket_holds_only_what_waits_in_the_guest_qdisc():
    """Charged from the arrival (skb_set_owner_w) to the post (skb_orphan): sndbuf 4608 and
    1500-byte frames (2076 bytes of truesize) let two in, a third while below 4608, then the
    sender sleeps until less than 2304 is charged: the qdisc never holds more than three."""
    base = Config(**SIMPLE_GUEST, policy="linux-4.15", arrival="poisson", rate_pps=2e6, size_dist="fixed",
                  size_bytes=1500, qdisc_len=100, n_packets=5_000, warmup_packets=500)
    free = simulate(base).summary
    held = simulate(base.replace(guest_sndbuf_bytes=SOCK_MIN_SNDBUF)).summary
    assert free["qdisc_len_mean"] > 50 and free["socket_drops"] == 0
    assert held["qdisc_len_mean"] <= 3 and held["socket_drops"] > 0 and held["drops"] == 0


def test_an_open_loop_flow_without_room_waits_in_its_socket_then_drops_and_the_drops_are_its_own():
    """Two Poisson flows; one has TSQ at a single skb. Its sends wait in its socket (up to
    qdisc_len) and the rest are dropped there, counted as socket_drops and in its _drops;
    the other flow is not held back by it."""
    flows = [{"name": "tcp", "guest_tsq_bytes": 1, "rate_pps": 300_000.0, "size_dist": "fixed", "size_bytes": 9000},
             {"name": "udp", "rate_pps": 100_000.0, "size_dist": "fixed", "size_bytes": 64}]
    cfg = Config(policy="linux-4.15", mode="zerocopy", arrival="poisson", qdisc_len=50, flows=flows,
                 guest_napi_tx=True, n_packets=5_000, warmup_packets=500)
    s = simulate(cfg).summary
    assert s["socket_drops"] > 0 and s["flow_tcp_drops"] >= s["socket_drops"] and s["flow_udp_drops"] == 0
    assert s["flow_udp_mpps"] == pytest.approx(0.1, rel=0.1)
    assert_same(s, simulate_reference(cfg).summary)


# --- late completions slow the sender; completions that never come stop it -----------------------

def test_stragglers_under_in_order_release_slow_a_sender_with_a_socket_limit_and_not_without():
    """A completion held 1 ms holds every head behind it (in order); without a limit the ring
    hides it, with TSQ (napi_tx) the sender waits for its frees."""
    base = Config(**TSO, **simple_guest(guest_napi_tx=True), nic_completion="synthetic", straggler_ns=1e6)

    def gbps(**kw):
        return simulate(base.replace(**kw)).summary["throughput_gbps"]

    assert gbps(straggler_p=0.05) > 0.99 * gbps(straggler_p=0.0)  # no limit: line rate either way
    limited = dict(guest_tsq_bytes=262_144)
    assert gbps(straggler_p=0.05, **limited) < 0.7 * gbps(straggler_p=0.0, **limited)
    # without napi_tx the charge ends at the post: the limit cannot hold the sender
    no_napi = dict(guest_napi_tx=False, **limited)
    assert gbps(straggler_p=0.05, **no_napi) > 0.99 * gbps(straggler_p=0.0, **no_napi)


def test_a_sender_waiting_for_frees_the_host_never_returns_is_deadlocked():
    """The seed's callback queues no one: once the socket limit stops the sender, the avail
    ring runs dry, the worker waits for a kick, and the done heads are never returned, so
    the guest's frees never come (the merged commit's "buffers might never get used").
    v3.5's callback queues the worker and returns them. (The older guest, interrupted at the
    next return: virtio-net's delayed callback stalls the seed with no socket limit at all.)"""
    base = Config(mode="zerocopy", workload="tcp_stream_64k", n_packets=5_000,
                  **simple_guest(guest_napi_tx=True, guest_tsq_bytes=262_144))
    stuck = simulate(base.replace(policy="seed-2011", mode="zerocopy")).summary
    assert stuck["deadlocked"] and stuck["socket_wait_time_fraction"] > 0
    assert not simulate(base.replace(policy="linux-3.5", mode="zerocopy")).summary["deadlocked"]
    assert not simulate(base.replace(policy="seed-2011", mode="zerocopy", guest_tsq_bytes=0)).summary["deadlocked"]
    assert_same(stuck, simulate_reference(base.replace(policy="seed-2011", mode="zerocopy")).summary)


def test_open_loop_senders_all_without_room_and_no_free_to_come_are_deadlocked():
    """An idle guest waits for arrivals, but if every flow's socket is full and the host will
    never return its buffers, no arrival can ever be sent."""
    cfg = Config(mode="zerocopy", arrival="poisson", rate_pps=1e6, workload="poisson_imix", size_dist="fixed",
                 size_bytes=65536, n_packets=5_000, **simple_guest(guest_napi_tx=True, guest_tsq_bytes=262_144))
    assert simulate(cfg).summary["deadlocked"] and simulate_reference(cfg).summary["deadlocked"]
    assert not simulate(cfg.replace(policy="linux-3.5", mode="zerocopy")).summary["deadlocked"]


def test_under_the_v314_wake_up_a_tsq_limited_sender_gets_its_buffers_back_when_the_last_completes():
    """vhost_zerocopy_callback from v3.14: cnt = vhost_net_ubuf_put(ubufs); if (cnt <= 1 ||
    !(cnt % 16)) vhost_poll_queue. With four 64 KB skbs out (TSQ at 262,144) and the guest
    waiting, no kick comes: only the fourth completion (cnt 1) queues the worker, which
    returns all four at once. v3.5's callback queues it every time."""
    base = Config(**TSO, guest_napi_tx=True, guest_tsq_bytes=262_144, trace_packets=400)
    t = simulate(base).trace
    assert set(t.groupby("t_used").size()) == {4}
    always = simulate(base.replace(policy="linux-3.5", mode="zerocopy"))
    assert 4 not in set(always.trace.groupby("t_used").size())
    assert simulate(base).summary["throughput_gbps"] < 0.7 * always.summary["throughput_gbps"]


# --- napi_tx: the interrupt at every start_xmit, the poll, its CPU --------------------------------

def test_with_napi_tx_the_guest_takes_tx_interrupts_while_its_queue_runs():
    """Without napi_tx virtio-net asks for an interrupt only when it stops its queue; with it
    start_xmit arms virtqueue_enable_cb_delayed at every packet, and each interrupt runs
    virtnet_poll_tx on the vCPU (guest_tx_poll_ns each)."""
    base = Config(**SIMPLE_GUEST, policy="linux-6.1", n_packets=20_000)
    off = simulate(base.replace(guest_napi_tx=False)).summary
    on = simulate(base.replace(guest_napi_tx=True)).summary
    assert off["ring_full_time_fraction"] == 0.0 and off["signals_per_packet"] == 0.0
    assert off["tx_polls_per_packet"] == 0.0
    assert on["tx_polls_per_packet"] > 0.01 and on["signals_per_packet"] >= on["tx_polls_per_packet"]
    # the vCPU's time: a transmit per packet, a kick's exit, and now a poll per interrupt
    c = base
    for s, poll in ((off, 0.0), (on, c.guest_tx_poll_ns)):
        per_packet = c.guest_xmit_ns + c.kick_ns * s["kicks_per_packet"] + poll * s["tx_polls_per_packet"]
        assert s["guest_cpu_util"] * s["sim_time_ns"] == pytest.approx(per_packet * s["packets"], rel=0.01)


def test_with_napi_tx_the_delayed_callback_means_fewer_interrupts():
    """virtqueue_enable_cb_delayed waits for 3/4 of the outstanding; virtqueue_enable_cb
    (guest_cb_delayed=False) for the next."""
    base = Config(**TSO, **simple_guest(guest_napi_tx=True, guest_tsq_bytes=1 << 20))
    now = simulate(base.replace(guest_cb_delayed=False)).summary
    delayed = simulate(base.replace(guest_cb_delayed=True)).summary
    assert delayed["tx_polls_per_packet"] < 0.5 * now["tx_polls_per_packet"]


def test_a_tx_poll_frees_and_asks_for_the_next_used_buffer():
    """virtnet_poll_tx: free_old_xmit_skbs, then virtqueue_enable_cb_prepare: used_event =
    last_used_idx, so the next return interrupts again; its CPU delays the next step."""
    m = ReferenceModel(Config(guest_napi_tx=True, guest_tsq_bytes=1000))
    m.now, m.returned, m.guest_ready, m.g_busy_until = 100.0, 7, 100.0, 50.0
    m.g_poll, m.g_cb = True, False
    m.tx_poll()
    assert (m.g_cb, m.g_used_event, m.g_poll, m.polled) == (True, 7, False, True)
    assert m.guest_ready == 100.0 + m.c.guest_tx_poll_ns and m.st.o["tx_polls"] == 1


def test_the_tx_poll_waits_for_the_start_xmit_under_way():
    """start_xmit runs with bottom halves off (dev_queue_xmit): a TX interrupt during it
    has its poll run when it ends, never in the middle: no poll starts between a packet's
    take and its post."""
    cfg = Config(**TSO, **simple_guest(guest_napi_tx=True, guest_tsq_bytes=1 << 20), guest_xmit_ns=20_000.0,
                 irq_latency_ns=100.0)
    m = ReferenceModel(cfg)
    orig, seen = m.tx_poll, []
    m.tx_poll = lambda: (seen.append((m.now, m.g_poll_t, m.g_state, m.posted_now)), orig())
    m.run()
    assert seen and all(now >= due for now, due, _, _ in seen)
    assert all(state != "tx" or posted for _, _, state, posted in seen)  # after the post, not during the transmit
    assert any(now > due for now, due, _, _ in seen)  # some waited for the transmit to end


# --- descriptors without VIRTIO_RING_F_INDIRECT_DESC ---------------------------------------------

PILE_UP = dict(workload="tcp_stream_64k", mode="zerocopy", dma_latency_dist="fixed", dma_base_ns=200_000.0,
               nic_completion="synthetic", n_packets=3_000, warmup_packets=200, policy="linux-3.14", **SIMPLE_GUEST)


@pytest.mark.parametrize("stop_free", [1, 19])
def test_without_indirect_descriptors_the_ring_holds_descriptors_not_packets(stop_free):
    """v3.14's modulo test never fires on a 256-entry ring: every free descriptor is
    outstanding. A 64 KB frame takes 18 descriptors: 14 fit in 256 (and 14 x 18 leaves 4,
    fewer than 19: virtio-net stops there too); with indirect descriptors, one each."""
    base = Config(**{**PILE_UP, "guest_stop_free": stop_free, "guest_indirect_desc": True})
    assert simulate(base).summary["outstanding_max"] == 256 - (stop_free - 1)
    s = simulate(base.replace(guest_indirect_desc=False)).summary
    assert s["outstanding_max"] == 256 // 18 and s["ring_full_time_fraction"] > 0.5
    assert s["invariant_violations"] == 0 and s["packets"] == 3_000  # heads stay one per packet


def test_without_indirect_descriptors_small_frames_take_two_and_mixed_sizes_wait_to_fit():
    base = Config(**{**PILE_UP, "workload": "small_64", "dma_base_ns": 2e6, "guest_indirect_desc": True},
                  goodcopy_len=0)
    assert simulate(base).summary["outstanding_max"] == 256
    s = simulate(base.replace(guest_indirect_desc=False)).summary
    assert s["outstanding_max"] == 128  # 2 descriptors each
    mixed = Config(**{**PILE_UP, "workload": "bimodal_64k", "guest_indirect_desc": False}, ring_size=32)
    assert_same(simulate(mixed).summary, simulate_reference(mixed).summary)


# --- defaults, variants, the parameter table, the docs -------------------------------------------

def test_the_defaults_are_a_61_guests_virtio_net_and_the_simple_guest_runs_in_the_plain_variant():
    c = Config()
    assert (c.guest_stop_free, c.guest_cb_delayed, c.guest_napi_tx, c.guest_indirect_desc) == (19, True, True, True)
    assert c.guest_truesize_overhead == 576 and c.guest_tx_poll_ns == 2000.0
    assert Config(host="modern-host").guest_tx_poll_ns == 1000.0
    # the sockets come from the workload: a datagram socket's wmem_default, or TCP small queues
    assert c.workload == "imix" and (c.guest_sndbuf_bytes, c.guest_tsq_bytes) == (212_992, 0)
    tcp = Config(workload="tcp_stream_64k")
    assert (tcp.guest_sndbuf_bytes, tcp.guest_tsq_bytes) == (0, 1 << 20)
    for name, udp_or_tcp in (("imix", (212_992, 0)), ("small_64", (212_992, 0)), ("poisson_imix", (212_992, 0)),
                             ("tcp_stream_64k", (0, 1 << 20)), ("bimodal_64k", (0, 1 << 20))):
        w = WORKLOAD_PRESETS[name]
        assert (w["guest_sndbuf_bytes"], w["guest_tsq_bytes"]) == udp_or_tcp, name
    # naming a workload brings its limits back; a limit given explicitly wins over the preset
    back = c.replace(workload="tcp_stream_64k")
    assert (back.guest_sndbuf_bytes, back.guest_tsq_bytes) == (0, 1 << 20)
    assert Config(workload="tcp_stream_64k", guest_tsq_bytes=0).guest_tsq_bytes == 0
    # the 6.1 guest (napi_tx) needs the extended variant, even on the synthetic NIC
    assert uses_extensions(Config(**SYNTHETIC_NIC))
    # the older guest runs in the plain variant
    simple = {**SYNTHETIC_NIC, **SIMPLE_GUEST}
    assert not uses_extensions(Config(**simple)) and not uses_extensions(Config(**simple, arrival="poisson"))
    for knob in (dict(guest_napi_tx=True), dict(guest_indirect_desc=False)):
        assert uses_extensions(Config(**{**simple, **knob})), knob
    # a socket limit without napi_tx: a bulk sender's never holds a packet (skb_orphan at the
    # post), so the run stays plain and gives the numbers of the run without it; an open-loop
    # sender's holds what waits in the guest qdisc: extended
    no_limit = Config(**simple, n_packets=5_000, warmup_packets=500)
    for limit in (dict(guest_sndbuf_bytes=SOCK_MIN_SNDBUF), dict(guest_tsq_bytes=1),
                  dict(guest_sndbuf_bytes=SOCK_MIN_SNDBUF, guest_tsq_bytes=1)):
        limited = no_limit.replace(**limit)
        assert not uses_extensions(limited), limit
        assert_same(simulate(limited).summary, simulate(no_limit).summary)
        assert_same(simulate_reference(limited).summary, simulate(no_limit).summary)  # the rules applied in full
        assert uses_extensions(limited.replace(arrival="poisson")), limit
    one_flow = no_limit.replace(flows=[{"name": "a"}])
    assert not uses_extensions(one_flow)
    per_flow = one_flow.replace(flows=[{"name": "a", "guest_tsq_bytes": 1}])
    assert not uses_extensions(per_flow) and uses_extensions(per_flow.replace(arrival="poisson"))
    assert_same(simulate(per_flow).summary, simulate(one_flow).summary)
    # virtio-net's stop and restart and the delayed callback are rules of the plain variant;
    # the costs and the overhead alone change nothing, and need no extended variant either
    assert not uses_extensions(Config(**{**simple, "guest_stop_free": 19, "guest_cb_delayed": True}))
    assert not uses_extensions(Config(**simple, guest_tx_poll_ns=1.0, guest_truesize_overhead=0))


def test_each_flows_socket_limits_reach_its_row():
    from zclab.model.engine import layout as L

    cfg = Config(guest_sndbuf_bytes=0, guest_tsq_bytes=5,
                 flows=[{"name": "a"}, {"name": "b", "guest_sndbuf_bytes": 9000, "guest_tsq_bytes": 0}])
    for c, gx in ((cfg, True), (cfg.replace(guest_napi_tx=False), False),
                  (cfg.replace(guest_napi_tx=False, arrival="poisson"), True)):
        k = kernel_args(c)
        assert list(k["fl_i"][:, L.FI_TSQ]) == [5, 0] and list(k["fl_i"][:, L.FI_SNDBUF]) == [0, 9000]
        p = k["params"][0]
        # without napi_tx a bulk sender's limits hold nothing: no guest extension; an open-loop one's do
        assert p["socks"] and p["gx"] == gx and p["guest_napi_tx"] == c.guest_napi_tx and p["guest_indirect_desc"]


def test_every_new_field_is_listed_by_zclab_params_and_in_the_defaults_table():
    import contextlib
    import io

    from zclab.cli import main

    table = Path(__file__).parents[1].joinpath("docs", "model.md").read_text()
    for name in NEW_FIELDS:
        assert name in PARAMETERS
        assert re.search(rf"^\|[^|]*`{name}`[^|]*\|", table, re.M), f"{name} not in docs/model.md's tables"

    def default_text(name):
        return re.search(rf"^\| `{name}` \| ([^|]*) \|", table, re.M).group(1).strip()

    for name in ("guest_napi_tx", "guest_indirect_desc", "guest_truesize_overhead"):
        assert default_text(name) == str(getattr(Config(), name)).lower(), name
    # the socket limits' defaults are the workload preset's: each preset's value, named with it
    # (or as "the others")
    for name in ("guest_sndbuf_bytes", "guest_tsq_bytes"):
        parts = default_text(name).split(";")
        for w, preset in WORKLOAD_PRESETS.items():
            said = [t for t in parts if f"`{w}`" in t] or [t for t in parts if "the others" in t]
            assert len(said) == 1 and said[0].strip().startswith(f"{preset[name]:,} "), (name, w, parts)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["params", *NEW_FIELDS]) == 0
    for name in NEW_FIELDS:
        assert name in out.getvalue()


# --- engine = reference on every knob -------------------------------------------------------------

#: on top of the older guest (presets.SIMPLE_GUEST), as written; the last two are the 6.1
#: guest of the defaults, with the sockets of a datagram and of a TCP workload
EVERY_KNOB = [
    dict(guest_napi_tx=True),
    dict(guest_napi_tx=True, guest_cb_delayed=True, guest_stop_free=19, guest_sndbuf_bytes=100_000),
    dict(guest_napi_tx=True, guest_tsq_bytes=20_000, workload="tcp_stream_64k", trace_packets=300),
    dict(guest_napi_tx=True, guest_tsq_bytes=262_144, workload="tcp_stream_64k", nic_completion="synthetic",
         straggler_p=0.02, completion="out_of_order"),
    dict(guest_tsq_bytes=262_144, guest_sndbuf_bytes=30_000, workload="bimodal_64k"),
    dict(guest_indirect_desc=False, workload="bimodal_64k", guest_stop_free=19, guest_cb_delayed=True),
    dict(guest_indirect_desc=False, workload="bimodal_64k", guest_napi_tx=True, ring_size=32, gso_hdr_bytes=0),
    dict(guest_napi_tx=True, guest_sndbuf_bytes=30_000, arrival="poisson", rate_pps=300_000.0, qdisc_len=20),
    dict(guest_sndbuf_bytes=8_000, arrival="poisson", rate_pps=300_000.0, qdisc_len=0),
    dict(guest_napi_tx=True, guest_tsq_bytes=9_000, guest_truesize_overhead=0,
         flows=[{"name": "a", "share": 2}, {"name": "b", "guest_tsq_bytes": 0, "guest_sndbuf_bytes": 5_000}]),
    dict(guest_napi_tx=True, guest_tsq_bytes=9_000, arrival="poisson", qdisc_len=3, guest_indirect_desc=False,
         flows=[{"name": "a", "rate_pps": 2e5, "size_dist": "fixed", "size_bytes": 9000},
                {"name": "b", "guest_tsq_bytes": 0, "guest_sndbuf_bytes": 5_000, "dest": "local"}]),
    dict(guest_napi_tx=True, signal_every_publish=True, guest_sndbuf_bytes=20_000, guest_tx_poll_ns=0.0),
    dict(guest_napi_tx=True, guest_tsq_bytes=50_000, duplicate_head_p=0.1, trace_packets=500),
    dict(guest_napi_tx=True, guest_tsq_bytes=1, busyloop_timeout_ns=2e4, policy="linux-6.1", tx_batch=64),
    dict(guest_stop_free=19, guest_cb_delayed=True, guest_napi_tx=True, guest_sndbuf_bytes=212_992),
    dict(guest_stop_free=19, guest_cb_delayed=True, guest_napi_tx=True, guest_tsq_bytes=1 << 20,
         workload="bimodal_64k"),
]


@pytest.mark.parametrize("knobs", EVERY_KNOB)
def test_engine_matches_reference_on_every_guest_knob(knobs):
    cfg = Config(**{"policy": "linux-4.15", "mode": "zerocopy", "n_packets": 2_000, "warmup_packets": 100,
                    **SIMPLE_GUEST, **knobs})
    a, b = simulate(cfg), simulate_reference(cfg)
    assert_same(a.summary, b.summary)
    assert a.summary["invariant_violations"] == 0
    if cfg.trace_packets:
        for col in ("seq", "head", "len", "flow", "used_idx", "t_post", "t_fetch", "t_used"):
            assert list(a.trace[col]) == list(b.trace[col]), col
