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
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

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


if __name__ == "__main__":
    main()
