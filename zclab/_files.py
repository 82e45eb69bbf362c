"""Writing a file whole or not at all: the one atomic-write helper every writer of
zclab uses (frames, figures, the store's parts, findings, the report, the engine's
cache stamp, the kernel driver's binary).

A reader, or a run killed halfway, sees the old file or the new one, never half of
one: the new content goes to a hidden temporary file beside the target (os.replace is
atomic only within one file system) and replaces it in one step.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "frame.csv") as tmp:
    ...     _ = tmp.write_text("a,b\\n1,2\\n")
    >>> (d / "frame.csv").read_text(), sorted(p.name for p in d.iterdir())
    ('a,b\\n1,2\\n', ['frame.csv'])
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: what every temporary name ends with (a sweep of killed writes can find them)
TMP_SUFFIX = ".tmp"


def tmp_name(path: Path) -> Path:
    """A hidden, unique temporary path beside ``path``: ``.<name>.<pid>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path``'s new content to; when the block ends
    normally it replaces ``path`` whole, and on any exception (Ctrl-C included) it is
    removed and ``path`` is left as it was. The directory is created if missing.
    ``fsync=True`` flushes the file to disk before the rename (what a crash of the
    machine, not only of the process, must not lose)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
