"""One bot per state dir and per account: fcntl locks, and run.json telling mmctl where the bot is."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bot.common import json_io
from bot.errors import MMError

__all__ = ["AlreadyRunning", "RunInfo", "RunLock", "pid_alive", "read_run_info"]

RUN_FILE = "run.json"
LOCK_FILE = "bot.lock"


class AlreadyRunning(MMError):
    """Another bot holds the state dir or the account."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    pid: int
    web_url: str
    started_at: float
    config_hash: str
    venue: str
    state_dir: str = ""

    @property
    def alive(self) -> bool:
        return pid_alive(self.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_run_info(state_dir: str | Path) -> RunInfo | None:
    """The running bot's run.json, or None when absent or unreadable."""
    try:
        doc: dict[str, Any] = json_io.load_file(Path(state_dir) / RUN_FILE)
        return RunInfo(pid=int(doc["pid"]), web_url=str(doc.get("web_url", "")),
                       started_at=float(doc.get("started_at", 0)), config_hash=str(doc.get("config_hash", "")),
                       venue=str(doc.get("venue", "")), state_dir=str(doc.get("state_dir", state_dir)))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _account_lock_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / "mmctl-locks"


class RunLock:
    """Exclusive non-blocking flock on `state_dir/bot.lock` and on a per-account lock file.

    The kernel drops flocks when the process dies (even on kill -9), so a crashed bot never
    leaves a stale lock; run.json may be stale then, and `pid_alive` tells.
    """

    def __init__(self, state_dir: str | Path, *, account_key: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.account_key = account_key
        self._handles: list[IO[str]] = []
        self.run_info: RunInfo | None = None

    def _take(self, path: Path, what: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise AlreadyRunning(f"another bot already runs on this {what} (pid {holder})", lock=str(path)) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._handles.append(fh)

    def acquire(self) -> None:
        """Raises:
            AlreadyRunning: the state dir or the account is locked by a live process.
        """
        self._take(self.state_dir / LOCK_FILE, f"state dir {self.state_dir}")
        if self.account_key:
            digest = hashlib.sha256(self.account_key.encode()).hexdigest()[:24]
            try:
                self._take(_account_lock_dir() / f"account-{digest}.lock", "account")
            except BaseException:
                self.release()
                raise

    def write_run_info(self, *, web_url: str, config_hash: str, venue: str) -> RunInfo:
        info = RunInfo(pid=os.getpid(), web_url=web_url, started_at=time.time(), config_hash=config_hash,
                       venue=venue, state_dir=str(self.state_dir))
        json_io.save_file(self.state_dir / RUN_FILE, {
            "pid": info.pid, "web_url": info.web_url, "started_at": info.started_at,
            "config_hash": info.config_hash, "venue": info.venue, "state_dir": info.state_dir}, mode=0o600)
        self.run_info = info
        return info

    def update_config_hash(self, config_hash: str) -> None:
        if self.run_info is not None:
            self.run_info = RunInfo(self.run_info.pid, self.run_info.web_url, self.run_info.started_at,
                                    config_hash, self.run_info.venue, self.run_info.state_dir)
            json_io.save_file(self.state_dir / RUN_FILE, {
                "pid": self.run_info.pid, "web_url": self.run_info.web_url,
                "started_at": self.run_info.started_at, "config_hash": config_hash,
                "venue": self.run_info.venue, "state_dir": self.run_info.state_dir}, mode=0o600)

    def release(self, *, remove_run_info: bool = True) -> None:
        """Remove run.json (ours only) and drop the locks; idempotent."""
        if remove_run_info and self.run_info is not None:
            current = read_run_info(self.state_dir)
            if current is not None and current.pid == os.getpid():
                (self.state_dir / RUN_FILE).unlink(missing_ok=True)
            self.run_info = None
        while self._handles:
            fh = self._handles.pop()
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            finally:
                fh.close()
