"""Figures of zclab runs in one consistent style.

    >>> import pandas as pd
    >>> from zclab import plotting
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

from ._files import atomic_path

__all__ = ["SIZES", "UNITS", "COLORS", "figure", "style", "savefig", "show", "label", "line"]

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
