"""Notebook 05's logic: in-order against out-of-order completion."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from zclab.studies import completion_order as co

HOST = "assumed-2011"


@pytest.fixture(scope="module")
def agg():
    # the quick grid's points, in small runs (the study's own sizes are sizes(quick))
    return co.sweep_orders(HOST, quick=True, store=None, progress=False, runs=(30_000, 2))


def _at(agg, completion, p, d=1_000_000.0):
    return co._at(agg, completion, p, d)


def test_stragglers_cost_in_order_tail_latency_and_ring_time_but_not_out_of_order(agg):
    """With 1 completion in 100 held 1 ms, in-order p99 is several times out-of-order's,
    finished heads wait behind the straggler and the guest runs out of descriptors."""
    io, oo = _at(agg, "in_order", 1e-2), _at(agg, "out_of_order", 1e-2)
    assert io["latency_p99_ns"] > 3 * oo["latency_p99_ns"]
    assert io["hol_blocked_mean"] > 10 and oo["hol_blocked_mean"] == 0
    assert io["ring_full_time_fraction"] > 0.1 > oo["ring_full_time_fraction"]
    assert io["mpps"] < oo["mpps"]


def test_the_cost_grows_with_the_straggler_probability(agg):
    """In order, p99 and ring-full time rise from no stragglers to 1 in 100."""
    p = sorted(agg["straggler_p"].unique())
    io = [_at(agg, "in_order", x) for x in p]
    assert io[-1]["latency_p99_ns"] > io[0]["latency_p99_ns"]
    assert io[-1]["ring_full_time_fraction"] > io[0]["ring_full_time_fraction"]


def test_the_answer_is_built_from_the_frame(agg):
    text, nums = co.answer(agg)
    io, oo = _at(agg, "in_order", 1e-3), _at(agg, "out_of_order", 1e-3)
    assert nums["io_p99_us"] == pytest.approx(io["latency_p99_ns"] / 1e3)
    assert nums["p99_ratio"] == pytest.approx(io["latency_p99_ns"] / oo["latency_p99_ns"])
    filled = text.format(**nums)
    assert f"{nums['io_p99_us']:,.0f} µs" in filled and "{" not in filled


def test_break_even_interpolates_between_the_points_swept():
    pen = pd.DataFrame({"completion": ["in_order"] + ["out_of_order"] * 3,
                        "extra_ns": [0.0, 0.0, 100.0, 200.0],
                        "mpps": [0.5, 0.7, 0.6, 0.4],
                        "latency_p99_ns": [1000.0, 100.0, 200.0, 300.0]})
    assert co.break_even(pen, "mpps") == pytest.approx(150.0)
    assert co.break_even(pen, "latency_p99_ns") == np.inf
    pen.loc[1, "mpps"] = 0.4
    assert co.break_even(pen, "mpps") == 0.0


def test_a_straggler_holds_the_ring_in_order_only():
    """In order, every packet posted after the straggler comes back no earlier than the
    straggler itself; out of order most come back before it."""
    tr = co.straggler_traces(HOST, after=200, trace_packets=8_000)
    for completion, t in tr.items():
        s = t[t["straggler"]].iloc[0]
        assert s["t_dma_done"] - s["t_wire_done"] >= 500  # µs: a 1 ms straggler
        after = t[t["n"] > 0]
        before_it = (after["t_used"] < s["t_used"]).mean()
        if completion == "in_order":
            assert before_it == 0
        else:
            assert before_it > 0.5


def test_the_figures_have_a_panel_per_metric_and_per_order(agg):
    fig = co.figure_sweep(agg)
    assert sum(ax.get_visible() for ax in fig.axes) == len(co.METRICS)
    plt.close(fig)
    fig = co.figure_timeline(co.straggler_traces(HOST, after=50, trace_packets=5_000))
    assert [ax.get_title() for ax in fig.axes] == ["in-order", "out-of-order"]
    plt.close(fig)
