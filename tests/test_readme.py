"""The README is read top to bottom by a newcomer: short, its links alive, and the
figures in it that go stale (the test count, CI's time) checked. (Issue 21, part 7.)"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_the_readme_is_at_most_150_lines():
    assert README.count("\n") <= 150, f"{README.count(chr(10))} lines"


def test_every_relative_link_of_the_readme_and_the_docs_resolves():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: a link to {target} goes nowhere"


def test_the_readme_gives_exactly_the_two_set_up_commands_and_ci_runs_the_second():
    commands = re.findall(r'^python -m pip install -e "\.\[dev\]" && (.+?)\s+#', README, re.M)
    assert commands == ["zclab study", "python -m pytest"]
    assert "\npython -m pytest\n" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_names_the_fast_tier_and_its_time():
    assert 'python -m pytest -m "not slow"' in README


def _ci_figures() -> tuple[int, int, str]:
    m = re.search(r"passed ([\d,]+) tests \((\d+) skipped\) in ([\d.]+) minutes on a fresh\s+clone on 2 cores "
                  r"\((\d{4}-\d\d-\d\d)\)", README)
    assert m, "the README no longer says how many tests CI passed, and how long it took"
    return int(m[1].replace(",", "")), int(m[2]), m[4]


def test_the_readme_ci_figures_are_the_last_ones_docs_performance_records():
    passed, skipped, date = _ci_figures()
    perf = (ROOT / "docs" / "performance.md").read_text()
    rows = re.findall(r"^\| (\d{4}-\d\d-\d\d) \| ([0-9a-f]{7,}) \| ([\d,]+) \| (\d+) \| ([\d.]+) \|", perf, re.M)
    assert rows, "docs/performance.md has no table of CI runs"
    last = rows[-1]
    assert (date, passed, skipped) == (last[0], int(last[2].replace(",", "")), int(last[3])), last
    assert f"in {last[4]} minutes" in README


@pytest.mark.slow
def test_the_readme_test_count_is_within_five_percent_of_the_suite():
    """The count CI passed, against what the suite collects today (collecting compiles
    nothing: about 7 s). A count more than 5% off is stale."""
    passed, skipped, _ = _ci_figures()
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    collected = int(re.search(r"(\d+) tests? collected", out)[1])
    assert abs(passed + skipped - collected) <= 0.05 * collected, (passed + skipped, collected)


def test_the_public_api_is_listed_once_and_the_docs_table_is_that_list():
    import zclab

    assert zclab.__all__ == [*zclab.API, "__version__"]
    assert all(hasattr(zclab, name) for name in zclab.__all__)
    usage = (ROOT / "docs" / "usage.md").read_text()
    table = usage[usage.index("## The public API"):]
    table = table[: table.index("\n## ")]
    assert re.findall(r"^\| `(\w+)` \| (.+) \|$", table, re.M) == list(zclab.API.items())
    from importlib.metadata import version

    assert zclab.__version__ == version("zclab")
