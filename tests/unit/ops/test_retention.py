"""Step-log retention, the artifacts size alarm, log directory pruning and forced rotation."""

from __future__ import annotations

import gzip
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from bot.observability.logrotate import CompressingRotatingFileHandler, rotated_backups
from mmctl.ops.retention import (
    enforce_artifact_budget,
    new_step_run,
    parse_size,
    prune_log_dir,
    prune_step_logs,
    rotate_file,
    step_runs,
)


def _run(directory: Path, step: str, *, size: int = 10, err: bool = True) -> None:
    run = new_step_run(directory, step)
    run.out.write_bytes(b"o" * size)
    if err:
        run.err.write_bytes(b"e" * size)


def test_out_and_err_logs_share_a_stem_not_with_suffix(tmp_path: Path) -> None:
    run = new_step_run(tmp_path, "ascii-lint", now_ns=1_790_000_000_123_456_789)
    assert run.out.name == "ascii-lint.20260921T141320123456Z.out.log"
    assert run.err.name == "ascii-lint.20260921T141320123456Z.err.log"
    assert ".out.err" not in run.err.name


def test_same_instant_runs_do_not_collide(tmp_path: Path) -> None:
    a = new_step_run(tmp_path, "s", now_ns=10**18)
    a.out.touch()
    b = new_step_run(tmp_path, "s", now_ns=10**18)
    assert b.out != a.out and b.stamp.endswith("-1")


def test_500_consecutive_runs_keep_at_most_5_per_step_with_paired_err_logs(tmp_path: Path) -> None:
    for i in range(500):
        for step in ("lint", "tests", "json-writers"):
            _run(tmp_path, step, err=(i % 7 != 0))
        prune_step_logs(tmp_path, 5)
    runs = step_runs(tmp_path)
    assert set(runs) == {"lint", "tests", "json-writers"}
    for step, stamps in runs.items():
        assert len(stamps) == 5, step
        for stamp in stamps:
            assert (tmp_path / f"{step}.{stamp}.out.log").exists()
    names = os.listdir(tmp_path)
    assert len(names) <= 3 * 5 * 2
    # every err log left belongs to a kept run: none orphaned
    outs = {n.removesuffix(".out.log") for n in names if n.endswith(".out.log")}
    assert all(n.removesuffix(".err.log") in outs for n in names if n.endswith(".err.log"))
    assert not any(".out.err" in n for n in names)


def test_prune_keeps_newest_runs(tmp_path: Path) -> None:
    stamps = []
    for i in range(8):
        run = new_step_run(tmp_path, "x", now_ns=(1_700_000_000 + i) * 10**9)
        run.out.touch()
        run.err.touch()
        stamps.append(run.stamp)
    prune_step_logs(tmp_path, 5)
    assert step_runs(tmp_path)["x"] == stamps[-5:]


def test_size_alarm_cuts_every_step_on_disk_to_two_runs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # step names the code has never heard of: the cleanup discovers them from the file names
    for step in ("alpha", "beta-2", "gamma_x"):
        for _ in range(5):
            _run(tmp_path, step, size=1000)
    (tmp_path / "summary.json").write_text("{}")
    with caplog.at_level(logging.WARNING):
        budget = enforce_artifact_budget(tmp_path, max_bytes=20_000, aggressive_keep=2)
    assert budget.over_budget and budget.total_bytes_before > 20_000
    assert budget.total_bytes_after <= 3 * 2 * 2000 + 2
    assert {s: len(v) for s, v in step_runs(tmp_path).items()} == {"alpha": 2, "beta-2": 2, "gamma_x": 2}
    assert any("ci_artifacts_over_budget" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "summary.json").exists()


def test_under_budget_nothing_removed(tmp_path: Path) -> None:
    for _ in range(4):
        _run(tmp_path, "s", size=10)
    budget = enforce_artifact_budget(tmp_path, max_bytes=10_000, aggressive_keep=2)
    assert not budget.over_budget and not budget.removed


@pytest.mark.parametrize(("text", "expected"), [("500M", 500 * 2**20), ("2G", 2 * 2**30), ("4096", 4096),
                                                ("1.5KiB", 1536), ("10kb", 10240)])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


def _handler(path: Path, *, max_bytes: int = 2000,
             backups: int = 3) -> tuple[logging.Logger, CompressingRotatingFileHandler]:
    logger = logging.getLogger(f"test_rotate.{path}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = CompressingRotatingFileHandler(path, max_bytes=max_bytes, backup_count=backups)
    logger.addHandler(handler)
    return logger, handler


def _all_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    for b in rotated_backups(path):
        data = gzip.decompress(b.read_bytes()) if b.name.endswith(".gz") else b.read_bytes()
        lines += data.decode().splitlines()
    return lines


def test_handler_rotates_by_size_compresses_and_keeps_count(tmp_path: Path) -> None:
    path = tmp_path / "bot.log"
    logger, handler = _handler(path, max_bytes=500, backups=3)
    try:
        for i in range(400):
            logger.info("line %05d", i)
    finally:
        handler.close()
    backups = rotated_backups(path)
    assert len(backups) == 3 and all(b.name.endswith(".gz") for b in backups)
    assert path.stat().st_size <= 500


def test_forced_rotation_while_writer_appends_loses_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "bot.log"
    logger, handler = _handler(path, max_bytes=10**9, backups=50)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            logger.info("n=%d", i)
            written.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        results = []
        for _ in range(5):
            time.sleep(0.02)
            results.append(rotate_file(path, keep=50, settle_s=0.2))
    finally:
        stop.set()
        t.join()
        handler.close()
    assert all(r.reason == "rotated" for r in results)
    got = sorted(int(line.split("=")[1]) for line in _all_lines(path))
    assert got == list(range(len(written)))
    assert len(rotated_backups(path)) == 5


def test_copy_truncate_rotation(tmp_path: Path) -> None:
    path = tmp_path / "rec.log"
    path.write_text("a\nb\n")
    r = rotate_file(path, keep=2, copy_truncate=True)
    assert r.rotated_to is not None and gzip.decompress(r.rotated_to.read_bytes()) == b"a\nb\n"
    assert path.read_bytes() == b""
    assert rotate_file(path, keep=2).reason == "empty"


def test_prune_log_dir_keeps_n_per_log_then_enforces_size_active_untouched(tmp_path: Path) -> None:
    now = time.time()
    (tmp_path / "bot.log").write_bytes(b"x" * 100)
    (tmp_path / "recorder.log").write_bytes(b"y" * 100)
    for i in range(6):
        for base in ("bot.log", "recorder.log"):
            p = tmp_path / f"{base}.2026010{i}T000000000000Z.gz"
            p.write_bytes(b"z" * 1000)
            os.utime(p, (now - 1000 + i, now - 1000 + i))
    legacy = tmp_path / "bot.log.1"  # uncompressed numbered backup from a stdlib handler
    legacy.write_bytes(b"w" * 1000)
    os.utime(legacy, (now - 5000, now - 5000))
    rep = prune_log_dir(tmp_path, keep=3, max_bytes=4500)
    assert (tmp_path / "bot.log").exists() and (tmp_path / "recorder.log").exists()
    assert legacy in rep.compressed
    remaining = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".gz"))
    assert rep.total_bytes_after <= 4500
    assert len(remaining) <= 4
    assert "bot.log.20260105T000000000000Z.gz" in remaining  # newest survive


def test_prune_warns_when_active_logs_alone_exceed_budget(tmp_path: Path) -> None:
    (tmp_path / "bot.log").write_bytes(b"x" * 5000)
    rep = prune_log_dir(tmp_path, keep=1, max_bytes=1000)
    assert rep.warnings and (tmp_path / "bot.log").exists()


def test_prune_recorder_style_series_never_deletes_newest_or_recent(tmp_path: Path) -> None:
    now = time.time()
    names = [f"rec-20261120T00000{i}-4242-000{i}.jsonl.gz" for i in range(6)]
    for i, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"r" * 1000)
        age = 10 if i >= 4 else 10_000 - i  # the last two are being written / just closed
        os.utime(p, (now - age, now - age))
    rep = prune_log_dir(tmp_path, keep=1, max_bytes=0)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == names[4:]  # recent files survive even a zero budget
    assert rep.warnings  # and the budget miss is reported, not hidden


_WRITER = """
import logging, sys, time
from bot.observability.logrotate import CompressingRotatingFileHandler
h = CompressingRotatingFileHandler(sys.argv[1], max_bytes=4000, backup_count=1000)
log = logging.getLogger("w")
log.addHandler(h)
log.setLevel(logging.INFO)
for i in range(int(sys.argv[2])):
    log.info("n=%d", i)
    if i % 50 == 0:
        time.sleep(0.001)
h.close()
"""


def test_writer_process_self_rotating_while_mmctl_rotates_loses_no_lines(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "bot.log"
    total = 20_000
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(total)])
    forced = 0
    while proc.poll() is None:
        if path.exists() and rotate_file(path, keep=1000, settle_s=0.1).reason == "rotated":
            forced += 1
        time.sleep(0.01)
    assert proc.returncode == 0
    numbers = sorted(int(line.split("=")[1]) for line in _all_lines(path))
    assert numbers == list(range(total))  # nothing lost, nothing twice
    assert forced >= 1 and len(rotated_backups(path)) > forced  # both rotators took turns
