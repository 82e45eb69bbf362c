"""An initramfs for the qemu backend, written as a newc cpio archive (no cpio tool needed):
busybox-static, the driver, the kernel's modules, ``ip`` and ``tc`` with their shared
libraries, and an /init script (:mod:`zclab.trust.kernel.guest` writes it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["Cpio", "shared_libraries", "build_initramfs", "InitramfsError"]


class InitramfsError(RuntimeError):
    """A file the guest needs is missing on this host."""


class Cpio:
    """A minimal writer of the "newc" cpio format the kernel unpacks.

    >>> import io
    >>> buf = io.BytesIO(); c = Cpio(buf); c.add_dir("bin"); c.add_file("bin/x", b"hi", 0o755); c.close()
    >>> buf.getvalue()[:6], b"TRAILER!!!" in buf.getvalue()
    (b'070701', True)
    """

    def __init__(self, fh):
        self.fh, self.ino, self.dirs = fh, 1, set()

    def _entry(self, name: str, mode: int, data: bytes = b"") -> None:
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0]
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        self.ino += 1
        self.fh.write(header + name_b + b"\0" * (-(110 + len(name_b)) % 4))
        self.fh.write(data + b"\0" * (-len(data) % 4))

    def add_dir(self, name: str) -> None:
        name = name.strip("/")
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d and d not in self.dirs:
                self.dirs.add(d)
                self._entry(d, 0o040755)

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        name = name.strip("/")
        if "/" in name:
            self.add_dir(name.rsplit("/", 1)[0])
        self._entry(name, 0o100000 | mode, data)

    def close(self) -> None:
        self._entry("TRAILER!!!", 0)


def shared_libraries(binary: str) -> list[str]:
    """The shared libraries ``binary`` loads (from ``ldd``), the loader included."""
    proc = subprocess.run(["ldd", binary], capture_output=True, text=True)
    libs = []
    for line in proc.stdout.splitlines():
        m = re.search(r"=>\s*(/\S+)", line) or re.match(r"\s*(/\S+)", line)
        if m:
            libs.append(m.group(1))
    return libs


def build_initramfs(out: Path, init_script: str, driver: Path, modules: dict[str, Path]) -> Path:
    """Write the archive to ``out``: /init, /bin/busybox, /bin/zclab-vhost-tx,
    /lib/modules/NAME.ko, /usr/local/sbin/ip and tc with their libraries."""
    busybox = shutil.which("busybox")
    if busybox is None:
        raise InitramfsError("busybox is not installed: run `zclab kernel setup` (busybox-static)")
    tools = {}
    for tool in ("ip", "tc"):
        path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
        if path is None:
            raise InitramfsError(f"`{tool}` (iproute2) is not installed on this host: apt-get install iproute2")
        tools[tool] = path
    with open(out, "wb") as fh:
        c = Cpio(fh)
        for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "lib/modules", "etc"):
            c.add_dir(d)
        c.add_file("init", init_script.encode(), 0o755)
        c.add_file("bin/busybox", Path(busybox).read_bytes(), 0o755)
        c.add_file("bin/zclab-vhost-tx", Path(driver).read_bytes(), 0o755)
        for name, path in modules.items():
            c.add_file(f"lib/modules/{name}.ko", Path(path).read_bytes())
        libs: set[str] = set()
        for tool, path in tools.items():
            c.add_file(f"usr/local/sbin/{tool}", Path(path).read_bytes(), 0o755)  # busybox --install leaves it be
            libs.update(shared_libraries(path))
        for lib in sorted(libs):
            c.add_file(lib, Path(os.path.realpath(lib)).read_bytes(), 0o755)
        c.close()
    return out
