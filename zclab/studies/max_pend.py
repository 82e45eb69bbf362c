"""Notebook 04: the pending limit VHOST_MAX_PEND, the ring size, and where the limit acts.

Four studies:

* :func:`limit_sweep`: throughput, stalls and latency against the limit
  (``max_pend``, applied as given: ``max_pend_rule = fixed``), the ring size, the
  DMA completion latency and stragglers, for the three placements of the kernel's
  history (the seed's, ``stall``, ``copy_fallback``, through their policy presets).
* :func:`deadlock_map`: where the seed's placement deadlocks ("if the guest stops
  submitting buffers, completed buffers may not be returned"), ring size against
  max_pend, and that the hypothetical ``ring-quarter-stall`` and ``linux-4.15`` never do.
* :func:`rule_table`: the smallest limit that reaches the best throughput, against
  mainline's rule ``min(max_pend, ring_size // 4)``.
* :func:`flow_sweep`: the 2017 measurement generalised. Two flows share the queue;
  one zero-copy flow is held by an egress limiter (netem), the other is small and
  copied. Under ``stall`` the held flow keeps the pending budget full and every
  flow on the queue runs at the limiter's pace; ``copy_fallback`` frees the others.

    >>> from zclab.studies import max_pend as mp
    >>> dl = mp.deadlock_map("assumed-2011", quick=True, store=None)   # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import zclab
from zclab.studies import plotting
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = ["QUESTION", "POLICIES", "limit_grid", "limit_sweep", "deadlock_map", "deadlock_scenarios", "rule_table",
           "flow_config", "flow_sweep", "published_2017", "figure_limits", "figure_deadlock", "figure_rule",
           "figure_flows", "answer", "run_sizes"]

QUESTION = ("What should VHOST_MAX_PEND be, and where should the limit act? Throughput, stalls and latency "
            "against max_pend and the ring size under DMA latency and stragglers; where the seed's placement "
            "deadlocks; whether min(max_pend, ring_size/4) is the right rule; and how one rate-limited "
            "zero-copy flow stalls every flow on the queue, policy by policy.")

POLICIES = ("seed-2011", "ring-quarter-stall", "linux-4.15")


def run_sizes(quick: bool) -> tuple[int, int, int]:
    """(measured packets, warm-up packets, replications) per point."""
    return (10_000, 1_000, 1) if quick else (200_000, 10_000, 3)


def limit_grid(quick: bool) -> list[dict]:
    """Policy x limit x ring size x (DMA latency, straggler probability) cases."""
    if quick:
        pends, rings = [8, 32, 64, 128, 256, 512], [64, 256, 1024]
        cases = [(20_000.0, 0.0), (20_000.0, 0.01), (200_000.0, 0.01)]
    else:
        pends, rings = [4, 8, 16, 32, 64, 128, 256, 512, 1024], [64, 128, 256, 512, 1024]
        cases = [(d, s) for d in (5_000.0, 20_000.0, 100_000.0, 200_000.0) for s in (0.0, 0.001, 0.01)]
    return [{"policy": pol, "max_pend": m, "ring_size": r, "dma_base_ns": d, "straggler_p": sp}
            for pol in POLICIES for m in pends for r in rings for d, sp in cases]


def _stopped(df: pd.DataFrame) -> pd.DataFrame:
    """A deadlocked queue sends nothing ever after: its throughput is 0, its latency unbounded."""
    df = df.copy()
    dead = df["deadlocked"].astype(bool)
    for c in ("throughput_gbps", "mpps"):
        df.loc[dead, c] = 0.0
    for c in ("latency_p99_ns", "latency_p50_ns", "latency_mean_ns"):
        df.loc[dead, c] = np.nan
    df["deadlocked"] = dead.astype(float)
    return df


def limit_sweep(host: str, quick: bool = True, size_bytes: int = 1500, seed: int = 1, store="default",
                progress=None) -> pd.DataFrame:
    """The limit sweep (aggregated): fixed-size packets of ``size_bytes`` from a bulk
    sender, all zero-copy (``goodcopy_len = 0``), the limit as given (rule ``fixed``)."""
    n, w, reps = run_sizes(quick)
    base = zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, host=host, workload="tcp_stream_64k", size_bytes=size_bytes, goodcopy_len=0, seed=seed,
                        n_packets=n, warmup_packets=w)
    points = [{**pt, "max_pend_rule": "fixed"} for pt in limit_grid(quick)]
    df = zclab.sweep(base, points, replications=reps, store=store, progress=progress)
    return zclab.aggregate(_stopped(df))


# --- the deadlock map ------------------------------------------------------------------------------

def deadlock_scenarios() -> dict[str, dict]:
    """The workloads of the map: name -> configuration parameters."""
    return {
        "64 KB stream": {"workload": "tcp_stream_64k"},
        "IMIX": {"workload": "imix"},
        "IMIX, stragglers": {"workload": "imix", "straggler_p": 0.01},
    }


def deadlock_map(host: str, quick: bool = True, seed: int = 1, store="default", progress=None) -> pd.DataFrame:
    """Ring size x max_pend (rule ``fixed``) for the seed's policy on every scenario and
    the two mainline policies on the first; aggregated: ``deadlocked`` is the fraction
    of replications that deadlocked, ``packets`` how many returned before."""
    n, w, reps = run_sizes(quick)
    if quick:
        rings, pends = [16, 64, 256, 1024], [8, 16, 64, 256, 1024]
    else:
        rings, pends = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096], [8, 16, 32, 64, 128, 256, 512, 1024]
    points, tags = [], []
    scen = deadlock_scenarios()
    for name, params in scen.items():
        pols = POLICIES if name == next(iter(scen)) else ("seed-2011",)
        for pol in pols:
            for r in rings:
                for m in pends:
                    points.append({**params, "policy": pol, "ring_size": r, "max_pend": m, "max_pend_rule": "fixed"})
                    tags.append(name)
    base = zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, host=host, seed=seed, n_packets=n, warmup_packets=w)
    df = zclab.sweep(base, points, replications=reps, store=store, progress=progress)
    df = df.assign(deadlocked=df["deadlocked"].astype(float), scenario=[tags[p] for p in df["point"]])
    return zclab.aggregate(df, metrics=["deadlocked", "packets", "throughput_gbps"],
                           by=["point", "scenario", "policy", "ring_size", "max_pend"])


# --- the rule ---------------------------------------------------------------------------------------

def rule_table(agg: pd.DataFrame, share: float = 0.95) -> pd.DataFrame:
    """Per policy, ring size, DMA latency and straggler probability: the smallest limit
    that reaches ``share`` of the best over limits (throughput for ``ring-quarter-stall``
    and the seed, zero-copy fraction for ``linux-4.15``, whose throughput does
    not depend on the limit), and what the rules give."""
    rows = []
    keys = ["policy", "ring_size", "dma_base_ns", "straggler_p"]
    for key, g in agg.groupby(keys, sort=True):
        metric = "zerocopy_fraction" if key[0] == "linux-4.15" else "throughput_gbps"
        g = g.sort_values("max_pend")
        ok = g[g[metric] >= share * g[metric].max()]
        ring = key[1]
        quarter = ring // 4
        mainline = min(128, quarter)

        def at(limit):
            r = g[g["max_pend"] == limit]
            return float(r[metric].iloc[0] / g[metric].max()) if len(r) and g[metric].max() > 0 else math.nan

        rows.append({**dict(zip(keys, key)), "criterion": metric,
                     "needed_limit": int(ok["max_pend"].iloc[0]) if len(ok) else math.nan,
                     "ring_quarter": quarter, "mainline_rule": mainline,
                     "share_at_mainline_rule": at(mainline), "best": float(g[metric].max())})
    return pd.DataFrame(rows)


# --- two flows, one rate-limited (the 2017 measurement) ------------------------------------------------

#: The 2017 measurement (commit 1e6f74536de0): UDP from the guest to the host, a
#: zero-copy flow of 256-byte payloads and a copied flow of 1-byte payloads, about
#: 80 kpps each; the large flow through netem at 1 Mbit/s with a 1000-packet queue.
FLOW_TOTAL_PPS = 160_000.0
FLOW_ZC_BYTES = 298  # 256 B payload + UDP/IP/Ethernet headers: above VHOST_GOODCOPY_LEN
FLOW_SMALL_BYTES = 43  # 1 B payload + headers: copied


def flow_config(host: str, policy: str, limiter_pps: float | None = None, share: float = 0.5,
                limiter_mbps: float | None = None, n_packets: int = 5_000, seed: int = 1) -> zclab.Config:
    """Two Poisson flows to a local socket: ``limited`` (zero-copy, a fraction ``share``
    of :data:`FLOW_TOTAL_PPS`, behind an egress limiter) and ``small`` (copied)."""
    lim = {"egress_queue": 1000}
    if limiter_mbps:
        lim["egress_rate_mbps"] = float(limiter_mbps)
    elif limiter_pps:
        lim["egress_rate_pps"] = float(limiter_pps)
    flows = [
        {"name": "limited", "rate_pps": FLOW_TOTAL_PPS * share, "size_dist": "fixed", "size_bytes": FLOW_ZC_BYTES,
         "dest": "local", **lim},
        {"name": "small", "rate_pps": FLOW_TOTAL_PPS * (1 - share), "size_dist": "fixed",
         "size_bytes": FLOW_SMALL_BYTES, "dest": "local"},
    ]
    return zclab.Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, host=host, policy=policy, arrival="poisson", flows=flows, n_packets=n_packets,
                        warmup_packets=max(500, n_packets // 10), seed=seed, max_events=100_000_000)


def flow_sweep(host: str, quick: bool = True, seed: int = 1, store="default", progress=None) -> pd.DataFrame:
    """Policy x limiter rate x the limited flow's share of the offered load, plus the
    2017 point (1 Mbit/s, equal shares) and no limiter; aggregated with the flows'
    delivered rates as a fraction of what they offered."""
    n = 5_000 if quick else 50_000
    reps = 1 if quick else 3
    rates = [300.0, 3_000.0, 30_000.0] if quick else [100.0, 300.0, 1_000.0, 3_000.0, 10_000.0, 30_000.0, 100_000.0]
    shares = [0.1, 0.5, 0.9] if quick else [0.1, 0.25, 0.5, 0.75, 0.9]
    cfgs, tags = [], []
    for pol in POLICIES:
        for sh in shares:
            for r in rates:
                cfgs.append(flow_config(host, pol, r, sh, n_packets=n, seed=seed))
                tags.append(("sweep", r, sh))
        cfgs.append(flow_config(host, pol, None, 0.5, limiter_mbps=1.0, n_packets=n, seed=seed))
        tags.append(("2017: 1 Mbit/s", 1e6 / (8 * FLOW_ZC_BYTES), 0.5))
        cfgs.append(flow_config(host, pol, None, 0.5, n_packets=n, seed=seed))
        tags.append(("no limiter", math.nan, 0.5))
    points = [c.to_dict() for c in cfgs]
    df = zclab.sweep(None, points, replications=reps, store=store, progress=progress)
    metrics = ["flow_small_mpps", "flow_limited_mpps", "flow_small_drops", "flow_limited_drops",
               "flow_limited_zerocopy_fraction", "stall_time_fraction", "copy_fallbacks", "flow_small_latency_p99_ns",
               "deadlocked"]
    df = df.assign(deadlocked=df["deadlocked"].astype(float))
    agg = zclab.aggregate(df, metrics=metrics, by=["point", "policy"])
    agg["case"] = [tags[p][0] for p in agg["point"]]
    agg["limiter_pps"] = [tags[p][1] for p in agg["point"]]
    agg["share"] = [tags[p][2] for p in agg["point"]]
    agg["small_pps"] = agg["flow_small_mpps"] * 1e6
    agg["limited_pps"] = agg["flow_limited_mpps"] * 1e6
    agg["small_offered_pps"] = FLOW_TOTAL_PPS * (1 - agg["share"])
    agg["small_delivered_fraction"] = agg["small_pps"] / agg["small_offered_pps"]
    return agg


def published_2017() -> pd.DataFrame:
    """The 2017 numbers of the published record (``../shared/data``), approximate as stated there."""
    return pd.DataFrame([
        {"case": "no limiter", "flow": "both", "pps": 80_000.0, "source": "willem_2017_no_stall"},
        {"case": "2017: 1 Mbit/s, stall (before the fix)", "flow": "both", "pps": 400.0, "source": "willem_2017_no_stall"},
        {"case": "2017: 1 Mbit/s, copy fallback (the fix)", "flow": "small",
         "pps": 80_000.0, "source": "willem_2017_no_stall (\"returned to its original rate\")"},
    ])


# --- figures ----------------------------------------------------------------------------------------

def figure_limits(agg: pd.DataFrame, ring_size: int = 256):
    """Throughput and p99 latency against the limit at one ring size; one column per
    DMA latency and straggler setting, one line per policy; ✕: deadlocked."""
    g0 = agg[agg["ring_size"] == ring_size]
    cases = sorted({(d, s) for d, s in zip(g0["dma_base_ns"], g0["straggler_p"])})
    fig, axes = plotting.figure("double", nrows=3, ncols=len(cases), sharex=True, sharey="row", squeeze=False)
    fig.set_size_inches(7.2, 5.4)
    with plotting.style():
        for j, (d, s) in enumerate(cases):
            for pol in POLICIES:
                g = g0[(g0["policy"] == pol) & (g0["dma_base_ns"] == d) & (g0["straggler_p"] == s)].sort_values("max_pend")
                c = plotting.COLORS[pol]
                for i, metric in enumerate(["throughput_gbps", "latency_p99_ns", "stall_time_fraction"]):
                    label, scale = plotting.UNITS[metric]
                    ax = axes[i, j]
                    ax.plot(g["max_pend"], g[metric] * scale, marker="o", markersize=2.5, color=c, label=pol)
                    dead = g[g["deadlocked"] > 0]
                    if i == 0 and len(dead):
                        ax.plot(dead["max_pend"], [0] * len(dead), marker="x", markersize=6, color=c, linestyle="none")
                    if j == 0:
                        ax.set_ylabel(label)
            for i in range(3):
                axes[i, j].axvline(ring_size // 4, color="0.5", linestyle=":", linewidth=0.9)
                axes[i, j].axvline(ring_size, color="0.3", linestyle="--", linewidth=0.7)
                axes[i, j].set_xscale("log", base=2)
            axes[1, j].set_yscale("log")
            axes[0, j].set_title(f"DMA {d / 1e3:g} µs, stragglers {s:g}", fontsize=7.5)
            axes[2, j].set_xlabel("pending limit (heads)")
        axes[0, 0].legend(fontsize=6.5, title=f"ring {ring_size}; ✕ deadlock", title_fontsize=6.5)
    return fig


def figure_deadlock(dl: pd.DataFrame):
    """Fraction of runs deadlocked, ring size against max_pend: the seed's policy per
    scenario, then the mainline policies; the dashed line is ring_size = max_pend."""
    panels = [(s, "seed-2011") for s in dict.fromkeys(dl["scenario"])]
    first = next(iter(dict.fromkeys(dl["scenario"])))
    panels += [(first, p) for p in POLICIES[1:] if ((dl["scenario"] == first) & (dl["policy"] == p)).any()]
    fig, axes = plotting.figure("double", ncols=len(panels), sharey=True, squeeze=False)
    fig.set_size_inches(7.2, 2.6)
    axes = axes[0]
    import matplotlib.colors as mcolors

    cmap = mcolors.LinearSegmentedColormap.from_list("dl", ["#F4F4F4", "#D55E00"])
    with plotting.style():
        for ax, (scen, pol) in zip(axes, panels):
            g = dl[(dl["scenario"] == scen) & (dl["policy"] == pol)]
            piv = g.pivot_table(index="ring_size", columns="max_pend", values="deadlocked")
            im = ax.imshow(piv.to_numpy(), origin="lower", cmap=cmap, vmin=0, vmax=1, aspect="auto")
            rings, pends = list(piv.index), list(piv.columns)
            ax.set_xticks(range(len(pends)), [str(p) for p in pends], rotation=90, fontsize=6)
            ax.set_yticks(range(len(rings)), [str(r) for r in rings], fontsize=6)
            # the diagonal ring_size = max_pend, in cell coordinates
            xs = [pends.index(v) for v in pends if v in rings]
            ys = [rings.index(v) for v in pends if v in rings]
            ax.plot(xs, ys, color="0.2", linestyle="--", linewidth=0.8)
            ax.grid(False)
            ax.set_title(f"{pol}\n{scen}", fontsize=7)
            ax.set_xlabel("max_pend")
        axes[0].set_ylabel("ring size")
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="runs deadlocked")
    return fig


def figure_rule(rule: pd.DataFrame):
    """The smallest limit reaching 95% of the best against the ring size, per policy;
    one panel per DMA latency and straggler setting; ring/4 and min(128, ring/4) drawn."""
    cases = sorted({(d, s) for d, s in zip(rule["dma_base_ns"], rule["straggler_p"])})
    fig, axes = plotting.figure("double", ncols=len(cases), sharey=True, squeeze=False)
    axes = axes[0]
    rings = np.array(sorted(rule["ring_size"].unique()))
    with plotting.style():
        for ax, (d, s) in zip(axes, cases):
            for pol in POLICIES:
                g = rule[(rule["policy"] == pol) & (rule["dma_base_ns"] == d) & (rule["straggler_p"] == s)]
                ax.plot(g["ring_size"], g["needed_limit"], marker="o", markersize=3, color=plotting.COLORS[pol], label=pol)
            ax.plot(rings, rings / 4, color="0.4", linestyle=":", label="ring/4")
            ax.plot(rings, np.minimum(128, rings / 4), color="0.1", linestyle="--", linewidth=0.8, label="min(128, ring/4)")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_title(f"DMA {d / 1e3:g} µs, stragglers {s:g}", fontsize=7)
            ax.set_xlabel("ring size")
        axes[0].set_ylabel("limit needed (heads)")
        axes[0].legend(fontsize=5.5)
    return fig


def figure_flows(fl: pd.DataFrame):
    """The copied flow's delivered rate (fraction of what it offers) against the
    zero-copy flow's limiter rate; one panel per share, one line per policy."""
    sw = fl[fl["case"] == "sweep"]
    shares = sorted(sw["share"].unique())
    fig, axes = plotting.figure("double", ncols=len(shares), sharey=True, squeeze=False)
    axes = axes[0]
    with plotting.style():
        for ax, sh in zip(axes, shares):
            for pol in POLICIES:
                g = sw[(sw["policy"] == pol) & (sw["share"] == sh)].sort_values("limiter_pps")
                ax.plot(g["limiter_pps"], g["small_delivered_fraction"], marker="o", markersize=3,
                        color=plotting.COLORS[pol], label=pol)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"limited flow: {sh:.0%} of the offered load", fontsize=7.5)
            ax.set_xlabel("limiter rate (packets/s)")
        axes[0].set_ylabel("copied flow delivered / offered")
        axes[0].legend(fontsize=6.5)
    return fig


# --- the answer -------------------------------------------------------------------------------------

def _pick(agg, **kw):
    g = agg
    for k, v in kw.items():
        g = g[g[k] == v]
    return g.iloc[0]


def answer(lim: pd.DataFrame, dl: pd.DataFrame, rule: pd.DataFrame, fl: pd.DataFrame) -> tuple[str, dict]:
    """The answer as a format template and its numbers."""
    nums: dict = {}
    parts = []
    # placements at the seed's limit, ring 256
    d_hi = lim["dma_base_ns"].max()
    s_hi = lim["straggler_p"].max()
    d_lo = lim["dma_base_ns"].min()
    for pol, key in zip(POLICIES, ("seed", "stall", "fb")):
        a = _pick(lim, policy=pol, ring_size=256, max_pend=128, dma_base_ns=d_lo, straggler_p=0.0)
        b = _pick(lim, policy=pol, ring_size=256, max_pend=128, dma_base_ns=d_hi, straggler_p=s_hi)
        nums.update({f"{key}_t_lo": a["throughput_gbps"], f"{key}_t_hi": b["throughput_gbps"],
                     f"{key}_p99_hi": b["latency_p99_ns"] / 1e3, f"{key}_stall_hi": 100 * b["stall_time_fraction"]})
    nums.update({"d_lo": d_lo / 1e3, "d_hi": d_hi / 1e3, "s_hi": s_hi})
    parts.append(
        "With a limit of 128 on a 256-entry ring (MTU-size zero-copy packets), the three placements send "
        "{seed_t_lo:.2f} (seed), {stall_t_lo:.2f} (stall) and {fb_t_lo:.2f} Gbit/s (copy fallback) at {d_lo:g} µs "
        "DMA latency; at {d_hi:g} µs with stragglers ({s_hi:g}) the seed sends {seed_t_hi:.2f} Gbit/s (stalled "
        "{seed_stall_hi:.0f}% of the time), stall {stall_t_hi:.2f} ({stall_stall_hi:.0f}%) and copy fallback "
        "{fb_t_hi:.2f} (p99 {fb_p99_hi:.0f} µs against {stall_p99_hi:.0f} µs for stall): falling back to a copy "
        "keeps the queue moving where stopping on the limit does not.")
    # deadlocks
    seed = dl[dl["policy"] == "seed-2011"]
    dead = seed[seed["deadlocked"] > 0]
    outside = dead[dead["ring_size"] > dead["max_pend"]]
    main = dl[dl["policy"] != "seed-2011"]
    below = seed[(seed["ring_size"] <= seed["max_pend"])]
    nums.update({"dl_cells": len(dead), "dl_outside": len(outside), "dl_main": int((main["deadlocked"] > 0).sum()),
                 "dl_main_cells": len(main), "dl_below": len(below),
                 "dl_max_ring": int(dead["ring_size"].max()) if len(dead) else 0})
    per_scen = []
    for k, (scen, g) in enumerate(below.groupby("scenario", sort=False)):
        nums[f"sc{k}_name"] = scen
        nums[f"sc{k}_frac"] = 100 * float(g["deadlocked"].mean())
        per_scen.append("{sc%d_frac:.0f}%% of those cells for %s" % (k, "{sc%d_name}" % k))
    parts.append(
        "The seed's placement deadlocked in {dl_cells} cells of the map, {dl_outside} of them with ring_size > "
        "max_pend: it deadlocks only where the ring is no larger than max_pend, so that the limit never fires and "
        "the guest runs out of descriptors first (" + ", ".join(per_scen).replace("%%", "%") + "; a light load "
        "deadlocks only when one completion is held long enough for the whole ring to fill behind it; the "
        "largest deadlocked ring is {dl_max_ring}: from uio_maxiov (1024) up the heads[] span guard that zclab "
        "adds stops the worker first, and a completion wakes it). The hypothetical ring-quarter-stall and linux-4.15 "
        "deadlocked in {dl_main} of {dl_main_cells} cells.")
    # the rule
    st = rule[(rule["policy"] == "ring-quarter-stall")]
    worst = st.loc[st["share_at_mainline_rule"].idxmin()]
    nums.update({"rule_worst": 100 * worst["share_at_mainline_rule"], "rule_worst_ring": int(worst["ring_size"]),
                 "rule_worst_dma": worst["dma_base_ns"] / 1e3, "rule_worst_sp": worst["straggler_p"],
                 "rule_worst_need": worst["needed_limit"], "rule_worst_rule": int(worst["mainline_rule"]),
                 "rule_ok": int((st["share_at_mainline_rule"] >= 0.95).sum()), "rule_n": len(st)})
    parts.append(
        "Under stall, min(max_pend, ring_size/4) reaches 95% of the best throughput in {rule_ok} of {rule_n} "
        "settings; its worst is {rule_worst:.0f}% (ring {rule_worst_ring}, DMA {rule_worst_dma:g} µs, stragglers "
        "{rule_worst_sp:g}), where {rule_worst_need:.0f} heads would be needed against the rule's "
        "{rule_worst_rule}: the limit a queue needs grows with its rate times the DMA completion latency, "
        "which the ring size does not know.")
    # two flows
    for pol, key in zip(POLICIES, ("seed", "stall", "fb")):
        a = _pick(fl, policy=pol, case="no limiter")
        b = _pick(fl, policy=pol, case="2017: 1 Mbit/s")
        nums.update({f"f_{key}_free": a["small_pps"], f"f_{key}_small": b["small_pps"], f"f_{key}_lim": b["limited_pps"]})
    sw = fl[(fl["case"] == "sweep") & (fl["limiter_pps"] < FLOW_TOTAL_PPS * fl["share"])]  # the limiter binds
    stall_sw = sw[sw["policy"] == "ring-quarter-stall"]
    fb_sw = sw[sw["policy"] == "linux-4.15"]
    nums.update({"f_stall_max": 100 * float(stall_sw["small_delivered_fraction"].max()),
                 "f_fb_min": 100 * float(fb_sw["small_delivered_fraction"].min()),
                 "f_rate_max": float(stall_sw["limiter_pps"].max())})
    parts.append(
        "Two flows at 80 kpps each, one zero-copy behind a 1 Mbit/s limiter: the copied flow delivers "
        "{f_stall_small:,.0f} packets/s under stall (the limited one {f_stall_lim:,.0f}; {f_stall_free:,.0f} "
        "without the limiter), {f_seed_small:,.0f} under the seed's policy, and {f_fb_small:,.0f} under copy "
        "fallback, as in the 2017 measurement (about 80 kpps, then about 400 for both, then the original rate). "
        "Wherever the limiter holds the zero-copy flow below its offered rate (limiters up to {f_rate_max:,.0f} "
        "packets/s, every share of the load), the copied flow "
        "keeps at most {f_stall_max:.0f}% of its offered rate under stall and at least {f_fb_min:.0f}% under "
        "copy fallback.")
    return " ".join(parts), nums
