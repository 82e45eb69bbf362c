"""Findings: each notebook's answer to its question, kept as data and rendered.

A notebook's last cell records what it found::

    >>> from zclab.studies import findings
    >>> findings.record(                                             # doctest: +SKIP
    ...     "05_completion_order",
    ...     "What does in-order completion cost against out-of-order?",
    ...     "With 1 packet in {n:,} delayed by {delay_us:.0f} us, in-order p99 latency is "
    ...     "{ratio:.1f}x out-of-order's.",
    ...     figures=savefig(fig, "completion_order_hol", figures_dir),
    ...     numbers={"n": 1000, "delay_us": 50.0, "ratio": 3.21},
    ...     data_dir=data_dir)
    PosixPath('../data/findings/05_completion_order.json')

and :func:`render` (``python -m zclab.studies.findings``; :func:`zclab.studies.notebooks.study`
calls it after a successful study) turns every record into
``docs/findings.md`` (each question, its answer, the figure, the command that
regenerates it) and into the block of ``README.md`` (each question and the
first two sentences of its answer) between the lines
``<!-- findings:start ...-->`` and ``<!-- findings:end -->``, leaving the rest of
the README untouched.

**Numbers are never typed by hand.** When ``numbers`` is given, ``answer`` is a
:meth:`str.format` template filled from ``numbers`` (``"{p99_us:.1f} us"``),
and both the template and the numbers are stored: the rendered text is built
from the numbers in the JSON file, so the file is the single source. Without
``numbers``, ``answer`` is plain text (build it from the frame with f-strings).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import numbers as _numbers
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._files import write_text

__all__ = ["record", "load", "render", "text_of", "short", "FINDINGS_SUBDIR", "START", "END"]

#: Records live in ``<data_dir>/findings/<name>.json``.
FINDINGS_SUBDIR = "findings"
#: The README block's markers: the start line begins with START, the end line is END.
START = "<!-- findings:start"
END = "<!-- findings:end -->"

from .._paths import PROJECT_ROOT as _PROJECT_ROOT
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# --- recording -----------------------------------------------------------------------------------

def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON-safe Python (numpy scalars to int/float); ValueError otherwise."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, _numbers.Integral):
        return int(value)
    if isinstance(value, _numbers.Real):
        v = float(value)
        if not math.isfinite(v):
            return None if math.isnan(v) else v  # json writes Infinity; NaN as null
        return v
    if hasattr(value, "item") and callable(value.item):  # a numpy 0-d array
        return _plain(value.item(), where)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{where}={value!r}: must be a number, a string, a bool, None or a list of them")


def _figure_paths(figures: Any) -> list[str]:
    """The figures to show, one per name: PNG preferred among the formats of one figure,
    a name without a suffix taken as its PNG. Paths inside the project are stored
    relative to the project root, others absolute."""
    if figures is None:
        return []
    if isinstance(figures, (str, os.PathLike)):
        figures = [figures]
    chosen: dict[str, Path] = {}
    for f in figures:
        if not isinstance(f, (str, os.PathLike)):
            raise ValueError(f"figures: {f!r} is not a path")
        p = Path(f)
        if not p.suffix:
            p = p.with_suffix(".png")
        key = str(p.with_suffix(""))
        if key not in chosen or p.suffix.lower() == ".png":
            chosen[key] = p
    out = []
    for p in chosen.values():
        a = p.resolve()
        try:
            out.append(a.relative_to(_PROJECT_ROOT).as_posix())
        except ValueError:
            out.append(a.as_posix())
    return out


def text_of(entry: Mapping[str, Any]) -> str:
    """The answer of a record in words: its template filled from its numbers."""
    answer = entry.get("answer", "")
    nums = entry.get("numbers")
    if nums:
        return answer.format_map(nums)
    return answer


def _default_command(name: str) -> str:
    stem = name.split(":", 1)[0]
    if (_PROJECT_ROOT / "notebooks" / f"{stem}.ipynb").exists():
        return f"zclab notebooks run {stem}"
    return "zclab study"


def record(
    name: str,
    question: str,
    answer: str,
    figures: Any,
    numbers: Mapping[str, Any] | None = None,
    command: str | None = None,
    data_dir: str | os.PathLike = "../data",
    *,
    quick: bool | None = None,
) -> Path:
    """Write the finding ``name`` to ``<data_dir>/findings/<name>.json``; its path.

    ``question`` and ``answer`` are text (``answer`` a format template filled from
    ``numbers`` when ``numbers`` is given); ``figures`` a path or a list of paths
    (the list :func:`zclab.studies.plotting.savefig` returns will do: the PNG is shown);
    ``command`` the command that regenerates it (default: running the notebook
    of the same name); ``quick`` whether the numbers come from a quick run
    (shown as such). The file is written atomically.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name={name!r}: must be a file name of letters, digits, '_', '.', '-'")
    for field, value in (("question", question), ("answer", answer)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{field}={value!r}: must be non-empty text")
    nums = None
    if numbers is not None:
        if not isinstance(numbers, Mapping):
            raise ValueError(f"numbers={numbers!r}: must be a dict of name to number")
        nums = {str(k): _plain(v, f"numbers[{k!r}]") for k, v in numbers.items()}
    entry = {
        "name": name,
        "question": " ".join(question.split()),
        "answer": " ".join(answer.split()),
        "numbers": nums,
        "figures": _figure_paths(figures),
        "command": command if command is not None else _default_command(name),
        "quick": None if quick is None else bool(quick),
        "recorded": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    try:
        text_of(entry)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"answer: cannot fill the template from numbers ({type(exc).__name__}: {exc})") from None
    return write_text(Path(data_dir) / FINDINGS_SUBDIR / f"{name}.json", json.dumps(entry, indent=2) + "\n")


# --- rendering -----------------------------------------------------------------------------------

def _resolve(path: str | os.PathLike) -> Path:
    """Relative paths are relative to the project root, whatever the working directory."""
    p = Path(path)
    return p if p.is_absolute() else _PROJECT_ROOT / p


def load(data_dir: str | os.PathLike = "data") -> list[dict]:
    """Every record of ``<data_dir>/findings``, sorted by name (so by notebook number)."""
    directory = _resolve(data_dir) / FINDINGS_SUBDIR
    entries = []
    for p in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            entry = json.loads(p.read_text(encoding="utf-8"))
            text_of(entry)
        except Exception as exc:  # one bad file must not hide the others
            print(f"zclab.studies.findings: skipping {p}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        entry.setdefault("name", p.stem)
        entries.append(entry)
    return sorted(entries, key=lambda e: e["name"])


def _link(figure: str, from_dir: Path) -> str:
    p = Path(figure)
    p = p if p.is_absolute() else _PROJECT_ROOT / p
    return Path(os.path.relpath(p, from_dir)).as_posix()


def _docs_text(entries: list[dict], docs_dir: Path) -> str:
    lines = [
        "# Findings",
        "",
        "Generated by `python -m zclab.studies.findings` from `data/findings/*.json`, which the notebooks",
        "write from their frames (`zclab study --full --publish` regenerates everything); do not edit by hand.",
        "",
    ]
    if not entries:
        lines += ["No findings recorded yet: run `zclab study`.", ""]
    for e in entries:
        lines += [f"## {e['name']}: {e['question']}", "", text_of(e), ""]
        for fig in e.get("figures") or []:
            lines += [f"![{Path(fig).stem}]({_link(fig, docs_dir)})", ""]
        note = " (numbers from a quick run)" if e.get("quick") else ""
        lines += [f"Regenerate{note}:", "", "```sh", e.get("command") or "zclab study", "```", ""]
    return "\n".join(lines)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"])")


def short(text: str, sentences: int = 2) -> str:
    """The first ``sentences`` sentences of ``text`` (all of it if it has no more),
    with " […]" where some were left out."""
    parts = _SENTENCE_END.split(text.strip())
    if len(parts) <= sentences:
        return text.strip()
    return " ".join(parts[:sentences]) + " […]"


def _readme_block(entries: list[dict], readme_dir: Path, docs: Path) -> list[str]:
    if not entries:
        return ["No findings recorded yet: run `zclab study`."]
    link = _link(str(docs), readme_dir)
    lines = [f"Each notebook's question and the first sentences of its answer, from its last run; "
             f"the whole answers, the figures and the commands that regenerate them are in [{link}]({link}).", ""]
    for e in entries:
        figs = e.get("figures") or []
        fig = f" ([figure]({_link(figs[0], readme_dir)}))" if figs else ""
        quick = " *(quick run)*" if e.get("quick") else ""
        question = short(e["question"], 1)
        lines.append(f"* **{question.removesuffix(' […]')}** {short(text_of(e))}{fig}{quick}")
    return lines


def _replace_block(text: str, block: list[str], where: Path) -> str:
    lines = text.split("\n")
    starts = [i for i, l in enumerate(lines) if l.strip().startswith(START)]
    ends = [i for i, l in enumerate(lines) if l.strip() == END]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"{where}: needs exactly one line starting with {START!r} "
                         f"followed by one line {END!r} (found {len(starts)} and {len(ends)})")
    s, e = starts[0], ends[0]
    return "\n".join(lines[: s + 1] + block + lines[e:])


def render(data_dir: str | os.PathLike = "data",
           docs: str | os.PathLike = "docs/findings.md",
           readme: str | os.PathLike = "README.md") -> Path:
    """Write ``docs`` from the records of ``<data_dir>/findings`` and replace the
    README's findings block (only the lines between its markers); the docs path.

    Relative paths are relative to the project root. The README is checked for
    its markers before anything is written; ``readme=None`` leaves it alone.
    """
    entries = load(data_dir)
    docs_path = _resolve(docs)
    new_readme = None
    if readme is not None:
        readme_path = _resolve(readme)
        old = readme_path.read_text(encoding="utf-8")
        new_readme = _replace_block(old, _readme_block(entries, readme_path.parent, docs_path),
                                    readme_path)
    write_text(docs_path, _docs_text(entries, docs_path.parent))
    if new_readme is not None and new_readme != old:
        write_text(readme_path, new_readme)
    return docs_path


def _main(argv: Iterable[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m zclab.studies.findings",
                                 description="Render docs/findings.md and the README's findings block.")
    ap.add_argument("--data-dir", default="data")
    ap.add_argument("--docs", default="docs/findings.md")
    ap.add_argument("--readme", default="README.md")
    args = ap.parse_args(None if argv is None else list(argv))
    try:
        path = render(args.data_dir, args.docs, args.readme)
    except (OSError, ValueError) as exc:
        print(f"zclab.studies.findings: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({len(load(args.data_dir))} finding(s))")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
