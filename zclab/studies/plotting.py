"""Figures of zclab runs in one consistent style.

    >>> import pandas as pd
    >>> from zclab.studies import plotting
    >>> df = pd.DataFrame({"size_bytes": [64, 1500, 64, 1500],
    ...                    "throughput_gbps": [2.0, 9.0, 1.5, 9.4],
    ...                    "mode": ["copy", "copy", "zerocopy", "zerocopy"]})
    >>> fig, ax = plotting.figure("column")
    >>> ax = plotting.line(ax, df, "size_bytes", "throughput_gbps", hue="mode")
    >>> ax.get_ylabel()
    'throughput (Gbit/s)'
    >>> paths = plotting.savefig(fig, "throughput", directory=tmp)  # doctest: +SKIP

The style is ``zclab/paper.mplstyle`` (``plt.style.use("zclab.paper")``).
Importing this module changes no global setting: ``figure``, ``line`` and
``savefig`` apply the style only while they run. matplotlib reads most
settings when an artist is created, so when you draw on the axes yourself
(``ax.plot``, ``ax.legend``...) do it inside ``with plotting.style():`` to
get the style's line widths and legend.

Axis labels carry their unit in parentheses: "packet size (bytes)".
``UNITS`` maps summary and config field names to such a label and to the
factor that converts the data to the unit shown (latencies are stored in ns
and shown in µs).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt

from .._files import atomic_path

__all__ = ["SIZES", "UNITS", "COLORS", "FigureLayoutWarning", "layout_problems", "plain_log_ticks", "figure", "style", "savefig", "show", "label", "line"]

STYLE = "zclab.paper"

#: One colour per thing the studies compare, the same in every figure (Okabe-Ito's
#: colour-blind-safe palette): the policies, the completion orders, copy and zero-copy.
COLORS = {
    "seed-2011": "#D55E00",
    "linux-3.14": "#E69F00",
    "linux-4.15": "#009E73",
    "ring-quarter-stall": "#CC79A7",
    "copy only": "#0072B2",
    "in_order": "#D55E00",
    "out_of_order": "#0072B2",
}

#: Named figure sizes, (width, height) in inches.
SIZES = {
    "column": (3.5, 2.4),  # one column of a two-column paper
    "double": (7.2, 3.0),  # the full text width
    "slide": (10.0, 5.6),  # 16:9 slide
}

#: Field name -> (axis label with unit, factor from the data to that unit).
UNITS = {
    # results
    "throughput_gbps": ("throughput (Gbit/s)", 1),
    "mpps": ("packet rate (Mpps)", 1),
    "latency_mean_ns": ("mean latency (µs)", 1e-3),
    "latency_p50_ns": ("median latency (µs)", 1e-3),
    "latency_p99_ns": ("p99 latency (µs)", 1e-3),
    "latency_p999_ns": ("p99.9 latency (µs)", 1e-3),
    "latency_max_ns": ("max latency (µs)", 1e-3),
    "host_cycles_per_byte": ("host CPU (cycles/byte)", 1),
    "host_cpu_ns_per_packet": ("host CPU per packet (µs)", 1e-3),
    "vhost_cpu_util": ("vhost worker busy (%)", 100),
    "host_cpu_util": ("host CPU (cores)", 1),
    "guest_cpu_util": ("guest vCPU busy (%)", 100),
    "zerocopy_fraction": ("zero-copy packets (%)", 100),
    "stall_time_fraction": ("worker stalled (%)", 100),
    "ring_full_time_fraction": ("ring full (%)", 100),
    "outstanding_mean": ("outstanding heads", 1),
    "hol_blocked_mean": ("heads blocked behind a pending one", 1),
    # parameters
    "size_bytes": ("packet size (bytes)", 1),
    "goodcopy_len": ("VHOST_GOODCOPY_LEN (bytes)", 1),
    "max_pend": ("VHOST_MAX_PEND (heads)", 1),
    "ring_size": ("ring size (descriptors)", 1),
    "straggler_p": ("straggler probability", 1),
    "dma_base_ns": ("DMA completion latency (µs)", 1e-3),
}

FORMATS = ("png", "svg", "pdf")


def _unit(column):
    """(label, scale) of a column: from UNITS, else the name unscaled."""
    return UNITS.get(column, (column, 1))


def style():
    """The zclab style as a context manager, for drawing yourself.

        >>> with style():
        ...     fig, ax = plt.subplots()
        ...     lines = ax.plot([1, 2], [3, 4])
    """
    return plt.style.context(STYLE)


def figure(size="column", nrows=1, ncols=1, **kw):
    """A new figure of a named size in the zclab style: ``(fig, axes)``.

    ``size`` is a key of ``SIZES``; ``nrows``, ``ncols`` and ``**kw`` go to
    ``plt.subplots`` (``axes`` is one Axes or an array, as there).

        >>> fig, ax = figure("double")
        >>> fig.get_size_inches().tolist()
        [7.2, 3.0]
    """
    if size not in SIZES:
        raise ValueError(f"size={size!r} is not a figure size; use one of {sorted(SIZES)}")
    # Figure size, fonts, colour cycle and layout engine are read from
    # rcParams when the figure and axes are created, hence inside the style.
    with style():
        return plt.subplots(nrows, ncols, figsize=SIZES[size], **kw)


def _metadata(fmt):
    """Metadata that leaves out the creation time, so saves are reproducible.

    matplotlib stamps SVG and PDF files with the current time unless
    SOURCE_DATE_EPOCH is set; then it writes that time, which is what a
    reproducible build asks for, so we leave it alone.
    """
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return {}
    # PNG carries no time stamp (only the matplotlib version).
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})


class FigureLayoutWarning(UserWarning):
    """A saved figure has text over text, or a legend over its data (layout_problems)."""


def _texts(fig):
    """(what, Text) of every visible, non-empty text of ``fig``: titles, axis labels,
    tick labels, annotations, legend entries, the figure's own texts."""
    out = []
    for i, ax in enumerate(fig.axes):
        where = f"axes {i}"
        for t, what in ((ax.title, "title"), (ax._left_title, "title"), (ax._right_title, "title"),
                        (ax.xaxis.label, "x label"), (ax.yaxis.label, "y label")):
            out.append((f"{where} {what}", t))
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            # the ticks drawn: those within the view (get_ticklabels also has the others)
            for tick in axis._update_ticks():
                out += [(f"{where} {name} tick {t.get_text()!r}", t) for t in (tick.label1, tick.label2)]
        out += [(f"{where} text {t.get_text()!r}", t) for t in ax.texts]
        leg = ax.get_legend()
        if leg is not None:
            out += [(f"{where} legend {t.get_text()!r}", t) for t in [*leg.get_texts(), leg.get_title()]]
    out += [(f"figure text {t.get_text()!r}", t) for t in fig.texts]
    for leg in fig.legends:
        out += [(f"figure legend {t.get_text()!r}", t) for t in [*leg.get_texts(), leg.get_title()]]
    return [(w, t) for w, t in out if t.get_visible() and t.get_text().strip()]


def _corners(bbox, angle_deg: float):
    """The four corners of a text's own rectangle from its axis-aligned box (what
    matplotlib reports) and its rotation: the box of a w x h rectangle turned by a has
    sides w|cos a| + h|sin a| and w|sin a| + h|cos a|, about the same centre."""
    import numpy as np

    a = np.radians(angle_deg % 180.0)
    c, s = abs(np.cos(a)), abs(np.sin(a))
    W, H = bbox.width, bbox.height
    det = c * c - s * s
    if abs(det) < 1e-6 or s < 1e-9:  # unrotated (or at 45 degrees: the box is all there is)
        return np.array([[bbox.x0, bbox.y0], [bbox.x1, bbox.y0], [bbox.x1, bbox.y1], [bbox.x0, bbox.y1]])
    w, h = (W * c - H * s) / det, (H * c - W * s) / det
    ux, uy = np.cos(a), np.sin(a)
    cx, cy = (bbox.x0 + bbox.x1) / 2, (bbox.y0 + bbox.y1) / 2
    u, v = np.array([ux, uy]) * w / 2, np.array([-uy, ux]) * h / 2
    ctr = np.array([cx, cy])
    return np.array([ctr - u - v, ctr + u - v, ctr + u + v, ctr - u + v])


def _overlap(p, q, tolerance_px: float) -> bool:
    """Whether two convex quadrilaterals overlap by more than ``tolerance_px`` along
    every separating direction (their edges' normals)."""
    import numpy as np

    for poly in (p, q):
        for k in range(4):
            edge = poly[(k + 1) % 4] - poly[k]
            n = np.array([-edge[1], edge[0]])
            norm = np.hypot(*n)
            if norm == 0:
                continue
            n = n / norm
            a, b = p @ n, q @ n
            if min(a.max(), b.max()) - max(a.min(), b.min()) <= tolerance_px:
                return False
    return True


def layout_problems(fig, tolerance_px: float = 1.0) -> list[str]:
    """What a reader would find overprinted in ``fig`` once drawn: pairs of texts whose
    boxes overlap by more than ``tolerance_px`` in both directions (a title over a tick
    label, two tick labels, a label over another axes' title), texts that run off the
    figure, and legends drawn over a line's points, a marker or a bar. Empty when the
    figure reads cleanly. savefig warns (FigureLayoutWarning) with the list.

        >>> fig, ax = figure()
        >>> _ = ax.set_title("a title"); _ = ax.set_xlabel("x (ns)")
        >>> layout_problems(fig)
        []
    """
    import numpy as np

    fig.draw_without_rendering()  # the layout of a saved figure, on any canvas (a widget's too)
    renderer = fig._get_renderer()
    boxes = []
    for w, t in _texts(fig):
        b = t.get_window_extent(renderer)
        boxes.append((w, b, _corners(b, t.get_rotation())))
    problems = []
    W, H = fig.bbox.width, fig.bbox.height
    for w, b, _ in boxes:
        if b.x0 < -tolerance_px or b.y0 < -tolerance_px or b.x1 > W + tolerance_px or b.y1 > H + tolerance_px:
            problems.append(f"{w} runs off the figure")
    for i in range(len(boxes)):
        wi, bi, ti = boxes[i]
        for j in range(i + 1, len(boxes)):
            wj, bj, tj = boxes[j]
            if "legend" in wi and "legend" in wj and wi.split(" legend")[0] == wj.split(" legend")[0]:
                continue  # a legend lays out its own entries
            dx = min(bi.x1, bj.x1) - max(bi.x0, bj.x0)
            dy = min(bi.y1, bj.y1) - max(bi.y0, bj.y0)
            # the boxes meet: do the texts' own (turned) rectangles?
            if dx > tolerance_px and dy > tolerance_px and _overlap(ti, tj, tolerance_px):
                problems.append(f"{wi} overlaps {wj}")
    for i, ax in enumerate(fig.axes):
        leg = ax.get_legend()
        if leg is None or not leg.get_visible():
            continue
        lb = leg.get_window_extent(renderer)
        for line in ax.get_lines():
            if not line.get_visible():
                continue
            xy = np.asarray(line.get_xydata(), float)  # after unit conversion: categories are numbers
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy) == 0:
                continue
            pts = line.get_transform().transform(xy)  # axvline/axhline: partly in axes coordinates
            if len(pts) > 1 and line.get_linestyle() not in ("None", "", " ", "none"):
                # the segments between the points, 32 samples each: a line drawn across the legend
                t = np.linspace(0.0, 1.0, 32)[:, None, None]
                pts = (pts[:-1][None] * (1 - t) + pts[1:][None] * t).reshape(-1, 2)
            inside = (pts[:, 0] > lb.x0) & (pts[:, 0] < lb.x1) & (pts[:, 1] > lb.y0) & (pts[:, 1] < lb.y1)
            if inside.any():
                problems.append(f"axes {i} legend covers data of {line.get_label()!r}")
        for patch in ax.patches:
            pb = patch.get_window_extent(renderer)
            if (min(pb.x1, lb.x1) - max(pb.x0, lb.x0) > tolerance_px
                    and min(pb.y1, lb.y1) - max(pb.y0, lb.y0) > tolerance_px):
                problems.append(f"axes {i} legend covers a bar")
                break
    return problems


def savefig(fig, name, directory="figures", formats=FORMATS):
    """Save ``fig`` as ``directory/name.<ext>`` for each format; the paths.

    Each file is written to a temporary file in ``directory`` and renamed
    over the target, so a reader never sees a half-written figure. SVG and
    PDF bytes are reproducible: the same figure saved twice is identical.

        >>> fig, ax = figure()
        >>> savefig(fig, "empty", directory=tmp)  # doctest: +SKIP
        [PosixPath('.../empty.png'), PosixPath('.../empty.svg'), PosixPath('.../empty.pdf')]
    """
    if not isinstance(name, str) or not name or name in (".", "..") or any(
        sep and sep in name for sep in (os.sep, os.altsep, "/")
    ):
        raise ValueError(f"name={name!r} must be a non-empty file name without a path separator")
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(dict.fromkeys(formats))  # drop repeats, keep the order
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"formats={formats!r}: each must be one of {list(FORMATS)}")

    with style():
        problems = layout_problems(fig)
    if problems:
        import warnings

        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        warnings.warn(FigureLayoutWarning(f"figure {name!r}: {shown}"), stacklevel=2)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = directory / f"{name}.{fmt}"
        with atomic_path(path, fsync=True) as tmp, open(tmp, "xb") as f, style():  # savefig.dpi, pdf.fonttype, svg.hashsalt
            fig.savefig(f, format=fmt, metadata=_metadata(fmt))
        paths.append(path)
    return paths


def show(fig, name, directory="figures", formats=FORMATS):
    """In a notebook: save ``fig`` (:func:`savefig`), close it and display it once,
    from the PNG just written, so that what the reader sees is the exported file.
    Returns the paths.

        >>> show(fig, "copy_vs_zerocopy_sizes", figures_dir)  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    paths = savefig(fig, name, directory, formats)
    plt.close(fig)
    display(Image(filename=str(paths[0])))
    return paths


def plain_log_ticks(ax, axis: str = "y") -> None:
    """Label a log axis with plain numbers at 1, 2 and 5 of each decade (``0.5``,
    ``20``, ``5000``), not ``3x10^0``, and leave the minor ticks unlabelled: on an axis
    that spans less than a decade matplotlib labels its minor ticks, and they overprint.

        >>> fig, ax = figure(); ax.set_yscale("log"); plain_log_ticks(ax)
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a.set_minor_formatter(NullFormatter())


def label(ax, x=None, y=None):
    """Set axis labels; a known field name becomes its ``UNITS`` label.

    Write labels as "quantity (unit)":

        >>> fig, ax = figure()
        >>> label(ax, x="size_bytes", y="goodput (Gbit/s)").get_xlabel()
        'packet size (bytes)'
    """
    if x is not None:
        ax.set_xlabel(_unit(x)[0])
    if y is not None:
        ax.set_ylabel(_unit(y)[0])
    return ax


def line(ax, df, x, y, hue=None, err=None, **kw):
    """Plot column ``y`` against ``x`` of ``df``, one line per ``hue`` value.

    Columns named in ``UNITS`` are scaled to their unit and the axes
    labelled with it. ``err`` names a column with the half-width of a
    confidence interval of ``y`` (in the units of ``y``), drawn as error
    bars. ``**kw`` go to ``ax.plot`` (``ax.errorbar`` with ``err``).

        >>> fig, ax = figure()
        >>> ax = line(ax, df, "max_pend", "latency_p99_ns", hue="policy")  # doctest: +SKIP
    """
    (xlabel, xscale), (ylabel, yscale) = _unit(x), _unit(y)
    kw.setdefault("marker", "o")  # sweeps are discrete points
    groups = df.groupby(hue, sort=True) if hue is not None else [(None, df)]
    with style():  # line widths, marker sizes and the legend are read now
        for value, g in groups:
            g = g.sort_values(x)
            xs, ys = g[x].to_numpy() * xscale, g[y].to_numpy() * yscale
            lab = None if hue is None else str(value)
            if err is None:
                ax.plot(xs, ys, label=lab, **kw)
            else:
                ax.errorbar(xs, ys, yerr=g[err].to_numpy() * yscale, label=lab, **kw)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if hue is not None:
            ax.legend(title=hue)
    return ax
