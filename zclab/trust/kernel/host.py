"""The host backend: the same driver, run directly on this machine's kernel.

Needs root and a kernel with vhost_net (``/dev/vhost-net``, or a module modprobe finds).
For each scenario it loads vhost_net with the wanted ``experimental_zcopytx`` (the
parameter is read-only while loaded: rmmod and modprobe again), builds the devices
(``zcdum0`` dummy, ``zcmvt0`` macvtap, netem; or the tap ``zctap0``), runs the driver and
removes them. Afterwards the module is put back as it was: unloaded if it was not loaded,
else reloaded with its original parameter. rmmod fails while something else (a VM) holds
/dev/vhost-net: then a scenario that needs the other setting is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from .build import driver_binary
from .guest import LOWER, MACVTAP, TAP, scenario_commands, split_output
from .parse import DriverOutputError, build_result
from .qemu import BackendUnavailable, KernelRunError, _incomplete

__all__ = ["run_host", "check_host", "ZCOPY_PARAM"]

ZCOPY_PARAM = Path("/sys/module/vhost_net/parameters/experimental_zcopytx")
HOST_MODULES = ("tun", "macvtap", "dummy", "sch_netem")


def _tracefs() -> str | None:
    for d in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isfile(os.path.join(d, "kprobe_events")):
            return d
    if os.path.isdir("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "tracefs", "/sys/kernel/tracing"], capture_output=True)
        if os.path.isfile("/sys/kernel/tracing/kprobe_events"):
            return "/sys/kernel/tracing"
    return None


def check_host() -> None:
    """Raise BackendUnavailable saying why the host backend cannot run here."""
    if os.geteuid() != 0:
        raise BackendUnavailable("the host backend needs root (it loads vhost_net and creates devices)")
    release = os.uname().release
    modprobe = shutil.which("modprobe")
    if not os.path.exists("/dev/vhost-net"):
        if modprobe is None:
            raise BackendUnavailable(f"this kernel ({release}) has no /dev/vhost-net, and no modprobe to load vhost_net: "
                                     "use the qemu backend (`zclab kernel setup`, then --backend qemu)")
        try:
            found = subprocess.run([modprobe, "-n", "-q", "vhost_net"], capture_output=True).returncode == 0
        except OSError:
            found = False
        if not found:
            raise BackendUnavailable(f"this kernel ({release}) has no /dev/vhost-net and no vhost_net module: "
                                     "use the qemu backend (`zclab kernel setup`, then --backend qemu)")
    for tool, pkg in (("modprobe", "kmod"), ("rmmod", "kmod"), ("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            raise BackendUnavailable(f"the host backend needs `{tool}` ({pkg}) to switch vhost_net's "
                                     "experimental_zcopytx and build the devices")


def _zcopy_now() -> int | None:
    try:
        return int(ZCOPY_PARAM.read_text().strip())
    except (OSError, ValueError):
        return None


def _modprobe(*args: str) -> None:
    proc = subprocess.run(["modprobe", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise KernelRunError(f"modprobe {' '.join(args)}: {proc.stderr.strip()}")


def _set_zcopy(value: int) -> None:
    cur = _zcopy_now()
    if cur == value:
        return
    if cur is not None:
        proc = subprocess.run(["rmmod", "vhost_net"], capture_output=True, text=True)
        if proc.returncode != 0:
            raise KernelRunError(f"vhost_net is loaded with experimental_zcopytx={cur} and cannot be unloaded to switch "
                                 f"it to {value} (is a VM using /dev/vhost-net?): {proc.stderr.strip()}")
    _modprobe("vhost_net", f"experimental_zcopytx={value}")


def _cleanup() -> None:
    for dev in (MACVTAP, LOWER, TAP):
        subprocess.run(["ip", "link", "del", dev], capture_output=True)


def run_host(scenarios, timeout: float | None = None, cache_dir=None, watchdog_s: float = 5.0) -> list:
    """Run ``scenarios`` on this machine's kernel; see the module's docstring."""
    check_host()
    driver = str(driver_binary(cache_dir))
    tracefs = _tracefs()
    original = _zcopy_now()
    release = os.uname().release
    results = []
    try:
        for m in HOST_MODULES:
            subprocess.run(["modprobe", m], capture_output=True)  # built in or absent: the run says
        for i, scn in enumerate(scenarios):
            _cleanup()
            _set_zcopy(scn.zcopytx)
            script = "setzc() { :; }\n" + scenario_commands(i, scn, driver, tracefs, watchdog_s)
            limit = timeout if timeout is not None else 60.0 + scn.n_packets / 20_000.0
            proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
            try:
                out, err = proc.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
                raise KernelRunError(f"scenario {i} [{scn.describe()}] did not finish within {limit:.0f} s; "
                                     f"stderr: {err.strip()[-800:]}", results) from None
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            run = split_output(out).get(i)
            if run is None or not run["ended"]:
                raise KernelRunError(f"scenario {i} [{scn.describe()}] gave no output; stderr: {err.strip()[-800:]}", results)
            try:
                res = build_result(scn, run["driver"], run["stats"], "host", False, release, err.strip()[-2000:])
            except DriverOutputError as exc:
                raise KernelRunError(f"scenario {i}: {exc}; stderr: {err.strip()[-800:]}", results) from None
            results.append(res)
            if not res.ok:
                raise KernelRunError(_incomplete(i, res), results)
    finally:
        _cleanup()
        _restore(original)
    return results


def _restore(original: int | None) -> None:
    """Put vhost_net back: unloaded, or loaded with its original experimental_zcopytx."""
    cur = _zcopy_now()
    if cur == original:
        return
    if cur is not None:
        subprocess.run(["rmmod", "vhost_net"], capture_output=True)
    if original is not None:
        subprocess.run(["modprobe", "vhost_net", f"experimental_zcopytx={original}"], capture_output=True)
