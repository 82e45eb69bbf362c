"""xoshiro256** random numbers for the engine, written out so that streams do
not depend on numba's or NumPy's generators (and match the C anchor's).

The state is a ``uint64[4]`` array, seeded by splitmix64 from one integer::

    s = np.empty(4, np.uint64); seed(s, 1); uniform(s)  # -> float in [0, 1)

Exponential variates come from the ziggurat method, as NumPy's do: one draw,
two table reads and a multiply in 98.9% of cases, where inversion
(``-log(1 - U)``) calls ``log`` every time (measured: 64 KB zero-copy packets,
one DMA delay each, simulate 11% faster; see docs/performance.md).

References: Blackman and Vigna, "Scrambled linear pseudorandom number
generators" (2018), https://prng.di.unimi.it/; Marsaglia and Tsang, "The
ziggurat method for generating random variables", J. Stat. Softw. 5(8), 2000.
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


def ziggurat_exp_tables():
    """The ziggurat of the unit exponential in 256 layers of equal area
    (Marsaglia and Tsang's ``zigset``, for 53-bit integers): per layer ``i``,
    ``k[i]`` (accept at once below it), ``w[i]`` (integer to abscissa) and
    ``f[i] = exp(-x_i)``. Layer 0 is the base strip with the tail beyond
    ``ZIGGURAT_EXP_R``. Plain Python arithmetic: the engine and the reference
    model (:mod:`zclab.model.reference`) share these tables."""
    m = 2.0**53
    de = te = ZIGGURAT_EXP_R
    ve = 3.949659822581572e-3  # each layer's area
    k = np.zeros(256, np.uint64)
    w = np.zeros(256, np.float64)
    f = np.zeros(256, np.float64)
    q = ve / math.exp(-de)
    k[0] = int((de / q) * m)
    w[0] = q / m
    w[255] = de / m
    f[0] = 1.0
    f[255] = math.exp(-de)
    for i in range(254, 0, -1):
        de = -math.log(ve / de + math.exp(-de))
        k[i + 1] = int((de / te) * m)
        te = de
        f[i] = math.exp(-de)
        w[i] = de / m
    return k, w, f


ZIGGURAT_EXP_R = 7.697117470131487  # where the base strip's tail starts
ZE_K, ZE_W, ZE_F = ziggurat_exp_tables()


@njit(inline="always")
def exponential(s, mean):
    """Exponential with the given mean, by the ziggurat (Marsaglia and Tsang).

    One 64-bit draw: 8 bits pick a layer, 53 bits a point in it. Inside the
    layer's rectangle below the curve (98.9%): done. Otherwise the tail of the
    base strip (``R + Exp(1)``) or a point in the wedge, accepted under
    ``exp(-x)``, else a fresh draw. :class:`zclab.model.reference.Xoshiro256` does
    the same arithmetic, so the two agree to the bit.
    """
    while True:
        ri = next_u64(s) >> uint64(3)
        layer = np.int64(ri & uint64(0xFF))
        ri = ri >> uint64(8)
        x = float(ri) * ZE_W[layer]
        if ri < ZE_K[layer]:
            return mean * x
        if layer == 0:
            return mean * (ZIGGURAT_EXP_R - math.log1p(-uniform(s)))
        if (ZE_F[layer - 1] - ZE_F[layer]) * uniform(s) + ZE_F[layer] < math.exp(-x):
            return mean * x


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
