"""Closed forms the simulator is checked against (:mod:`zclab.trust.validation`).

Small, exact results of queueing theory for configurations built so that one
part of the model behaves like a textbook system:

==============================  =====================================================
:func:`mg1_sojourn`             M/G/1 mean time in system (Pollaczek-Khinchine)
:func:`md1_sojourn`             the same with deterministic service (M/D/1)
:func:`mm1_sojourn`             the same with exponential service (M/M/1)
:func:`mg1k_blocking`           M/G/1/K blocking probability, any service law
:func:`md1k_blocking`           M/D/1/K blocking probability
:func:`mm1k_blocking`           M/M/1/K blocking probability (closed form)
:func:`window_throughput`       a closed loop of ``window`` items: Little's law
:func:`straggler_mean_shift`    mean extra latency of independent stragglers
:func:`in_order_release_delay`  mean extra wait of in-order release behind stragglers
==============================  =====================================================

Times are in any one unit (zclab uses ns); rates are per that unit.

    >>> round(md1_sojourn(0.5 / 2500.0, 2500.0), 6)
    3750.0
    >>> round(mm1k_blocking(1.0, 4), 6)
    0.2
    >>> round(md1k_blocking(0.8 / 1000.0, 1000.0, 1), 6)   # K = 1: rho / (1 + rho)
    0.444444
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = [
    "mg1_sojourn",
    "md1_sojourn",
    "mm1_sojourn",
    "mg1k_blocking",
    "md1k_blocking",
    "mm1k_blocking",
    "window_throughput",
    "straggler_mean_shift",
    "in_order_release_delay",
]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={value!r}: must be a finite number > 0")
    return value


# --- M/G/1 ------------------------------------------------------------------------------------

def mg1_sojourn(lam: float, s_mean: float, s2_mean: float) -> float:
    """Mean time in system of an M/G/1 queue (FIFO), Pollaczek-Khinchine.

    .. math:: E[T] = E[S] + \\frac{\\lambda E[S^2]}{2 (1 - \\rho)}, \\qquad \\rho = \\lambda E[S] < 1

    ``lam`` is the Poisson arrival rate, ``s_mean`` = E[S] and ``s2_mean`` =
    E[S^2] the first two moments of the service time. Deterministic service
    (M/D/1): E[S^2] = E[S]^2; exponential (M/M/1): E[S^2] = 2 E[S]^2.

    Reference: L. Kleinrock, *Queueing Systems, Vol. 1: Theory* (Wiley, 1975),
    section 5.7, eq. 5.105; D. Gross, J. F. Shortle, J. M. Thompson and C. M.
    Harris, *Fundamentals of Queueing Theory*, 4th ed. (Wiley, 2008), section 5.1.1.

    Raises ValueError unless 0 < rho < 1 and E[S^2] >= E[S]^2.

        >>> mg1_sojourn(0.5, 1.0, 2.0)          # M/M/1: E[S] / (1 - rho)
        2.0
    """
    lam, s_mean, s2_mean = _positive("lam", lam), _positive("s_mean", s_mean), _positive("s2_mean", s2_mean)
    rho = lam * s_mean
    if rho >= 1.0:
        raise ValueError(f"rho = lam * s_mean = {rho:g}: must be < 1 for a stable M/G/1 queue")
    if s2_mean < s_mean * s_mean * (1 - 1e-12):
        raise ValueError(f"s2_mean={s2_mean:g} < s_mean**2={s_mean * s_mean:g}: not the moments of a distribution")
    return s_mean + lam * s2_mean / (2.0 * (1.0 - rho))


def md1_sojourn(lam: float, service: float) -> float:
    """M/D/1 mean time in system: :func:`mg1_sojourn` with E[S^2] = E[S]^2,
    that is ``D + rho D / (2 (1 - rho))``."""
    return mg1_sojourn(lam, service, service * service)


def mm1_sojourn(lam: float, s_mean: float) -> float:
    """M/M/1 mean time in system: :func:`mg1_sojourn` with E[S^2] = 2 E[S]^2,
    that is ``E[S] / (1 - rho)``."""
    return mg1_sojourn(lam, s_mean, 2.0 * s_mean * s_mean)


# --- finite capacity: M/G/1/K -------------------------------------------------------------------

def mg1k_blocking(rho: float, k: int, arrivals_pmf: Callable[[int], np.ndarray]) -> float:
    """Blocking probability of an M/G/1/K queue (K places including the one in service).

    ``arrivals_pmf(m)`` returns ``a[0..m-1]``, ``a[j]`` = P(j Poisson arrivals
    during one service time); ``rho`` = lambda E[S] (any value > 0: the queue
    is finite, so it is stable at any load).

    Method (Gross, Shortle, Thompson and Harris, *Fundamentals of Queueing
    Theory*, 4th ed., section 5.1.9, "M/G/1/K"; also A. Brun and J.-M. Garcia,
    "Analytical solution of finite capacity M/D/1 queues", J. Appl. Prob. 37,
    2000):

    1. The number left behind by a departure is a Markov chain on 0..K-1. From
       i >= 1 it moves to ``min(i - 1 + A, K - 1)``, from 0 to ``min(A, K - 1)``,
       A the arrivals during the next service (those finding K in the system are
       lost). Its stationary law is ``pi``.
    2. The time-average law of the number in the system is
       ``p_n = pi_n / (pi_0 + rho)`` for n < K and ``p_K = 1 - 1 / (pi_0 + rho)``.
    3. Poisson arrivals see time averages (PASTA): P(block) = p_K.

    K = 1 gives rho / (1 + rho) for any service law (Erlang's loss formula).
    Step 2 subtracts from 1: the result is accurate to about 1e-15 absolute
    (blocking probabilities far below that come out as 0).
    """
    rho = _positive("rho", rho)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k={k!r}: must be an integer >= 1 (places in the system)")
    k = int(k)
    a = np.asarray(arrivals_pmf(k), dtype=float)
    if a.shape != (k,) or np.any(a < 0) or a.sum() > 1 + 1e-9:
        raise ValueError("arrivals_pmf(m) must return m probabilities")
    tail = np.maximum(1.0 - np.concatenate(([0.0], np.cumsum(a))), 0.0)  # tail[j] = P(A >= j)
    n = k  # states 0..K-1 left behind by a departure
    P = np.zeros((n, n))
    for i in range(n):
        lo = max(i - 1, 0)  # with no arrival
        for j in range(lo, n - 1):
            P[i, j] = a[j - lo]
        P[i, n - 1] = tail[n - 1 - lo]
    # pi (P - I) = 0, sum(pi) = 1: replace one balance equation by the normalisation
    A = (P - np.eye(n)).T
    A[-1, :] = 1.0
    b = np.zeros(n)
    b[-1] = 1.0
    pi = np.linalg.solve(A, b)
    return max(0.0, float(1.0 - 1.0 / (pi[0] + rho)))


def md1k_blocking(lam: float, service: float, k: int) -> float:
    """Blocking (drop) probability of an M/D/1/K queue: Poisson arrivals at rate
    ``lam``, a deterministic service time ``service``, ``k`` places in the
    system including the one in service.

    :func:`mg1k_blocking` with ``a[j] = exp(-rho) rho^j / j!``, rho = lam * service
    (the arrivals during one service time D are Poisson of mean lam D).

        >>> import math                                # K = 2: pi_0 = a_0 = exp(-rho), so
        >>> round(md1k_blocking(1.0, 1.0, 2), 9) == round(1 / (math.e + 1), 9)   # exp(-1) / (1 + exp(-1))
        True
    """
    lam, service = _positive("lam", lam), _positive("service", service)
    rho = lam * service

    def pmf(m):
        j = np.arange(m)
        return np.exp(-rho + j * math.log(rho) - np.array([math.lgamma(x + 1.0) for x in j]))

    return mg1k_blocking(rho, k, pmf)


def mm1k_blocking(rho: float, k: int) -> float:
    """Blocking probability of an M/M/1/K queue (K places including the one in service):

    .. math:: P_K = \\frac{(1 - \\rho) \\rho^K}{1 - \\rho^{K+1}} \\quad (\\rho \\ne 1), \\qquad P_K = \\frac{1}{K + 1} \\quad (\\rho = 1)

    Reference: Gross, Shortle, Thompson and Harris, *Fundamentals of Queueing
    Theory*, 4th ed., section 2.5.
    """
    rho = _positive("rho", rho)
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k={k!r}: must be an integer >= 1 (places in the system)")
    if abs(rho - 1.0) < 1e-12:
        return 1.0 / (k + 1)
    return (1.0 - rho) * rho**k / (1.0 - rho ** (k + 1))


# --- closed loops and stragglers ------------------------------------------------------------------

def window_throughput(window: float, round_trip_ns: float) -> float:
    """Throughput of a closed loop that keeps ``window`` items in flight, each for
    ``round_trip_ns``: ``window / round_trip_ns`` items per ns (Little's law,
    L = lambda W, solved for lambda). Valid while no stage of the loop is slower
    than that (the loop, not a server, is the bottleneck).

    Reference: J. D. C. Little, "A proof for the queuing formula L = lambda W",
    Operations Research 9(3), 1961.

        >>> round(window_throughput(33, 203_000.0) * 1e3, 6)     # Mpps
        0.162562
    """
    return _positive("window", window) / _positive("round_trip_ns", round_trip_ns)


def straggler_mean_shift(p: float, straggler_ns: float) -> float:
    """Mean extra latency when each completion is, independently with probability
    ``p``, ``straggler_ns`` late and nothing else reacts: ``p * straggler_ns``
    (linearity of expectation)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p!r}: must be a probability")
    return float(p) * float(straggler_ns)


def in_order_release_delay(p: float, straggler_ns: float, spacing_ns: float) -> float:
    """Mean extra wait of a packet's return under in-order release, against
    out-of-order release, behind independent stragglers.

    The idealised process: packet i is submitted at ``i * spacing_ns`` and
    completes a fixed time later, plus ``L = straggler_ns`` with probability
    ``p`` (X_i = 1), independently. In order, packet i is returned when every
    packet up to i has completed: at ``max_{j <= i}`` of the completion times.

    * A straggler (X_i = 1) waits nothing more: every earlier packet completed
      no later (an earlier straggler completed ``k * spacing_ns`` earlier).
    * A packet that is not a straggler waits for the most recent straggler among
      the packets before it: ``max_{k >= 1, X_{i-k} = 1} (L - k * spacing_ns)^+``,
      attained at the smallest such k. With K the largest k for which
      ``L - k * spacing_ns > 0`` (``K = ceil(L / spacing_ns) - 1``):

    .. math:: E[\\text{wait}] = (1 - p) \\sum_{k=1}^{K} p (1 - p)^{k-1} (L - k \\Delta)

    Derived here for zclab's validation (the argument above: a geometric first
    straggler looking back, and linearity of expectation); checked against a
    direct Monte Carlo of the same process in ``tests/test_validation.py``.

        >>> round(in_order_release_delay(0.5, 3.0, 1.0), 6)   # K = 2: 0.5 * (0.5*2 + 0.25*1)
        0.625
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p={p!r}: must be a probability")
    spacing_ns = _positive("spacing_ns", spacing_ns)
    L = float(straggler_ns)
    if L <= 0 or p == 0.0:
        return 0.0
    K = math.ceil(L / spacing_ns) - 1
    k = np.arange(1, K + 1, dtype=float)
    terms = p * (1.0 - p) ** (k - 1) * (L - k * spacing_ns)
    return float((1.0 - p) * terms[terms > 0].sum())
