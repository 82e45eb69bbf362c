"""Sensitivity: which cost parameters move the study's headline answers, and by how much.

Three headline answers, each computed by simulation on a host preset
(``calibrated-2011`` by default):

``best_goodcopy_len``
    The packet size above which zero-copy costs the host less CPU per packet than
    copying (the break-even size: the VHOST_GOODCOPY_LEN that minimises host CPU for
    any mix of sizes). Found by bisection over fixed-size runs, 64 KB GSO sender to
    the wire, ``ring-quarter-stall``, goodcopy_len 0; ``inf`` if zero-copy never pays.
``in_order_loss``
    The throughput lost to in-order completion: 1 - Mpps(in order) / Mpps(out of order)
    for the patch as posted (``seed-2011``), a bulk IMIX sender, completions held 1 ms
    with probability 1e-3 (common random numbers: the same seeds for both orders).
``cpu_saved_64k``
    The host CPU saved by zero-copy for 64 KB packets to the wire at line rate:
    1 - host CPU per packet (zero-copy) / (copy), ``ring-quarter-stall``.

:func:`table` varies each cost parameter one at a time by ``factors`` (x0.5 and x2)
and reports each answer and its change from the preset's value.

    >>> from zclab.trust import sensitivity
    >>> df = sensitivity.table(quick=True)          # doctest: +SKIP
    >>> sensitivity.ranking(df)                     # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .calibration import HOST_2011, _config, _run, cpu_saving_64k

__all__ = ["PARAMS", "HEADLINES", "best_goodcopy_len", "in_order_loss", "headlines", "table", "ranking", "figure"]

#: The cost parameters varied.
PARAMS = ("per_packet_ns", "copy_ns_per_byte", "zc_setup_ns", "pin_ns_per_page", "callback_ns", "signal_ns",
          "kick_ns", "requeue_ns", "guest_xmit_ns", "irq_latency_ns", "wake_latency_ns", "dma_base_ns",
          "host_stack_ns_per_byte", "local_rx_ns_per_packet")
#: The headline answers: name -> (label, unit).
HEADLINES = {
    "best_goodcopy_len": ("best goodcopy_len (break-even size)", "bytes"),
    "in_order_loss": ("throughput lost to in-order completion", "fraction"),
    "cpu_saved_64k": ("host CPU saved by zero-copy at 64 KB", "fraction"),
}
STRAGGLER_P = 1e-3
STRAGGLER_NS = 1_000_000.0


def _cpu_per_packet(host, overrides, size, mode, n, seed) -> float:
    cfg = _config(host, overrides, policy="ring-quarter-stall", workload="tcp_stream_64k", size_bytes=size, mode=mode,
                  goodcopy_len=0, dest="wire", n_packets=n, warmup_packets=3000)
    return _run(cfg, 1, seed)["host_cpu_ns_per_packet"]


def best_goodcopy_len(host: str = HOST_2011, overrides: Mapping | None = None, quick: bool = True,
                      seed: int = 1) -> float:
    """The smallest packet size (bytes) at which zero-copy uses less host CPU per packet
    than copy, by bisection on [1, 65536] (0 if zero-copy pays at 1 byte, inf if never)."""
    n = 2_000 if quick else 20_000

    def gain(size: int) -> float:  # > 0 when zero-copy is cheaper
        return _cpu_per_packet(host, overrides, size, "copy", n, seed) - _cpu_per_packet(host, overrides, size, "zerocopy", n, seed)

    lo, hi = 1, 65536
    if gain(hi) <= 0:
        return math.inf
    if gain(lo) > 0:
        return 0.0
    while hi - lo > 1:  # gain(lo) <= 0 < gain(hi)
        mid = (lo + hi) // 2
        if gain(mid) > 0:
            hi = mid
        else:
            lo = mid
    return float(hi)


def in_order_loss(host: str = HOST_2011, overrides: Mapping | None = None, quick: bool = True,
                  seed: int = 1) -> tuple[float, float]:
    """(throughput lost to in-order completion, its 95% half-width over the replications)."""
    n, reps = (50_000, 3) if quick else (500_000, 5)
    losses = []
    for r in range(reps):
        mpps = {}
        for order in ("in_order", "out_of_order"):
            cfg = _config(host, overrides, policy="seed-2011", workload="imix", completion=order,
                          straggler_p=STRAGGLER_P, straggler_ns=STRAGGLER_NS, n_packets=n, warmup_packets=2000)
            mpps[order] = _run(cfg, 1, seed + r)["mpps"]
        losses.append(1.0 - mpps["in_order"] / mpps["out_of_order"])
    losses = np.array(losses)
    from scipy import stats

    half = float(stats.t.ppf(0.975, reps - 1) * losses.std(ddof=1) / math.sqrt(reps)) if reps > 1 else math.nan
    return float(losses.mean()), half


def headlines(host: str = HOST_2011, overrides: Mapping | None = None, quick: bool = True, seed: int = 1) -> dict:
    """The three headline answers on ``host`` with ``overrides``."""
    loss, loss_ci = in_order_loss(host, overrides, quick, seed)
    return {"best_goodcopy_len": best_goodcopy_len(host, overrides, quick, seed),
            "in_order_loss": loss, "in_order_loss_ci": loss_ci,
            "cpu_saved_64k": cpu_saving_64k(host, overrides, quick, seed)[0]}


def table(host: str = HOST_2011, params: Sequence[str] = PARAMS, factors: Sequence[float] = (0.5, 2.0),
          quick: bool = True, seed: int = 1, progress: bool = False) -> pd.DataFrame:
    """One row per (parameter, factor) plus the baseline: the headline answers and their
    change from the baseline (``d_<answer>``)."""
    from ..model.config import Config

    base_cfg = Config(host=host)
    base = headlines(host, None, quick, seed)
    rows = [{"parameter": "(preset)", "factor": 1.0, "value": math.nan, **base}]
    points = [(p, f) for p in params for f in factors]
    if progress:
        from tqdm.auto import tqdm

        points = tqdm(points, desc="sensitivity")
    for p, f in points:
        v = getattr(base_cfg, p) * f
        rows.append({"parameter": p, "factor": f, "value": v, **headlines(host, {p: v}, quick, seed)})
    df = pd.DataFrame(rows)
    df.insert(0, "host", host)
    for h in HEADLINES:
        with np.errstate(invalid="ignore"):
            df[f"d_{h}"] = df[h] - base[h]
    return df


def ranking(df: pd.DataFrame) -> pd.DataFrame:
    """Per parameter, the largest |change| of each answer over the factors, sorted by the
    change of the break-even size, then of the in-order loss (relative to each answer's
    baseline), so that the assumptions that matter come first."""
    body = df[df["parameter"] != "(preset)"]
    base = df[df["parameter"] == "(preset)"].iloc[0]
    out = body.groupby("parameter", sort=False).agg(**{f"max_abs_d_{h}": (f"d_{h}", lambda s: s.abs().max()) for h in HEADLINES})
    rel = sum(out[f"max_abs_d_{h}"].replace(np.inf, 1e9).fillna(0) / max(abs(float(base[h])), 1e-12) for h in HEADLINES)
    out["relative_score"] = rel
    return out.sort_values("relative_score", ascending=False).reset_index()


def figure(df: pd.DataFrame, top: int = 10):
    """Tornado chart: for the ``top`` parameters, each answer's change at x0.5 and x2."""
    from ..studies import plotting

    order = ranking(df)["parameter"].head(top).tolist()[::-1]
    fig, axes = plotting.figure("double", ncols=len(HEADLINES), sharey=True)
    scale = {"best_goodcopy_len": 1.0, "in_order_loss": 100.0, "cpu_saved_64k": 100.0}
    unit = {"best_goodcopy_len": "bytes", "in_order_loss": "points", "cpu_saved_64k": "points"}
    with plotting.style():
        for ax, h in zip(np.atleast_1d(axes), HEADLINES):
            y = np.arange(len(order))
            for f, colour, off in ((0.5, "C0", -0.2), (2.0, "C1", 0.2)):
                rows = df[(df["factor"] == f)].set_index("parameter").reindex(order)
                vals = rows[f"d_{h}"].replace([np.inf, -np.inf], np.nan) * scale[h]
                ax.barh(y + off, vals.fillna(0.0), height=0.4, color=colour, label=f"x{f:g}")
            ax.axvline(0.0, color="0.5", linewidth=0.8)
            ax.set_yticks(np.arange(len(order)))
            ax.set_yticklabels(order, fontsize="x-small")
            ax.set_xlabel(f"change ({unit[h]})", fontsize="small")
            ax.set_title(HEADLINES[h][0], fontsize="small")
        np.atleast_1d(axes)[0].legend(fontsize="x-small", title="cost", title_fontsize="x-small")
    return fig, axes
