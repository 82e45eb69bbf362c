"""Notebook 07's logic: a guest that posts the same head twice."""

import matplotlib.pyplot as plt
import pytest

from zclab.studies import adversarial as adv

HOST = "assumed-2011"


@pytest.fixture(scope="module")
def swept():
    # the quick grid's points, in small runs (the study's own sizes are sizes(quick))
    return adv.sweep_duplicates(HOST, quick=True, store=None, progress=False, runs=(20_000, 1))


def test_no_host_side_invariant_breaks_whatever_the_guest_posts(swept):
    runs, agg = swept
    assert len(runs) == len(adv.grid(True))
    assert runs["invariant_violations"].sum() == 0
    assert runs["deadlocked"].sum() == 0
    assert (runs["packets"] == 20_000).all()


def test_debug_runs_of_the_worst_cases_raise_nothing():
    dbg = adv.debug_check(HOST, quick=True)
    assert len(dbg) == len(adv.PATHS) * len(adv.WORKLOADS)
    assert (dbg["raised"] == "").all(), dbg.loc[dbg["raised"] != "", "raised"].tolist()
    assert (dbg["invariant_violations"] == 0).all()


def test_the_guest_sees_the_duplicates(swept):
    """No duplicates, nothing seen; with duplicates on IMIX, about one BAD_RING per
    duplicate; at the largest probability the host refuses avail overruns."""
    _, agg = swept
    none = agg[agg["duplicate_head_p"] == 0]
    assert (none[["duplicates", "guest_bad_ring", "guest_early_free", "guest_avail_overruns"]] == 0).all().all()
    mix = agg[(agg["workload"] == "imix") & (agg["duplicate_head_p"] == 0.01)]
    assert (mix["guest_bad_ring"] > 0).all()
    assert ((mix["guest_bad_ring_per_1k"] - mix["duplicates_per_1k"]).abs() <= 0.3 * mix["duplicates_per_1k"]).all()
    worst = agg[agg["duplicate_head_p"] == agg["duplicate_head_p"].max()]
    assert (worst["guest_avail_overruns"] > 0).all()


def test_the_answer_and_the_figure(swept):
    runs, agg = swept
    text, nums = adv.answer(runs, agg)
    assert nums["violations"] == 0 and nums["runs"] == len(runs)
    assert "{" not in text.format(**nums)
    fig = adv.figure_adversarial(agg)
    assert len(fig.axes) == len(adv.COUNTERS) * len(adv.WORKLOADS)
    plt.close(fig)
