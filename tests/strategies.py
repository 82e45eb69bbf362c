"""Hypothesis strategies for valid, small, fast configurations."""

from hypothesis import strategies as st

from zclab import Config, ConfigError
from zclab.model.presets import POLICY_PRESETS


SIZE_DISTS = ["fixed", "uniform", "imix", "bimodal", "empirical", "cycle"]
SIZE_TABLES = ["64:1", "64:7,576:4,1500:1", "100:1,9000:2,65536:1"]
CYCLE_TABLES = ["1500,64", "243,244,245,256,257", "64,64,65536", "9000"]
#: socket limits: off, the least sk_sndbuf, small and kernel-default sizes (wmem_default,
#: tcp_limit_output_bytes of 4.2 and of 5.0)
SNDBUFS = [0, 0, 4608, 30000, 212992]
TSQS = [0, 0, 1, 20000, 262144, 1 << 20]


@st.composite
def flow_tables(draw, max_flows=3, poisson=False):
    """1 to ``max_flows`` flows: shares (or rates), sizes, destinations,
    limiters and stragglers of their own; any field may be left to the
    configuration's value."""
    flows = []
    for i in range(draw(st.sampled_from([2, 3, 1][: max_flows]) if max_flows > 1 else st.just(1))):
        f = {"name": draw(st.sampled_from(["bulk", "rr", "f"])) + str(i)}
        if draw(st.booleans()):
            f["share"] = draw(st.sampled_from([0.05, 0.25, 0.5, 1.0]))
        if poisson or draw(st.booleans()):
            f["rate_pps"] = draw(st.sampled_from([1e3, 5e4, 3e5, 2e6]))
        if draw(st.booleans()):
            d = draw(st.sampled_from(SIZE_DISTS))
            f["size_dist"] = d
            if d == "fixed":
                f["size_bytes"] = draw(st.sampled_from([1, 43, 256, 298, 1500, 9000, 65536]))
            elif d == "uniform":
                lo = draw(st.integers(1, 9000))
                f["size_min"], f["size_max"] = lo, draw(st.integers(lo, 65536))
            elif d == "bimodal":
                f["small_fraction"] = draw(st.sampled_from([0.0, 0.3, 0.9]))
            elif d == "empirical":
                f["size_table"] = draw(st.sampled_from(SIZE_TABLES))
            elif d == "cycle":
                f["size_table"] = draw(st.sampled_from(CYCLE_TABLES))
        if draw(st.booleans()):
            f["dest"] = draw(st.sampled_from(["wire", "local"]))
        limiter = draw(st.sampled_from([None, None, "pps", "mbps"]))
        if limiter == "pps":
            f["egress_rate_pps"] = draw(st.sampled_from([500.0, 2e4, 1e6, 1e8]))
        elif limiter == "mbps":
            f["egress_rate_mbps"] = draw(st.sampled_from([1.0, 100.0, 1e5]))
        if draw(st.booleans()):
            f["egress_delay_ns"] = draw(st.sampled_from([0.0, 3e3, 2e6]))
        if limiter is not None or f.get("egress_delay_ns"):
            f["egress_queue"] = draw(st.sampled_from([1, 3, 16, 1000]))
        if draw(st.booleans()):
            f["straggler_p"] = draw(st.sampled_from([0.0, 0.05, 0.5]))
            f["straggler_ns"] = draw(st.sampled_from([1e4, 5e5]))
        if draw(st.integers(0, 3)) == 0:  # the flow's own socket limits
            f["guest_sndbuf_bytes"] = draw(st.sampled_from(SNDBUFS))
            f["guest_tsq_bytes"] = draw(st.sampled_from(TSQS))
        flows.append(f)
    return flows


@st.composite
def run_configs(draw, n_max=1500, adversarial=True, extensions=False):
    """A random valid configuration that exercises every mechanism.

    Rings, limits and queues are drawn small so that stalls, span stalls,
    device waits, requeues, deadlocks and head-of-line blocking all happen.
    With ``extensions`` it also draws the model of docs/model.md section 6:
    flows (1 to 3), egress limiters, local delivery, batched copies
    (``tx_batch``, ``used_ring_ns``) and the host stack's costs.
    """
    ring = 2 ** draw(st.integers(1, 9))
    uio = 2 ** draw(st.integers(2, 10))
    p = dict(
        n_packets=draw(st.integers(1, n_max)),
        warmup_packets=draw(st.integers(0, 200)),
        seed=draw(st.integers(0, 2**32)),
        mode=draw(st.sampled_from(["copy", "zerocopy"])),
        policy=draw(st.sampled_from(sorted(POLICY_PRESETS))),
        completion=draw(st.sampled_from(["in_order", "out_of_order"])),
        ring_size=ring,
        uio_maxiov=uio,
        max_pend=draw(st.integers(0, uio)),
        goodcopy_len=draw(st.sampled_from([0, 64, 256, 1500, 65536])),
        arrival=draw(st.sampled_from(["saturate", "poisson"])),
        rate_pps=draw(st.sampled_from([1e4, 3e5, 3e6])),
        qdisc_len=draw(st.integers(0, 50)),
        size_dist=draw(st.sampled_from(SIZE_DISTS)),
        size_bytes=draw(st.integers(1, 65536)),
        vnet_hdr=draw(st.sampled_from(["socket", "vhost"])),
        lower_dev=draw(st.sampled_from(["nic", "nic", "dummy"])),
        dma_latency_dist=draw(st.sampled_from(["fixed", "exponential", "lognormal"])),
        dma_base_ns=draw(st.sampled_from([0.0, 1000.0, 20000.0, 200000.0])),
        straggler_p=draw(st.sampled_from([0.0, 0.01, 0.2])),
        straggler_ns=draw(st.sampled_from([1e4, 1e6])),
        txqueuelen=draw(st.integers(1, 64)),
        # the NIC (model.md section 1): both completion models and both queues, small
        # rings, every coalescing regime, byte queue limits and GSO segmentation
        nic_completion=draw(st.sampled_from(["coalesced", "coalesced", "synthetic"])),
        qdisc=draw(st.sampled_from(["pfifo_fast", "backpressure"])),
        tx_ring_size=draw(st.sampled_from([17, 24, 64, 512])),
        bql_limit_bytes=draw(st.sampled_from([0, 0, 1, 3000, 100_000])),
        tx_coalesce_usecs=draw(st.sampled_from([0.0, 1.0, 16.0, 125.0])),
        tx_max_coalesced_frames=draw(st.sampled_from([0, 1, 4, 32])),
        tx_clean_latency_ns=draw(st.sampled_from([0.0, 2000.0])),
        gso_size=draw(st.sampled_from([0, 1448, 9000])),
        gso_hdr_bytes=draw(st.sampled_from([0, 66])),
        weight_bytes=draw(st.sampled_from([1, 4096, 524288])),
        signal_every_publish=draw(st.booleans()),
        line_rate_gbps=draw(st.sampled_from([0.1, 1.0, 10.0, 100.0])),
        guest_xmit_ns=draw(st.sampled_from([0.0, 100.0, 1500.0])),
        kick_ns=draw(st.sampled_from([0.0, 2000.0])),
        wake_latency_ns=draw(st.sampled_from([0.0, 3000.0])),
        signal_ns=draw(st.sampled_from([0.0, 500.0])),
        reap_threshold=draw(st.integers(0, min(8, uio - 1))),
        weight_packets=draw(st.sampled_from([0, 0, 1, 3, 256])),
        busyloop_timeout_ns=draw(st.sampled_from([0.0, 0.0, 0.0, 2000.0, 50000.0])),
        guest_stop_free=draw(st.sampled_from([1, 1, 2, 5, 19])),
        guest_cb_delayed=draw(st.booleans()),
        # the virtio-net guest's napi_tx, chained descriptors and socket limits (mostly off,
        # so that the plain variant keeps its share of the draws)
        guest_napi_tx=draw(st.sampled_from([False, False, True])),
        guest_tx_poll_ns=draw(st.sampled_from([0.0, 2000.0])),
        guest_indirect_desc=draw(st.sampled_from([True, True, False])),
        guest_truesize_overhead=draw(st.sampled_from([0, 576])),
        guest_sndbuf_bytes=draw(st.sampled_from(SNDBUFS)),
        guest_tsq_bytes=draw(st.sampled_from(TSQS)),
    )
    if draw(st.booleans()):  # otherwise the policy preset's rules, release by release
        p["copy_via_heads"] = draw(st.sampled_from(["always", "when_pending", "never"]))
        p["heads_full_copy"] = draw(st.booleans())
    if draw(st.booleans()):
        p["max_pend_rule"] = draw(st.sampled_from(["fixed", "ring_quarter", "modulo"]))
    p["size_table"] = draw(st.sampled_from(CYCLE_TABLES if p["size_dist"] == "cycle" else SIZE_TABLES))
    if draw(st.booleans()):
        p["wake_on_completion"] = draw(st.sampled_from(["never", "always", "le2_or_16", "le1_or_16"]))
    if draw(st.booleans()):
        p["goodcopy_test"] = draw(st.sampled_from(["le", "lt"]))
        p["select_zcopy"] = draw(st.booleans())
    if draw(st.booleans()):
        p["pend_placement"] = draw(st.sampled_from(["seed", "stall", "copy_fallback"]))
    if adversarial:
        p["duplicate_head_p"] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.5, 1.0]))
    if extensions:
        p.update(
            tx_batch=draw(st.sampled_from([1, 2, 7, 64])),
            used_ring_ns=draw(st.sampled_from([0.0, 50.0, 400.0])),
            host_stack_ns_per_packet=draw(st.sampled_from([0.0, 700.0])),
            host_stack_ns_per_byte=draw(st.sampled_from([0.0, 0.1])),
            local_rx_ns_per_packet=draw(st.sampled_from([0.0, 300.0, 5000.0])),
        )
        if draw(st.integers(0, 3)):  # mostly with a flows table
            p["flows"] = draw(flow_tables(poisson=p["arrival"] == "poisson"))
        else:  # the single-flow fields on the configuration itself
            p["dest"] = draw(st.sampled_from(["wire", "local"]))
            if draw(st.booleans()):
                p["egress_rate_pps"] = draw(st.sampled_from([500.0, 2e4, 1e8]))
                p["egress_queue"] = draw(st.sampled_from([1, 16, 1000]))
            if draw(st.booleans()):
                p["egress_delay_ns"] = draw(st.sampled_from([3e3, 2e6]))
    p["trace_packets"] = draw(st.integers(0, p["n_packets"]))
    p["max_events"] = 200_000  # keeps the Python reference fast; both must agree on hitting it
    try:
        return Config(**p)
    except ConfigError as exc:
        if exc.field != "guest_indirect_desc":
            raise
        return Config(**{**p, "guest_indirect_desc": True})  # the largest chain is longer than the ring
