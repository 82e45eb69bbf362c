"""Notebook 02: copy against zero-copy, by message size, destination and host.

The question of the 2011 patch: **when does zero-copy pay?** Copying a packet
costs the vhost worker ``copy_ns_per_byte`` per byte; sending it zero-copy
costs ``zc_setup_ns + pin_ns_per_page x pages`` on the worker plus
``callback_ns`` at its completion, and to a local destination (guest to host)
the host copies it anyway at delivery. This module sweeps the message size
(64 B to 64 KB) for both modes, to the wire and to a local socket, on two host
presets; finds the *crossover* (the size from which zero-copy costs less host
CPU per byte) and shows how it moves with the copy and pin costs.

The zero-copy curve is the mechanism itself: ``goodcopy_len = 0``, so every
packet is pinned (notebook 03 studies the threshold). Both modes run under one
policy (``linux-3.14`` by default, zero-copy on, as experimental_zcopytx was then) in
which every eligible packet really takes the zero-copy path: its modulo pending
test never holds on a 256-entry ring, whereas under ``linux-4.15`` the pending
limit would copy most large packets queued in front of a busy wire, and under the
seed to v3.9 a worker over the limit spins in tx_poll_start (its CPU is the
spin's, not the send path's).

    >>> from zclab.studies import copy_vs_zerocopy as cz
    >>> agg = cz.size_sweep(["assumed-2011"], quick=True, store=None)        # doctest: +SKIP
    >>> cz.crossovers(agg)                                                    # doctest: +SKIP
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import zclab
from zclab.studies import plotting
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = [
    "MODES", "DESTS", "WORKLOADS", "sizes", "run_sizes", "base_config", "size_sweep", "workload_sweep",
    "cost_sweep", "crossovers", "crossover_theory", "crossover_of", "ratios", "figure_sizes",
    "figure_workloads", "figure_crossover", "answer", "QUESTION",
]

QUESTION = ("When does zero-copy transmit pay? Host CPU per byte, throughput and latency of copy and "
            "zero-copy against message size (64 B to 64 KB), to an external and to a local destination, "
            "on a 2011 and a modern host: where is the crossover, and how does it move with memcpy "
            "bandwidth (copy_ns_per_byte) and pin cost (pin_ns_per_page)?")

MODES = ("copy", "zerocopy")
DESTS = ("wire", "local")
WORKLOADS = ("small_64", "imix", "poisson_imix", "bimodal_64k", "tcp_stream_64k")
#: Multiples of a host's copy and pin costs in the crossover map (quick: one at a time).
COST_FACTORS_QUICK = (0.5, 1.0, 2.0)
COST_FACTORS_FULL = (0.25, 0.35, 0.5, 0.71, 1.0, 1.41, 2.0, 2.83, 4.0)


def cost_pairs(quick: bool) -> list[tuple[float, float]]:
    """(copy factor, pin factor) pairs: each factor alone (quick), or every pair (full)."""
    if quick:
        f = COST_FACTORS_QUICK
        return sorted({(x, 1.0) for x in f} | {(1.0, x) for x in f})
    return [(a, b) for a in COST_FACTORS_FULL for b in COST_FACTORS_FULL]


def sizes(quick: bool) -> list[int]:
    """Message sizes: octaves (quick) or quarter octaves (full) from 64 B to 64 KB, and 1500."""
    step = 1 if quick else 4
    s = {int(round(2 ** (k / step))) for k in range(6 * step, 16 * step + 1)}
    return sorted(s | {1500})


def run_sizes(quick: bool) -> tuple[int, int, int]:
    """(measured packets, warm-up packets, replications) per point."""
    return (10_000, 1_000, 1) if quick else (200_000, 10_000, 3)


def base_config(host: str, policy: str = "linux-3.14", seed: int = 1, quick: bool = True, **kw) -> zclab.Config:
    """A fixed-size bulk sender (the ``tcp_stream_64k`` preset, size set per point);
    zero-copy for every packet (``goodcopy_len = 0``)."""
    n, w, _ = run_sizes(quick)
    params = dict(**SYNTHETIC_NIC, **SIMPLE_GUEST, workload="tcp_stream_64k", policy=policy, host=host, goodcopy_len=0, seed=seed,
                  n_packets=n, warmup_packets=w)
    params.update(kw)
    return zclab.Config(**params)


def _sweep(base, grid, quick, store, progress):
    reps = run_sizes(quick)[2]
    df = zclab.sweep(base, grid, replications=reps, store=store, progress=progress)
    return zclab.aggregate(df)


def size_sweep(hosts, quick: bool = True, policy: str = "linux-3.14", seed: int = 1, store="default",
               progress=None) -> pd.DataFrame:
    """Host x destination x mode x size; aggregated (mean, 95% CI)."""
    points = [{"host": h, "dest": d, "mode": m, "size_bytes": s}
              for h in hosts for d in DESTS for m in MODES for s in sizes(quick)]
    return _sweep(base_config(hosts[0], policy, seed, quick), points, quick, store, progress)


def workload_sweep(hosts, quick: bool = True, policy: str = "linux-3.14", seed: int = 1, store="default",
                   progress=None) -> pd.DataFrame:
    """The workload presets, copy against zero-copy as shipped (``goodcopy_len`` 256)."""
    # a point naming a workload brings its sockets back (Config.replace): the older guest
    # again, whose sockets have no limit (an open-loop one would hold the guest qdisc's)
    points = [{"host": h, "dest": d, "mode": m, "workload": wl, **SIMPLE_GUEST}
              for h in hosts for d in DESTS for m in MODES for wl in WORKLOADS]
    base = base_config(hosts[0], policy, seed, quick, goodcopy_len=256)
    agg = _sweep(base, points, quick, store, progress)
    return agg


def cost_sweep(hosts, quick: bool = True, policy: str = "linux-3.14", seed: int = 1, store="default",
               progress=None) -> pd.DataFrame:
    """To the wire: mode x size for copy and pin costs at multiples of each host's own."""
    points = []
    for h in hosts:
        c0 = zclab.Config(host=h)
        for fc, fp in cost_pairs(quick):
            for m in MODES:
                for s in sizes(quick):
                    points.append({"host": h, "mode": m, "size_bytes": s,
                                   "copy_ns_per_byte": c0.copy_ns_per_byte * fc,
                                   "pin_ns_per_page": c0.pin_ns_per_page * fp})
    agg = _sweep(base_config(hosts[0], policy, seed, quick), points, quick, store, progress)
    # the multiples, for labels
    base = {h: zclab.Config(host=h) for h in hosts}
    agg = agg.copy()
    agg["copy_factor"] = [round(r.copy_ns_per_byte / base[r.host].copy_ns_per_byte, 3) for r in agg.itertuples()]
    agg["pin_factor"] = [round(r.pin_ns_per_page / base[r.host].pin_ns_per_page, 3) for r in agg.itertuples()]
    return agg


# --- the crossover ------------------------------------------------------------------------------

def crossover_of(size, diff) -> float:
    """The size from which zero-copy stays cheaper: with ``diff`` = zero-copy's host CPU
    per packet minus copy's at each ``size`` (sorted), the root of ``diff`` after its last
    positive point, by linear interpolation (the per-packet costs are linear in the size
    between page boundaries). ``nan`` if zero-copy is not cheaper at the largest size; the
    smallest size if it is cheaper everywhere."""
    size = np.asarray(size, float)
    diff = np.asarray(diff, float)
    pos = np.nonzero(diff > 0)[0]
    if len(pos) == 0:
        return float(size[0])
    i = pos[-1]
    if i == len(size) - 1:
        return math.nan
    x0, x1, d0, d1 = size[i], size[i + 1], diff[i], diff[i + 1]
    return float(x0 + (x1 - x0) * d0 / (d0 - d1))


def crossover_theory(cfg: zclab.Config, max_size: int = 65536) -> float:
    """The crossover of the send-path costs alone (to the wire): the smallest size L from
    which ``zc_setup_ns + callback_ns + pin_ns_per_page * ceil(L/4096)`` stays below
    ``copy_ns_per_byte * L``. Signals, batching and the stack are left out (they are
    the same in both modes, or nearly). ``nan`` if not below ``max_size``."""
    L = np.arange(1, max_size + 1, dtype=float)
    diff = cfg.zc_setup_ns + cfg.callback_ns + cfg.pin_ns_per_page * np.ceil(L / 4096.0) - cfg.copy_ns_per_byte * L
    pos = np.nonzero(diff > 0)[0]
    if len(pos) == 0:
        return 1.0
    if pos[-1] == len(L) - 1:
        return math.nan
    return float(L[pos[-1] + 1])


def crossovers(agg: pd.DataFrame, by=("host", "dest")) -> pd.DataFrame:
    """One row per group of ``by``: the simulated crossover (bytes) and the closed form's."""
    by = [b for b in by if b in agg.columns]
    rows = []
    for key, g in agg.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        piv = g.pivot_table(index="size_bytes", columns="mode", values="host_cpu_ns_per_packet")
        if not set(MODES) <= set(piv.columns):
            continue
        piv = piv.sort_index()
        row = dict(zip(by, key))
        row["crossover_bytes"] = crossover_of(piv.index, piv["zerocopy"] - piv["copy"])
        first = g.iloc[0]
        row["copy_ns_per_byte"] = float(first["copy_ns_per_byte"])
        row["pin_ns_per_page"] = float(first["pin_ns_per_page"])
        cfg = zclab.Config(host=first["host"], copy_ns_per_byte=float(first["copy_ns_per_byte"]),
                           pin_ns_per_page=float(first["pin_ns_per_page"]),
                           zc_setup_ns=float(first["zc_setup_ns"]), callback_ns=float(first["callback_ns"]))
        row["theory_bytes"] = crossover_theory(cfg) if row.get("dest", "wire") == "wire" else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def ratios(agg: pd.DataFrame, metric: str, by=("host", "dest", "size_bytes")) -> pd.DataFrame:
    """Zero-copy's ``metric`` over copy's, per group."""
    by = [b for b in by if b in agg.columns]
    piv = agg.pivot_table(index=by, columns="mode", values=metric)
    return (piv["zerocopy"] / piv["copy"]).rename("ratio").reset_index()


# --- figures ------------------------------------------------------------------------------------

_MODE_STYLE = {"copy": dict(color="#D55E00", marker="s"), "zerocopy": dict(color="#0072B2", marker="o")}
_HOST_LINES = ("-", "--", ":", "-.")


def figure_sizes(agg: pd.DataFrame, cross: pd.DataFrame | None = None):
    """Host CPU per byte, throughput and p99 latency against size; columns: wire, local."""
    metrics = ["host_cycles_per_byte", "throughput_gbps", "latency_p99_ns"]
    fig, axes = plotting.figure("double", nrows=len(metrics), ncols=len(DESTS), sharex=True)
    fig.set_size_inches(7.2, 6.2)
    hosts = list(dict.fromkeys(agg["host"]))
    with plotting.style():
        for j, dest in enumerate(DESTS):
            for i, metric in enumerate(metrics):
                ax = axes[i, j]
                label, scale = plotting.UNITS[metric]
                for h, host in enumerate(hosts):
                    for mode in MODES:
                        g = agg[(agg["host"] == host) & (agg["dest"] == dest) & (agg["mode"] == mode)].sort_values("size_bytes")
                        ax.plot(g["size_bytes"], g[metric] * scale, linestyle=_HOST_LINES[h % 4],
                                label=f"{mode}, {host}", markersize=2.5, **_MODE_STYLE[mode])
                    if cross is not None and dest == "wire" and i == 0:
                        c = cross[(cross["host"] == host) & (cross["dest"] == dest)]["crossover_bytes"]
                        if len(c) and np.isfinite(c.iloc[0]):
                            ax.axvline(c.iloc[0], color="0.4", linestyle=_HOST_LINES[h % 4], linewidth=0.8)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                plotting.plain_log_ticks(ax)
                ax.set_ylabel(label)
                if i == 0:
                    ax.set_title("to the wire (external)" if dest == "wire" else "to a local socket (guest to host)")
                if i == len(metrics) - 1:
                    ax.set_xlabel("message size (bytes)")
        # in the local column's empty upper right: on the left it covered the crossover lines
        axes[0, 1].legend(*axes[0, 0].get_legend_handles_labels(), fontsize=6.5, ncol=1, loc="upper right")
    return fig


def figure_workloads(wl: pd.DataFrame):
    """Zero-copy over copy, per workload preset: host CPU per byte and throughput."""
    fig, axes = plotting.figure("double", ncols=2)
    groups = list(dict.fromkeys(zip(wl["host"], wl["dest"])))
    width = 0.8 / max(len(groups), 1)
    with plotting.style():
        for ax, metric, title in [(axes[0], "host_cycles_per_byte", "host CPU per byte"),
                                  (axes[1], "throughput_gbps", "throughput")]:
            r = ratios(wl, metric, by=("host", "dest", "workload"))
            x = np.arange(len(WORKLOADS))
            for k, (host, dest) in enumerate(groups):
                g = r[(r["host"] == host) & (r["dest"] == dest)].set_index("workload").reindex(WORKLOADS)
                ax.bar(x + (k - (len(groups) - 1) / 2) * width, g["ratio"], width, label=f"{host}, {dest}")
            ax.axhline(1.0, color="0.3", linewidth=0.8)
            ax.set_xticks(x, [w.replace("_", "\n", 1) for w in WORKLOADS], fontsize=6.5)
            ax.set_ylabel(f"{title}: zero-copy / copy")
        axes[0].legend(fontsize=6.5)
    return fig


def figure_crossover(cross: pd.DataFrame):
    """The crossover against a multiple of the copy cost (pin cost as the host's) and of
    the pin cost (copy cost as the host's); one panel per host. Markers: simulated;
    lines: the send-path costs alone (:func:`crossover_theory`)."""
    hosts = list(dict.fromkeys(cross["host"]))
    fig, axes = plotting.figure("double", ncols=len(hosts), sharey=True, squeeze=False)
    axes = axes[0]
    top = 65536 * 1.5
    with plotting.style():
        for ax, host in zip(axes, hosts):
            c = cross[cross["host"] == host]
            for k, (vary, fixed, name) in enumerate([("copy_factor", "pin_factor", "copy cost (memcpy) x"),
                                                    ("pin_factor", "copy_factor", "pin cost x")]):
                g = c[c[fixed] == 1.0].sort_values(vary)
                y = g["crossover_bytes"].to_numpy(float)
                color = f"C{k}"
                ax.plot(g[vary], np.where(np.isfinite(y), y, np.nan), marker="o", linestyle="none", color=color,
                        label=name)
                ax.plot(g[vary], g["theory_bytes"], color=color, linewidth=0.8)
                none = g[~np.isfinite(y)]
                ax.plot(none[vary], [top] * len(none), marker="^", color=color, linestyle="none")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log", base=2)
            ax.set_xlabel("multiple of the host's cost")
            base = zclab.Config(host=host)
            ax.set_title(f"{host} (copy {base.copy_ns_per_byte:g} ns/B, pin {base.pin_ns_per_page:g} ns/page)",
                         fontsize=7.5)
        axes[0].set_ylabel("crossover size (bytes)")
        axes[0].legend(fontsize=6.5, title="markers: simulated; lines: send-path\ncosts alone; ▲: none up to 64 KB",
                       title_fontsize=6)
    return fig


# --- the answer ---------------------------------------------------------------------------------

def _at(agg, host, dest, size, metric):
    g = agg[(agg["host"] == host) & (agg["dest"] == dest) & (agg["size_bytes"] == size)]
    return float(g[g["mode"] == "zerocopy"][metric].iloc[0]), float(g[g["mode"] == "copy"][metric].iloc[0])


def _cross_text(x: float) -> str:
    if not np.isfinite(x):
        return "nowhere up to 64 KB"
    return f"from about {x:,.0f} bytes up"


def _size_text(x: float) -> str:
    if not np.isfinite(x):
        return "beyond 64 KB (never)"
    return f"about {x:,.0f} bytes"


def answer(agg: pd.DataFrame, cross: pd.DataFrame, cost_cross: pd.DataFrame, wl: pd.DataFrame) -> tuple[str, dict]:
    """The answer as a format template and its numbers (every number from the frames)."""
    hosts = list(dict.fromkeys(agg["host"]))
    nums: dict = {}
    parts = []
    for k, host in enumerate(hosts):
        cfg = zclab.Config(host=host)
        cw = cross[(cross["host"] == host) & (cross["dest"] == "wire")]["crossover_bytes"].iloc[0]
        cl = cross[(cross["host"] == host) & (cross["dest"] == "local")]["crossover_bytes"].iloc[0]
        z64, c64 = _at(agg, host, "wire", 64, "host_cycles_per_byte")
        zbig, cbig = _at(agg, host, "wire", 65536, "host_cycles_per_byte")
        lz, lc = _at(agg, host, "local", 65536, "host_cycles_per_byte")
        tz, tc = _at(agg, host, "local", 65536, "throughput_gbps")
        pz, pc = _at(agg, host, "wire", 1500, "latency_p99_ns")
        sz, sc = _at(agg, host, "wire", 4096, "signals_per_packet")
        th = cross[(cross["host"] == host) & (cross["dest"] == "wire")]["theory_bytes"].iloc[0]
        p = f"h{k}_"
        nums.update({p + "host": host, p + "copy": cfg.copy_ns_per_byte, p + "pin": cfg.pin_ns_per_page,
                     p + "cross_wire": cw, p + "cross_text": _cross_text(cw), p + "cross_local_text": _cross_text(cl),
                     p + "r64": z64 / c64, p + "rbig": zbig / cbig, p + "save_big": 100 * (1 - zbig / cbig),
                     p + "rlocal": lz / lc, p + "tput_local_z": tz, p + "tput_local_c": tc,
                     p + "p99_z_us": pz / 1e3, p + "p99_c_us": pc / 1e3, p + "theory": th,
                     p + "sig_z": sz, p + "sig_c": sc})
        parts.append((
            "On {Phost} (copy {Pcopy:g} ns/byte, pin {Ppin:g} ns/page), to the wire, zero-copy costs less host "
            "CPU per byte than copy {Pcross_text}: at 64 B it costs {Pr64:.2f}x copy's CPU per byte, at 64 KB "
            "{Prbig:.2f}x (a saving of {Psave_big:.0f}% of host CPU). To a local socket it pays {Pcross_local_text} "
            "(at 64 KB {Prlocal:.2f}x copy's CPU per byte: it pins and then copies at delivery), and "
            "delivers {Ptput_local_z:.1f} Gbit/s against copy's {Ptput_local_c:.1f}. At 1500 B to the wire "
            "its p99 latency is {Pp99_z_us:.0f} us against copy's {Pp99_c_us:.0f} us (buffers return only "
            "after the DMA completion). The send-path costs alone put the crossover at {Ptheory:,.0f} bytes; "
            "the simulation puts it lower because copy returns buffers one at a time and interrupts the guest "
            "more often ({Psig_c:.2f} signals per packet at 4 KB against zero-copy's batched {Psig_z:.2f}).").replace("{P", "{" + p))
    # how the crossover moves with the costs, on the first host
    h0 = hosts[0]
    cc = cost_cross[cost_cross["host"] == h0]

    def cross_at(fc, fp):
        r = cc[(cc["copy_factor"] == fc) & (cc["pin_factor"] == fp)]["crossover_bytes"]
        return float(r.iloc[0]) if len(r) else math.nan

    fc_lo, fc_hi = min(cc["copy_factor"]), max(cc["copy_factor"])
    fp_lo, fp_hi = min(cc["pin_factor"]), max(cc["pin_factor"])
    nums.update({"m_host": h0, "m_base": cross_at(1.0, 1.0),
                 "m_copy_lo": fc_lo, "m_copy_lo_x": _size_text(cross_at(fc_lo, 1.0)),
                 "m_copy_hi": fc_hi, "m_copy_hi_x": _size_text(cross_at(fc_hi, 1.0)),
                 "m_pin_lo": fp_lo, "m_pin_lo_x": _size_text(cross_at(1.0, fp_lo)),
                 "m_pin_hi": fp_hi, "m_pin_hi_x": _size_text(cross_at(1.0, fp_hi))})
    parts.append(
        "The crossover is set by copy_ns_per_byte x size against zc_setup_ns + callback_ns + pin_ns_per_page per "
        "page: on {m_host}, a copy {m_copy_lo:g}x as costly (faster memcpy) moves zero-copy's pay-off to "
        "{m_copy_lo_x}, {m_copy_hi:g}x as costly to {m_copy_hi_x}; pinning {m_pin_lo:g}x as costly gives "
        "{m_pin_lo_x}, {m_pin_hi:g}x as costly {m_pin_hi_x}. When a page costs more to pin than 4096 bytes "
        "cost to copy, zero-copy never catches up.")
    # the workload presets (as shipped: goodcopy_len 256), first host, to the wire
    r = ratios(wl, "host_cycles_per_byte", by=("host", "dest", "workload"))
    r = r[(r["host"] == h0) & (r["dest"] == "wire")].set_index("workload")["ratio"]
    nums.update({f"wl_{w}": float(r[w]) for w in WORKLOADS if w in r.index})
    parts.append(
        "As shipped (copies up to 256 B), on {m_host} to the wire, zero-copy's host CPU per byte is "
        + ", ".join("{wl_%s:.2f}x copy's for %s" % (w, w) for w in WORKLOADS if w in r.index) + ".")
    return " ".join(parts), nums
