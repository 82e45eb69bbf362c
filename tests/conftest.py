"""Shared fixtures: small configurations that run in milliseconds."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from zclab import Config


def pytest_sessionstart(session):
    """Compile (or load) the engine's eight variants before any test runs. The
    suite uses all of them; compiled on first use, several would land in whichever
    test first needs them (one hypothesis test draws most), and on a slow machine
    their compile time alone can pass that test's timeout. A compile takes one core
    and up to 1 GB: one process per core compiles its share (at most 8)."""
    from zclab import warmup

    processes = min(os.cpu_count() or 1, 8)
    seconds = warmup(every_variant=True, processes=processes)
    print(f"\nzclab: the engine's 8 variants compiled or loaded from numba's cache in {seconds:.1f} s "
          f"({processes} process{'es' if processes > 1 else ''})", flush=True)


@pytest.fixture
def small():
    """A factory of small runs: ``small(mode="copy")`` -> Config."""

    def make(**kw):
        kw.setdefault("n_packets", 3_000)
        kw.setdefault("warmup_packets", 300)
        return Config(**kw)

    return make
