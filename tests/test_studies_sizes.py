"""Notebook 02's study: copy against zero-copy by message size."""

import math

import pytest

import zclab
from zclab.studies import copy_vs_zerocopy as cz

HOSTS = [h for h in ("calibrated-2011", "modern-host") if h in zclab.HOST_PRESETS]


def cpb(host, size, mode, dest="wire"):
    cfg = cz.base_config(host, quick=True, size_bytes=size, mode=mode, dest=dest, n_packets=4_000, warmup_packets=500)
    return zclab.simulate(cfg).summary["host_cycles_per_byte"]


@pytest.mark.parametrize("host", HOSTS)
def test_zerocopy_costs_more_cpu_per_byte_at_64_bytes_and_less_at_64_kb(host):
    """To the wire: pinning a 64-byte packet costs more than copying it; a 64 KB one less."""
    assert cpb(host, 64, "zerocopy") > cpb(host, 64, "copy")
    assert cpb(host, 65536, "zerocopy") < cpb(host, 65536, "copy")


@pytest.mark.parametrize("host", HOSTS)
def test_to_a_local_socket_zerocopy_never_saves_cpu(host):
    """Guest to host: the pinned pages are copied at delivery anyway."""
    assert cpb(host, 65536, "zerocopy", "local") >= cpb(host, 65536, "copy", "local")


def test_crossover_interpolates_the_last_sign_change():
    assert cz.crossover_of([1, 2, 3], [1.0, -1.0, -2.0]) == pytest.approx(1.5)
    assert math.isnan(cz.crossover_of([1, 2, 3], [1.0, -1.0, 1.0]))  # dearer again at the largest size
    assert cz.crossover_of([1, 2, 3], [-1.0, -1.0, -1.0]) == 1.0
    assert math.isnan(cz.crossover_of([1, 2, 3], [1.0, 1.0, 1.0]))


def test_closed_form_crossover_moves_with_copy_and_pin_costs():
    """A cheaper copy or a costlier pin pushes the crossover up; a pin dearer than
    copying a page means no crossover at all."""
    base = zclab.Config(host="assumed-2011")
    x0 = cz.crossover_theory(base)
    assert 1000 < x0 < 4096  # (300 + 150 + 150) / 0.25 = 2400
    assert x0 == pytest.approx(2400)
    assert cz.crossover_theory(base.replace(copy_ns_per_byte=0.125)) > x0
    assert cz.crossover_theory(base.replace(pin_ns_per_page=300.0)) > x0
    assert math.isnan(cz.crossover_theory(base.replace(copy_ns_per_byte=0.01, pin_ns_per_page=100.0)))


def test_simulated_crossover_lies_near_the_send_path_costs():
    """The sweep's crossover to the wire is within a factor 2 of the closed form, and none locally."""
    agg = cz.size_sweep(["assumed-2011"], quick=True, store=None, progress=False)
    cross = cz.crossovers(agg).set_index("dest")
    wire = cross.loc["wire"]
    assert wire["theory_bytes"] / 2 < wire["crossover_bytes"] <= wire["theory_bytes"] * 1.05
    assert math.isnan(cross.loc["local", "crossover_bytes"])
    text, nums = cz.answer(agg, cz.crossovers(agg), cz.crossovers(agg.assign(copy_factor=1.0, pin_factor=1.0),
                                                                   by=("host", "copy_factor", "pin_factor")),
                           cz.workload_sweep(["assumed-2011"], quick=True, store=None, progress=False))
    assert "assumed-2011" in text.format(**nums)
