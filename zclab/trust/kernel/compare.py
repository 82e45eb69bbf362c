"""The model beside the real kernel, packet by packet.

A scenario is a :class:`~zclab.Config` the harness can run (``zclab.trust.kernel.scenario``).
:func:`model_config` turns it into the run of the ``linux-6.1`` preset that predicts
it: the same ring, sizes, mode, destination and netem; the lower device a ``dummy``
(``lower_dev="dummy"``: it frees each skb as it sends it, inside sendmsg unless netem
holds it); no warm-up, every packet traced. :func:`side_by_side` lines the two
traces up and :func:`agreement` says, in one row, where they agree and where they
differ::

    >>> from zclab import Config
    >>> cfg = model_config(Config(size_dist="fixed", size_bytes=1500, n_packets=500))
    >>> cfg.policy, cfg.lower_dev, cfg.trace_packets
    ('linux-6.1', 'dummy', 500)

What timing does not decide must agree exactly: which packets go zero-copy while
nothing holds skbs (the size test, the heuristic of vhost_net_tx_select_zcopy), and
the order of the used ring. With netem holding skbs, which packets are copied after
the first completions, and so how far returns overtake, depends on the speed of the
worker against the delay: there the first ``limit + 1`` paths and the first returns
are compared (they agree while the worker sends more than the limit in the delay, which
an emulated worker on a busy host may not), and the rest as counts (:func:`timing_decides`).
"""

from __future__ import annotations

from typing import Any, Sequence

from ...model.config import Config

__all__ = ["DUMMY_WIRE", "MATRIX", "model_config", "side_by_side", "agreement", "returns_out_of_order",
           "timing_decides", "matrix_configs", "fit_rate", "compare", "save_kernel_runs", "load_kernel_runs"]

#: macvtap on a ``dummy`` device: the skb is freed when it is transmitted, so its
#: zero-copy callback fires at once (a netem qdisc, if any, holds it first)
#: The harness's guest (driver.c): it posts while any descriptor is free and polls the
#: used ring, with VRING_AVAIL_F_NO_INTERRUPT while it has work (no virtio-net queue stop);
#: one descriptor per packet, no sockets, no TX interrupts to poll in.
DRIVER_GUEST = {"guest_stop_free": 1, "guest_cb_delayed": False, "guest_napi_tx": False, "guest_indirect_desc": True,
                "guest_sndbuf_bytes": 0, "guest_tsq_bytes": 0}
DUMMY_WIRE = dict(lower_dev="dummy", straggler_p=0.0)

#: The ground-truth matrix: (name, Config fields). Sizes on both sides of the
#: threshold (a 244-byte frame is 256 bytes with the virtio-net header), rings 128 to
#: 1024, skbs held by netem or not, alternating sizes, local delivery, zero-copy off.
MATRIX: tuple[tuple[str, dict], ...] = (
    ("64 B", dict(size_dist="fixed", size_bytes=64)),
    ("243 B (255 with header)", dict(size_dist="fixed", size_bytes=243)),
    ("244 B (256 with header)", dict(size_dist="fixed", size_bytes=244)),
    ("1500 B", dict(size_dist="fixed", size_bytes=1500)),
    ("1500 B, zero-copy off", dict(size_dist="fixed", size_bytes=1500, mode="copy")),
    ("1500 / 64 B in turn", dict(size_dist="cycle", size_table="1500,64")),
    ("1500 B, netem 2 ms, ring 128", dict(size_dist="fixed", size_bytes=1500, ring_size=128, egress_delay_ns=2e6)),
    ("1500 B, netem 2 ms, ring 256", dict(size_dist="fixed", size_bytes=1500, ring_size=256, egress_delay_ns=2e6)),
    ("1500 B, netem 2 ms, ring 1024", dict(size_dist="fixed", size_bytes=1500, ring_size=1024, egress_delay_ns=2e6)),
    ("1500 / 64 B in turn, netem 2 ms", dict(size_dist="cycle", size_table="1500,64", egress_delay_ns=2e6)),
    ("1500 B to a local socket", dict(size_dist="fixed", size_bytes=1500, dest="local")),
    ("1500 B to a local socket, zero-copy off", dict(size_dist="fixed", size_bytes=1500, dest="local", mode="copy")),
)


def matrix_configs(n_packets: int = 2_000, names: Sequence[str] | None = None) -> list[tuple[str, Config]]:
    """The scenarios of :data:`MATRIX` (or those named) as Configs of ``n_packets`` each.
    netem's queue holds every packet (limit 100000, as the kernel runs it)."""
    out = []
    for name, fields in MATRIX:
        if names is not None and name not in names:
            continue
        extra = {"egress_queue": 100_000} if fields.get("egress_delay_ns") else {}
        out.append((name, Config(n_packets=n_packets, warmup_packets=0, **fields, **extra)))
    return out


def model_config(cfg: Config, **costs: Any) -> Config:
    """The ``linux-6.1`` run that predicts the kernel scenario ``cfg``: same workload,
    lower device a dummy, every packet traced; ``costs`` override host costs (a fit
    to the machine the kernel ran on)."""
    # the scenario's mode is the module parameter the kernel ran with (the preset's own
    # default, experimental_zcopytx = 0, would otherwise replace it)
    # the guest is zclab/trust/kernel/driver.c, which posts while any descriptor is free and
    # polls the used ring (DRIVER_GUEST), not virtio-net
    return cfg.replace(policy="linux-6.1", mode=cfg.mode, **DRIVER_GUEST, warmup_packets=0, trace_packets=cfg.n_packets, **DUMMY_WIRE, **costs)


def timing_decides(cfg: Config) -> bool:
    """Does timing decide some of the scenario's paths and return order? Only while
    something holds skbs (netem here): the pending count then depends on how fast the
    worker goes against the delay."""
    return cfg.egress_delay_ns > 0 or cfg.egress_rate_pps > 0 or cfg.egress_rate_mbps > 0


def side_by_side(kernel_trace, model_trace):
    """One row per packet: its length, the path each took and its place in each used ring.

    ``path_kernel`` is None where the harness could not tell; ``used_idx_*`` is -1 for
    a packet not returned when its run ended."""
    import pandas as pd

    k = kernel_trace.set_index("seq")
    m = model_trace.set_index("seq")
    n = min(len(k), len(m))
    df = pd.DataFrame({
        "len": k["len"].iloc[:n].to_numpy(),
        "len_model": m["len"].iloc[:n].to_numpy(),
        "path_kernel": k["path"].astype(object).iloc[:n].to_numpy(),
        # the model's copy_fallback is the kernel's copy (vhost_exceeds_maxpend)
        "path_model": m["path"].astype(str).replace({"copy_fallback": "copy"}).iloc[:n].to_numpy(),
        "used_idx_kernel": k["used_idx"].iloc[:n].to_numpy(),
        "used_idx_model": m["used_idx"].iloc[:n].to_numpy(),
    }, index=pd.RangeIndex(n, name="seq"))
    return df


def returns_out_of_order(trace) -> tuple[int, int]:
    """Returns whose packet was posted before one returned earlier, and the largest
    such displacement (the driver's ``ooo`` and ``max_disp``)."""
    done = trace[trace["used_idx"] >= 0].sort_values("used_idx")["seq"].to_numpy()
    ooo = disp = 0
    top = -1
    for s in done:
        if s < top:
            ooo += 1
            disp = max(disp, int(top - s))
        else:
            top = int(s)
    return ooo, disp


def agreement(name: str, cfg: Config, kernel, model, first: int = 10) -> dict[str, Any]:
    """One row: what the kernel did, what the model predicted, and whether they agree.

    ``kernel`` is a :class:`~zclab.trust.kernel.KernelResult`, ``model`` a
    :class:`~zclab.Result` of :func:`model_config`. Where timing decides
    (:func:`timing_decides`), ``paths_agree`` covers the packets up to the first copy
    made over the pending limit and ``order_agrees`` the first ``first`` returns."""
    df = side_by_side(kernel.trace, model.trace)
    known = df["path_kernel"].notna()
    held = timing_decides(cfg)
    limit = cfg.replace(policy="linux-6.1").pend_limit
    span = df.index < (limit + 2 if held else len(df))
    path_diff = (df["path_kernel"] != df["path_model"]) & known & span
    k_order = df[df["used_idx_kernel"] >= 0].sort_values("used_idx_kernel").index.to_list()
    m_order = df[df["used_idx_model"] >= 0].sort_values("used_idx_model").index.to_list()
    n_order = first if held else min(len(k_order), len(m_order))
    k_ooo, k_disp = returns_out_of_order(kernel.trace)
    m_ooo, m_disp = returns_out_of_order(model.trace)
    ks = kernel.summary
    return {
        "scenario": name,
        "timing_decides": held,
        "packets": len(df),
        "zerocopy_kernel": int((df["path_kernel"] == "zerocopy").sum()),
        "zerocopy_model": int((df["path_model"] == "zerocopy").sum()),
        "paths_known": int(known.sum()),
        "paths_compared": int((known & span).sum()),
        "paths_differ": int(path_diff.sum()),
        "first_path_difference": int(df.index[path_diff][0]) if path_diff.any() else None,
        "paths_agree": not path_diff.any(),
        "first_returns_kernel": k_order[:first],
        "first_returns_model": m_order[:first],
        "order_agrees": k_order[:n_order] == m_order[:n_order],
        "ooo_kernel": k_ooo,
        "ooo_model": m_ooo,
        "max_displacement_kernel": k_disp,
        "max_displacement_model": m_disp,
        "late_copies_kernel": ks.get("late_copies"),
        "pps_kernel": ks.get("pps"),
        "emulated": ks.get("emulated"),
    }


def fit_rate(kernel, cfg: Config) -> dict[str, float]:
    """Costs that make the model send at the kernel's measured rate: one parameter,
    ``per_packet_ns`` = 1 / packets per second, the zero-copy extras and the guest's
    costs set to 0 (so the worker is the bottleneck, as the driver's loop is cheap).
    Fitted to a run where nothing holds skbs; under emulation the rate means nothing
    about a real host, only about the machine the kernel ran on."""
    pps = float(kernel.summary["pps"])
    if not pps > 0:
        raise ValueError(f"the kernel run of {cfg.size_bytes} B reports no rate (pps={pps!r})")
    return {"per_packet_ns": 1e9 / pps, "zc_setup_ns": 0.0, "pin_ns_per_page": 0.0, "copy_ns_per_byte": 0.0,
            "guest_xmit_ns": 0.0, "kick_ns": 0.0, "wake_latency_ns": 0.0, "irq_latency_ns": 0.0, "signal_ns": 0.0}


def compare(names: Sequence[str], configs: Sequence[Config], kernel_results: Sequence, costs: dict | None = None):
    """The agreement table of a matrix: one row per scenario (:func:`agreement`),
    the model run with ``costs`` (None: the host preset's)."""
    import pandas as pd

    from ...model.simulation import simulate

    rows = []
    for name, cfg, k in zip(names, configs, kernel_results):
        m = simulate(model_config(cfg, **(costs or {})))
        rows.append(agreement(name, cfg, k, m))
    return pd.DataFrame(rows)


def save_kernel_runs(names: Sequence[str], configs: Sequence[Config], results: Sequence, directory) -> None:
    """Keep what the kernel did (trace and summary per scenario) in ``directory``/kernel_runs.json
    and one parquet file per trace, so that the comparison can be redone without a kernel."""
    import json
    from pathlib import Path

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    index = []
    for i, (name, cfg, r) in enumerate(zip(names, configs, results)):
        trace_file = f"kernel_trace_{i:02d}.parquet"
        t = r.trace.copy()
        t["path"] = t["path"].astype(object)
        tmp = d / (trace_file + ".tmp")
        t.to_parquet(tmp, index=False)
        tmp.replace(d / trace_file)
        summary = {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in r.summary.items()}
        index.append({"name": name, "config": cfg.to_dict(), "summary": summary, "trace": trace_file})
    tmp = d / "kernel_runs.json.tmp"
    tmp.write_text(json.dumps(index, indent=1) + "\n")
    tmp.replace(d / "kernel_runs.json")


class _Recorded:
    """A kernel run read back from disk: ``trace`` and ``summary`` as a live run has them."""

    def __init__(self, trace, summary):
        self.trace, self.summary = trace, summary


def load_kernel_runs(directory):
    """What :func:`save_kernel_runs` kept: (names, configs, results)."""
    import json
    from pathlib import Path

    import pandas as pd

    d = Path(directory)
    index = json.loads((d / "kernel_runs.json").read_text())
    names, configs, results = [], [], []
    for rec in index:
        t = pd.read_parquet(d / rec["trace"])
        t["path"] = pd.Categorical(t["path"], categories=["copy", "zerocopy"])
        names.append(rec["name"])
        configs.append(Config.from_dict(rec["config"]))
        results.append(_Recorded(t, rec["summary"]))
    return names, configs, results
