"""The real kernel's vhost-net TX path, driven from a userspace process that plays the guest.

    >>> import zclab, zclab.trust.kernel
    >>> cfgs = [zclab.Config(size_dist="fixed", size_bytes=s, n_packets=2000) for s in (64, 1500)]
    >>> res = zclab.trust.kernel.run(cfgs, backend="qemu")            # doctest: +SKIP
    >>> [r.summary["zerocopy_tried"] for r in res]              # doctest: +SKIP
    [0, 2000]
    >>> res[1].trace.head(2)                                    # doctest: +SKIP
       seq  head   len      path  used_idx
    0    0     0  1500  zerocopy         0
    1    1     1  1500  zerocopy         1

Backends: ``"qemu"`` boots Debian's kernel under QEMU's emulation (``zclab kernel setup``
installs what it needs); every configuration of one call shares one boot. ``"host"``
runs on this machine's kernel (root, vhost_net). See docs/kernel.md.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from ...model.config import Config
from .parse import KernelResult
from .qemu import BackendUnavailable, KernelRunError
from .scenario import Scenario, scenario

__all__ = ["run", "scenario", "Scenario", "KernelResult", "KernelRunError", "BackendUnavailable", "BACKENDS"]

BACKENDS = ("qemu", "host")


def run(configs: Config | Iterable[Config], backend: str = "qemu", timeout: float | None = None,
        cache_dir=None, watchdog_s: float = 5.0) -> KernelResult | list[KernelResult]:
    """Run one Config (returns one result) or several (a list, in order) on the real kernel.

    Every Config is checked first (ConfigError names a field the kernel cannot honour);
    BackendUnavailable says why the backend cannot run here; KernelRunError reports a hung
    guest (after ``timeout`` seconds; default: 30 s plus 10 s and 1/2000 s per packet per
    scenario on qemu), a driver error or a watchdog stop (``watchdog_s`` without a
    completion), with the results finished before it.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: one of {', '.join(map(repr, BACKENDS))}")
    single = isinstance(configs, Config)
    cfgs: Sequence[Config] = [configs] if single else list(configs)
    if not cfgs:
        return []
    scns = [scenario(c, backend) for c in cfgs]
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout={timeout}: must be positive")
    if backend == "qemu":
        from .qemu import run_qemu

        results = run_qemu(scns, timeout=timeout, cache_dir=cache_dir, watchdog_s=watchdog_s)
    else:
        from .host import run_host

        results = run_host(scns, timeout=timeout, cache_dir=cache_dir, watchdog_s=watchdog_s)
    return results[0] if single else results
