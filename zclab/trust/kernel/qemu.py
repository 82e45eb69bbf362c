"""The qemu backend: boot the unpacked Debian kernel under QEMU's emulation (TCG, no KVM)
with an initramfs whose /init runs every scenario in one boot and powers off.

The console is the first serial port (kept in a file; its tail goes into errors and
results); the scenarios' output goes to the second serial port, in raw mode, into
another file. A boot takes about 9 s; vhost_net is reloaded (rmmod, insmod) whenever a
scenario wants the other experimental_zcopytx. The qemu process group is killed on every
way out: normal end, timeout, error, KeyboardInterrupt.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

from .build import driver_binary
from .guest import MARK, scenario_commands, split_output
from .initramfs import build_initramfs
from .install import MODULES, KernelTree, find_kernel
from .parse import DriverOutputError, KernelResult, build_result

__all__ = ["run_qemu", "QEMU", "KernelRunError", "GuestHung", "BackendUnavailable", "guest_script", "default_timeout"]

QEMU = "qemu-system-x86_64"
TRACEFS = "/sys/kernel/tracing"
GUEST_DRIVER = "/bin/zclab-vhost-tx"
BOOT_S = 30.0  # allowance for the boot and power-off (about 9 s seen)
EMULATED_PPS = 2000.0  # a low guess of the emulated packet rate, for the default timeout


class BackendUnavailable(RuntimeError):
    """The backend cannot run here; the message says why and what to do."""


class KernelRunError(RuntimeError):
    """A run failed: the guest hung, the driver's watchdog fired or it reported an error.

    ``results`` holds the scenarios that finished; ``console`` the console's tail.
    """

    def __init__(self, message: str, results: Sequence[KernelResult] = (), console: str = ""):
        super().__init__(message)
        self.results, self.console = list(results), console


def default_timeout(scenarios) -> float:
    """Seconds allowed for one boot running ``scenarios``."""
    return BOOT_S + sum(10.0 + s.n_packets / EMULATED_PPS for s in scenarios)


def guest_script(scenarios, watchdog_s: float = 5.0) -> str:
    """The /init of the guest: mount, load modules, run each scenario, power off."""
    base = [m for m in MODULES if m != "vhost_net"]
    head = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/bin:/sbin
# Debian's busybox ash prefers its own applets to PATH: functions reach iproute2's ip and tc
ip() {{ /usr/local/sbin/ip "$@"; }}
tc() {{ /usr/local/sbin/tc "$@"; }}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs {TRACEFS}
stty -F /dev/ttyS1 raw -echo -onlcr 2>/dev/null
exec 3>&1 >/dev/ttyS1
M=/lib/modules
for m in {' '.join(base)}; do insmod $M/$m.ko || echo "{MARK} MODFAIL $m"; done
ip link set lo up
cur=-1
setzc() {{
  if [ "$cur" != "$1" ]; then
    [ "$cur" = -1 ] || rmmod vhost_net || echo "{MARK} MODFAIL rmmod vhost_net"
    insmod $M/vhost_net.ko experimental_zcopytx=$1 && cur=$1 || echo "{MARK} MODFAIL vhost_net"
  fi
}}
echo "{MARK} BOOT release=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo) uptime=$(cut -d' ' -f1 /proc/uptime)"
"""
    body = "".join(scenario_commands(i, s, GUEST_DRIVER, TRACEFS, watchdog_s) for i, s in enumerate(scenarios))
    tail = f'echo "{MARK} ALLDONE uptime=$(cut -d\' \' -f1 /proc/uptime)"\nsync\npoweroff -f\n'
    return head + body + tail


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.replace("\r", "").splitlines()[-lines:])


def check_available(kernel: KernelTree | None) -> None:
    if shutil.which(QEMU) is None:
        raise BackendUnavailable(f"{QEMU} is not installed: run `zclab kernel setup`")
    if shutil.which("busybox") is None:
        raise BackendUnavailable("busybox-static is not installed: run `zclab kernel setup`")
    if kernel is None:
        raise BackendUnavailable("no unpacked kernel in the cache: run `zclab kernel setup`")


class GuestHung(KernelRunError):
    """The emulated guest did not finish within its time (it is killed)."""


def run_qemu(scenarios, timeout: float | None = None, cache_dir=None, watchdog_s: float = 5.0,
             smp: int = 2, memory_mb: int = 1024, keep_dir: str | None = None, retries: int = 1) -> list[KernelResult]:
    """Run ``scenarios`` (from :func:`zclab.trust.kernel.scenario.scenario`) in one boot.

    A guest that hangs past ``timeout`` seconds is killed. Under emulation a guest
    sometimes locks up on a loaded host (soft lockups, RCU stalls: QEMU's timers, not
    vhost), so the scenarios it did not finish run again in a fresh boot, up to
    ``retries`` times; each result's summary says how many boots it took
    (``boot_retries``). Raises BackendUnavailable when qemu, busybox or the kernel is
    missing, and KernelRunError when the guest still hangs, a scenario's driver fails
    or its watchdog fires (the error carries the finished results). A driver's
    watchdog is the kernel's behaviour, never retried.
    """
    scenarios = list(scenarios)
    done: list[KernelResult] = []
    for attempt in range(retries + 1):
        try:
            results = _boot(scenarios[len(done):], timeout, cache_dir, watchdog_s, smp, memory_mb, keep_dir)
        except GuestHung as exc:
            if attempt == retries or not all(r.ok for r in exc.results):
                raise KernelRunError(str(exc), done + exc.results, exc.console) from None
            for r in exc.results:
                r.summary["boot_retries"] = attempt
            done += exc.results
            continue
        for r in results:
            r.summary["boot_retries"] = attempt
        return done + results
    raise AssertionError("unreachable")


def _boot(scenarios, timeout, cache_dir, watchdog_s, smp, memory_mb, keep_dir) -> list[KernelResult]:
    kernel = find_kernel(cache_dir)
    check_available(kernel)
    driver = driver_binary(cache_dir)
    modules = {}
    for m in MODULES:
        path = kernel.module(m)
        if path is None:
            raise BackendUnavailable(f"kernel {kernel.release} has no module {m}.ko: run `zclab kernel setup`")
        modules[m] = path
    timeout = default_timeout(scenarios) if timeout is None else timeout
    work = Path(keep_dir) if keep_dir else Path(tempfile.mkdtemp(prefix="zclab-qemu-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        initrd = build_initramfs(work / "initrd.cpio", guest_script(scenarios, watchdog_s), driver, modules)
        console, data = work / "console.log", work / "data.log"
        for f in (console, data):
            f.write_bytes(b"")
        cmd = [QEMU, "-accel", "tcg,thread=multi", "-cpu", "max", "-m", str(memory_mb), "-smp", str(smp),
               "-kernel", str(kernel.vmlinuz), "-initrd", str(initrd),
               "-append", "console=ttyS0 quiet panic=-1",
               "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
               "-serial", f"file:{console}", "-serial", f"file:{data}", "-no-reboot"]
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(proc)
                text = data.read_text(errors="replace")
                done = _results(scenarios, text, kernel.release, _tail(console), strict=False)
                where = _where(scenarios, text)
                raise GuestHung(
                    f"the guest did not finish within {timeout:.0f} s ({where}); "
                    f"console tail:\n{_tail(console)}", done, _tail(console)) from None
        finally:
            _kill(proc)
        wall = time.monotonic() - t0
        text = data.read_text(errors="replace")
        tail = _tail(console)
        if f"{MARK} BOOT" not in text:
            qemu_msg = (out or b"").decode(errors="replace").strip()
            raise KernelRunError(f"the guest did not start (qemu exit {proc.returncode}{': ' + qemu_msg if qemu_msg else ''}); "
                                 f"console tail:\n{tail}", [], tail)
        for line in text.splitlines():
            if line.startswith(f"{MARK} MODFAIL"):
                raise KernelRunError(f"a module failed to load in the guest ({line.split(' ', 2)[2]}); console tail:\n{tail}",
                                     [], tail)
        results = _results(scenarios, text, kernel.release, tail, strict=True)
        for r in results:
            r.summary["boot_wall_s"] = round(wall, 2)
        return results
    finally:
        if not keep_dir:
            shutil.rmtree(work, ignore_errors=True)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _where(scenarios, text: str) -> str:
    runs = split_output(text)
    if f"{MARK} BOOT" not in text:
        return "it did not finish booting"
    started = [i for i in runs if not runs[i]["ended"]]
    if started:
        i = started[0]
        return f"in scenario {i} [{scenarios[i].describe()}]"
    return f"after {len(runs)} of {len(scenarios)} scenarios"


def _results(scenarios, text: str, release: str, console: str, strict: bool) -> list[KernelResult]:
    """Results of the scenarios that ended; with ``strict`` every one must have, and a
    driver error or watchdog stop raises KernelRunError."""
    runs = split_output(text)
    results = []
    for i, scn in enumerate(scenarios):
        run = runs.get(i)
        if run is None or not run["ended"]:
            if strict:
                raise KernelRunError(f"scenario {i} [{scn.describe()}] did not run to its end; console tail:\n{console}",
                                     results, console)
            break
        try:
            res = build_result(scn, run["driver"], run["stats"], "qemu", True, release, console)
        except DriverOutputError as exc:
            if strict:
                raise KernelRunError(f"scenario {i}: {exc} (driver exit {run['stats'].get('rc')}); "
                                     f"console tail:\n{console}", results, console) from None
            break
        results.append(res)
        if strict and not res.ok:
            raise KernelRunError(_incomplete(i, res) + f"; console tail:\n{console}", results, console)
    return results


def _incomplete(i: int, res: KernelResult) -> str:
    s = res.summary
    what = "the driver's watchdog fired (5 s without a completion)" if s["watchdog"] else "the run did not complete"
    return (f"scenario {i} [{s['scenario']}]: {what}: sent {s['sent']} of {s['packets']}, "
            f"{s['used_entries']} returned, {s['inflight_at_end']} in flight")
