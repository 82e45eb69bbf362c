"""``zclab kernel fit``: a host preset (the model's CPU costs) fitted to a measure table.

The driver is a saturating sender, so a packet's wall time is the cost of the slowest
stage, taken here to be the vhost worker (as the model's saturated worker is):

- copy mode (every packet copied): ``ns_per_packet = per_packet_ns + copy_ns_per_byte × size``,
  fitted by least squares;
- zero-copy mode, packets actually sent zero-copy: ``ns_per_packet - per_packet_ns =
  zc_setup_ns + pin_ns_per_page × pages``, pages = ⌈(12 + size) / 4096⌉ (each buffer
  starts on a page), fitted by least squares (pin_ns_per_page is 0 when every
  zero-copy row spans the same number of pages).

Negative estimates are clipped to 0. The preset is a JSON file: the values are Config
fields. On an emulated kernel the numbers mean nothing (docs/kernel.md) and the file
says so.

    >>> import pandas as pd
    >>> rows = [("copy", s, 100 + 0.5 * s, s) for s in (64, 1500, 9000)]
    >>> rows += [("zerocopy", s, 100 + 300 + 50 * -(-(12 + s) // 4096), 0) for s in (1500, 9000, 65000)]
    >>> df = pd.DataFrame(rows, columns=["mode", "size", "ns_per_packet", "copied"]).assign(
    ...     zerocopy_tried=lambda d: (d["mode"] == "zerocopy") * 1, packets=1, emulated=False, kernel="k", backend="host")
    >>> p = fit_preset(df)["values"]
    >>> [round(p[k], 3) for k in ("per_packet_ns", "copy_ns_per_byte", "zc_setup_ns", "pin_ns_per_page")]
    [100.0, 0.5, 300.0, 50.0]
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ...model.simulation import VNET_HDR_LEN as HDR  # the header in front of each frame

__all__ = ["fit_preset", "write_preset", "load_preset", "FitError", "PAGE"]

PAGE = 4096


class FitError(ValueError):
    """The table cannot support the fit."""


def _lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    rms = float(np.sqrt(np.mean((x @ coef - y) ** 2))) if len(y) else float("nan")
    return coef, rms


def fit_preset(df, name: str = "fitted-host") -> dict:
    """Fit the preset from a measure table (columns mode, size, ns_per_packet, packets,
    zerocopy_tried, copied, emulated, kernel, backend)."""
    need = {"mode", "size", "ns_per_packet", "packets", "zerocopy_tried", "copied"}
    missing = need - set(df.columns)
    if missing:
        raise FitError(f"the table lacks columns {', '.join(sorted(missing))} (write it with zclab kernel measure)")
    df = df[np.isfinite(df["ns_per_packet"].astype(float)) & (df["packets"] > 0)]
    copy = df[(df["mode"] == "copy")]
    if copy["size"].nunique() < 2:
        raise FitError("copy-mode rows of at least two sizes are needed for per_packet_ns and copy_ns_per_byte")
    x = np.column_stack([np.ones(len(copy)), copy["size"].astype(float)])
    (per_packet, per_byte), rms_copy = _lstsq(x, copy["ns_per_packet"].astype(float).to_numpy())
    per_packet, per_byte = max(per_packet, 0.0), max(per_byte, 0.0)
    # zero-copy rows whose packets all went zero-copy
    zc = df[(df["mode"] == "zerocopy") & (df["zerocopy_tried"] == df["packets"])]
    zc_setup = pin = float("nan")
    rms_zc = float("nan")
    if len(zc):
        pages = np.ceil((zc["size"].astype(float) + HDR) / PAGE)
        y = zc["ns_per_packet"].astype(float).to_numpy() - per_packet
        if pages.nunique() >= 2:
            (zc_setup, pin), rms_zc = _lstsq(np.column_stack([np.ones(len(zc)), pages]), y)
        else:
            (zc_setup,), rms_zc = _lstsq(np.ones((len(zc), 1)), y)
            pin = 0.0
        zc_setup, pin = max(float(zc_setup), 0.0), max(float(pin), 0.0)
    values = {"per_packet_ns": float(per_packet), "copy_ns_per_byte": float(per_byte)}
    if not math.isnan(zc_setup):
        values.update(zc_setup_ns=zc_setup, pin_ns_per_page=pin)
    emulated = bool(df["emulated"].any()) if "emulated" in df else None
    preset = {
        "name": name,
        "kind": "host",
        "values": values,
        "fit": {
            "rows_copy": int(len(copy)), "rows_zerocopy": int(len(zc)),
            "rms_ns_copy": rms_copy, "rms_ns_zerocopy": None if math.isnan(rms_zc) else rms_zc,
            "kernel": str(df["kernel"].iloc[0]) if "kernel" in df and len(df) else None,
            "backend": str(df["backend"].iloc[0]) if "backend" in df and len(df) else None,
            "emulated": emulated,
        },
        "note": ("FITTED UNDER EMULATION (qemu TCG): these numbers describe no machine; a test of the plumbing only"
                 if emulated else "fitted to wall time per packet of a saturating sender on this host"),
    }
    from ...model.config import Config

    Config(**values)  # the values are valid Config fields
    return preset


def write_preset(preset: dict, path: str | Path) -> Path:
    """Write the preset as JSON (or TOML for a .toml path)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".toml":
        lines = [f"# {preset['note']}", f'name = "{preset["name"]}"', f'kind = "{preset["kind"]}"', "", "[values]"]
        lines += [f"{k} = {v!r}" for k, v in preset["values"].items()]
        lines += ["", "[fit]"]
        for k, v in preset["fit"].items():
            if v is None:
                continue
            lines.append(f"{k} = {json.dumps(v)}")
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps(preset, indent=2) + "\n")
    return path


def load_preset(path: str | Path) -> dict:
    """The Config values of a preset file that :func:`write_preset` wrote (JSON or TOML),
    checked; ``Config(**load_preset(path))`` runs the model with them, and so does
    ``zclab simulate --preset @PATH``.

    Raises :class:`~zclab.ConfigError` naming the file when it cannot be read or holds
    anything but valid Config values.
    """
    from ...model.config import Config, ConfigError

    path = Path(path)
    where = f"preset file {path}"
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ConfigError("preset", f"@{path}", f"the {where} is not a text file (JSON or TOML)") from None
    except OSError as exc:
        raise ConfigError("preset", f"@{path}", f"cannot read the {where}: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ConfigError("preset", f"@{path}", f"the {where} is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    values = data.get("values") if isinstance(data, dict) else None
    if not isinstance(values, dict) or not values:
        raise ConfigError("preset", f"@{path}", f"the {where} has no table of values (zclab kernel fit writes one)")
    Config(**values)  # each value checked: the error names the field
    return dict(values)
