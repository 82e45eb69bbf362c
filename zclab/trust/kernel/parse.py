"""Reading what the driver (driver.c) and the device statistics report.

    >>> d = parse_driver("ZC_RESULT sent=3 used_entries=3 ooo=1\\nZC_USED 1+2,0+1\\nZC_HEAD 0+3\\nZC_PATH z2c1\\nZC_DONE\\n")
    >>> d["used"], d["head"], d["path"], d["result"]["ooo"]
    ([1, 2, 0], [0, 1, 2], 'zzc', 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KernelResult", "DriverOutputError", "parse_driver", "parse_runs", "parse_path", "parse_qdisc", "build_result"]


class DriverOutputError(RuntimeError):
    """The driver's output is missing or malformed."""


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_kv(text: str) -> dict[str, Any]:
    """``"a=1 b=x"`` -> ``{"a": 1, "b": "x"}``."""
    out = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if sep:
            out[key] = _number(value)
    return out


def parse_runs(text: str) -> list[int]:
    """Expand ``"5+3,0+2"`` -> ``[5, 6, 7, 0, 1]`` (runs of consecutive integers).

    >>> parse_runs("5+3,0+2"), parse_runs("")
    ([5, 6, 7, 0, 1], [])
    """
    out: list[int] = []
    for run in filter(None, text.strip().split(",")):
        start, _, count = run.partition("+")
        try:
            s, n = int(start), int(count)
        except ValueError:
            raise DriverOutputError(f"bad run {run!r} in the driver's output") from None
        out.extend(range(s, s + n))
    return out


def parse_path(text: str) -> str:
    """Expand ``"z65c3"`` -> 65 times "z" then 3 times "c".

    >>> parse_path("z2c1")
    'zzc'
    """
    out = []
    for letter, count in re.findall(r"([zc])(\d+)", text):
        out.append(letter * int(count))
    return "".join(out)


def parse_driver(text: str) -> dict[str, Any]:
    """The driver's lines (any others, such as the console's, are skipped)."""
    out: dict[str, Any] = {"result": None, "used": [], "head": [], "path": "", "trace": None, "error": None, "done": False}
    for raw in text.splitlines():
        line = raw.strip("\r\x00 ")
        tag, _, rest = line.partition(" ")
        if tag == "ZC_RESULT":
            out["result"] = parse_kv(rest)
        elif tag == "ZC_USED":
            out["used"] = parse_runs(rest)
        elif tag == "ZC_HEAD":
            out["head"] = parse_runs(rest)
        elif tag == "ZC_PATH":
            out["path"] = parse_path(rest)
        elif tag == "ZC_TRACE":
            out["trace"] = parse_kv(rest)
        elif tag == "ZC_ERROR":
            out["error"] = rest
        elif tag == "ZC_DONE":
            out["done"] = True
    return out


_QDISC = re.compile(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+) requeues (\d+)\)")


def parse_qdisc(text: str) -> dict[str, int] | None:
    """The first qdisc's counters in ``tc -s qdisc show`` output.

    >>> parse_qdisc("qdisc netem 8001: root refcnt 2 limit 1000 delay 2ms\\n Sent 9000 bytes 6 pkt (dropped 2, overlimits 0 requeues 0)")
    {'sent_bytes': 9000, 'sent_packets': 6, 'dropped': 2, 'overlimits': 0, 'requeues': 0}
    """
    m = _QDISC.search(text or "")
    if not m:
        return None
    keys = ("sent_bytes", "sent_packets", "dropped", "overlimits", "requeues")
    return dict(zip(keys, map(int, m.groups())))


USER_HZ = 100  # /proc/stat's unit (jiffies as seen by userspace)


def cpu_busy(before: list[int] | None, after: list[int] | None) -> tuple[float, float] | tuple[None, None]:
    """(busy CPU seconds, fraction of all CPUs busy) between two /proc/stat "cpu" lines.

    >>> cpu_busy([10, 0, 10, 80, 0, 0, 0, 0], [20, 0, 20, 160, 0, 0, 0, 0])
    (0.2, 0.2)
    """
    if not before or not after or len(before) < 4 or len(before) != len(after):
        return None, None
    delta = [a - b for a, b in zip(after[:8], before[:8])]
    total = sum(delta)
    idle = delta[3] + (delta[4] if len(delta) > 4 else 0)
    if total <= 0:
        return 0.0, 0.0
    return (total - idle) / USER_HZ, (total - idle) / total


@dataclass
class KernelResult:
    """One scenario run on the real kernel.

    ``trace``: one row per packet posted, in seq (avail) order: seq (0-based), head, len
    (Ethernet frame bytes), path ("zerocopy", "copy", or None where unknown), used_idx (its
    position in the used ring from 0; -1 if it never came back). ``summary``: see
    docs/kernel.md. ``console``: the tail of the kernel's console.
    """

    config: Any
    scenario: Any
    summary: dict[str, Any]
    trace: Any
    console: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return bool(self.summary.get("completed"))

    def to_text(self) -> str:
        """The summary as aligned ``key  value`` lines."""
        width = max(map(len, self.summary)) if self.summary else 0
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self.summary.items())


def build_result(scn, parsed: dict[str, Any], stats: dict[str, Any], backend: str, emulated: bool,
                 release: str, console: str = "") -> KernelResult:
    """Assemble the trace frame and summary of one scenario from the driver's output
    (:func:`parse_driver`) and the device statistics ``stats`` (lower_tx_packets,
    lower_tx_dropped, qdisc text, rc)."""
    import pandas as pd

    res = parsed.get("result")
    if res is None:
        why = parsed.get("error") or "no ZC_RESULT line"
        raise DriverOutputError(f"the driver reported nothing for scenario [{scn.describe()}]: {why}")
    heads = parsed["head"]
    used = parsed["used"]
    sent = int(res.get("sent", len(heads)))
    if len(heads) != sent:
        raise DriverOutputError(f"the driver listed {len(heads)} heads for {sent} packets sent")
    if len(used) != int(res.get("used_entries", len(used))):
        raise DriverOutputError(f"the driver listed {len(used)} used entries, its count says {res.get('used_entries')}")
    used_idx = [-1] * sent
    for i, s in enumerate(used):
        if not 0 <= s < sent or used_idx[s] != -1:
            raise DriverOutputError(f"used entry {i} names packet {s}, which was not in flight")
        used_idx[s] = i
    path_text = parsed.get("path") or ""
    names = {"z": "zerocopy", "c": "copy"}
    paths: list[str | None] = [names[c] for c in path_text[:sent]] + [None] * max(0, sent - len(path_text))
    trace = pd.DataFrame({
        "seq": range(sent),
        "head": heads,
        "len": [scn.size_of(s) for s in range(sent)],
        "path": pd.Categorical(paths, categories=["copy", "zerocopy"]),
        "used_idx": used_idx,
    })
    tr = parsed.get("trace") or {}
    qdisc = parse_qdisc(stats.get("qdisc", "")) if scn.netem else None
    n_zc = path_text.count("z")

    def count(key):  # calls = recorded hits + misses; -1 from the driver: the probe could not be placed
        v = tr.get(key + "_hits")
        return None if v is None or v < 0 else v + int(tr.get(key + "_missed", 0))

    busy_s, busy_frac = cpu_busy(stats.get("cpu0"), stats.get("cpu1"))
    summary = {
        "backend": backend,
        "emulated": emulated,
        "kernel": release,
        "scenario": scn.describe(),
        "completed": bool(parsed.get("done")) and res.get("watchdog") == 0 and int(res.get("used_entries", -1)) == scn.n_packets,
        "watchdog": bool(res.get("watchdog")),
        "packets": scn.n_packets,
        "sent": sent,
        "used_entries": int(res.get("used_entries", len(used))),
        "inflight_at_end": int(res.get("inflight", 0)),
        "zcopytx": res.get("zcopytx"),
        "vhost_hlen": res.get("vhost_hlen"),
        "path_known": int(tr.get("path_known", 0)),
        "zerocopy_tried": n_zc if tr else None,
        "copied": path_text.count("c") if tr else None,
        "zerocopy_completions": count("cb"),
        # from the recorded events: a missed probe (cb_missed) loses its success flag
        "zerocopy_failed": tr.get("cb_failed") if tr else None,
        "zerocopy_unrecorded": tr.get("cb_missed") if tr else None,
        "late_copies": count("copy"),
        "trace_lost_events": tr.get("lost_events"),
        "lower_tx_packets": stats.get("lower_tx_packets"),
        "lower_tx_dropped": stats.get("lower_tx_dropped"),
        "qdisc_sent": qdisc["sent_packets"] if qdisc else None,
        "qdisc_dropped": qdisc["dropped"] if qdisc else None,
        "ooo_returns": int(res.get("ooo", 0)),
        "max_displacement": int(res.get("max_disp", 0)),
        "time_s": float(res.get("time_s", 0.0)),
        "pps": float(res.get("pps", 0.0)),
        "gbps": float(res.get("pps", 0.0)) * 8 * sum(scn.sizes) / len(scn.sizes) / 1e9,
        "cpu_busy_s": busy_s,  # CPU time of the whole (guest) machine while the driver ran
        "cpu_busy_frac": busy_frac,
        "kicks": res.get("kicks"),
        "waits": res.get("waits"),
    }
    return KernelResult(config=scn.config, scenario=scn, summary=summary, trace=trace, console=console,
                        raw={"driver": parsed, "stats": stats})
