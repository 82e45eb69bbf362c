"""The study: how the notebooks run (``notebooks``: papermill batch runs and
``zclab study``), what they record and publish (``findings``, the HTML ``report``),
the figures' style and checks (``plotting``), and one module per notebook of
``notebooks/`` (02 to 08).

Each of those modules holds what its notebook computes and draws (the grid, the
sweep, the derived table, the figure), so that the notebooks stay thin documents
and the logic is tested like the rest of the package.

* ``completion_order`` (05): in-order against out-of-order completion under
  straggling DMA completions, the cache argument of the review thread, and a
  per-packet timeline of one straggler holding the ring.
* ``history`` (06): the kernel's zero-copy policies and copying side by side on
  every workload preset; why mainline made zero-copy opt-in.
* ``adversarial`` (07): a guest that posts the same head twice; the host-side
  invariants and what the guest sees.

Each notebook ends by recording its answer with :func:`zclab.studies.findings.record`.

Every study runs on the synthetic NIC and the guest of model versions 3 and 4
(``presets.SYNTHETIC_NIC``: a random completion delay per skb, a lossless device queue,
a 64 KB frame as one frame on the wire; ``presets.SIMPLE_GUEST``: the queue stops only
with no descriptor free, napi_tx off, so no socket limit holds bytes), pinned explicitly
in each module's configurations: their answers (the stragglers of 05, the "6% zero-copy,
p99 63 ms" of 06, the DMA latencies of 04 and 08) were computed on them. Recomputing them
on the coalesced NIC and the virtio-net guest, the defaults since model version 5, is the
issue that follows issue 19.
"""
