"""The engine's random variates: the exponential's ziggurat draws the right law,
and the reference model's Python copy of it draws the same numbers to the bit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import stats

from zclab.model.engine import rng
from zclab.model.reference import Xoshiro256


@njit(cache=True)
def _exponentials(seed, n, mean):
    s = np.empty(4, np.uint64)
    rng.seed(s, seed)
    out = np.empty(n)
    for i in range(n):
        out[i] = rng.exponential(s, mean)
    return out


def _layers(seed, n):
    """The path each of n first draws takes: 0 accepted at once, 1 the tail, 2 a wedge."""
    r = Xoshiro256(seed)
    paths = []
    for _ in range(n):
        ri = r.next_u64() >> 3
        layer, ri = ri & 0xFF, ri >> 8
        paths.append(0 if ri < int(rng.ZE_K[layer]) else (1 if layer == 0 else 2))
    return paths


def test_tables_are_a_ziggurat():
    k, w, f = rng.ziggurat_exp_tables()
    x = w * 2.0**53  # each layer's right edge (layer 0: the base strip's width, beyond R)
    assert x[255] == pytest.approx(rng.ZIGGURAT_EXP_R)
    assert np.all(np.diff(x[1:]) > 0)  # layers narrow towards the peak (layer 1 is the top)
    assert np.all(np.diff(f[1:]) < 0) and f[0] == 1.0
    np.testing.assert_allclose(f[1:], np.exp(-x[1:]), rtol=1e-12)
    # equal areas: layer i's rectangle is x_i * (f[i-1] - f[i]) for i >= 2
    areas = x[2:] * (f[1:-1] - f[2:])
    np.testing.assert_allclose(areas, 3.949659822581572e-3, rtol=1e-9)


@given(seed=st.integers(0, 2**63 - 1), mean=st.floats(1e-3, 1e7))
@settings(max_examples=30, deadline=None)
def test_engine_and_reference_draw_the_same_exponentials(seed, mean):
    a = _exponentials(seed, 3000, mean)
    r = Xoshiro256(seed)
    b = [r.exponential(mean) for _ in range(3000)]
    assert a.tolist() == b


def test_the_rare_paths_are_drawn_and_agree():
    """Over 200,000 draws the tail and the wedge both occur, and still agree."""
    paths = _layers(11, 200_000)
    assert paths.count(1) > 20 and paths.count(2) > 500
    a = _exponentials(11, 200_000, 1.0)
    r = Xoshiro256(11)
    assert a.tolist() == [r.exponential(1.0) for _ in range(200_000)]
    assert a.max() > rng.ZIGGURAT_EXP_R  # the tail beyond the base strip is reached


def test_the_law_is_exponential():
    n = 4_000_000
    x = _exponentials(2026, n, 1.0)
    assert x.min() >= 0.0
    assert abs(x.mean() - 1.0) < 5 / math.sqrt(n)
    assert abs(x.var() - 1.0) < 10 / math.sqrt(n)
    # chi-square over 64 bins of equal probability, the last one the tail beyond 4.16
    edges = -np.log1p(-np.linspace(0.0, 1.0, 65)[:-1])
    counts = np.bincount(np.searchsorted(edges, x, side="right") - 1, minlength=64)
    assert stats.chisquare(counts).pvalue > 1e-4
    # the far tail, beyond the base strip (drawn by R + Exp(1)): P(X > 9) = e^-9
    tail = (x > 9.0).sum()
    assert abs(tail - n * math.exp(-9.0)) < 5 * math.sqrt(n * math.exp(-9.0))


def test_scale_is_exact():
    assert _exponentials(5, 100, 3000.0).tolist() == (3000.0 * _exponentials(5, 100, 1.0)).tolist()
