"""Notebook 03's study: the copy threshold."""

import numpy as np

from zclab.studies import goodcopy as gc


def test_threshold_classes_count_the_sizes_copied():
    assert list(gc.threshold_classes([64, 65536], [0, 63, 64, 256, 65535, 65536])) == [0, 0, 1, 1, 1, 2]


def test_best_threshold_for_a_bimodal_mix_lies_between_the_modes():
    """64 B packets cost less copied, 64 KB ones less pinned: the best threshold
    copies the small mode and pins the large one."""
    settings = [{"label": "2011", "host": "assumed-2011"}]
    agg = gc.threshold_sweep(settings, quick=True, store=None, progress=False)
    best = gc.best_thresholds(agg).set_index("mix")
    b = best.loc["bimodal"]
    assert b["best_from"] == 64 and b["best_to"] == 65535
    # IMIX's largest size (1500) is below the crossover (2400): copy everything
    assert best.loc["imix", "best_from"] == 1500 and np.isnan(best.loc["imix", "best_to"])
    assert (best["excess_at_256"] >= 0).all()
