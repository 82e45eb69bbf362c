"""Notebook 04's study: the pending limit, the seed's deadlock, two flows."""

import pytest

import zclab
from zclab.studies import max_pend as mp


def dead(policy, ring, pend, **kw):
    # the study's map is on the older guest (presets.SIMPLE_GUEST, zclab.studies.max_pend)
    cfg = zclab.Config(host="assumed-2011", workload="tcp_stream_64k", policy=policy, ring_size=ring, max_pend=pend,
                       max_pend_rule="fixed", n_packets=4_000, warmup_packets=500, **{**zclab.model.presets.SIMPLE_GUEST, **kw})
    return zclab.simulate(cfg).summary["deadlocked"]


@pytest.mark.parametrize("ring", [16, 64, 256])
def test_seed_deadlocks_exactly_where_the_ring_is_no_larger_than_max_pend(ring):
    """64 KB packets keep the whole ring pending: the seed's placement deadlocks iff
    ring_size <= max_pend (the limit can never fire)."""
    for pend in (8, 16, 32, 64, 128, 256, 512):
        assert dead("seed-2011", ring, pend) == (ring <= pend), (ring, pend)


@pytest.mark.parametrize("policy", ["ring-quarter-stall", "linux-4.15"])
def test_mainline_presets_never_deadlock(policy):
    for ring in (16, 64, 256):
        for pend in (8, 64, 512):
            assert not dead(policy, ring, pend)


def test_the_map_has_no_deadlock_below_the_diagonal():
    dl = mp.deadlock_map("assumed-2011", quick=True, store=None, progress=False)
    seed = dl[dl["policy"] == "seed-2011"]
    assert (seed[seed["ring_size"] > seed["max_pend"]]["deadlocked"] == 0).all()
    stream = seed[(seed["scenario"] == "64 KB stream") & (seed["ring_size"] < 1024)]
    assert (stream[stream["ring_size"] <= stream["max_pend"]]["deadlocked"] == 1).all()
    assert (dl[dl["policy"] != "seed-2011"]["deadlocked"] == 0).all()


def test_one_limited_flow_stalls_the_copied_flow_under_stall_but_not_under_fallback():
    """The 2017 measurement: 80 kpps each; one zero-copy flow behind 1 Mbit/s."""
    small = {}
    for policy in ("ring-quarter-stall", "linux-4.15"):
        s = zclab.simulate(mp.flow_config("assumed-2011", policy, limiter_mbps=1.0, n_packets=3_000)).summary
        small[policy] = s["flow_small_mpps"] * 1e6
    assert small["ring-quarter-stall"] < 2_000  # collapses to about the limiter's rate (~400 pps)
    assert small["linux-4.15"] > 60_000  # keeps about its 80 kpps


def test_rule_table_finds_the_limit_that_reaches_the_best_throughput():
    import pandas as pd

    agg = pd.DataFrame({"policy": "ring-quarter-stall", "ring_size": 256, "dma_base_ns": 2e4, "straggler_p": 0.0,
                        "max_pend": [8, 64, 256], "throughput_gbps": [1.0, 9.6, 10.0], "zerocopy_fraction": 1.0})
    row = mp.rule_table(agg).iloc[0]
    assert row["needed_limit"] == 64 and row["mainline_rule"] == 64 and row["share_at_mainline_rule"] == 0.96
