"""numba's cache of the engine is keyed by core.py alone; the package drops it
when any engine source changes, so that an edit of a helper (heap.py, rng.py)
is never tested against old machine code."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zclab

PACKAGE = Path(zclab.__file__).parent


def _import_engine(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(root)
    # a copy under another name: the editable install would shadow a copy named zclab
    code = ("import zclab_copy.model.engine as e, sys; "
            "sys.exit(0 if e.__file__.startswith(sys.argv[1]) else 3)")
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, env=env, timeout=120)


def _fake_cache(cache: Path) -> list[Path]:
    cache.mkdir(exist_ok=True)
    files = [cache / "core.run-248.py311.nbi", cache / "core.run-248.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"machine code of an older engine")
    return files


@pytest.mark.slow
def test_an_edit_of_a_helper_drops_the_engine_cache(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "zclab_copy", ignore=shutil.ignore_patterns("__pycache__"))
    engine = tmp_path / "zclab_copy" / "model" / "engine"
    cache = engine / "__pycache__"
    _import_engine(tmp_path)  # first import: records the sources' digest
    files = _fake_cache(cache)
    _import_engine(tmp_path)  # nothing changed: the cache stays
    assert all(f.exists() for f in files)
    with open(engine / "heap.py", "a") as f:
        f.write("\n# an edit\n")
    _import_engine(tmp_path)  # heap.py changed: every cached function goes
    assert not any(f.exists() for f in files)
    assert (cache / "zclab-engine-sources.sha256").exists()
    _fake_cache(cache)
    _import_engine(tmp_path)  # and the new digest holds
    assert all(f.exists() for f in files)


@pytest.mark.slow
def test_a_damaged_cache_is_reported_with_its_directory_emptied_and_the_engine_compiled_again(tmp_path):
    # a copy of the package with the suite's warm cache, every compiled variant of
    # core.run cut to 1,000 bytes (a full disk, a killed write): the first run said
    # only "UnpicklingError: pickle data was truncated", and so did every later one
    shutil.copytree(PACKAGE, tmp_path / "zclab_copy")
    cache = tmp_path / "zclab_copy" / "model" / "engine" / "__pycache__"
    damaged = sorted(cache.glob("core.run-*.nbc"))
    assert damaged, "the suite's session leaves a warm cache beside core.py"
    for f in damaged:
        f.write_bytes(f.read_bytes()[:1000])
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(tmp_path)
    code = ("import zclab_copy as z, zclab; "
            "a = z.simulate(n_packets=2000).summary; b = z.simulate(n_packets=2000).summary; "
            "c = zclab.simulate(n_packets=2000).summary; print(a['mpps'] == b['mpps'] == c['mpps'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr[-2000:]
    assert str(cache) in out.stderr and "is damaged (UnpicklingError" in out.stderr
    assert out.stderr.count("is damaged") == 1  # once: the rebuilt cache serves the second run
