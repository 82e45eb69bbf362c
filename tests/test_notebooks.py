"""Batch notebooks: papermill on the zclab kernel, failures reported, sources untouched,
committed notebooks clean and in sync with their .py pair."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from zclab.studies import notebooks
from zclab.cli import main

NOTEBOOKS = sorted(notebooks.NOTEBOOKS_DIR.glob("*.ipynb"))


def make_notebook(directory: Path, name: str, *cells: str, parameters: str = "quick = False\nprogress = True") -> Path:
    """A notebook of code cells, the first tagged ``parameters``; it names a kernel
    that does not exist, which a batch run must ignore."""
    directory.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]})]
                      + [new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "gone", "language": "python"}
    path = directory / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def run_cli(*args):
    p = subprocess.run([sys.executable, "-m", "zclab.cli", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


# --- the quickstart, end to end ---------------------------------------------------------------

@pytest.mark.slow  # papermill starts a Jupyter kernel per run: seconds each
def test_quickstart_runs_quick_and_writes_its_frame_and_figure(tmp_path):
    sources = {p: p.read_bytes() for p in notebooks.NOTEBOOKS_DIR.iterdir() if p.is_file()}
    params = {"data_dir": str(tmp_path / "data"), "figures_dir": str(tmp_path / "figures"),
              "store": str(tmp_path / "store")}
    runs = notebooks.run_notebooks(["quickstart"], params, quick=True, output_dir=tmp_path / "runs", timeout=300)
    assert [(r.name, r.ok, r.error) for r in runs] == [("quickstart", True, None)]
    assert runs[0].output == tmp_path / "runs" / "quickstart.ipynb" and runs[0].output.is_file()
    assert (tmp_path / "data" / "quickstart.parquet").stat().st_size > 0
    for ext in ("png", "svg", "pdf"):
        assert (tmp_path / "figures" / f"quickstart.{ext}").stat().st_size > 0
    assert any((tmp_path / "store").iterdir())
    executed = nbformat.read(runs[0].output, as_version=4)
    assert executed.metadata.papermill.parameters["quick"] is True
    # The sources are unchanged, and nothing was added next to them.
    assert {p: p.read_bytes() for p in notebooks.NOTEBOOKS_DIR.iterdir() if p.is_file()} == sources


# --- batches ---------------------------------------------------------------------------------

@pytest.fixture
def batch(tmp_path):
    """A notebooks directory with one good and one failing notebook."""
    d = tmp_path / "nbs"
    make_notebook(d, "a_good", "x = 1 + 1")
    make_notebook(d, "b_bad", "y = 2", "raise RuntimeError('the straggler never completed')", "z = 3")
    return d


@pytest.mark.slow  # papermill starts a Jupyter kernel per run: seconds each
def test_a_failing_notebook_is_reported_and_the_batch_goes_on(batch, tmp_path):
    make_notebook(batch, "c_after", "open('ran.txt', 'w').write('yes')")
    runs = notebooks.run_notebooks(notebooks_dir=batch, output_dir=tmp_path / "runs")
    assert [(r.name, r.ok) for r in runs] == [("a_good", True), ("b_bad", False), ("c_after", True)]
    bad = runs[1]
    assert "RuntimeError" in bad.error and "the straggler never completed" in bad.error
    assert "cell" in bad.error and "\n" not in bad.error
    assert runs[0].error is None and all(r.seconds > 0 for r in runs)
    assert (batch / "ran.txt").read_text() == "yes"  # the notebooks directory is the working directory
    assert all(r.output.is_file() for r in runs)  # the failed one too, with its traceback
    assert all(r.output.with_suffix(".log").is_file() for r in runs)  # what the kernels printed outside cells


@pytest.mark.slow
def test_cli_exits_1_when_a_notebook_failed_and_0_when_none_did(batch, tmp_path):
    code, out, err = run_cli("notebooks", "run", "--notebooks-dir", str(batch), "--output-dir", str(tmp_path / "r1"))
    assert code == 1, err
    lines = out.strip().splitlines()
    assert lines[-1] == "2 notebooks, 1 failed"
    assert any(line.startswith("b_bad") and "FAILED" in line and "the straggler never completed" in line for line in lines)
    assert any(line.startswith("a_good") and " ok " in line for line in lines)
    assert "Traceback" not in out + err

    code, out, err = run_cli("notebooks", "run", "a_good.ipynb", "--notebooks-dir", str(batch),
                             "--output-dir", str(tmp_path / "r2"))
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "1 notebooks, 0 failed"


@pytest.mark.slow  # papermill starts a Jupyter kernel per run: seconds each
def test_parameters_reach_the_notebook(tmp_path):
    d = tmp_path / "nbs"
    make_notebook(d, "echo", "import json\njson.dump({'n': n, 'label': label, 'quick': quick, 'progress': progress}, open(out, 'w'))",
                  parameters="quick = False\nprogress = True\nn = 1\nlabel = 'default'\nout = 'echo.json'")
    out = tmp_path / "echo.json"
    runs = notebooks.run_notebooks(["echo"], {"n": 3, "label": "from the test", "out": str(out)}, quick=True,
                                   notebooks_dir=d, output_dir=tmp_path / "runs")
    assert runs[0].ok, runs[0].error
    assert json.loads(out.read_text()) == {"n": 3, "label": "from the test", "quick": True, "progress": False}

    # From the command line: -p values take the type of the default in the parameters cell
    code, _, err = run_cli("notebooks", "run", "echo", "-p", "n", "7", "-p", "quick", "true", "-p", "label", "a b",
                           "-p", "out", str(out), "--notebooks-dir", str(d), "--output-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert json.loads(out.read_text()) == {"n": 7, "label": "a b", "quick": True, "progress": False}
    # ... as a user types them: False is False (it was the text "False", which is true),
    # and a text parameter keeps digits as text
    code, _, err = run_cli("notebooks", "run", "echo", "-p", "quick", "False", "-p", "label", "12",
                           "-p", "out", str(out), "--notebooks-dir", str(d), "--output-dir", str(tmp_path / "runs"))
    assert code == 0, err
    assert json.loads(out.read_text()) == {"n": 1, "label": "12", "quick": False, "progress": False}
    # a value its type does not take: exit 2 naming it, before anything runs
    out.unlink()
    code, _, err = run_cli("notebooks", "run", "echo", "-p", "n", "seven", "-p", "out", str(out),
                           "--notebooks-dir", str(d), "--output-dir", str(tmp_path / "runs"))
    assert code == 2 and "n='seven'" in err and "give an integer" in err and not out.exists(), err


@pytest.mark.slow  # papermill starts a Jupyter kernel
def test_an_interrupted_run_never_replaces_the_last_complete_copy(tmp_path, monkeypatch):
    d = tmp_path / "nbs"
    make_notebook(d, "slow", "x = 1")
    runs_dir = tmp_path / "runs"
    runs = notebooks.run_notebooks(["slow"], notebooks_dir=d, output_dir=runs_dir)
    assert runs[0].ok
    complete = (runs_dir / "slow.ipynb").read_bytes()

    import papermill

    real = papermill.execute_notebook

    def interrupted(src, out, **kw):
        nb = nbformat.read(src, as_version=4)
        nbformat.write(nb, out)  # papermill has written part of the copy ...
        raise KeyboardInterrupt  # ... when Ctrl-C comes

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        notebooks.run_notebooks(["slow"], notebooks_dir=d, output_dir=runs_dir)
    monkeypatch.setattr(papermill, "execute_notebook", real)
    assert (runs_dir / "slow.ipynb").read_bytes() == complete  # the complete copy stands
    partial = nbformat.read(runs_dir / "slow.interrupted.ipynb", as_version=4)
    assert partial.metadata["zclab"]["interrupted"] and partial.metadata["papermill"]["exception"]
    assert not list(runs_dir.glob(".*.running.ipynb"))


@pytest.mark.slow  # papermill starts a Jupyter kernel
def test_the_kernel_is_this_interpreter_with_the_agg_backend(tmp_path, monkeypatch):
    monkeypatch.delenv("MPLBACKEND", raising=False)  # conftest sets it; the batch run must, too
    d = tmp_path / "nbs"
    make_notebook(d, "which", "import json, os, sys\n"
                  "json.dump([sys.executable, sys.prefix, os.environ.get('MPLBACKEND')], open('which.json', 'w'))")
    runs = notebooks.run_notebooks(notebooks_dir=d, output_dir=tmp_path / "runs")
    assert runs[0].ok, runs[0].error
    executable, prefix, backend = json.loads((d / "which.json").read_text())
    assert notebooks.same_python(executable, sys.executable), (executable, sys.executable)
    assert prefix == sys.prefix and backend == "Agg"


def test_ensure_kernel_repairs_a_kernelspec_of_another_python(tmp_path):
    from jupyter_client.kernelspec import KernelSpecManager

    name = f"zclab-test-{os.getpid()}"
    spec_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    spec_dir.mkdir(parents=True)
    try:
        (spec_dir / "kernel.json").write_text(json.dumps(
            {"argv": ["/usr/bin/false", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
             "display_name": "elsewhere", "language": "python"}))
        assert notebooks.ensure_kernel(name) == name
        assert notebooks.same_python(KernelSpecManager().get_kernel_spec(name).argv[0])
    finally:
        import shutil

        shutil.rmtree(spec_dir, ignore_errors=True)


# --- bad input -------------------------------------------------------------------------------

def test_an_unknown_notebook_is_an_error_that_lists_the_available_ones(batch, tmp_path):
    with pytest.raises(ValueError, match=r"'nope'.*available: a_good, b_bad"):
        notebooks.run_notebooks(["a_good", "nope"], notebooks_dir=batch, output_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing ran
    code, out, err = run_cli("notebooks", "run", "nope", "--notebooks-dir", str(batch), "--output-dir", str(tmp_path / "runs"))
    assert code == 2
    assert err.startswith("zclab: error:") and "available: a_good, b_bad" in err and len(err.strip().splitlines()) == 1


def test_other_bad_input(tmp_path, batch):
    with pytest.raises(ValueError, match="no such directory"):
        notebooks.run_notebooks(notebooks_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="overwrite the sources"):
        notebooks.run_notebooks(notebooks_dir=batch, output_dir=batch)
    with pytest.raises(ValueError, match="identifier"):
        notebooks.run_notebooks(["a_good"], {"not a name": 1}, notebooks_dir=batch, output_dir=tmp_path / "r")
    assert main(["notebooks", "run", "--notebooks-dir", str(tmp_path / "missing")]) == 2
    assert main(["notebooks"]) == 2


# --- the committed notebooks ---------------------------------------------------------------------

def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS] and "quickstart.ipynb" in [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebooks_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged parameters"
    for name in ("quick", "data_dir", "figures_dir", "store", "progress"):
        assert any(line.startswith(f"{name} =") for line in tagged[0].source.splitlines()), name
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {i} has outputs: clear them"
    assert nb.metadata.kernelspec.name == "zclab" and nb.metadata.kernelspec.display_name == "Python (zclab)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_in_sync_with_their_py_pair(path):
    pair = path.with_suffix(".py")
    assert pair.is_file(), f"{pair.name} is missing: jupytext --sync {path}"
    ipynb, py = jupytext.read(path), jupytext.read(pair)
    cells = lambda nb: [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]  # noqa: E731
    assert cells(ipynb) == cells(py), f"run: jupytext --sync {pair}"


def test_a_full_study_on_a_fresh_clone_prints_an_estimate_from_the_recorded_times(monkeypatch, capsys, tmp_path):
    recorded = notebooks._recorded_full_seconds(notebooks.NOTEBOOKS_DIR)
    assert recorded is not None, "notebooks/study_times.json: the times of the project's last full study"
    times, _ = recorded
    assert set(times) == {p.stem for p in notebooks.available()}, "every notebook has a recorded full time"
    monkeypatch.setattr(notebooks, "run_notebooks", lambda *a, **k: [])
    monkeypatch.setattr(notebooks, "RUNS_DIR", tmp_path / "no-runs-yet")  # a fresh clone: no full run of its own
    notebooks.study(quick=False, output_dir=tmp_path / "runs", html=False, findings=False)
    line = capsys.readouterr().out.splitlines()[0]
    assert f"estimate: {sum(times.values()) / 60:.0f} min" in line


def test_a_study_publishes_only_when_asked_full_and_every_notebook_ran(monkeypatch, tmp_path):
    """The checkout is left alone unless --full --publish, and then only after a study
    in which every notebook succeeded; a quick study is never published."""
    calls = []
    monkeypatch.setattr(notebooks, "publish_run", lambda out, runs: calls.append((out, runs)) or [])
    monkeypatch.setattr(notebooks, "STUDY_TIMES", tmp_path / "study_times.json")
    runs = [notebooks.NotebookRun("a", None, None, True, 12.34, None),
            notebooks.NotebookRun("b", None, None, False, 1.0, "boom")]
    monkeypatch.setattr(notebooks, "run_notebooks", lambda *a, **k: runs)
    for publish in (False, True):  # a failed notebook: nothing is published
        notebooks.study(quick=False, output_dir=tmp_path / "run", html=False, findings=False, publish=publish)
    assert calls == [] and not (tmp_path / "study_times.json").exists()
    runs[1] = notebooks.NotebookRun("b", None, None, True, 1.0, None)
    notebooks.study(quick=False, output_dir=tmp_path / "run", html=False, findings=False)
    assert calls == []
    notebooks.study(quick=False, output_dir=tmp_path / "run", html=False, findings=False, publish=True)
    assert calls == [(tmp_path / "run", runs)]
    meta = json.loads((tmp_path / "run" / "study.json").read_text())
    assert meta["ok"] and meta["seconds"] == {"a": 12.3, "b": 1.0} and meta["quick"] is False
    with pytest.raises(notebooks.NotebookError, match="only a full study"):
        notebooks.study(quick=True, publish=True)


def test_publish_copies_a_run_into_the_project_and_renders_the_findings(monkeypatch, tmp_path):
    from zclab.studies import findings

    root, run = tmp_path / "project", tmp_path / "project" / "runs" / "full"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# x\n<!-- findings:start -->\nold\n<!-- findings:end -->\n")
    (run / "figures").mkdir(parents=True)
    (run / "figures" / "f.png").write_bytes(b"png")
    (run / "data" / "kernel_runs" / "a").mkdir(parents=True)
    (run / "data" / "kernel_runs" / "a" / "trace.json").write_text("{}")
    (run / "data" / "frame.parquet").write_bytes(b"pq")
    findings.record("02_x", "Does it pay?", "Yes, by {n:.0f}%.", figures=[run / "figures" / "f.png"],
                    numbers={"n": 15}, data_dir=run / "data", quick=False)
    monkeypatch.setattr(notebooks, "checkout", lambda what: root)
    monkeypatch.setattr(notebooks, "STUDY_TIMES", tmp_path / "study_times.json")
    monkeypatch.setattr(findings, "_PROJECT_ROOT", root)
    written = notebooks.publish_run(run, [notebooks.NotebookRun("02_x", None, None, True, 3.0, None)])
    assert (root / "figures" / "f.png").read_bytes() == b"png" and (root / "data" / "frame.parquet").exists()
    assert (root / "data" / "kernel_runs" / "a" / "trace.json").exists()
    entry = json.loads((root / "data" / "findings" / "02_x.json").read_text())
    assert entry["figures"] == ["figures/f.png"]
    assert "Yes, by 15%." in (root / "README.md").read_text() and (root / "docs" / "findings.md").exists()
    assert json.loads((tmp_path / "study_times.json").read_text())["seconds"] == {"02_x": 3.0}
    assert root / "docs" / "findings.md" in written


def test_a_parameter_no_notebook_declares_is_refused_by_name_before_anything_runs(tmp_path):
    d = tmp_path / "nbs"
    make_notebook(d, "a", "x = 1", parameters="quick = False\nprogress = True\nseed = 1")
    with pytest.raises(notebooks.NotebookError, match="parameter 'sed': no notebook run here declares it.*did you mean 'seed'"):
        notebooks.run_notebooks(["a"], {"sed": 2}, notebooks_dir=d, output_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
