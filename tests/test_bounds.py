"""No valid input crashes the engine: every numeric parameter is bounded where the
engine's arithmetic needs it (zclab/model/config.py, MAX_NS), and a run at any point of
the valid space, extremes included, ends with a result whose numbers are finite
(NaN where a quantity is undefined) or with a clear error: a ConfigError for a
combination the fields' own bounds allow but the model does not, a SimulationError
at the event cap. Never a segmentation fault, an infinity or a hang."""

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zclab import Config, ConfigError, simulate
from zclab.cli import main
from zclab.model.config import PARAMETERS
from zclab.model.simulation import SimulationError

# Fields whose extremes are run sizes, not arithmetic: the event cap ends such a run
# (n_packets), or its arrays are the size the user asked for (trace_packets).
RUN_SIZE = {"n_packets": 60, "warmup_packets": 20, "trace_packets": 30}
NUMERIC = [n for n, m in PARAMETERS.items() if m["kind"] in ("int", "float") and n not in RUN_SIZE]
TIED = {"max_pend", "reap_threshold", "uio_maxiov"}
# The event cap stays at CAP in the random draws (the test at the bounds still gives it
# its extremes): drawn up to 2**62 it bounds nothing, and one fast-tier run spent 214 s
# in this test (2026-12-05; the example was not kept, and 900 later draws ran in 1 s)
ANYWHERE = [n for n in NUMERIC if n != "max_events"]
CAP = 200_000  # events: a run that would go on longer stops with SimulationError


def _extremes(name):
    m = PARAMETERS[name]
    lo = m.get("min", m.get("min_exclusive"))
    hi = m.get("max")
    out = [v for v in (lo, hi, m.get("off_or_min")) if v is not None]
    if "min_exclusive" in m:
        out = [v for v in out if v > m["min_exclusive"]]
    if m["kind"] == "int":
        out = [int(v) for v in out]
    return out


def _outcome(cfg_kw):
    """Run a configuration; returns 'ok', 'config' or 'cap', and checks the result."""
    try:
        cfg = Config(**{**RUN_SIZE, "max_events": CAP, **cfg_kw})
    except ConfigError:
        return "config"
    try:
        r = simulate(cfg)
    except SimulationError:
        return "cap"
    for k, v in r.summary.items():
        if isinstance(v, float):
            assert not math.isinf(v), (k, v, cfg_kw)
    assert r.summary["invariant_violations"] == 0, cfg_kw
    return "ok"


@pytest.mark.parametrize("arrival", ["saturate", "poisson"])
@pytest.mark.parametrize("name", NUMERIC)
def test_every_numeric_parameter_at_its_bounds_gives_a_finite_result_or_a_clear_error(name, arrival):
    outcomes = [_outcome({"arrival": arrival, name: v}) for v in _extremes(name)]
    # alone, at its bounds, every field is a valid configuration except where a rule
    # ties it to another field (max_pend and reap_threshold to uio_maxiov, the size of heads[])
    assert "config" not in outcomes or name in TIED, (name, outcomes)


def test_the_bounds_that_keep_time_finite_are_stated_and_enforced():
    # a rate of 1e-299 packets/s once overflowed the next arrival to infinity and
    # crashed the compiled loop (issue 20); costs of 1e308 made infinite times
    for name, bad in (("rate_pps", 1e-299), ("egress_rate_pps", 1e-9), ("egress_rate_mbps", 1e-9),
                      ("line_rate_gbps", 1e-300), ("per_packet_ns", 1e308), ("dma_base_ns", 1e13),
                      ("copy_ns_per_byte", 1e7), ("max_events", 2**63 - 1), ("max_pend", 2**40)):
        with pytest.raises(ConfigError, match=name):
            Config(**{name: bad})


@pytest.mark.parametrize("name, bound", [("rate_pps", "from 1 to 1e+10"), ("per_packet_ns", "from 0 to 1e+12"),
                                         ("copy_ns_per_byte", "from 0 to 1e+06"), ("line_rate_gbps", "from 0.001 to 100000"),
                                         ("max_events", "from 0 to 4611686018427387904"),
                                         ("egress_rate_mbps", "0 (off) or from 0.001 to 1e+07")])
def test_zclab_params_states_each_bound(name, bound, capsys):
    assert main(["params", name]) == 0
    assert "allowed: " + bound in " ".join(capsys.readouterr().out.split())


def test_the_cli_refuses_the_rate_that_crashed_the_engine_with_exit_2(capsys):
    assert main(["simulate", "--set", "n_packets=1000", "--set", "arrival=poisson", "--set", "rate_pps=1e-299"]) == 2
    err = capsys.readouterr().err.strip()
    assert "rate_pps" in err and len(err.splitlines()) == 1, err


def test_the_engine_ends_a_run_whose_next_arrival_is_never_rather_than_dispatch_at_infinity():
    # Below the bounds (only a hand-built parameter record gets there): the arrival gap
    # is infinite, so no event is ever due. The engine reports a deadlock at once.
    from zclab.model.engine import layout as L
    from zclab.model.engine.core import run
    from zclab.model.engine.histogram import N_BUCKETS
    from zclab.model.presets import SIMPLE_GUEST, SYNTHETIC_NIC
    from zclab.model.simulation import kernel_args

    a = kernel_args(Config(**SYNTHETIC_NIC, **SIMPLE_GUEST, arrival="poisson", n_packets=100, warmup_packets=0))
    a["fl_f"][:, L.FF_GAP] = np.inf
    out = np.zeros(1, L.RUN)
    status = run(a["params"], a["fl_i"], a["fl_f"], a["flow_thresh"], a["flow_alias"], a["size_vals"], a["size_thresh"],
                 a["size_alias"], out, np.zeros(N_BUCKETS, np.int64), np.zeros((1, len(L.FLOW_I)), np.int64),
                 np.zeros((1, len(L.FLOW_F))), np.zeros((1, 1), np.int64), np.zeros((0, len(L.TRACE_F))),
                 np.zeros((0, len(L.TRACE_I)), np.int64), open_loop=True)
    assert status == L.STATUS_DEADLOCK and out[0]["violations"] == 0


def _value(name):
    """A value of a numeric field: a bound, the default, or one drawn log-uniformly between."""
    m = PARAMETERS[name]
    choices = [st.sampled_from(_extremes(name) or [m["default"]]), st.just(m["default"])]
    lo, hi = m.get("min", m.get("min_exclusive")), m.get("max")
    if lo is not None and hi is not None and hi > max(lo, 0):
        base = max(lo, m.get("off_or_min", 0), 1e-3 if m["kind"] == "float" else 1)
        if m.get("pow2"):
            choices.append(st.integers(int(math.log2(lo)), int(math.log2(hi))).map(lambda e: 2**e))
        else:
            x = st.floats(math.log10(base), math.log10(hi)).map(lambda e: 10**e)
            choices.append(x.map(lambda v: int(round(v))) if m["kind"] == "int" else x)
    return st.one_of(*choices)


@st.composite
def anywhere(draw):
    """A configuration from anywhere in the valid space: 1 to 6 numeric fields at a bound,
    the default or in between, and the choices drawn too."""
    kw = {}
    for name in draw(st.lists(st.sampled_from(ANYWHERE), min_size=1, max_size=6, unique=True)):
        kw[name] = draw(_value(name))
    for name, m in PARAMETERS.items():
        if m["kind"] == "choice" and draw(st.integers(0, 3)) == 0:
            kw[name] = draw(st.sampled_from(m["choices"]))
        elif m["kind"] == "bool" and draw(st.integers(0, 3)) == 0:
            kw[name] = draw(st.booleans())
    return kw


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anywhere())
def test_a_run_anywhere_in_the_valid_space_ends_with_a_finite_result_or_a_clear_error(kw):
    assert _outcome(kw) in ("ok", "config", "cap")


def test_debug_raises_for_a_violation_the_end_of_run_checks_find(monkeypatch):
    # The loop stops at a violation under debug; byte conservation is checked after the
    # loop, in a run that finished. A stand-in engine reports such a run: debug must
    # raise for it, and without debug the summary must count it.
    from zclab.model import simulation
    from zclab.model.engine import layout as L
    from zclab.model.simulation import InvariantViolation

    real = simulation.run

    def conservation_broken(*args, **kw):
        status = real(*args, **kw)
        out = args[8][0]
        out["violations"] += 1
        out["first_violation"] = 8
        return status

    monkeypatch.setattr(simulation, "run", conservation_broken)
    assert 8 in L.VIOLATIONS
    with pytest.raises(InvariantViolation, match=re.escape(L.VIOLATIONS[8][:20])):
        simulate(n_packets=500, debug=True)
    assert simulate(n_packets=500).summary["invariant_violations"] == 1
