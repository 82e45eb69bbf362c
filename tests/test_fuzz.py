"""Fuzzing the doors: random --set values, spec files and Config calls, built from the
input classes of issue 20 (junk text, numbers past every bound, wrong types, extremes,
binary bytes, unknown names), each run in this process. Every invalid input must give
exit 2 and one line naming the field (ConfigError, SweepError from the API); every
valid one a result. The seed and the counts are printed; ZCLAB_FUZZ_SEED replays a run
and ZCLAB_FUZZ_CASES sets its size (default 2000 cases a door, about 20 s in all)."""

import math
import os
import random
import time

import pytest

from zclab import Config, ConfigError
from zclab.cli import main
from zclab.model.config import PARAMETERS
from zclab.sweeps.spec import load_spec
from zclab.sweeps.sweep import SweepError

SEED = int(os.environ.get("ZCLAB_FUZZ_SEED", int(time.time()) % 100_000))
CASES = int(os.environ.get("ZCLAB_FUZZ_CASES", 2000))
#: the fast tier's share: the first 300 of the same cases (the slow tier, which CI runs, takes all)
SIZES = pytest.mark.parametrize("cases", [min(300, CASES), pytest.param(CASES, marks=pytest.mark.slow)],
                                ids=["fast", "full"])
JUNK = ["", " ", "nan", "inf", "-inf", "1e999", "-1", "0", "1", "2", "3.5", "1e-300", "1e308", "true", "false",
        "None", "null", "[]", "{}", "[1, 2]", "abc", "0x10", "1_000", "  7 ", "\u00e9t\u00e9", "64:1,1500:x",
        "@/nonexistent.json", "9" * 30, "-0.0", "256", "1024", "65536", "saturate", "poisson", "imix", "copy"]
SMALL = ["--set", "n_packets=300", "--set", "warmup_packets=0", "--set", "max_events=300000"]


def _value(rng: random.Random, name: str) -> str:
    m = PARAMETERS.get(name, {})
    pick = rng.random()
    if pick < 0.4 or not m:
        return rng.choice(JUNK)
    if m["kind"] in ("choice", "preset"):
        return rng.choice(list(m["choices"]) + ["nope"])
    bounds = [v for v in (m.get("min"), m.get("max"), m.get("min_exclusive"), m.get("off_or_min")) if v is not None]
    if bounds and pick < 0.8:
        b = rng.choice(bounds)
        return repr(rng.choice([b, b * 2 + 1, -b, b / 2, b + 1, b - 1]))
    return repr(m["default"]) if not isinstance(m["default"], str) else m["default"]


def _names(rng: random.Random) -> list[str]:
    names = rng.sample(list(PARAMETERS), rng.randint(1, 3))
    if rng.random() < 0.1:
        names.append(rng.choice(["ring", "maxpend", "n_packet", "x", "__class__"]))
    return names


def _one_line_exit_2(capsys, code, what):
    out = capsys.readouterr()
    if code == 2:
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zclab: error: "), (what, out.err)
        return "refused"
    if code == 1:  # a valid configuration that hits its event cap: one line, exit 1
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("zclab: SimulationError: the run stopped after max_events"), (
            what, out.err)
        return "capped"
    assert code == 0, (what, code, out.err[-500:])
    return "ran"


@SIZES
def test_the_cli_answers_every_random_set_with_a_result_or_one_line_and_exit_2(capsys, cases):
    rng = random.Random(SEED)
    counts = {"ran": 0, "refused": 0, "capped": 0}
    t0 = time.perf_counter()
    for _ in range(cases):
        sets = []
        for name in _names(rng):
            sets += ["--set", f"{name}={_value(rng, name)}"]
        args = ["simulate", *SMALL, *sets, "--json"]
        counts[_one_line_exit_2(capsys, main(args), args)] += 1
    with capsys.disabled():
        print(f"\nfuzz --set: seed {SEED} (ZCLAB_FUZZ_SEED), {cases} cases: {counts['ran']} ran, "
              f"{counts['refused']} refused with exit 2, {counts['capped']} at their event cap (exit 1), "
              f"{time.perf_counter() - t0:.1f} s")
    assert counts["ran"] > 0 and counts["refused"] > 0


@SIZES
def test_the_api_answers_every_random_config_with_a_result_or_a_config_error(capsys, cases):
    from zclab import simulate
    from zclab.model.simulation import SimulationError

    rng = random.Random(SEED + 1)
    kinds = [None, True, 1, -1, 0.5, math.nan, math.inf, "x", b"\x80", [], {}, (1,), 10**30, -0.0, object()]
    ok = refused = 0
    for _ in range(cases):
        kw = {n: (rng.choice(kinds) if rng.random() < 0.5 else PARAMETERS[n]["default"]) for n in _names(rng)
              if n in PARAMETERS}
        try:
            cfg = Config(**{**kw, "n_packets": 300, "warmup_packets": 0, "max_events": 300_000})
        except ConfigError as exc:
            assert str(exc) and "\n" not in str(exc)
            refused += 1
            continue
        try:
            r = simulate(cfg)
        except SimulationError:
            refused += 1
            continue
        assert all(not (isinstance(v, float) and math.isinf(v)) for v in r.summary.values()), kw
        ok += 1
    with capsys.disabled():
        print(f"\nfuzz Config: seed {SEED + 1}, {cases} cases: {ok} ran, {refused} refused")
    assert ok > 0 and refused > 0


def _spec_text(rng: random.Random) -> bytes:
    if rng.random() < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    lines = []
    if rng.random() < 0.9:
        lines.append(f'name = "{rng.choice(["a", "b b", ""])}"')
    if rng.random() < 0.3:
        reps = rng.choice(["0", "1", "3", "-2", "1.5", "true", "10000000000", '"x"'])
        lines.append(f"replications = {reps}")
    if rng.random() < 0.2:
        lines.append(f"{rng.choice(['preset', 'grids', 'stor'])} = 1")
    if rng.random() < 0.8:
        lines.append("[base]")
        lines.append("n_packets = 300")
        lines.append("warmup_packets = 0")
        for n in _names(rng):
            v = _value(rng, n)
            lines.append(f"{n} = {v}" if rng.random() < 0.5 else f'{n} = "{v}"')
    if rng.random() < 0.9:
        lines.append("[grid]")
        n = rng.choice(list(PARAMETERS) + ["bogus"])
        vals = ", ".join(rng.choice(["1", "2", '"x"', "1e9", "[]", "true"]) for _ in range(rng.randint(0, 3)))
        lines.append(f"{n} = [{vals}]" if rng.random() < 0.8 else f"{n} = {vals or 1}")
    return ("\n".join(lines) + "\n").encode()


@SIZES
def test_random_spec_files_load_or_are_refused_naming_the_file(tmp_path, capsys, cases):
    rng = random.Random(SEED + 2)
    loaded = refused = 0
    for i in range(cases):
        path = tmp_path / f"spec{i}.toml"
        path.write_bytes(_spec_text(rng))
        try:
            spec = load_spec(path)
        except SweepError as exc:
            assert f"spec{i}.toml" in str(exc), str(exc)
            refused += 1
            continue
        assert spec.runs >= 1
        loaded += 1
    with capsys.disabled():
        print(f"\nfuzz specs: seed {SEED + 2}, {cases} files: {loaded} loaded, {refused} refused")
    assert loaded > 0 and refused > 0


@pytest.mark.parametrize("body", [b"\x00\xff" * 50, b'name = "x"\n[grid]\nseed = [1, 2]\n[grid]\n'])
def test_the_cli_refuses_a_broken_spec_with_one_line(tmp_path, capsys, body):
    spec = tmp_path / "s.toml"
    spec.write_bytes(body)
    assert main(["sweep", str(spec), "--store", str(tmp_path / "st"), "--dry-run", "--no-progress"]) == 2
    _one_line_exit_2(capsys, 2, body)
