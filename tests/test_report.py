"""zclab.studies.report: executed notebooks as HTML pages with an index; the study's hook."""

import re
from pathlib import Path

import nbformat
import pytest

from zclab.studies import notebooks, report

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


def _executed(path: Path, ok: bool = True) -> Path:
    """An executed notebook as papermill leaves it, without running a kernel."""
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# A title\n\nSome context. **Does the thing work?** More text."),
        v4.new_code_cell("quick = False", metadata={"tags": ["parameters"]}),
        v4.new_code_cell("quick = True", metadata={"tags": ["injected-parameters"]}),
        v4.new_code_cell("SECRET_CODE_MARKER = 1\nprint('visible output')", outputs=[
            v4.new_output("stream", name="stdout", text="visible output\n")]),
        v4.new_code_cell("figure()", outputs=[v4.new_output("display_data", data={"image/png": PNG})]),
        v4.new_markdown_cell("The answer in words."),
    ]
    if not ok:
        nb.cells.append(v4.new_code_cell("1/0", outputs=[v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])]))
    nb.metadata["papermill"] = {"duration": 12.5, "parameters": {"quick": True},
                                "exception": None if ok else True}
    nbformat.write(nb, path)
    return path


def _without_folds(html: str) -> str:
    return re.sub(r'<details class="zclab-code">.*?</details>', "", html, flags=re.S)


def test_pages_and_an_index_whose_links_resolve(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    _executed(runs / "01_good.ipynb")
    _executed(runs / "02_bad.ipynb", ok=False)
    index = report.render(runs)
    assert index == runs / "html" / "index.html"
    html = index.read_text()
    links = re.findall(r'href="([^"]+)"', html)
    assert set(links) == {"01_good.html", "02_bad.html"}
    for link in links:
        page = (index.parent / link).read_text()
        assert 'href="index.html"' in page  # back to the index
    assert "A title" in html and "Does the thing work?" in html
    assert "12.5 s" in html
    assert html.count('class="ok"') == 1 and "ZeroDivisionError: division by zero" in html


def test_code_is_folded_outputs_and_figures_are_shown_and_nothing_is_remote(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    _executed(runs / "01_good.ipynb")
    page = (report.render(runs).parent / "01_good.html").read_text()
    assert "SECRET_CODE_MARKER" in page  # in the fold ...
    assert "SECRET_CODE_MARKER" not in _without_folds(page)  # ... and nowhere else
    assert "visible output" in _without_folds(page)
    assert "data:image/png;base64," in page
    assert "<summary>parameters (injected by the batch run)</summary>" in page
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)


def test_an_unreadable_run_is_listed_as_failed_without_a_page(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    missing = notebooks.NotebookRun("03_gone", runs / "x.ipynb", runs / "03_gone.ipynb", False, 1.0,
                                    "RuntimeError: kernel died")
    index = report.render(runs, runs=[missing])
    html = index.read_text()
    assert "RuntimeError: kernel died" in html and "href" not in html.split("<tbody>")[1]


@pytest.mark.slow
def test_study_writes_the_report_and_leaves_the_project_findings_alone(tmp_path, capsys):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    v4 = nbformat.v4
    for name, src in [("a_ok", "x = 1"), ("b_fail", "raise ValueError('boom')")]:
        nb = v4.new_notebook()
        nb.cells = [v4.new_markdown_cell(f"# {name}\n\n**Is {name} fine?**"),
                    v4.new_code_cell("quick = False\nprogress = True", metadata={"tags": ["parameters"]}),
                    v4.new_code_cell(src)]
        nbformat.write(nb, nbs / f"{name}.ipynb")
    readme = notebooks.PROJECT_ROOT / "README.md"
    before = readme.read_text()
    runs = notebooks.study(quick=True, notebooks_dir=nbs, output_dir=tmp_path / "runs")
    assert [r.ok for r in runs] == [True, False]
    out = capsys.readouterr().out
    index = tmp_path / "runs" / "html" / "index.html"
    assert f"report: {index}" in out and "findings:" not in out
    html = index.read_text()
    assert "Is a_ok fine?" in html and "ValueError: boom" in html
    assert (index.parent / "b_fail.html").exists()
    assert readme.read_text() == before
