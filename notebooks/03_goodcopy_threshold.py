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
# # The copy threshold: is VHOST_GOODCOPY_LEN = 256 right?
#
# In zero-copy mode the 2011 patch still copies every packet of `VHOST_GOODCOPY_LEN` (256)
# bytes or less: pinning a small buffer costs more than copying it. The kernel has kept 256
# ever since. **For realistic size mixes, which threshold costs the least host CPU per byte,
# is 256 a good choice, and what should the threshold be on a host of today?**
#
# The sweep runs the threshold from 0 (pin every packet) to 64 KB (copy every packet) over
# three size mixes: the simple IMIX (64, 576 and 1500 bytes at 7:4:1), a bimodal mix of
# 64-byte and 64 KB packets, and an empirical table (`size_table`: by default an
# illustrative guest TX mix of ACKs, MTU frames and GSO frames; put a measured one here).
# Four cost settings: the 2011 host, the modern host, and the modern host with a pin three
# times as costly (an IOMMU mapping per page) and with a copy three times as costly
# (cache-cold). All run under `policy` (by default `linux-3.14`, where every packet above
# the threshold takes the zero-copy path, so that the threshold alone decides). The logic
# lives in `zclab.studies.goodcopy`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frames are written (relative to notebooks/)
figures_dir = "../figures"  # where the figures are written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bars while the sweeps run
seed = 1  # base seed of every sweep
host = "calibrated-2011"  # the 2011 host preset
modern_host = "modern-host"  # the host preset of today
policy = "linux-3.14"  # the zero-copy bookkeeping
size_table = None  # the empirical mix ("size:weight,..." or a CSV file); None: the module's default

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import goodcopy as gc

pd.set_option("display.width", 200)
settings = gc.cost_settings(host, modern_host)
pd.DataFrame(settings)

# %% [markdown]
# ## The sweep

# %%
agg = gc.threshold_sweep(settings, quick=quick, policy=policy, seed=seed, size_table=size_table,
                         store=store, progress=progress)
save_frame(agg, "goodcopy_threshold", data_dir)
best = gc.best_thresholds(agg)
save_frame(best, "goodcopy_best", data_dir)
best[["label", "mix", "best_from", "best_to", "excess_at_256", "throughput_at_best_gbps", "throughput_at_256_gbps",
      "crossover_theory_bytes"]]

# %%
fig = gc.figure_thresholds(agg, best)
paths = plotting.savefig(fig, "goodcopy_threshold", figures_dir)
plt.close(fig)  # shown once, from the file just written
Image(filename=str(paths[0]))

# %% [markdown]
# Top row: host CPU per byte against the threshold, relative to the best of each cost
# setting (the star); the dotted line is 256. A threshold between two sizes of a mix copies
# the same packets as any other threshold between them, so each curve is a staircase with a
# step at each size of the mix; the best threshold is a range. It sits just below the
# copy/zero-copy crossover of the cost setting (notebook 02, `crossover_theory_bytes` in the
# table), so it moves up as copies get cheaper or pins costlier. For IMIX, whose largest
# packet (1500 B) is below the crossover on every setting here, the best is to copy
# everything. For the bimodal mix any threshold between the modes is as good as any other.
# Bottom row: throughput; to the wire it hardly depends on the threshold, except where the
# worker is the bottleneck (IMIX), where copying, being cheaper, also sends more.

# %% [markdown]
# ## The answer

# %%
template, numbers = gc.answer(best, settings)
print(template.format(**numbers))

# %%
findings.record("03_goodcopy_threshold", gc.QUESTION, template, figures=paths, numbers=numbers,
                data_dir=data_dir, quick=quick)
