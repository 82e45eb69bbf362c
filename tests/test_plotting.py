"""zclab.studies.plotting: the style stays local, the sizes, the saved files, line()."""

import subprocess
import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from zclab.studies import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def df():
    return pd.DataFrame(
        {
            "size_bytes": [1500, 64, 512, 1500, 64, 512],
            "throughput_gbps": [9.0, 1.0, 4.0, 9.5, 0.5, 5.0],
            "latency_p99_ns": [30_000.0, 10_000.0, 20_000.0, 40_000.0, 5_000.0, 25_000.0],
            "ci": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "mode": ["copy"] * 3 + ["zerocopy"] * 3,
        }
    )


def test_import_leaves_rcparams_alone():
    # A fresh interpreter: here pyplot and zclab.studies.plotting are already imported.
    code = (
        "import matplotlib; before = dict(matplotlib.rcParams); "
        "import zclab, zclab.studies.plotting; "
        "assert dict(matplotlib.rcParams) == before"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_using_the_style_leaves_rcparams_alone(df, tmp_path):
    before = dict(matplotlib.rcParams)
    fig, ax = plotting.figure("column")
    plotting.line(ax, df, "size_bytes", "throughput_gbps", hue="mode")
    plotting.savefig(fig, "f", directory=tmp_path, formats=("svg",))
    assert dict(matplotlib.rcParams) == before


def test_style_is_installed_with_the_package():
    with plotting.style():
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert matplotlib.rcParams["svg.hashsalt"] == "zclab"


@pytest.mark.parametrize("size", sorted(plotting.SIZES))
def test_figure_has_the_named_size(size):
    fig, ax = plotting.figure(size)
    assert tuple(fig.get_size_inches()) == pytest.approx(plotting.SIZES[size])


def test_column_figure_is_3_5_by_2_4_inches_with_truetype_fonts_in_pdf(tmp_path):
    assert plotting.SIZES["column"] == (3.5, 2.4)
    fig, ax = plotting.figure("column")
    ax.plot([0, 1], [0, 1])
    plotting.label(ax, "size_bytes", "latency_p99_ns")
    (pdf,) = plotting.savefig(fig, "fonts", directory=tmp_path, formats=("pdf",))
    data = pdf.read_bytes()
    assert b"/Subtype /Type3" not in data
    assert b"/Subtype /CIDFontType2" in data or b"/Subtype /TrueType" in data


def test_figure_with_several_axes():
    fig, axes = plotting.figure("double", nrows=1, ncols=2, sharey=True)
    assert axes.shape == (2,)


def test_savefig_writes_each_format_atomically_and_reproducibly(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "new" / "dir"
    fig, ax = plotting.figure()
    ax.plot([1, 2, 3], [3, 1, 2], label="a")
    paths = plotting.savefig(fig, "tput", directory=out)
    assert paths == [out / "tput.png", out / "tput.svg", out / "tput.pdf"]
    assert sorted(p.name for p in out.iterdir()) == ["tput.pdf", "tput.png", "tput.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    first = {p.suffix: p.read_bytes() for p in paths}
    plotting.savefig(fig, "tput", directory=out)
    assert sorted(p.name for p in out.iterdir()) == ["tput.pdf", "tput.png", "tput.svg"]
    again = {p.suffix: p.read_bytes() for p in paths}
    assert again[".svg"] == first[".svg"]
    assert again[".pdf"] == first[".pdf"]


def test_savefig_keeps_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    fig, ax = plotting.figure()
    (svg,) = plotting.savefig(fig, "dated", directory=tmp_path, formats="svg")
    assert b"1970-01-01" in svg.read_bytes()


def test_savefig_leaves_no_temporary_file_on_failure(tmp_path, monkeypatch):
    fig, ax = plotting.figure()

    def fail(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", fail)
    with pytest.raises(RuntimeError):
        plotting.savefig(fig, "x", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "a/b", "../x", ".", None])
def test_savefig_rejects_a_bad_name(tmp_path, name):
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match="name="):
        plotting.savefig(fig, name, directory=tmp_path)


@pytest.mark.parametrize("formats", [("png", "jpg"), (), ("PDF",)])
def test_savefig_rejects_a_bad_format(tmp_path, formats):
    fig, ax = plotting.figure()
    with pytest.raises(ValueError, match=r"formats=.*png"):
        plotting.savefig(fig, "x", directory=tmp_path, formats=formats)
    assert list(tmp_path.iterdir()) == []


def test_figure_rejects_an_unknown_size():
    with pytest.raises(ValueError, match=r"size='a4'.*column"):
        plotting.figure("a4")


def test_line_draws_one_line_per_hue_value_with_units(df):
    fig, ax = plotting.figure()
    plotting.line(ax, df, "size_bytes", "throughput_gbps", hue="mode")
    assert len(ax.lines) == 2
    assert all(isinstance(l, Line2D) for l in ax.lines)
    assert ax.get_xlabel() == "packet size (bytes)"
    assert ax.get_ylabel() == "throughput (Gbit/s)"
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "mode"
    assert [t.get_text() for t in legend.get_texts()] == ["copy", "zerocopy"]
    # sorted by x
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [64, 512, 1500])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1.0, 4.0, 9.0])


def test_line_scales_latency_from_ns_to_us(df):
    fig, ax = plotting.figure()
    plotting.line(ax, df[df["mode"] == "copy"], "size_bytes", "latency_p99_ns")
    assert len(ax.lines) == 1
    assert ax.get_legend() is None
    assert ax.get_ylabel() == "p99 latency (µs)"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [10.0, 20.0, 30.0])


def test_line_error_bars_and_unknown_columns(df):
    fig, ax = plotting.figure()
    plotting.line(ax, df, "size_bytes", "ci", hue="mode", err="ci")
    assert ax.get_ylabel() == "ci"  # not in UNITS: the column name
    assert len(ax.containers) == 2  # one ErrorbarContainer per hue value


def test_show_saves_closes_and_displays_the_png_it_wrote(tmp_path, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    fig, ax = plotting.figure()
    ax.plot([0, 1], [0, 1])
    paths = plotting.show(fig, "shown", tmp_path)
    assert [p.name for p in paths] == ["shown.png", "shown.svg", "shown.pdf"]
    assert all(p.exists() for p in paths)
    assert not plt.fignum_exists(fig.number)  # closed: a notebook shows it once, from the file
    assert len(shown) == 1 and shown[0].data == paths[0].read_bytes()


# --- the layout check (issue 22, part 4) ----------------------------------------------------------

def test_layout_problems_finds_overprinted_text_text_off_the_figure_and_a_legend_over_data():
    from zclab.studies.plotting import figure, layout_problems

    fig, ax = figure()
    ax.set_title("a title much too long for one column of a two-column paper, running off its edge")
    ax.plot([0, 1], [0, 1], label="a")
    ax.plot([0, 1], [1, 0], label="b")
    ax.legend(loc="center")  # over both lines' crossing
    ax.set_xticks([0, 0.01, 0.02])  # three labels in a few points
    problems = layout_problems(fig)
    assert "axes 0 title runs off the figure" in problems
    assert "axes 0 x tick '0.00' overlaps axes 0 x tick '0.01'" in problems
    assert "axes 0 legend covers data of 'a'" in problems and "axes 0 legend covers data of 'b'" in problems
    fig, ax = figure()
    ax.bar([0, 1, 2], [3, 3, 3], label="bars")
    ax.legend(loc="lower center")
    assert layout_problems(fig) == ["axes 0 legend covers a bar"]


def test_a_clean_figure_has_no_layout_problem_and_savefig_warns_of_one(tmp_path):
    import warnings

    from zclab.studies.plotting import FigureLayoutWarning, figure, layout_problems, savefig

    fig, ax = figure()
    ax.plot([1, 2, 3], [1, 4, 9], label="y")
    ax.set_xlabel("size (bytes)")
    ax.set_ylabel("time (µs)")
    ax.legend(loc="upper left")
    assert layout_problems(fig) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        savefig(fig, "clean", tmp_path, formats=("png",))
    ax.set_xticks([1, 1.01])
    with pytest.warns(FigureLayoutWarning, match="figure 'crowded': axes 0 x tick"):
        savefig(fig, "crowded", tmp_path, formats=("png",))


def test_turned_tick_labels_that_clear_each_other_are_no_problem_and_crowded_ones_are():
    from zclab.studies.plotting import figure, layout_problems

    fig, ax = figure("double")
    names = ["imix", "tcp stream 64k", "small 64", "poisson imix", "bimodal 64k"]
    ax.set_xticks(range(5), names, rotation=30, ha="right")  # boxes meet, the turned texts do not
    assert not [p for p in layout_problems(fig) if "tick" in p]
    fig, ax = figure("column")
    ax.set_xticks([0, 0.05, 0.1, 0.15, 0.2], [n * 3 for n in names], rotation=30, ha="right")
    assert [p for p in layout_problems(fig) if "overlaps" in p]
