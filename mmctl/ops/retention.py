"""Log retention (SOAK-002): validator step logs kept per step, log directories bounded, forced rotation."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.observability.logrotate import compress_file, prune_backups, rotated_backups, rotated_name, rotation_lock

__all__ = [
    "BudgetReport",
    "PruneReport",
    "RotateResult",
    "StepRun",
    "dir_size",
    "enforce_artifact_budget",
    "new_step_run",
    "parse_size",
    "prune_log_dir",
    "prune_step_logs",
    "rotate_file",
    "step_runs",
]

log = logging.getLogger(__name__)

# <step>.<timestamp>.out.log / .err.log; a step name has no dots, the timestamp sorts as text.
STEP_LOG_RE = re.compile(r"^(?P<step>[A-Za-z0-9_-]+)\.(?P<ts>\d{8}T\d{12}Z(?:-\d+)?)\.(?P<stream>out|err)\.log$")
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_ROTATED_RE = re.compile(r"^(?P<base>.+?)\.(?:\d{8}T\d{12}Z(?:-\d+)?|\d+)(?P<gz>\.gz)?$")
_DIGITS = re.compile(r"\d+")


def parse_size(text: str) -> int:
    """'500M', '1.5GiB', '4096' -> bytes (powers of 1024).

    Raises:
        ValueError: not a size.
    """
    m = _SIZE_RE.match(text)
    if m is None:
        raise ValueError(f"not a size: {text!r} (e.g. 500M, 2G, 4096)")
    number, unit = float(m.group(1)), m.group(2).lower()
    return int(number * 1024 ** " kmgt".index(unit or " "))


def dir_size(directory: Path) -> int:
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


# ---- validator step logs -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StepRun:
    step: str
    stamp: str
    out: Path
    err: Path


def _stamp(now_ns: int) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ns // 1_000_000_000)) + f"{(now_ns // 1000) % 1_000_000:06d}Z"


def new_step_run(directory: Path, step: str, *, now_ns: int | None = None) -> StepRun:
    """Fresh, non-colliding out/err log paths for one run of `step` (the pair shares its stem)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", step):
        raise ValueError(f"step name {step!r}: use letters, digits, '-' and '_' only")
    base = _stamp(time.time_ns() if now_ns is None else now_ns)
    stamp, n = base, 0
    while (directory / f"{step}.{stamp}.out.log").exists() or (directory / f"{step}.{stamp}.err.log").exists():
        n += 1
        stamp = f"{base}-{n}"
    # Built from the stem, not Path.with_suffix: with_suffix('.err.log') on x.out.log gives x.out.err.log.
    return StepRun(step, stamp, directory / f"{step}.{stamp}.out.log", directory / f"{step}.{stamp}.err.log")


def _stamp_key(stamp: str) -> tuple[str, int]:
    base, _, n = stamp.partition("-")
    return (base, int(n or 0))


def step_runs(directory: Path) -> dict[str, list[str]]:
    """Every step found on disk -> its run stamps, oldest first (from file names, not a fixed list)."""
    runs: dict[str, set[str]] = defaultdict(set)
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            m = STEP_LOG_RE.match(entry.name)
            if m:
                runs[m.group("step")].add(m.group("ts"))
    return {step: sorted(stamps, key=_stamp_key) for step, stamps in runs.items()}


def _remove_run(directory: Path, step: str, stamp: str) -> list[Path]:
    removed = []
    for stream in ("out", "err"):  # out and err go together
        p = directory / f"{step}.{stamp}.{stream}.log"
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def prune_step_logs(directory: Path, keep: int, *, steps: list[str] | None = None) -> list[Path]:
    """Keep the newest `keep` runs of each step (all steps on disk unless `steps` is given)."""
    removed: list[Path] = []
    for step, stamps in step_runs(directory).items():
        if steps is not None and step not in steps:
            continue
        for stamp in stamps[: max(0, len(stamps) - keep)]:
            removed.extend(_remove_run(directory, step, stamp))
    return removed


@dataclass
class BudgetReport:
    total_bytes_before: int
    total_bytes_after: int
    max_bytes: int
    over_budget: bool
    removed: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"total_bytes_before": self.total_bytes_before, "total_bytes_after": self.total_bytes_after,
                "max_bytes": self.max_bytes, "over_budget": self.over_budget,
                "removed": [str(p) for p in self.removed]}


def enforce_artifact_budget(directory: Path, *, max_bytes: int, aggressive_keep: int) -> BudgetReport:
    """Past `max_bytes`, warn and cut every step found on disk down to `aggressive_keep` runs."""
    before = dir_size(directory)
    if before <= max_bytes:
        return BudgetReport(before, before, max_bytes, False)
    log.warning("ci_artifacts_over_budget dir=%s total_bytes=%d max_bytes=%d keep_runs=%d",
                directory, before, max_bytes, aggressive_keep)
    removed = prune_step_logs(directory, aggressive_keep)
    after = dir_size(directory)
    if after > max_bytes:
        log.warning("ci_artifacts_still_over_budget dir=%s total_bytes=%d", directory, after)
    return BudgetReport(before, after, max_bytes, True, removed)


# ---- any log directory (`mmctl logs prune`) --------------------------------------------------

@dataclass
class PruneReport:
    directory: Path
    total_bytes_before: int
    total_bytes_after: int
    removed: list[Path] = field(default_factory=list)
    compressed: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"directory": str(self.directory), "total_bytes_before": self.total_bytes_before,
                "total_bytes_after": self.total_bytes_after, "removed": [str(p) for p in self.removed],
                "compressed": [str(p) for p in self.compressed], "warnings": self.warnings}


def _series(name: str) -> str:
    """Files of one log series share this key: the rotated suffix dropped, digit runs folded."""
    m = _ROTATED_RE.match(name)
    return _DIGITS.sub("#", m.group("base") + ".rotated" if m else name)


def prune_log_dir(directory: Path, *, keep: int, max_bytes: int | None, settle_s: float = 60.0,
                  active_s: float = 300.0, now: Callable[[], float] = time.time) -> PruneReport:
    """Bound a log directory: at most `keep` old files per series, then oldest first down to
    `max_bytes`. Safe while writers run: never touched are `*.log` files, the newest file of
    each series (a recorder's open file), anything modified in the last `active_s` seconds,
    and lock/temp files. Rotated files left uncompressed longer than `settle_s` are gzipped.
    """
    before = dir_size(directory)
    report = PruneReport(directory, before, before)
    series: dict[str, list[tuple[float, Path]]] = defaultdict(list)
    entries = sorted(os.scandir(directory), key=lambda e: e.name) if directory.is_dir() else []
    for entry in entries:
        if not entry.is_file(follow_symlinks=False) or entry.name.endswith((".tmp", ".lock", ".log")):
            continue
        path, mtime = Path(entry.path), entry.stat().st_mtime
        m = _ROTATED_RE.match(entry.name)
        if m and not m.group("gz") and now() - mtime > settle_s:
            with rotation_lock(directory / m.group("base")):
                if path.exists():
                    compress_file(path, f"{path}.gz")
                    report.compressed.append(path)
            path = Path(f"{path}.gz")
        series[_series(path.name)].append((mtime, path))
    candidates: list[tuple[float, Path]] = []
    for files in series.values():
        files.sort()
        newest = files[-1][1]
        old = [(t, f) for t, f in files if f != newest and now() - t > active_s]
        excess = max(0, len(files) - keep)
        for t, f in old:
            if excess > 0:
                _unlink(f, report)
                excess -= 1
            else:
                candidates.append((t, f))
    if max_bytes is not None:
        total = dir_size(directory)
        for _mtime, f in sorted(candidates):
            if total <= max_bytes:
                break
            size = f.stat().st_size
            _unlink(f, report)
            total -= size
        if total > max_bytes:
            report.warnings.append(f"{directory}: {total} bytes > {max_bytes} after pruning; what is left is "
                                   "active or recent: rotate it (mmctl logs rotate) or raise the budget")
    report.total_bytes_after = dir_size(directory)
    for w in report.warnings:
        log.warning("log_dir_over_budget detail=%s", w)
    return report


def _unlink(path: Path, report: PruneReport) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        report.removed.append(path)


# ---- forced rotation (`mmctl logs rotate`) ----------------------------------------------------

@dataclass(frozen=True, slots=True)
class RotateResult:
    path: Path
    rotated_to: Path | None
    reason: str
    removed: tuple[Path, ...] = ()


def rotate_file(path: Path, *, keep: int, copy_truncate: bool = False, settle_s: float = 1.0,
                min_bytes: int = 1, sleep: Callable[[float], None] = time.sleep) -> RotateResult:
    """Rotate one log file now, safely while a writer appends to it.

    Default (rename): the file is renamed under the shared rotation lock; a writer using
    CompressingRotatingFileHandler notices the new inode on its next record and reopens the
    path. We wait up to `settle_s` for that before compressing. `copy_truncate` is for writers
    that never reopen (they must append with O_APPEND): lines written between the copy and the
    truncate are lost, so prefer rename.
    """
    if not path.is_file():
        return RotateResult(path, None, "missing")
    if path.stat().st_size < min_bytes:
        return RotateResult(path, None, "empty")
    with rotation_lock(path):
        if not path.is_file():  # the writer rotated it itself between the check above and the lock
            return RotateResult(path, None, "missing")
        pending = rotated_name(path)
        if copy_truncate:
            import gzip
            import shutil

            with open(path, "rb") as src, gzip.open(pending + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            os.truncate(path, 0)
        else:
            os.rename(path, pending)
    if not copy_truncate:
        waited = 0.0
        last_size = -1
        while waited < settle_s:
            size = os.stat(pending).st_size
            if path.exists() and size == last_size:
                break  # the writer reopened the path and stopped growing the old file
            last_size = size
            sleep(0.05)
            waited += 0.05
        with rotation_lock(path):
            compress_file(pending, pending + ".gz")
    with rotation_lock(path):
        removed = prune_backups(path, keep)
    log.info("log_rotated path=%s rotated_to=%s.gz", path, pending)
    return RotateResult(path, Path(pending + ".gz"), "rotated", tuple(removed))


def backups_of(path: Path) -> list[Path]:
    return rotated_backups(path)
