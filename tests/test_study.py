"""The whole quick study, as CI runs it: every notebook executes without error
(the validation and calibration notebooks fail the run when a check fails), every
committed figure is produced again, and the HTML report links every notebook."""

from pathlib import Path

import pytest

from zclab import notebooks

pytestmark = pytest.mark.slow  # the whole quick study: about 1.5 to 4 minutes

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_FIGURES = sorted(p.name for p in (ROOT / "figures").glob("*.png"))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    params = {"data_dir": str(tmp / "data"), "figures_dir": str(tmp / "figures"), "store": str(tmp / "data" / "store")}
    runs = notebooks.study(quick=True, parameters=params, output_dir=tmp / "runs", findings=False)
    return tmp, runs


def test_every_notebook_runs_at_quick_size_without_error(study):
    _, runs = study
    names = {r.name for r in runs}
    assert {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
    failed = [(r.name, r.error) for r in runs if not r.ok]
    assert not failed


def test_every_committed_figure_is_produced(study):
    tmp, _ = study
    assert COMMITTED_FIGURES, "figures/ holds the study's PNGs"
    produced = {p.name for p in (tmp / "figures").glob("*.png")}
    assert set(COMMITTED_FIGURES) <= produced


def test_every_notebook_wrote_its_finding(study):
    tmp, runs = study
    findings = {p.stem for p in (tmp / "data" / "findings").glob("*.json")}
    assert {f"0{i}_" for i in range(2, 9)} <= {name[:3] for name in findings}


def test_the_report_links_every_executed_notebook(study):
    tmp, runs = study
    index = (tmp / "runs" / "html" / "index.html").read_text()
    for r in runs:
        assert f"{r.name}.html" in index
        assert (tmp / "runs" / "html" / f"{r.name}.html").exists()
