"""``zclab kernel setup``: what the qemu backend needs, from Debian's archive.

- ``qemu-system-x86`` and ``busybox-static``, installed with ``--no-install-recommends``;
- the kernel package that ``linux-image-amd64`` depends on, resolved when setup runs
  (the archive keeps only the current build), fetched with ``apt-get download`` into the
  cache directory and unpacked there with ``dpkg-deb -x``. The .deb stays in the cache,
  so a second setup on the same machine downloads nothing.

Idempotent: installed packages and a cached kernel are kept. The cache directory is
``$ZCLAB_KERNEL_CACHE`` or ``~/.cache/zclab/trust/kernel``; ``current.json`` there names the
unpacked kernel (:func:`find_kernel`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .build import default_cache_dir

__all__ = ["SetupError", "KernelTree", "find_kernel", "setup", "PACKAGES", "META_PACKAGE"]

PACKAGES = ("qemu-system-x86", "busybox-static")
META_PACKAGE = "linux-image-amd64"
#: Modules the guest loads, in this order (no modules.dep in the package: plain insmod).
MODULES = ("vhost_iotlb", "vhost", "tun", "tap", "macvlan", "macvtap", "dummy", "sch_netem", "vhost_net")


class SetupError(RuntimeError):
    """Setup cannot proceed (not root, no apt, a command failed)."""


@dataclass(frozen=True)
class KernelTree:
    """An unpacked kernel package in the cache."""

    package: str
    version: str
    release: str  # uname -r
    root: Path

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib" / "modules" / self.release / "kernel"

    def module(self, name: str) -> Path | None:
        """The path of module ``name`` (.ko, uncompressed in Debian's package)."""
        hits = sorted(self.modules_dir.rglob(f"{name}.ko"))
        return hits[0] if hits else None


def find_kernel(cache_dir: str | os.PathLike | None = None) -> KernelTree | None:
    """The kernel unpacked by setup, or None."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    try:
        meta = json.loads((cache / "current.json").read_text())
        tree = KernelTree(meta["package"], meta["version"], meta["release"], cache / meta["dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return tree if tree.vmlinuz.is_file() and tree.modules_dir.is_dir() else None


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    except OSError as exc:
        raise SetupError(f"`{' '.join(cmd)}`: {exc}") from None
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise SetupError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {tail}")
    return proc


def resolve_kernel_package() -> str:
    """The package linux-image-amd64 depends on now, e.g. linux-image-6.1.0-57-amd64."""
    out = _run(["apt-cache", "depends", META_PACKAGE]).stdout
    for line in out.splitlines():
        m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if m:
            return m.group(1)
    raise SetupError(f"`apt-cache depends {META_PACKAGE}` names no linux-image package; run apt-get update")


def _package_fields(package: str) -> dict[str, str]:
    out = _run(["apt-cache", "show", "--no-all-versions", package]).stdout
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            fields.setdefault(key, value.strip())
    return fields


def missing_packages() -> list[str]:
    missing = []
    for pkg in PACKAGES:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def _download_size(packages: list[str]) -> tuple[int, int]:
    """(number of .deb files, bytes) apt would fetch to install ``packages``."""
    out = _run(["apt-get", "install", "-qq", "--no-install-recommends", "--print-uris", *packages]).stdout
    sizes = [int(m.group(1)) for m in re.finditer(r"^'\S+' \S+ (\d+) ", out, re.M)]
    return len(sizes), sum(sizes)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def instructions() -> str:
    return (f"as root on Debian/Ubuntu: apt-get update && apt-get install --no-install-recommends "
            f"{' '.join(PACKAGES)}; then `apt-cache depends {META_PACKAGE}` names the kernel package to fetch with "
            f"`apt-get download` and unpack with `dpkg-deb -x` (zclab kernel setup does all of this)")


def setup(cache_dir: str | os.PathLike | None = None, yes: bool = False,
          say: Callable[[str], None] = print, confirm: Callable[[str], bool] | None = None) -> KernelTree:
    """Install the packages, fetch and unpack the kernel; returns the unpacked kernel.

    Without ``yes``, ``confirm(question)`` decides each download (default: ask on a
    terminal, refuse without one).
    """
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SetupError("no apt-get/dpkg-deb here: " + instructions())
    if os.geteuid() != 0:
        raise SetupError("setup installs packages and must run as root: " + instructions())
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    if confirm is None:
        confirm = _ask

    def agree(question: str) -> None:
        if not yes and not confirm(question):
            raise SetupError(f"not confirmed: {question} (pass --yes to agree)")

    say("apt-get update")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    missing = missing_packages()
    if missing:
        n, size = _download_size(missing)
        agree(f"install {' '.join(missing)} (--no-install-recommends): {n} packages, {_mib(size)} to download")
        say(f"apt-get install {' '.join(missing)}: {n} packages, {_mib(size)}")
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    else:
        say(f"{', '.join(PACKAGES)}: installed")

    package = resolve_kernel_package()
    fields = _package_fields(package)
    version = fields.get("Version", "")
    if not version:
        raise SetupError(f"`apt-cache show {package}` gives no version")
    deb_name = f"{package}_{version.replace(':', '%3a')}_amd64.deb"
    deb = cache / deb_name
    if deb.is_file():
        say(f"{package} {version}: {deb} (cached)")
    else:
        size = int(fields.get("Size", "0") or 0)
        agree(f"download {package} {version} ({_mib(size)}) into {cache}")
        say(f"apt-get download {package} ({_mib(size)})")
        _run(["apt-get", "download", "-qq", "-o", "APT::Sandbox::User=root", package], cwd=cache, env=env)
        if not deb.is_file():
            found = sorted(cache.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
            if not found:
                raise SetupError(f"apt-get download {package} left no .deb in {cache}")
            deb = found[-1]
    tree_dir = f"{package}_{version}".replace(":", "_")
    root = cache / tree_dir
    tree = None
    if (root / "boot").is_dir():
        tree = _tree(package, version, root)
    if tree is None:
        say(f"unpacking {deb.name}")
        tmp = cache / f".{tree_dir}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        _run(["dpkg-deb", "-x", str(deb), str(tmp)])
        shutil.rmtree(root, ignore_errors=True)
        os.replace(tmp, root)
        tree = _tree(package, version, root)
        if tree is None:
            raise SetupError(f"{deb.name} holds no boot/vmlinuz-* and lib/modules/*")
    absent = [m for m in MODULES if tree.module(m) is None]
    if absent:
        raise SetupError(f"kernel {tree.release} lacks modules {', '.join(absent)}")
    (cache / "current.json").write_text(json.dumps(
        {"package": package, "version": version, "release": tree.release, "dir": tree_dir, "deb": deb.name}, indent=1))
    # keep only the current kernel: older trees and .debs are 70 MB each
    for old in cache.iterdir():
        if old.name.startswith("linux-image-") and old.name not in (tree_dir, deb.name):
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(missing_ok=True)
    say(f"kernel {tree.release} ready in {root}")
    return tree


def _tree(package: str, version: str, root: Path) -> KernelTree | None:
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if not kernels:
        return None
    release = kernels[0].name[len("vmlinuz-"):]
    tree = KernelTree(package, version, release, root)
    return tree if tree.modules_dir.is_dir() else None


def _ask(question: str) -> bool:
    if not sys.stdin or not sys.stdin.isatty():
        return False
    reply = input(f"{question}. Proceed? [y/N] ").strip().lower()
    return reply in ("y", "yes")
