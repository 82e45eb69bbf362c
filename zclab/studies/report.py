"""The study as a web report: executed notebooks rendered to HTML, and an index.

    >>> from zclab.studies import report
    >>> report.render("runs/quick")      # doctest: +SKIP
    PosixPath('runs/quick/html/index.html')

Each executed notebook of ``runs_dir`` (the output directory of
:func:`zclab.studies.notebooks.study`) becomes ``<out_dir>/<name>.html`` (nbconvert's
``lab`` template): the text, tables and figures, with every code cell folded
into a "code" line that opens on a click (the injected parameters too), the
figures embedded, and nothing loaded from the network (the template's
require.js and MathJax links are dropped, so a page works offline and as a CI
artifact). ``<out_dir>/index.html`` lists each notebook with its title, its
question, how its run went (ok, or the error) and how long it took, linking to
its page. ``zclab study`` writes the report to ``runs/<name>/html/``.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .._files import write_text

__all__ = ["PageInfo", "render", "render_notebook", "describe"]


@dataclass
class PageInfo:
    """One notebook of the index."""

    name: str
    title: str
    question: str
    ok: bool
    error: str | None
    seconds: float | None
    parameters: dict
    page: str  # the page's file name, relative to the index


# --- reading an executed notebook ----------------------------------------------------------------

def _markdown_text(md: str) -> str:
    """Markdown to plain text, roughly: no emphasis, code or link markup."""
    t = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", md)
    t = re.sub(r"[*`]+", "", t)
    return " ".join(t.split())


def describe(nb, name: str) -> tuple[str, str]:
    """(title, question) of a notebook: its first ``# `` heading and the bold sentence of
    its first markdown cell that asks a question (else the paragraph after the title)."""
    first = next((c for c in nb.cells if c.cell_type == "markdown" and c.source.strip()), None)
    if first is None:
        return name, ""
    src = first.source
    m = re.search(r"^#\s+(.+)$", src, flags=re.M)
    title = _markdown_text(m.group(1)) if m else name
    bold = [b for b in re.findall(r"\*\*(.+?)\*\*", src, flags=re.S) if "?" in b]
    if bold:  # often the end of a sentence: "The question: **as ..., what ...?**"
        question = _markdown_text(bold[0])
        question = question[:1].upper() + question[1:]
    else:  # the first sentence that asks, else the first two of the first paragraph
        from .findings import short

        paras = [p for p in re.split(r"\n\s*\n", src) if p.strip() and not p.lstrip().startswith("#")]
        text = _markdown_text(" ".join(paras))
        asks = [q for q in re.split(r"(?<=[.!?:])\s+(?=[A-Z])", text) if q.endswith("?")]
        question = asks[0] if asks else short(_markdown_text(paras[0]) if paras else "")
    return title, question


def _status(nb) -> tuple[bool, str | None, float | None, dict]:
    """(ok, error, seconds, parameters) from papermill's metadata and the outputs."""
    meta = nb.metadata.get("papermill", {}) or {}
    error = None
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            if out.get("output_type") == "error":
                error = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
                break
        if error:
            break
    if error is None and meta.get("exception"):
        error = "the run stopped with an exception"
    seconds = meta.get("duration")
    return error is None, error, (float(seconds) if seconds is not None else None), dict(meta.get("parameters") or {})


# --- one page ------------------------------------------------------------------------------------

_CSS = """
<style>
  .zclab-nav { font: 14px/1.4 system-ui, sans-serif; padding: 8px 16px; background: #f3f5f7;
               border-bottom: 1px solid #d0d7de; }
  .zclab-nav a { text-decoration: none; }
  .zclab-nav .failed { color: #b42318; font-weight: 600; }
  .zclab-nav .ok { color: #1a7f37; font-weight: 600; }
  details.zclab-code { margin: 2px 0 2px 0; padding-left: 8px; border-left: 3px solid #d0d7de; }
  details.zclab-code > summary { cursor: pointer; color: #57606a; font: 12px system-ui, sans-serif; }
  details.zclab-code .highlight pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
                                      margin: 4px 0; white-space: pre; overflow-x: auto; }
  .jp-OutputArea-output img { max-width: 100%; height: auto; }
  .jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
</style>
"""


def _fold(source: str, summary: str) -> str:
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    code = highlight(source, PythonLexer(), HtmlFormatter(cssclass="highlight"))
    return f'<details class="zclab-code"><summary>{html.escape(summary)}</summary>{code}</details>'


def _folded_copy(nb):
    """The notebook with each code cell's source folded into an HTML output placed first
    among the cell's outputs (nbconvert passes outputs' HTML through; raw cells it
    sanitizes, which would escape the fold)."""
    import nbformat

    nb = nbformat.from_dict(nb)  # a copy
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.strip():
            tags = cell.get("metadata", {}).get("tags", [])
            summary = ("parameters (injected by the batch run)" if "injected-parameters" in tags
                       else "parameters" if "parameters" in tags else "code")
            fold = nbformat.v4.new_output("display_data", data={"text/html": _fold(cell.source, summary)})
            cell.outputs = [fold] + list(cell.get("outputs", []))
    return nb


_REMOTE_SCRIPT = re.compile(r'<script[^>]*\bsrc="(?:https?:)?//[^"]*"[^>]*>\s*</script>', flags=re.I)
_REMOTE_LINK = re.compile(r'<link[^>]*\bhref="(?:https?:)?//[^"]*"[^>]*>', flags=re.I)


def render_notebook(nb, info: PageInfo, index: str = "index.html") -> str:
    """The HTML page of one executed notebook: code folded, no network, a bar on top
    linking back to the index with the run's status."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True  # the source is in the fold, the cell's first output
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(_folded_copy(nb))
    body = _REMOTE_SCRIPT.sub("", body)
    body = _REMOTE_LINK.sub("", body)
    status = ('<span class="ok">ok</span>' if info.ok
              else f'<span class="failed">failed</span>: {html.escape(info.error or "")}')
    took = f" in {info.seconds:.1f} s" if info.seconds is not None else ""
    nav = (f'<div class="zclab-nav"><a href="{html.escape(index)}">&larr; all notebooks</a> &middot; '
           f"<b>{html.escape(info.name)}</b> &middot; {status}{took}</div>")
    body = body.replace("</head>", _CSS + "</head>", 1)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, body, count=1)
    return body


# --- the index -----------------------------------------------------------------------------------

def _index_html(infos: list[PageInfo], title: str) -> str:
    rows = []
    for i in infos:
        status = ('<td class="ok">ok</td>' if i.ok
                  else f'<td class="failed">failed<div class="err">{html.escape(i.error or "")}</div></td>')
        took = f"{i.seconds:.1f} s" if i.seconds is not None else "–"
        link = (lambda text: f'<a href="{html.escape(i.page)}">{html.escape(text)}</a>') if i.page \
            else html.escape
        rows.append(
            f"<tr><td>{link(i.name)}</td><td>{link(i.title)}"
            f'<div class="q">{html.escape(i.question)}</div></td>{status}<td class="num">{took}</td></tr>'
        )
    n_failed = sum(not i.ok for i in infos)
    total = sum(i.seconds or 0.0 for i in infos)
    quick = {bool(i.parameters.get("quick", False)) for i in infos}
    mode = "quick" if quick == {True} else "full" if quick == {False} else "mixed quick and full"
    when = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    summary = (f"{len(infos)} notebook(s), {n_failed} failed, {total:.0f} s in all; {mode} run; "
               f"rendered {when}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>
  body {{ font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 980px;
         padding: 0 1em; color: #1f2328; }}
  h1 {{ font-size: 1.6em; margin-bottom: 0.2em; }}
  .summary {{ color: #57606a; margin-bottom: 1.2em; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ text-align: left; vertical-align: top; padding: 8px 10px; border-bottom: 1px solid #d0d7de; }}
  th {{ background: #f6f8fa; font-weight: 600; }}
  td.num {{ text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }}
  .q {{ color: #57606a; font-size: 0.92em; margin-top: 3px; }}
  .ok {{ color: #1a7f37; font-weight: 600; }}
  .failed {{ color: #b42318; font-weight: 600; }}
  .err {{ font-weight: normal; font-size: 0.85em; font-family: ui-monospace, monospace; max-width: 22em;
          overflow-wrap: anywhere; }}
  a {{ color: #0969da; text-decoration: none; }} a:hover {{ text-decoration: underline; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<div class="summary">{html.escape(summary)}</div>
<table>
<thead><tr><th>notebook</th><th>title and question</th><th>status</th><th>duration</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</body></html>
"""


def render(runs_dir: str | os.PathLike = "runs", out_dir: str | os.PathLike | None = None,
           runs: Iterable | None = None, title: str = "zclab study") -> Path:
    """Render the executed notebooks of ``runs_dir`` (or those of ``runs``, a list of
    :class:`zclab.studies.notebooks.NotebookRun`) to ``out_dir`` (default ``runs_dir/html``) and
    write its ``index.html``; the index's path.

    A notebook that failed is rendered as far as it ran (papermill's copy holds the
    error); one that cannot be read at all is listed as failed, without a page.
    """
    import nbformat

    runs_dir = Path(runs_dir)
    out = Path(out_dir) if out_dir is not None else runs_dir / "html"
    out.mkdir(parents=True, exist_ok=True)
    if runs is not None:
        items = [(r.name, Path(r.output), r) for r in runs]
    else:
        items = [(p.stem, p, None) for p in sorted(runs_dir.glob("*.ipynb"))]
    infos = []
    for name, path, run in items:
        page = f"{name}.html"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # never written (the kernel did not start) or unreadable
            err = run.error if run is not None and run.error else f"{type(exc).__name__}: {exc}"
            infos.append(PageInfo(name, name, "", False, err, getattr(run, "seconds", None), {}, ""))
            continue
        nb_title, question = describe(nb, name)
        ok, error, seconds, params = _status(nb)
        if run is not None:
            ok, error, seconds = run.ok, (run.error if not run.ok else None), run.seconds
        info = PageInfo(name, nb_title, question, ok, error, seconds, params, page)
        write_text(out / page, render_notebook(nb, info))
        infos.append(info)
    index = out / "index.html"
    write_text(index, _index_html(infos, title))
    return index
