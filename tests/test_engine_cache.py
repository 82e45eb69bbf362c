"""numba's cache of the engine is keyed by core.py alone; the package drops it
when any engine source changes, so that an edit of a helper (heap.py, rng.py)
is never tested against old machine code."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import zclab

PACKAGE = Path(zclab.__file__).parent


def _import_engine(root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(root)
    # a copy under another name: the editable install would shadow a copy named zclab
    code = "import zclab_copy.engine, sys; sys.exit(0 if zclab_copy.engine.__file__.startswith(sys.argv[1]) else 3)"
    subprocess.run([sys.executable, "-c", code, str(root)], check=True, env=env, timeout=120)


def _fake_cache(cache: Path) -> list[Path]:
    cache.mkdir(exist_ok=True)
    files = [cache / "core.run-248.py311.nbi", cache / "core.run-248.py311.1.nbc"]
    for f in files:
        f.write_bytes(b"machine code of an older engine")
    return files


def test_an_edit_of_a_helper_drops_the_engine_cache(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / "zclab_copy", ignore=shutil.ignore_patterns("__pycache__"))
    engine = tmp_path / "zclab_copy" / "engine"
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
