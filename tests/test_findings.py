"""zclab.studies.findings: record a notebook's answer, render the docs and the README block."""

import json
import subprocess
import sys

import numpy as np
import pytest

from zclab.studies import findings

README = """# project

Intro text that must not change.

## Findings

<!-- findings:start (generated; do not edit by hand) -->
old generated text
<!-- findings:end -->

## After

More text, untouched.
"""


@pytest.fixture
def readme(tmp_path):
    p = tmp_path / "README.md"
    p.write_text(README)
    return p


def _record(data, **kw):
    args = dict(name="05_x", question="What does it cost?",
                answer="In order, p99 is {ratio:.1f}x out-of-order's ({p99_us:,.0f} µs).",
                figures=[data.parent / "figures" / "x.png", data.parent / "figures" / "x.svg"],
                numbers={"ratio": np.float64(12.345), "p99_us": np.int64(980)}, data_dir=data)
    args.update(kw)
    return findings.record(**args)


def test_record_writes_json_with_plain_numbers_and_the_png(tmp_path):
    path = _record(tmp_path / "data", quick=True)
    assert path == tmp_path / "data" / "findings" / "05_x.json"
    entry = json.loads(path.read_text())
    assert entry["numbers"] == {"ratio": 12.345, "p99_us": 980}
    assert entry["figures"] == [str(tmp_path / "figures" / "x.png")]  # one figure, its PNG
    assert entry["quick"] is True and entry["command"]
    assert findings.text_of(entry) == "In order, p99 is 12.3x out-of-order's (980 µs)."


def test_a_template_the_numbers_cannot_fill_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="template"):
        _record(tmp_path / "data", answer="p99 is {missing} µs")
    with pytest.raises(ValueError, match="name"):
        _record(tmp_path / "data", name="../escape")
    assert not (tmp_path / "data" / "findings").exists()


def test_render_replaces_only_the_block(tmp_path, readme):
    data = tmp_path / "data"
    _record(data)
    docs = findings.render(data_dir=data, docs=tmp_path / "docs" / "findings.md", readme=readme)
    text = readme.read_text()
    before, rest = README.split("old generated text\n")
    assert text.startswith(before) and text.endswith(rest)
    block = text[len(before):-len(rest)]
    assert "old generated text" not in text
    assert "**What does it cost?** In order, p99 is 12.3x out-of-order's (980 µs)." in block
    assert "(figures/x.png)" in block  # relative to the README
    md = docs.read_text()
    assert "## 05_x: What does it cost?" in md and "![x](../figures/x.png)" in md
    assert "zclab study" in md  # the regenerating command
    # rendering twice changes nothing
    findings.render(data_dir=data, docs=docs, readme=readme)
    assert readme.read_text() == text


def test_the_numbers_come_from_the_json(tmp_path, readme):
    data = tmp_path / "data"
    path = _record(data)
    entry = json.loads(path.read_text())
    entry["numbers"]["ratio"] = 3.0
    path.write_text(json.dumps(entry))
    findings.render(data_dir=data, docs=tmp_path / "findings.md", readme=readme)
    assert "p99 is 3.0x" in readme.read_text()
    assert "p99 is 3.0x" in (tmp_path / "findings.md").read_text()


def test_a_readme_without_the_markers_is_left_alone(tmp_path):
    data = tmp_path / "data"
    _record(data)
    bad = tmp_path / "README.md"
    bad.write_text("# no markers\n")
    with pytest.raises(ValueError, match="findings:start"):
        findings.render(data_dir=data, docs=tmp_path / "findings.md", readme=bad)
    assert bad.read_text() == "# no markers\n"
    assert not (tmp_path / "findings.md").exists()


def test_no_findings_yet_and_a_broken_file(tmp_path, readme, capsys):
    (tmp_path / "data" / "findings").mkdir(parents=True)
    (tmp_path / "data" / "findings" / "bad.json").write_text("{not json")
    findings.render(data_dir=tmp_path / "data", docs=tmp_path / "f.md", readme=readme)
    assert "No findings recorded yet" in readme.read_text()
    assert "skipping" in capsys.readouterr().err


def test_the_module_runs_render(tmp_path, readme):
    data = tmp_path / "data"
    _record(data)
    out = subprocess.run([sys.executable, "-m", "zclab.studies.findings", "--data-dir", str(data),
                          "--docs", str(tmp_path / "f.md"), "--readme", str(readme)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "1 finding" in out.stdout
    assert "12.3x" in readme.read_text()


def test_short_keeps_the_first_sentences():
    assert findings.short("A is 1.5x. B is 2. C.") == "A is 1.5x. B is 2. […]"
    assert findings.short("One? Two.", 1) == "One? […]"
    assert findings.short("Only one, 0.25 ns/byte.") == "Only one, 0.25 ns/byte."
