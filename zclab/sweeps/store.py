"""The result store: finished sweep points as Parquet files in a directory.

Every row is one run (a point of a sweep and one replication), keyed by a
content hash of its full configuration and the model version
(:func:`point_key`): the same configuration is computed once, whatever sweep
asked for it. Rows are appended in files written atomically (a temporary file,
then a rename), so a file is either whole or absent; a sweep killed at any
moment loses at most the points finished since its last flush, never a file.

    >>> from zclab.sweeps.store import Store
    >>> store = Store("data/store")          # doctest: +SKIP
    >>> store.keys()                         # doctest: +SKIP
    {'9f2c...', ...}
    >>> store.load()                         # doctest: +SKIP
    <one DataFrame with every row>

A file that cannot be read (truncated, corrupted) is reported by name with a
:class:`StoreWarning`, renamed to ``*.corrupt`` (kept, never deleted) and left
out, so that its points are computed again.

Every flush writes a file, so a store grows by many small ones: :meth:`Store.compact`
merges them into one (a sweep does so at its end once the store has more than
``COMPACT_ABOVE`` files; ``zclab store compact DIR`` at any time). The merged file is
written whole and renamed into place before the small ones go: a compaction killed
at any moment leaves each row at least once (``load`` keeps one row per key).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from ..model.config import Config
from .._files import atomic_path

if TYPE_CHECKING:  # imported where used: `import zclab` to simulate needs no pandas
    import pandas as pd

__all__ = ["Store", "StoreWarning", "point_key", "MODEL_VERSION", "DEFAULT_STORE"]

#: Bumped whenever the same configuration and seed give other numbers (the
#: model's semantics or its random stream change), so that stored results of an
#: older model are never mistaken for the current one (it is part of every key).
#: tests/test_sweep.py pins runs' records to each version. 2: exponential
#: variates by the ziggurat instead of by inversion. 3: the size test counts the
#: virtio-net header the socket carries; a zero-copy skb to a local socket is
#: copied inside sendmsg, by the worker. 4: policy presets are releases of
#: drivers/vhost/net.c (wake-up, pending and heads[] rules, packet weight, busy
#: polling, the seed's spin in tx_poll_start). 5: the NIC completes its TX ring in
#: order and frees skbs after interrupt coalescing, a pfifo_fast qdisc of txqueuelen
#: drops, GSO frames go on the wire as segments (nic_queue_len renamed txqueuelen).
MODEL_VERSION = 5
#: Where sweeps keep their points unless told otherwise (relative to the working
#: directory; the environment variable ZCLAB_STORE overrides it).
DEFAULT_STORE = "data/store"


class StoreWarning(UserWarning):
    """A file of the store could not be read and was set aside."""


def point_key(cfg: Config) -> str:
    """Content hash of a run: its full configuration (seed included) and the model version."""
    text = json.dumps({"model": MODEL_VERSION, "config": cfg.to_dict()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def default_store() -> Path:
    return Path(os.environ.get("ZCLAB_STORE", DEFAULT_STORE))


def _foreign(schema) -> str:
    """Why a Parquet schema is not one this store writes ('' if it is): its rows carry a
    string ``key`` and the ``model_version`` that made them."""
    import pyarrow as pa

    names = set(schema.names)
    if "key" not in names or "model_version" not in names:
        return "no key or model_version column"
    if not (pa.types.is_string(schema.field("key").type) or pa.types.is_large_string(schema.field("key").type)):
        return f"its key column is {schema.field('key').type}, not text"
    return ""


#: a sweep compacts its store at its end once it holds more files than this
COMPACT_ABOVE = 32


class Store:
    """A directory of Parquet files of result rows (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def files(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.glob("part-*.parquet"))

    # -- reading ---------------------------------------------------------------------------
    def _read(self, path: Path, columns: list[str] | None = None) -> pd.DataFrame | None:
        """One file's rows, or None (with a warning that says why) for a file that is
        not the store's own, is damaged, or cannot be read just now."""
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)  # one open for the schema and the rows
            why = _foreign(pf.schema_arrow)
            if why:
                warnings.warn(f"store: {path} is not a file of this store ({why}); "
                              "left out of this load, and left in place", StoreWarning, stacklevel=3)
                return None
            return pf.read(columns=columns).to_pandas()
        except OSError as exc:
            if exc.errno is not None:
                # EMFILE, EIO, EACCES, ...: the file may be sound; this read failed
                warnings.warn(f"store: {path} could not be read ({exc.strerror}); its rows are left out of this "
                              "load, the file is left in place", StoreWarning, stacklevel=3)
                return None
            reason = exc  # an error of pyarrow's own (no errno): the file's content
        except Exception as exc:  # truncated or corrupted: set it aside, never use it
            reason = exc
        bad = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, bad)
            where = f"moved to {bad.name}"
        except OSError as exc:
            where = f"could not be moved aside ({exc.strerror})"
        warnings.warn(f"store: {path} is damaged ({type(reason).__name__}: {reason}); {where}; "
                      "its points will be computed again", StoreWarning, stacklevel=3)
        return None

    def keys(self) -> set[str]:
        """The keys of every readable row."""
        keys: set[str] = set()
        for f in self.files():
            df = self._read(f, columns=["key"])
            if df is not None:
                keys.update(df["key"])
        return keys

    def load(self, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Every readable row (or those with the given keys) as one frame, one row per key;
        an empty store gives the frame of a sweep's columns with no rows."""
        import pandas as pd

        frames = [df for f in self.files() if (df := self._read(f)) is not None]
        if not frames:
            from .sweep import META_COLUMNS, METRIC_COLUMNS, PARAM_COLUMNS, TAIL_COLUMNS

            return pd.DataFrame(columns=[c for c in META_COLUMNS + PARAM_COLUMNS + METRIC_COLUMNS + TAIL_COLUMNS
                                         if c != "point"])
        df = pd.concat(frames, ignore_index=True)
        df = df.drop_duplicates("key", keep="first")  # two writers of one point: the same numbers
        if keys is not None:
            df = df[df["key"].isin(set(keys))]
        return df.reset_index(drop=True)

    # -- writing ----------------------------------------------------------------------------
    def write(self, rows: list[dict]) -> Path | None:
        """Append rows as one new file, atomically. Returns its path."""
        if not rows:
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"
        final = self.path / name
        with atomic_path(final) as tmp:  # a reader sees the whole file or none
            # the schema is the union of the rows' keys: points with different flows
            # tables have different flow_<name>_* columns (from_pylist alone would
            # keep the first row's and silently drop the others')
            names = list(dict.fromkeys(k for row in rows for k in row))
            pq.write_table(pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in names}), tmp)
        return final

    def compact(self) -> tuple[int, int]:
        """Merge the store's readable files into one, one row per key; returns (files
        merged, rows). The caller holds the lock (a sweep does; ``zclab store compact``
        takes it). Damaged and foreign files are left where they are."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self.files()
        frames, merged = [], []
        for f in files:
            df = self._read(f)
            if df is not None:
                frames.append(df)
                merged.append(f)
        if len(merged) < 2:
            return 0, sum(len(df) for df in frames)
        import pandas as pd

        df = pd.concat(frames, ignore_index=True).drop_duplicates("key", keep="first").reset_index(drop=True)
        for col in df.columns:  # a column of text and NaN (a flows table here, none there): text and null
            if df[col].dtype == object:
                df[col] = df[col].astype(object).where(df[col].notna(), None)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"
        with atomic_path(self.path / name) as tmp:  # the merged rows are in place before any small file goes
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
        for f in merged:
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
        return len(merged), len(df)

    @contextlib.contextmanager
    def lock(self):
        """Exclusive lock for a writer: two sweeps may not fill one store at once.

        A POSIX record lock (lockf): it belongs to this process, is not inherited
        by worker processes, and goes away with the process however it ends.
        """
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / ".lock", "w") as fh:
            try:
                fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise RuntimeError(f"store {self.path} is in use by another sweep (lock file {self.path / '.lock'})") from None
            # only a writer that holds the lock writes: any temporary file now is a killed write's
            for tmp in self.path.glob(".part-*.parquet*.tmp"):  # (_files.tmp_name)
                with contextlib.suppress(OSError):
                    tmp.unlink()
            try:
                yield self
            finally:
                fcntl.lockf(fh, fcntl.LOCK_UN)
