"""Hypothesis strategies for valid, small, fast configurations."""

from hypothesis import strategies as st

from zclab import Config
from zclab.presets import POLICY_PRESETS


@st.composite
def run_configs(draw, n_max=1500, adversarial=True):
    """A random valid configuration that exercises every mechanism.

    Rings, limits and queues are drawn small so that stalls, span stalls,
    device waits, requeues, deadlocks and head-of-line blocking all happen.
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
        size_dist=draw(st.sampled_from(["fixed", "uniform", "imix", "bimodal", "empirical"])),
        size_bytes=draw(st.integers(1, 65536)),
        size_table=draw(st.sampled_from(["64:1", "64:7,576:4,1500:1", "100:1,9000:2,65536:1"])),
        dma_latency_dist=draw(st.sampled_from(["fixed", "exponential", "lognormal"])),
        dma_base_ns=draw(st.sampled_from([0.0, 1000.0, 20000.0, 200000.0])),
        straggler_p=draw(st.sampled_from([0.0, 0.01, 0.2])),
        straggler_ns=draw(st.sampled_from([1e4, 1e6])),
        nic_queue_len=draw(st.integers(1, 64)),
        weight_bytes=draw(st.sampled_from([1, 4096, 524288])),
        signal_every_publish=draw(st.booleans()),
        line_rate_gbps=draw(st.sampled_from([0.1, 1.0, 10.0, 100.0])),
        guest_xmit_ns=draw(st.sampled_from([0.0, 100.0, 1500.0])),
        kick_ns=draw(st.sampled_from([0.0, 2000.0])),
        wake_latency_ns=draw(st.sampled_from([0.0, 3000.0])),
        signal_ns=draw(st.sampled_from([0.0, 500.0])),
        copy_via_heads=draw(st.booleans()),
        reap_threshold=draw(st.integers(0, min(8, uio - 1))),
    )
    if draw(st.booleans()):
        p["wake_on_completion"] = draw(st.booleans())
    if draw(st.booleans()):
        p["pend_placement"] = draw(st.sampled_from(["seed", "stall", "copy_fallback"]))
    if adversarial:
        p["duplicate_head_p"] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.5, 1.0]))
    p["trace_packets"] = draw(st.integers(0, p["n_packets"]))
    p["max_events"] = 200_000  # keeps the Python reference fast; both must agree on hitting it
    return Config(**p)
