"""xoshiro256** random numbers for the engine, written out so that streams do
not depend on numba's or NumPy's generators (and match the C anchor's).

The state is a ``uint64[4]`` array, seeded by splitmix64 from one integer::

    s = np.empty(4, np.uint64); seed(s, 1); uniform(s)  # -> float in [0, 1)

Reference: Blackman and Vigna, "Scrambled linear pseudorandom number
generators" (2018), https://prng.di.unimi.it/.
"""

import math

import numpy as np
from numba import njit, uint64

_GOLDEN = uint64(0x9E3779B97F4A7C15)
_M1 = uint64(0xBF58476D1CE4E5B9)
_M2 = uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * math.pi


@njit(cache=True)
def seed(s, value):
    """Fill the state ``s`` from the integer ``value`` with splitmix64."""
    x = uint64(value)
    for i in range(4):
        x = x + _GOLDEN
        z = x
        z = (z ^ (z >> uint64(30))) * _M1
        z = (z ^ (z >> uint64(27))) * _M2
        s[i] = z ^ (z >> uint64(31))


@njit(inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(inline="always")
def next_u64(s):
    """The next 64 random bits."""
    result = _rotl(s[1] * uint64(5), 7) * uint64(9)
    t = s[1] << uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(inline="always")
def uniform(s):
    """A float64 uniform on [0, 1) with 53 random bits."""
    return float(next_u64(s) >> uint64(11)) * (1.0 / 9007199254740992.0)


@njit(inline="always")
def exponential(s, mean):
    """Exponential with the given mean (inversion: -mean * log(1 - U))."""
    return -mean * math.log(1.0 - uniform(s))


@njit(inline="always")
def lognormal(s, mean, sigma):
    """Lognormal with the given *mean* and log-sigma (Box-Muller, one normal per call)."""
    u1 = 1.0 - uniform(s)  # (0, 1]: log is finite
    u2 = uniform(s)
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)
    return mean * math.exp(sigma * z - 0.5 * sigma * sigma)


def new_state(value):
    """A seeded state array (convenience for Python callers and tests)."""
    s = np.empty(4, np.uint64)
    seed(s, value)
    return s
