"""A streaming log-bucketed histogram for latencies (memory constant in run length).

A value x >= 1 falls in bucket ``(e - 1) * 128 + floor((2m - 1) * 128)`` where
``x = m * 2**e`` with m in [0.5, 1): the binary exponent and the top 7 bits of
the mantissa. A bucket spans a factor 1 + 1/128, so its midpoint is within
0.4% of any value in it. Values below 1 ns count as 1 ns.

This is the same bucket as the IEEE-754 bit pattern shifted right by 45, which
is how the engine computes it (no call to frexp in the hot loop).
"""

import math

import numpy as np
from numba import njit

MANTISSA_BITS = 7
N_BUCKETS = 64 << MANTISSA_BITS
_OFFSET = 1023 << MANTISSA_BITS


def new_histogram():
    return np.zeros(N_BUCKETS, np.int64)


@njit(inline="always")
def bucket_of_bits(bits):
    """Bucket index from the int64 bit pattern of a float64 >= 1."""
    k = (bits >> (52 - MANTISSA_BITS)) - _OFFSET
    if k >= N_BUCKETS:
        k = N_BUCKETS - 1
    return k & (N_BUCKETS - 1)  # provably in range: no negative-index check


@njit(cache=True)
def bucket_value(k):
    """The midpoint of bucket k."""
    e = k >> MANTISSA_BITS
    frac = (k & ((1 << MANTISSA_BITS) - 1)) + 0.5
    return math.ldexp(1.0 + frac / (1 << MANTISSA_BITS), e)


@njit(cache=True)
def quantile(hist, n, q):
    """Nearest-rank q-quantile of ``n`` recorded values (bucket midpoint)."""
    if n <= 0:
        return math.nan
    target = int(math.ceil(q * n))
    if target < 1:
        target = 1
    c = 0
    for k in range(hist.shape[0]):
        c += hist[k]
        if c >= target:
            return bucket_value(k)
    return bucket_value(hist.shape[0] - 1)
