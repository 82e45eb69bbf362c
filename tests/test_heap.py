"""The completion heap pops in (time, key) order, ties in time by key, as the
reference model's heapq of tuples does: the engine and the reference agree on
the order of simultaneous completions only if this holds."""

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from zclab.model.engine import heap


@njit  # not cached: a numba cache would not see an edit of heap.py
def _replay(h, ops_t, ops_k, ops_pop):
    """Run a sequence of pushes (ops_pop == 0) and pops (1) on the empty heap ``h``
    and return the popped (time, key)s."""
    n = 0
    out_t = np.empty(len(ops_t), np.float64)
    out_k = np.empty(len(ops_t), np.int64)
    m = 0
    for j in range(len(ops_t)):
        if ops_pop[j] and n > 0:
            out_t[m] = h[0]
            out_k[m] = heap.top_key(h)
            m += 1
            n = heap.pop(h, n)
            if n == 0 and h[0] != np.inf:
                out_t[m] = -1.0  # an emptied heap must read +inf: fail the comparison below
                out_k[m] = -1
                m += 1
        elif not ops_pop[j]:
            n = heap.push(h, n, ops_t[j], ops_k[j])
    while n > 0:
        out_t[m] = h[0]
        out_k[m] = heap.top_key(h)
        m += 1
        n = heap.pop(h, n)
    return out_t[:m], out_k[:m]


# few distinct times, so that ties are common
ops = st.lists(st.tuples(st.sampled_from([0.0, 1.0, 1.5, 2.0, 1e6]), st.booleans()), min_size=1, max_size=300)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_heap_pops_in_time_then_key_order(seq):
    ops_t = np.array([t for t, _ in seq])
    ops_k = np.arange(len(seq), dtype=np.int64)[::-1].copy()  # keys not in push order
    ops_pop = np.array([p for _, p in seq], dtype=np.int8)
    h = heap.new_heap(len(seq))
    assert h[0] == np.inf  # a new heap reads +inf: the engine takes its top without asking
    got_t, got_k = _replay(h, ops_t, ops_k, ops_pop)
    ref, expected = [], []
    for (t, p), k in zip(seq, ops_k):
        if p and ref:
            expected.append(heapq.heappop(ref))
        elif not p:
            heapq.heappush(ref, (t, int(k)))
    expected += [heapq.heappop(ref) for _ in range(len(ref))]
    assert list(zip(got_t.tolist(), got_k.tolist())) == expected
