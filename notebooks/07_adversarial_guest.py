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
# # The adversarial guest: what if a guest posts the same head twice?
#
# In the review thread of the 2011 patch, the reviewer wrote: "need to keep in mind that a
# guest can give us the same head twice, need to make sure this at least does not corrupt
# host memory." With zero-copy the host holds guest pages until the NIC is done with them,
# and `heads[]` records each head until its completion, so a head posted twice is two
# records of one descriptor. The question: **with a guest that posts a head a second time
# with probability `duplicate_head_p`, do the host-side invariants hold on every transmit
# path, and what does the guest itself see, at what rate?**
#
# zclab's host counts, on every run, violations of the invariants of `docs/model.md`
# (section 3): every post returned exactly once, a used entry is always a head the guest
# posted, no slot of `heads[]` overwritten while held, no completion for a slot that is not
# pending, outstanding within the ring and `heads[]`. The guest's side is counted apart:
# a used entry whose id is no longer posted (virtio's `BAD_RING` "id %u is not a head!"),
# a head freed while the host still holds its other post, and avail entries the host refuses
# because the guest, with its free count gone wrong, wrote over unconsumed ones. The logic
# lives in `zclab.studies.adversarial`.

# %% tags=["parameters"]
quick = False  # True: small, fast runs (CI and `zclab study --quick`)
data_dir = "../data"  # where the frames are written (relative to notebooks/)
figures_dir = "../figures"  # where the figures are written
store = "../data/store"  # the sweep result store: points it holds are not run again
progress = True  # progress bars while the sweeps run
seed = 1  # base seed of the sweep and of the debug runs
host = "calibrated-2011"  # host preset: CPU costs and latencies

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display

from zclab.studies import findings, plotting
from zclab.studies.notebooks import save_frame
from zclab.studies import adversarial as adv

pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 30)


def show(fig, name):
    """Save the figure (PNG, SVG, PDF) and show it once, from the PNG just written."""
    return plotting.show(fig, name, figures_dir)


n_packets, replications = adv.sizes(quick)
print(f"host {host}, {n_packets:,} packets per run, {replications} replications per point")

# %% [markdown]
# ## The sweep
#
# Four transmit paths (the 2011 patch, the two mainline eras, copying only) × a bulk IMIX
# sender and 64 KB frames × the duplicate probability. The counters are per 1,000 packets
# returned to the guest (`<counter>_per_1k`), averaged over the replications.

# %%
runs, agg = adv.sweep_duplicates(host, quick=quick, seed=seed, store=store, progress=progress)
save_frame(agg, "adversarial_guest", data_dir)
agg[["path", "workload", "duplicate_head_p", "duplicates_per_1k", "invariant_violations",
     "guest_bad_ring_per_1k", "guest_early_free_per_1k", "guest_avail_overruns_per_1k", "deadlocked", "n"]]

# %% [markdown]
# Every run counted its host-side violations; the worst cases run once more with
# `debug=True`, where the first violation would stop the run with an error naming it.

# %%
debug = adv.debug_check(host, quick=quick, seed=seed)
display(Markdown(f"{len(runs)} runs, host-side invariant violations: {int(runs['invariant_violations'].sum())}, "
      f"deadlocks: {int(runs['deadlocked'].sum())}; debug runs that raised: {int((debug['raised'] != '').sum())} "
      f"of {len(debug)}."))
debug

# %%
paths = show(adv.figure_adversarial(agg), "adversarial_guest")

# %% [markdown]
# How to read it: the left column is the host and stays flat at zero on every path and
# workload; the other three are what the guest sees, per 1,000 packets, one line per path,
# with the duplicates it posted as the dotted line.
#
# * **BAD_RING** follows the duplicates one for one on IMIX: the host returns both posts,
#   and the second used entry names an id the guest has already taken back. On 64 KB frames
#   most duplicates never get that far (see the last column).
# * **Early frees** are the dangerous half for a real guest: it frees a buffer whose other
#   post the host is still transmitting from. With zero-copy the host reads the guest's
#   pages at DMA time, so a guest that reuses a freed buffer at once can change bytes that
#   are still on their way to the wire; the guest, not the host, is corrupted. The 2011
#   patch, which returns buffers in order and holds copies behind pending ones, makes fewer
#   of them on IMIX.
# * **Refused entries**: once its free count is wrong, the guest believes it has more
#   descriptors than the ring holds and writes over avail entries the host has not
#   consumed; the host refuses them, as vhost's avail-index check does. With 64 KB frames
#   the ring is always full, so nearly every duplicate is refused there.
#
# The numbers, from the frame:

# %%
text, numbers = adv.answer(runs, agg, debug)
display(Markdown(text.format(**numbers)))

# %%
finding = findings.record(
    "07_adversarial_guest",
    "When a guest posts the same head twice, do the host's invariants hold, and what does the guest see?",
    text,
    figures=paths,
    numbers=numbers,
    command="zclab notebooks run 07_adversarial_guest",
    data_dir=data_dir,
    quick=quick,
)
