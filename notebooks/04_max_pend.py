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
# # The pending limit: VHOST_MAX_PEND, the ring size, and where the limit acts
#
# The 2011 patch caps outstanding zero-copy buffers at `VHOST_MAX_PEND` (128), and checks
# the cap only when the avail ring is empty. The merged commit admits a problem ("if the
# guest stops submitting buffers, completed buffers may not be returned"); v3.12 to v4.14
# tested at every iteration and stopped, but with an equality,
# `(upend_idx + vring.num - 128) % 1024 == done_idx`, that holds at one pending count only
# (notebook 06, docs/model.md section 2); v4.15 copies instead of stopping once more than
# `min(VHOST_MAX_PEND, vring.num / 4)` are pending (`copy_fallback`), after a measurement in
# which one rate-limited zero-copy flow brought every flow on the queue from 80 kpps to
# 400 pps. The `stall` placement studied here is the **hypothetical** `ring-quarter-stall`
# (v4.15's limit with v3.12's stop), which no release had: read it as what stopping on a
# real limit would do, not as v3.12 to v4.14. **How do throughput, stalls and
# latency depend on the limit and the ring size under slow DMA completions and stragglers;
# where does the seed's placement deadlock; is `min(max_pend, ring_size/4)` the right rule;
# and how does one rate-limited flow holding the zero-copy budget stall the others, policy by
# policy?** The logic lives in `zclab.studies.max_pend`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frames are written (relative to notebooks/)
figures_dir = "../figures"  # where the figures are written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bars while the sweeps run
seed = 1  # base seed of every sweep
host = "calibrated-2011"  # the host preset
size_bytes = 1500  # packet size of the limit sweep (every packet zero-copy)

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import max_pend as mp

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)
figures = []


def show(fig, name):
    """Save the figure (PNG, SVG, PDF), show it from the PNG, and list it for the findings."""
    figures.append(plotting.show(fig, name, figures_dir)[0])


# %% [markdown]
# ## Throughput, latency and stalls against the limit
#
# A bulk sender of `size_bytes` packets, every one zero-copy; the limit applied as given
# (`max_pend_rule = fixed`) under each policy preset; DMA completion latency and stragglers
# (completions held 1 ms) varied. A deadlocked run counts as throughput 0.

# %%
lim = mp.limit_sweep(host, quick=quick, size_bytes=size_bytes, seed=seed, store=store, progress=progress)
save_frame(lim, "max_pend_limits", data_dir)
show(mp.figure_limits(lim, ring_size=256), "max_pend_limits")

# %% [markdown]
# On a 256-entry ring: with fast completions and no stragglers every policy reaches the same
# rate once the limit passes a few dozen heads. Slow completions or stragglers change that:
# under `stall` the worker stops whenever the limit is reached (bottom row), and throughput
# climbs with the limit up to the ring size (dashed line; the dotted line is ring/4, the
# mainline rule). The seed's placement stalls less, because it looks at the limit only
# when the avail ring is empty, and deadlocks (✕) once the limit reaches the ring size.
# `copy_fallback` never stops: it copies what the budget cannot take, so its throughput
# and tail latency hardly depend on the limit.

# %% [markdown]
# ## Where the seed's placement deadlocks
#
# Ring size against max_pend, the fraction of runs that deadlocked: the seed's policy on
# three workloads, then the mainline policies on the first.

# %%
dl = mp.deadlock_map(host, quick=quick, seed=seed, store=store, progress=progress)
save_frame(dl, "max_pend_deadlock", data_dir)
show(mp.figure_deadlock(dl), "max_pend_deadlock")

# %% [markdown]
# Every deadlock lies on or above the dashed diagonal, where the ring is no larger than
# max_pend: there the limit can never fire, the guest runs out of descriptors first, the
# worker waits for a kick that never comes and completions wake nobody. With 64 KB
# packets the whole ring is always pending and the region is filled; with IMIX and fast
# completions a run deadlocks only when a completion is held long enough for the whole
# ring to fill behind it, so large rings survive a short run (stragglers fill the region
# again). `ring-quarter-stall` and `linux-4.15` never deadlock here: the limit is checked at
# every iteration and a completion wakes the worker (v3.12 to v4.14's own modulo test
# deadlocks on every 128-entry ring: notebook 06).

# %% [markdown]
# ## Is min(max_pend, ring_size / 4) the right rule?
#
# From the limit sweep: the smallest limit that reaches 95% of the best throughput (for
# copy fallback, of the best zero-copy fraction, since its throughput does not depend on
# the limit), against the ring size.

# %%
rule = mp.rule_table(lim)
save_frame(rule, "max_pend_rule", data_dir)
rule[rule["policy"] == "ring-quarter-stall"]

# %%
show(mp.figure_rule(rule), "max_pend_rule")

# %% [markdown]
# Where the markers sit above the dashed line the mainline rule is too small for that
# setting: the limit a queue needs is about its packet rate times the time a buffer stays
# pending (the device queue plus the DMA completion), which grows with the completion
# latency and with stragglers, not with the ring size. The rule is a bound on pinned
# memory, not a throughput optimum.

# %% [markdown]
# ## One rate-limited flow stalls every flow: the 2017 measurement, generalised
#
# Two Poisson flows to a local socket, 160 kpps in total: `limited` (256-byte payloads,
# zero-copy) behind an egress limiter with a 1000-packet queue, and `small` (1-byte payloads,
# copied). The sweep varies the limiter's rate and the limited flow's share of the load;
# the "2017" rows are the published setting (1 Mbit/s, equal shares).

# %%
fl = mp.flow_sweep(host, quick=quick, seed=seed, store=store, progress=progress)
save_frame(fl, "max_pend_flows", data_dir)
display(fl[fl["case"] != "sweep"][["policy", "case", "small_pps", "limited_pps", "stall_time_fraction",
                                   "copy_fallbacks"]].round(3))
mp.published_2017()

# %%
show(mp.figure_flows(fl), "max_pend_flows")

# %% [markdown]
# Under `stall` (and the seed's policy) the limited flow's skbs fill the pending budget and
# the worker stops until the limiter lets one go, so the copied flow moves at the limiter's
# pace, in proportion to its share; under `copy_fallback` it keeps its offered rate whatever
# the limiter does, as the 2017 fix reported.

# %% [markdown]
# ## The answer

# %%
template, numbers = mp.answer(lim, dl, rule, fl)
print(template.format(**numbers))

# %%
findings.record("04_max_pend", mp.QUESTION, template, figures=figures, numbers=numbers,
                data_dir=data_dir, quick=quick)
