"""Notebook 05: in-order against out-of-order completion (the review thread's question).

The 2011 patch returns zero-copy buffers to the guest in submission order
(``upend_idx``/``done_idx``); virtio allows any order. With in-order release one
slow DMA completion (a *straggler*, probability ``straggler_p``, held
``straggler_ns`` longer) holds every later head, copies included: head-of-line
blocking. This module sweeps the straggler probability and delay for both
orders, charges out-of-order completion an extra per-packet cost to put a
number on the thread's cache argument, and draws a per-packet timeline of one
straggler holding the ring.

    >>> from zclab.studies import completion_order as co
    >>> agg = co.sweep_orders(host="assumed-2011", quick=True, store=None)   # doctest: +SKIP
    >>> co.figure_sweep(agg)                                                 # doctest: +SKIP
"""

from __future__ import annotations


import numpy as np
import pandas as pd

import zclab
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = [
    "BASE", "METRICS", "PENALTY_POINT", "base_config", "grid", "sizes", "sweep_orders", "penalty_sweep", "break_even",
    "straggler_traces", "find_straggler", "figure_sweep", "figure_timeline", "headline", "answer",
    "CACHE_ARGUMENT",
]



#: The configuration every point starts from: the patch as posted, a bulk IMIX sender.
BASE = {"policy": "seed-2011", "workload": "imix"}

#: What the sweep reports, in the order of the figure's panels.
METRICS = ["mpps", "latency_p99_ns", "latency_p999_ns", "ring_full_time_fraction",
           "hol_blocked_mean", "stall_time_fraction"]

#: The thread's argument for in-order completion, in words (the figures answer the rest).
CACHE_ARGUMENT = (
    "Michael Tsirkin asked (May 2011) whether keeping used-ring updates in order simplifies "
    "the code, and offered one argument for it: \"it's possible that this actually works better "
    "than trying to complete out of order, as the ring just keeps going which should be good for "
    "cache utilization\"; he asked for an experiment \"seeing what it does to performance and to "
    "code size\". Shirley Ma answered that the code would be similar either way (\"We still need "
    "to maintain the pending list, and mark the DMA done ids\"). zclab models neither caches nor "
    "code size; instead it asks how much extra CPU per packet out-of-order completion could cost "
    "(cache misses on a used ring written out of order) before in-order wins."
)


def base_config(host: str, seed: int = 1, n_packets: int = 200_000, **kw) -> zclab.Config:
    """The sweep's base: :data:`BASE` on ``host``."""
    return zclab.Config(**{**SYNTHETIC_NIC, **SIMPLE_GUEST, **BASE, **kw}, host=host, seed=seed, n_packets=n_packets)


def grid(quick: bool) -> dict:
    """Completion order x straggler probability x straggler delay."""
    if quick:
        return {"completion": ["in_order", "out_of_order"],
                "straggler_p": [0.0, 1e-4, 1e-3, 1e-2],
                "straggler_ns": [100_000.0, 1_000_000.0]}
    return {"completion": ["in_order", "out_of_order"],
            "straggler_p": [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
            "straggler_ns": [100_000.0, 1_000_000.0, 10_000_000.0]}


def sizes(quick: bool) -> tuple[int, int]:
    """(packets per run, replications): the default of the sweeps' ``runs`` argument."""
    return (100_000, 3) if quick else (1_000_000, 5)


def sweep_orders(host: str, quick: bool = True, seed: int = 1, store="default",
                 progress: bool | None = None, runs: tuple[int, int] | None = None) -> pd.DataFrame:
    """The aggregated sweep (mean and 95% CI per point) of :func:`grid`."""
    n, reps = runs or sizes(quick)
    df = zclab.sweep(base_config(host, seed, n), grid(quick), replications=reps,
                     store=store, progress=progress)
    return zclab.aggregate(df)


#: The straggler setting at which the cache argument is weighed.
PENALTY_POINT = {"straggler_p": 1e-3, "straggler_ns": 1_000_000.0}


def penalty_sweep(host: str, quick: bool = True, seed: int = 1, store="default",
                  progress: bool | None = None, runs: tuple[int, int] | None = None) -> pd.DataFrame:
    """Out-of-order completion charged ``extra_ns`` more worker CPU per packet
    (``per_packet_ns`` raised) against plain in-order, at :data:`PENALTY_POINT`.

    Columns: ``completion``, ``extra_ns`` (0 for in-order) and the metrics.
    """
    n, reps = runs or sizes(quick)
    base = base_config(host, seed, n, **PENALTY_POINT)
    extras = ([0, 200, 400, 800, 1600] if quick
              else [0, 50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200])
    points = [{"completion": "in_order", "per_packet_ns": base.per_packet_ns}]
    points += [{"completion": "out_of_order", "per_packet_ns": base.per_packet_ns + e} for e in extras]
    df = zclab.sweep(base, points, replications=reps, store=store, progress=progress)
    agg = zclab.aggregate(df).copy()
    agg["extra_ns"] = agg["per_packet_ns"] - base.per_packet_ns
    agg.loc[agg["completion"] == "in_order", "extra_ns"] = 0.0
    return agg


def break_even(pen: pd.DataFrame, metric: str = "mpps") -> float:
    """The extra per-packet cost (ns) at which out-of-order's ``metric`` falls to
    in-order's, by linear interpolation between the points swept; ``inf`` when
    out-of-order stays ahead at every point (``mpps``: higher is better;
    latencies: lower is better)."""
    higher_better = not metric.startswith("latency")
    ref = float(pen.loc[pen["completion"] == "in_order", metric].iloc[0])
    ooo = pen[pen["completion"] == "out_of_order"].sort_values("extra_ns")
    x, y = ooo["extra_ns"].to_numpy(float), ooo[metric].to_numpy(float)
    ahead = (y > ref) if higher_better else (y < ref)
    if not ahead[0]:
        return 0.0
    for i in range(1, len(x)):
        if not ahead[i]:
            return float(x[i - 1] + (ref - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return float("inf")


# --- the timeline --------------------------------------------------------------------------------

def find_straggler(trace: pd.DataFrame, min_hold_ns: float) -> int:
    """Index (row) of the first zero-copy packet whose DMA completion came at least
    ``min_hold_ns`` after its last bit left, with enough packets after it to show."""
    hold = trace["t_dma_done"] - trace["t_wire_done"]
    rows = np.flatnonzero((hold >= min_hold_ns).to_numpy() & (np.arange(len(trace)) >= 20))
    if len(rows) == 0:
        raise ValueError(f"no straggler held {min_hold_ns:.0f} ns in the {len(trace)} packets traced")
    return int(rows[0])


def straggler_traces(host: str, seed: int = 1, straggler_p: float = 1e-3,
                     straggler_ns: float = 1_000_000.0, before: int = 20, after: int = 600,
                     trace_packets: int = 20_000) -> dict[str, pd.DataFrame]:
    """Per-packet traces of both completion orders, each cut from ``before`` packets
    before its first straggler (a DMA completion held at least half of
    ``straggler_ns``) to ``after`` packets after it. The two runs share the seed but
    not the draws (events interleave differently), so each has its own straggler.
    Times are in µs from the straggler's post; column ``straggler`` marks it."""
    out = {}
    for completion in ("in_order", "out_of_order"):
        cfg = base_config(host, seed, n_packets=trace_packets, straggler_p=straggler_p,
                          straggler_ns=straggler_ns, completion=completion, trace_packets=trace_packets)
        tr = zclab.simulate(cfg).trace.reset_index(drop=True)
        i = find_straggler(tr, 0.5 * straggler_ns)
        t0, seq = tr.loc[i, "t_post"], tr.loc[i, "seq"]
        w = tr.iloc[max(0, i - before): i + after].copy()
        for c in [c for c in w.columns if c.startswith("t_")]:
            w[c] = (w[c] - t0) / 1e3
        w["n"] = w["seq"] - seq
        w["straggler"] = w["seq"] == seq
        w["completion"] = completion
        out[completion] = w
    return out


# --- figures -------------------------------------------------------------------------------------

_STRAGGLER = "black"
_STYLES = ["-", "--", ":", "-."]


def figure_sweep(agg: pd.DataFrame, metrics=METRICS):
    """One panel per metric against the straggler probability (symlog), a colour per
    completion order and a line style per straggler delay, 95% CIs as error bars."""
    from matplotlib.ticker import FuncFormatter

    from zclab.studies import plotting

    plain = FuncFormatter(lambda v, _: f"{v:g}")
    # minor ticks of a log axis: label 2 and 5 of each decade only
    minor = FuncFormatter(lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** np.floor(np.log10(v))) in (2, 5)
                          else "")

    ncols = 3
    nrows = -(-len(metrics) // ncols)
    fig, axes = plotting.figure("double", nrows=nrows, ncols=ncols)
    fig.set_size_inches(7.2, 1.0 + 2.1 * nrows)
    axes = np.atleast_1d(axes).ravel()
    delays = sorted(agg["straggler_ns"].unique())
    positive = sorted(p for p in agg["straggler_p"].unique() if p > 0)
    with plotting.style():
        for ax, m in zip(axes, metrics):
            ylabel, scale = plotting.UNITS.get(m, (m, 1))
            for completion in ("in_order", "out_of_order"):
                color = plotting.COLORS[completion]
                for k, d in enumerate(delays):
                    g = agg[(agg["completion"] == completion) & (agg["straggler_ns"] == d)].sort_values("straggler_p")
                    if g.empty:
                        continue
                    err = g[f"{m}_ci"].to_numpy() * scale if f"{m}_ci" in g else None
                    ax.errorbar(g["straggler_p"], g[m] * scale, yerr=err, color=color,
                                linestyle=_STYLES[k % len(_STYLES)], marker="o", markersize=3,
                                capsize=2, label=f"{completion.replace('_', '-')}, {d / 1e3:g} µs")
            ax.set_xscale("symlog", linthresh=positive[0] if positive else 1e-4)
            ax.set_xlim(left=0)
            if m.startswith("latency"):
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(minor)
            else:
                ax.set_ylim(bottom=0)
            ax.set_xlabel("straggler probability")
            ax.set_ylabel(ylabel)
        for ax in axes[len(metrics):]:
            ax.set_visible(False)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 4),
                   fontsize="small", title="completion order, straggler delay")
    return fig


def figure_timeline(traces: dict[str, pd.DataFrame]):
    """Two panels (in order, out of order): one row per packet, a line from its post to
    its return on the used ring, a dot at its DMA completion (zero-copy packets);
    the straggler in black."""
    from zclab.studies import plotting

    fig, axes = plotting.figure("double", ncols=2, sharey=True)
    fig.set_size_inches(7.2, 3.4)
    xmax = max(float(t["t_used"].max()) for t in traces.values())
    xmin = min(float(t["t_post"].min()) for t in traces.values())
    with plotting.style():
        for ax, (completion, tr) in zip(axes, traces.items()):
            normal = tr[~tr["straggler"]]
            ax.hlines(normal["n"], normal["t_post"], normal["t_used"], color="0.6", linewidth=0.4,
                      label="post to return (other packets)")
            ax.plot(normal["t_used"], normal["n"], linestyle="none", marker=".", markersize=1.5,
                    color=plotting.COLORS[completion], label="returned to the guest")
            zc = normal[normal["t_dma_done"].notna()]
            ax.plot(zc["t_dma_done"], zc["n"], linestyle="none", marker="|", markersize=2,
                    color="0.2", label="DMA done (zero-copy)")
            s = tr[tr["straggler"]]
            ax.hlines(s["n"], s["t_post"], s["t_used"], color=_STRAGGLER, linewidth=2.0, label="the straggler")
            ax.plot(s["t_dma_done"], s["n"], linestyle="none", marker="x", color=_STRAGGLER, markersize=5)
            ax.axvline(float(s["t_dma_done"].iloc[0]), color=_STRAGGLER, linewidth=0.6, linestyle=":")
            ax.set_xlim(xmin, xmax * 1.02)
            ax.set_title(completion.replace("_", "-"))
            ax.set_xlabel("time from the straggler's post (µs)")
        axes[0].set_ylabel("packet (posts after the straggler)")
        axes[0].invert_yaxis()
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize="small",
                   markerscale=3)
    return fig


# --- the answer ----------------------------------------------------------------------------------

def _at(agg: pd.DataFrame, completion: str, p: float, d: float) -> pd.Series:
    row = agg[(agg["completion"] == completion) & np.isclose(agg["straggler_p"], p)
              & np.isclose(agg["straggler_ns"], d)]
    if row.empty:
        raise KeyError(f"no point completion={completion} straggler_p={p} straggler_ns={d}")
    return row.iloc[0]


def headline(agg: pd.DataFrame, straggler_p: float = PENALTY_POINT["straggler_p"],
             straggler_ns: float = PENALTY_POINT["straggler_ns"]) -> dict:
    """The numbers the answer quotes: both orders at ``straggler_p``/``straggler_ns``
    (throughput, p99, p99.9, ring-full time, head-of-line blocking), both at no
    stragglers, and the packet-rate loss at the largest probability swept with the
    same delay."""
    p, d = straggler_p, straggler_ns
    pmax = float(agg["straggler_p"].max())
    io, oo = _at(agg, "in_order", p, d), _at(agg, "out_of_order", p, d)
    io0, oo0 = _at(agg, "in_order", 0.0, d), _at(agg, "out_of_order", 0.0, d)
    iom, oom = _at(agg, "in_order", pmax, d), _at(agg, "out_of_order", pmax, d)
    return {
        "one_in": 1 / p, "delay_us": d / 1e3, "max_one_in": 1 / pmax,
        "io_mpps": io["mpps"], "oo_mpps": oo["mpps"], "mpps_loss_pct": 100 * (1 - io["mpps"] / oo["mpps"]),
        "max_mpps_loss_pct": 100 * (1 - iom["mpps"] / oom["mpps"]),
        "max_io_ring_full_pct": 100 * iom["ring_full_time_fraction"],
        "io_p99_us": io["latency_p99_ns"] / 1e3, "oo_p99_us": oo["latency_p99_ns"] / 1e3,
        "io_p999_us": io["latency_p999_ns"] / 1e3, "oo_p999_us": oo["latency_p999_ns"] / 1e3,
        "p99_ratio": io["latency_p99_ns"] / oo["latency_p99_ns"],
        "io_ring_full_pct": 100 * io["ring_full_time_fraction"],
        "oo_ring_full_pct": 100 * oo["ring_full_time_fraction"],
        "io_hol": io["hol_blocked_mean"],
        "io0_p99_us": io0["latency_p99_ns"] / 1e3, "oo0_p99_us": oo0["latency_p99_ns"] / 1e3,
        "io0_hol": io0["hol_blocked_mean"],
    }


def answer(agg: pd.DataFrame, pen: pd.DataFrame | None = None) -> tuple[str, dict]:
    """(the answer as a format template, its numbers), for :func:`zclab.studies.findings.record`."""
    nums = headline(agg)
    text = (
        "With 1 DMA completion in {one_in:,.0f} held {delay_us:,.0f} µs, in-order release (the 2011 patch) "
        "has a p99 latency of {io_p99_us:,.0f} µs against {oo_p99_us:,.0f} µs out of order ({p99_ratio:.0f}x), "
        "keeps {io_hol:.0f} finished heads blocked on average and the guest out of descriptors "
        "{io_ring_full_pct:.0f}% of the time (out of order: {oo_ring_full_pct:.0f}%), and loses "
        "{mpps_loss_pct:.0f}% of the packet rate; at 1 in {max_one_in:,.0f} it loses {max_mpps_loss_pct:.0f}% "
        "(ring full {max_io_ring_full_pct:.0f}% of the time). Even with no stragglers in-order p99 is "
        "{io0_p99_us:,.0f} µs against {oo0_p99_us:,.0f} µs: random DMA latencies already reorder completions."
    )
    if pen is not None:
        be, be99 = break_even(pen, "mpps"), break_even(pen, "latency_p99_ns")
        tested = float(pen["extra_ns"].max())
        nums.update({"tested_ns": tested, "be_mpps_ns": be if np.isfinite(be) else tested,
                     "be_p99_ns": be99 if np.isfinite(be99) else tested})
        more = lambda b, key: ("more than {tested_ns:,.0f}" if not np.isfinite(b) else "{%s:,.0f}" % key)
        text += (" Against the thread's cache argument: out-of-order completion could cost "
                 + more(be, "be_mpps_ns") + " ns more worker CPU per packet before losing its packet-rate lead, and "
                 + more(be99, "be_p99_ns") + " ns before losing its p99 lead.")
    return text, nums
