"""Size-based log rotation with gzip and a file count, safe against an outside `mmctl logs rotate`.

Rotated files are named `<file>.<UTC timestamp>.gz` (no renumbering, so two rotators never race
on `.1`, `.2`, ...). A rotation holds an advisory lock on `<file>.lock`; the handler re-opens its
file when the path no longer names the inode it writes to (like WatchedFileHandler), so an
external rename-rotation loses no lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import logging
import logging.handlers
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CompressingRotatingFileHandler",
    "compress_file",
    "prune_backups",
    "rotated_backups",
    "rotated_name",
    "rotation_lock",
]

_TS_RE = r"\d{8}T\d{12}Z(?:-\d+)?"


def rotated_name(path: str | os.PathLike[str], *, now_ns: int | None = None) -> str:
    """A fresh `<file>.<YYYYmmddTHHMMSSffffff>Z` name (without `.gz`) that does not exist yet."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000)) + f"{(ns // 1000) % 1_000_000:06d}Z"
    base = f"{os.fspath(path)}.{stamp}"
    candidate, n = base, 0
    while os.path.exists(candidate) or os.path.exists(candidate + ".gz"):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def rotated_backups(path: str | os.PathLike[str]) -> list[Path]:
    """Rotated files of `path` (compressed or pending), oldest first."""
    p = Path(path)
    pattern = re.compile(re.escape(p.name) + r"\.(" + _TS_RE + r")(\.gz)?$")
    try:
        found = [c for c in p.parent.iterdir() if pattern.match(c.name)]
    except FileNotFoundError:
        return []
    return sorted(found, key=lambda c: pattern.match(c.name).group(1))  # type: ignore[union-attr]  # filtered


@contextlib.contextmanager
def rotation_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Advisory lock shared by the handler and `mmctl logs rotate` for the same file."""
    fd = os.open(f"{os.fspath(path)}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def compress_file(source: str | os.PathLike[str], dest: str | os.PathLike[str], *, level: int = 6) -> None:
    """Stream `source` into gzip `dest` (temp + rename, so a crash leaves no torn .gz), then remove it."""
    tmp = f"{os.fspath(dest)}.tmp"
    with open(source, "rb") as src, gzip.open(tmp, "wb", compresslevel=level) as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        st = os.fstat(src.fileno())
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))  # age-based pruning sees when it was written
    os.replace(tmp, dest)
    os.unlink(source)


def prune_backups(path: str | os.PathLike[str], keep: int) -> list[Path]:
    """Delete the oldest compressed backups beyond `keep`; returns what was removed."""
    backups = [b for b in rotated_backups(path) if b.name.endswith(".gz")]
    removed = backups[: max(0, len(backups) - keep)]
    for b in removed:
        with contextlib.suppress(FileNotFoundError):
            b.unlink()
    return removed


class CompressingRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler that gzips rotated files, keeps `backupCount` of them, and re-opens
    its file after an outside rotation (rename) so no line goes to a file nobody reads."""

    def __init__(self, filename: str | os.PathLike[str], *, max_bytes: int, backup_count: int,
                 encoding: str = "utf-8", compress_level: int = 6) -> None:
        super().__init__(filename, mode="a", maxBytes=max_bytes, backupCount=backup_count, encoding=encoding)
        self.compress_level = compress_level
        self._dev_ino = self._stat_ids()

    def _stat_ids(self) -> tuple[int, int]:
        if self.stream is None:
            return (-1, -1)
        st = os.fstat(self.stream.fileno())
        return (st.st_dev, st.st_ino)

    def _reopen_if_moved(self) -> None:
        try:
            st = os.stat(self.baseFilename)
            moved = (st.st_dev, st.st_ino) != self._dev_ino
        except FileNotFoundError:
            moved = True
        if moved and self.stream is not None:
            self.stream.flush()
            self.stream.close()
            self.stream = None  # reopened just below
        if self.stream is None:
            self.stream = self._open()
            self._dev_ino = self._stat_ids()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._reopen_if_moved()
        except OSError:
            self.handleError(record)
            return
        super().emit(record)

    def doRollover(self) -> None:
        """Rename the file to a timestamped name, gzip it, drop backups beyond the count."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # reopened below
        with rotation_lock(self.baseFilename):
            try:
                st = os.stat(self.baseFilename)
                ours = (st.st_dev, st.st_ino) == self._dev_ino
            except FileNotFoundError:
                ours = False
            if ours:  # otherwise someone rotated it already: just reopen
                pending = rotated_name(self.baseFilename)
                os.rename(self.baseFilename, pending)
                compress_file(pending, pending + ".gz", level=self.compress_level)
            prune_backups(self.baseFilename, self.backupCount)
        self.stream = self._open()
        self._dev_ino = self._stat_ids()
