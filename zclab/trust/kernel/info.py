"""``zclab kernel info``: which backends can run here, and why not.

    >>> info = backend_info()                     # doctest: +SKIP
    >>> info["qemu"].usable, info["host"].reason  # doctest: +SKIP
    (True, 'this kernel (6.18.44) has no /dev/vhost-net and no vhost_net module: ...')
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from .install import find_kernel
from .qemu import QEMU, BackendUnavailable, check_available
from .host import check_host

__all__ = ["BackendInfo", "backend_info", "format_info"]


@dataclass(frozen=True)
class BackendInfo:
    name: str
    usable: bool
    reason: str  # why not, or what it will run


def _compiler_problem() -> str | None:
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        return "no C compiler to build the driver: apt-get install gcc libc6-dev"
    return None


def backend_info(cache_dir=None) -> dict[str, BackendInfo]:
    """Each backend's state: usable, and the reason (why not, or what it runs)."""
    out = {}
    cc = _compiler_problem()
    kernel = find_kernel(cache_dir)
    try:
        check_available(kernel)
        if cc:
            raise BackendUnavailable(cc)
        out["qemu"] = BackendInfo("qemu", True, f"{QEMU} (emulated, TCG) boots kernel {kernel.release} from {kernel.root}")
    except BackendUnavailable as exc:
        out["qemu"] = BackendInfo("qemu", False, str(exc))
    try:
        check_host()
        if cc:
            raise BackendUnavailable(cc)
        import os

        out["host"] = BackendInfo("host", True, f"this machine's kernel {os.uname().release}")
    except BackendUnavailable as exc:
        out["host"] = BackendInfo("host", False, str(exc))
    return out


def format_info(info: dict[str, BackendInfo]) -> str:
    """One line per backend: ``qemu  usable  ...`` / ``host  no  ...``."""
    return "\n".join(f"{b.name:<5} {'usable' if b.usable else 'no':<7} {b.reason}" for b in info.values())
