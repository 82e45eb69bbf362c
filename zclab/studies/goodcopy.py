"""Notebook 03: the copy threshold VHOST_GOODCOPY_LEN.

In zero-copy mode a packet of ``goodcopy_len`` bytes or less is copied anyway
(the seed: 256). The sweep compares the threshold with the frame (``vnet_hdr="vhost"``);
with the 12-byte header a tap carries, every threshold here reads 12 bytes higher. This module sweeps the threshold from 0 (pin everything) to
64 KB (copy everything) over size mixes (IMIX, a 64 B / 64 KB bimodal mix and
an empirical table) and cost settings (the 2011 host, a modern host and two
variants of it), finds the threshold with the least host CPU per byte for each,
and says how far 256 is from it.

The threshold only decides between two per-packet costs, so the best threshold
lies just under the copy/zero-copy crossover of notebook 02
(:func:`zclab.studies.copy_vs_zerocopy.crossover_theory`) and, for a mix of a few
sizes, anywhere between the two sizes around it: the answer is a range.

    >>> from zclab.studies import goodcopy as gc
    >>> agg = gc.threshold_sweep(gc.cost_settings("assumed-2011", "assumed-2011"), quick=True, store=None)  # doctest: +SKIP
    >>> gc.best_thresholds(agg)                                                                             # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import zclab
from zclab.studies import plotting
from zclab.studies.copy_vs_zerocopy import crossover_theory
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = ["QUESTION", "MIXES", "EMPIRICAL_TABLE", "thresholds", "run_sizes", "cost_settings", "mix_params",
           "threshold_sweep", "best_thresholds", "figure_thresholds", "answer"]

QUESTION = ("What should VHOST_GOODCOPY_LEN be? The best copy threshold (least host CPU per byte) per size mix "
            "and cost setting, whether 256 is a good choice, and what it should be on a modern host.")

#: An illustrative guest TX mix of a virtualised server (an assumption, not a measurement):
#: TCP ACKs and small requests, MTU frames, and GSO super-frames of several sizes.
EMPIRICAL_TABLE = "66:40,128:5,256:5,576:5,1500:15,4096:5,9000:5,16384:5,32768:5,65536:10"

#: The size mixes: name -> size parameters of the configuration.
MIXES = {
    "imix": {"size_dist": "imix"},
    "bimodal": {"size_dist": "bimodal", "small_bytes": 64, "large_bytes": 65536, "small_fraction": 0.5},
    "empirical": {"size_dist": "empirical", "size_table": EMPIRICAL_TABLE},
}


def mix_params(name: str, size_table: str | None = None) -> dict:
    """The size parameters of mix ``name`` (``size_table`` replaces the empirical table)."""
    p = dict(MIXES[name])
    if name == "empirical" and size_table:
        p["size_table"] = size_table
    return p


def thresholds(quick: bool) -> list[int]:
    """0, then octaves (quick) or half octaves (full) from 64 B to 64 KB, plus 1500 and 9000."""
    step = 1 if quick else 2
    s = {int(round(2 ** (k / step))) for k in range(6 * step, 16 * step + 1)}
    return sorted(s | {0, 1500, 9000})


def run_sizes(quick: bool) -> tuple[int, int, int]:
    """(measured packets, warm-up packets, replications) per point."""
    return (10_000, 1_000, 1) if quick else (200_000, 10_000, 3)


def cost_settings(host: str, modern_host: str) -> list[dict]:
    """The cost settings: the 2011 host, the modern host, and the modern host with a
    costlier pin (an IOMMU mapping per page: x3) and with a costlier copy (cache-cold,
    x3). Each: ``label`` and the configuration parameters it sets."""
    m = zclab.Config(host=modern_host)
    return [
        {"label": "2011", "host": host},
        {"label": "today", "host": modern_host},
        {"label": "today, pin x3", "host": modern_host, "pin_ns_per_page": 3 * m.pin_ns_per_page},
        {"label": "today, copy x3", "host": modern_host, "copy_ns_per_byte": 3 * m.copy_ns_per_byte},
    ]


def threshold_sweep(settings: list[dict], quick: bool = True, policy: str = "linux-3.14", seed: int = 1,
                    size_table: str | None = None, store="default", progress=None) -> pd.DataFrame:
    """Cost setting x mix x threshold, to the wire, in one sweep; aggregated, with
    ``label`` (the cost setting) and ``mix`` columns."""
    n, w, reps = run_sizes(quick)
    points, tags = [], []
    for st in settings:
        params = {k: v for k, v in st.items() if k != "label"}
        for mix in MIXES:
            for t in thresholds(quick):
                points.append({**params, **mix_params(mix, size_table), "goodcopy_len": t})
                tags.append((st["label"], mix))
    # vhost takes the virtio-net header here, so goodcopy_len is compared with the frame
    # itself and a threshold reads as a frame size (with a tap carrying the header, as
    # QEMU sets it up, each threshold is 12 bytes more: docs/model.md section 2); and a
    # threshold reads as "copies frames of up to goodcopy_len bytes", the seed's `<=`
    # (goodcopy_test "le"): the releases' `<` from v3.1 moves every class boundary by one byte
    base = zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, policy=policy, mode="zerocopy", seed=seed, n_packets=n, warmup_packets=w, vnet_hdr="vhost",
                        goodcopy_test="le")
    df = zclab.sweep(base, points, replications=reps, store=store, progress=progress)
    agg = zclab.aggregate(df).sort_values("point").reset_index(drop=True)
    front = pd.DataFrame({"label": [tags[i][0] for i in agg["point"]], "mix": [tags[i][1] for i in agg["point"]]})
    return pd.concat([front, agg], axis=1)


def threshold_classes(mix_sizes, ts) -> np.ndarray:
    """For each threshold of ``ts``: how many of the mix's sizes it copies (thresholds
    with the same count behave alike)."""
    mix_sizes = np.sort(np.asarray(mix_sizes))
    return np.searchsorted(mix_sizes, np.asarray(ts), side="right")


def best_thresholds(agg: pd.DataFrame, metric: str = "host_cycles_per_byte") -> pd.DataFrame:
    """Per cost setting and mix: the best threshold range and how 256 compares.

    Thresholds that copy the same sizes of the mix behave alike; their runs are
    pooled (mean of ``metric``), the class with the least ``metric`` wins, and its
    range of thresholds is reported: from its largest copied size to just below the
    next size of the mix (``best_to`` is None when the class copies everything).
    ``excess_at_256`` is the class of 256 against the best (0.05 = 5% more).
    """
    rows = []
    for (label, mix), g in agg.groupby(["label", "mix"], sort=False):
        first = g.iloc[0]
        keys = ("size_dist", "small_bytes", "large_bytes", "small_fraction", "size_table", "host",
                "copy_ns_per_byte", "pin_ns_per_page")
        cfg = zclab.Config(**{k: first[k] for k in keys if not (isinstance(first[k], float) and math.isnan(first[k]))})
        mix_sizes = np.sort(np.asarray(cfg.size_distribution()[0]))
        cls = threshold_classes(mix_sizes, g["goodcopy_len"])
        by = g.assign(cls=cls).groupby("cls", sort=True)[[metric, "throughput_gbps", "latency_p99_ns"]].mean()
        k = int(by[metric].idxmin())
        lo = 0 if k == 0 else int(mix_sizes[k - 1])
        hi = None if k >= len(mix_sizes) else int(mix_sizes[k]) - 1
        k256 = int(threshold_classes(mix_sizes, [256])[0])
        rows.append({
            "label": label, "mix": mix, "host": first["host"],
            "copy_ns_per_byte": cfg.copy_ns_per_byte, "pin_ns_per_page": cfg.pin_ns_per_page,
            "best_from": lo, "best_to": hi, "copies_sizes_up_to": lo,
            f"best_{metric}": float(by.loc[k, metric]),
            "excess_at_256": float(by.loc[k256, metric] / by.loc[k, metric] - 1) if k256 in by.index else math.nan,
            "throughput_at_best_gbps": float(by.loc[k, "throughput_gbps"]),
            "throughput_at_256_gbps": float(by.loc[k256, "throughput_gbps"]) if k256 in by.index else math.nan,
            "p99_at_best_ns": float(by.loc[k, "latency_p99_ns"]),
            "p99_at_256_ns": float(by.loc[k256, "latency_p99_ns"]) if k256 in by.index else math.nan,
            "crossover_theory_bytes": crossover_theory(cfg),
        })
    return pd.DataFrame(rows)


def figure_thresholds(agg: pd.DataFrame, best: pd.DataFrame):
    """Host CPU per byte (relative to each setting's best) and throughput against the
    threshold; one column per mix, one line per cost setting; 256 marked."""
    mixes = list(dict.fromkeys(agg["mix"]))
    labels = list(dict.fromkeys(agg["label"]))
    fig, axes = plotting.figure("double", nrows=2, ncols=len(mixes), sharex=True, squeeze=False)
    fig.set_size_inches(7.2, 4.4)
    with plotting.style():
        for j, mix in enumerate(mixes):
            for k, label in enumerate(labels):
                g = agg[(agg["mix"] == mix) & (agg["label"] == label)].sort_values("goodcopy_len")
                b = best[(best["mix"] == mix) & (best["label"] == label)].iloc[0]
                x = g["goodcopy_len"].clip(lower=32)  # 0 drawn at 32 on the log axis
                rel = g["host_cycles_per_byte"] / b["best_host_cycles_per_byte"]
                axes[0, j].plot(x, rel, marker="o", markersize=2.5, color=f"C{k}", label=label)
                xb = max(b["best_from"], 32)
                axes[0, j].plot([xb], [1.0], marker="*", markersize=8, color=f"C{k}")
                axes[1, j].plot(x, g["throughput_gbps"], marker="o", markersize=2.5, color=f"C{k}", label=label)
            for i in range(2):
                axes[i, j].axvline(256, color="0.3", linestyle=":", linewidth=0.9)
                axes[i, j].set_xscale("log", base=2)
            axes[0, j].set_title(mix)
        # one label under the three columns: each panel is narrower than the label
        fig.supxlabel("VHOST_GOODCOPY_LEN (bytes; 0 at 32)", fontsize=axes[1, 0].xaxis.label.get_fontsize())
        axes[0, 0].set_ylabel("host CPU per byte / best")
        axes[1, 0].set_ylabel("throughput (Gbit/s)")
        axes[0, 0].legend(fontsize=6.5, title="cost setting (★ best)", title_fontsize=6.5)
    return fig


def _range_text(lo, hi) -> str:
    if hi is None or pd.isna(hi):
        return f"{int(lo):,} bytes or more (copy everything)"
    return f"{int(lo):,} to {int(hi):,} bytes"


def answer(best: pd.DataFrame, settings: list[dict]) -> tuple[str, dict]:
    """The answer as a format template and its numbers."""
    nums: dict = {}
    rows = []
    for i, r in enumerate(best.itertuples()):
        p = f"b{i}_"
        nums.update({p + "label": r.label, p + "mix": r.mix, p + "range": _range_text(r.best_from, r.best_to),
                     p + "excess": 100 * r.excess_at_256})
        rows.append(("{Pmix} on {Plabel}: {Prange} (256 costs {Pexcess:+.1f}% host CPU per byte)")
                    .replace("{P", "{" + p))
    worst = best.loc[best["excess_at_256"].idxmax()]
    nums.update({"worst_excess": 100 * worst["excess_at_256"], "worst_mix": worst["mix"], "worst_label": worst["label"],
                 "n_ok": int((best["excess_at_256"] <= 0.01).sum()), "n_all": len(best)})
    # the headline first: the README quotes an answer's first two sentences
    parts = ["256 is within 1% of the least host CPU per byte in {n_ok} of {n_all} mix and cost cases; its worst "
             "case costs {worst_excess:.1f}% more host CPU per byte ({worst_mix} on {worst_label}): it pins "
             "packets that cost less to copy."]
    today = [s for s in settings if s["label"] == "today"][0]
    m = zclab.Config(**{k: v for k, v in today.items() if k != "label"})
    tb = best[best["label"] == "today"].set_index("mix")
    nums.update({"m_host": m.host, "m_copy": m.copy_ns_per_byte, "m_gbs": 1.0 / m.copy_ns_per_byte,
                 "m_pin": m.pin_ns_per_page, "m_setup": m.zc_setup_ns, "m_cb": m.callback_ns,
                 "m_stack": m.host_stack_ns_per_byte, "m_cross": crossover_theory(m)})
    for mix in tb.index:
        nums[f"m_{mix}"] = _range_text(tb.loc[mix, "best_from"], tb.loc[mix, "best_to"])
    parts.append("Today's costs put the copy/zero-copy crossover at about {m_cross:,.0f} bytes and the threshold "
                 "should sit just below it: " + ", ".join("{m_%s} for %s" % (mix, mix) for mix in tb.index)
                 + " ({m_host}, assumptions stated in its preset: copy {m_copy:g} ns/byte, about {m_gbs:.0f} GB/s; "
                 "pinning {m_pin:g} ns per 4 KB page; zero-copy set-up {m_setup:g} ns and completion callback "
                 "{m_cb:g} ns per packet; the stack outside vhost {m_stack:g} ns/byte in both modes).")
    parts.append("The thresholds with the least host CPU per byte, per mix and cost setting (thresholds that copy "
                 "the same sizes of a mix are equivalent, hence a range): " + "; ".join(rows) + ".")
    return " ".join(parts), nums
