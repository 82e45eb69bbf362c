"""The command line: a readable table or JSON; bad input exits 2 with one line."""

import json
import subprocess
import sys

import pytest

from zclab.cli import main


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "zclab.cli", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def test_simulate_prints_a_table(capsys):
    assert main(["simulate", "--set", "n_packets=5000"]) == 0
    out = capsys.readouterr().out
    assert "throughput_gbps" in out and "latency_p99_ns" in out and "policy=seed-2011" in out


def test_simulate_json_is_strict_json_with_config_and_summary(capsys):
    assert main(["simulate", "--preset", "mainline-stall", "--preset", "tcp_stream_64k", "--set", "n_packets=2e3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)  # NaN would not parse strictly
    assert record["config"]["policy"] == "mainline-stall" and record["config"]["size_bytes"] == 65536
    assert record["summary"]["packets"] == 2000
    assert record["summary"]["drop_fraction"] is None  # nothing to measure: null, not NaN


def test_set_values_are_typed(capsys):
    assert main(["simulate", "--set", "n_packets=1_000", "--set", "signal_every_publish=yes",
                 "--set", "size_dist=empirical", "--set", "size_table=64:1,1500:1", "--json"]) == 0
    cfg = json.loads(capsys.readouterr().out)["config"]
    assert cfg["signal_every_publish"] is True and cfg["size_table"] == "64:1,1500:1"


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
        (["simulate", "--preset", "seed-2011", "--preset", "mainline-stall"], "already given"),
        (["simulate", "--set", "max_pend=4096"], "must not exceed uio_maxiov"),
        (["simulate", "--frobnicate"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, fragment):
    code, out, err = run_cli(*args)
    assert code == 2
    assert fragment in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_failed_run_exits_1_without_traceback():
    code, _, err = run_cli("simulate", "--set", "max_events=100")
    assert code == 1 and "max_events=100" in err and "Traceback" not in err


def test_installed_entry_point_runs():
    """pip install puts a ``zclab`` script beside the interpreter."""
    from pathlib import Path

    exe = Path(sys.executable).parent / "zclab"
    assert exe.exists(), "the project is not installed (python -m pip install -e '.[dev]')"
    p = subprocess.run([str(exe), "simulate", "--set", "n_packets=1000"], capture_output=True, text=True)
    assert p.returncode == 0 and "mpps" in p.stdout
