"""Notebook 08: an interactive explorer of the main knobs.

:func:`controls` builds ipywidgets for the knobs of :data:`KNOBS`; every change
re-simulates (``n_packets`` sized so that a run takes well under a second) and
redraws throughput, host CPU per byte and the latency distribution with
:func:`draw`. Without a widget front end (batch runs) :func:`run` and
:func:`draw` do the same once, for fixed knobs.

    >>> from zclab.studies import explorer as ex
    >>> r = ex.run(dict(ex.KNOBS, mode="copy"), host="assumed-2011", n_packets=20_000)   # doctest: +SKIP
    >>> fig = ex.draw(r)                                                                  # doctest: +SKIP
"""

from __future__ import annotations

import time

import numpy as np

import zclab
from zclab.studies import plotting
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC  # the studies run on model version 3's NIC and guest (see __init__)

__all__ = ["KNOBS", "CHOICES", "MIXES", "config", "run", "draw", "controls", "summary_line", "QUESTION"]

QUESTION = ("What do the main knobs (mode, policy, threshold, pending limit, ring size, completion order, "
            "size mix, DMA latency, stragglers) do to throughput, host CPU per byte and the latency distribution?")

#: Size mixes offered: name -> size parameters.
MIXES = {
    "imix": {"size_dist": "imix"},
    "64 B": {"size_dist": "fixed", "size_bytes": 64},
    "1500 B": {"size_dist": "fixed", "size_bytes": 1500},
    "64 KB": {"size_dist": "fixed", "size_bytes": 65536},
    "bimodal 64 B / 64 KB": {"size_dist": "bimodal", "small_bytes": 64, "large_bytes": 65536, "small_fraction": 0.5},
}

#: The knobs and their starting values (DMA latency in µs).
KNOBS = {
    "mode": "zerocopy", "policy": "seed-2011", "goodcopy_len": 256, "max_pend": 128, "ring_size": 256,
    "completion": "in_order", "mix": "imix", "dma_us": 20.0, "straggler_p": 0.0,
}

CHOICES = {
    "mode": ["copy", "zerocopy"],
    "policy": ["seed-2011", "linux-3.14", "linux-4.15"],
    "completion": ["in_order", "out_of_order"],
    "mix": list(MIXES),
    "ring_size": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
}


def config(knobs: dict, host: str, n_packets: int = 50_000, seed: int = 1) -> zclab.Config:
    """The configuration of ``knobs`` (a dict like :data:`KNOBS`) on ``host``, with a trace."""
    k = {**KNOBS, **knobs}
    return zclab.Config(
        **SYNTHETIC_NIC, **SIMPLE_GUEST, host=host, policy=k["policy"], mode=k["mode"], goodcopy_len=int(k["goodcopy_len"]),
        max_pend=int(k["max_pend"]), ring_size=int(k["ring_size"]), completion=k["completion"],
        dma_base_ns=float(k["dma_us"]) * 1e3, straggler_p=float(k["straggler_p"]), **MIXES[k["mix"]],
        n_packets=n_packets, warmup_packets=max(1_000, n_packets // 10), seed=seed,
        trace_packets=min(n_packets, 20_000))


def run(knobs: dict, host: str, n_packets: int = 50_000, seed: int = 1) -> zclab.Result:
    """Simulate ``knobs`` once."""
    return zclab.simulate(config(knobs, host, n_packets, seed))


def summary_line(r: zclab.Result) -> str:
    """One line of the run's main numbers."""
    s = r.summary
    text = (f"{s['throughput_gbps']:.2f} Gbit/s, {s['mpps']:.3f} Mpps, {s['host_cycles_per_byte']:.2f} host cycles/byte, "
            f"p50 {s['latency_p50_ns'] / 1e3:.1f} µs, p99 {s['latency_p99_ns'] / 1e3:.1f} µs, "
            f"zero-copy {100 * s['zerocopy_fraction']:.0f}%, stalled {100 * s['stall_time_fraction']:.0f}%")
    if s["deadlocked"]:
        text += f"; DEADLOCKED after {s['packets']:,} packets"
    return text


def draw(r: zclab.Result, previous: zclab.Result | None = None, fig=None):
    """Three panels: throughput, host CPU per byte (the run, and the previous one if
    given, in grey), and the latency distribution (complementary CDF of the traced
    packets' post-to-return latency)."""
    import matplotlib.pyplot as plt

    runs = [("now", r)] + ([("before", previous)] if previous is not None else [])
    with plotting.style():
        if fig is None:
            fig, axes = plotting.figure("double", ncols=3)
        else:
            fig.clear()
            axes = fig.subplots(1, 3)
        ax_t, ax_c, ax_l = axes
        colors = {"now": "C0", "before": "0.6"}
        for i, (name, res) in enumerate(runs):
            s = res.summary
            ax_t.bar(i, s["throughput_gbps"], color=colors[name])
            ax_c.bar(i, s["host_cycles_per_byte"], color=colors[name])
            tr = res.trace
            if tr is not None and len(tr):
                lat = (tr["t_used"] - tr["t_post"]).dropna().to_numpy() / 1e3
                if len(lat):
                    lat = np.sort(lat)
                    ccdf = 1.0 - np.arange(len(lat)) / len(lat)
                    ax_l.step(lat, ccdf, where="post", color=colors[name], label=name)
        names = [n for n, _ in runs]
        for ax, lab in [(ax_t, "throughput (Gbit/s)"), (ax_c, "host CPU (cycles/byte)")]:
            ax.set_xticks(range(len(names)), names)
            ax.set_ylabel(lab)
        ax_l.set_xscale("log")
        ax_l.set_yscale("log")
        ax_l.set_xlabel("latency, post to return (µs)")
        ax_l.set_ylabel("fraction of packets above")
        if previous is not None and ax_l.get_legend_handles_labels()[0]:
            ax_l.legend(fontsize=6.5)
        cfg = r.config
        fig.suptitle(f"{cfg.mode}, {cfg.policy}, {cfg.completion}, ring {cfg.ring_size}, max_pend {cfg.max_pend}, "
                     f"goodcopy {cfg.goodcopy_len}", fontsize=7.5)
    plt.close(fig)
    return fig


def controls(host: str, n_packets: int = 50_000, seed: int = 1, knobs: dict | None = None):
    """The interactive explorer: widgets that re-simulate and redraw on every change."""
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    k0 = {**KNOBS, **(knobs or {})}
    style = {"description_width": "110px"}
    ws = {
        "mode": w.ToggleButtons(options=CHOICES["mode"], value=k0["mode"], description="mode"),
        "policy": w.Dropdown(options=CHOICES["policy"], value=k0["policy"], description="policy", style=style),
        "completion": w.ToggleButtons(options=CHOICES["completion"], value=k0["completion"], description="completion"),
        "mix": w.Dropdown(options=CHOICES["mix"], value=k0["mix"], description="size mix", style=style),
        "goodcopy_len": w.SelectionSlider(options=[0, 64, 128, 256, 512, 1024, 1500, 2048, 4096, 8192, 16384, 65536],
                                          value=k0["goodcopy_len"], description="goodcopy_len", style=style),
        "max_pend": w.SelectionSlider(options=[4, 8, 16, 32, 64, 128, 256, 512, 1024], value=k0["max_pend"],
                                      description="max_pend", style=style),
        "ring_size": w.SelectionSlider(options=CHOICES["ring_size"], value=k0["ring_size"], description="ring_size",
                                       style=style),
        "dma_us": w.FloatLogSlider(value=k0["dma_us"], base=10, min=0, max=3, step=0.1, description="DMA latency µs",
                                   style=style),
        "straggler_p": w.FloatLogSlider(value=max(k0["straggler_p"], 1e-5), base=10, min=-5, max=-1, step=0.25,
                                        description="stragglers p", style=style),
        "stragglers_on": w.Checkbox(value=k0["straggler_p"] > 0, description="stragglers (1 ms)"),
    }
    out = w.Output()
    status = w.HTML()
    state = {"previous": None, "fig": None}

    def update(_=None):
        knobs = {k: v.value for k, v in ws.items() if k != "stragglers_on"}
        if not ws["stragglers_on"].value:
            knobs["straggler_p"] = 0.0
        t0 = time.perf_counter()
        try:
            r = run(knobs, host, n_packets, seed)
        except zclab.ConfigError as exc:
            status.value = f"<b>not allowed:</b> {exc}"
            return
        fig = draw(r, state["previous"], state["fig"])
        state["previous"], state["fig"] = r, fig
        with out:
            out.clear_output(wait=True)
            display(fig)
        status.value = f"{summary_line(r)} <i>({time.perf_counter() - t0:.2f} s)</i>"
        plt.close(fig)

    for v in ws.values():
        v.observe(update, names="value")
    left = w.VBox([ws[k] for k in ("mode", "policy", "completion", "mix", "stragglers_on")])
    right = w.VBox([ws[k] for k in ("goodcopy_len", "max_pend", "ring_size", "dma_us", "straggler_p")])
    update()
    return w.VBox([w.HBox([left, right]), status, out])
