"""Run one configuration: validate, pack plain arrays, call the jitted engine.

    >>> import zclab
    >>> r = zclab.simulate(zclab.Config(policy="mainline-stall", n_packets=50_000))
    >>> 0 < r.summary["mpps"] < 2 and r.summary["invariant_violations"] == 0
    True

``simulate`` also takes a preset name, a dict, or keyword overrides::

    >>> zclab.simulate("tcp_stream_64k", n_packets=10_000).summary["zerocopy_fraction"]
    1.0
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from .config import Config, ConfigError
from .engine import layout as L
from .engine.core import run
from .engine.histogram import new_histogram
from .presets import preset_kind
from .result import Result, summarize

__all__ = ["simulate", "as_config", "kernel_args", "warmup", "SimulationError", "InvariantViolation"]


class SimulationError(RuntimeError):
    """A run could not finish (it hit the event cap)."""


class InvariantViolation(SimulationError):
    """A host-side invariant failed in a run with ``debug=True``."""


def as_config(config: Config | str | Mapping[str, Any] | None = None, **overrides: Any) -> Config:
    """Normalise what users pass as a configuration.

    ``config`` may be a :class:`Config`, a preset name (any kind), a dict of
    parameters, or None (the defaults); ``overrides`` are applied on top.
    """
    if config is None:
        return Config(**overrides)
    if isinstance(config, Config):
        return config.replace(**overrides) if overrides else config
    if isinstance(config, str):
        kind = preset_kind(config)
        if kind is None:
            from .presets import PRESET_KINDS

            names = ", ".join(n for table in PRESET_KINDS.values() for n in table)
            raise ConfigError("preset", config, f"unknown preset; known presets: {names}")
        return Config(**{kind: config, **overrides})
    if isinstance(config, Mapping):
        return Config(**{**dict(config), **overrides})
    raise ConfigError("config", config, "must be a Config, a preset name or a dict of parameters")


def kernel_args(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The engine's inputs: integer and float parameters, size values and their CDF."""
    ip = np.zeros(L.N_IP, np.int64)
    fp = np.zeros(L.N_FP, np.float64)
    n_total = cfg.warmup_packets + cfg.n_packets
    ip[L.I_N_TOTAL] = n_total
    ip[L.I_WARMUP] = cfg.warmup_packets
    ip[L.I_TRACE] = cfg.trace_packets
    ip[L.I_MAX_EVENTS] = cfg.max_events or default_max_events(cfg)
    ip[L.I_DEBUG] = cfg.debug
    ip[L.I_SEED] = cfg.seed
    ip[L.I_ARRIVAL] = L.ARRIVAL_POISSON if cfg.arrival == "poisson" else L.ARRIVAL_SATURATE
    ip[L.I_QDISC_LEN] = cfg.qdisc_len
    ip[L.I_RING] = cfg.ring_size
    ip[L.I_SIGNAL_EVERY] = cfg.signal_every_publish
    ip[L.I_ZEROCOPY] = cfg.mode == "zerocopy"
    ip[L.I_GOODCOPY] = cfg.goodcopy_len
    ip[L.I_LIMIT] = cfg.pend_limit
    ip[L.I_PLACEMENT] = {"seed": L.PLACE_SEED, "stall": L.PLACE_STALL, "copy_fallback": L.PLACE_FALLBACK}[cfg.pend_placement]
    ip[L.I_REAP] = cfg.reap_threshold
    ip[L.I_OOO] = cfg.completion == "out_of_order"
    ip[L.I_WAKE_ON_COMPLETION] = cfg.wake_on_completion
    ip[L.I_COPY_VIA_HEADS] = cfg.copy_via_heads
    ip[L.I_UIO] = cfg.uio_maxiov
    ip[L.I_WEIGHT] = cfg.weight_bytes
    ip[L.I_OVERHEAD] = cfg.wire_overhead_bytes
    ip[L.I_NIC_QLEN] = cfg.nic_queue_len
    ip[L.I_DMA_DIST] = {"fixed": L.DMA_FIXED, "exponential": L.DMA_EXPONENTIAL, "lognormal": L.DMA_LOGNORMAL}[cfg.dma_latency_dist]

    fp[L.F_RATE_PPS] = cfg.rate_pps
    fp[L.F_PER_PACKET] = cfg.per_packet_ns
    fp[L.F_COPY_PER_BYTE] = cfg.copy_ns_per_byte
    fp[L.F_ZC_SETUP] = cfg.zc_setup_ns
    fp[L.F_PIN_PER_PAGE] = cfg.pin_ns_per_page
    fp[L.F_CALLBACK] = cfg.callback_ns
    fp[L.F_SIGNAL] = cfg.signal_ns
    fp[L.F_KICK] = cfg.kick_ns
    fp[L.F_REQUEUE] = cfg.requeue_ns
    fp[L.F_GUEST_XMIT] = cfg.guest_xmit_ns
    fp[L.F_IRQ_LATENCY] = cfg.irq_latency_ns
    fp[L.F_WAKE_LATENCY] = cfg.wake_latency_ns
    fp[L.F_WIRE_NS_PER_BYTE] = 8.0 / cfg.line_rate_gbps
    fp[L.F_DMA_BASE] = cfg.dma_base_ns
    fp[L.F_DMA_SIGMA] = cfg.dma_sigma
    fp[L.F_STRAGGLER_P] = cfg.straggler_p
    fp[L.F_STRAGGLER_NS] = cfg.straggler_ns
    fp[L.F_DUPLICATE_P] = cfg.duplicate_head_p

    dist = cfg.size_distribution()
    if cfg.size_dist == "uniform":
        ip[L.I_SIZE_KIND] = L.SIZE_UNIFORM
        ip[L.I_SIZE_MIN], ip[L.I_SIZE_MAX] = dist
        sizes, cum = np.array([0], np.int64), np.array([1.0])
    else:
        ip[L.I_SIZE_KIND] = L.SIZE_TABLE
        sizes = np.array(dist[0], np.int64)
        cum = np.cumsum(np.array(dist[1], np.float64))
    return ip, fp, sizes, cum


def default_max_events(cfg: Config) -> int:
    """The event cap when ``max_events=0``: generous for any sane run.

    A packet costs about 2-4 events; open-loop overload adds an arrival event per
    dropped packet. The cap only exists so that no run can loop forever.
    """
    per_packet = 100
    if cfg.arrival == "poisson":
        per_packet += 10  # arrivals of dropped packets
    return per_packet * (cfg.warmup_packets + cfg.n_packets) + 10_000_000


def simulate(config: Config | str | Mapping[str, Any] | None = None, **overrides: Any) -> Result:
    """Simulate one configuration and return its :class:`~zclab.Result`.

    Raises :class:`~zclab.ConfigError` for bad parameters (before anything
    runs), :class:`SimulationError` if the run hits ``max_events``, and
    :class:`InvariantViolation` on a violation when ``debug=True``. A deadlock
    is not an error: it is a finding, reported as ``summary["deadlocked"]``.
    """
    cfg = as_config(config, **overrides)
    ip, fp, sizes, cum = kernel_args(cfg)
    out = np.zeros(L.N_OUT, np.float64)
    hist = new_histogram()
    n_trace = cfg.trace_packets
    trace_f = np.full((n_trace, len(L.TRACE_F)), np.nan)
    trace_i = np.full((n_trace, len(L.TRACE_I)), -1, np.int64)
    t0 = time.perf_counter()
    status = run(ip, fp, sizes, cum, out, hist, trace_f, trace_i)
    wall = time.perf_counter() - t0
    if status == L.STATUS_MAX_EVENTS:
        raise SimulationError(
            f"the run stopped after max_events={int(ip[L.I_MAX_EVENTS])} events having returned "
            f"{int(out[L.O_RETURNED])} of n_packets={cfg.n_packets} measured packets; "
            "raise max_events if the configuration is meant to be this slow (for example heavy open-loop overload)"
        )
    if status == L.STATUS_VIOLATION:
        code = int(out[L.O_FIRST_VIOLATION])
        raise InvariantViolation(
            f"invariant violated at t={out[L.O_FIRST_VIOLATION_T]:.1f} ns: {L.VIOLATIONS.get(code, code)} (debug=True)"
        )
    summary = summarize(out, hist, cfg)
    trace = _trace_frame(trace_f, trace_i) if n_trace else None
    return Result(config=cfg, summary=summary, trace=trace, wall_s=wall)


def _trace_frame(trace_f: np.ndarray, trace_i: np.ndarray):
    import pandas as pd

    df = pd.DataFrame(trace_i, columns=list(L.TRACE_I))
    for j, name in enumerate(L.TRACE_F):
        df[name] = trace_f[:, j]
    df = df[df["seq"] >= 0].reset_index(drop=True)
    df["path"] = pd.Categorical.from_codes(df["path"].clip(lower=0), categories=list(L.PATH_NAMES))
    df.loc[df["t_fetch"].isna(), "path"] = None
    return df[["seq", "head", "len", "path", *L.TRACE_F]]


def warmup() -> float:
    """Compile (or load from the on-disk cache) the engine; returns seconds taken.

    The CLI and the notebooks call this first so that the first timed run is
    not a compile.
    """
    t0 = time.perf_counter()
    simulate(Config(n_packets=100, warmup_packets=0, trace_packets=1))
    return time.perf_counter() - t0
