"""Sweeps: many configurations, replicated, run in parallel, kept in a store.

    >>> import zclab
    >>> df = zclab.sweep("ring-quarter-stall", {"max_pend": [16, 64], "ring_size": [256, 1024]},
    ...                  replications=2, n_packets=20_000, progress=False)   # doctest: +SKIP
    >>> len(df)                                                             # doctest: +SKIP
    8
    >>> zclab.aggregate(df)[["max_pend", "ring_size", "mpps", "mpps_ci"]]   # doctest: +SKIP

``base`` is a :class:`~zclab.Config`, a preset name or a dict; ``grid`` is a
dict of parameter name to list of values (their cartesian product) or a list
of dicts (explicit points). Each point is ``base.replace(**point)``.

**Seeds.** A point's replication *r* runs with a seed derived (numpy
SeedSequence) from the base seed, the point's *whole* configuration and *r*:
its numbers do not depend on the grid it sits in, the order of the points or
the number of workers, and adding values to a grid reproduces the old points
bit for bit. The frame's ``seed`` column is the seed the run used, so
``zclab.simulate(Config.from_row(row))`` reproduces any row; ``base_seed``
is the seed it was derived from.

**Store.** Finished points are written to a :class:`~zclab.sweeps.store.Store`
(default ``data/store``, or ``$ZCLAB_STORE``), keyed by a content hash of the
configuration and the model version, flushed at least every
``flush_seconds``. Running a sweep again computes only the points the store
lacks, so an interrupted sweep resumes where it stopped.

**Parallel.** By default every core runs worker processes; ``workers=1`` runs
in this process; ``client=`` (a dask.distributed Client) runs the same sweep
on a Dask cluster, with the same numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from ..model.config import PARAMETERS, Config, ConfigError, short_repr
from ..model.result import SUMMARY_FIELDS
from ..model.simulation import as_config, simulate
from .store import COMPACT_ABOVE, MODEL_VERSION, Store, default_store, point_key

if TYPE_CHECKING:  # imported where used: `import zclab` to simulate needs no pandas (90 MB)
    import pandas as pd

__all__ = ["sweep", "plan", "aggregate", "expand", "derive_seed", "failures", "SweepError", "SweepFailed",
           "PARAM_COLUMNS", "METRIC_COLUMNS"]

#: Columns of a sweep frame: the run's place, its parameters, its metrics, provenance.
META_COLUMNS = ["point", "replication"]
PARAM_COLUMNS = list(PARAMETERS)
METRIC_COLUMNS = list(SUMMARY_FIELDS)
TAIL_COLUMNS = ["base_seed", "key", "model_version", "wall_s", "error"]


class SweepError(ValueError):
    """A sweep specification is invalid (raised before anything runs)."""


class SweepFailed(RuntimeError):
    """A sweep could not finish (a worker died); what finished is saved."""


# --- the points -------------------------------------------------------------------------------

#: the most runs a sweep builds unless told otherwise (``max_runs``, ``--max-runs``): a
#: grid is counted from its lists' lengths first, and refused above this before any of
#: its points is built (10^7 points would fill memory before anything printed)
MAX_RUNS = 10**6


def count_points(grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]] | None) -> int:
    """The number of points of a grid, from its lists' lengths, without building them.

    >>> count_points({"ring_size": [128, 256, 512], "seed": range(1000)})
    3000
    """
    if grid is None:
        return 1
    if isinstance(grid, Mapping):
        n = 1
        for v in grid.values():
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                continue  # a single value: a fixed parameter
            n *= len(v) if hasattr(v, "__len__") else len(list(v))
        return n
    return len(grid) if hasattr(grid, "__len__") else len(list(grid))


def check_size(n_points: int, replications: int, max_runs: int = MAX_RUNS) -> None:
    """Refuse a sweep of more than ``max_runs`` runs (SweepError, before anything is built)."""
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise SweepError(f"max_runs={max_runs!r}: give a whole number of at least 1")
    runs = n_points * replications
    if runs > max_runs:
        raise SweepError(f"{n_points:,} points x {replications:,} replications = {runs:,} runs, more than "
                         f"max_runs={max_runs:,}: nothing was built; raise the limit (--max-runs) if you mean it")


def _sized(grid):
    """The grid with any axis (or list of points) given as a one-pass iterable, a
    generator say, made a list: counting it must not use it up. The axes are short; it
    is their product that is large, and that is not built here."""
    if grid is None:
        return None
    if isinstance(grid, Mapping):
        return {k: v if isinstance(v, (str, bytes)) or not isinstance(v, Iterable) or hasattr(v, "__len__")
                else list(v) for k, v in grid.items()}
    return grid if hasattr(grid, "__len__") else list(grid)


def point_params(grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]] | None) -> list[dict]:
    """The parameter dicts of a grid: a cartesian product or an explicit list."""
    if grid is None:
        return [{}]
    if isinstance(grid, Mapping):
        if not grid:
            raise SweepError("grid is empty: give at least one parameter with a list of values")
        names = list(grid)
        values = []
        for name in names:
            v = grid[name]
            if isinstance(v, (str, bytes)) or not isinstance(v, Iterable):
                v = [v]  # a single value: a fixed parameter
            v = list(v)
            if not v:
                raise SweepError(f"grid[{name!r}] is empty: give at least one value")
            values.append(v)
        return [dict(zip(names, combo)) for combo in itertools.product(*values)]
    points = list(grid)
    if not points:
        raise SweepError("grid is an empty list of points")
    for i, pt in enumerate(points):
        if not isinstance(pt, Mapping):
            raise SweepError(f"point {i}: {pt!r} is not a dict of parameters")
    return [dict(pt) for pt in points]


def expand(base: Config | str | Mapping | None, grid=None, **overrides) -> list[Config]:
    """Validate every point before anything runs; errors name the point and the field."""
    try:
        base_cfg = as_config(base, **overrides)
    except ConfigError as exc:
        raise SweepError(f"base: {exc}") from None
    configs = []
    for i, params in enumerate(point_params(grid)):
        try:
            configs.append(base_cfg.replace(**params))
        except ConfigError as exc:
            desc = ", ".join(f"{k}={short_repr(v)}" for k, v in params.items())
            raise SweepError(f"point {i} ({desc}): {exc}") from None
    return configs


def derive_seed(cfg: Config, replication: int) -> int:
    """The seed of replication ``replication`` of ``cfg``: from its seed, the rest of
    its configuration and the replication number, through numpy's SeedSequence."""
    rest = {k: v for k, v in cfg.to_dict().items() if k != "seed"}
    digest = hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    ss = np.random.SeedSequence([cfg.seed, *words, replication])
    hi, lo = ss.generate_state(2, np.uint32)
    return (int(hi) << 31) ^ int(lo)  # 63 bits


# --- running -----------------------------------------------------------------------------------

def _run_items(items: list[tuple[Config, int, int, str]]) -> list[dict]:
    """Worker side: run (configuration, replication, base seed, key) items, return their rows.

    A run that fails for its configuration (the event cap, an invariant violation under
    debug, a value the engine refuses: SimulationError or ValueError, the same on every
    machine) is a row too, with its metrics empty and the reason in ``error``, recorded
    as a deadlock is: the sweep goes on with the others."""
    from ..model.simulation import SimulationError

    rows = []
    for cfg, replication, base_seed, key in items:
        head = {"replication": replication, "base_seed": base_seed, "key": key, "model_version": MODEL_VERSION}
        cfg_dict = cfg.to_dict()
        _running(key)
        try:
            r = simulate(cfg)
        except (SimulationError, ValueError) as exc:
            rows.append({**cfg_dict, **head, "wall_s": float("nan"), "error": f"{type(exc).__name__}: {exc}"})
            continue
        finally:
            _running("")
        rows.append({**cfg_dict, **r.summary, **head, "wall_s": r.wall_s, "error": None})
    return rows


# A pool worker's slot in memory shared with the sweep's process: "pid key" of the run
# it is computing, so that a worker that dies (a segfault, the OOM killer) is reported
# with its point, not with every point of its task. Set by _worker_init; None elsewhere.
_SLOTS = None
_SLOT = -1
_SLOT_BYTES = 48  # a pid (at most 7 digits), a space, a key (32 hex digits)


def _running(key: str) -> None:
    if _SLOTS is not None:
        text = f"{os.getpid()} {key}" if key else ""
        _SLOTS[_SLOT * _SLOT_BYTES : (_SLOT + 1) * _SLOT_BYTES] = text.encode().ljust(_SLOT_BYTES)


def _in_flight(slots, n: int) -> dict[int, str]:
    """pid -> key of the run each pool worker was computing (from the shared slots)."""
    out = {}
    for i in range(n):
        text = bytes(slots[i * _SLOT_BYTES : (i + 1) * _SLOT_BYTES]).decode(errors="replace").strip()
        if " " in text:
            pid, key = text.split(" ", 1)
            out[int(pid)] = key
    return out


def _chunks(items: list, workers: int) -> list[list]:
    """Group items into tasks of about 0.3 s of engine time, at least 4 per worker."""
    if not items:
        return []
    packets = sum(c.n_packets + c.warmup_packets for c, *_ in items[:50]) / min(len(items), 50)
    per_item = packets / 8e6  # seconds, at a conservative engine speed
    size = max(1, int(0.3 / max(per_item, 1e-6)))
    size = min(size, max(1, math.ceil(len(items) / (4 * workers))))
    return [items[i : i + size] for i in range(0, len(items), size)]


class _Writer:
    """Buffers finished rows and flushes them to the store at least every few seconds;
    with ``strict``, the first failed run flushes and stops the sweep (SweepFailed)."""

    def __init__(self, store: Store | None, flush_seconds: float, strict: bool = False,
                 points: Mapping[str, int] | None = None):
        self.store, self.flush_seconds, self.strict = store, flush_seconds, strict
        self.points = points or {}
        self.buffer: list[dict] = []
        self.rows: list[dict] = []
        self.last = time.monotonic()

    def add(self, rows: list[dict]) -> None:
        self.buffer.extend(rows)
        self.rows.extend(rows)
        failed = next((r for r in rows if r.get("error")), None)
        if self.strict and failed is not None:
            self.flush()
            raise SweepFailed(f"{_describe(failed, self.points)} failed (strict): {failed['error']}; "
                              f"{len(self.rows) - 1} other finished runs are saved")
        if time.monotonic() - self.last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self.store is not None and self.buffer:
            self.store.write(_same_columns(self.buffer))
        self.buffer = []
        self.last = time.monotonic()


def _describe(row: Mapping[str, Any], points: Mapping[str, int]) -> str:
    """'point 3, replication 0 (seed=...)': a run, as a user finds it again."""
    return f"point {points.get(row['key'], '?')}, replication {row['replication']} (seed={row['seed']})"


def failures(df: pd.DataFrame) -> list[str]:
    """One line per failed run of a sweep's frame: its point and the reason."""
    if "error" not in df.columns:
        return []
    bad = df[df["error"].notna()]
    return [f"point {r['point']}, replication {r['replication']}: {r['error']}" for _, r in bad.iterrows()]


def _progress_bar(total: int, progress: bool | None):
    if progress is None:
        progress = os.environ.get("ZCLAB_PROGRESS", "1") not in ("0", "false", "no")
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc="sweep", disable=not progress or total == 0, smoothing=0.1)


class Plan:
    """What a sweep will do: every run, the store, and the runs it lacks; ``pending``
    holds the configurations of the points with a run to compute (one per point: the
    engine variants to compile are found from these, not from every run)."""

    def __init__(self, items, store, todo, pending=()):
        self.items, self.store, self.todo, self.pending = items, store, todo, list(pending)

    @property
    def runs(self) -> int:
        return len(self.items)

    @property
    def stored(self) -> int:
        return len(self.items) - len({key for *_, key in self.todo})


def plan(base=None, grid=None, replications: int = 1, *, store="default", max_runs: int = MAX_RUNS,
         **overrides) -> Plan:
    """Expand and validate a sweep and find which of its runs the store already has.
    A sweep of more than ``max_runs`` runs is refused before any point is built."""
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        raise SweepError(f"replications={replications!r}: must be an integer of at least 1")
    grid = _sized(grid)
    check_size(count_points(grid), replications, max_runs)
    configs = expand(base, grid, **overrides)
    # every run as (point, replication, base seed, key); the runs to compute also keep
    # their configuration (784 bytes each, __slots__: a million-run plan fits in a GB)
    items = []
    runs = []
    for point, cfg in enumerate(configs):
        for rep in range(replications):
            run_cfg = cfg.replace(seed=derive_seed(cfg, rep))
            key = point_key(run_cfg)
            items.append((point, rep, cfg.seed, key))
            runs.append(run_cfg)
    st = Store(default_store()) if store == "default" else (store if isinstance(store, Store) or store is None else Store(store))
    done = st.keys() if st is not None else set()
    seen = set()
    todo = []
    pending = {}
    for (point, rep, b, key), run_cfg in zip(items, runs):
        if key not in done and key not in seen:  # the same run twice in one grid: once
            seen.add(key)
            todo.append((run_cfg, rep, b, key))
            pending.setdefault(point, configs[point])
    return Plan(items, st, todo, pending.values())


def sweep(
    base: Config | str | Mapping | None = None,
    grid: Mapping[str, Sequence] | Sequence[Mapping[str, Any]] | None = None,
    replications: int = 1,
    *,
    store: str | os.PathLike | Store | None = "default",
    workers: int | None = None,
    client=None,
    progress: bool | None = None,
    flush_seconds: float | None = None,
    max_runs: int = MAX_RUNS,
    strict: bool = False,
    _plan: Plan | None = None,
    **overrides,
) -> pd.DataFrame:
    """Run every point of ``grid`` on top of ``base``, ``replications`` times.

    Returns one tidy row per point and replication: ``point`` and
    ``replication``, every parameter (:data:`PARAM_COLUMNS`), every summary
    field (:data:`METRIC_COLUMNS`), then ``base_seed``, ``key``,
    ``model_version`` and ``wall_s`` (the only column that is not
    reproducible). ``overrides`` are applied to ``base`` (``n_packets=...``).
    ``store=None`` keeps nothing on disk. Finished runs are written to the
    store at least every ``flush_seconds`` (default 2, or ``$ZCLAB_FLUSH_SECONDS``)
    and whenever the sweep stops, Ctrl-C included. A sweep of more than
    ``max_runs`` runs (:data:`MAX_RUNS`) is refused before anything is built.

    A run that fails for its configuration (the event cap, say) is kept as a row
    with empty metrics and the reason in ``error``, and the sweep finishes the
    others (a warning counts them; :func:`failures` lists them); ``strict=True``
    stops at the first, with what finished saved.
    """
    import pandas as pd

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise SweepError(f"workers={workers!r}: give a whole number of at least 1, or None for one per core")
    if flush_seconds is None:
        flush_seconds = float(os.environ.get("ZCLAB_FLUSH_SECONDS", "2"))
    # the CLI passes the plan it printed: a million-run grid is built once, not twice
    p = _plan or plan(base, grid, replications, store=store, max_runs=max_runs, **overrides)
    items, st, todo = p.items, p.store, p.todo
    writer = _Writer(st, flush_seconds, strict, {key: point for point, _, _, key in items})
    if todo:
        ctx = st.lock() if st is not None else contextlib.nullcontext()
        with ctx:
            _execute(todo, writer, workers, client, progress, p.pending)
            if st is not None and len(st.files()) > COMPACT_ABOVE:
                st.compact()  # one file for the many its flushes wrote (store.py)

    by_key = {r["key"]: r for r in writer.rows}
    missing = [key for *_, key in items if key not in by_key]
    if missing and st is not None:
        stored = st.load(set(missing))
        by_key.update({r["key"]: r for r in stored.to_dict("records")})
    rows = [{"point": point, **by_key[key]} for point, _, _, key in items]
    df = pd.DataFrame(rows)
    columns = META_COLUMNS + PARAM_COLUMNS + METRIC_COLUMNS + flow_columns(df) + TAIL_COLUMNS
    df = df[[c for c in columns if c in df.columns]]
    failed = failures(df)
    if failed:
        warnings.warn(f"zclab.sweep: {len(failed)} of {len(df)} runs failed, kept with their reason in the "
                      f"'error' column; the first: {failed[0]}", RuntimeWarning, stacklevel=2)
    return df


def flow_columns(df: pd.DataFrame) -> list[str]:
    """The per-flow metric columns (``flow_<name>_<field>``) of a frame, in order of appearance.

    Points with a ``flows`` table report one group per flow; other points have
    NaN there.
    """
    known = set(PARAM_COLUMNS) | set(METRIC_COLUMNS)
    return [c for c in df.columns if c.startswith("flow_") and c not in known]


def _same_columns(rows: list[dict]) -> list[dict]:
    """Rows with the union of their keys, missing ones None: a Parquet file takes
    its schema from the first row, and points with different flows tables report
    different per-flow fields."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    if all(len(r) == len(keys) for r in rows):
        return rows
    return [{k: r.get(k) for k in keys} for r in rows]


def _execute(todo: list, writer: _Writer, workers: int | None, client, progress: bool | None,
             pending: Sequence[Config]) -> None:
    """Run the items, feeding finished rows to the writer; on any exit, flush what finished."""
    from ..model.simulation import warmup

    cores = os.cpu_count() or 1
    if workers is not None and workers > cores and len(todo) > cores:
        warnings.warn(f"zclab.sweep: workers={workers} is more than this machine's {cores} cores: "
                      "the runs share them (no faster than one worker per core)", RuntimeWarning, stacklevel=3)
    # never more worker processes than runs to compute
    workers = min(workers or cores, len(todo))
    bar = _progress_bar(len(todo), progress)
    try:
        if client is not None:
            _run_dask(client, todo, writer, bar)
        else:
            # compile or load every variant the sweep needs here, once, before the
            # workers need it (each worker would otherwise compile it for itself);
            # on a cold cache, as many at once as there are workers
            warmup(*pending, processes=min(workers, len(todo)))
            if workers == 1:
                for item in todo:
                    writer.add(_run_items([item]))
                    bar.update(1)
            else:
                _run_pool(todo, writer, workers, bar)
    finally:
        writer.flush()
        bar.close()


def _worker_init(slots=None, counter=None) -> None:
    """Worker initializer: takes its slot in ``slots`` (see _running), then _die_with_parent."""
    global _SLOTS, _SLOT
    if slots is not None:
        with counter.get_lock():
            _SLOTS, _SLOT = slots, counter.value
            counter.value += 1
    _die_with_parent()


def _die_with_parent() -> None:
    """On Linux, a worker is killed when the sweep's process dies
    (a SIGKILLed sweep leaves no orphan computing for nobody). A worker ignores SIGINT:
    a terminal's Ctrl-C reaches the whole process group, and the sweep's own process
    decides what becomes of the runs in flight (see _run_pool)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, 9)
    except (OSError, AttributeError):  # not Linux: the worker ends when it next reads its queue
        pass


def _run_pool(todo: list, writer: _Writer, workers: int, bar) -> None:
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    chunks = _chunks(todo, workers)
    context = mp.get_context("fork") if hasattr(os, "fork") else mp.get_context("spawn")
    slots = context.Array("c", workers * _SLOT_BYTES, lock=False)
    counter = context.Value("i", 0)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                             initargs=(slots, counter)) as pool:
        chunk_of = {pool.submit(_run_items, c): c for c in chunks}
        pending = set(chunk_of)
        collected = set()
        procs = {}
        try:
            while pending:
                procs.update(getattr(pool, "_processes", None) or {})  # pid -> process (concurrent.futures' own table)
                finished, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rows = fut.result()
                    collected.add(fut)
                    writer.add(rows)
                    bar.update(len(rows))
                if not finished:
                    writer.add([])  # a flush on time even while nothing finishes
        except BrokenProcessPool:
            runs = {key: {"key": key, "replication": rep, "seed": cfg.seed} for c in chunks for cfg, rep, _, key in c}
            raise SweepFailed(_died(procs, _in_flight(slots, workers), runs, writer)) from None
        except KeyboardInterrupt:
            _interrupted(pool, pending, collected, writer, bar)
            raise
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _died(procs: dict, running: dict[int, str], runs: Mapping[str, dict], writer: _Writer) -> str:
    """The message of a sweep whose worker died. The pool fails every task at once and
    then terminates the other workers (SIGTERM): the dead one is the worker that ended
    otherwise, and its slot names the run it was computing."""
    import signal

    def desc(pids):
        return "; ".join(_describe(runs[running[p]], writer.points) for p in pids if running[p] in runs)

    deadline = time.monotonic() + 2.0  # the pool is ending them all: their exit statuses come
    while any(proc.exitcode is None for proc in procs.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    dead = [pid for pid, proc in procs.items()
            if pid in running and proc.exitcode is not None and proc.exitcode != -signal.SIGTERM]
    how = {pid: procs[pid].exitcode for pid in dead}
    saved = f"{len(writer.rows)} runs finished before it are saved; run the sweep again to compute the rest"
    if dead:
        codes = ", ".join(f"signal {signal.Signals(-c).name}" if c < 0 else f"exit status {c}" for c in how.values())
        return f"a worker process died ({codes}) running {desc(dead)}; {saved}"
    if running:
        return f"a worker process died running one of: {desc(sorted(running))}; {saved}"
    return f"a worker process died between runs; {saved}"


#: how long a Ctrl-C'd sweep waits for the tasks in flight before it kills its workers
INTERRUPT_GRACE_S = 2.0


def _interrupted(pool, pending: set, collected: set, writer: _Writer, bar) -> None:
    """Ctrl-C during a sweep: the queued tasks are dropped; those in flight that finish
    within INTERRUPT_GRACE_S (a task is about 0.3 s of runs, see _chunks) are kept, the
    others cancelled with their workers, killed; a second Ctrl-C kills them at once.
    Either way the finished runs reach the writer, which the caller flushes, and no
    worker is left running."""
    # (the queued futures are not cancelled one by one: once the workers are killed the
    # pool fails every pending one itself, and in Python 3.11 it fails a cancelled one
    # with an InvalidStateError of its own thread)
    running = {f for f in pending if f.running()}
    try:
        wait(running, timeout=INTERRUPT_GRACE_S)
    except KeyboardInterrupt:  # the second Ctrl-C: no more waiting
        pass
    try:
        for fut in pending:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                rows = fut.result()
                collected.add(fut)
                writer.add(rows)
                bar.update(len(rows))
    finally:
        for proc in list(getattr(pool, "_processes", {}).values()):  # (concurrent.futures' own table)
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False)


def _run_dask(client, todo: list, writer: _Writer, bar) -> None:
    from distributed import as_completed

    n_workers = max(1, len(client.scheduler_info().get("workers", {})) or 1)
    futures = [client.submit(_run_items, c, pure=False) for c in _chunks(todo, n_workers)]
    try:
        for fut in as_completed(futures):
            rows = fut.result()
            writer.add(rows)
            bar.update(len(rows))
    except BaseException:
        client.cancel(futures)
        raise


# --- aggregating ---------------------------------------------------------------------------------

def aggregate(df: pd.DataFrame, metrics: Sequence[str] | None = None, by: Sequence[str] | None = None,
              confidence: float = 0.95) -> pd.DataFrame:
    """Mean and confidence interval of each metric over replications.

    Groups by ``by`` (default: every parameter that is not a seed, i.e. one
    group per point). For each metric: ``<metric>`` (the mean), ``<metric>_ci``
    (half-width of the Student-t interval at ``confidence``, from the
    replications that have the metric; NaN with fewer than two), plus ``n``, the
    replications per group that ran, and ``failed``, those that failed (only when
    some did: a failed run is no replication).
    """
    import pandas as pd
    from scipy import stats

    if df.empty:
        return df.copy()
    if metrics is None:
        metrics = [m for m in METRIC_COLUMNS + flow_columns(df) if m in df.columns and pd.api.types.is_numeric_dtype(df[m])]
    if by is None:
        by = [c for c in PARAM_COLUMNS if c in df.columns and c != "seed"]
        if "point" in df.columns:
            by = ["point"] + by
    keys = list(by)
    g = df.groupby(keys, dropna=False, sort=False)
    out = g[list(metrics)].mean()
    # each metric's interval from the replications that have it: a failed run (its
    # reason in 'error') or an undefined metric (NaN) is no replication of it
    cnt = g[list(metrics)].count()
    sd = g[list(metrics)].std(ddof=1)
    tq = pd.DataFrame(stats.t.ppf((1 + confidence) / 2, np.maximum(cnt.to_numpy() - 1, 1)), index=cnt.index,
                      columns=cnt.columns)
    half = (sd * tq / np.sqrt(cnt)).where(cnt >= 2)
    n = g.size()
    parts = [out, half[list(metrics)].add_suffix("_ci")]
    if "error" in df.columns and df["error"].notna().any():
        failed = g["error"].count()
        n = n - failed
        parts.append(failed.rename("failed"))
    # built in one piece (reset_index would insert the many group keys one by one)
    res = pd.concat([*parts, n.rename("n")], axis=1)
    # copy(): one block per dtype, so that adding a column later does not warn of fragmentation
    return pd.concat([res.index.to_frame(index=False), res.reset_index(drop=True)], axis=1).copy()
