"""The numba-jitted simulation engine: plain arrays in, plain arrays out, no I/O.

Modules: :mod:`.core` (the event loop), :mod:`.rng` (xoshiro256**),
:mod:`.heap` (pending DMA completions), :mod:`.histogram` (latency
percentiles), :mod:`.layout` (array index names).
"""
