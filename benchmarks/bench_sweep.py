"""Sweep speed: parallel speed-up and the cost of the plumbing per point.

    python benchmarks/bench_sweep.py            # about 1 minute on 2 cores
    python benchmarks/bench_sweep.py --quick

1. Speed-up: the same grid of equal points (same size, different seeds) with
   1 worker and with 2 worker processes, each into a fresh store; the ratio of
   wall times (median of the repeats).
2. Overhead: a sweep of 1,000 points of 100,000 packets each with one worker,
   against the engine's own time for those points (the sum of the runs'
   ``wall_s``): everything else (configs, seeds, keys, rows, the progress bar,
   the store writes) is plumbing.
3. The store: ``zclab.load()`` of 100,000 runs kept as 2,000 files of 50 rows (a
   sweep's flushes) and after ``Store.compact()`` (one file), the compaction's own
   time, and the peak of the process's resident memory (rows copied from real runs
   under new keys).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import zclab


def timed_sweep(grid, workers, n_packets, repeats=1):
    times, df = [], None
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as store:
            t0 = time.perf_counter()
            df = zclab.sweep("ring-quarter-stall", grid, n_packets=n_packets, warmup_packets=1000,
                             store=store, workers=workers, progress=False)
            times.append(time.perf_counter() - t0)
    return statistics.median(times), df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    zclab.warmup()

    n_points = 40 if args.quick else 80
    grid = {"seed": list(range(1, n_points + 1))}  # equal work, different streams
    t1, df1 = timed_sweep(grid, 1, 200_000, repeats=3)
    t2, df2 = timed_sweep(grid, 2, 200_000, repeats=3)
    same = df1.drop(columns="wall_s").equals(df2.drop(columns="wall_s"))
    print(f"== speed-up: {n_points} points of 200,000 packets, median of 3")
    print(f"  1 worker  {t1:6.2f} s")
    print(f"  2 workers {t2:6.2f} s   speed-up {t1 / t2:.2f}x   identical results: {same}")

    n = 200 if args.quick else 1000
    grid = {"seed": list(range(1, n + 1))}
    t, df = timed_sweep(grid, 1, 100_000)
    engine = df["wall_s"].sum()
    print(f"\n== plumbing: {n} points of 100,000 packets, 1 worker")
    print(f"  sweep {t:6.2f} s   engine {engine:6.2f} s   ratio {t / engine:.2f}   "
          f"overhead {(t - engine) / n * 1e3:.2f} ms per point")

    n_rows = 20_000 if args.quick else 100_000
    print(f"\n== the store: {n_rows:,} runs")
    bench_store(n_rows)


def _median_load(path, n_rows: int, repeats: int = 3) -> float:
    """Median seconds of zclab.load(path), which must give n_rows rows."""
    t = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        assert len(zclab.load(path)) == n_rows
        t.append(time.perf_counter() - t0)
    return statistics.median(t)


def bench_store(n_rows: int, per_file: int = 50) -> None:
    from zclab.sweeps.store import Store

    df = zclab.sweep(None, {"seed": list(range(1, 51))}, n_packets=2000, warmup_packets=0, store=None,
                     workers=1, progress=False)
    rows = df.drop(columns="point").to_dict("records")
    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "store")
        for i in range(0, n_rows, per_file):
            st.write([{**rows[j % len(rows)], "key": f"bench-{i + j:08d}"} for j in range(per_file)])
        n_files = len(st.files())
        print(f"  load, {n_files:,} files of {per_file} rows: {_median_load(st.path, n_rows):6.2f} s (median of 3)")
        t0 = time.perf_counter()
        with st.lock():
            st.compact()
        print(f"  compact:                        {time.perf_counter() - t0:6.2f} s")
        print(f"  load, 1 file:                   {_median_load(st.path, n_rows):6.2f} s (median of 3)")
        print(f"  peak resident memory (VmHWM):   {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:6.0f} MB")


if __name__ == "__main__":
    main()
