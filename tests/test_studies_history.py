"""Notebook 06's logic: the kernel's zero-copy policies against copying."""

import matplotlib.pyplot as plt
import pytest

from zclab.studies import history

HOST = "assumed-2011"


@pytest.fixture(scope="module")
def agg():
    # the quick grid's points, in small runs (the study's own sizes are sizes(quick))
    return history.sweep_history(HOST, quick=True, store=None, progress=False, runs=(20_000, 1))


def test_every_path_workload_condition_and_ring_is_swept(agg):
    assert set(agg["path"]) == set(history.PATHS)
    assert len(agg) == len(history.PATHS) * 5 * len(history.CONDITIONS) * len(history.RINGS)


def test_seed_2011_deadlocks_when_the_ring_is_no_larger_than_max_pend(agg):
    """The 2011 limit cannot fire with ring_size <= VHOST_MAX_PEND: with 64 KB frames the
    guest runs out of descriptors and nothing wakes the worker. v3.14 to v4.14 deadlock on
    every point of a 128-entry ring: (upend_idx + 128 - 128) % 1024 == done_idx holds with
    nothing pending, so handle_tx breaks before its first packet. v4.15 and copying never
    deadlock, and none does at QEMU's ring of 256."""
    dl = history.deadlocks(agg)
    assert set(dl["path"]) == {"seed-2011", "linux-3.14"}
    assert (dl["ring_size"] == 128).all()
    assert {"tcp_stream_64k", "bimodal_64k"} <= set(dl.loc[dl["path"] == "seed-2011", "workload"])
    modulo = agg[(agg["path"] == "linux-3.14") & (agg["ring_size"] == 128)]
    assert modulo["deadlocked"].all() and len(modulo) > 0


def test_zero_copy_saves_cpu_on_large_frames_only(agg):
    rel = history.relative_to_copy(agg)
    at = lambda wl, path: rel[(rel["workload"] == wl) & (rel["path"] == path)
                              & (rel["ring_size"] == 256) & (rel["condition"] == "no stragglers")].iloc[0]
    assert at("tcp_stream_64k", "linux-3.14")["host_cycles_per_byte_ratio"] < 0.5
    assert at("imix", "linux-3.14")["host_cycles_per_byte_ratio"] > 1.0
    # 64-byte packets are copied on every path: the same numbers as copying
    assert at("small_64", "seed-2011")["throughput_gbps_ratio"] == pytest.approx(1.0)
    # deadlocked points have no ratio
    dead = rel[rel["deadlocked"] > 0]
    assert dead["throughput_gbps_ratio"].isna().all()


def test_the_answer_and_the_figure(agg):
    text, nums = history.answer(agg)
    filled = text.format(**nums)
    assert nums["other_deadlocks"] == 0
    assert nums["seed_deadlocks"] + nums["modulo_deadlocks"] == len(history.deadlocks(agg))
    assert nums["modulo_deadlocks"] == nums["modulo_points_small_ring"] > 0
    assert "{" not in filled
    fig = history.figure_history(history.relative_to_copy(agg))
    assert len(fig.axes) == len(history.METRICS) * len(history.PANELS)
    plt.close(fig)
