"""``zclab kernel measure``: packet rate against size and mode on a backend, as a table.

    >>> df = measure(sizes=(64, 1500), modes=("copy", "zerocopy"), n_packets=2000)   # doctest: +SKIP
    >>> list(df.columns)[:6]                                                           # doctest: +SKIP
    ['backend', 'emulated', 'kernel', 'mode', 'size', 'packets']

One run per (mode, size), all in one boot on qemu. Rates under emulation mean nothing
(docs/kernel.md): the table is for the host backend, and for testing the plumbing.
"""

from __future__ import annotations

from typing import Sequence

from ...model.config import Config

__all__ = ["measure", "DEFAULT_SIZES", "COLUMNS"]

#: Frame sizes of a sweep: both sides of VHOST_GOODCOPY_LEN, and GSO frames of several pages.
DEFAULT_SIZES = (64, 128, 256, 512, 1024, 1500, 4000, 9000, 16000, 32000, 65000)
COLUMNS = ("backend", "emulated", "kernel", "mode", "size", "packets", "time_s", "pps", "gbps",
           "ns_per_packet", "cpu_busy_s", "cpu_ns_per_packet", "zerocopy_tried", "copied")


def measure(sizes: Sequence[int] = DEFAULT_SIZES, modes: Sequence[str] = ("copy", "zerocopy"),
            n_packets: int = 20_000, backend: str = "qemu", base: Config | None = None,
            timeout: float | None = None, cache_dir=None):
    """Run every (mode, size) and return one row each (columns: COLUMNS)."""
    import pandas as pd

    from . import run

    base = base or Config(size_dist="fixed")
    cfgs = [base.replace(size_dist="fixed", size_bytes=int(s), mode=m, n_packets=n_packets)
            for m in modes for s in sizes]
    results = run(cfgs, backend=backend, timeout=timeout, cache_dir=cache_dir)
    rows = []
    for cfg, r in zip(cfgs, results):
        s = r.summary
        n = s["used_entries"]
        rows.append({
            "backend": s["backend"], "emulated": s["emulated"], "kernel": s["kernel"],
            "mode": cfg.mode, "size": cfg.size_bytes, "packets": n, "time_s": s["time_s"],
            "pps": s["pps"], "gbps": s["gbps"],
            "ns_per_packet": 1e9 * s["time_s"] / n if n else float("nan"),
            "cpu_busy_s": s["cpu_busy_s"],
            "cpu_ns_per_packet": 1e9 * s["cpu_busy_s"] / n if n and s["cpu_busy_s"] is not None else float("nan"),
            "zerocopy_tried": s["zerocopy_tried"], "copied": s["copied"],
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))
