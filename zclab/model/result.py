"""What a run reports: the flat summary record (docs/model.md section 4) and
the optional per-packet trace."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .engine import layout as L
from .engine.histogram import quantile

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .config import Config

__all__ = ["Result", "SUMMARY_FIELDS", "SECTIONS", "summarize", "format_value"]

#: The summary's fields, in order, with a one-line meaning (units in the name).
SUMMARY_FIELDS = {
    "packets": "heads returned to the guest in the measured window",
    "bytes": "bytes of those packets",
    "sim_time_ns": "length of the measured window",
    "throughput_gbps": "goodput: payload bits of skbs sent on the wire or received locally wholly within the window",
    "mpps": "those skbs, millions per second",
    "vhost_cpu_util": "busy fraction of the vhost worker thread",
    "host_cpu_util": "host CPU in cores: worker, completion callbacks, the stack outside vhost, local delivery",
    "host_cpu_ns_per_packet": "that host CPU per packet",
    "host_cycles_per_byte": "the same per byte, in cycles at cpu_ghz",
    "guest_cpu_util": "busy fraction of the guest vCPU (transmit, kicks, TX polls)",
    "zerocopy_fraction": "packets that took the zero-copy path",
    "copy_fallbacks": "zero-copy candidates copied because of the pending limit (copy_fallback)",
    "outstanding_mean": "heads held in heads[] (upend_idx - done_idx), time-weighted",
    "outstanding_max": "largest number of heads held",
    "hol_blocked_mean": "done heads held behind a pending one (in order), time-weighted",
    "heads_hold_mean_ns": "mean time a head spends in heads[], recorded to released",
    "stall_time_fraction": "time the worker was stopped on the pending limit or the heads span",
    "stalls": "times the worker stopped on the pending limit or the heads span",
    "span_stalls": "of those, stops because no slot of heads[] (or of the ring) was free",
    "nic_wait_time_fraction": "time the worker waited for room in the device queue",
    "ring_full_time_fraction": "time the guest queue was stopped for lack of descriptors",
    "socket_wait_time_fraction": "time the bulk sender waited with no flow's socket having room (guest_sndbuf_bytes, guest_tsq_bytes)",
    "inflight_mean": "descriptors posted and not yet returned, time-weighted",
    "latency_mean_ns": "post on the avail ring to return on the used ring",
    "latency_p50_ns": "median of that latency (log-bucketed histogram, <0.4% error)",
    "latency_p99_ns": "99th percentile of that latency",
    "latency_p999_ns": "99.9th percentile of that latency",
    "latency_max_ns": "largest latency",
    "signals_per_packet": "interrupts sent to the guest per packet",
    "kicks_per_packet": "guest kicks (VM exits) per packet",
    "tx_polls_per_packet": "TX interrupts the guest handled (virtnet_poll_tx, guest_napi_tx) per packet",
    "requeues": "handle_tx passes ended by VHOST_NET_WEIGHT (bytes) or VHOST_NET_PKT_WEIGHT (packets)",
    "poll_spin_time_fraction": "time the worker spun on tx_poll_start (seed placement over the limit, avail ring empty), part of vhost_cpu_util",
    "busypoll_time_fraction": "time the worker busy-polled an empty avail ring (busyloop_timeout_ns), part of vhost_cpu_util",
    "release_batch_mean": "heads returned per vhost_zerocopy_signal_used batch",
    "arrivals": "open-loop packets arriving at the guest qdisc",
    "drops": "open-loop packets dropped at the full guest qdisc",
    "drop_fraction": "drops / arrivals",
    "socket_drops": "open-loop packets dropped because their flow's socket already held qdisc_len sends waiting for room",
    "egress_drops": "skbs dropped by a full egress limiter queue",
    "host_qdisc_drops": "skbs dropped by the full host qdisc in front of the NIC (pfifo_fast, txqueuelen)",
    "used_updates_per_packet": "used-ring updates (vhost_add_used_n) per packet",
    "qdisc_len_mean": "packets waiting in the guest qdisc, time-weighted",
    "qdisc_delay_mean_ns": "arrival to the start of the guest's transmit",
    "duplicates": "extra avail entries of an adversarial guest (duplicate_head_p)",
    "guest_bad_ring": "used entries the guest found not to be a head (BAD_RING)",
    "guest_early_free": "heads the guest freed while the host still held a post of them",
    "guest_avail_overruns": "avail entries written over unconsumed ones, refused by the host",
    "deadlocked": ("the run stopped with work left and nothing that could ever wake it; the other fields "
                   "describe the window up to that moment, after which the system sends nothing: "
                   "its long-run throughput is 0 (the studies count it so); a deadlock during warm-up "
                   "leaves the window unopened: the fields then cover the run from t = 0, and those per "
                   "measured packet are NaN"),
    "invariant_violations": "host-side invariant violations (model.md section 3); must be 0",
    "events": "events simulated, warm-up included",
}


#: The summary's fields grouped for reading (``zclab simulate``'s table, a Result in Jupyter).
SECTIONS = (
    ("throughput", ("packets", "bytes", "sim_time_ns", "throughput_gbps", "mpps")),
    ("CPU", ("vhost_cpu_util", "host_cpu_util", "host_cpu_ns_per_packet", "host_cycles_per_byte", "guest_cpu_util")),
    ("zero-copy", ("zerocopy_fraction", "copy_fallbacks", "outstanding_mean", "outstanding_max", "hol_blocked_mean",
                   "heads_hold_mean_ns", "release_batch_mean")),
    ("stops", ("stall_time_fraction", "stalls", "span_stalls", "nic_wait_time_fraction", "ring_full_time_fraction",
               "socket_wait_time_fraction", "requeues", "poll_spin_time_fraction", "busypoll_time_fraction")),
    ("latency", ("latency_mean_ns", "latency_p50_ns", "latency_p99_ns", "latency_p999_ns", "latency_max_ns",
                 "inflight_mean")),
    ("notifications", ("signals_per_packet", "kicks_per_packet", "tx_polls_per_packet")),
    ("open loop", ("arrivals", "drops", "drop_fraction", "socket_drops", "qdisc_len_mean", "qdisc_delay_mean_ns")),
    ("egress and batching", ("egress_drops", "host_qdisc_drops", "used_updates_per_packet")),
    ("checks", ("deadlocked", "invariant_violations", "duplicates", "guest_bad_ring", "guest_early_free",
                "guest_avail_overruns", "events")),
)
#: The per-flow fields shown, one row per flow (``flow_<name>_<column>`` in the summary).
FLOW_COLUMNS = ("packets", "mpps", "throughput_gbps", "latency_mean_ns", "latency_p99_ns", "drops", "zerocopy_fraction")


def format_value(v: Any) -> str:
    """A summary value for reading: thousands separators, 4 significant digits
    where a float is very large or small, ``-`` for NaN (nothing to measure)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v != 0 and (abs(v) >= 1e7 or abs(v) < 1e-3):
            return f"{v:.4g}"
        return f"{v:,.4f}".rstrip("0").rstrip(".") if abs(v) < 1000 else f"{v:,.1f}"
    return str(v)


def _div(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


def summarize(o: dict[str, float], hist: np.ndarray, config: "Config", flow_i=None, flow_f=None,
              flow_hist=None) -> dict[str, Any]:
    """Turn the engine's raw sums (the fields of layout.RUN) into the summary record.

    With ``config.flows`` set, per-flow fields follow (``flow_<name>_mpps`` ...).
    """
    window = o["t_end"] - o["t_start"]
    packets = int(o["m_returned"])
    host_cpu = o["worker_busy_ns"] + o["callback_ns"] + o["stack_cpu_ns"] + o["local_cpu_ns"]
    delivered = o["wire_packets"] + o["local_packets"]
    delivered_bytes = o["wire_bytes"] + o["local_bytes"]
    summary = {
        "packets": packets,
        "bytes": int(o["m_bytes"]),
        "sim_time_ns": window,
        "throughput_gbps": _div(delivered_bytes * 8.0, window),
        "mpps": _div(delivered * 1e3, window),
        "vhost_cpu_util": _div(o["worker_busy_ns"], window),
        "host_cpu_util": _div(host_cpu, window),
        "host_cpu_ns_per_packet": _div(host_cpu, packets),
        "host_cycles_per_byte": _div(host_cpu * config.cpu_ghz, o["m_bytes"]),
        "guest_cpu_util": _div(o["guest_busy_ns"], window),
        "zerocopy_fraction": _div(o["m_zc"], packets),
        "copy_fallbacks": int(o["fallbacks"]),
        "outstanding_mean": _div(o["outstanding_area"], window),
        "outstanding_max": int(o["outstanding_max"]),
        "hol_blocked_mean": _div(o["hol_area"], window),
        "heads_hold_mean_ns": _div(o["heads_hold_sum"], o["heads_released"]),
        "stall_time_fraction": _div(o["stall_ns"], window),
        "stalls": int(o["stalls"]),
        "span_stalls": int(o["span_stalls"]),
        "nic_wait_time_fraction": _div(o["nic_wait_ns"], window),
        "ring_full_time_fraction": _div(o["ring_full_ns"], window),
        "socket_wait_time_fraction": _div(o["sock_wait_ns"], window),
        "inflight_mean": _div(o["inflight_area"], window),
        "latency_mean_ns": _div(o["lat_sum"], packets),
        "latency_p50_ns": quantile(hist, packets, 0.5),
        "latency_p99_ns": quantile(hist, packets, 0.99),
        "latency_p999_ns": quantile(hist, packets, 0.999),
        "latency_max_ns": o["lat_max"] if packets else math.nan,
        "signals_per_packet": _div(o["signals"], packets),
        "kicks_per_packet": _div(o["kicks"], packets),
        "tx_polls_per_packet": _div(o["tx_polls"], packets),
        "requeues": int(o["requeues"]),
        "poll_spin_time_fraction": _div(o["poll_spin_ns"], window),
        "busypoll_time_fraction": _div(o["busypoll_ns"], window),
        "release_batch_mean": _div(o["heads_released"], o["release_batches"]),
        "arrivals": int(o["arrivals"]),
        "drops": int(o["drops"]),
        "drop_fraction": _div(o["drops"], o["arrivals"]),
        "socket_drops": int(o["sock_drops"]),
        "egress_drops": int(o["egress_drops"]),
        "host_qdisc_drops": int(o["nic_drops"]),
        "used_updates_per_packet": _div(o["used_updates"], packets),
        "qdisc_len_mean": _div(o["qdisc_area"], window),
        "qdisc_delay_mean_ns": _div(o["qdisc_delay_sum"], o["qdisc_dequeued"]),
        "duplicates": int(o["duplicates"]),
        "guest_bad_ring": int(o["guest_bad_ring"]),
        "guest_early_free": int(o["guest_early_free"]),
        "guest_avail_overruns": int(o["guest_avail_overruns"]),
        "deadlocked": bool(o["deadlocked"]),
        "invariant_violations": int(o["violations"]),
        "events": int(o["events"]),
    }
    if config.flows is not None:
        summary.update(flow_fields(config, window, flow_i, flow_f, flow_hist, summary))
    return summary


#: The per-flow fields, for a flow named NAME: flow_NAME_<field>.
FLOW_FIELDS = {
    "packets": "heads of the flow returned in the window",
    "mpps": "the flow's skbs delivered (wire or local) wholly within the window, millions per second",
    "throughput_gbps": "the flow's goodput",
    "latency_mean_ns": "the flow's mean latency",
    "latency_p99_ns": "the flow's 99th-percentile latency",
    "drops": "the flow's packets dropped at its socket, the guest qdisc, the egress limiter or the host qdisc",
    "zerocopy_fraction": "the flow's packets that took the zero-copy path",
}


def flow_fields(config: "Config", window: float, flow_i, flow_f, flow_hist, summary) -> dict[str, Any]:
    """The per-flow fields. The engine keeps per-flow sums only when there are
    several flows; a table of one flow is the whole run, so its fields are the totals."""
    from .engine import layout as L

    specs = config.flow_specs()
    if len(specs) == 1:
        pre = f"flow_{specs[0]['name']}_"
        out = {pre + k: summary[k] for k in ("packets", "mpps", "throughput_gbps", "latency_mean_ns",
                                              "latency_p99_ns", "zerocopy_fraction")}
        out[pre + "drops"] = (summary["drops"] + summary["egress_drops"] + summary["host_qdisc_drops"]
                              + summary["socket_drops"])
        return out
    out = {}
    for f, spec in enumerate(specs):
        n = int(flow_i[f, L.FR_RETURNED])
        pre = f"flow_{spec['name']}_"
        out[pre + "packets"] = n
        out[pre + "mpps"] = _div(flow_i[f, L.FR_DELIVERED] * 1e3, window)
        out[pre + "throughput_gbps"] = _div(flow_i[f, L.FR_DELIVERED_BYTES] * 8.0, window)
        out[pre + "latency_mean_ns"] = _div(flow_f[f, L.FR_LAT_SUM], n)
        out[pre + "latency_p99_ns"] = quantile(flow_hist[f], n, 0.99) if n else math.nan
        out[pre + "drops"] = int(flow_i[f, L.FR_QDISC_DROPS] + flow_i[f, L.FR_EGRESS_DROPS] + flow_i[f, L.FR_NIC_DROPS]
                                 + flow_i[f, L.FR_SOCK_DROPS])
        out[pre + "zerocopy_fraction"] = _div(flow_i[f, L.FR_ZC], n)
    return out


@dataclass(frozen=True)
class Result:
    """One run: its configuration, its summary record and (optionally) a trace.

    >>> from zclab import simulate
    >>> r = simulate(n_packets=20_000, warmup_packets=1_000)
    >>> r.summary["packets"], r.summary["invariant_violations"]
    (20000, 0)
    """

    config: "Config"
    summary: dict[str, Any]
    trace: "pd.DataFrame | None" = None
    wall_s: float = field(default=math.nan, compare=False)

    def __getitem__(self, name: str) -> Any:
        """``result["mpps"]`` is ``result.summary["mpps"]``."""
        return self.summary[name]

    def to_series(self) -> "pd.Series":
        """The summary as a pandas Series (for a quick look in a notebook)."""
        import pandas as pd

        return pd.Series(self.summary, name="value")

    def _headline(self) -> tuple[str, str]:
        c = self.config
        return (f"mode={c.mode} policy={c.policy} ({c.pend_placement}, limit {c.pend_limit}, {c.completion})",
                f"workload={c.workload} ({c.arrival}, {c.size_dist}) host={c.host} ring_size={c.ring_size} "
                f"goodcopy_len={c.goodcopy_len} n_packets={c.n_packets:,} seed={c.seed}")

    def _flow_rows(self) -> list[tuple[str, list[Any]]]:
        if self.config.flows is None:
            return []
        return [(spec["name"], [self.summary.get(f"flow_{spec['name']}_{col}", math.nan) for col in FLOW_COLUMNS])
                for spec in self.config.flow_specs()]

    def to_text(self) -> str:
        """The summary as a readable table, by section (what ``zclab simulate`` prints)."""
        first, second = self._headline()
        lines = [f"zclab simulate: {first}", f"  {second}"]
        for title, names in SECTIONS:
            lines.append(f"\n{title}")
            lines += [f"  {name:<26} {format_value(self.summary[name]):>16}" for name in names]
        flows = self._flow_rows()
        if flows:
            lines.append("\nflows")
            lines.append("  " + f"{'name':<12}" + "".join(f"{col:>18}" for col in FLOW_COLUMNS))
            lines += ["  " + f"{name:<12}" + "".join(f"{format_value(v):>18}" for v in values) for name, values in flows]
        lines.append(f"\n({self.summary['events']:,} events in {self.wall_s:.2f} s of wall time)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """The same table in a notebook: one column per section, each field's meaning on hover."""
        from html import escape

        first, second = self._headline()
        cells = []
        for title, names in SECTIONS:
            rows = "".join(
                f'<tr title="{escape(SUMMARY_FIELDS[n])}"><td style="text-align:left">{n}</td>'
                f'<td style="text-align:right">{escape(format_value(self.summary[n]))}</td></tr>' for n in names)
            cells.append(f'<td style="vertical-align:top"><b>{title}</b><table>{rows}</table></td>')
        per_row = 3
        grid = "".join(f"<tr>{''.join(cells[i:i + per_row])}</tr>" for i in range(0, len(cells), per_row))
        flows = ""
        if self._flow_rows():
            head = "".join(f"<th>{col}</th>" for col in ("flow",) + FLOW_COLUMNS)
            body = "".join(f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{escape(format_value(v))}</td>" for v in values)
                           + "</tr>" for name, values in self._flow_rows())
            flows = f"<b>flows</b><table><tr>{head}</tr>{body}</table>"
        return (f"<div><b>zclab Result</b>: {escape(first)}<br>{escape(second)}<table>{grid}</table>{flows}"
                f"<small>{self.summary['events']:,} events in {self.wall_s:.2f} s of wall time</small></div>")

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"Result(mode={self.config.mode!r}, policy={self.config.policy!r}, "
            f"packets={s['packets']}, mpps={s['mpps']:.4g}, throughput_gbps={s['throughput_gbps']:.4g}, "
            f"latency_p99_ns={s['latency_p99_ns']:.4g}, deadlocked={s['deadlocked']})"
        )
