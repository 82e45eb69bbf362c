"""Files a user hands zclab (sweep specs, size tables, flows) that are not what they
should be are refused by name, with exit 2 from the CLI: binary files, devices, files
past the size bound, and specs with the wrong types. (Issue 20.)"""

import contextlib

import pytest

from zclab import Config, ConfigError
from zclab.cli import main
from zclab.model.config import MAX_TABLE_FILE_BYTES
from zclab.sweeps.spec import load_spec
from zclab.sweeps.sweep import SweepError

BINARY = bytes(range(128, 256)) * 3  # not UTF-8


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zclab: error: "), err
    for f in fragments:
        assert f in err, (f, err)


@pytest.mark.parametrize("body, fragment", [
    (BINARY, "not a text file"),
    (b'name = "x"\n[base]\nn_packets = 500\npreset = 5\n[grid]\nseed = [1, 2]\n', "base.preset=5: must be a preset's name"),
    (b'name = "x"\n[base]\npreset = ["linux-3.14", "linux-4.15"]\n[grid]\nseed = [1, 2]\n',
     "a policy preset ('linux-3.14') was already given"),
])
def test_a_spec_that_is_not_text_or_has_the_wrong_types_is_refused_by_name(tmp_path, capsys, body, fragment):
    spec = tmp_path / "bad.toml"
    spec.write_bytes(body)
    with pytest.raises(SweepError, match="bad.toml"):
        load_spec(spec)
    assert main(["sweep", str(spec), "--store", str(tmp_path / "s"), "--dry-run", "--no-progress"]) == 2
    _one_line_error(capsys, "bad.toml", fragment)


def test_a_spec_past_the_size_bound_is_refused_before_it_is_parsed(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text('name = "x"\n' + "#" * MAX_TABLE_FILE_BYTES + "\n")
    with pytest.raises(SweepError, match="larger than 16 MiB"):
        load_spec(spec)


@pytest.mark.parametrize("field, fragment", [("size_table", "the CSV file is not UTF-8 text"),
                                             ("flows", "the file is not UTF-8 text")])
def test_a_binary_table_file_is_refused_by_name_with_exit_2(tmp_path, capsys, field, fragment):
    path = tmp_path / ("t.csv" if field == "size_table" else "f.json")
    path.write_bytes(BINARY)
    extra = ["--set", "size_dist=empirical"] if field == "size_table" else []
    value = str(path) if field == "size_table" else "@" + str(path)
    assert main(["simulate", "--set", "n_packets=100", *extra, "--set", f"{field}={value}"]) == 2
    _one_line_error(capsys, field, fragment)


def test_a_device_or_an_oversized_file_as_a_size_table_is_refused_without_reading_it_whole(tmp_path):
    with pytest.raises(ConfigError, match="not a regular file"):
        Config(size_dist="empirical", size_table="/dev/zero")
    big = tmp_path / "big.csv"
    big.write_text("size,weight\n" + "64,1\n" * (MAX_TABLE_FILE_BYTES // 5))
    with pytest.raises(ConfigError, match="larger than 16 MiB"):
        Config(size_dist="empirical", size_table=str(big))
    small = tmp_path / "ok.csv"
    small.write_text("size,weight\n64,7\n1500,1\n")
    assert Config(size_dist="empirical", size_table=str(small)).size_table == ((64, 7.0), (1500, 1.0))


def test_minus_zero_and_zero_and_an_int_for_a_float_give_one_key_and_one_seed():
    from zclab.sweeps.store import point_key
    from zclab.sweeps.sweep import derive_seed

    same = [Config(small_fraction=-0.0, kick_ns=0), Config(small_fraction=0.0, kick_ns=0.0),
            Config(small_fraction=0, kick_ns=-0.0)]
    assert len({point_key(c) for c in same}) == 1
    assert len({derive_seed(c, 3) for c in same}) == 1
    assert all(c == same[0] for c in same)
    assert point_key(Config(small_fraction=0.5)) != point_key(same[0])  # a key still tells configurations apart


def test_a_sweep_starts_no_more_workers_than_runs_and_checks_the_number(tmp_path, monkeypatch):
    import importlib

    from zclab import sweep

    S = importlib.import_module("zclab.sweeps.sweep")  # the module (zclab.sweep is also the function)

    seen = []
    real = S.ProcessPoolExecutor

    def recording(*args, max_workers=None, **kw):
        seen.append(max_workers)
        return real(*args, max_workers=max_workers, **kw)

    monkeypatch.setattr(S, "ProcessPoolExecutor", recording)
    with pytest.warns(RuntimeWarning, match="more than this machine's"):
        df = sweep(Config(n_packets=300, warmup_packets=0), {"seed": [1, 2, 3, 4, 5]}, store=None, workers=1000,
                   progress=False)
    assert len(df) == 5 and seen == [5]  # five runs: five workers, not a thousand
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(SweepError, match=r"workers=.*at least 1"):
            sweep(Config(n_packets=300), {"seed": [1]}, store=None, workers=bad)


def test_the_store_reads_only_its_own_files_and_tells_damage_from_a_failed_read(tmp_path, monkeypatch):
    import errno
    import os

    import pandas as pd
    import pyarrow.parquet as pq

    import zclab
    from zclab import sweep
    from zclab.sweeps.store import Store, StoreWarning

    store = tmp_path / "store"
    for seed in (1, 2):  # two sweeps, two files of one row each
        sweep(Config(n_packets=300, warmup_packets=0), {"seed": [seed]}, store=store, workers=1, progress=False)
    own = sorted(store.glob("part-*.parquet"))
    assert len(own) == 2
    # a Parquet file of another schema: named, left out, left in place (not renamed)
    pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}).to_parquet(store / "part-zzforeign.parquet")
    with pytest.warns(StoreWarning, match="part-zzforeign.parquet is not a file of this store"):
        df = zclab.load(store)
    assert len(df) == 2 and "x" not in df.columns and (store / "part-zzforeign.parquet").exists()
    (store / "part-zzforeign.parquet").unlink()
    # a read that fails with an errno (too many open files): reported, the file kept whole
    real = pq.ParquetFile

    def emfile(path, *a, **kw):
        if str(path) == str(own[0]):
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return real(path, *a, **kw)

    monkeypatch.setattr(pq, "ParquetFile", emfile)
    with pytest.warns(StoreWarning, match="could not be read .Too many open files.*left in place"):
        assert len(Store(store).load()) == 1
    assert own[0].exists() and not list(store.glob("*.corrupt"))
    monkeypatch.setattr(pq, "ParquetFile", real)
    # a truncated file is damage: set aside as *.corrupt, and the warning says so
    own[0].write_bytes(own[0].read_bytes()[:100])
    with pytest.warns(StoreWarning, match="is damaged.*moved to"):
        assert len(Store(store).load()) == 1
    assert (store / (own[0].name + ".corrupt")).exists()


def test_load_of_a_missing_store_names_it_and_an_empty_store_has_the_columns(tmp_path):
    import zclab
    from zclab.sweeps.sweep import METRIC_COLUMNS, PARAM_COLUMNS

    with pytest.raises(FileNotFoundError, match="no result store at .*nowhere"):
        zclab.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    df = zclab.load(tmp_path / "empty")
    assert len(df) == 0 and {"key", "mpps", "ring_size"} <= set(df.columns)
    assert set(PARAM_COLUMNS) <= set(df.columns) and set(METRIC_COLUMNS) <= set(df.columns)


def test_a_killed_writes_temporary_file_is_removed_by_the_next_writer(tmp_path):
    from zclab.sweeps.store import Store

    store = tmp_path / "store"
    store.mkdir()
    stale = store / ".part-20261205T000000-abc.parquet.tmp"
    stale.write_bytes(b"half a file")
    with Store(store).lock():
        assert not stale.exists()


def test_a_malformed_scheduler_address_is_exit_2_naming_it(tmp_path, capsys):
    pytest.importorskip("distributed")
    spec = tmp_path / "s.toml"
    spec.write_text('name = "x"\n[base]\nn_packets = 300\n[grid]\nseed = [1, 2]\n')
    assert main(["sweep", str(spec), "--store", str(tmp_path / "st"), "--scheduler", "not a url::", "--no-progress"]) == 2
    _one_line_error(capsys, "--scheduler 'not a url::': not an address")


def test_any_row_of_a_sweep_reproduces_through_config_from_row():
    from zclab import simulate, sweep

    points = [{"seed": 4}, {"flows": '[{"name": "a"}, {"name": "b", "dest": "local"}]'},
              {"size_dist": "empirical", "size_table": "64:1,1500:2"}, {"completion": "out_of_order", "debug": True}]
    df = sweep(Config(n_packets=400, warmup_packets=50), points, store=None, workers=1, progress=False)
    assert df["flows"].isna().sum() == 3  # a frame that mixes points with and without flows: NaN
    with pytest.raises(ConfigError):
        Config.from_dict(df.iloc[0].to_dict())  # the whole row: the result columns are no parameters
    for _, row in df.iterrows():
        cfg = Config.from_row(row)
        assert cfg.seed == row["seed"] and simulate(cfg).summary["latency_p99_ns"] == row["latency_p99_ns"]


def test_a_grid_is_counted_before_it_is_built_and_refused_above_the_limit(tmp_path, capsys):
    from zclab import sweep
    from zclab.sweeps.sweep import count_points, plan

    spec = tmp_path / "big.toml"
    # 10^9 replications of 2 points (a MemoryError before this limit): refused at once
    spec.write_text('name = "big"\nreplications = 1000000000\n[base]\nn_packets = 300\n[grid]\nseed = [1, 2]\n')
    assert main(["sweep", str(spec), "--store", str(tmp_path / "s"), "--dry-run", "--no-progress"]) == 2
    _one_line_error(capsys, "2 points x 1,000,000,000 replications = 2,000,000,000 runs", "--max-runs")
    small = tmp_path / "small.toml"
    small.write_text('name = "small"\n[base]\nn_packets = 300\nwarmup_packets = 0\n[grid]\nseed = [1, 2]\n')
    assert main(["sweep", str(small), "--store", str(tmp_path / "s"), "--max-runs", "1", "--no-progress"]) == 2
    _one_line_error(capsys, "2 runs, more than max_runs=1")
    assert main(["sweep", str(small), "--store", str(tmp_path / "s"), "--max-runs", "2", "--no-progress"]) == 0
    assert count_points({"seed": range(10**7), "ring_size": [64, 128]}) == 2 * 10**7  # not built
    with pytest.raises(SweepError, match="20,000,000 runs"):
        plan(Config(), {"seed": range(10**7), "ring_size": [64, 128]}, store=None)
    with pytest.raises(SweepError, match="3 runs, more than max_runs=2"):
        sweep(Config(n_packets=300), {"seed": [1, 2, 3]}, store=None, max_runs=2)


@pytest.mark.parametrize("output, fragment", [("x.txt", "must end in .parquet or .csv"),
                                              ("adir.csv", "is a directory")])
def test_the_output_is_checked_before_the_sweep_starts(tmp_path, capsys, output, fragment):
    (tmp_path / "adir.csv").mkdir()
    spec = tmp_path / "s.toml"
    spec.write_text('name = "x"\n[base]\nn_packets = 300\n[grid]\nseed = [1, 2]\n')
    store = tmp_path / "store"
    assert main(["sweep", str(spec), "--store", str(store), "--output", str(tmp_path / output), "--no-progress"]) == 2
    _one_line_error(capsys, fragment)
    assert not store.exists() or not list(store.glob("part-*"))  # nothing ran
    assert not list(tmp_path.glob(".*.tmp"))


def _capped_grid():
    # point 1 cannot finish within its event cap: SimulationError for that run alone
    return [{"seed": 1}, {"seed": 2, "max_events": 500}, {"seed": 3}]


@pytest.mark.parametrize("workers", [1, 2, pytest.param("dask", marks=pytest.mark.slow)])
def test_a_run_that_fails_is_recorded_with_its_point_and_the_sweep_finishes_the_others(tmp_path, workers):
    from zclab import sweep
    from zclab.sweeps.sweep import failures

    base = Config(n_packets=2000, warmup_packets=0)
    store = tmp_path / "store"
    with contextlib.ExitStack() as stack:
        client = None
        if workers == "dask":  # the same on a Dask cluster's workers
            distributed = pytest.importorskip("distributed")
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None))
            client, workers = stack.enter_context(distributed.Client(cluster)), None
        with pytest.warns(RuntimeWarning, match="1 of 3 runs failed.*point 1, replication 0: SimulationError"):
            df = sweep(base, _capped_grid(), store=store, workers=workers, client=client, progress=False)
    assert len(df) == 3 and df["error"].notna().tolist() == [False, True, False]
    assert df.loc[1, "mpps"] != df.loc[1, "mpps"]  # NaN: no metric for a failed run
    assert df.loc[0, "mpps"] > 0 and df.loc[2, "mpps"] > 0
    assert failures(df) == [f"point 1, replication 0: {df.loc[1, 'error']}"] and "max_events=500" in df.loc[1, "error"]
    # recorded as a deadlock is: a rerun computes nothing, and gives the same frame
    from zclab.sweeps.sweep import plan

    assert plan(base, _capped_grid(), store=store).todo == []
    with pytest.warns(RuntimeWarning, match="1 of 3 runs failed"):
        again = sweep(base, _capped_grid(), store=store, workers=workers, progress=False)
    assert again.drop(columns="wall_s").equals(df.drop(columns="wall_s"))


def test_strict_stops_at_the_first_failure_naming_it_and_keeps_what_finished(tmp_path):
    from zclab import sweep
    from zclab.sweeps.store import Store
    from zclab.sweeps.sweep import SweepFailed

    store = tmp_path / "store"
    with pytest.raises(SweepFailed, match=r"point 1, replication 0 \(seed=.*\) failed \(strict\): SimulationError"):
        sweep(Config(n_packets=2000, warmup_packets=0), _capped_grid(), store=store, workers=1, progress=False,
              strict=True)
    assert len(Store(store).load()) == 2  # point 0, and the failure itself: saved


def test_the_cli_lists_the_failed_runs_and_exits_1(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "x"\n[base]\nn_packets = 2000\nwarmup_packets = 0\n'
                    '[[points]]\nseed = 1\n[[points]]\nseed = 2\nmax_events = 500\n')
    args = ["sweep", str(spec), "--store", str(tmp_path / "st"), "--workers", "1", "--no-progress"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "1 of 2 runs failed" in out and "point 1, replication 0: SimulationError" in out
    assert main([*args[:3], str(tmp_path / "st2"), *args[4:], "--strict"]) == 1
    err = capsys.readouterr().err
    assert "point 1, replication 0" in err and "failed (strict)" in err and len(err.strip().splitlines()) == 1


def test_compaction_merges_the_small_files_losing_and_doubling_no_row(tmp_path, capsys):
    import pandas as pd

    import zclab
    from zclab import sweep
    from zclab.sweeps.store import Store

    store = tmp_path / "store"
    base = Config(n_packets=300, warmup_packets=0)
    sweep(base, {"seed": [1, 2, 3]}, store=store, workers=1, progress=False, flush_seconds=0.0)
    sweep(base, [{"seed": 9, "flows": '[{"name": "a"}, {"name": "b", "dest": "local"}]'}], store=store, workers=1,
          progress=False)
    with pytest.warns(RuntimeWarning, match="1 of 1 runs failed"):  # a failed run: a row too
        sweep(base, [{"seed": 5, "max_events": 100}], store=store, workers=1, progress=False)
    before = zclab.load(store).sort_values("key").reset_index(drop=True)
    assert len(list(store.glob("part-*.parquet"))) >= 5 and len(before) == 5
    assert main(["store", "compact", str(store)]) == 0
    assert "merged into one, 5 rows" in capsys.readouterr().out
    assert len(list(store.glob("part-*.parquet"))) == 1
    after = zclab.load(store).sort_values("key").reset_index(drop=True)

    def same(a, b):  # missing is missing, whether None or NaN, object or string column
        norm = lambda d: d.astype(object).where(d.notna(), None)  # noqa: E731
        pd.testing.assert_frame_equal(norm(a[b.columns]), norm(b))

    same(after, before)
    # killed after the merged file was renamed into place, before the small ones went:
    # every row is there twice on disk, once in the frame
    merged = next(store.glob("part-*.parquet"))
    (store / "part-0-copy.parquet").write_bytes(merged.read_bytes())
    again = zclab.load(store).sort_values("key").reset_index(drop=True)
    same(again, before)
    with Store(store).lock():
        assert Store(store).compact() == (2, 5)
    assert main(["store", "compact", str(tmp_path / "nowhere")]) == 2


def test_a_sweep_compacts_its_store_at_its_end_once_it_has_many_files(tmp_path, monkeypatch):
    from zclab import sweep
    from zclab.sweeps.store import Store

    import importlib

    monkeypatch.setattr(importlib.import_module("zclab.sweeps.sweep"), "COMPACT_ABOVE", 3)
    store = tmp_path / "store"
    df = sweep(Config(n_packets=300, warmup_packets=0), {"seed": list(range(1, 7))}, store=store, workers=1,
               progress=False, flush_seconds=0.0)  # a file per run ...
    assert len(list(store.glob("part-*.parquet"))) == 1  # ... merged at the end
    assert sorted(Store(store).load()["key"]) == sorted(df["key"])


def test_aggregate_counts_a_failed_run_as_no_replication():
    import numpy as np
    import pandas as pd
    from scipy import stats

    from zclab import aggregate, sweep

    base = Config(n_packets=2000, warmup_packets=0)
    grid = [{"seed": s} for s in (1, 2, 3)] + [{"seed": 4, "max_events": 500}]
    with pytest.warns(RuntimeWarning, match="1 of 4 runs failed"):
        df = sweep(base, grid, store=None, workers=1, progress=False)
    df["point"] = 0  # four replications of one point, one failed
    df["max_events"] = 0
    agg = aggregate(df, metrics=["mpps"])
    ok = df[df["error"].isna()]["mpps"]
    assert agg.loc[0, "n"] == 3 and agg.loc[0, "failed"] == 1
    assert agg.loc[0, "mpps"] == pytest.approx(ok.mean())
    half = stats.t.ppf(0.975, 2) * ok.std(ddof=1) / np.sqrt(3)  # three replications, not four
    assert agg.loc[0, "mpps_ci"] == pytest.approx(half)
    clean = aggregate(df[df["error"].isna()], metrics=["mpps"])
    assert "failed" not in clean.columns and clean.loc[0, "mpps_ci"] == pytest.approx(half)


def test_a_grid_axis_given_as_a_generator_is_counted_without_being_used_up():
    from zclab import sweep

    df = sweep(Config(n_packets=300, warmup_packets=0), {"seed": (s for s in (1, 2, 3))}, store=None, workers=1,
               progress=False)
    assert sorted(df["replication"].tolist()) == [0, 0, 0] and len(set(df["key"])) == 3


# --- grids: what a large plan costs -------------------------------------------------------------------

def test_a_plan_keeps_about_two_kilobytes_a_run():
    """A plan holds each run's key and its configuration (a Config with __slots__), no
    dict of its parameters: a million-run grid, the default max_runs, plans in about
    2 GB (measured: 2.1 GB and 2 min 15 s for `--dry-run`, docs/performance.md)."""
    import tracemalloc

    from zclab.sweeps.sweep import plan

    grid = {"ring_size": [64, 128, 256, 512, 1024], "max_pend": list(range(1, 101))}
    tracemalloc.start()
    try:
        p = plan(Config(n_packets=1000), grid, store=None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(p.todo) == 500
    assert peak / 500 < 4096, f"{peak / 500:.0f} bytes a run"
    assert not hasattr(Config(), "__dict__")


def test_cli_sweep_prints_the_count_before_building_and_names_the_file_of_a_bad_point(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text("[grid]\nring_size = [64, 128, 100]\n")
    assert main(["sweep", str(spec), "--dry-run", "--store", str(tmp_path / "st")]) == 2
    out, err = capsys.readouterr()
    assert "3 points x 1 replications = 3 runs" in out
    assert err.count("\n") == 1 and str(spec) in err and "point 2 (ring_size=100)" in err and "power of two" in err


BILLION_LAUGHS = """\
grid:
  ring_size: &a [64, 64, 64, 64, 64, 64, 64, 64, 64, 64]
  max_pend: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
"""


def test_yaml_aliases_are_refused_in_specs_and_flows_files(tmp_path, capsys):
    """Nested aliases make a few lines into billions of items once anything walks them:
    zclab's files never need them, so any alias is refused, naming the file and line."""
    spec = tmp_path / "bomb.yaml"
    spec.write_text(BILLION_LAUGHS)
    with pytest.raises(SweepError, match=r"bomb.yaml: not valid YAML \(an alias .*line 3\)"):
        load_spec(spec)
    flows = tmp_path / "flows.yaml"
    flows.write_text("- &a {name: a, share: 1.0}\n- *a\n")
    with pytest.raises(ConfigError, match="flows=.*an alias"):
        Config(flows=str(flows))


def test_an_error_quotes_a_huge_value_in_one_short_line():
    with pytest.raises(ConfigError) as err:
        Config(ring_size=list(range(10**6)))
    assert len(str(err.value)) < 200 and "ring_size=[0, 1, 2" in str(err.value)
