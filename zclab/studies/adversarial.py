"""Notebook 07: a guest that posts the same head twice (the reviewer's concern).

"A guest can give us the same head twice, need to make sure this at least does
not corrupt host memory" (Michael Tsirkin, May 2011). zclab's adversarial guest
writes a head it has just posted to the avail ring once more with probability
``duplicate_head_p``. This module sweeps that probability over the kernel's
transmit paths and two workloads and reports, per 1,000 packets returned, the
host-side invariant violations (which must stay 0) and what the guest sees:
used entries that are not a head (``guest_bad_ring``, virtio's BAD_RING), heads
freed while the host still holds a post of them (``guest_early_free``) and avail
entries refused because they overran unconsumed ones (``guest_avail_overruns``).

    >>> from zclab.studies import adversarial as adv
    >>> agg = adv.sweep_duplicates(host="assumed-2011", quick=True, store=None)   # doctest: +SKIP
"""

from __future__ import annotations


import numpy as np
import pandas as pd

import zclab
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = ["PATHS", "WORKLOADS", "COUNTERS", "probabilities", "grid", "sizes", "sweep_duplicates", "rates",
           "debug_check", "figure_adversarial", "answer"]



#: The transmit paths: label -> (policy preset, mode).
PATHS = {
    "seed-2011": ("seed-2011", "zerocopy"),
    "linux-3.14": ("linux-3.14", "zerocopy"),
    "linux-4.15": ("linux-4.15", "zerocopy"),
    "copy only": ("linux-4.15", "copy"),
}
WORKLOADS = ["imix", "tcp_stream_64k"]
#: Host side first (must be 0), then what the guest sees.
COUNTERS = ["invariant_violations", "guest_bad_ring", "guest_early_free", "guest_avail_overruns"]
_TITLES = {
    "invariant_violations": "host: invariant\nviolations",
    "guest_bad_ring": "guest: used id not\na head (BAD_RING)",
    "guest_early_free": "guest: head freed\nwhile the host holds it",
    "guest_avail_overruns": "guest: avail entries\nrefused (overrun)",
}


def probabilities(quick: bool) -> list[float]:
    if quick:
        return [0.0, 1e-3, 1e-2, 0.1, 0.5]
    return [0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.5, 0.9]


def grid(quick: bool) -> list[dict]:
    """Every path x workload x duplicate probability, as a list of points."""
    return [
        # the older guest again after the workload's sockets (see copy_vs_zerocopy.workload_sweep)
        {"policy": pol, "mode": mode, "workload": wl, "duplicate_head_p": p, **SIMPLE_GUEST}
        for pol, mode in PATHS.values() for wl in WORKLOADS for p in probabilities(quick)
    ]


def sizes(quick: bool) -> tuple[int, int]:
    """(packets per run, replications): the default of the sweeps' ``runs`` argument."""
    return (50_000, 2) if quick else (500_000, 5)


def _label(df: pd.DataFrame) -> pd.DataFrame:
    by_pm = {v: k for k, v in PATHS.items()}
    df = df.copy()
    df["path"] = [by_pm.get((p, m), f"{p}/{m}") for p, m in zip(df["policy"], df["mode"])]
    return df


def rates(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``<counter>_per_1k`` (per 1,000 packets returned) and ``duplicates_per_1k``."""
    df = df.copy()
    per = 1000.0 / df["packets"].where(df["packets"] > 0)
    for c in COUNTERS + ["duplicates"]:
        df[f"{c}_per_1k"] = df[c] * per
    return df


def sweep_duplicates(host: str, quick: bool = True, seed: int = 1, store="default",
                     progress: bool | None = None, runs: tuple[int, int] | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every run with its rates, the aggregate over replications), both with ``path``."""
    n, reps = runs or sizes(quick)
    base = zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, host=host, seed=seed, n_packets=n)
    df = zclab.sweep(base, grid(quick), replications=reps, store=store, progress=progress)
    df["deadlocked"] = df["deadlocked"].astype(float)
    runs = _label(rates(df))
    metrics = [c for c in runs.columns if c.endswith("_per_1k")] + COUNTERS + [
        "duplicates", "packets", "deadlocked", "throughput_gbps", "mpps", "latency_p99_ns"]
    agg = _label(zclab.aggregate(runs, metrics=metrics))
    return runs, agg


def debug_check(host: str, quick: bool = True, seed: int = 1) -> pd.DataFrame:
    """Run the worst cases with ``debug=True`` (the first host-side violation raises):
    one row per path and workload at the largest duplicate probability, with
    ``raised`` (the error, or empty) and the counters."""
    n, _ = sizes(quick)
    p = max(probabilities(quick))
    rows = []
    for label, (pol, mode) in PATHS.items():
        for wl in WORKLOADS:
            cfg = zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, policy=pol, mode=mode, workload=wl, host=host, seed=seed, n_packets=n,
                               duplicate_head_p=p, debug=True)
            try:
                s = zclab.simulate(cfg).summary
                rows.append({"path": label, "workload": wl, "duplicate_head_p": p, "raised": "",
                             **{c: s[c] for c in COUNTERS + ["duplicates", "packets", "deadlocked"]}})
            except Exception as exc:  # a violation in debug mode: the finding this check looks for
                rows.append({"path": label, "workload": wl, "duplicate_head_p": p,
                             "raised": f"{type(exc).__name__}: {exc}"})
    return pd.DataFrame(rows)


# --- the figure ----------------------------------------------------------------------------------



def figure_adversarial(agg: pd.DataFrame):
    """Columns: the host's invariant violations, then the three things the guest sees,
    per 1,000 packets; rows: the workloads; one line per path, against the duplicate
    probability (symlog); the dotted line is the duplicates themselves."""
    from zclab.studies import plotting

    workloads = [w for w in WORKLOADS if w in set(agg["workload"])]
    fig, axes = plotting.figure("double", nrows=len(workloads), ncols=len(COUNTERS), sharex=True,
                                squeeze=False)
    fig.set_size_inches(7.2, 1.1 + 2.0 * len(workloads))
    positive = sorted(p for p in agg["duplicate_head_p"].unique() if p > 0)
    with plotting.style():
        for i, wl in enumerate(workloads):
            for j, c in enumerate(COUNTERS):
                ax = axes[i, j]
                for path in ("seed-2011", "linux-3.14", "linux-4.15", "copy only"):
                    color = plotting.COLORS[path]
                    g = agg[(agg["workload"] == wl) & (agg["path"] == path)].sort_values("duplicate_head_p")
                    if g.empty:
                        continue
                    ax.plot(g["duplicate_head_p"], g[f"{c}_per_1k"], color=color, marker="o", markersize=3,
                            label=path)
                if c != "invariant_violations":
                    d = agg[agg["workload"] == wl].groupby("duplicate_head_p")["duplicates_per_1k"].mean()
                    ax.plot(d.index, d.to_numpy(), color="0.4", linestyle=":", label="duplicates posted")
                    ax.set_yscale("symlog", linthresh=1.0)
                else:
                    ax.set_ylim(-0.5, 1.0)
                    ax.set_yticks([0, 1])
                ax.set_xscale("symlog", linthresh=positive[0] if positive else 1e-3)
                ax.set_xlim(left=0)
                if i == 0:
                    ax.set_title(_TITLES[c], fontsize="small")
                if i == len(workloads) - 1:
                    ax.set_xlabel("duplicate probability")
            axes[i, 0].set_ylabel(f"{wl.replace('_', ' ')}\nper 1,000 packets")
        handles, labels = axes[0, 1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=len(labels))
    return fig


# --- the answer ----------------------------------------------------------------------------------

def answer(runs: pd.DataFrame, agg: pd.DataFrame, debug: pd.DataFrame | None = None) -> tuple[str, dict]:
    """(the answer as a format template, its numbers), for :func:`zclab.studies.findings.record`."""
    pmax = float(agg["duplicate_head_p"].max())
    p_mid = 0.01 if np.isclose(agg["duplicate_head_p"], 0.01).any() else pmax

    def at(path, wl, p):
        r = agg[(agg["path"] == path) & (agg["workload"] == wl) & np.isclose(agg["duplicate_head_p"], p)]
        return r.iloc[0]

    zc_mid, cp_mid = at("linux-3.14", "imix", p_mid), at("copy only", "imix", p_mid)
    big_max = at("copy only", "tcp_stream_64k", pmax)
    mix_max = at("linux-3.14", "imix", pmax)
    nums = {
        "runs": len(runs), "violations": int(runs["invariant_violations"].sum()),
        "deadlocks": int(runs["deadlocked"].sum()), "pmax": pmax, "p_mid": p_mid,
        "dup_mid": zc_mid["duplicates_per_1k"],
        "bad_mid": zc_mid["guest_bad_ring_per_1k"], "early_mid_zc": zc_mid["guest_early_free_per_1k"],
        "early_mid_cp": cp_mid["guest_early_free_per_1k"],
        "big_overrun_max": big_max["guest_avail_overruns_per_1k"], "big_dup_max": big_max["duplicates_per_1k"],
        "mix_overrun_max": mix_max["guest_avail_overruns_per_1k"], "mix_dup_max": mix_max["duplicates_per_1k"],
        "debug_runs": 0 if debug is None else len(debug),
        "debug_raised": 0 if debug is None else int((debug["raised"] != "").sum()),
    }
    text = (
        "The host holds: in {runs} runs of every path with a guest posting a head twice with probability up to "
        "{pmax:g}, host-side invariant violations total {violations} and deadlocks {deadlocks}"
        + ("" if debug is None else " ({debug_runs} worst cases rerun with debug checks raised {debug_raised} times)")
        + ". The guest pays: at probability {p_mid:g} on IMIX ({dup_mid:.1f} duplicates per 1,000 packets) it "
        "meets {bad_mid:.1f} used entries per 1,000 that are not a head (BAD_RING) and frees {early_mid_zc:.1f} "
        "heads per 1,000 while the host still holds them with zero-copy ({early_mid_cp:.1f} when copying); at "
        "{pmax:g}, its corrupted free count makes it overrun the avail ring, and the host refuses "
        "{mix_overrun_max:.0f} entries per 1,000 packets on IMIX and {big_overrun_max:.0f} on 64 KB frames."
    )
    return text, nums
