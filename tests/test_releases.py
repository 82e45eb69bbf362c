"""Each release preset's rules, pinned to the source they come from.

docs/model.md section 2 gives the table (a row per rule, a column per release) and
docs/kernel-history.md the kernel trees each rule was read in, with the quoted lines.
"""

import re
from pathlib import Path

import pytest

from zclab import Config, simulate
from zclab.model.presets import POLICY_ALIASES, POLICY_PRESETS, SIMPLE_GUEST, SYNTHETIC_NIC
from zclab.model.reference import ReferenceModel, simulate_reference

RELEASES = [p for p in POLICY_PRESETS if p != "ring-quarter-stall"]
#: 64 KB frames behind a 10 GbE wire with slow completions: zero-copy heads pile up
# the host's rules under the older guest (presets.SIMPLE_GUEST): virtio-net's stop and its
# sockets would hide them; the tests of the virtio-net guest switch it on themselves
PILE_UP = dict(workload="tcp_stream_64k", mode="zerocopy", dma_latency_dist="fixed", dma_base_ns=200_000.0,
               n_packets=3_000, warmup_packets=200, **SIMPLE_GUEST)


def test_every_preset_states_every_policy_knob_and_the_docs_table_has_its_column():
    knobs = set(POLICY_PRESETS["seed-2011"])
    table = Path(__file__).parents[1].joinpath("docs", "model.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| rule (knob) |"))
    for name, preset in POLICY_PRESETS.items():
        assert set(preset) == knobs, name
        if name in RELEASES:
            assert f"`{name}`" in header, name
    for knob in knobs:
        assert re.search(rf"^\| .*\(`{knob}`\) \|", table, re.M), f"no row for {knob} in docs/model.md"


def test_names_that_are_not_releases_are_aliases_of_the_release_they_claimed():
    assert Config(policy="mainline-fallback").policy == "linux-4.15"
    assert Config(policy="mainline-stall").policy == "linux-3.14"
    assert Config(policy="linux-3.13").to_dict() == Config(policy="linux-3.12").to_dict()  # 3.13 = 3.12's rules
    assert set(POLICY_ALIASES.values()) <= set(POLICY_PRESETS)


@pytest.mark.parametrize("policy, mode", [
    ("seed-2011", "zerocopy"),  # no module parameter: SOCK_ZEROCOPY decides
    ("linux-3.1", "copy"), ("linux-3.5", "copy"),  # static int experimental_zcopytx;
    ("linux-3.8", "zerocopy"), ("linux-4.15", "zerocopy"),  # = 1 from v3.8
    ("linux-6.1", "copy"),  # = 0 again from v5.3 (098eadce3c62)
])
def test_a_preset_sets_mode_to_the_releases_default_of_experimental_zcopytx(policy, mode):
    assert Config(policy=policy).mode == mode
    assert Config(policy=policy, mode="zerocopy").mode == "zerocopy"  # modprobe vhost_net experimental_zcopytx=1


# --- v3.12 to v4.14: (upend_idx + vq->num - VHOST_MAX_PEND) % UIO_MAXIOV == done_idx ------------

@pytest.mark.parametrize("policy", ["linux-3.12", "linux-3.14"])
def test_the_modulo_test_never_fires_on_a_256_or_512_entry_ring(policy):
    for ring in (256, 512):
        s = simulate(Config(policy=policy, ring_size=ring, **PILE_UP)).summary
        assert s["stalls"] == 0 and s["copy_fallbacks"] == 0
        assert s["outstanding_max"] == ring  # every descriptor pending: no limit at all


@pytest.mark.parametrize("policy", ["linux-3.12", "linux-3.14"])
def test_the_modulo_test_stops_the_worker_at_exactly_128_pending_on_a_1024_entry_ring(policy):
    cfg = Config(policy=policy, ring_size=1024, **PILE_UP)
    assert cfg.pend_limit == 128
    s = simulate(cfg).summary
    assert s["outstanding_max"] == 128 and s["stalls"] > 0 and not s["deadlocked"]


@pytest.mark.parametrize("policy", ["linux-3.12", "linux-3.14"])
def test_the_modulo_test_on_a_128_entry_ring_breaks_before_the_first_packet_and_the_queue_never_moves(policy):
    """With nothing pending the equality holds: handle_tx breaks with notification off,
    no completion can queue the worker, the guest fills the ring and stops: no packet leaves."""
    cfg = Config(policy=policy, ring_size=128, **{**PILE_UP, "warmup_packets": 0}, trace_packets=500)
    assert cfg.pend_limit == 0
    r = simulate(cfg)
    t = r.trace
    assert r.summary["deadlocked"]
    assert t["t_post"].notna().sum() == 128 and t["t_submit"].isna().all()  # the ring filled; nothing was sent
    assert simulate(cfg.replace(policy="linux-4.15")).summary["deadlocked"] is False  # v4.15 fixed it


# --- v4.15: more than min(VHOST_MAX_PEND, num >> 2) pending: copy ----------------------------------

@pytest.mark.parametrize("ring, limit", [(64, 16), (256, 64), (1024, 128)])
def test_v415_copies_a_long_packet_once_more_than_the_limit_are_pending(ring, limit):
    cfg = Config(policy="linux-4.15", ring_size=ring, trace_packets=1_000, **PILE_UP)
    r = simulate(cfg)
    s, t = r.summary, r.trace
    assert cfg.pend_limit == limit
    assert s["outstanding_max"] == limit + 1  # the test is strict: > limit
    assert s["copy_fallbacks"] > 0 and s["stalls"] == 0
    assert (t["path"] == "copy_fallback").any()


# --- which copies take a slot of heads[] --------------------------------------------------------

@pytest.mark.parametrize("via, held", [("always", True), ("when_pending", False), ("never", False)])
def test_short_packets_take_a_slot_only_as_the_release_says(via, held):
    """64-byte packets only (all copied, none ever outstanding): the seed records each in
    heads[] already done; v3.8's zcopy_used (len >= GOODCOPY || upend_idx != done_idx)
    skips heads[] while nothing is outstanding; v3.12 never records a copy."""
    cfg = Config(policy="linux-3.8", copy_via_heads=via, workload="small_64", n_packets=2_000)
    s = simulate(cfg).summary
    assert (s["heads_hold_mean_ns"] == s["heads_hold_mean_ns"]) is held  # NaN: no head was ever recorded


def test_when_pending_short_packets_queue_behind_an_outstanding_zero_copy_one():
    """1500 and 64 bytes in turn, completions slow: under v3.8 a 64-byte packet posted
    while a 1500-byte one is pending takes a slot and returns behind it; under v3.12 it
    goes to the used ring at once, ahead of it."""
    base = Config(size_dist="cycle", size_table="1500,64", mode="zerocopy", dma_latency_dist="fixed",
                  dma_base_ns=1e6, n_packets=200, warmup_packets=0, trace_packets=200)
    for policy, small_first in (("linux-3.8", False), ("linux-3.12", True)):
        t = simulate(base.replace(policy=policy, mode="zerocopy")).trace
        back = t.set_index("seq")["t_used"].fillna(float("inf"))  # not back by the end: last
        assert bool(back[1] < back[0]) == small_first, policy


def test_a_full_heads_ring_means_a_copy_from_v312():
    """A 2048-entry ring can fill heads[] (1024 slots) before a fixed limit of 1024:
    v3.12's zcopy_used copies the packet ((upend_idx + 1) % UIO_MAXIOV != done_idx);
    without that rule the worker would have to wait (zclab's own guard)."""
    cfg = Config(policy="linux-3.12", ring_size=2048, max_pend_rule="fixed", max_pend=1024, mode="zerocopy",
                 size_dist="fixed", size_bytes=1500, dma_latency_dist="fixed", dma_base_ns=5e6,
                 **SYNTHETIC_NIC, **SIMPLE_GUEST, txqueuelen=4096, n_packets=5_000, warmup_packets=0)
    s = simulate(cfg).summary
    assert s["copy_fallbacks"] > 0 and s["span_stalls"] == 0
    waits = simulate(cfg.replace(heads_full_copy=False)).summary
    assert waits["copy_fallbacks"] == 0 and waits["span_stalls"] > 0


# --- the callback's wake-up ----------------------------------------------------------------------

@pytest.mark.parametrize("rule, queues_at", [
    ("never", []),
    ("always", list(range(40))),
    # v3.8 to v3.13: cnt read before the put = 2 + skbs still in flight
    ("le2_or_16", [0, 14, 30]),
    # v3.14 on: cnt = vhost_net_ubuf_put(ubufs) = 1 + skbs still in flight
    ("le1_or_16", [0, 15, 31]),
])
def test_the_callback_queues_the_worker_at_the_counts_the_release_tests(rule, queues_at):
    m = ReferenceModel(Config(wake_on_completion=rule))
    got = []
    for in_flight in range(40):
        m.heads.pending = lambda n=in_flight: n
        if m.callback_queues():
            got.append(in_flight)
    assert got == queues_at


def test_a_callback_that_never_queues_the_worker_leaves_done_heads_to_the_next_kick():
    """v3.1: once the guest stops posting, completed heads wait; the seed's own deadlock
    (ring no larger than the limit) is the extreme case. v3.5's callback returns them."""
    base = Config(mode="zerocopy", workload="tcp_stream_64k", ring_size=64, n_packets=2_000)
    assert simulate(base.replace(policy="linux-3.1", mode="zerocopy")).summary["deadlocked"]
    assert not simulate(base.replace(policy="linux-3.5", mode="zerocopy")).summary["deadlocked"]


# --- the pass: vhost_exceeds_weight, busy polling ---------------------------------------------------

def test_a_pass_ends_after_vhost_net_pkt_weight_packets():
    # a guest faster than the worker keeps the avail ring from running dry
    cfg = Config(policy="linux-6.1", workload="small_64", ring_size=1024, guest_xmit_ns=100.0, n_packets=20_000,
                 warmup_packets=0)
    s = simulate(cfg).summary
    assert s["packets"] / 256 / 2 < s["requeues"] <= s["packets"] / 256 + 1
    # without it only VHOST_NET_WEIGHT's 0x80000 bytes end a pass: one in about 6,900 64-byte packets
    assert simulate(cfg.replace(weight_packets=0)).summary["requeues"] <= s["packets"] / 6_000 + 1


def test_busy_polling_takes_posts_without_a_kick_and_costs_worker_cpu():
    """Open loop at 100 kpps: each packet finds the worker idle. Polling 50 us (longer
    than the 10 us mean gap) catches most posts without a kick, at the price of the worker's CPU."""
    base = Config(policy="linux-6.1", workload="poisson_imix", rate_pps=100_000.0, n_packets=5_000)
    off = simulate(base).summary
    on = simulate(base.replace(busyloop_timeout_ns=50_000.0)).summary
    assert off["busypoll_time_fraction"] == 0.0 and off["kicks_per_packet"] > 0.5
    assert on["kicks_per_packet"] < 0.1 * off["kicks_per_packet"]
    assert on["busypoll_time_fraction"] > 0.5 and on["vhost_cpu_util"] > off["vhost_cpu_util"] + 0.4


@pytest.mark.parametrize("policy", RELEASES + ["ring-quarter-stall"])
def test_every_preset_agrees_with_the_reference_under_pressure(policy):
    for ring in (64, 256, 1024):
        cfg = Config(policy=policy, ring_size=ring, mode="zerocopy", workload="bimodal_64k",
                     dma_base_ns=50_000.0, n_packets=1_500, warmup_packets=100, trace_packets=300)
        a, b = simulate(cfg), simulate_reference(cfg)
        assert a.trace["used_idx"].tolist() == b.trace["used_idx"].tolist(), (policy, ring)
        for k, v in a.summary.items():
            assert v == b.summary[k] or (v != v and b.summary[k] != b.summary[k]), (policy, ring, k)


def test_with_a_fixed_completion_time_in_order_and_out_of_order_release_return_the_same_sequence():
    """One flow, one wire, a fixed DMA time: completions come in submission order, so
    releasing only the done prefix (the kernel) or every done head (what virtio allows)
    returns the same packets in the same order, whichever release's rules apply."""
    # the seed records copies in heads[], done at once while zero-copy ones are pending,
    # which is a real reason to reorder: one size only there; from v3.12 copies bypass heads[]
    for policy, workload in (("seed-2011", "tcp_stream_64k"), ("linux-3.14", "imix"), ("linux-4.15", "imix")):
        cfg = Config(policy=policy, mode="zerocopy", workload=workload, dma_latency_dist="fixed",
                     n_packets=3_000, warmup_packets=0, trace_packets=3_000)
        a = simulate(cfg).trace
        b = simulate(cfg.replace(completion="out_of_order")).trace
        assert a["used_idx"].tolist() == b["used_idx"].tolist(), policy


# --- the guest: virtio-net's queue stop and delayed callback ------------------------------------

VIRTIO_NET = dict(guest_stop_free=19, guest_cb_delayed=True)


def test_virtio_net_stops_its_queue_with_fewer_than_2_plus_max_skb_frags_free():
    """start_xmit: netif_stop_subqueue once num_free < 2 + MAX_SKB_FRAGS, so at most
    ring_size - 18 descriptors are ever out (v3.14's test never limits a 256-entry ring)."""
    base = Config(policy="linux-3.14", **PILE_UP)
    assert simulate(base).summary["outstanding_max"] == 256
    assert simulate(base.replace(guest_stop_free=19)).summary["outstanding_max"] == 256 - 18


def test_the_delayed_callback_interrupts_the_guest_less_often():
    # 64 KB frames behind a 10 GbE wire: the guest runs out of descriptors and waits
    base = Config(policy="linux-3.14", mode="zerocopy", workload="tcp_stream_64k", n_packets=20_000,
                  **{**SIMPLE_GUEST, "guest_stop_free": 19})
    plain = simulate(base).summary
    delayed = simulate(base.replace(guest_cb_delayed=True)).summary
    assert plain["signals_per_packet"] > 0.05  # an interrupt at the next return, each time it waits
    assert delayed["signals_per_packet"] < 0.1 * plain["signals_per_packet"]


def test_the_2017_stall_is_the_guests_under_v414_and_v415_lifts_it():
    """One zero-copy flow held by a 1 Mbit/s netem, one copied flow, 80 kpps each, 256-entry
    ring. v4.14's modulo test never fires; the virtio-net guest stops its queue, waits for
    3/4 of its buffers, and both flows fall to netem's rate (about 420 pps), as measured
    in 2017. zclab's old guest does not stall; v4.15's copy fallback lifts the stall."""
    from zclab.trust.calibration import two_flow_flows

    base = Config(**SIMPLE_GUEST, host="modern-host", policy="linux-3.14", flows=two_flow_flows(True, rate_pps=80_000.0),
                  arrival="poisson", egress_queue=1000, tx_batch=1, n_packets=4_000, warmup_packets=1_000)
    small = lambda cfg: simulate(cfg).summary["flow_small_mpps"] * 1e6  # noqa: E731
    assert small(base.replace(**VIRTIO_NET)) < 800
    assert small(base) > 5_000
    assert small(base.replace(policy="linux-4.15", **VIRTIO_NET)) > 50_000


def test_the_seed_with_a_virtio_net_guest_leaves_done_heads_unreturned():
    """The merged commit's admission ("if the guest stops submitting buffers, buffers might
    never get used"): a virtio-net guest waits for 3/4 of its outstanding buffers, the
    seed's worker goes idle once no more than VHOST_MAX_PEND are out, and its callback
    queues nobody: deadlocked. v3.5's callback, which queues the worker, does not."""
    base = Config(mode="zerocopy", workload="tcp_stream_64k", n_packets=20_000, **VIRTIO_NET)
    assert simulate(base.replace(policy="seed-2011", mode="zerocopy")).summary["deadlocked"]
    assert not simulate(base.replace(policy="linux-3.5", mode="zerocopy")).summary["deadlocked"]
