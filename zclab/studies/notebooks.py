"""Batch runs of the project's notebooks: the study.

    >>> from zclab.studies import notebooks
    >>> runs = notebooks.run_notebooks(["quickstart"], quick=True)      # doctest: +SKIP
    >>> [(r.name, r.ok, r.error) for r in runs]                          # doctest: +SKIP
    [('quickstart', True, None)]
    >>> notebooks.study(quick=False)                                     # doctest: +SKIP

Every notebook of ``notebooks/`` is executed with papermill on the kernel
``zclab`` (:func:`ensure_kernel`: this interpreter, whatever kernel the
notebook names), with the notebooks directory as the working directory, and
its executed copy is written to ``runs/`` (never over the source), with a
``.log`` of what the kernel printed outside cells. A failing
notebook is reported, not raised: the batch goes on.

**Notebook conventions.** Each notebook in ``notebooks/``

* is paired with a ``.py`` file in jupytext's percent format (``jupytext.toml``
  at the project root) and is committed without outputs or execution counts;
* has exactly one cell tagged ``parameters`` that assigns at least::

      quick = False              # True: small, fast runs (CI, zclab study --quick)
      data_dir = "../data"       # where frames are written
      figures_dir = "../figures" # where figures are written
      store = "../data/store"    # the sweep result store
      progress = True            # progress bars in sweeps

  Paths are relative to the notebooks directory, which is the working
  directory both in JupyterLab and in batch runs (so are relative paths given
  as parameters);
* writes its frames to ``data_dir`` (with :func:`save_frame`) and its figures
  to ``figures_dir`` (with :func:`zclab.studies.plotting.savefig`), and passes ``store=store`` and
  ``progress=progress`` to :func:`zclab.sweep`;
* takes its numbers from its frames, never typed into the text.

Batch runs inject ``progress=False`` (and ``quick=True`` in quick mode) before
the caller's parameters, and run the kernel with ``MPLBACKEND=Agg``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .._files import atomic_path, write_text
from .._paths import NOTEBOOKS_DIR, PACKAGE_DIR, PROJECT_ROOT, RUNS_DIR, checkout, in_checkout
from ..model.config import did_you_mean

__all__ = [
    "NotebookRun",
    "NotebookError",
    "ensure_kernel",
    "same_python",
    "available",
    "run_notebooks",
    "study",
    "save_frame",
    "PROJECT_ROOT",
    "NOTEBOOKS_DIR",
    "RUNS_DIR",
    "KERNEL_NAME",
]

#: How long each notebook took in the last full study of the project (committed, so
#: that a fresh clone can say how long ``zclab study --full`` will take).
STUDY_TIMES = NOTEBOOKS_DIR / "study_times.json"
KERNEL_NAME = "zclab"
KERNEL_DISPLAY_NAME = "Python (zclab)"


class NotebookError(ValueError):
    """Bad input to a batch run (an unknown notebook, a missing directory...);
    raised before anything runs."""


@dataclass
class NotebookRun:
    """How one notebook went: ``ok`` is False when it raised, and ``error`` says
    what, on one line."""

    name: str
    source: Path
    output: Path
    ok: bool
    seconds: float
    error: str | None = None


# --- the kernel ----------------------------------------------------------------------------------

def _spec_python(name: str) -> tuple[str | None, str | None]:
    """(python the kernelspec ``name`` launches, its directory), or (None, None) if absent."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return None, None
    return (spec.argv[0] if spec.argv else None), spec.resource_dir


def same_python(a: str | os.PathLike | None, b: str | os.PathLike | None = None) -> bool:
    """Whether interpreter path ``a`` is ``b`` (default: this one): the same file
    in the same directory, so ``venv/bin/python`` is ``venv/bin/python3``.

    Not the same file alone: a virtualenv's python is a symlink to the base
    interpreter, which has other packages.
    """
    b = sys.executable if b is None else b
    if a is None or not b:
        return False
    a, b = os.path.abspath(a), os.path.abspath(b)
    if a == b:
        return True
    try:
        return os.path.dirname(a) == os.path.dirname(b) and os.path.samefile(a, b)
    except OSError:  # a kernelspec naming a python that is gone
        return False


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Make sure the Jupyter kernel ``name`` launches this interpreter
    (:func:`same_python`); its name.

    Installs the kernelspec into ``sys.prefix`` (the virtualenv) when it is
    missing or launches another python, so that notebooks run against the
    packages installed here.

        >>> ensure_kernel()            # doctest: +SKIP
        'zclab'
    """
    python, _ = _spec_python(name)
    if same_python(python):
        return name
    from ipykernel.kernelspec import install

    display = KERNEL_DISPLAY_NAME if name == KERNEL_NAME else f"Python ({name})"
    install(kernel_name=name, display_name=display, prefix=sys.prefix)
    python, where = _spec_python(name)
    if not same_python(python):
        # A kernelspec of the same name in a directory Jupyter searches first.
        raise RuntimeError(
            f"kernel {name!r}: the kernelspec in {where} launches {python}, not {sys.executable}, "
            f"and shadows the one installed in {sys.prefix}; remove it (jupyter kernelspec remove {name})"
        )
    return name


# --- which notebooks ---------------------------------------------------------------------------

def available(notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks of ``notebooks_dir``, sorted: every ``*.ipynb`` but checkpoints."""
    d = Path(notebooks_dir)
    if not d.is_dir():
        if d == NOTEBOOKS_DIR and not in_checkout():  # installed without the project's files
            raise NotebookError(f"the notebooks and the study need zclab's source checkout (git clone it, "
                                f"then pip install -e \".[dev]\" there); this zclab is installed in {PACKAGE_DIR.parent}")
        raise NotebookError(f"notebooks_dir={str(d)!r}: no such directory")
    return sorted(
        p for p in d.glob("*.ipynb")
        if p.is_file() and not p.name.startswith(".") and not p.stem.endswith("-checkpoint")
    )


def _select(names: str | Iterable[str] | None, notebooks_dir: Path) -> list[Path]:
    """The notebooks named (with or without .ipynb), or every one for None."""
    found = available(notebooks_dir)
    if names is None:
        return found
    if isinstance(names, str):
        names = [names]
    by_stem = {p.stem: p for p in found}
    chosen = []
    for name in names:
        stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
        if stem not in by_stem:
            known = ", ".join(by_stem) or "none"
            raise NotebookError(f"notebook {name!r} is not in {notebooks_dir}; available: {known}")
        chosen.append(by_stem[stem])
    return list(dict.fromkeys(chosen))  # a notebook named twice runs once


def _check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise NotebookError(f"parameters={parameters!r}: must be a dict of name to value")
    for key in parameters:
        if not isinstance(key, str) or not key.isidentifier():
            raise NotebookError(f"parameter {key!r}: must be a Python identifier")
    return dict(parameters)


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_UNTYPED = object()  # a parameter whose default is an expression: declared, its type unknown


def _declared_defaults(src: Path) -> dict[str, Any]:
    """The literal defaults the cell tagged ``parameters`` assigns (``name = literal``)."""
    import ast

    import nbformat

    nb = nbformat.read(src, as_version=4)
    out = {}
    for cell in nb.cells:
        if cell.cell_type != "code" or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            return {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    out[node.targets[0].id] = ast.literal_eval(node.value)
                except (ValueError, TypeError, SyntaxError, RecursionError):
                    out[node.targets[0].id] = _UNTYPED  # an expression: its type is not known before it runs
    return out


def typed_parameters(src: Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``parameters`` for notebook ``src``, each given as text converted to the type of
    its default in the notebook's parameters cell (``quick = False``: "False" is
    False, "no" too; ``seed = 1``: "7" is 7; a list, dict or None default: JSON; a
    text default: the text as it is). A value given as text that the type does
    not take is a NotebookError naming it; a value of another type, or for a name the
    cell does not declare, is passed as it is.

        >>> typed_parameters(NOTEBOOKS_DIR / "quickstart.ipynb", {"quick": "False", "data_dir": "/tmp/x"})
        {'quick': False, 'data_dir': '/tmp/x'}
    """
    declared = _declared_defaults(src)
    out = {}
    for key, value in parameters.items():
        if not isinstance(value, str) or key not in declared or declared[key] is _UNTYPED:
            out[key] = value  # not text, not declared, or a default that is an expression
            continue
        default = declared[key]
        text = value.strip()
        try:
            if isinstance(default, bool):
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                value = text.lower() in _TRUE
            elif isinstance(default, int):
                value = int(text)
            elif isinstance(default, float):
                value = float(text)
            elif default is None or isinstance(default, (list, tuple, dict)):
                import json

                try:
                    value = json.loads(text)
                except ValueError:
                    if default is not None:
                        raise
                if isinstance(default, tuple) and isinstance(value, list):
                    value = tuple(value)
        except ValueError:
            kind = {bool: "true or false", int: "an integer", float: "a number", list: "a JSON list",
                    tuple: "a JSON list", dict: "a JSON object"}.get(type(default), f"a {type(default).__name__}")
            raise NotebookError(f"parameter {key}={value!r}: {src.stem} declares {key} = {default!r}; "
                                f"give {kind}") from None
        out[key] = value
    return out


# --- inside a notebook ---------------------------------------------------------------------------

def save_frame(df, name: str, directory: str | os.PathLike = "../data") -> Path:
    """Write ``df`` to ``directory/name.parquet`` atomically (a temporary file, then a
    rename) and create ``directory`` if needed; the path.

        >>> save_frame(agg, "quickstart", data_dir)     # doctest: +SKIP
        PosixPath('../data/quickstart.parquet')
    """
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or os.sep in name:
        raise ValueError(f"name={name!r} must be a non-empty file name without a path separator")
    path = Path(directory) / f"{name}.parquet"
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return path


# --- running -------------------------------------------------------------------------------------

def _kernel_manager_class(env: Mapping[str, str], log) -> type:
    """A kernel manager that starts its kernel with ``env`` on top of ours and with
    its stdout and stderr (what it prints outside cells: start-up warnings, the
    traceback of a dying kernel) going to the open file ``log``."""
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw["env"] = {**os.environ, **kw.get("env", {}), **env}
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            return await super().start_kernel(**kw)

    return BatchKernelManager


def _one_line(exc: BaseException) -> str:
    """``"ZeroDivisionError: division by zero (cell 3)"``: name, value, failing cell."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        text = f"{exc.ename}: {exc.evalue}"
        if exc.cell_index is not None:
            # Counted from 0 in the executed copy, whose cells include the injected parameters.
            text += f" (cell {exc.cell_index})"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # tracebacks' colours
    text = " ".join(text.split())
    return text if len(text) <= 400 else text[:397] + "..."


def run_notebooks(
    names: str | Iterable[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    quick: bool = False,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    output_dir: str | os.PathLike = RUNS_DIR,
    timeout: float = 1800,
    *,
    report: Callable[[NotebookRun], None] | None = None,
    injected: Mapping[str, Any] | None = None,
) -> list[NotebookRun]:
    """Execute notebooks with papermill, one after the other; how each went.

    ``names`` are notebooks of ``notebooks_dir`` (``"quickstart"`` or
    ``"quickstart.ipynb"``); None runs every one. Each runs with
    ``progress=False``, ``quick=True`` if ``quick``, then those of ``injected``
    (the runner's own: where to write) and of ``parameters`` (the user's) that its
    parameters cell declares. A parameter of ``parameters`` that no notebook to run
    declares is a NotebookError naming it, before anything runs (papermill would
    only warn, and the run would use the default). At most ``timeout`` seconds per
    cell; its executed copy is
    ``output_dir/<name>.ipynb`` and what its kernel printed outside cells
    (warnings, the traceback of a dying kernel) ``output_dir/<name>.log``.
    A notebook that fails is recorded
    (``ok=False`` and the error) and the next one runs. ``report`` is called
    with each run as it finishes.

        >>> runs = run_notebooks(["quickstart"], {"data_dir": "/tmp/d"}, quick=True)  # doctest: +SKIP
        >>> runs[0].ok, runs[0].output.name                                          # doctest: +SKIP
        (True, 'quickstart.ipynb')
    """
    notebooks_dir = Path(notebooks_dir).resolve()
    output_dir = Path(output_dir).resolve()
    sources = _select(names, notebooks_dir)
    if output_dir == notebooks_dir:
        raise NotebookError(f"output_dir={str(output_dir)!r} is the notebooks directory: "
                            "the executed copies would overwrite the sources")
    user = _check_parameters(parameters)
    if not sources:
        return []
    declared = {src: _declared_defaults(src) for src in sources}
    for key in user:
        if not any(key in d for d in declared.values()):
            names_run = ", ".join(s.stem for s in sources)
            known = sorted(set().union(*declared.values()))
            raise NotebookError(f"parameter {key!r}: no notebook run here declares it ({names_run}); "
                                f"their parameters: {', '.join(known)}" + did_you_mean(key, known))
    # every notebook's parameters converted, and refused, before any notebook runs
    typed = {}
    for src in sources:
        own = {k: v for k, v in {**dict(injected or {}), **user}.items() if k in declared[src]}
        typed[src] = typed_parameters(src, {"progress": False, **({"quick": True} if quick else {}), **own})

    import papermill

    kernel = ensure_kernel()
    output_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for src in sources:
        out = output_dir / src.name
        # papermill writes the executed copy as it goes: into a file of its own, which
        # becomes <name>.ipynb only once the run has ended (an interrupted run never
        # replaces the last complete copy, nor reads as one)
        running = output_dir / f".{src.stem}.running.ipynb"
        t0 = time.perf_counter()
        error = None
        try:
            with open(output_dir / f"{src.stem}.log", "wb") as log:
                papermill.execute_notebook(
                    src, running, parameters=typed[src],
                    kernel_name=kernel,  # never the kernel the notebook's metadata names
                    language="python",  # how to write the parameters, even when the metadata says nothing
                    cwd=notebooks_dir, progress_bar=False, log_output=False,
                    execution_timeout=timeout, start_timeout=120,
                    kernel_manager_class=_kernel_manager_class({"MPLBACKEND": "Agg"}, log),  # no display
                )
        except Exception as exc:  # any failure is this notebook's, not the batch's
            error = _one_line(exc)
        except BaseException:  # Ctrl-C: keep the partial copy, marked, beside the last complete one
            _mark_interrupted(running, output_dir / f"{src.stem}.interrupted.ipynb")
            raise
        if running.exists():
            os.replace(running, out)
        run = NotebookRun(src.stem, src, out, error is None, time.perf_counter() - t0, error)
        runs.append(run)
        if report is not None:
            report(run)
    return runs


def _mark_interrupted(running: Path, dest: Path) -> None:
    """Mark a partly executed copy as interrupted (metadata ``zclab.interrupted`` and
    ``papermill.exception``) and move it to ``dest``; never raises."""
    try:
        import nbformat

        nb = nbformat.read(running, as_version=4)
        nb.metadata.setdefault("zclab", {})["interrupted"] = True
        nb.metadata.setdefault("papermill", {})["exception"] = True
        nbformat.write(nb, dest)
        running.unlink()
    except Exception:
        pass


def _recorded_full_seconds(notebooks_dir: Path) -> tuple[dict[str, float], str] | None:
    """The per-notebook times of the project's last full study (``STUDY_TIMES``)."""
    import json

    try:
        rec = json.loads((notebooks_dir / STUDY_TIMES.name).read_text())
        return {k: float(v) for k, v in rec["seconds"].items()}, rec["machine"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _record_full_seconds(runs: list[NotebookRun]) -> None:
    import json
    import platform

    machine = f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({platform.machine()})"
    rec = {"machine": machine, "seconds": {r.name: round(r.seconds, 1) for r in runs}}
    write_text(STUDY_TIMES, json.dumps(rec, indent=1) + "\n")


def run_name(quick: bool, parameters: Mapping[str, Any] | None = None) -> str:
    """The run directory's name of a study: its size, and a digest of its parameters
    when it has any (runs with different parameters never share a directory).

        >>> run_name(True), run_name(False, {"seed": 2})[:5]
        ('quick', 'full-')
    """
    import hashlib
    import json

    mode = "quick" if quick else "full"
    if not parameters:
        return mode
    text = json.dumps(dict(parameters), sort_keys=True, default=str)
    return f"{mode}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def study(
    quick: bool = True,
    parameters: Mapping[str, Any] | None = None,
    *,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    output_dir: str | os.PathLike | None = None,
    report: Callable[[NotebookRun], None] | None = None,
    html: bool = True,
    findings: bool = True,
    publish: bool = False,
) -> list[NotebookRun]:
    """Run every notebook, quick or full: the project's main job. It writes only
    under its run directory, ``output_dir`` (default ``runs/<run_name>``):

    ====================  ===================================================
    ``study.json``        the parameters, zclab's version, the model version,
                          the commit, when it ran, how long each notebook took
    ``data/``             the frames and each notebook's finding (``findings/``)
    ``figures/``          the figures (PNG, SVG, PDF)
    ``<notebook>.ipynb``  the executed notebooks (and each one's ``.log``)
    ``html/``             the HTML report (with ``html``)
    ``findings.md``       the answers (with ``findings``, when every notebook ran)
    ====================  ===================================================

    The checkout is left as it was (the sweeps' store, ``data/store``, is a cache
    that git ignores): only ``publish=True``, for a full study in which every
    notebook succeeded, copies the figures, frames and findings into the project's
    ``figures/``, ``data/`` and ``docs/findings.md``, rewrites the README's findings
    block and records the notebooks' times (:func:`publish_run`). Before a full
    study, prints how long it should take.

        >>> runs = study(quick=True)          # doctest: +SKIP
        zclab study (quick): 11 notebook(s) from .../notebooks into .../runs/quick
    """
    import json

    if publish and quick:
        raise NotebookError("publish: only a full study's answers are published (zclab study --full --publish)")
    if publish:
        checkout("zclab study --publish")
    params = _check_parameters(parameters)
    sources = available(notebooks_dir)
    out = Path(output_dir) if output_dir is not None else RUNS_DIR / run_name(quick, params)
    mode = "quick" if quick else "full"
    line = f"zclab study ({mode}): {len(sources)} notebook(s) from {Path(notebooks_dir)} into {out}"
    if not quick and sources:
        line += _estimate_line(sources, Path(notebooks_dir))
    print(line, flush=True)
    # where the notebooks write: the run directory, unless the caller says otherwise
    data_dir = Path(str(params.get("data_dir", out / "data")))
    injected = {"data_dir": str(out / "data"), "figures_dir": str(out / "figures")}
    _seed_kernel_runs(data_dir / "kernel_runs")  # notebook 09 keeps its traces in <data_dir>/kernel_runs
    meta = _study_meta(quick, params)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "study.json", json.dumps(meta, indent=1) + "\n")
    runs = run_notebooks(None, params, quick=quick, notebooks_dir=notebooks_dir, output_dir=out, report=report,
                         injected=injected)
    meta["seconds"] = {r.name: round(r.seconds, 1) for r in runs}
    meta["ok"] = bool(runs) and all(r.ok for r in runs)
    write_text(out / "study.json", json.dumps(meta, indent=1) + "\n")
    if html and runs:
        _write_report(runs, out)
    if findings and meta["ok"]:
        _render_findings(data_dir, out / "findings.md")
    if publish:
        if not meta["ok"]:
            print("publish: not done, a notebook failed (the checkout is as it was)", flush=True)
        else:
            for path in publish_run(out, runs):
                print(f"published: {path}", flush=True)
    return runs


def _estimate_line(sources: list[Path], notebooks_dir: Path) -> str:
    """``"; estimate: 15 min, ..."``: from the newest full run directory's times, else
    the times the last published study recorded (``STUDY_TIMES``)."""
    import json

    newest = None
    for meta_path in RUNS_DIR.glob("full*/study.json"):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        if meta.get("ok") and meta.get("seconds") and (newest is None or meta["started"] > newest["started"]):
            newest = meta
    if newest:
        total = sum(newest["seconds"].get(s.stem, 0.0) for s in sources)
        return f"; estimate: {total / 60:.0f} min, as the last full run took ({newest['started'][:10]})"
    recorded = _recorded_full_seconds(notebooks_dir)
    if recorded:
        times, machine = recorded
        return (f"; estimate: {sum(times.get(s.stem, 0.0) for s in sources) / 60:.0f} min, as the project's "
                f"last published study took on {machine}")
    return "; no earlier full run to estimate the time from"


def _seed_kernel_runs(dest: Path) -> None:
    """Give a run the kernel traces the project keeps (data/kernel_runs): notebook 09
    reads them when no backend can boot a kernel here, and writes new ones beside them."""
    import shutil

    src = PROJECT_ROOT / "data" / "kernel_runs"
    if src.is_dir() and not dest.exists():
        shutil.copytree(src, dest)


def _study_meta(quick: bool, params: Mapping[str, Any]) -> dict:
    import datetime
    import subprocess

    from .. import __version__
    from ..sweeps.store import MODEL_VERSION

    commit = None
    if in_checkout():
        try:
            commit = subprocess.run(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"],
                                    capture_output=True, text=True, timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    plain = (str, int, float, bool, type(None))
    return {"quick": quick, "parameters": {k: v if isinstance(v, plain) else repr(v) for k, v in params.items()},
            "zclab_version": __version__, "model_version": MODEL_VERSION, "commit": commit,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def publish_run(run_dir: str | os.PathLike, runs: list[NotebookRun] | None = None) -> list[Path]:
    """Copy a full study's results from its run directory into the project: figures to
    ``figures/``, frames to ``data/``, the kernel's traces to ``data/kernel_runs/``,
    findings to ``data/findings/`` (their figures pointing at ``figures/``), then
    ``docs/findings.md`` and the README's findings block; with ``runs``, their times
    for the next estimate (``notebooks/study_times.json``). Returns what it wrote."""
    import json
    import shutil

    root = checkout("publishing a study")
    run_dir = Path(run_dir)
    written = []

    def copy(src: Path, dest: Path) -> None:
        with atomic_path(dest) as tmp:
            shutil.copyfile(src, tmp)
        written.append(dest)

    for f in sorted((run_dir / "figures").glob("*.*")):
        copy(f, root / "figures" / f.name)
    data = run_dir / "data"
    for f in sorted(data.glob("*.parquet")):
        copy(f, root / "data" / f.name)
    for f in sorted((data / "kernel_runs").rglob("*")):
        if f.is_file():
            copy(f, root / "data" / "kernel_runs" / f.relative_to(data / "kernel_runs"))
    for f in sorted((data / "findings").glob("*.json")):
        entry = json.loads(f.read_text())
        entry["figures"] = [f"figures/{Path(p).name}" for p in entry.get("figures", [])]
        written.append(write_text(root / "data" / "findings" / f.name, json.dumps(entry, indent=2) + "\n"))
    from . import findings as _findings

    written.append(_findings.render(data_dir=root / "data", docs=root / "docs" / "findings.md",
                                    readme=root / "README.md"))
    if runs:
        _record_full_seconds(runs)
        written.append(STUDY_TIMES)
    return written


def _write_report(runs: list[NotebookRun], output_dir: Path) -> None:
    """The HTML report of a study; a failure to render is reported, not raised."""
    from . import report as _report

    try:
        index = _report.render(output_dir, runs=runs)
    except Exception as exc:  # the study's results stand without the report
        print(f"report: not written: {_one_line(exc)}", flush=True)
        return
    print(f"report: {index}", flush=True)


def _render_findings(data_dir: Path, docs: Path) -> None:
    """The run's findings.md from its notebooks' records; the project's docs and README
    are left alone (publish_run writes those)."""
    from . import findings as _findings

    try:
        path = _findings.render(data_dir=data_dir, docs=docs, readme=None)
    except Exception as exc:
        print(f"findings: not rendered: {_one_line(exc)}", flush=True)
        return
    print(f"findings: {path}", flush=True)
