"""ASCII lint (SOAK-001): non-ASCII, invalid UTF-8 and over-long lines, read in bounded binary chunks."""

from __future__ import annotations

import ast
import fnmatch
import functools
import io
import logging
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO, Literal

from mmctl.ops.log_calls import output_call_non_ascii

__all__ = [
    "DEFAULT_SKIP_DIRS",
    "Finding",
    "LintNote",
    "LintOptions",
    "LintReport",
    "iter_files",
    "lint_paths",
    "load_options",
]

log = logging.getLogger(__name__)

FindingKind = Literal["non_ascii", "invalid_utf8", "long_line"]

DEFAULT_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "dist", "build", "target", "node_modules",
    "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "artifacts",
})
BINARY_SUFFIXES = frozenset({
    ".so", ".pyd", ".dll", ".dylib", ".exe", ".bin", ".o", ".a", ".rlib", ".rmeta", ".whl", ".gz", ".zip",
    ".tar", ".tgz", ".xz", ".bz2", ".zst", ".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".woff",
    ".woff2", ".ttf", ".pyc", ".sqlite", ".db", ".parquet",
})
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")
_CONTINUATION = bytes(range(0x80, 0xC0))
_EXCERPT_BYTES = 24


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    col: int  # 1-based character column (continuation bytes not counted)
    kind: FindingKind
    message: str
    excerpt: str

    def render(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.kind}: {self.message}: {self.excerpt}"


@dataclass(frozen=True, slots=True)
class LintNote:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class LintOptions:
    """What to scan and the bounds that keep memory flat."""

    all_lines: bool = False
    chunk_size: int = 64 * 1024
    max_line_bytes: int = 1024 * 1024
    python_parse_cap_bytes: int = 4 * 1024 * 1024
    max_findings_per_file: int = 100
    python_globs: tuple[str, ...] = ("*.py", "*.pyi")
    all_lines_globs: tuple[str, ...] = (
        "*.toml", "*.cfg", "*.ini", "*.yml", "*.yaml", "*.sh", "Dockerfile", "requirements*.txt")
    skip_dirs: frozenset[str] = DEFAULT_SKIP_DIRS
    skip_globs: tuple[str, ...] = ()

    @property
    def effective_chunk(self) -> int:
        # A chunk never exceeds the line limit, so only the line crossing a chunk edge can be too
        # long: lines wholly inside one chunk need no per-line check (keeps the fast path fast).
        return max(16, min(self.chunk_size, self.max_line_bytes - 4))


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[LintNote] = field(default_factory=list)
    errors: list[LintNote] = field(default_factory=list)
    files_scanned: int = 0
    files_skipped: int = 0
    bytes_scanned: int = 0
    truncated: list[str] = field(default_factory=list)  # files whose listing hit max_findings_per_file

    @property
    def status(self) -> Literal["clean", "findings", "failed"]:
        if self.errors:
            return "failed"
        return "findings" if self.findings else "clean"

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "files_scanned": self.files_scanned,
            "files_skipped": self.files_skipped,
            "bytes_scanned": self.bytes_scanned,
            "truncated": self.truncated,
            "findings": [
                {"path": f.path, "line": f.line, "col": f.col, "kind": f.kind, "message": f.message,
                 "excerpt": f.excerpt} for f in self.findings
            ],
            "notes": [{"path": n.path, "message": n.message} for n in self.notes],
            "errors": [{"path": n.path, "message": n.message} for n in self.errors],
        }


def load_options(config_path: Path | None, *, all_lines: bool = False) -> LintOptions:
    """Read `[ascii_lint]` from a TOML file (ci/ascii_lint.toml); missing file -> defaults.

    Raises:
        ValueError: the file exists but has unknown keys or wrong types.
    """
    opts = LintOptions(all_lines=all_lines)
    if config_path is None or not config_path.exists():
        return opts
    with config_path.open("rb") as fh:
        doc = tomllib.load(fh).get("ascii_lint", {})
    ints = ("chunk_size", "max_line_bytes", "python_parse_cap_bytes", "max_findings_per_file")
    lists = ("python_globs", "all_lines_globs", "skip_globs")
    unknown = set(doc) - set(ints) - set(lists) - {"extra_skip_dirs"}
    if unknown:
        raise ValueError(f"{config_path}: unknown [ascii_lint] keys: {', '.join(sorted(unknown))}")
    changes: dict[str, object] = {}
    for key in ints:
        if key in doc:
            if not isinstance(doc[key], int) or doc[key] < (64 if key == "max_line_bytes" else 1):
                raise ValueError(f"{config_path}: ascii_lint.{key} must be a positive integer"
                                 + (" >= 64" if key == "max_line_bytes" else ""))
            changes[key] = doc[key]
    for key in (*lists, "extra_skip_dirs"):
        if key in doc and not (isinstance(doc[key], list) and all(isinstance(x, str) for x in doc[key])):
            raise ValueError(f"{config_path}: ascii_lint.{key} must be a list of strings")
    for key in lists:
        if key in doc:
            changes[key] = tuple(doc[key])
    if "extra_skip_dirs" in doc:
        changes["skip_dirs"] = DEFAULT_SKIP_DIRS | frozenset(doc["extra_skip_dirs"])
    return replace(opts, **changes)  # type: ignore[arg-type]  # keys checked above


def display_path(path: str) -> str:
    """Drop exactly one leading './'; `.github/x` keeps its dot (the seed's lstrip('./') did not)."""
    return path[2:] if path.startswith("./") and len(path) > 2 else path


@functools.lru_cache(maxsize=64)
def _glob_re(globs: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs) or "(?!)")


def _matches(path: str, globs: tuple[str, ...]) -> bool:
    rx = _glob_re(globs)
    return bool(rx.match(os.path.basename(path)) or rx.match(path))


def _is_venv(dirpath: str) -> bool:
    return os.path.isfile(os.path.join(dirpath, "pyvenv.cfg"))


def iter_files(paths: Iterable[str], options: LintOptions, report: LintReport) -> Iterator[tuple[str, bool]]:
    """Yield (path, explicit) for every candidate file, walking directories in sorted order."""
    for raw in paths:
        if os.path.isfile(raw):
            yield raw, True
            continue
        if not os.path.isdir(raw):
            report.errors.append(LintNote(display_path(raw), "no such file or directory"))
            continue
        stack = [raw]
        while stack:
            current = stack.pop()
            try:
                with os.scandir(current) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                report.errors.append(LintNote(display_path(current), f"cannot list: {exc.strerror}"))
                continue
            subdirs: list[str] = []
            for entry in entries:
                full = os.path.join(current, entry.name) if current != "." else f"./{entry.name}"
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    if entry.name in options.skip_dirs or _is_venv(full) or _matches(display_path(full),
                                                                                      options.skip_globs):
                        continue
                    subdirs.append(full)
                elif entry.is_file() and not _matches(display_path(full), options.skip_globs):
                    yield full, False
            stack.extend(reversed(subdirs))


def _escape(raw: bytes) -> str:
    """Printable ASCII excerpt: characters as \\uXXXX, undecodable bytes as \\xNN."""
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(
        c if " " <= c <= "~" else repr(c)[1:-1] if c.isascii() else
        f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in text)


def _incomplete_tail(data: bytes) -> int:
    """Index where a UTF-8 sequence cut by the chunk edge starts (len(data) if none)."""
    n = len(data)
    for i in range(1, min(4, n + 1)):
        b = data[n - i]
        if b < 0x80:
            return n
        if b >= 0xC0:
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n - i if need > i else n
    return n


class _Scanner:
    """Streams one file's bytes; keeps only counters between chunks (memory is O(chunk))."""

    def __init__(self, path: str, options: LintOptions, report: LintReport, *, non_ascii: bool) -> None:
        self.path = path
        self.opts = options
        self.report = report
        self.non_ascii = non_ascii
        self.line = 1
        self.abs_pos = 0  # file offset of data[0]
        self.line_start = 0  # file offset where the current line starts
        self.cont_in_line = 0  # continuation bytes seen in the current line before data[0]
        self.long_reported = False
        self.reported: dict[str, int] = {"non_ascii": 0, "invalid_utf8": 0}
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= self.opts.max_findings_per_file

    def _add(self, finding: Finding) -> None:
        if self.full:
            return
        self.count += 1
        self.report.findings.append(finding)
        if self.full:
            self.report.truncated.append(self.path)

    def _long(self, length: int) -> None:
        if length > self.opts.max_line_bytes and not self.long_reported:
            self.long_reported = True
            self._add(Finding(self.path, self.line, self.opts.max_line_bytes + 1, "long_line",
                              f"line longer than {self.opts.max_line_bytes} bytes (scan continues)", ""))

    def feed(self, data: bytes) -> None:
        n = len(data)
        if n == 0:
            return
        # Once the listing is full only line bookkeeping remains, at the ASCII fast path's speed.
        if not self.full and not data.isascii() and (self.non_ascii or not _valid_utf8(data)):
            self._runs(data)
        first = data.find(b"\n")
        if first < 0:
            self._long(self.abs_pos + n - self.line_start)
            if not data.isascii():
                self.cont_in_line += n - len(data.translate(None, _CONTINUATION))
        else:
            self._long(self.abs_pos + first - self.line_start)
            last = data.rfind(b"\n")
            self.line += data.count(b"\n")
            self.line_start = self.abs_pos + last + 1
            self.long_reported = False
            tail = data[last + 1:]
            self.cont_in_line = len(tail) - len(tail.translate(None, _CONTINUATION)) if not tail.isascii() else 0
            self._long(self.abs_pos + n - self.line_start)
        self.abs_pos += n

    def _runs(self, data: bytes) -> None:
        line = self.line
        cursor = 0  # data index up to which newlines were counted
        line_start = self.line_start - self.abs_pos  # may be negative: line began in an earlier chunk
        pos = 0
        while True:
            if self.full:
                return
            m = _NON_ASCII_RUN.search(data, pos)
            if m is None:
                return
            s, e = m.span()
            nl = data.count(b"\n", cursor, s)
            if nl:
                line += nl
                line_start = data.rfind(b"\n", cursor, s) + 1
            cursor = s
            try:
                data[s:e].decode("utf-8")
                bad: UnicodeDecodeError | None = None
            except UnicodeDecodeError as exc:
                bad = exc
            if self.non_ascii and (bad is None or bad.start > 0) and self.reported["non_ascii"] != line:
                self.reported["non_ascii"] = line  # valid characters before any bad byte
                self._add(self._finding(data, "non_ascii", line, line_start, s))
            if bad is not None and self.reported["invalid_utf8"] != line:
                self.reported["invalid_utf8"] = line
                self._add(self._finding(data, "invalid_utf8", line, line_start, s + bad.start))
            pos = e if bad is None else s + bad.end  # the rest of a bad run is searched again
            # One finding per kind and line: once the line's non-ASCII is reported, the rest of it
            # in this chunk needs a look only if it also holds invalid UTF-8 not yet reported.
            if self.reported["non_ascii"] == line or not self.non_ascii:
                nxt = data.find(b"\n", pos)
                nxt = len(data) if nxt < 0 else nxt
                if self.reported["invalid_utf8"] == line or _valid_utf8(data[pos:nxt]):
                    pos = nxt

    def _finding(self, data: bytes, kind: FindingKind, line: int, line_start: int, pos: int) -> Finding:
        seg_start = max(line_start, 0)
        prefix = data[seg_start:pos]
        col = len(prefix) - (len(prefix) - len(prefix.translate(None, _CONTINUATION))) + 1
        if line_start < 0:  # the line started in an earlier chunk
            col += (self.abs_pos - self.line_start) - self.cont_in_line
        lo = max(seg_start, pos - _EXCERPT_BYTES)
        while lo < pos and 0x80 <= data[lo] < 0xC0:
            lo += 1
        hi = data.find(b"\n", pos)
        hi = min(hi if hi >= 0 else len(data), pos + _EXCERPT_BYTES)
        if kind == "invalid_utf8":
            msg = f"invalid UTF-8 byte 0x{data[pos]:02x}"
        else:
            ch = data[pos:pos + 4].decode("utf-8", "ignore")[:1]
            msg = f"non-ASCII character U+{ord(ch):04X}" if ch else "non-ASCII byte"
        return Finding(self.path, line, col, kind, msg, _escape(data[lo:hi]))


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _scan_stream(fh: BinaryIO, scanner: _Scanner, first: bytes, chunk: int) -> int:
    """Feed the whole stream through `scanner` in `chunk`-sized reads; returns bytes read."""
    total = 0
    carry = b""
    data = first if first else fh.read(chunk)
    while True:
        if not data:
            if carry:
                scanner.feed(carry)  # a sequence cut off by EOF: reported as invalid UTF-8
            return total
        total += len(data)
        if carry:
            data = carry + data
        cut = _incomplete_tail(data)
        if cut == len(data):
            carry = b""
        else:
            carry = data[cut:]
            data = data[:cut]
        scanner.feed(data)
        data = fh.read(chunk)


def _lint_python(fh: BinaryIO, path: str, size: int, first: bytes, options: LintOptions,
                 report: LintReport) -> None:
    """Default mode for Python: structural checks on every line, non-ASCII only inside log/print calls."""
    data = first + fh.read(size + 1 - len(first))  # bounded by python_parse_cap_bytes
    structural = _Scanner(path, options, report, non_ascii=False)
    _scan_stream(io.BytesIO(data), structural, b"", options.effective_chunk)
    if data.isascii():
        return
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError):
        report.notes.append(LintNote(path, "not parseable as Python: every line checked"))
        del report.findings[len(report.findings) - structural.count:]
        _scan_stream(io.BytesIO(data), _Scanner(path, options, report, non_ascii=True), b"",
                     options.effective_chunk)
        return
    budget = options.max_findings_per_file - structural.count
    for line, col, char, start, stop in output_call_non_ascii(data, tree):
        if budget <= 0:
            if not structural.full:
                report.truncated.append(path)
            break
        budget -= 1
        report.findings.append(Finding(path, line, col, "non_ascii",
                                       f"non-ASCII character U+{ord(char):04X} in a log/print call",
                                       _escape(data[start:stop])))


def lint_file(path: str, options: LintOptions, report: LintReport, *, explicit: bool = False) -> None:
    """Lint one file into `report`; binary files are skipped, I/O errors recorded as errors."""
    shown = display_path(path)
    is_python = _matches(shown, options.python_globs)
    every_line = options.all_lines or _matches(shown, options.all_lines_globs) or (explicit and not is_python)
    if not (is_python or every_line) or os.path.splitext(path)[1].lower() in BINARY_SUFFIXES:
        report.files_skipped += 1
        return
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            first = fh.read(options.effective_chunk)
            if b"\0" in first[:8192]:
                report.files_skipped += 1
                return
            report.files_scanned += 1
            if is_python and not every_line:
                if size <= options.python_parse_cap_bytes:
                    _lint_python(fh, shown, size, first, options, report)
                    report.bytes_scanned += size
                    return
                report.notes.append(LintNote(
                    shown, f"over {options.python_parse_cap_bytes} bytes: every line checked, not only log calls"))
            scanner = _Scanner(shown, options, report, non_ascii=True)
            report.bytes_scanned += _scan_stream(fh, scanner, first, options.effective_chunk)
    except OSError as exc:
        report.errors.append(LintNote(shown, f"cannot read: {exc.strerror or exc}"))


def lint_paths(paths: Iterable[str], options: LintOptions) -> LintReport:
    """Lint files and directory trees; returns every finding, note and error."""
    report = LintReport()
    for path, explicit in iter_files(paths, options, report):
        lint_file(path, options, report, explicit=explicit)
    log.debug("ascii_lint_done files_scanned=%d findings=%d", report.files_scanned, len(report.findings))
    return report
