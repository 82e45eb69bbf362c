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
# # Quick start: what does in-order completion cost?
#
# The 2011 zero-copy patch returns transmit buffers to the guest strictly in the order
# they were submitted, although virtio allows them back in any order: one slow DMA
# completion (a *straggler*) holds every later buffer. This notebook asks, for each of the
# kernel's three policies (`seed-2011`, `linux-3.14`, `linux-4.15`): **how much
# do the 99th-percentile latency and the throughput change when completions may be
# returned out of order?**
#
# It is also a tour of the API: simulate one configuration, run a sweep, aggregate the
# replications, plot and save. Run it in JupyterLab (kernel "Python (zclab)") or in batch
# with `zclab notebooks run quickstart` (add `--quick` for a fast run).

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frame is written (relative to notebooks/)
figures_dir = "../figures"  # where the figure is written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bar while the sweep runs

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image

import zclab
from zclab.studies import plotting
from zclab.studies.notebooks import save_frame

n_packets = 200_000 if quick else 2_000_000  # packets per run
replications = 2 if quick else 5  # independent runs per point

# %% [markdown]
# ## One configuration
#
# The 2011 policy with the IMIX workload and one DMA completion in 500 a straggler.
# Stragglers are draws of the synthetic NIC's per-skb completion delay, so this run
# names that NIC (`zclab.model.presets.SYNTHETIC_NIC`); the default NIC completes its TX ring
# in order after interrupt coalescing (docs/model.md section 1).
# `zclab.SUMMARY_FIELDS` says what each number means.

# %%
cfg = zclab.Config(**zclab.model.presets.SYNTHETIC_NIC, policy="seed-2011", workload="imix", straggler_p=0.002,
                   n_packets=n_packets)
result = zclab.simulate(cfg)
fields = ["throughput_gbps", "mpps", "zerocopy_fraction", "latency_p50_ns", "latency_p99_ns",
        "hol_blocked_mean", "host_cycles_per_byte", "invariant_violations"]
pd.DataFrame({"value": pd.Series([round(result.summary[k], 3) for k in fields], index=fields, dtype=object),
              "meaning": [zclab.SUMMARY_FIELDS[k] for k in fields]}, index=fields)

# %% [markdown]
# ## A sweep: policy × completion order
#
# Each point is run `replications` times with seeds derived from its configuration;
# `zclab.aggregate` gives the mean and the half-width of a 95% confidence interval
# (`<metric>_ci`) over the replications.

# %%
df = zclab.sweep(
    cfg,
    {"policy": ["seed-2011", "linux-3.14", "linux-4.15"], "completion": ["in_order", "out_of_order"]},
    replications=replications,
    store=store,
    progress=progress,
)
agg = zclab.aggregate(df)
save_frame(agg, "quickstart", data_dir)  # {data_dir}/quickstart.parquet
agg[["policy", "completion", "latency_p99_ns", "latency_p99_ns_ci", "throughput_gbps", "throughput_gbps_ci", "n"]]

# %% [markdown]
# ## The figure

# %%
fig, (ax_lat, ax_tput) = plotting.figure("double", ncols=2)
for ax, metric in [(ax_lat, "latency_p99_ns"), (ax_tput, "throughput_gbps")]:
    plotting.line(ax, agg, "policy", metric, hue="completion", err=f"{metric}_ci", linestyle="none", capsize=3)
paths = plotting.savefig(fig, "quickstart", figures_dir)
plt.close(fig)  # shown once, from the file just written, in JupyterLab and in batch runs alike
Image(filename=str(paths[0]))

# %% [markdown]
# What the figure shows: for each policy (x axis), the left panel gives the p99 latency and
# the right panel the throughput, one marker per completion order, with 95% confidence
# intervals over the replications. Where the `in_order` marker of a policy sits above its
# `out_of_order` marker on the left, buffers held behind stragglers cost that policy tail
# latency; on the right, compare the two markers to see whether the wait also costs
# throughput. Overlapping error bars mean this many packets and replications cannot tell
# the two orders apart. The cell below states the measured ratios from the frame.

# %%
p99 = agg.pivot(index="policy", columns="completion", values="latency_p99_ns")
tput = agg.pivot(index="policy", columns="completion", values="throughput_gbps")
for policy in p99.index:
    print(f"{policy}: in-order p99 latency is {p99.loc[policy, 'in_order'] / p99.loc[policy, 'out_of_order']:.2f}x "
          f"the out-of-order one; throughput {tput.loc[policy, 'in_order'] / tput.loc[policy, 'out_of_order']:.2f}x")
