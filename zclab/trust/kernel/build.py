"""Compile the driver (driver.c, shipped with the package) with ``gcc -static -O2``,
cached by the hash of its source.

    >>> path = driver_binary()          # doctest: +SKIP
    >>> path.name                        # doctest: +SKIP
    'zclab-vhost-tx-3f2a9c1b7d4e.bin'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ..._files import atomic_path

__all__ = ["BuildError", "driver_source", "driver_binary", "default_cache_dir"]


class BuildError(RuntimeError):
    """The driver could not be compiled."""


def default_cache_dir() -> Path:
    """$ZCLAB_KERNEL_CACHE, else ~/.cache/zclab/trust/kernel."""
    env = os.environ.get("ZCLAB_KERNEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "zclab" / "kernel"


def driver_source() -> Path:
    return Path(__file__).with_name("driver.c")


def driver_binary(cache_dir: str | os.PathLike | None = None) -> Path:
    """The static driver binary for the current driver.c, compiled on first use."""
    src = driver_source()
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
    out_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    out = out_dir / f"zclab-vhost-tx-{digest}.bin"
    if out.is_file() and os.access(out, os.X_OK):
        return out
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise BuildError("no C compiler (gcc) to build the kernel driver: apt-get install gcc libc6-dev")
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        proc = subprocess.run([cc, "-static", "-O2", "-Wall", "-o", str(tmp), str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise BuildError(f"compiling {src.name} with `{cc} -static -O2` failed (a static libc is in libc6-dev): {tail}")
    return out
