"""Calibration: the scenario checks pass on the presets and fail on wrong settings, the
fit recovers known parameters, the presets exist, and notebook 01 runs at its quick size."""

import math

import nbformat
import pytest

from zclab import Config
from zclab.trust import calibration as cal, sensitivity
from zclab.studies import notebooks
from zclab.model.presets import HOST_PRESETS


@pytest.fixture(scope="module")
def checks():
    return cal.run_checks(quick=True)


def test_every_check_passes_on_the_presets(checks):
    assert len(checks) == 16
    assert checks["ok"].all(), cal.failures(checks).to_string()
    # the published figures come from the CSV
    row = checks[checks["quantity"] == "zc flow, limited, stall (pps)"].iloc[0]
    assert row["published"] == 400 and 200 <= row["simulated"] <= 800


# A deliberately wrong setting for each scenario, and the rows it must fail.
WRONG = [
    ("willem_2017", {"per_packet_ns": 20_000.0}, ["zc flow, no limit (pps)", "copied flow, no limit (pps)"]),
    # the fix undone: the fallback case stalls like v4.14
    ("willem_2017", {"pend_placement": "stall"}, ["copied flow, limited, fallback / no limit"]),
    # a pending budget far beyond what 1 Mbit/s drains in the run: no stall, both flows far above 800 pps
    ("willem_2017", {"max_pend_rule": "fixed", "max_pend": 4096, "ring_size": 8192, "uio_maxiov": 8192},
     ["copied flow, limited, stall (pps)"]),
    # a host slower than 200 packets per second (runs that cannot finish count as failed)
    ("willem_2017", {"per_packet_ns": 5e6}, ["zc flow, limited, stall (pps)", "copied flow, limited, stall (pps)"]),
    ("willem_2017", {"egress_queue": 4}, ["copied flow, limited, stall (pps)"]),  # netem drops: no stall
    ("rh_vendor", {"host_stack_ns_per_byte": 0.0}, ["host CPU saved, 64 KB to the wire"]),
    ("rh_vendor", {"copy_ns_per_byte": 2.0}, ["throughput zero-copy / copy, 64 KB",
                                              "throughput, copy, 64 KB / the line's goodput"]),
    ("rh_vendor", {"goodcopy_len": 0}, ["host CPU zero-copy / copy, 64 B", "host CPU zero-copy / copy, 243 B"]),
    # pinning 16 pages at 3 us each: zero-copy to a host socket far more than a minor regression
    ("mst_2012", {"pin_ns_per_page": 3000.0}, ["host CPU per byte zero-copy / copy, 64 KB to a host socket",
                                               "throughput zero-copy / copy, 64 KB to a host socket"]),
    ("mst_2012", {"zc_setup_ns": 0.0, "pin_ns_per_page": 0.0, "callback_ns": 0.0},
     ["host CPU per byte zero-copy / copy, 64 KB to a host socket"]),
    ("jasowang_2019", {"used_ring_ns": 0.0, "zc_setup_ns": 0.0, "pin_ns_per_page": 0.0, "callback_ns": 0.0},
     ["packet rate copy / zero-copy, 64 B", "packet rate copy / zero-copy, 512 B"]),
    ("jasowang_2018", {"per_packet_ns": 400.0}, ["packet rate, tx_batch=1 (pps)", "packet rate, tx_batch=64 (pps)"]),
    ("jasowang_2018", {"used_ring_ns": 0.0}, ["packet rate, tx_batch=1 (pps)"]),
]


@pytest.mark.parametrize("scenario,overrides,rows", WRONG, ids=[f"{w[0]}-{'-'.join(w[1])}" for w in WRONG])
def test_a_wrong_setting_fails_the_check(scenario, overrides, rows):
    checks, _ = cal.run_scenario(scenario, overrides, quick=True)
    failed = set(checks.loc[~checks["ok"], "quantity"])
    assert set(rows) <= failed, (rows, checks[["quantity", "simulated", "lo", "hi", "ok"]].to_string())


def test_every_check_row_is_failed_by_some_wrong_setting(checks):
    covered = {q for _, _, rows in WRONG for q in rows}
    assert set(checks["quantity"]) <= covered, set(checks["quantity"]) - covered


def test_the_fit_recovers_known_parameters_from_synthetic_points():
    truth = {"per_packet_ns": 310.0, "used_ring_ns": 40.0}
    targets = [cal.copy_rate_2018(cal.HOST_MODERN, truth, tb) for tb in (1, cal.VHOST_NET_BATCH)]
    fr = cal.fit_modern_host(targets=targets)
    assert fr.success
    got = fr.overrides()
    for k, v in truth.items():
        assert got[k] == pytest.approx(v, rel=5e-3), (k, got)
    assert (fr.residuals()["residual_sigmas"].abs() < 1e-3).all()
    assert all(0 < sd < math.inf for sd in fr.sd)

    fr = cal.fit_calibrated_2011(target=0.30)
    assert fr.residuals()["simulated"].iloc[0] == pytest.approx(0.30, abs=1e-4)
    assert cal.cpu_saving_64k(cal.HOST_2011, fr.overrides())[0] == pytest.approx(0.30, abs=1e-4)


def test_the_presets_exist_validate_and_match_their_fits():
    for name in ("calibrated-2011", "modern-host"):
        assert name in HOST_PRESETS
        assert set(HOST_PRESETS[name]) == set(HOST_PRESETS["assumed-2011"])  # switching host resets every cost
        cfg = Config(host=name)
        for k, v in HOST_PRESETS[name].items():
            assert getattr(cfg, k) == v
    table = cal.preset_check([cal.fit_modern_host(), cal.fit_calibrated_2011()])
    assert table["ok"].all(), table.to_string()


def test_ranges_report_the_bounds_the_statements_set():
    scan, rng = cal.ranges(cal.HOST_2011, ["pin_ns_per_page", "local_rx_ns_per_packet"], factors=[0.25, 1.0, 2.0, 4.0])
    r = rng.set_index("parameter")
    # guest-to-host zero-copy pins, then copies in the worker: a "minor" regression bounds the pin
    assert r.loc["pin_ns_per_page", "hi"] == 300.0 and not r.loc["pin_ns_per_page", "hi_open"]
    assert "host socket" in r.loc["pin_ns_per_page", "fails_above"]
    # the copy stays in the worker, so no receiver cost lets zero-copy gain: not constrained
    assert r.loc["local_rx_ns_per_packet", "lo_open"] and r.loc["local_rx_ns_per_packet", "hi_open"]


def test_sensitivity_headlines_move_with_the_costs_that_define_them():
    base = sensitivity.best_goodcopy_len()
    # analytic break-even: (zc_setup + pin + callback) / copy_ns_per_byte = 600 / 0.25 = 2400 (plus signals)
    assert 2200 <= base <= 2700
    assert sensitivity.best_goodcopy_len(overrides={"copy_ns_per_byte": 0.5}) < base / 1.5
    assert sensitivity.best_goodcopy_len(overrides={"pin_ns_per_page": 1e6}) == math.inf


@pytest.mark.slow
def test_notebook_runs_at_quick_size_and_writes_its_frames(tmp_path):
    params = {"data_dir": str(tmp_path / "data"), "figures_dir": str(tmp_path / "figures"),
              "store": str(tmp_path / "store")}
    runs = notebooks.run_notebooks(["01_calibration"], params, quick=True, output_dir=tmp_path / "runs", timeout=600)
    assert [(r.name, r.ok, r.error) for r in runs] == [("01_calibration", True, None)]
    for name in ("calibration_checks", "calibration_fits", "calibration_ranges", "calibration_sensitivity"):
        assert (tmp_path / "data" / f"{name}.parquet").stat().st_size > 0
    for name in ("calibration_checks", "calibration_two_flow", "calibration_sensitivity"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0
    executed = nbformat.read(runs[0].output, as_version=4)
    assert executed.metadata.papermill.parameters["quick"] is True


def test_the_notebooks_last_cell_raises_on_a_failed_check():
    nb = nbformat.read(notebooks.NOTEBOOKS_DIR / "01_calibration.ipynb", as_version=4)
    assert "raise AssertionError" in nb.cells[-1].source and "cal.failures(checks)" in nb.cells[-1].source
