"""zclab installed as a package (``pip install .``, not editable), run from a directory
that is not its checkout: the model, the command line and the API work; what needs the
checkout (the notebooks, the study, the published record) says so. (Issue 21, part 4.)

Slow: it builds the wheel (pip, in an isolated build environment). The installed copy
is given the checkout's compiled engine (numba's cache files, the sources' times set to
the checkout's, which is all numba's index compares): compiling it again, about a
minute, would test numba, not the package.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site directory holding only the installed zclab, a working directory elsewhere)."""
    tmp = tmp_path_factory.mktemp("installed")
    wheels, site, cwd = tmp / "wheels", tmp / "site", tmp / "elsewhere"
    cwd.mkdir()
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(wheels)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode != 0:
        pytest.skip(f"pip could not build the wheel here (no package index?): {build.stderr.strip()[-300:]}")
    wheel = next(wheels.glob("zclab-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    import shutil

    import zclab.model.engine as engine

    src = Path(engine.__file__).parent
    dest = site / "zclab" / "model" / "engine"
    (dest / "__pycache__").mkdir(exist_ok=True)
    for f in (src / "__pycache__").glob("*"):
        if f.suffix in (".nbi", ".nbc", ".sha256"):
            shutil.copy2(f, dest / "__pycache__" / f.name)
    for f in src.glob("*.py"):
        os.utime(dest / f.name, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
    return site, cwd


def _run(installed, *args, code="", timeout=600):
    site, cwd = installed
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(site)
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "zclab.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_the_installed_package_is_the_copy_in_use_and_has_no_checkout(installed):
    site, _ = installed
    out = _run(installed, code="import zclab, zclab._paths as p; print(zclab.__file__, p.in_checkout(), zclab.__version__)")
    path, in_checkout, version = out.stdout.split()
    assert Path(path).is_relative_to(site) and in_checkout == "False" and version == "0.1.0", out.stderr


def test_params_simulate_and_the_api_work_from_any_directory(installed):
    assert "vring.num" in _run(installed, "params", "ring_size").stdout
    sim = _run(installed, "simulate", "--set", "n_packets=2000", "--json")
    assert sim.returncode == 0, sim.stderr
    assert json.loads(sim.stdout)["summary"]["packets"] == 2000
    api = _run(installed, code="import zclab; df = zclab.sweep(zclab.Config(n_packets=500), {'ring_size': [64, 128]}, "
                               "store=None, workers=1, progress=False); print(len(df), df['packets'].tolist())")
    assert api.stdout.split()[0] == "2" and api.returncode == 0, api.stderr


def test_what_needs_the_checkout_says_so_with_exit_2(installed):
    for args in (("study",), ("notebooks", "run", "quickstart")):
        out = _run(installed, *args)
        assert out.returncode == 2 and "need zclab's source checkout" in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1
    rec = _run(installed, code="import zclab.trust.calibration as c\ntry:\n    c.published()\nexcept Exception as e:\n"
                               "    print(type(e).__name__, e)")
    assert rec.stdout.startswith("NotACheckout the published record") and "source checkout" in rec.stdout
