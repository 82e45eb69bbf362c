"""Shared fixtures: small configurations that run in milliseconds."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest

from zclab import Config


@pytest.fixture
def small():
    """A factory of small runs: ``small(mode="copy")`` -> Config."""

    def make(**kw):
        kw.setdefault("n_packets", 3_000)
        kw.setdefault("warmup_packets", 300)
        return Config(**kw)

    return make
