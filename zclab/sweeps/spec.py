"""Sweep specifications: a TOML or YAML file that ``zclab sweep SPEC`` runs.

.. code-block:: toml

    name = "max_pend"            # optional, names the output
    replications = 3             # optional, default 1
    output = "data/max_pend.parquet"   # optional: the sweep's frame (.parquet or .csv)
    store = "data/store"         # optional: where points are kept (default data/store)

    [base]                       # the configuration every point starts from
    preset = ["ring-quarter-stall", "tcp_stream_64k"]   # any presets, then parameters
    n_packets = 100_000

    [grid]                       # cartesian product of these lists ...
    max_pend = [16, 32, 64, 128]
    ring_size = [256, 1024]

    # ... or explicit points instead of [grid]:
    # [[points]]
    # max_pend = 16
    # [[points]]
    # max_pend = 64
    # ring_size = 1024

:func:`load_spec` validates the whole file, every point included, before
anything runs: an unknown key, an empty grid, a wrong type or a value out of
range raises :class:`~zclab.sweeps.sweep.SweepError` naming the point and the field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.config import MAX_TABLE_FILE_BYTES, Config, ConfigError, yaml_load
from ..model.presets import PRESET_KINDS, preset_kind
from .sweep import MAX_RUNS, SweepError, check_size, count_points, expand

__all__ = ["SweepSpec", "load_spec"]

_KEYS = {"name", "replications", "output", "store", "base", "grid", "points"}


@dataclass
class SweepSpec:
    """A validated sweep: base configuration, points, replications, where to write."""

    name: str
    base: Config
    grid: Any  # dict of lists or list of dicts, as zclab.sweep takes it
    replications: int = 1
    output: Path | None = None
    store: Path | None = None
    configs: list[Config] = field(default_factory=list)
    n_points: int = 0

    @property
    def runs(self) -> int:
        return self.n_points * self.replications


def _read(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(MAX_TABLE_FILE_BYTES + 1)
    except UnicodeDecodeError:
        raise SweepError(f"{path}: not a text file (a sweep spec is TOML or YAML, in UTF-8)") from None
    except OSError as exc:
        raise SweepError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(text) > MAX_TABLE_FILE_BYTES:
        raise SweepError(f"{path}: larger than {MAX_TABLE_FILE_BYTES // 2**20} MiB: refused (a sweep spec is a few lines)")
    if path.suffix.lower() == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepError(f"{path}: not valid TOML ({exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise SweepError(f"{path}: not valid YAML ({str(exc).splitlines()[0]}{where})") from None
        if not isinstance(data, dict):
            raise SweepError(f"{path}: the top level must be a mapping of keys")
        return data
    raise SweepError(f"{path}: a sweep spec is a .toml, .yaml or .yml file")


def _base_config(base: Any, where: str) -> Config:
    if base is None:
        return Config()
    if not isinstance(base, dict):
        raise SweepError(f"{where}: [base] must be a table of parameters")
    params = dict(base)
    presets = params.pop("preset", [])
    if isinstance(presets, str):
        presets = [presets]
    if not isinstance(presets, list) or not all(isinstance(n, str) for n in presets):
        raise SweepError(f"{where}: base.preset={presets!r}: must be a preset's name or a list of names")
    for name in presets:
        kind = preset_kind(name)
        if kind is None:
            known = "; ".join(f"{k}: {', '.join(t)}" for k, t in PRESET_KINDS.items())
            raise SweepError(f"{where}: base.preset={name!r}: unknown preset ({known})")
        if kind in params:
            # as on the command line: one preset of each kind (a second would be dropped)
            raise SweepError(f"{where}: base.preset={name!r}: a {kind} preset ({params[kind]!r}) was already given")
        params[kind] = name
    try:
        return Config(**params)
    except ConfigError as exc:
        raise SweepError(f"{where}: base: {exc}") from None


def load_spec(path: str | os.PathLike, max_runs: int = MAX_RUNS, build: bool = True) -> SweepSpec:
    """Read and validate a sweep spec (see the module docstring). Its points and runs
    are counted from the lists' lengths first: above ``max_runs`` it is refused before
    any point is built. ``build=False`` stops there (``configs`` is left empty): the
    CLI prints the count before the sweep's plan builds and checks every point."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such file")
    data = _read(path)
    unknown = set(data) - _KEYS
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_KEYS))}")
    if "grid" in data and "points" in data:
        raise SweepError(f"{path}: give either [grid] or [[points]], not both")
    grid = data.get("grid", data.get("points"))
    if grid is None:
        raise SweepError(f"{path}: no [grid] or [[points]]: nothing to sweep")
    if isinstance(grid, dict):
        for name, values in grid.items():
            if not isinstance(values, list):
                raise SweepError(f"{path}: grid.{name}={values!r}: must be a list of values")
    elif not isinstance(grid, list):
        raise SweepError(f"{path}: points must be a list of tables")
    reps = data.get("replications", 1)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise SweepError(f"{path}: replications={reps!r}: must be an integer of at least 1")
    base = _base_config(data.get("base"), str(path))
    try:
        n_points = count_points(grid)
        check_size(n_points, reps, max_runs)
        configs = expand(base, grid) if build else []
    except SweepError as exc:
        raise SweepError(f"{path}: {exc}") from None
    output = data.get("output")
    store = data.get("store")
    for key, value in (("output", output), ("store", store)):
        if value is not None and not isinstance(value, str):
            raise SweepError(f"{path}: {key}={value!r}: must be a path (a string)")
    if output is not None and Path(output).suffix.lower() not in (".parquet", ".csv"):
        raise SweepError(f"{path}: output={output!r}: must end in .parquet or .csv")
    return SweepSpec(
        name=str(data.get("name", path.stem)),
        base=base,
        grid=grid,
        replications=reps,
        output=Path(output) if output else None,
        store=Path(store) if store else None,
        configs=configs,
        n_points=n_points,
    )
