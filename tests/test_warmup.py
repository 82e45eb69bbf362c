"""zclab.warmup: compile (or load) exactly the engine variants a run will use."""

import itertools
import json
import os
import subprocess
import sys
import textwrap

import pytest

from zclab import Config, simulate
from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC
from zclab.model.simulation import _variant_config, variant, warmup


def test_variant_names_the_compile_time_arguments_a_config_needs():
    plain = Config(**SYNTHETIC_NIC, **SIMPLE_GUEST)  # the plain variant's wire is the synthetic NIC's, lossless
    assert variant(plain) == (False, False, False)
    assert variant(plain.replace(arrival="poisson")) == (False, True, False)
    assert variant(plain.replace(completion="out_of_order")) == (False, False, True)
    for extended in (Config(), plain.replace(trace_packets=5), plain.replace(qdisc="pfifo_fast"), plain.replace(gso_size=1448),
                     Config(dest="local"), Config(mode="copy", tx_batch=4), Config(duplicate_head_p=0.1),
                     Config(egress_rate_mbps=1000.0)):
        assert variant(extended)[0], extended


def test_every_variant_has_a_config_that_runs_in_it():
    for v in itertools.product((False, True), repeat=3):
        assert variant(_variant_config(*v)) == v


def _fresh_process(code: str, env: dict | None = None) -> str:
    """Run code in a new interpreter (the on-disk cache is warm: conftest compiled every
    variant; unless ``env`` points NUMBA_CACHE_DIR elsewhere)."""
    prelude = "import zclab\nfrom zclab.model.engine import core\nfrom zclab import Config, simulate, warmup\n"
    out = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=500, env=None if env is None else {**os.environ, **env})
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_warmup_loads_the_variants_of_the_configs_it_is_given_and_no_other():
    # In a fresh process nothing is loaded; after warmup(cfg), running cfg loads nothing more.
    n_warm, n_after, n_default = _fresh_process("""
        cfgs = [Config(completion="out_of_order", n_packets=500), Config(arrival="poisson", n_packets=500),
                Config(completion="out_of_order", n_packets=900)]
        warmup(*cfgs)
        n_warm = len(core.run.overloads)
        for c in cfgs:
            simulate(c)
        n_after = len(core.run.overloads)
        simulate(Config(n_packets=500))  # the default variant was not asked for
        print(n_warm, n_after, len(core.run.overloads))
    """)
    assert (n_warm, n_after, n_default) == ("2", "2", "3")


def test_warmup_with_no_config_loads_the_default_variant_and_every_variant_all_eight():
    n_default, n_after, n_all = _fresh_process("""
        warmup()
        n_default = len(core.run.overloads)
        simulate(Config(n_packets=500))
        n_after = len(core.run.overloads)
        warmup(every_variant=True)
        print(n_default, n_after, len(core.run.overloads))
    """)
    assert (n_default, n_after, n_all) == ("1", "1", "8")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="warmup(processes=N) forks")
def test_warmup_in_two_processes_fills_a_cold_cache_with_each_variant_under_its_own_key(tmp_path):
    # Two forked processes compile one variant each into an empty cache at the same
    # time; the parent then loads both without compiling either (no entry was lost),
    # and each variant's entry holds that variant's code: in order and out of order
    # give the results this process gets from its own cache.
    a, b = Config(n_packets=2000), Config(completion="out_of_order", n_packets=2000)
    hits, misses, got = _fresh_process("""
        import json
        from zclab.model.simulation import _cached_variants
        a, b = Config(n_packets=2000), Config(completion="out_of_order", n_packets=2000)
        assert not _cached_variants()  # an empty cache
        warmup(a, b, processes=2)
        # the default (coalesced) NIC runs in the extended variant (simulation.variant)
        assert _cached_variants() == {(True, False, False), (True, False, True)}
        hits, misses = sum(core.run.stats.cache_hits.values()), sum(core.run.stats.cache_misses.values())
        keys = ("latency_p99_ns", "hol_blocked_mean", "mpps")
        print(hits, misses, json.dumps([[simulate(c).summary[k] for k in keys] for c in (a, b)], separators=(",", ":")))
    """, env={"NUMBA_CACHE_DIR": str(tmp_path / "cache")})
    assert (hits, misses) == ("2", "0")
    want = [[simulate(c).summary[k] for k in ("latency_p99_ns", "hol_blocked_mean", "mpps")] for c in (a, b)]
    assert json.loads(got) == want and want[0] != want[1]


def test_warmup_checks_its_processes_argument():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="processes="):
            warmup(processes=bad)


def test_the_cache_index_names_every_variant_the_suite_compiled():
    # conftest compiled all eight: warmup reads that from the index and forks nothing
    from zclab.model.simulation import _cached_variants

    assert _cached_variants() == set(itertools.product((False, True), repeat=3))
