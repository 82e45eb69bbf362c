"""The command line: a readable table or JSON; bad input exits 2 with one line."""

import json
import os
import subprocess
import sys

import pytest

from zclab import Config
from zclab.cli import main


def run_cli(*args):
    """``zclab ARGS`` in a process of its own: (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "zclab.cli", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def run_main(*args):
    """``zclab ARGS`` in this process (a third of a second less than run_cli, for the
    many cases of bad input): (exit code, stdout, stderr). An exception that main()
    lets through fails the test with its traceback, as it would end the command."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's own exits
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_simulate_prints_a_table(capsys):
    assert main(["simulate", "--set", "n_packets=5000"]) == 0
    out = capsys.readouterr().out
    assert "throughput_gbps" in out and "latency_p99_ns" in out and "policy=seed-2011" in out


def test_simulate_json_is_strict_json_with_config_and_summary(capsys):
    assert main(["simulate", "--preset", "ring-quarter-stall", "--preset", "tcp_stream_64k", "--set", "n_packets=2e3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)  # NaN would not parse strictly
    assert record["config"]["policy"] == "ring-quarter-stall" and record["config"]["size_bytes"] == 65536
    assert record["summary"]["packets"] == 2000
    assert record["summary"]["drop_fraction"] is None  # nothing to measure: null, not NaN


def test_set_values_are_typed(capsys):
    assert main(["simulate", "--set", "n_packets=1_000", "--set", "signal_every_publish=yes",
                 "--set", "size_dist=empirical", "--set", "size_table=64:1,1500:1", "--json"]) == 0
    cfg = json.loads(capsys.readouterr().out)["config"]
    assert cfg["signal_every_publish"] is True and cfg["size_table"] == "64,1500"


def test_size_table_from_a_csv_file(tmp_path, capsys):
    f = tmp_path / "mix.csv"
    f.write_text("size,weight\n64,3\n9000,1\n")
    assert main(["simulate", "--set", "size_dist=empirical", "--set", f"size_table=@{f}", "--set", "n_packets=1000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["size_table"] == "64:3,9000:1"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["simulate", "--set", "ring_size=300"], "ring_size=300: must be a power of two"),
        (["simulate", "--set", "rign_size=512"], "did you mean 'ring_size'"),
        (["simulate", "--set", "n_packets"], "expected key=value"),
        (["simulate", "--set", "n_packets=lots"], "n_packets='lots': must be a number"),
        (["simulate", "--set", "debug=maybe"], "debug='maybe': must be true or false"),
        (["simulate", "--preset", "nope"], "unknown preset"),
        (["simulate", "--preset", "seed-2011", "--preset", "ring-quarter-stall"], "already given"),
        (["simulate", "--set", "max_pend=4096"], "must not exceed uio_maxiov"),
        (["simulate", "--frobnicate"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
        (["params", "rign_size"], "'rign_size': unknown parameter; did you mean 'ring_size'?"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, fragment):
    code, out, err = run_main(*args)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_params_lists_every_parameter_with_its_default_and_what_it_accepts(capsys):
    from zclab.model.config import PARAMETERS

    assert main(["params"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and not line.startswith("   ")]
    assert listed == list(PARAMETERS)
    assert out.count("allowed: ") == len(PARAMETERS)
    ring = next(line for line in out.splitlines() if line.startswith("  ring_size "))
    assert ring.split()[1] == "256" and "vring.num" in ring


def test_params_json_gives_the_defaults_a_config_has_and_who_sets_them(capsys):
    assert main(["params", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert Config.from_dict({k: r["default"] for k, r in rows.items()}) == Config()
    assert rows["per_packet_ns"]["set_by_presets"] == ["host"] and rows["per_packet_ns"]["unit"] == "ns"
    assert rows["arrival"]["set_by_presets"] == ["workload"]
    assert rows["pend_placement"]["set_by_presets"] == ["policy"] and rows["max_pend"]["set_by_presets"] == []
    assert rows["seed"]["set_by_presets"] == [] and rows["seed"]["allowed"] == f"from 0 to {2**63 - 1}"
    assert main(["params", "completion", "ring_size", "--json"]) == 0
    picked = json.loads(capsys.readouterr().out)
    assert list(picked) == ["completion", "ring_size"]
    assert picked["completion"]["allowed"] == "one of 'in_order', 'out_of_order'"
    assert picked["completion"]["with_others"] is None and rows["max_pend"]["with_others"] == "at most uio_maxiov"


@pytest.mark.slow  # a process of its own
def test_a_failed_run_exits_1_without_traceback():
    code, _, err = run_cli("simulate", "--set", "max_events=100")
    assert code == 1 and "max_events=100" in err and "Traceback" not in err


@pytest.mark.slow  # a process of its own
def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`zclab simulate --json | head`: no error line, no traceback, SIGPIPE's exit code."""
    p = subprocess.Popen([sys.executable, "-m", "zclab.cli", "simulate", "--set", "n_packets=2000", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # gone before the record is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141
    assert err == ""


def test_installed_entry_point_runs():
    """pip install puts a ``zclab`` script beside the interpreter."""
    from pathlib import Path

    exe = Path(sys.executable).parent / "zclab"
    assert exe.exists(), "the project is not installed (python -m pip install -e '.[dev]')"
    p = subprocess.run([str(exe), "simulate", "--set", "n_packets=1000"], capture_output=True, text=True)
    assert p.returncode == 0 and "mpps" in p.stdout


# --- flows (model.md section 6) ------------------------------------------------------------------

FLOWS_JSON = '[{"name": "zc", "share": 0.5, "size_dist": "fixed", "size_bytes": 298}, {"name": "small", "share": 0.5, "size_dist": "fixed", "size_bytes": 43, "dest": "local"}]'
FLOWS_TOML = """
[[flows]]
name = "zc"
share = 0.5
size_dist = "fixed"
size_bytes = 298

[[flows]]
name = "small"
share = 0.5
size_dist = "fixed"
size_bytes = 43
dest = "local"
"""
FLOWS_YAML = """
flows:
  - {name: zc, share: 0.5, size_dist: fixed, size_bytes: 298}
  - {name: small, share: 0.5, size_dist: fixed, size_bytes: 43, dest: local}
"""


def _flows_file(tmp_path, suffix):
    f = tmp_path / f"flows{suffix}"
    f.write_text({".json": FLOWS_JSON, ".toml": FLOWS_TOML, ".yaml": FLOWS_YAML, ".yml": FLOWS_YAML}[suffix])
    return f


@pytest.mark.parametrize("how", ["json", ".json", ".toml", ".yaml", ".yml"])
def test_set_flows_from_json_text_or_a_file(how, tmp_path, capsys):
    value = FLOWS_JSON if how == "json" else f"@{_flows_file(tmp_path, how)}"
    assert main(["simulate", "--set", f"flows={value}", "--set", "n_packets=2000", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    flows = json.loads(record["config"]["flows"])
    assert [f["name"] for f in flows] == ["zc", "small"] and flows[1]["dest"] == "local"
    s = record["summary"]
    assert s["flow_zc_packets"] + s["flow_small_packets"] == s["packets"] == 2000
    assert s["flow_small_zerocopy_fraction"] == 0.0 and s["flow_zc_zerocopy_fraction"] == 1.0


def test_the_table_shows_one_row_per_flow(capsys):
    assert main(["simulate", "--set", f"flows={FLOWS_JSON}", "--set", "n_packets=2000"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[out.splitlines().index("flows") + 1:] if line.strip()}
    assert "latency_p99_ns" in rows["name"] and "zc" in rows and "small" in rows
    assert "egress_drops" in out and "used_updates_per_packet" in out


def test_set_flows_none_clears_the_table(capsys):
    assert main(["simulate", "--set", f"flows={FLOWS_JSON}", "--set", "flows=none", "--set", "n_packets=1000", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["config"]["flows"] is None and not any(k.startswith("flow_") for k in record["summary"])


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("@{tmp}/missing.json", "no such file"),
        ("@{tmp}/flows.txt", "a flows file must end in .json, .toml, .yaml, .yml"),
        ("@{tmp}/bad.yaml", "cannot parse the file"),
        ("@{tmp}/bad.toml", "cannot parse the file"),
        ("@{tmp}/bad.json", "cannot parse the file"),
        ('[{"name": "a",}]', "must be a JSON list of flow tables or @FILE"),
        ('[{"name": "a", "shar": 1}]', "flows[0].shar=1: unknown flow field; did you mean 'share'?"),
        ('[{"name": "a"}, {"name": "a"}]', "flow names must be unique"),
        ('[{"name": "a", "dest": "moon"}]', "flows[0].dest='moon': must be one of 'wire', 'local'"),
        ('{"name": "a"}', "flows[0]"),
    ],
)
def test_bad_flows_exit_2_with_one_line(value, fragment, tmp_path):
    (tmp_path / "flows.txt").write_text(FLOWS_JSON)
    (tmp_path / "bad.yaml").write_text("flows:\n  - {name: a, share: 3\n  - name: b\n")
    (tmp_path / "bad.toml").write_text("[[flows]]\nname = \n")
    (tmp_path / "bad.json").write_text("[{\"name\": \"a\"}")
    code, out, err = run_main("simulate", "--set", "flows=" + value.replace("{tmp}", str(tmp_path)), "--set", "n_packets=100")
    assert code == 2, err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_sweep_spec_can_grid_over_flows_tables(tmp_path, capsys):
    import pandas as pd

    flows_file = _flows_file(tmp_path, ".toml")
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
name = "two_flows"
[base]
n_packets = 1000
warmup_packets = 100
[grid]
policy = ["ring-quarter-stall", "linux-4.15"]
flows = [
  [{{name = "zc", size_dist = "fixed", size_bytes = 298, egress_rate_mbps = 1.0}}, {{name = "small", size_dist = "fixed", size_bytes = 43}}],
  "{flows_file}",
]
""")
    out = tmp_path / "frame.parquet"
    assert main(["sweep", str(spec), "--workers", "1", "--store", str(tmp_path / "store"), "--output", str(out), "--no-progress"]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 4 and df["flow_small_mpps"].notna().all() and df["flow_zc_mpps"].notna().all()
    stall, fallback = df.iloc[0], df.iloc[2]  # the limited zero-copy flow: stall vs copy fallback
    assert fallback["flow_small_mpps"] > 100 * stall["flow_small_mpps"]


@pytest.mark.slow  # a process of its own
def test_a_first_run_that_must_compile_says_so_and_a_cached_one_says_nothing(tmp_path, monkeypatch, capsys):
    # an empty numba cache: the default run's variant would have to be compiled
    probe = "from zclab import Config; from zclab.model.simulation import to_compile; print(bool(to_compile(Config())))"
    cold = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    assert cold.stdout.strip() == "True", cold.stderr
    warm = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert warm.stdout.strip() == "False", warm.stderr  # the suite's session warmed the cache
    assert main(["simulate", "--set", "n_packets=1000"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("zclab.model.simulation.to_compile", lambda *cfgs: {(False, False, False)})
    assert main(["simulate", "--set", "n_packets=1000"]) == 0
    assert "compiling the engine for this kind of run" in capsys.readouterr().err


def test_a_sweep_says_when_it_compiles_the_engine_first(tmp_path, monkeypatch, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "orders"\n[base]\nn_packets = 500\nwarmup_packets = 50\n'
                    '[grid]\ncompletion = ["in_order", "out_of_order"]\n')
    args = ["sweep", str(spec), "--store", str(tmp_path / "store"), "--workers", "1", "--no-progress"]
    assert main(args) == 0
    assert "compiling" not in capsys.readouterr().out  # the suite's session warmed the cache
    seen = []
    monkeypatch.setattr("zclab.model.simulation.to_compile", lambda *cfgs: seen.extend(cfgs) or {(False,) * 3, (False, False, True)})
    assert main([*args[:3], str(tmp_path / "store2"), *args[4:]]) == 0
    out = capsys.readouterr().out
    assert "compiling 2 variant(s) of the engine first, 1 at a time" in out
    assert sorted(c.completion for c in seen) == ["in_order", "out_of_order"]  # asked about every run to compute


@pytest.mark.slow  # a real SIGINT to a process of its own, after it has started a long run
def test_ctrl_c_ends_a_long_simulate_at_once():
    """Compiled code never checks Python's interrupt flag: without its own handling
    a Ctrl-C would wait for the whole run (here about an hour)."""
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "zclab.cli", "simulate", "--set", "n_packets=50_000_000_000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's
    time.sleep(3)  # imported, and inside the run (the cache is warm: under a second)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGINT and time.monotonic() - t0 < 30
    assert "Traceback" not in proc.stderr.read()
