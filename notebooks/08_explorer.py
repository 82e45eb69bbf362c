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
# # Explorer: turn the knobs
#
# **What do the main knobs do to throughput, host CPU per byte and the latency
# distribution?** Change the transmit mode, the policy preset, the copy threshold
# (`goodcopy_len`), the pending limit (`max_pend`), the ring size, the completion order, the
# size mix, the DMA completion latency and stragglers (completions held 1 ms); every change
# re-simulates `n_packets` packets (well under a second) and redraws the three panels, with
# the previous setting in grey for comparison. The status line gives the run's numbers,
# and says when a setting deadlocks (the seed's policy with `ring_size <= max_pend`).
#
# Open it in JupyterLab for the controls. In a batch run (`zclab study`, papermill) there
# is no widget front end: `interactive` is then off (or pass `interactive=False`) and the notebook runs the fixed knobs of
# the parameters cell once and saves the figure. The logic lives in `zclab.studies.explorer`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frame is written (relative to notebooks/)
figures_dir = "../figures"  # where the figure is written
store = "../data/store"  # not used: the explorer runs single configurations
progress = True  # not used
seed = 1  # seed of every run
host = "calibrated-2011"  # the host preset
interactive = True  # the widgets; always off in batch runs, where the runner sets the Agg backend
knobs = {"mode": "zerocopy", "policy": "seed-2011", "mix": "bimodal 64 B / 64 KB", "straggler_p": 0.001}  # the fixed run

# %%
import os

import pandas as pd
from IPython.display import Image, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import explorer as ex

n_packets = 20_000 if quick else 50_000  # per run: well under a second
if os.environ.get("MPLBACKEND", "").lower() == "agg":  # a batch run: no widget front end
    interactive = False

# %%
if interactive:
    display(ex.controls(host, n_packets=n_packets, seed=seed, knobs=knobs))

# %% [markdown]
# ## The fixed run (what a batch run saves)
#
# The knobs of the parameters cell, zero-copy against copy (in grey).

# %%
now = ex.run(knobs, host, n_packets, seed)
before = ex.run({**knobs, "mode": "copy"}, host, n_packets, seed)
fig = ex.draw(now, before)
paths = plotting.savefig(fig, "explorer", figures_dir)
frame = pd.DataFrame([{"run": "zerocopy", **now.summary}, {"run": "copy", **before.summary}])
save_frame(frame, "explorer", data_dir)
print("zero-copy:", ex.summary_line(now))
print("copy:     ", ex.summary_line(before))
Image(filename=str(paths[0]))

# %% [markdown]
# Left, throughput; middle, host CPU per byte; right, the fraction of packets whose
# latency from post to return exceeds the value on the x axis (log-log: the tail is the
# lower right). The answer below gives the ratios for the fixed knobs.

# %%
s, c = now.summary, before.summary
numbers = {"mix": knobs.get("mix", ex.KNOBS["mix"]), "policy": now.config.policy, "sp": now.config.straggler_p,
           "t_z": s["throughput_gbps"], "t_c": c["throughput_gbps"], "cpb_z": s["host_cycles_per_byte"],
           "cpb_c": c["host_cycles_per_byte"], "p99_z": s["latency_p99_ns"] / 1e3, "p99_c": c["latency_p99_ns"] / 1e3}
template = ("For the {mix} mix under {policy} with stragglers at {sp:g}: zero-copy sends {t_z:.2f} Gbit/s at "
            "{cpb_z:.2f} host cycles per byte with a p99 latency of {p99_z:.0f} µs; copy sends {t_c:.2f} Gbit/s at "
            "{cpb_c:.2f} cycles per byte, p99 {p99_c:.0f} µs.")
print(template.format(**numbers))
findings.record("08_explorer", ex.QUESTION, template, figures=paths, numbers=numbers, data_dir=data_dir,
                quick=quick)
