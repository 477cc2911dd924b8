"""The recorder: market data and the bot's own events to rotating gzip JSON-lines files, readable back."""

from __future__ import annotations

import gzip
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.common import json_io

__all__ = ["Record", "Recorder", "read_records"]

_PREFIX = "rec-"
_SUFFIX = ".jsonl.gz"


@dataclass(frozen=True, slots=True)
class Record:
    ts_ns: int
    kind: str
    data: Any


class Recorder:
    """Buffers records in memory and writes them on `flush()` (the runtime flushes every second and on
    shutdown), so the hot path only appends to a list. Files rotate past `max_bytes` (compressed)
    or `rotate_s`; at most `max_files` are kept and none older than `max_age_s`.
    """

    def __init__(self, directory: str | Path, *, max_bytes: int = 64 * 1024 * 1024, max_files: int = 10,
                 max_age_s: float = 7 * 86400, rotate_s: float = 3600.0, buffer_max: int = 100_000) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.max_age_s = max_age_s
        self.rotate_s = rotate_s
        self.buffer_max = buffer_max
        self._buf: deque[bytes] = deque()
        self._raw: IO[bytes] | None = None
        self._gz: gzip.GzipFile | None = None
        self._opened_at = 0.0
        self._path: Path | None = None
        self._seq = 0
        self.dropped = 0
        self.written = 0
        self.closed = False
        # flush() may run in a worker thread (gzip releases the GIL) while the loop keeps calling
        # record(): a deque's append and popleft are atomic, so a flush takes exactly the records
        # that were there when it began (swapping a list out could lose an append caught between
        # reading the attribute and appending). The lock keeps flushes and close() apart.
        self._io = threading.RLock()

    def record(self, kind: str, data: Any, *, ts_ns: int | None = None) -> None:
        """Queue one record; `data` is JSON-able (bytes are decoded as UTF-8 raw messages)."""
        if self.closed:
            return
        if len(self._buf) >= self.buffer_max:
            self.dropped += 1  # a stalled disk must not grow memory without bound
            return
        if isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data).decode("utf-8", "replace")
        self._buf.append(json_io.dumps({"t": ts_ns or time.time_ns(), "k": kind, "d": data}) + b"\n")

    def record_raw(self, kind: str, raw: bytes, *, ts_ns: int | None = None) -> None:
        """Queue one venue message that is already JSON (it parsed on arrival) as it came.

        Embedded as JSON rather than as a string: escaping a 50-level snapshot into a JSON string
        cost ~10 us of the event loop per message. `read_records` gives it back as a string, as
        for `record`. A message with a line break (legal JSON whitespace) would split the line, so
        it takes the string path. `kind` is a plain identifier of ours.
        """
        if self.closed:
            return
        if len(self._buf) >= self.buffer_max:
            self.dropped += 1
            return
        if not raw or b"\n" in raw or b"\r" in raw:
            self.record(kind, raw, ts_ns=ts_ns)
            return
        self._buf.append(b'{"t":%d,"k":"%s","j":%s}\n' % (ts_ns or time.time_ns(), kind.encode(), raw))

    @property
    def current_path(self) -> Path | None:
        return self._path

    def _open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        self._path = self.dir / f"{_PREFIX}{stamp}-{os.getpid()}-{self._seq:04d}{_SUFFIX}"
        self._raw = open(self._path, "ab")
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="ab", compresslevel=5)
        self._opened_at = time.monotonic()

    def _close_file(self) -> None:
        if self._gz is not None:
            self._gz.close()
        if self._raw is not None:
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()
        self._gz = self._raw = None

    def flush(self) -> None:
        """Write buffered records, rotate and prune as needed; safe to call from a worker thread."""
        with self._io:
            if not self.closed:
                self._flush()

    def _flush(self) -> None:
        n = len(self._buf)
        if n:
            if self._gz is None:
                self._open()
            assert self._gz is not None and self._raw is not None
            take = self._buf.popleft
            batch = [take() for _ in range(n)]
            self._gz.write(b"".join(batch))
            # Z_SYNC_FLUSH: what is on disk decompresses even if we crash before close.
            self._gz.flush()
            self.written += len(batch)
            if self._raw.tell() >= self.max_bytes or time.monotonic() - self._opened_at >= self.rotate_s:
                self._close_file()
                self.prune()

    def prune(self) -> None:
        """Delete the oldest files beyond `max_files` and any older than `max_age_s`."""
        files = list_files(self.dir)
        now = time.time()
        keep: list[Path] = []
        for p in files:
            if p == self._path and self._gz is not None:
                keep.append(p)
                continue
            try:
                too_old = now - p.stat().st_mtime > self.max_age_s
            except FileNotFoundError:
                continue
            if too_old:
                p.unlink(missing_ok=True)
            else:
                keep.append(p)
        for p in keep[: max(0, len(keep) - self.max_files)]:
            if p != self._path or self._gz is None:
                p.unlink(missing_ok=True)

    def close(self) -> None:
        """Flush and close the current file; idempotent."""
        with self._io:
            if self.closed:
                return
            self._flush()
            self._close_file()
            self.prune()
            self.closed = True


def list_files(directory: str | Path) -> list[Path]:
    """Recorder files, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(d.glob(f"{_PREFIX}*{_SUFFIX}"), key=lambda p: (p.stat().st_mtime, p.name))


def read_records(directory: str | Path, *, kinds: set[str] | None = None) -> Iterator[Record]:
    """Replay: every record in file order; a truncated tail (crash mid-write) ends that file quietly."""
    for path in list_files(directory):
        try:
            with gzip.open(path, "rb") as fh:
                for line in fh:
                    try:
                        doc = json_io.loads(line)
                    except json_io.JSONDecodeError:
                        break
                    if kinds is None or doc["k"] in kinds:
                        data = doc["d"] if "d" in doc else json_io.dumps_str(doc["j"])  # j: record_raw
                        yield Record(int(doc["t"]), str(doc["k"]), data)
        except (EOFError, gzip.BadGzipFile, OSError):
            continue
