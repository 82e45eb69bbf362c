"""A binary min-heap of (time, key) pairs in two preallocated arrays.

Indices are masked with NONNEG so that numba need not check for negative ones.

The engine keeps pending DMA completions here. Ties in time are broken by the
smaller key (the head's submission number), so the order of events never
depends on how the heap happens to be laid out.
"""

from numba import njit

NONNEG = 0x7FFFFFFF


@njit(inline="always")
def _less(ta, ka, tb, kb):
    return ta < tb or (ta == tb and ka < kb)


@njit(inline="always")
def push(ht, hk, n, t, key):
    """Insert (t, key) into a heap of ``n`` items; returns the new size."""
    i = n & NONNEG
    while i > 0:
        p = ((i - 1) >> 1) & NONNEG
        if not _less(t, key, ht[p], hk[p]):
            break
        ht[i] = ht[p]
        hk[i] = hk[p]
        i = p
    ht[i] = t
    hk[i] = key
    return n + 1


@njit(inline="always")
def pop(ht, hk, n):
    """Remove the smallest item of a heap of ``n`` items; returns the new size.

    Read the item at index 0 before calling.
    """
    n = (n - 1) & NONNEG
    t = ht[n]
    key = hk[n]
    i = 0
    while True:
        c = (2 * i + 1) & NONNEG
        if c >= n:
            break
        if c + 1 < n and _less(ht[c + 1], hk[c + 1], ht[c], hk[c]):
            c = (c + 1) & NONNEG
        if not _less(ht[c], hk[c], t, key):
            break
        ht[i] = ht[c]
        hk[i] = hk[c]
        i = c & NONNEG
    ht[i] = t
    hk[i] = key
    return n
