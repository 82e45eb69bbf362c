"""Differential tests: the numba engine and the plain-Python reference model
(zclab.model.reference) must give identical summaries, bit for bit."""

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings

from zclab import Config, SimulationError, simulate
from zclab.model.presets import POLICY_PRESETS, SIMPLE_GUEST, SYNTHETIC_NIC
from zclab.model.reference import Xoshiro256, histogram_bucket, simulate_reference

from .strategies import run_configs


def assert_same(a: dict, b: dict):
    diff = {k: (a[k], b[k]) for k in a if not (a[k] == b[k] or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k])))}
    assert not diff, diff


MATRIX = list(
    itertools.product(
        sorted(POLICY_PRESETS),
        ["in_order", "out_of_order"],
        ["saturate", "poisson"],
        ["fixed", "uniform", "imix", "bimodal", "empirical"],
        [0.0, 0.02],
    )
)


def _fast_sample(cases, period):
    """The cases, all but every ``period``-th marked slow (CI's full run takes them all).
    A period prime to the inner factors' sizes keeps every value of each in the fast
    tier's sample: with 3 on the matrix, every size mix, arrival, order and straggler
    setting meets every policy; with 7 on the extensions, every case runs in both orders."""
    return [c if i % period == 0 else pytest.param(*c, marks=pytest.mark.slow) for i, c in enumerate(cases)]


@pytest.mark.parametrize("policy, completion, arrival, size_dist, straggler_p", _fast_sample(MATRIX, 3))
def test_engine_matches_reference_on_the_matrix(policy, completion, arrival, size_dist, straggler_p):
    """Every policy preset x completion order x arrival process x size
    distribution, stragglers on and off; small rings so the limits bite."""
    cfg = Config(
        policy=policy, completion=completion, arrival=arrival, size_dist=size_dist, straggler_p=straggler_p,
        straggler_ns=300_000.0, size_table="64:5,700:3,9000:2", size_bytes=3000, rate_pps=400_000.0,
        ring_size=64, guest_xmit_ns=400.0, kick_ns=500.0, n_packets=1_500, warmup_packets=150,
        seed=MATRIX.index((policy, completion, arrival, size_dist, straggler_p)),
    )
    a, b = simulate(cfg).summary, simulate_reference(cfg).summary
    assert_same(a, b)
    assert a["invariant_violations"] == 0


@pytest.mark.parametrize(
    "params",
    [
        dict(mode="copy"),
        dict(mode="copy", signal_every_publish=True, weight_bytes=3000),
        dict(ring_size=128, max_pend=128),  # seed deadlock
        dict(ring_size=4096, uio_maxiov=256, max_pend=64, guest_xmit_ns=10.0),  # span stalls
        dict(policy="linux-4.15", completion="out_of_order", straggler_p=0.1, straggler_ns=1e5),
        dict(txqueuelen=2, line_rate_gbps=0.5, workload="tcp_stream_64k"),
        dict(duplicate_head_p=0.3, completion="out_of_order", policy="ring-quarter-stall"),
        dict(dma_latency_dist="lognormal", dma_sigma=1.5, workload="bimodal_64k"),
        dict(reap_threshold=16, workload="small_64", goodcopy_len=0),
        dict(workload="poisson_imix", rate_pps=5e6, qdisc_len=5),
    ],
)
def test_engine_matches_reference_on_stress_cases(params):
    cfg = Config(**{"n_packets": 2_000, "warmup_packets": 100, **params})
    assert_same(simulate(cfg).summary, simulate_reference(cfg).summary)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_configs(n_max=600))
def test_engine_matches_reference_on_random_configs(cfg):
    try:
        a = simulate(cfg).summary
    except SimulationError:
        with pytest.raises(SimulationError):  # an extreme overload hits the event cap in both
            simulate_reference(cfg)
        return
    assert_same(a, simulate_reference(cfg).summary)


def test_traces_agree():
    cfg = Config(n_packets=400, warmup_packets=50, trace_packets=300, straggler_p=0.05, straggler_ns=1e5)
    a, b = simulate(cfg).trace, simulate_reference(cfg).trace
    assert len(a) == len(b) == 300
    for col in ["seq", "head", "len", "flow", "used_idx", "t_post", "t_fetch", "t_submit", "t_wire_start", "t_wire_done", "t_used"]:
        assert list(a[col]) == list(b[col]), col
    zc = a["path"] == "zerocopy"
    assert list(a.loc[zc, "t_dma_done"]) == list(b.loc[zc, "t_dma_done"])
    assert list(a["path"].astype(str)) == list(b["path"])


def test_rng_streams_agree():
    from zclab.model.engine import rng

    s = rng.new_state(12345)
    r = Xoshiro256(12345)
    for _ in range(1000):
        assert int(rng.next_u64(s)) == r.next_u64()


def test_histogram_buckets_agree():
    import numpy as np

    from zclab.model.engine.histogram import bucket_of_bits

    for x in [1.0, 1.5, 2.0, 3.999, 1e3, 123456.789, 1e9, 2.0**62]:
        bits = np.array([x]).view(np.int64)[0]
        assert bucket_of_bits(bits) == histogram_bucket(x)


def test_every_engine_parameter_is_set_from_the_config():
    """A field of the parameter record left at zero would silently change the model."""
    from zclab.model.engine import layout as L
    from zclab.model.simulation import kernel_args

    a = kernel_args(Config(seed=3))["params"]
    b = kernel_args(Config(
        seed=4, max_events=12345, debug=True, arrival="poisson", trace_packets=10,
        reap_threshold=3, signal_every_publish=True, duplicate_head_p=0.1, tx_batch=8, used_ring_ns=50,
        host_stack_ns_per_packet=100, host_stack_ns_per_byte=0.1, local_rx_ns_per_packet=500,
        wake_on_completion=True, completion="out_of_order", pend_placement="stall", select_zcopy=True,
        size_dist="uniform", straggler_p=0.01, flows=[{"name": "a"}, {"name": "b"}], qdisc="backpressure",
        bql_limit_bytes=3000, tx_max_coalesced_frames=8,
        max_pend_rule="modulo", copy_via_heads="when_pending", heads_full_copy=True, weight_packets=256,
        busyloop_timeout_ns=5e4, ring_size=512, guest_stop_free=19, guest_cb_delayed=True,
        guest_napi_tx=True, guest_indirect_desc=False, guest_tsq_bytes=1000,
    ))["params"]
    for name in L.P.names:
        assert a[0][name] != 0 or b[0][name] != 0, name


def test_flow_rows_carry_each_flows_parameters():
    from zclab.model.engine import layout as L
    from zclab.model.simulation import kernel_args

    k = kernel_args(Config(flows=[
        {"name": "a", "size_dist": "uniform", "size_min": 10, "size_max": 20, "dest": "local", "straggler_p": 0.5},
        {"name": "b", "egress_rate_pps": 1000, "egress_queue": 7, "rate_pps": 2000, "size_dist": "imix"},
        {"name": "c", "egress_rate_mbps": 8, "size_dist": "fixed", "size_bytes": 300},
    ]))
    fi, ff = k["fl_i"], k["fl_f"]
    assert list(fi[:, L.FI_DEST]) == [L.DEST_LOCAL, L.DEST_WIRE, L.DEST_WIRE]
    assert list(fi[:, L.FI_LIMITED]) == [0, 1, 1] and fi[1, L.FI_EQUEUE] == 7
    assert (fi[0, L.FI_SIZE_KIND], fi[0, L.FI_SIZE_MIN], fi[0, L.FI_SIZE_MAX]) == (L.SIZE_UNIFORM, 10, 20)
    assert fi[1, L.FI_SIZE_N] == 3 and fi[2, L.FI_SIZE_N] == 1
    assert list(k["size_vals"][fi[1, L.FI_SIZE_OFF]:fi[1, L.FI_SIZE_OFF] + 3]) == [64, 576, 1500]
    assert k["size_vals"][fi[2, L.FI_SIZE_OFF]] == 300
    assert ff[0, L.FF_STRAGGLER_P] == 0.5 and ff[1, L.FF_GAP] == 1e6 / 2
    assert ff[1, L.FF_LIM_NS] == 1e6 and ff[2, L.FF_LIM_NS_PER_BYTE] == 1000.0  # 8 bits at 8 Mbit/s


# --- the model extensions (model.md section 6): flows, limiters, local delivery, the host, batching ---

TWO_FLOWS = [
    {"name": "zc", "share": 0.5, "size_dist": "fixed", "size_bytes": 298},
    {"name": "small", "share": 0.5, "size_dist": "fixed", "size_bytes": 43},
]
LIMITED_2017 = [{**TWO_FLOWS[0], "egress_rate_mbps": 1.0, "egress_queue": 1000}, TWO_FLOWS[1]]
MIXED = [
    {"name": "bulk", "share": 0.6, "size_dist": "bimodal", "small_fraction": 0.2, "straggler_p": 0.05, "straggler_ns": 2e5},
    {"name": "host", "share": 0.3, "dest": "local", "size_dist": "empirical", "size_table": "64:5,700:3,9000:2",
     "straggler_p": 0.02, "straggler_ns": 5e4},
    {"name": "shaped", "share": 0.1, "size_dist": "uniform", "size_min": 200, "size_max": 3000,
     "egress_rate_pps": 2e4, "egress_queue": 4},
]
EXTENSIONS = {
    "two_flows": dict(flows=TWO_FLOWS),
    "2017_limited": dict(flows=LIMITED_2017, n_packets=600),
    "mixed": dict(flows=MIXED),
    "mixed_poisson": dict(flows=[{**f, "rate_pps": r} for f, r in zip(MIXED, [2e5, 1e5, 3e4])], arrival="poisson", qdisc_len=8),
    "limiter_drops_pps": dict(egress_rate_pps=5e4, egress_queue=3, workload="tcp_stream_64k"),
    "limiter_drops_mbps": dict(egress_rate_mbps=300.0, egress_queue=10, size_dist="bimodal"),
    "local_zerocopy": dict(dest="local", local_rx_ns_per_packet=800.0, workload="bimodal_64k", straggler_p=0.05, straggler_ns=1e5),
    "local_copy": dict(dest="local", local_rx_ns_per_packet=800.0, mode="copy", txqueuelen=4),
    "host_stack": dict(host_stack_ns_per_packet=900.0, host_stack_ns_per_byte=0.05, used_ring_ns=120.0),
    "tx_batch_copy": dict(mode="copy", tx_batch=16, used_ring_ns=200.0, guest_xmit_ns=100.0),
    "tx_batch_copy_every_publish": dict(mode="copy", tx_batch=64, used_ring_ns=50.0, signal_every_publish=True, weight_bytes=20_000),
    "tx_batch_zerocopy": dict(tx_batch=8, used_ring_ns=100.0),  # batching only applies in copy mode
    # netem holding every skb (egress_delay_ns), alone and with a rate; sizes in turn
    "netem_delay": dict(egress_delay_ns=2e5, egress_queue=100_000, size_dist="cycle", size_table="1500,64"),
    "netem_delay_rate_drops": dict(egress_delay_ns=5e4, egress_rate_pps=2e5, egress_queue=20, workload="tcp_stream_64k"),
    # a dummy lower device: callbacks inside sendmsg, or at netem's release
    "dummy": dict(lower_dev="dummy", size_dist="cycle", size_table="1500,64", straggler_p=0.05, straggler_ns=1e5),
    "dummy_netem": dict(lower_dev="dummy", egress_delay_ns=3e4, egress_queue=100_000, workload="tcp_stream_64k"),
    # local delivery with vhost_net_tx_select_zcopy turning zero-copy off (tx_zcopy_err)
    "select_zcopy_local": dict(dest="local", select_zcopy=True, goodcopy_test="lt", size_dist="cycle",
                               size_table="1500,1500,64", n_packets=3_000),
    "select_zcopy_flows": dict(select_zcopy=True, flows=[{"name": "host", "dest": "local", "size_bytes": 9000,
                               "size_dist": "fixed"}, {"name": "wire", "egress_delay_ns": 1e5, "egress_queue": 50}]),
}


@pytest.mark.parametrize("case, completion, policy", _fast_sample(
    list(itertools.product(sorted(EXTENSIONS), ["in_order", "out_of_order"], sorted(POLICY_PRESETS))), 7))
def test_engine_matches_reference_on_the_extensions(case, completion, policy):
    """Every extension case x completion order x policy preset: the summaries,
    per-flow fields included, are identical."""
    params = {"ring_size": 64, "guest_xmit_ns": 400.0, "kick_ns": 500.0, "n_packets": 1_500, "warmup_packets": 150,
              "seed": sorted(EXTENSIONS).index(case), **EXTENSIONS[case]}
    cfg = Config(policy=policy, completion=completion, **params)
    a, b = simulate(cfg).summary, simulate_reference(cfg).summary
    assert_same(a, b)
    assert a["invariant_violations"] == 0
    if cfg.flows is not None and len(cfg.flows) > 1:
        names = [dict(f)["name"] for f in cfg.flows]
        assert all(f"flow_{n}_latency_p99_ns" in a for n in names)
        assert sum(a[f"flow_{n}_packets"] for n in names) == a["packets"]




@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_configs(n_max=600, extensions=True))
def test_engine_matches_reference_on_random_configs_with_extensions(cfg):
    try:
        a = simulate(cfg).summary
    except SimulationError:
        with pytest.raises(SimulationError):
            simulate_reference(cfg)
        return
    b = simulate_reference(cfg).summary
    assert a.keys() == b.keys()
    assert_same(a, b)


def test_traces_agree_with_flows_limiters_and_local_delivery():
    cfg = Config(n_packets=400, warmup_packets=50, trace_packets=300, flows=MIXED, policy="linux-4.15")
    a, b = simulate(cfg).trace, simulate_reference(cfg).trace
    assert len(a) == len(b) == 300
    for col in ["seq", "head", "len", "flow", "used_idx", "t_post", "t_fetch", "t_submit", "t_wire_start", "t_wire_done", "t_used"]:
        assert a[col].fillna(-1).tolist() == b[col].fillna(-1).tolist(), col
    zc = a["path"] == "zerocopy"
    assert zc.any()
    assert a.loc[zc, "t_dma_done"].fillna(-1).tolist() == b.loc[zc, "t_dma_done"].fillna(-1).tolist()


def test_limiter_faster_than_the_wire_gives_the_same_goodput_in_engine_and_reference():
    cfg = Config(n_packets=3_000, warmup_packets=100, mode="copy", size_dist="fixed", size_bytes=1500,
                 line_rate_gbps=0.1, txqueuelen=1, egress_rate_pps=1e9, egress_queue=1000)
    a, b = simulate(cfg).summary, simulate_reference(cfg).summary
    assert a["throughput_gbps"] == b["throughput_gbps"] and a["mpps"] == b["mpps"]
    # the limiter waits for room in the device queue: the wire stays the bottleneck
    # (only ~43 skbs cross the wire in the window, hence one skb's worth of tolerance)
    assert a["throughput_gbps"] == pytest.approx(0.1 * 1500 / 1524, rel=0.03)
    # the copies outrun the wire: the limiter's queue fills and drops, nothing breaks
    assert a["egress_drops"] > 0 and a["invariant_violations"] == 0


def test_outstanding_max_agrees_when_a_release_batch_straddles_the_warmup():
    cfg = Config(n_packets=1, warmup_packets=1, seed=2, size_dist="empirical", size_table="1500:1,64:1")
    assert simulate(cfg).summary["outstanding_max"] == simulate_reference(cfg).summary["outstanding_max"]


def test_an_adversarial_guest_runs_the_variant_with_the_used_ring():
    """The plain engine variant hands each used id straight back to the guest's free
    list, which is only the model when every used id is one the guest posted once.
    simulate() sends an adversarial guest to the extended variant, whose guest drains
    a real used ring (and counts BAD_RING and early frees); the plain one refuses it."""
    import numpy as np

    from zclab.model.engine import layout as L
    from zclab.model.engine.core import run
    from zclab.model.engine.histogram import N_BUCKETS
    from zclab.model.simulation import kernel_args, uses_extensions

    adversarial = Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, duplicate_head_p=0.3, n_packets=2000, seed=5)  # else extended anyway
    assert uses_extensions(adversarial) and not uses_extensions(adversarial.replace(duplicate_head_p=0.0))
    s = simulate(adversarial).summary
    assert s["guest_bad_ring"] > 0 and s["guest_early_free"] > 0  # the used ring's checks ran
    assert_same(s, simulate_reference(adversarial).summary)

    a = kernel_args(adversarial)
    call = (a["params"], a["fl_i"], a["fl_f"], a["flow_thresh"], a["flow_alias"], a["size_vals"], a["size_thresh"],
            a["size_alias"], np.zeros(1, L.RUN), np.zeros(N_BUCKETS, np.int64), np.zeros((1, len(L.FLOW_I)), np.int64),
            np.zeros((1, len(L.FLOW_F))), np.zeros((1, 1), np.int64), np.zeros((0, len(L.TRACE_F))),
            np.zeros((0, len(L.TRACE_I)), np.int64))
    with pytest.raises(ValueError, match="adversarial guest"):
        run(*call)


@pytest.mark.parametrize("dma", [
    dict(dma_latency_dist="exponential", dma_base_ns=3000.0),
    dict(dma_latency_dist="fixed", dma_base_ns=0.0),  # completions at the wire's done times: ties with pops
    dict(dma_latency_dist="lognormal", dma_base_ns=200_000.0, dma_sigma=1.5),  # long DMA: far out of order
])
@pytest.mark.parametrize("completion", ["in_order", "out_of_order"])
def test_completions_behind_a_busy_wire_come_in_the_reference_order(dma, completion):
    """The engine holds the wire's completions back in submission order until the wire
    has finished them (they cannot come earlier), and only then puts them in its heap.
    Behind a deep, busy device queue (64 KB and IMIX packets, stragglers) that must
    leave the order of events, and so every figure, the reference's."""
    # the older guest: virtio-net's sockets and queue stop would deadlock the seed's 64 KB
    # sender (tests/test_guest.py); the synthetic NIC's heap and the coalesced NIC's ring
    for workload, nic in itertools.product((dict(size_dist="fixed", size_bytes=65536),
                                            dict(size_dist="imix", line_rate_gbps=1.0)), ({}, SYNTHETIC_NIC)):
        cfg = Config(n_packets=1500, warmup_packets=100, straggler_p=0.05, straggler_ns=200_000.0,
                     completion=completion, seed=11, **workload, **dma, **nic, **SIMPLE_GUEST)
        s = simulate(cfg).summary
        assert s["zerocopy_fraction"] > 0.3
        assert_same(s, simulate_reference(cfg).summary)


def test_traces_agree_on_the_used_ring_when_netem_holds_packets_past_the_end():
    """Held zero-copy packets never return before the run ends: both traces say -1."""
    cfg = Config(policy="linux-6.1", mode="zerocopy", lower_dev="dummy", egress_delay_ns=2e6, egress_queue=100_000, size_dist="cycle",
                 size_table="1500,64", n_packets=500, warmup_packets=0, trace_packets=500)
    a, b = simulate(cfg).trace, simulate_reference(cfg).trace
    assert (a["used_idx"] == -1).sum() > 0
    assert a["used_idx"].tolist() == b["used_idx"].tolist()
    assert a["path"].astype(str).tolist() == b["path"].tolist()
