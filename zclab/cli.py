"""The ``zclab`` command line.

    zclab simulate [--preset NAME ...] [--set key=value ...] [--json]
                   (--set flows='[{"name": "a", ...}, ...]' or --set flows=@flows.toml)
    zclab sweep SPEC [--workers N] [--scheduler ADDRESS] [--dry-run] [--store DIR] [--output FILE]
                     [--strict] [--max-runs N]
    zclab store compact [DIR]
    zclab notebooks run [NAME ...] [-p KEY VALUE ...] [--quick] [--output-dir DIR]
    zclab study [--quick | --full]
    zclab params [NAME ...] [--json]
    zclab kernel run [--backend qemu|host] [--preset NAME ...] [--set key=value ...] [--json] [--trace FILE.csv]
    zclab kernel setup [--cache-dir DIR] [--yes]
    zclab kernel info
    zclab kernel measure [--backend B] [--sizes 64,1500,...] [--modes copy,zerocopy] [--output FILE.csv]
    zclab kernel fit TABLE.csv [--output PRESET.json]

Bad input exits with code 2 and one line on stderr naming the problem; a
failure inside a run (or a notebook that failed) exits with code 1. Nothing
prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any, Sequence

from .model.config import COMBINATIONS, PARAMETERS, RENAMED, Config, ConfigError, allowed, did_you_mean
from .model.result import format_value
from .sweeps.sweep import MAX_RUNS, SweepError
from .model.presets import PRESET_KINDS, preset_kind

__all__ = ["main", "parse_assignment", "parse_value", "parse_flows", "parse_parameter"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line input: exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


# --- parsing --set key=value --------------------------------------------------------------

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_value(name: str, text: str) -> Any:
    """Convert the text of a ``--set`` value to the parameter's type."""
    if name not in PARAMETERS:
        Config(**{name: text})  # raises the unknown-parameter error with a suggestion
    kind = PARAMETERS[name]["kind"]
    text = text.strip()
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(name, text, "must be true or false")
    if kind in ("int", "float"):
        try:
            number = float(text.replace("_", ""))
        except ValueError:
            raise ConfigError(name, text, "must be a number") from None
        if kind == "int":
            try:
                return int(text.replace("_", ""))
            except ValueError:
                return number  # "1e6": Config accepts integral floats, rejects others
        return number
    if kind == "size_table":
        if text.lower() in ("", "none"):
            return None
        return text[1:] if text.startswith("@") else text  # @file.csv or "64:7,1500:1"
    if kind == "flows":
        return parse_flows(text)
    return text


FLOWS_FILE_SUFFIXES = (".json", ".toml", ".yaml", ".yml")


def parse_flows(text: str) -> Any:
    """The value of ``--set flows=...``: JSON text (a list of tables), ``@FILE``
    (.json, .toml or .yaml; a TOML file holds ``[[flows]]`` tables), or none.

        >>> parse_flows('[{"name": "a", "share": 0.5}, {"name": "b", "share": 0.5}]')[1]
        {'name': 'b', 'share': 0.5}
    """
    text = text.strip()
    if text.lower() in ("", "none", "null"):
        return None
    if text.startswith("@"):
        path = text[1:].strip()
        if os.path.splitext(path)[1].lower() not in FLOWS_FILE_SUFFIXES:
            raise ConfigError("flows", text, "a flows file must end in " + ", ".join(FLOWS_FILE_SUFFIXES))
        if not os.path.isfile(path):
            raise ConfigError("flows", text, "no such file")
        return path  # Config reads and checks it
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError("flows", text, f"must be a JSON list of flow tables or @FILE (.json, .toml, .yaml): "
                                         f"{exc.msg} at character {exc.pos}") from None


def parse_assignment(item: str) -> tuple[str, Any]:
    """``"ring_size=512"`` -> ``("ring_size", 512)``."""
    if "=" not in item:
        raise UsageError(f"--set {item!r}: expected key=value")
    key, _, text = item.partition("=")
    key = key.strip()
    return key, parse_value(key, text)


def build_config(presets: Sequence[str], assignments: Sequence[str]) -> Config:
    params: dict[str, Any] = {}
    for name in presets:
        if name.startswith("@"):  # a preset file: zclab kernel fit's output
            from .trust.kernel.fit import load_preset

            params.update(load_preset(name[1:]))
            continue
        kind = preset_kind(name)
        if kind is None:
            known = "; ".join(f"{k}: {', '.join(t)}" for k, t in PRESET_KINDS.items())
            raise ConfigError("preset", name, f"unknown preset ({known})")
        if kind in params and params[kind] != name:
            raise ConfigError("preset", name, f"a {kind} preset ({params[kind]!r}) was already given")
        params[kind] = name
    for item in assignments:
        key, value = parse_assignment(item)
        params[key] = value
    return Config(**params)


# --- output ------------------------------------------------------------------------------------

def _json_safe(d: dict) -> dict:
    """NaN (a metric with nothing to measure) becomes null: strict JSON."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


# --- commands ------------------------------------------------------------------------------------

def _cmd_simulate(args) -> int:
    from .model.simulation import simulate, to_compile

    cfg = build_config(args.preset, args.set)
    if to_compile(cfg):  # say why the first run of a kind is silent for half a minute
        print("zclab: compiling the engine for this kind of run (once: it is then cached on disk; about a minute)",
              file=sys.stderr, flush=True)
    # Compiled code does not look at Python's interrupt flag: a Ctrl-C would wait for
    # the run to end, hours for a long one. One run has nothing to save, so let SIGINT
    # end the process at once, as it does a C program (unless it was ignored when the
    # process started, as in a background job).
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    result = simulate(cfg)
    if args.json:
        record = {"config": cfg.to_dict(), "summary": _json_safe(result.summary)}
        print(json.dumps(record, indent=2, allow_nan=False))
    else:
        print(result.to_text())
    return EXIT_OK


def _cmd_sweep(args) -> int:
    import time

    from .sweeps.spec import load_spec
    from .sweeps.store import default_store
    from .sweeps.sweep import failures, plan, sweep

    if args.max_runs < 1:
        raise UsageError(f"--max-runs {args.max_runs}: must be at least 1")
    spec = load_spec(args.spec, max_runs=args.max_runs, build=False)  # counted; the plan below builds the points
    print(f"zclab sweep {spec.name}: {spec.n_points:,} points x {spec.replications:,} replications = "
          f"{spec.runs:,} runs", flush=True)
    store = args.store or spec.store or default_store()
    output = args.output or spec.output
    if output:
        _check_output(Path(output))  # before the sweep, not after it
    workers = args.workers
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: must be at least 1")
    try:
        p = plan(spec.base, spec.grid, spec.replications, store=store, max_runs=args.max_runs)  # every point checked
    except SweepError as exc:
        raise SweepError(f"{args.spec}: {exc}") from None
    print(f"{p.stored:,} in the store {store}, {len(p.todo):,} to compute")
    if args.dry_run:
        if p.todo:
            n_workers = workers or os.cpu_count() or 1
            seconds, t_warm, n_timed = _estimate(p, n_workers)
            print(f"estimated time: {seconds:.1f} s on {n_workers} worker(s), from short runs of {n_timed} of the "
                  f"{len(p.todo)} runs (engine compiled or loaded in {t_warm:.1f} s first; it is cached now)")
        return EXIT_OK
    if p.todo and not args.scheduler:
        from .model.simulation import to_compile

        n = len(to_compile(*p.pending))
        if n:
            at_once = min(n, workers or os.cpu_count() or 1)
            print(f"compiling {n} variant(s) of the engine first, {at_once} at a time (once: they are then cached "
                  "on disk; about a minute each)", flush=True)
    client = None
    if args.scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError("--scheduler needs dask.distributed: pip install 'zclab[dask]'") from None
        try:
            client = Client(args.scheduler)
        except ValueError as exc:
            raise UsageError(f"--scheduler {args.scheduler!r}: not an address ({exc}); give tcp://HOST:PORT") from None
        except OSError as exc:
            raise UsageError(f"--scheduler {args.scheduler!r}: no Dask scheduler answered ({exc})") from None
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="zclab.sweep: .* runs failed")  # listed below instead
            df = sweep(spec.base, spec.grid, spec.replications, store=store, workers=workers, client=client,
                       progress=not args.no_progress, max_runs=args.max_runs, strict=args.strict, _plan=p)
    finally:
        if client is not None:
            client.close()
    if output:
        _write_frame(df, Path(output))
    print(f"{len(df)} runs in {time.perf_counter() - t0:.1f} s" + (f"; frame written to {output}" if output else ""))
    failed = failures(df)
    if failed:
        # recorded with their reason (in the store too): a rerun does not repeat them
        print(f"{len(failed)} of {len(df)} runs failed, kept in the frame with their reason (column 'error'):")
        for line in failed[:20]:
            print("  " + line)
        if len(failed) > 20:
            print(f"  ... and {len(failed) - 20} more")
        return EXIT_FAILED
    return EXIT_OK


PROBES = 8  # short runs a --dry-run estimate times, spread over the runs to compute


def _probe_indices(n: int, k: int = PROBES) -> list[int]:
    """Up to ``k`` indices spread evenly over ``range(n)``, first and last included.

        >>> _probe_indices(100, 5), _probe_indices(3)
        ([0, 25, 50, 74, 99], [0, 1, 2])
    """
    k = min(n, k)
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(k)})


def _estimate(p, workers: int) -> tuple[float, float, int]:
    """How long the missing runs will take: (seconds on ``workers``, seconds spent
    compiling or loading the engine first, number of runs timed).

    Runs differ in speed several times over across a grid (64-byte against
    64 KB packets, copy against zero-copy), so a short run of each of up to
    PROBES runs spread over the list is timed, and their mean scaled to every run.
    A run's time is its fixed cost (configuration, result) plus the engine's time
    per packet times its packets; a probe that deadlocks is counted as is (the
    full run deadlocks at the same point).
    """
    import time

    from .model.simulation import simulate, warmup

    todo = p.todo
    # every variant the sweep will use, as the sweep itself does first: the probes
    # then time the engine, not its compilation
    t_warm = warmup(*p.pending, processes=min(workers, len(todo)))
    picks = _probe_indices(len(todo))
    total = 0.0
    for i in picks:
        cfg = todo[i][0]
        probe = cfg.replace(n_packets=min(cfg.n_packets, 20_000), warmup_packets=min(cfg.warmup_packets, 1000))
        t0 = time.perf_counter()
        result = simulate(probe)
        fixed = max(time.perf_counter() - t0 - result.wall_s, 0.0)
        if result.summary["deadlocked"]:
            total += fixed + result.wall_s
        else:
            per_packet = result.wall_s / (probe.n_packets + probe.warmup_packets)
            total += fixed + per_packet * (cfg.n_packets + cfg.warmup_packets)
    total *= len(todo) / len(picks)
    return 1.1 * total / min(workers, len(todo)), t_warm, len(picks)


def _check_output(path: Path) -> None:
    """Refuse a frame's output path that could not be written (UsageError: exit 2)."""
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise UsageError(f"--output {str(path)!r}: must end in .parquet or .csv")
    if path.is_dir():
        raise UsageError(f"--output {str(path)!r}: is a directory; give a file name ending in .parquet or .csv")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--output {str(path)!r}: its directory cannot be created or written ({parent})")


def _write_frame(df, path: Path) -> None:
    """Write a frame atomically (.parquet or .csv)."""
    from ._files import atomic_path

    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)


def parse_parameter(key: str, text: str) -> tuple[str, Any]:
    """A notebook parameter from ``-p KEY VALUE``, as text: each notebook converts it to
    the type of the default in its parameters cell (notebooks.typed_parameters), so that
    ``-p quick False`` is False and ``-p data_dir 1`` stays the text "1".

        >>> parse_parameter("n", "3"), parse_parameter("quick", "False")
        (('n', '3'), ('quick', 'False'))
    """
    if not key.isidentifier():
        raise UsageError(f"-p {key!r}: the parameter name must be a Python identifier")
    return key, text


def _print_run(run) -> None:
    status = "ok" if run.ok else "FAILED"
    print(f"{run.name:<24} {status:<6} {run.seconds:8.1f} s" + (f"  {run.error}" if run.error else ""), flush=True)


def _finish(runs) -> int:
    failed = sum(not r.ok for r in runs)
    print(f"{len(runs)} notebooks, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def _cmd_notebooks_run(args) -> int:
    from .studies import notebooks

    parameters = dict(parse_parameter(k, v) for k, v in args.parameter)
    if args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    try:
        runs = notebooks.run_notebooks(
            args.names or None, parameters, quick=args.quick,
            notebooks_dir=args.notebooks_dir or notebooks.NOTEBOOKS_DIR,
            output_dir=args.output_dir or notebooks.RUNS_DIR,
            timeout=args.timeout, report=_print_run,
        )
    except notebooks.NotebookError as exc:
        raise UsageError(str(exc)) from None
    return _finish(runs)


def _cmd_store_compact(args) -> int:
    import time

    from .sweeps.store import Store, default_store

    st = Store(args.store or default_store())
    if not st.path.is_dir():
        raise UsageError(f"store compact: no result store at {st.path}")
    try:
        with st.lock():
            t0 = time.perf_counter()
            n_files, n_rows = st.compact()
    except RuntimeError as exc:  # another sweep holds the lock
        raise UsageError(str(exc)) from None
    print(f"store {st.path}: {n_files} files merged into one, {n_rows} rows, in {time.perf_counter() - t0:.1f} s"
          if n_files else f"store {st.path}: nothing to merge ({n_rows} rows)")
    return EXIT_OK


def _cmd_notebooks_missing(args) -> int:
    raise UsageError("notebooks: give an action: run or kernel")


def _cmd_notebooks_kernel(args) -> int:
    from .studies import notebooks

    name = notebooks.ensure_kernel()
    print(f"Jupyter kernel {name!r} runs {sys.executable}; JupyterLab lists it as \"Python (zclab)\"")
    return EXIT_OK


def _cmd_study(args) -> int:
    from .studies import notebooks

    from ._paths import NotACheckout

    if args.publish and not args.full:
        raise UsageError("--publish: only a full study is published (zclab study --full --publish)")
    parameters = dict(parse_parameter(k, v) for k, v in args.parameter)
    try:
        runs = notebooks.study(quick=not args.full, parameters=parameters,
                               notebooks_dir=args.notebooks_dir or notebooks.NOTEBOOKS_DIR,
                               output_dir=args.output_dir, report=_print_run, publish=args.publish)
    except (notebooks.NotebookError, NotACheckout) as exc:
        raise UsageError(str(exc)) from None
    return _finish(runs)


def _cmd_params(args: argparse.Namespace) -> int:
    """Every parameter (or those named): group, default, unit, what it accepts, what it is."""
    names = list(PARAMETERS)
    if args.names:
        for name in args.names:
            if name in RENAMED:
                raise UsageError(f"{name!r}: {RENAMED[name]}")
            if name not in PARAMETERS:
                raise UsageError(f"{name!r}: unknown parameter" + did_you_mean(name, PARAMETERS))
        names = args.names
    presets = {name: [kind for kind, table in PRESET_KINDS.items() if any(name in p for p in table.values())]
               for name in names}
    if args.json:
        rows = {name: {"group": PARAMETERS[name]["group"], "default": PARAMETERS[name]["default"],
                       "unit": PARAMETERS[name]["unit"], "allowed": allowed(name),
                       "with_others": COMBINATIONS.get(name), "doc": PARAMETERS[name]["doc"],
                       "set_by_presets": presets[name]}
                for name in names}
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    group = None
    for name in names:
        meta = PARAMETERS[name]
        if meta["group"] != group:
            group = meta["group"]
            print(("\n" if name != names[0] else "") + group)
        default = "none" if meta["default"] is None else format_value(meta["default"])
        unit = f" {meta['unit']}" if meta["unit"] else ""
        by = f"; set by the {' and '.join(presets[name])} preset" if presets[name] else ""
        rule = allowed(name) + (f"; {COMBINATIONS[name]}" if name in COMBINATIONS else "")
        first, *rest = textwrap.wrap(meta["doc"] + by, 64) + textwrap.wrap("allowed: " + rule, 64)
        print(f"  {name:<22} {default + unit:<20} {first}")
        for line in rest:
            print(f"  {'':<22} {'':<20} {line}")
    return EXIT_OK


def _kernel_error(exc) -> int:
    """A kernel run that failed: what was seen, then the console's tail; exit 1."""
    print(f"zclab: kernel run failed: {exc}", file=sys.stderr)
    for r in getattr(exc, "results", []):
        if r.ok:
            print(f"  finished before it: {r.summary['scenario']}", file=sys.stderr)
    return EXIT_FAILED


KERNEL_DEFAULT_PACKETS = 10_000  # `zclab kernel run` without --set n_packets=N


def _cmd_kernel_run(args) -> int:
    from .trust import kernel

    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    cfg = build_config(args.preset, args.set)
    if not any(item.partition("=")[0].strip() == "n_packets" for item in args.set):
        cfg = cfg.replace(n_packets=KERNEL_DEFAULT_PACKETS)  # the model's default (a million) is long for a kernel
    kernel.scenario(cfg, args.backend)  # a field the kernel cannot honour: exit 2 before anything runs
    result = _kernel_call(lambda: kernel.run(cfg, backend=args.backend, timeout=args.timeout, cache_dir=args.cache_dir),
                          args.backend, "the kernel run was stopped (qemu killed, or the host's devices removed)")
    if isinstance(result, int):
        return result
    if args.trace:
        _write_frame(result.trace, Path(args.trace))
    if args.json:
        print(json.dumps({"config": cfg.to_dict(), "summary": _json_safe(result.summary)}, indent=2, allow_nan=False))
    else:
        print(result.to_text())
    return EXIT_OK


def _kernel_call(call, backend: str, interrupted: str):
    """Run ``call`` on the real kernel; an exit code instead of its result when it could
    not run (exit 2), failed (1, what was seen) or was interrupted (130)."""
    from .trust import kernel

    try:
        return call()
    except kernel.BackendUnavailable as exc:
        raise UsageError(f"backend {backend!r} unavailable: {exc}") from None
    except kernel.KernelRunError as exc:
        return _kernel_error(exc)
    except KeyboardInterrupt:
        print(f"zclab: interrupted; {interrupted}", file=sys.stderr)
        return 130


def _cmd_kernel_setup(args) -> int:
    from .trust.kernel.install import SetupError, setup

    try:
        setup(cache_dir=args.cache_dir, yes=args.yes, say=lambda m: print(f"zclab kernel setup: {m}", flush=True))
    except SetupError as exc:
        raise UsageError(f"kernel setup: {exc}") from None
    return EXIT_OK


def _cmd_kernel_info(args) -> int:
    from .trust.kernel.info import backend_info, format_info

    print(format_info(backend_info(args.cache_dir)))
    return EXIT_OK


def _int_list(option: str, text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected integers separated by commas, e.g. 64,1500") from None
    if not values:
        raise UsageError(f"{option} {text!r}: give at least one value")
    return values


def _cmd_kernel_measure(args) -> int:
    from .trust import kernel
    from .trust.kernel.measure import measure

    sizes = _int_list("--sizes", args.sizes)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in modes:
        if m not in ("copy", "zerocopy"):
            raise UsageError(f"--modes {args.modes!r}: each one of copy, zerocopy")
    base = build_config(args.preset, args.set)
    for m in modes:  # refuse a bad point before anything runs
        for s in sizes:
            kernel.scenario(base.replace(size_dist="fixed", size_bytes=s, mode=m, n_packets=args.packets), args.backend)
    df = _kernel_call(lambda: measure(sizes, modes, args.packets, args.backend, base, args.timeout, args.cache_dir),
                      args.backend, "the kernel runs were stopped and nothing was written")
    if isinstance(df, int):
        return df
    _write_frame(df, Path(args.output))
    print(df.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    note = " (EMULATED: these timings mean nothing)" if df["emulated"].any() else ""
    print(f"{len(df)} runs written to {args.output}{note}")
    return EXIT_OK


def _cmd_kernel_fit(args) -> int:
    import pandas as pd

    from .trust.kernel.fit import FitError, fit_preset, write_preset

    path = Path(args.table)
    if not path.is_file():
        raise UsageError(f"{args.table}: no such file (write it with zclab kernel measure)")
    df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    try:
        preset = fit_preset(df, name=args.name)
    except FitError as exc:
        raise UsageError(f"kernel fit: {exc}") from None
    write_preset(preset, args.output)
    for k, v in preset["values"].items():
        print(f"{k:<18} {v:.4g}")
    print(f"preset {preset['name']!r} written to {args.output}; {preset['note']}")
    return EXIT_OK


def _cmd_kernel_missing(args) -> int:
    raise UsageError("kernel: give an action: run, setup, info, measure or fit")


def _kernel_parser(sub) -> None:
    kp = sub.add_parser("kernel", help="drive the real kernel's vhost-net (qemu-emulated or this host); see docs/kernel.md")
    kp.set_defaults(func=_cmd_kernel_missing)
    ksub = kp.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    cache = dict(metavar="DIR", default=None, help="kernel and driver cache (default: $ZCLAB_KERNEL_CACHE or ~/.cache/zclab/trust/kernel)")
    r = ksub.add_parser("run", help="run one configuration on the real kernel, e.g. "
                                    "--set size_dist=fixed --set size_bytes=1500 --set n_packets=2000")
    r.add_argument("--backend", choices=("qemu", "host"), default="qemu", help="qemu: emulated Debian kernel (default); host: this kernel")
    r.add_argument("--preset", action="append", default=[], metavar="NAME", help="a policy, workload or host preset (repeatable)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a parameter (repeatable); n_packets defaults to 10000 here")
    r.add_argument("--json", action="store_true", help="print the config and summary as JSON")
    r.add_argument("--trace", metavar="FILE", help="write the per-packet trace (.csv or .parquet)")
    r.add_argument("--timeout", type=float, default=None, metavar="S", help="give up on a hung guest after S seconds")
    r.add_argument("--cache-dir", **cache)
    r.set_defaults(func=_cmd_kernel_run)
    s = ksub.add_parser("setup", help="install qemu and busybox-static (apt), fetch and unpack the kernel package")
    s.add_argument("--cache-dir", **cache)
    s.add_argument("--yes", action="store_true", help="download without asking")
    s.set_defaults(func=_cmd_kernel_setup)
    i = ksub.add_parser("info", help="which backends can run here, and why not")
    i.add_argument("--cache-dir", **cache)
    i.set_defaults(func=_cmd_kernel_info)
    m = ksub.add_parser("measure", help="packet rates over sizes and modes, to a CSV (timings under emulation mean nothing)")
    m.add_argument("--backend", choices=("qemu", "host"), default="qemu", help="qemu (default) or host")
    m.add_argument("--sizes", default="64,128,256,512,1024,1500,4000,9000,16000,32000,65000", metavar="LIST",
                   help="frame sizes, e.g. 64,1500,9000")
    m.add_argument("--modes", default="copy,zerocopy", metavar="LIST", help="copy,zerocopy (default both)")
    m.add_argument("--packets", type=int, default=20_000, metavar="N", help="packets per run (default 20000)")
    m.add_argument("--preset", action="append", default=[], metavar="NAME", help="a preset for the base configuration")
    m.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="set a base parameter, e.g. dest=local")
    m.add_argument("--output", default="kernel-measure.csv", metavar="FILE", help="the table (.csv or .parquet)")
    m.add_argument("--timeout", type=float, default=None, metavar="S", help="give up on a hung guest after S seconds")
    m.add_argument("--cache-dir", **cache)
    m.set_defaults(func=_cmd_kernel_measure)
    f = ksub.add_parser("fit", help="fit a host preset (per_packet_ns, copy_ns_per_byte, zc_setup_ns, pin_ns_per_page) "
                                    "to a measure table")
    f.add_argument("table", help="the table zclab kernel measure wrote")
    f.add_argument("--output", default="kernel-host-preset.json", metavar="FILE", help="the preset (.json or .toml)")
    f.add_argument("--name", default="fitted-host", help="the preset's name")
    f.set_defaults(func=_cmd_kernel_fit)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="zclab", description="Simulate the Linux vhost-net TX zero-copy design.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    s = sub.add_parser("simulate", help="run one configuration and print its record")
    s.add_argument("--preset", action="append", default=[], metavar="NAME",
                   help="a policy, workload or host preset (repeatable): " + ", ".join(n for t in PRESET_KINDS.values() for n in t)
                        + "; or @FILE, a preset file of zclab kernel fit")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="set a parameter (repeatable), e.g. --set ring_size=512 --set completion=out_of_order; "
                        "`zclab params` lists them")
    s.add_argument("--json", action="store_true", help="print the config and summary as JSON")
    s.set_defaults(func=_cmd_simulate)

    w = sub.add_parser("sweep", help="run a sweep spec (TOML or YAML): many points, replicated, resumable")
    w.add_argument("spec", help="the spec file (see zclab.sweeps.spec)")
    w.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default: every core)")
    w.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://127.0.0.1:8786")
    w.add_argument("--store", metavar="DIR", help="where points are kept (default: the spec's store, else data/store)")
    w.add_argument("--output", metavar="FILE", help="write the frame here (.parquet or .csv; default: the spec's output)")
    w.add_argument("--dry-run", action="store_true", help="show the number of runs and a time estimate, run nothing")
    w.add_argument("--no-progress", action="store_true", help="no progress bar")
    w.add_argument("--strict", action="store_true",
                   help="stop at the first run that fails (default: record it with its reason, finish the others)")
    w.add_argument("--max-runs", type=int, default=MAX_RUNS, metavar="N",
                   help=f"refuse a sweep of more runs than this, before building it (default {MAX_RUNS:,})")
    w.set_defaults(func=_cmd_sweep)

    n = sub.add_parser("notebooks", help="run the notebooks of notebooks/ in batch (papermill)")
    n.set_defaults(func=_cmd_notebooks_missing)
    nsub = n.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    r = nsub.add_parser("run", help="execute notebooks; executed copies go to runs/")
    r.add_argument("names", nargs="*", metavar="NAME", help="notebooks to run, with or without .ipynb (default: every one)")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="inject a parameter (repeatable); VALUE takes the type of the parameter's default in the notebook")
    r.add_argument("--quick", action="store_true", help="small, fast runs (injects quick=True)")
    r.add_argument("--output-dir", metavar="DIR", help="where the executed copies go (default: runs/)")
    r.add_argument("--timeout", type=float, default=1800, metavar="SECONDS", help="longest a cell may run (default 1800)")
    r.add_argument("--notebooks-dir", help=argparse.SUPPRESS)  # for tests
    r.set_defaults(func=_cmd_notebooks_run)
    k = nsub.add_parser("kernel", help="register the Jupyter kernel the notebooks use (this Python)")
    k.set_defaults(func=_cmd_notebooks_kernel)

    t = sub.add_parser("study", help="run every notebook into runs/<name>/ (frames, figures, executed notebooks, "
                                     "findings, the HTML report); --full --publish updates the committed results")
    mode = t.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small, fast runs (the default)")
    mode.add_argument("--full", action="store_true", help="the full study")
    t.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="a parameter for the notebooks that declare it (repeatable); one no notebook declares is an error")
    t.add_argument("--publish", action="store_true",
                   help="with --full, after every notebook succeeded: copy the figures, frames and findings into "
                        "figures/, data/, docs/findings.md and the README's findings block")
    t.add_argument("--output-dir", metavar="DIR", help="the run directory (default: runs/quick, runs/full, or with "
                                                       "-p runs/<size>-<digest of the parameters>)")
    t.add_argument("--notebooks-dir", help=argparse.SUPPRESS)  # for tests
    t.set_defaults(func=_cmd_study)

    c = sub.add_parser("store", help="the result store: compact it")
    csub = c.add_subparsers(dest="store_cmd", metavar="ACTION")
    cc = csub.add_parser("compact", help="merge the store's small files into one (atomically; no row is lost)")
    cc.add_argument("store", nargs="?", metavar="DIR", help="the store (default: data/store or $ZCLAB_STORE)")
    cc.set_defaults(func=_cmd_store_compact)

    a = sub.add_parser("params", help="list the parameters: default, unit, what each accepts, what it is")
    a.add_argument("names", nargs="*", metavar="NAME", help="only these parameters")
    a.add_argument("--json", action="store_true", help="print them as JSON")
    a.set_defaults(func=_cmd_params)

    _kernel_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return EXIT_USAGE
        return args.func(args)
    except (UsageError, ConfigError, SweepError) as exc:
        # one line, whatever the message holds (a YAML or TOML parser's report spans several)
        message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        print(f"zclab: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("zclab: interrupted; finished runs are saved, run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`zclab simulate --json | head`): stop quietly, as a
        # command killed by SIGPIPE does, and keep Python's exit-time flush quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as exc:  # a run that failed: say what, no traceback
        print(f"zclab: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
