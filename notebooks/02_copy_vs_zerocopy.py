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
# # Copy or zero-copy: when does zero-copy transmit pay?
#
# The 2011 patch lets vhost hand a guest's pages to the NIC instead of copying them. Copying
# costs the vhost worker `copy_ns_per_byte` per byte; zero-copy costs `zc_setup_ns` plus
# `pin_ns_per_page` per 4 KB page on the worker and `callback_ns` when the DMA completes, and
# the buffer returns to the guest only after that completion. To a local destination (guest
# to host) the host cannot hand guest pages to a receiver, so it copies them anyway at
# delivery. **Against the message size (64 B to 64 KB), to an external and to a local
# destination, on a 2011 host and a modern one: where does zero-copy start to cost less host
# CPU per byte than copy, what does it do to throughput and latency, and how does the
# crossover move with the memcpy bandwidth (`copy_ns_per_byte`) and the pin cost
# (`pin_ns_per_page`)?**
#
# The zero-copy curves are the mechanism itself: `goodcopy_len = 0`, every packet pinned
# (notebook 03 studies the threshold). Both modes run under `policy` (`linux-3.14` by
# default, with zero-copy on as experimental_zcopytx then was), where every packet of the
# zero-copy mode really takes the zero-copy path: its pending test never holds on a
# 256-entry ring (the seed's would make the worker spin in tx_poll_start, and v4.15's would
# copy). The logic lives in `zclab.studies.copy_vs_zerocopy`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frames are written (relative to notebooks/)
figures_dir = "../figures"  # where the figures are written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bars while the sweeps run
seed = 1  # base seed of every sweep
host = "calibrated-2011"  # the 2011 host preset
modern_host = "modern-host"  # the host preset of today
policy = "linux-3.14"  # the release whose zero-copy bookkeeping both modes use

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import copy_vs_zerocopy as cz

hosts = list(dict.fromkeys([host, modern_host]))
figures = []


def show(fig, name):
    """Save the figure (PNG, SVG, PDF), show it from the PNG, and list it for the findings."""
    figures.append(plotting.show(fig, name, figures_dir)[0])


# %% [markdown]
# ## Host CPU per byte, throughput and latency against message size
#
# Fixed-size messages from a bulk sender, every size in both modes, to the wire and to a
# local socket, on both hosts. Host CPU counts the vhost worker, the completion callbacks,
# the stack outside vhost and the local delivery.

# %%
sizes = cz.size_sweep(hosts, quick=quick, policy=policy, seed=seed, store=store, progress=progress)
cross = cz.crossovers(sizes)
save_frame(sizes, "copy_vs_zerocopy_sizes", data_dir)
cross

# %%
show(cz.figure_sizes(sizes, cross), "copy_vs_zerocopy_sizes")

# %% [markdown]
# Top row: host CPU per byte falls with the size in both modes (the per-packet costs are
# spread over more bytes); to the wire the zero-copy line (blue) crosses below copy's
# (orange) at the crossover (the grey vertical line, one per host), to a local socket it
# never does, because a local receiver makes the host copy the pinned pages anyway. Middle
# row: throughput; to the wire both modes hit the line rate for large messages, so
# zero-copy's gain there is CPU, not bandwidth. Bottom row: p99 latency from post to return;
# a zero-copy buffer returns only after its DMA completion, copy's at once. The crossover
# table above gives the simulated crossover and that of the send-path costs alone.

# %% [markdown]
# ## The workload presets, as shipped
#
# Zero-copy with the kernel's threshold (packets of 256 bytes or less copied), against copy,
# for each workload preset: the ratio of host CPU per byte and of throughput.

# %%
workloads = cz.workload_sweep(hosts, quick=quick, policy=policy, seed=seed, store=store, progress=progress)
save_frame(workloads, "copy_vs_zerocopy_workloads", data_dir)
cz.ratios(workloads, "host_cycles_per_byte", by=("host", "dest", "workload")).pivot(
    index="workload", columns=["host", "dest"], values="ratio").round(3)

# %%
show(cz.figure_workloads(workloads), "copy_vs_zerocopy_workloads")

# %% [markdown]
# A bar below 1 on the left is a workload on which zero-copy saves host CPU. Small-packet
# workloads are copied either way (ratio 1); IMIX pays for pinning its 576 and 1500-byte
# packets; only the 64 KB streams save. On the right, throughput barely moves to the wire.

# %% [markdown]
# ## How the crossover moves with the copy and pin costs
#
# The same size sweep to the wire with the copy cost and the pin cost set to multiples of
# each host's own (one at a time in a quick run, every pair in a full one).

# %%
cost = cz.cost_sweep(hosts, quick=quick, policy=policy, seed=seed, store=store, progress=progress)
cost_cross = cz.crossovers(cost, by=("host", "copy_factor", "pin_factor"))
save_frame(cost_cross, "copy_vs_zerocopy_crossover", data_dir)
cost_cross

# %%
show(cz.figure_crossover(cost_cross), "copy_vs_zerocopy_crossover")

# %% [markdown]
# A cheaper copy (faster memcpy, left of 1 on the blue markers) pushes the crossover up:
# copying more bytes costs what one pin costs. A costlier pin (orange, right of 1) pushes it
# up too, and once pinning a page costs more than copying 4096 bytes zero-copy never
# catches up (▲). The lines are the send-path costs alone; the simulation sits below them
# because the copy path returns buffers one at a time, which costs more guest interrupts
# and used-ring updates than zero-copy's batched returns.

# %% [markdown]
# ## The answer

# %%
template, numbers = cz.answer(sizes, cross, cost_cross, workloads)
print(template.format(**numbers))

# %%
findings.record("02_copy_vs_zerocopy", cz.QUESTION, template, figures=figures, numbers=numbers,
                data_dir=data_dir, quick=quick)
