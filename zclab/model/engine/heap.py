"""A binary min-heap of (time, key) pairs, interleaved in one float64 array.

The engine keeps pending DMA completions here: ``h[2*i]`` is a node's time,
``h[2*i + 1]`` its key (the head's submission number, exact as a float64 below
2**53). Ties in time are broken by the smaller key, so the order of events
never depends on how the heap happens to be laid out (Python's heapq on
(time, key) tuples gives the same order). Interleaving keeps a node's two
halves in one cache line.

An empty heap's top time ``h[0]`` is +inf (:func:`new_heap` and :func:`pop` leave
it so): the engine reads the earliest completion as ``h[0]`` at every event
without first asking whether there is one, and a time compared with it needs no
test for emptiness either (one branch fewer per event).

Indices are masked with NONNEG so that numba need not check for negative ones.
"""

import math

import numpy as np
from numba import njit

NONNEG = 0x7FFFFFFF


def new_heap(capacity: int) -> np.ndarray:
    h = np.empty(2 * max(capacity, 1), np.float64)
    h[0] = math.inf  # empty
    return h


@njit(inline="always")
def _less(ta, ka, tb, kb):
    # Times are almost never equal, so the key is compared behind a branch that
    # is almost never taken (1.5% faster on 64 KB zero-copy packets, measured,
    # than computing both comparisons for every node)
    if ta < tb:
        return True
    if ta == tb:
        return ka < kb
    return False


@njit(inline="always")
def push(h, n, t, key):
    """Insert (t, key) into a heap of ``n`` items; returns the new size."""
    k = float(key)
    i = n & NONNEG
    while i > 0:
        p = ((i - 1) >> 1) & NONNEG
        tp = h[2 * p]
        kp = h[2 * p + 1]
        if not _less(t, k, tp, kp):
            break
        h[2 * i] = tp
        h[2 * i + 1] = kp
        i = p
    h[2 * i] = t
    h[2 * i + 1] = k
    return n + 1


@njit(inline="always")
def top_key(h):
    """The key of the smallest item (read before :func:`pop`)."""
    return np.int64(h[1])


@njit(inline="always")
def pop(h, n):
    """Remove the smallest item of a heap of ``n`` items; returns the new size."""
    n = (n - 1) & NONNEG
    if n == 0:
        h[0] = math.inf  # the top of an empty heap: later than any event
        return 0
    t = h[2 * n]
    k = h[2 * n + 1]
    i = 0
    while True:
        c = (2 * i + 1) & NONNEG
        if c >= n:
            break
        tc = h[2 * c]
        kc = h[2 * c + 1]
        if c + 1 < n:
            t2 = h[2 * c + 2]
            k2 = h[2 * c + 3]
            if _less(t2, k2, tc, kc):
                c += 1
                tc = t2
                kc = k2
        if not _less(tc, kc, t, k):
            break
        h[2 * i] = tc
        h[2 * i + 1] = kc
        i = c & NONNEG
    h[2 * i] = t
    h[2 * i + 1] = k
    return n
