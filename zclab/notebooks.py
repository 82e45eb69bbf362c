"""Batch runs of the project's notebooks: the study.

    >>> from zclab import notebooks
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
  to ``figures_dir`` (with :func:`zclab.plotting.savefig`), and passes ``store=store`` and
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

from ._files import atomic_path, write_text

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

from ._paths import NOTEBOOKS_DIR, PROJECT_ROOT, RUNS_DIR  # noqa: E402  (the project's paths, once)
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
                    pass  # an expression: its type is not known before it runs
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
        if not isinstance(value, str) or key not in declared:
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
) -> list[NotebookRun]:
    """Execute notebooks with papermill, one after the other; how each went.

    ``names`` are notebooks of ``notebooks_dir`` (``"quickstart"`` or
    ``"quickstart.ipynb"``); None runs every one. Each runs with
    ``progress=False``, ``quick=True`` if ``quick``, then ``parameters``
    injected, for at most ``timeout`` seconds per cell; its executed copy is
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
    injected = {"progress": False, **({"quick": True} if quick else {}), **_check_parameters(parameters)}
    if not sources:
        return []
    # every notebook's parameters converted, and refused, before any notebook runs
    typed = {src: typed_parameters(src, injected) for src in sources}

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


def _last_full_seconds(sources: list[Path], output_dir: Path) -> dict[str, float]:
    """Durations of the last full (not quick) successful runs, from the executed copies."""
    import nbformat

    seconds = {}
    for src in sources:
        out = output_dir / src.name
        try:
            meta = nbformat.read(out, as_version=4).metadata.get("papermill", {})
        except Exception:  # absent or unreadable: no estimate for it
            continue
        params = meta.get("parameters") or {}
        if not params.get("quick", False) and not meta.get("exception") and meta.get("duration"):
            seconds[src.stem] = float(meta["duration"])
    return seconds


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


def study(
    quick: bool = True,
    parameters: Mapping[str, Any] | None = None,
    *,
    notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR,
    output_dir: str | os.PathLike = RUNS_DIR,
    report: Callable[[NotebookRun], None] | None = None,
    html: bool = True,
    findings: bool = True,
) -> list[NotebookRun]:
    """Run every notebook, quick or full: the project's main job.

    Frames land in ``data/``, figures in ``figures/``, executed notebooks in
    ``runs/``. Before a full study, prints how long the last full runs took
    (from the executed copies in ``runs/``), when there are any.

    Afterwards, with ``html``, renders the executed notebooks and an index to
    ``<output_dir>/html/`` (:func:`zclab.report.render`); with ``findings``, when
    every notebook succeeded and wrote to the project's ``data/``, renders
    ``docs/findings.md`` and the README's findings block
    (:func:`zclab.findings.render`). Each prints one line saying where it wrote.

        >>> runs = study(quick=True)          # doctest: +SKIP
        zclab study (quick): 1 notebook(s) from .../notebooks
    """
    sources = available(notebooks_dir)
    mode = "quick" if quick else "full"
    line = f"zclab study ({mode}): {len(sources)} notebook(s) from {Path(notebooks_dir)}"
    if not quick and sources:
        last = _last_full_seconds(sources, Path(output_dir))
        recorded = _recorded_full_seconds(Path(notebooks_dir))
        if last:
            some = "" if len(last) == len(sources) else f" ({len(last)} of them)"
            line += (f"; the last full run{some} took {sum(last.values()):.0f} s "
                     "(less when the store already holds their points)")
        elif recorded:
            times, meta = recorded
            line += (f"; estimate: {sum(times.get(s.stem, 0.0) for s in sources) / 60:.0f} min, as the project's "
                     f"last full study took on {meta}")
        else:
            line += "; no earlier full run to estimate the time from"
    print(line, flush=True)
    runs = run_notebooks(None, parameters, quick=quick, notebooks_dir=notebooks_dir,
                         output_dir=output_dir, report=report)
    if not quick and runs and all(r.ok for r in runs) and Path(notebooks_dir) == NOTEBOOKS_DIR:
        _record_full_seconds(runs)
    if html and runs:
        _write_report(runs, Path(output_dir))
    if findings and runs and all(r.ok for r in runs):
        _render_findings(Path(notebooks_dir), parameters)
    return runs


def _write_report(runs: list[NotebookRun], output_dir: Path) -> None:
    """The HTML report of a study; a failure to render is reported, not raised."""
    from . import report as _report

    try:
        index = _report.render(output_dir, runs=runs)
    except Exception as exc:  # the study's results stand without the report
        print(f"report: not written: {_one_line(exc)}", flush=True)
        return
    print(f"report: {index}", flush=True)


def _render_findings(notebooks_dir: Path, parameters: Mapping[str, Any] | None) -> None:
    """docs/findings.md and the README block, when the notebooks wrote to the project's data/."""
    from . import findings as _findings

    data_dir = Path(str((parameters or {}).get("data_dir", "../data")))
    data_dir = data_dir if data_dir.is_absolute() else notebooks_dir.resolve() / data_dir
    if data_dir.resolve() != (PROJECT_ROOT / "data").resolve():
        return  # a study of other notebooks or into another directory: the project's docs stay
    try:
        docs = _findings.render(data_dir=data_dir)
    except Exception as exc:
        print(f"findings: not rendered: {_one_line(exc)}", flush=True)
        return
    print(f"findings: {docs} and the README's findings block", flush=True)
