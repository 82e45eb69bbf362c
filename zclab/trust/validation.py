"""Validation: the simulator against closed forms, on configurations built for them.

Each check runs zclab (through :func:`zclab.sweep`, replicated) on purpose-built
configurations where one part of the model is a textbook system, and compares a
summary field with the closed form of :mod:`zclab.trust.theory`:

====================  ==========================================================================
``pipeline``          saturated copy path: packet rate = 1 / the slowest stage (guest, vhost, wire)
``mg1``               Poisson arrivals served by the vhost worker: M/D/1 and M/G/1 mean latency
``md1k``              Poisson arrivals served by the guest with a finite qdisc: M/D/1/K drops
``window``            the pending limit under stall placement: a window of max_pend + 1 heads
``stragglers``        straggling completions: mean shift out of order, release delay in order
``littles_law``       L = lambda W on every run above (heads[], descriptors, guest qdisc)
====================  ==========================================================================

    >>> from zclab.trust import validation
    >>> frames = validation.run_all(quick=True)                     # doctest: +SKIP
    >>> validation.largest_relative_error(frames)                   # doctest: +SKIP
    >>> validation.failures(frames)                                 # doctest: +SKIP

Every check but Little's law takes ``quick``, ``seed``, ``progress`` and ``runs``
(a dict that receives the check's raw runs, one row per run, under its name), and
returns a pandas DataFrame with one row per case: the case's
parameters, ``metric`` (the summary field compared), ``simulated`` (its mean over
the replications), ``ci`` (the half-width of the 95% Student-t interval over the
replications, from :func:`zclab.aggregate`), ``theory``, ``rel_error`` =
(simulated - theory) / theory, ``tolerance`` (absolute, in the metric's unit),
``tolerance_basis`` (where the tolerance comes from) and ``ok`` =
``|simulated - theory| <= tolerance``.

**Tolerances are derived from the runs, never picked to pass.** For each row

    tolerance = max(ci_fw, floor_rel * |theory|, FP_REL * |theory|)

* ``ci_fw``: the Student-t half-width over the replications at the level
  ``1 - ALPHA / m``, m the number of cases of the check (Bonferroni). The plain
  95% interval (``ci``) misses the true mean of one correct row in twenty, so a
  check of ten rows would flag a correct simulator 40% of the time; at the
  corrected level a correct simulator passes a whole check with probability at
  least ``1 - ALPHA`` = 95%. (The closed forms are exact, so the interval of the
  simulated mean is the whole uncertainty; the estimators are unbiased in
  steady state up to the window-edge effects below.)
* ``floor_rel``: only where replications cannot vary (a deterministic
  configuration: the interval is 0), the window-edge effect stated by each
  check, in packets over ``n_packets``: the measured window is bounded by two
  packet returns, and the packets that straddle its edges are counted or not.
* ``FP_REL`` = 1e-9: floating-point rounding of sums over millions of packets.

**When a row fails.** A correct simulator still fails a check now and then (at most
ALPHA of the time for a check with an interval), and which draws a check sees depends
on its seeds, which :func:`zclab.sweep` derives from the whole configuration (a new
model parameter changes them all). Run the check again with another ``seed`` (and the
full size): a statistical false alarm does not come back, a real disagreement does.
Never widen the tolerance to make a row pass.

A configuration that does not isolate what its check assumes (the worker
stalled where it must not, the guest ran out of descriptors...) raises
:class:`SetupError` naming the case and the condition: that is a broken check,
not a pass or a fail.

Sizes: ``quick=True`` runs every check in well under a minute on two cores (the
tests and ``zclab study --quick``); ``quick=False`` runs about ten times more
packets and more replications (the notebook's full size).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from . import theory
from ..model.config import PARAMETERS, Config
from ..model.presets import SIMPLE_GUEST, SYNTHETIC_NIC
from ..sweeps.sweep import aggregate, sweep

__all__ = [
    "ALPHA",
    "FP_REL",
    "CHECKS",
    "SetupError",
    "pipeline_bottleneck",
    "mg1_worker",
    "finite_guest_queue",
    "pending_window",
    "stragglers",
    "littles_law",
    "run_all",
    "judge",
    "largest_relative_error",
    "failures",
    "confirm",
    "CONFIRM_SEED_OFFSET",
    "overview",
    "exponential_size_table",
]

#: Family-wise error rate of one check: a correct simulator fails a check with
#: probability at most ALPHA (Bonferroni over the check's cases).
ALPHA = 0.05
#: Relative floor for floating-point rounding.
FP_REL = 1e-9
#: The checks, in order: name -> one line.
CHECKS = {
    "pipeline": "saturated copy path: packet rate = 1 / the slowest stage",
    "mg1": "Poisson arrivals at the vhost worker: M/D/1 and M/G/1 mean latency (Pollaczek-Khinchine)",
    "md1k": "Poisson arrivals at the guest with a finite qdisc: M/D/1/K drop fraction",
    "window": "pending limit under stall placement: throughput of a window of max_pend + 1 heads",
    "stragglers": "straggling completions: mean shift out of order, extra release delay in order",
    "littles_law": "L = lambda W on every run of the other checks",
}

RESULT_COLUMNS = ["simulated", "ci", "theory", "rel_error", "tolerance", "tolerance_basis", "ok"]


class SetupError(RuntimeError):
    """A validation configuration does not isolate what its check assumes."""


# --- plumbing ------------------------------------------------------------------------------

#: Settings that take every cost and delay out of the way; each check adds its own.
QUIET = dict(kick_ns=0.0, wake_latency_ns=0.0, signal_ns=0.0, irq_latency_ns=0.0, requeue_ns=0.0,
             weight_bytes=2**40)
#: Parameters of newer model versions, at the value under which they change nothing the
#: checks rely on (the used-ring update inside per_packet_ns, one used entry at a time,
#: packets to the wire, no egress limiter). Pinned when the model has them, so that a
#: preset changing their defaults does not silently change what a check isolates.
NEUTRAL = {"used_ring_ns": 0.0, "tx_batch": 1, "dest": "wire", "egress_rate_pps": 0.0, "egress_rate_mbps": 0.0,
           "flows": None,
           # The closed forms below are written for the synthetic NIC (model version 3): a
           # completion delay drawn per skb (fixed here), a lossless device queue, a frame
           # on the wire as one frame. The coalesced NIC's batches and the qdisc's drops are
           # not in them; it is checked by tests/test_nic.py instead.
           **SYNTHETIC_NIC, **SIMPLE_GUEST}
QUIET.update({k: v for k, v in NEUTRAL.items() if k in PARAMETERS})


def _run(base: Mapping, points: list[dict], replications: int, seed: int, progress: bool) -> pd.DataFrame:
    """One replicated sweep of ``points`` over ``base``: the raw rows (one per run)."""
    cfg = Config(**dict(base), seed=seed)
    df = sweep(cfg, points, replications=replications, store=None, progress=progress, workers=None)
    bad = df[(df["invariant_violations"] != 0) | df["deadlocked"].astype(bool)]
    if len(bad):
        raise SetupError(f"{len(bad)} run(s) deadlocked or violated an invariant, e.g. point {int(bad['point'].iloc[0])}")
    return df


def _require(df: pd.DataFrame, check: str, condition: pd.Series, what: str, show: Iterable[str]) -> None:
    """Raise SetupError naming the runs where ``condition`` is False."""
    bad = df[~condition.astype(bool)]
    if len(bad):
        cols = [c for c in show if c in bad.columns]
        raise SetupError(f"{check}: the set-up requires {what}, but {len(bad)} run(s) break it:\n"
                         + bad[cols].drop_duplicates().head(5).to_string(index=False))


def _stats(df: pd.DataFrame, metric: str, keys: list[str], m: int) -> pd.DataFrame:
    """Per group of ``keys``: the mean of ``metric``, its 95% CI half-width (``ci``), its
    half-width at the Bonferroni level 1 - ALPHA/m (``ci_fw``) and the replications ``n``;
    also ``deterministic``: every replication gave the same value."""
    a95 = aggregate(df, metrics=[metric], by=keys, confidence=0.95)
    afw = aggregate(df, metrics=[metric], by=keys, confidence=1.0 - ALPHA / max(m, 1))
    spread = df.groupby(keys, sort=False, dropna=False)[metric].agg(lambda v: float(np.nanmax(v) - np.nanmin(v)))
    out = a95[keys].copy()
    out["simulated"] = a95[metric].to_numpy()
    out["ci"] = a95[f"{metric}_ci"].fillna(0.0).to_numpy()
    out["ci_fw"] = afw[f"{metric}_ci"].fillna(0.0).to_numpy()
    out["n"] = a95["n"].to_numpy()
    out["deterministic"] = (spread.to_numpy() == 0.0)
    return out


def _finish(rows: pd.DataFrame, floor_rel, floor_text: str, m: int) -> pd.DataFrame:
    """Add tolerance, its basis, rel_error and ok to rows with simulated, ci, ci_fw, theory.

    ``floor_rel`` (a number or a column of numbers) applies to deterministic rows only."""
    rows = rows.copy()
    th = rows["theory"].abs()
    floor = pd.Series(np.where(rows["deterministic"], floor_rel, 0.0), index=rows.index) * th
    fp = FP_REL * th
    tol = np.maximum(np.maximum(rows["ci_fw"], floor), fp)
    level = 100.0 * (1.0 - ALPHA / max(m, 1))
    basis = np.where(
        (rows["ci_fw"] >= floor) & (rows["ci_fw"] >= fp),
        f"CI {level:.4g}% (Bonferroni: {100 * (1 - ALPHA):.0f}% over {m} cases)",
        np.where(floor >= fp, f"floor {floor_text} (deterministic)", f"floor {FP_REL:g} relative (rounding)"),
    )
    rows["tolerance"] = tol
    rows["tolerance_basis"] = basis
    rows = judge(rows)
    return rows.drop(columns=["ci_fw", "deterministic"])


def judge(frame: pd.DataFrame) -> pd.DataFrame:
    """(Re)compute ``rel_error`` and ``ok`` of a check's frame from its ``simulated``,
    ``theory`` and ``tolerance`` columns (the tests use it with a deliberately wrong
    theory)."""
    out = frame.copy()
    diff = out["simulated"] - out["theory"]
    th = out["theory"].astype(float)
    out["rel_error"] = np.where(th != 0, diff / th.where(th != 0, 1.0), np.where(diff == 0, 0.0, np.inf))
    out["ok"] = (diff.abs() <= out["tolerance"]) & np.isfinite(out["simulated"])
    return out


def _order(frame: pd.DataFrame, check: str, first: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "check", check)
    cols = ["check"] + [c for c in first if c in frame.columns]
    rest = [c for c in frame.columns if c not in cols and c not in RESULT_COLUMNS]
    return frame[cols + rest + RESULT_COLUMNS].reset_index(drop=True)


def _keep(result: tuple[pd.DataFrame, pd.DataFrame], runs: dict | None, name: str) -> pd.DataFrame:
    """The check's frame; its raw runs go to ``runs[name]`` when a dict is given
    (for :func:`littles_law`)."""
    frame, raw = result
    if runs is not None:
        runs[name] = raw
    return frame


def _sizes(quick: bool, quick_value, full_value):
    return quick_value if quick else full_value


# --- a. the pipeline bottleneck ----------------------------------------------------------------

PIPELINE_BASE = dict(mode="copy", size_dist="fixed", arrival="saturate", ring_size=256, **QUIET)
PIPELINE_CASES = {
    # guest_xmit 3000 > vhost 1000 + 0.25 * 1500 = 1375 > wire 1219.2 ns
    "guest-bound": dict(size_bytes=1500, guest_xmit_ns=3000.0, per_packet_ns=1000.0, copy_ns_per_byte=0.25),
    # vhost 1000 + 1.0 * 1500 = 2500 > wire 1219.2 > guest 100 ns
    "vhost-bound": dict(size_bytes=1500, guest_xmit_ns=100.0, per_packet_ns=1000.0, copy_ns_per_byte=1.0),
    # wire (65536 + 24) * 8 / 10 = 52448 > vhost 100 + 0.01 * 65536 = 755 > guest 100 ns
    "wire-bound": dict(size_bytes=65536, guest_xmit_ns=100.0, per_packet_ns=100.0, copy_ns_per_byte=0.01,
                       line_rate_gbps=10.0),
}
#: Window-edge effect of a deterministic pipeline: one packet straddling each edge.
PIPELINE_EDGE_PACKETS = 2


def _pipeline(quick: bool, seed: int, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = _sizes(quick, 50_000, 1_000_000)
    reps = 2  # deterministic: the second replication shows that the interval is 0
    points = [dict(case, n_packets=n) for case in PIPELINE_CASES.values()]
    runs = _run(PIPELINE_BASE, points, reps, seed, progress)
    runs["case"] = runs["point"].map(dict(enumerate(PIPELINE_CASES)))
    _require(runs, "pipeline", runs["requeues"] == 0, "no requeue (weight_bytes out of reach)", ["case", "requeues"])
    keys = ["point", "case", "size_bytes", "guest_xmit_ns", "per_packet_ns", "copy_ns_per_byte", "line_rate_gbps",
            "wire_overhead_bytes", "n_packets"]
    rows = _stats(runs, "mpps", keys, m=len(points))
    guest = rows["guest_xmit_ns"]
    vhost = rows["per_packet_ns"] + rows["copy_ns_per_byte"] * rows["size_bytes"]
    wire = (rows["size_bytes"] + rows["wire_overhead_bytes"]) * 8.0 / rows["line_rate_gbps"]
    stages = pd.DataFrame({"guest": guest, "vhost": vhost, "wire": wire})
    rows["guest_ns"], rows["vhost_ns"], rows["wire_ns"] = guest, vhost, wire
    rows["bottleneck"] = stages.idxmax(axis=1)
    rows["theory"] = 1e3 / stages.max(axis=1)
    rows["metric"] = "mpps"
    rows["replications"] = rows.pop("n")
    out = _finish(rows, PIPELINE_EDGE_PACKETS / rows["n_packets"], f"{PIPELINE_EDGE_PACKETS}/n_packets", m=len(points))
    return _order(out.drop(columns=["point"]), "pipeline", ["case", "metric", "bottleneck"]), runs


def pipeline_bottleneck(quick: bool = True, seed: int = 1, progress: bool = False, runs: dict | None = None) -> pd.DataFrame:
    """**a. Pipeline bottleneck.** A saturated guest, the copy path, fixed sizes and
    every other cost and delay set to 0 (kicks, wake-ups, signals, interrupts,
    requeues; VHOST_NET_WEIGHT out of reach). Guest, worker and wire are then three
    stages of a pipeline with fixed times, and the packet rate is set by the slowest:

        mpps = 1e3 / max(guest_xmit_ns, per_packet_ns + copy_ns_per_byte * size,
                         (size + wire_overhead_bytes) * 8 / line_rate_gbps)

    Three cases, one per bottleneck. Deterministic: the tolerance is the
    window-edge floor, one packet at each edge of the window (2 / n_packets).
    """
    return _keep(_pipeline(quick, seed, progress), runs, 'pipeline')


# --- b. M/D/1 and M/G/1 at the vhost worker ------------------------------------------------------

MG1_BASE = dict(mode="copy", arrival="poisson", guest_xmit_ns=0.0, ring_size=32768, txqueuelen=1_000_000,
                line_rate_gbps=1e4, **QUIET)
MG1_RHOS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: M/D/1: every packet 1500 bytes, S = 1000 + 1.0 * 1500 = 2500 ns.
MD1_SERVICE = dict(size_dist="fixed", size_bytes=1500, per_packet_ns=1000.0, copy_ns_per_byte=1.0)
#: M/G/1: sizes near-exponential (mean about 4 KB), S = 10 + 0.25 * len ns, about 1 us.
MG1_MEAN_BYTES, MG1_STEP_BYTES = 4096, 128
MG1_SERVICE = dict(per_packet_ns=10.0, copy_ns_per_byte=0.25)


def exponential_size_table(mean_bytes: float = MG1_MEAN_BYTES, step: int = MG1_STEP_BYTES,
                           max_bytes: int = 65536) -> str:
    """A size table approximating an exponential law of packet sizes: sizes
    ``step, 2 step, ..., max_bytes`` with weights ``exp(-size / mean_bytes)``
    (a geometric law on the multiples of ``step``), as ``"size:weight,..."`` text."""
    sizes = np.arange(step, max_bytes + 1, step)
    weights = np.exp(-sizes / float(mean_bytes))
    return ",".join(f"{int(s)}:{w!r}" for s, w in zip(sizes, weights.tolist()))


def service_moments(cfg: Config) -> tuple[float, float]:
    """E[S] and E[S^2] of the copy-path service time of ``cfg``'s size law, exactly
    (S = per_packet_ns + copy_ns_per_byte * len over the table's probabilities)."""
    sizes, probs = cfg.size_distribution()
    s = cfg.per_packet_ns + cfg.copy_ns_per_byte * np.asarray(sizes, dtype=float)
    p = np.asarray(probs, dtype=float)
    return float(p @ s), float(p @ (s * s))


def _mg1(quick: bool, seed: int, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_half = _sizes(quick, 40_000, 400_000)  # packets per replication at rho = 0.5
    reps = _sizes(quick, 10, 20)
    services = {
        "M/D/1": dict(MD1_SERVICE),
        "M/G/1 (near-exponential service)": dict(size_dist="empirical", size_table=exponential_size_table(), **MG1_SERVICE),
    }
    points, labels = [], []
    for label, service in services.items():
        cfg = Config(**MG1_BASE, **service)
        s_mean, _ = service_moments(cfg)
        for rho in MG1_RHOS:
            # the variance of the mean sojourn grows like 1 / (1 - rho)^2: so does n
            n = max(20_000, int(round(n_half * (0.5 / (1.0 - rho)) ** 2)))
            points.append(dict(service, rate_pps=rho / s_mean * 1e9, n_packets=n))
            labels.append((label, rho))
    runs = _run(MG1_BASE, points, reps, seed, progress)
    runs["queue"] = runs["point"].map({i: lab for i, (lab, _) in enumerate(labels)})
    runs["rho"] = runs["point"].map({i: r for i, (_, r) in enumerate(labels)})
    show = ["queue", "rho", "ring_full_time_fraction", "nic_wait_time_fraction", "requeues"]
    _require(runs, "mg1", runs["ring_full_time_fraction"] == 0, "that the guest never runs out of descriptors", show)
    _require(runs, "mg1", runs["nic_wait_time_fraction"] == 0, "that the device queue never fills", show)
    _require(runs, "mg1", runs["requeues"] == 0, "no requeue", show)
    _require(runs, "mg1", runs["qdisc_delay_mean_ns"] == 0, "that packets are posted as they arrive", show + ["qdisc_delay_mean_ns"])
    keys = ["point", "queue", "rho", "rate_pps", "size_dist", "size_bytes", "per_packet_ns", "copy_ns_per_byte", "n_packets"]
    rows = _stats(runs, "latency_mean_ns", keys, m=len(points))
    es, es2 = [], []
    for p in points:
        cfg = Config(**MG1_BASE, **p)
        m1, m2 = service_moments(cfg)
        es.append(m1)
        es2.append(m2)
    rows["service_mean_ns"], rows["service_m2_ns2"] = es, es2
    lam = rows["rate_pps"] / 1e9
    rows["theory"] = [theory.mg1_sojourn(l_, a, b) for l_, a, b in zip(lam, es, es2)]
    rows["metric"] = "latency_mean_ns"
    rows["replications"] = rows.pop("n")
    rows.loc[rows["size_dist"] != "fixed", "size_bytes"] = np.nan  # not used by the empirical law
    out = _finish(rows, 0.0, "none", m=len(points))
    return _order(out.drop(columns=["point"]), "mg1", ["queue", "rho", "metric"]), runs


def mg1_worker(quick: bool = True, seed: int = 1, progress: bool = False, runs: dict | None = None) -> pd.DataFrame:
    """**b. M/D/1 and M/G/1 at the vhost worker.** Poisson arrivals at ``rate_pps``;
    the guest costs nothing (``guest_xmit_ns = 0``), so each packet is posted on
    the avail ring as it arrives, and the ring (32768 descriptors), the device
    queue and the wire (10 Tbit/s) never hold the worker back. The worker is then
    a FIFO single server with service S = per_packet_ns + copy_ns_per_byte * len,
    and the latency (post to return on the used ring) is its time in system:

        E[T] = E[S] + lambda E[S^2] / (2 (1 - rho)),  rho = lambda E[S]   (Pollaczek-Khinchine)

    M/D/1: fixed 1500-byte packets. M/G/1: sizes from :func:`exponential_size_table`
    (near-exponential service), with the exact E[S] and E[S^2] of that discrete table,
    so the closed form is exact. rho in 0.1 ... 0.9; packets per replication scale
    with 1 / (1 - rho)^2. Stochastic: the tolerance is the (Bonferroni) confidence
    interval over the replications.
    """
    return _keep(_mg1(quick, seed, progress), runs, 'mg1')


# --- c. the finite guest queue: M/D/1/K --------------------------------------------------------

MD1K_BASE = dict(mode="copy", arrival="poisson", size_dist="fixed", size_bytes=64, per_packet_ns=1.0,
                 copy_ns_per_byte=0.0, ring_size=32768, line_rate_gbps=1e4, txqueuelen=1_000_000, **QUIET)
MD1K_SERVICE_NS = 2000.0
MD1K_KS = (2, 5, 10)
MD1K_RHOS = (0.8, 1.0, 1.5)


def _md1k(quick: bool, seed: int, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = _sizes(quick, 60_000, 600_000)
    reps = _sizes(quick, 10, 20)
    points = [dict(guest_xmit_ns=MD1K_SERVICE_NS, qdisc_len=k - 1, rate_pps=rho / MD1K_SERVICE_NS * 1e9, n_packets=n)
              for k in MD1K_KS for rho in MD1K_RHOS]
    runs = _run(MD1K_BASE, points, reps, seed, progress)
    runs["K"] = runs["qdisc_len"] + 1
    runs["rho"] = runs["rate_pps"] / 1e9 * runs["guest_xmit_ns"]
    show = ["K", "rho", "ring_full_time_fraction", "nic_wait_time_fraction"]
    _require(runs, "md1k", runs["ring_full_time_fraction"] == 0, "that the guest never runs out of descriptors", show)
    _require(runs, "md1k", runs["guest_cpu_util"] <= 1.0 + 1e-9, "a guest busy at most all the time", show + ["guest_cpu_util"])
    keys = ["point", "K", "rho", "qdisc_len", "guest_xmit_ns", "rate_pps", "n_packets"]
    rows = _stats(runs, "drop_fraction", keys, m=len(points))
    rows["theory"] = [theory.md1k_blocking(r / 1e9, d, int(k)) for r, d, k in zip(rows["rate_pps"], rows["guest_xmit_ns"], rows["K"])]
    rows["metric"] = "drop_fraction"
    rows["replications"] = rows.pop("n")
    out = _finish(rows, 0.0, "none", m=len(points))
    return _order(out.drop(columns=["point"]), "md1k", ["K", "rho", "metric"]), runs


def finite_guest_queue(quick: bool = True, seed: int = 1, progress: bool = False, runs: dict | None = None) -> pd.DataFrame:
    """**c. Finite guest queue (M/D/1/K).** Poisson arrivals at the guest, which is
    now the server: it spends a fixed ``guest_xmit_ns`` = D per packet, the host
    is fast (1 ns per packet, nothing per byte, no kick or wake-up cost) and the
    ring never runs out. The guest holds at most ``qdisc_len`` waiting packets plus
    the one it is transmitting, so it is an M/D/1/K queue with K = qdisc_len + 1,
    and by PASTA the fraction of arrivals dropped is its blocking probability
    (:func:`zclab.trust.theory.md1k_blocking`). K in (2, 5, 10), rho = lambda D in
    (0.8, 1.0, 1.5). Stochastic: the tolerance is the (Bonferroni) confidence interval.
    """
    return _keep(_md1k(quick, seed, progress), runs, 'md1k')


# --- d. the pending limit as a window ----------------------------------------------------------

WINDOW_BASE = dict(mode="zerocopy", policy="ring-quarter-stall", max_pend_rule="fixed", ring_size=1024,
                   size_dist="fixed", size_bytes=1500, dma_latency_dist="fixed", dma_base_ns=200_000.0,
                   guest_xmit_ns=100.0, goodcopy_len=256, **QUIET)
WINDOW_MAX_PENDS = (4, 8, 16, 32)


def window_round_trip_ns(cfg: Config) -> float:
    """Time a zero-copy head is held under the window check's set-up: the worker's
    service, the wire, the DMA completion latency (all fixed)."""
    service = cfg.per_packet_ns + cfg.zc_setup_ns + cfg.pin_ns_per_page * math.ceil(cfg.size_bytes / 4096)
    wire = (cfg.size_bytes + cfg.wire_overhead_bytes) * 8.0 / cfg.line_rate_gbps
    return service + wire + cfg.dma_base_ns


def _window(quick: bool, seed: int, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = _sizes(quick, 50_000, 500_000)
    reps = 2  # deterministic: the second replication shows that the interval is 0
    points = [dict(max_pend=m, n_packets=n) for m in WINDOW_MAX_PENDS]
    for p in points:  # the loop must be the bottleneck: no stage is busier than the window allows
        cfg = Config(**WINDOW_BASE, **p)
        w, rtt = cfg.max_pend + 1, window_round_trip_ns(cfg)
        service = cfg.per_packet_ns + cfg.zc_setup_ns + cfg.pin_ns_per_page * math.ceil(cfg.size_bytes / 4096)
        wire = (cfg.size_bytes + cfg.wire_overhead_bytes) * 8.0 / cfg.line_rate_gbps
        if w * max(service, wire, cfg.guest_xmit_ns) >= rtt:
            raise SetupError(f"window: max_pend={cfg.max_pend}: a stage, not the window, would be the bottleneck")
    runs = _run(WINDOW_BASE, points, reps, seed, progress)
    show = ["max_pend", "zerocopy_fraction", "copy_fallbacks", "span_stalls", "requeues", "nic_wait_time_fraction"]
    _require(runs, "window", runs["zerocopy_fraction"] == 1.0, "every packet on the zero-copy path", show)
    _require(runs, "window", runs["span_stalls"] == 0, "no stop on the heads span", show)
    _require(runs, "window", runs["requeues"] == 0, "no requeue", show)
    _require(runs, "window", runs["stalls"] > 0, "that the pending limit acts", show + ["stalls"])
    runs["window"] = runs["max_pend"] + 1
    keys = ["point", "max_pend", "window", "size_bytes", "dma_base_ns", "per_packet_ns", "zc_setup_ns",
            "pin_ns_per_page", "line_rate_gbps", "wire_overhead_bytes", "n_packets"]
    frames = []
    rtt = [window_round_trip_ns(Config(**WINDOW_BASE, **p)) for p in points]
    m = 2 * len(points)
    for metric, floor_k in (("mpps", None), ("outstanding_mean", 2)):
        rows = _stats(runs, metric, keys, m=m)
        rows["round_trip_ns"] = rtt
        if metric == "mpps":
            rows["theory"] = [theory.window_throughput(w, r) * 1e3 for w, r in zip(rows["window"], rtt)]
            # a periodic schedule of W packets per round trip: a window of fixed length holds
            # n +- W of them, and one more may straddle each edge
            floor = (rows["window"] + 2) / rows["n_packets"]
            text = "(max_pend + 3)/n_packets"
        else:
            rows["theory"] = rows["window"].astype(float)
            floor = floor_k / rows["n_packets"]
            text = f"{floor_k}/n_packets"
        rows["metric"] = metric
        rows["replications"] = rows.pop("n")
        frames.append(_finish(rows, floor, text, m=m))
    out = pd.concat(frames, ignore_index=True)
    return _order(out.drop(columns=["point"]), "window", ["max_pend", "window", "metric"]), runs


def pending_window(quick: bool = True, seed: int = 1, progress: bool = False, runs: dict | None = None) -> pd.DataFrame:
    """**d. The pending limit as a window.** Zero-copy, ``ring-quarter-stall`` with a fixed
    limit ``max_pend`` in (4, 8, 16, 32), 1500-byte packets (all zero-copy), a fixed
    DMA completion latency of 200 us, far longer than the per-packet costs, a fast
    guest and no other delay. Under stall placement the worker stops while more
    than ``max_pend`` heads are outstanding: a closed loop of W = max_pend + 1
    heads, each held for

        round_trip = per_packet_ns + zc_setup_ns + pin_ns_per_page * ceil(1500 / 4096)
                     + (1500 + wire_overhead_bytes) * 8 / line_rate_gbps + dma_base_ns

    so ``mpps = 1e3 * W / round_trip`` (Little's law) and ``outstanding_mean = W``
    (two rows per case). Deterministic: tolerances are window-edge floors.
    """
    return _keep(_window(quick, seed, progress), runs, 'window')


# --- e. stragglers -----------------------------------------------------------------------------

STRAGGLER_SPACING_NS = 2000.0
STRAGGLER_BASE = dict(mode="zerocopy", policy="ring-quarter-stall", max_pend_rule="fixed", max_pend=1024, uio_maxiov=1024,
                      ring_size=4096, size_dist="fixed", size_bytes=1500, dma_latency_dist="fixed",
                      # service 1450 + wire 1219.2 + DMA 21000 = 23669.2 ns = 11 spacings + 1669.2 ns: every
                      # completion lands while the worker is idle (it serves 1450 ns of each 2000)
                      dma_base_ns=21_000.0, per_packet_ns=1000.0, zc_setup_ns=300.0, pin_ns_per_page=150.0,
                      guest_xmit_ns=STRAGGLER_SPACING_NS, straggler_ns=100_000.0, **QUIET)
STRAGGLER_PS = (0.001, 0.01)


def _stragglers(quick: bool, seed: int, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = _sizes(quick, 200_000, 2_000_000)
    reps = _sizes(quick, 10, 20)
    base = Config(**STRAGGLER_BASE)
    service = base.per_packet_ns + base.zc_setup_ns + base.pin_ns_per_page * math.ceil(base.size_bytes / 4096)
    if service >= base.guest_xmit_ns:
        raise SetupError("stragglers: the worker must be faster than the guest (fixed spacing between posts)")
    points = [dict(completion=c, straggler_p=p, n_packets=n)
              for c in ("out_of_order", "in_order") for p in (0.0, *STRAGGLER_PS)]
    runs = _run(STRAGGLER_BASE, points, reps, seed, progress)
    show = ["completion", "straggler_p", "stalls", "span_stalls", "zerocopy_fraction", "ring_full_time_fraction"]
    _require(runs, "stragglers", runs["stalls"] == 0, "that the worker never stops on the pending limit", show)
    _require(runs, "stragglers", runs["span_stalls"] == 0, "that the worker never stops on the heads span", show)
    _require(runs, "stragglers", runs["zerocopy_fraction"] == 1.0, "every packet on the zero-copy path", show)
    _require(runs, "stragglers", runs["ring_full_time_fraction"] == 0, "a guest that never runs out of descriptors", show)
    spacing = base.guest_xmit_ns  # the guest is the bottleneck and never blocks: posts every guest_xmit_ns
    lat = runs.set_index(["completion", "straggler_p", "replication"])["latency_mean_ns"]
    ref0 = runs[(runs["completion"] == "out_of_order") & (runs["straggler_p"] == 0.0)]["latency_mean_ns"]
    if ref0.max() != ref0.min():
        raise SetupError("stragglers: the straggler-free runs should be deterministic")
    diffs = []
    for p in STRAGGLER_PS:
        for r in range(reps):
            ooo = lat[("out_of_order", p, r)]
            diffs.append(dict(case="out_of_order: mean shift", straggler_p=p, replication=r,
                              extra_ns=ooo - lat[("out_of_order", 0.0, r)],
                              theory=theory.straggler_mean_shift(p, base.straggler_ns)))
            diffs.append(dict(case="in_order: extra release delay", straggler_p=p, replication=r,
                              extra_ns=lat[("in_order", p, r)] - ooo,
                              theory=theory.in_order_release_delay(p, base.straggler_ns, spacing)))
    d = pd.DataFrame(diffs)
    m = 2 * len(STRAGGLER_PS)
    rows = _stats(d, "extra_ns", ["case", "straggler_p", "theory"], m=m)
    rows["straggler_ns"] = base.straggler_ns
    rows["spacing_ns"] = spacing
    rows["n_packets"] = n
    rows["metric"] = np.where(rows["case"].str.startswith("out_of_order"),
                              "latency_mean_ns(p) - latency_mean_ns(0), out of order",
                              "latency_mean_ns(in order) - latency_mean_ns(out of order)")
    rows["replications"] = rows.pop("n")
    # both sides are stochastic (p > 0): no floor
    out = _finish(rows, 0.0, "none", m=m)
    return _order(out, "stragglers", ["case", "straggler_p", "metric"]), runs


def stragglers(quick: bool = True, seed: int = 1, progress: bool = False, runs: dict | None = None) -> pd.DataFrame:
    """**e. Stragglers.** Zero-copy, 1500-byte packets, a fixed DMA latency, and with
    probability p a completion held ``straggler_ns`` = 100 us longer. The guest
    posts one packet every ``guest_xmit_ns`` = 2 us (it is the bottleneck and never
    blocks; no kick or wake-up cost) and nothing else reacts to stragglers:
    ``ring-quarter-stall`` with a fixed limit of 1024, heads[] of 1024 and a ring of 4096
    (the run fails loudly if the worker ever stops on the limit or the heads span).

    * out of order, each packet's latency rises by ``straggler_ns`` with probability
      p: latency_mean(p) - latency_mean(0) = p * straggler_ns;
    * in order, a packet also waits for the most recent earlier straggler:
      latency_mean(in order) - latency_mean(out of order) =
      :func:`zclab.trust.theory.in_order_release_delay` (p, straggler_ns, guest_xmit_ns).

    straggler_ns is a whole number of spacings, so a held completion lands at the
    same point of the worker's cycle as an unheld one. Differences are taken per
    replication (independent runs); the tolerance is their (Bonferroni) interval.
    """
    return _keep(_stragglers(quick, seed, progress), runs, 'stragglers')


# --- f. Little's law on every run ----------------------------------------------------------------

def littles_law(runs: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None, quick: bool = True, seed: int = 1,
                progress: bool = False) -> pd.DataFrame:
    """**f. Little's law on every run.** L = lambda W for three queues of each run:

    * heads[]: ``outstanding_mean`` = rate into heads[] * ``heads_hold_mean_ns``; the
      rate is packets / sim_time_ns times ``zerocopy_fraction`` when copies go
      straight to the used ring (``copy_via_heads`` "never", v3.12 on), packets /
      sim_time_ns when they pass through heads[] (the seed); zero-copy runs only;
    * the ring: ``inflight_mean`` = packets / sim_time_ns * ``latency_mean_ns``;
    * the guest qdisc (Poisson runs where packets wait in it): ``qdisc_len_mean`` =
      (arrivals - drops) / sim_time_ns * ``qdisc_delay_mean_ns``.

    The two sides are measured independently (a time integral; per-packet sums).
    They differ only by the items in the queue at the window's two edges, each
    cut short by its age there. Both edges are packet returns; in steady state the
    two edge terms have the same law and cancel in expectation, so over
    replications of a stochastic run the relative difference has mean 0 and its
    (Bonferroni) interval is the tolerance. A deterministic run has no interval:
    its floor is 2 C / n, C the most items the queue can hold (``outstanding_max``,
    ``ring_size``, ``qdisc_len``) and n the items through it in the window: at
    most C items cut at each edge, each by about its time in the queue.

    ``runs`` is the raw frame of runs (or a dict of them by check); None runs
    every other check first (at ``quick`` size) to get them.
    """
    if runs is None:
        runs = _all_runs(quick, seed, progress)[1]
    if isinstance(runs, Mapping):
        runs = pd.concat([r.assign(source=name) for name, r in runs.items()], ignore_index=True)
    elif "source" not in runs.columns:
        runs = runs.assign(source="runs")
    r = runs.copy()
    rate = r["packets"] / r["sim_time_ns"]
    items = []
    zc = r["mode"] == "zerocopy"
    heads_rate = np.where(r["copy_via_heads"] == "always", rate, rate * r["zerocopy_fraction"])
    items.append(("heads[]: outstanding_mean", r[zc], r.loc[zc, "outstanding_mean"],
                  (heads_rate * r["heads_hold_mean_ns"])[zc], r.loc[zc, "outstanding_max"],
                  (heads_rate * r["sim_time_ns"])[zc]))
    items.append(("ring: inflight_mean", r, r["inflight_mean"], rate * r["latency_mean_ns"], r["ring_size"],
                  r["packets"].astype(float)))
    q = (r["arrival"] == "poisson") & (r["qdisc_delay_mean_ns"] > 0)
    qrate = (r["arrivals"] - r["drops"]) / r["sim_time_ns"]
    items.append(("guest qdisc: qdisc_len_mean", r[q], r.loc[q, "qdisc_len_mean"], (qrate * r["qdisc_delay_mean_ns"])[q],
                  r.loc[q, "qdisc_len"], (qrate * r["sim_time_ns"])[q]))
    per_run = []
    for quantity, sub, lhs, rhs, cap, n_items in items:
        if sub.empty:
            continue
        per_run.append(pd.DataFrame({
            "source": sub["source"].to_numpy(), "point": sub["point"].to_numpy(), "replication": sub["replication"].to_numpy(),
            "quantity": quantity, "simulated": lhs.to_numpy(dtype=float), "lambda_w": rhs.to_numpy(dtype=float),
            "capacity": cap.to_numpy(dtype=float), "n_items": n_items.to_numpy(dtype=float),
            "ring_size": sub["ring_size"].to_numpy(), "n_packets": sub["n_packets"].to_numpy(),
            "mode": sub["mode"].to_numpy(), "arrival": sub["arrival"].to_numpy(),
        }))
    pr = pd.concat(per_run, ignore_index=True)
    pr["rel_diff"] = pr["simulated"] / pr["lambda_w"] - 1.0
    keys = ["source", "point", "quantity", "mode", "arrival", "ring_size", "n_packets"]
    m = pr.groupby(keys, sort=False).ngroups
    rows = _stats(pr, "rel_diff", keys, m=m)
    g = pr.groupby(keys, sort=False)
    sim = g["simulated"].mean().to_numpy()
    lw = g["lambda_w"].mean().to_numpy()
    cap = g["capacity"].max().to_numpy()
    n_items = g["n_items"].min().to_numpy()
    rows["rel_diff_mean"] = rows["simulated"]
    rows["simulated"], rows["theory"] = sim, lw
    # deterministic: every replication measured the same L (not merely the same difference)
    rows["deterministic"] = (g["simulated"].max() - g["simulated"].min()).to_numpy() == 0.0
    rows["capacity"] = cap
    # the interval of the relative difference, made absolute
    rows["ci"] = rows["ci"] * np.abs(lw)
    rows["ci_fw"] = rows["ci_fw"] * np.abs(lw)
    rows["metric"] = rows["quantity"].str.split(": ").str[1]
    rows["replications"] = rows.pop("n")
    out = _finish(rows, 2.0 * cap / n_items, "2 C/n", m=m)
    out = out.rename(columns={"source": "run_of"})
    return _order(out.drop(columns=["rel_diff_mean"]), "littles_law", ["run_of", "point", "quantity", "metric"])


# --- all checks --------------------------------------------------------------------------------

_CHECK_FUNCTIONS = {
    "pipeline": _pipeline,
    "mg1": _mg1,
    "md1k": _md1k,
    "window": _window,
    "stragglers": _stragglers,
}


def _all_runs(quick: bool, seed: int, progress: bool) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    frames, runs = {}, {}
    for name, fn in _CHECK_FUNCTIONS.items():
        frames[name], runs[name] = fn(quick, seed, progress)
    return frames, runs


def run_all(quick: bool = True, seed: int = 1, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Every check, in the order of :data:`CHECKS`: name -> frame. Little's law is
    checked on the runs of the other checks (no run of its own)."""
    frames, runs = _all_runs(quick, seed, progress)
    frames["littles_law"] = littles_law(runs)
    return {name: frames[name] for name in CHECKS}


def largest_relative_error(frames: Mapping[str, pd.DataFrame] | pd.DataFrame) -> float:
    """The largest |rel_error| over every row of ``frames`` (a dict of check frames or one frame)."""
    dfs = [frames] if isinstance(frames, pd.DataFrame) else list(frames.values())
    vals = [np.abs(df["rel_error"].to_numpy(dtype=float)) for df in dfs if len(df)]
    return float(np.max(np.concatenate(vals))) if vals else math.nan


def failures(frames: Mapping[str, pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
    """The rows that are not ok, from every frame."""
    dfs = [frames] if isinstance(frames, pd.DataFrame) else list(frames.values())
    bad = [df[~df["ok"].astype(bool)] for df in dfs]
    bad = [b for b in bad if len(b)]
    if not bad:
        return pd.DataFrame(columns=["check", "metric", *RESULT_COLUMNS])
    return pd.concat(bad, ignore_index=True)


#: The confirmation stage runs a failed check again with base seed ``seed + CONFIRM_SEED_OFFSET``
#: (sweep seeds derive from the base seed and each point, so the streams are independent).
CONFIRM_SEED_OFFSET = 1_000_000


def confirm(frames: Mapping[str, pd.DataFrame], quick: bool = True, seed: int = 1,
            progress: bool = False) -> pd.DataFrame:
    """The second stage of the verdict: run every check with a failed row again,
    with independent seeds, and return the failed rows with the second stage's
    ``simulated_2``, ``tolerance_2``, ``ok_2`` and ``confirmed`` (failed twice).

    A correct simulator fails a row of a check with probability at most
    ALPHA / m (Bonferroni); failing the same row twice in independent runs then
    has probability at most (ALPHA / m)^2: a statistical false alarm does not come
    back, while a real disagreement between model and theory does. Only confirmed
    rows fail the validation.

        >>> frames = run_all(quick=True)                         # doctest: +SKIP
        >>> confirm(frames, quick=True)["confirmed"].any()       # doctest: +SKIP
        False
    """
    names = [name for name, df in frames.items() if len(df) and not df["ok"].astype(bool).all()]
    if not names:
        return pd.DataFrame(columns=["check", "metric", *RESULT_COLUMNS, "simulated_2", "tolerance_2", "ok_2", "confirmed"])
    seed_2 = seed + CONFIRM_SEED_OFFSET
    if "littles_law" in names:  # checked on the runs of every other check
        again, runs = _all_runs(quick, seed_2, progress)
        again["littles_law"] = littles_law(runs)
    else:
        again = {name: _CHECK_FUNCTIONS[name](quick, seed_2, progress)[0] for name in names}
    out = []
    for name in names:
        first, second = frames[name].reset_index(drop=True), again[name].reset_index(drop=True)
        bad = ~first["ok"].astype(bool)
        rows = first[bad].copy()
        rows["seed_2"] = seed_2
        rows["simulated_2"] = second.loc[bad, "simulated"].to_numpy()
        rows["tolerance_2"] = second.loc[bad, "tolerance"].to_numpy()
        rows["ok_2"] = second.loc[bad, "ok"].astype(bool).to_numpy()
        rows["confirmed"] = ~rows["ok_2"]
        out.append(rows)
    return pd.concat(out, ignore_index=True)


def overview(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per check: its cases, how many are ok, its largest |rel_error| and the
    largest tolerance relative to the theory."""
    rows = []
    for name, df in frames.items():
        th = df["theory"].abs().replace(0, np.nan)
        rows.append(dict(check=name, what=CHECKS.get(name, ""), cases=len(df), ok=int(df["ok"].sum()),
                         largest_rel_error=largest_relative_error(df),
                         largest_rel_tolerance=float((df["tolerance"] / th).max())))
    return pd.DataFrame(rows)
