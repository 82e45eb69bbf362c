"""The numba-jitted simulation engine: plain arrays in, plain arrays out, no I/O.

Modules: :mod:`.core` (the event loop), :mod:`.rng` (xoshiro256**),
:mod:`.heap` (pending DMA completions), :mod:`.histogram` (latency
percentiles), :mod:`.layout` (array index names), :mod:`.hints` (branch hints).

Editing the engine: numba keys its on-disk cache of ``core.run`` by the
contents of core.py alone, not by the helpers it inlines (numba issue #6845).
After an edit of heap.py or rng.py only it would load the old machine code,
and tests would pass against an engine that no longer exists. So the package
keeps a digest of all its sources beside the cache and drops the cache when
they change (:func:`_drop_stale_cache`). With ``NUMBA_CACHE_DIR`` set, or a
read-only install, this is not done: delete the cache by hand after an edit.
"""

import hashlib
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
_CACHE = os.path.join(_HERE, "__pycache__")
_STAMP = os.path.join(_CACHE, "zclab-engine-sources.sha256")


def _sources_digest() -> str:
    h = hashlib.sha256()
    for name in sorted(f for f in os.listdir(_HERE) if f.endswith(".py")):
        with open(os.path.join(_HERE, name), "rb") as f:
            h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def _drop_stale_cache() -> None:
    """Delete numba's cache files of this package if any of its sources changed
    since they were written; runs once per import, before core.py is loaded."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    try:
        digest = _sources_digest()
    except OSError:
        return
    try:
        with open(_STAMP) as f:
            if f.read() == digest:
                return
    except OSError:
        pass
    try:
        for name in os.listdir(_CACHE) if os.path.isdir(_CACHE) else ():
            if name.endswith((".nbi", ".nbc")):
                os.remove(os.path.join(_CACHE, name))
        from ..._files import write_text

        write_text(_STAMP, digest)
    except OSError:
        pass  # read-only install, or another process got there first


_drop_stale_cache()
