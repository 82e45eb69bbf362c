# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (zclab)
#     language: python
#     name: zclab
# ---

# %% [markdown]
# # Kernel history: why did mainline make zero-copy opt-in?
#
# Zero-copy transmit went into `drivers/vhost/net.c` in 2011 and changed three times:
#
# * **`seed-2011`**, the patch as posted: the pending limit (`VHOST_MAX_PEND`, 128) acts
#   only when the avail ring is empty, where the worker spins in tx_poll_start, and copied
#   packets queue behind pending ones;
# * **`linux-3.14`** (v3.14 to v4.14): at the top of each iteration the worker stops when
#   `(upend_idx + num - 128) % 1024 == done_idx`, which holds at one pending count only
#   (never on a 256-entry ring; with nothing pending on a 128-entry one), and a completion
#   restarts it on `cnt <= 1 || !(cnt % 16)`;
# * **`linux-4.15`** (v4.15, "vhost_net: do not stall on zerocopy depletion"): it
#   never stops, and copies a packet that finds too many outstanding;
# * **copy only**: in v5.3 (2019, "vhost_net: disable zerocopy by default") zero-copy
#   became opt-in, citing head-of-line blocking and a copy path that had become faster.
#
# The question: **side by side on every workload preset, with well-behaved and with
# straggling DMA completions, what does each zero-copy path buy against copying
# everything, and what does it cost?** The logic lives in `zclab.studies.history`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frames are written (relative to notebooks/)
figures_dir = "../figures"  # where the figures are written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bars while the sweeps run
seed = 1  # base seed of the sweep
host = "calibrated-2011"  # host preset: CPU costs and latencies

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import history

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)


def show(fig, name):
    """Save the figure (PNG, SVG, PDF) and show it once, from the PNG just written."""
    return plotting.show(fig, name, figures_dir)


n_packets, replications = history.sizes(quick)
print(f"host {host}, {n_packets:,} packets per run, {replications} replications per point")

# %% [markdown]
# ## The sweep
#
# Four paths × five workloads × two completion conditions (none, or 1 DMA completion in
# 1,000 held 1 ms) × two ring sizes: 256 (QEMU's default) and 128 (equal to
# `VHOST_MAX_PEND`, where the 2011 limit can never fire). `deadlocked` is the share of
# replications that deadlocked.

# %%
agg = history.sweep_history(host, quick=quick, seed=seed, store=store, progress=progress)
save_frame(agg, "kernel_history", data_dir)
agg[["path", "workload", "condition", "ring_size", "throughput_gbps", "latency_p99_ns", "host_cycles_per_byte",
     "zerocopy_fraction", "stall_time_fraction", "deadlocked", "n"]]

# %%
rel = history.relative_to_copy(agg)
paths = show(history.figure_history(rel), "kernel_history")

# %% [markdown]
# How to read it: every bar is a zero-copy path divided by copying everything on the same
# workload, conditions and ring, so 1 (the black line) is "as good as copying"; above 1 is
# more throughput (top), more p99 latency (middle, log scale) or more host CPU per byte
# (bottom). A cross marks a deadlock: the run stopped with work left and nothing to wake it.
#
# * The **bottom row** is what zero-copy is for: on 64 KB frames (`tcp_stream_64k`,
#   `bimodal_64k`) it saves host CPU per byte (how much depends on the host: the copy's cost
#   per byte against pinning's cost per page). On IMIX, where most packets are 576 or 1,500
#   bytes, pinning costs more than copying, and for 64-byte packets every path copies
#   (below `VHOST_GOODCOPY_LEN`), so the bars vanish.
# * The **middle row** is what it costs: a zero-copy buffer goes back to the guest only
#   after its DMA completion, so IMIX tail latency is tens of times that of copying, and
#   with stragglers hundreds of times: in-order release lets one slow completion hold the
#   ring (notebook 05).
# * The **right column** is the 2011 patch's trap: with a ring no larger than
#   `VHOST_MAX_PEND` its limit never fires, the guest runs out of descriptors and nothing
#   wakes the worker; the mainline paths never deadlock.
# * The v4.15 fallback trades the stall for copies: where the wire is the bottleneck almost
#   every packet is over the limit and copied, and the few that still go zero-copy wait
#   behind the whole device queue.
#
# The numbers, from the frame:

# %%
display(history.deadlocks(agg))
text, numbers = history.answer(agg)
display(Markdown(text.format(**numbers)))

# %%
finding = findings.record(
    "06_kernel_history",
    "Side by side, what did each of the kernel's zero-copy policies buy against copying, and why did mainline "
    "make zero-copy opt-in?",
    text,
    figures=paths,
    numbers=numbers,
    command="zclab notebooks run 06_kernel_history",
    data_dir=data_dir,
    quick=quick,
)
