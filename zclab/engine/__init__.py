"""The numba-jitted simulation engine: plain arrays in, plain arrays out, no I/O.

Modules: :mod:`.core` (the event loop), :mod:`.rng` (xoshiro256**),
:mod:`.heap` (pending DMA completions), :mod:`.histogram` (latency
percentiles), :mod:`.layout` (array index names).

Editing the engine: numba's on-disk cache of ``core.run`` is keyed by the
contents of core.py alone, not by the helpers it inlines (numba issue #6845).
After an edit of heap.py, rng.py or histogram.py only, delete
``zclab/engine/__pycache__`` before testing or measuring, or the old machine
code is loaded and the tests pass against an engine that no longer exists.
A fresh clone (CI) has no cache and is not affected.
"""
