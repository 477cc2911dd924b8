"""Child processes of a managed soak: the emulator and the bot, with bounded captured output."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess  # nosec B404: fixed argv lists, no shell
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bot.common import json_io
from bot.observability.logging import get_logger

__all__ = ["BotProcess", "ChildProcess", "SimProcess", "parse_sim_banner", "spawn", "wait_run_json"]

log = get_logger(__name__)

_URL_RE = re.compile(r"\b(rest|http|ws_public|public|ws_private|private|ws_trade|trade|control)\w*\s*[:=]\s*"
                     r"((?:https?|wss?)://\S+)", re.IGNORECASE)
_KEY_RE = re.compile(r"\b(?:api[_ ]?key|BYBIT_API_KEY)\s*[:=]\s*(\S+)", re.IGNORECASE)
_SECRET_RE = re.compile(r"\b(?:api[_ ]?secret|BYBIT_API_SECRET)\s*[:=]\s*(\S+)", re.IGNORECASE)


class _BoundedLog:
    """Copies a child's output lines into a size-capped, rotated file (CompressingRotatingFileHandler)."""

    def __init__(self, path: Path, *, max_bytes: int, backups: int) -> None:
        from bot.observability.logrotate import CompressingRotatingFileHandler

        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = CompressingRotatingFileHandler(path, max_bytes=max_bytes, backup_count=backups)
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        self.lines: list[str] = []  # the first lines, for banners and start-up errors
        self._lock = threading.Lock()

    def pump(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.rstrip("\n")
            with self._lock:
                if len(self.lines) < 200:
                    self.lines.append(line)
            self.handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        self.handler.close()

    def head(self) -> list[str]:
        with self._lock:
            return list(self.lines)


@dataclass
class ChildProcess:
    name: str
    proc: subprocess.Popen[str]
    log: _BoundedLog
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, *, timeout_s: float, sig: int = signal.SIGTERM) -> tuple[int | None, float, bool]:
        """Signal, wait up to timeout_s, then SIGKILL; returns (exit code, seconds taken, graceful)."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("soak_child_kill", child=self.name, after_s=timeout_s)
                self.proc.kill()
                self.proc.wait(timeout=10)
                return self.proc.returncode, time.monotonic() - t0, False
        for t in self.threads:
            t.join(timeout=5)
        return self.proc.returncode, time.monotonic() - t0, True


def spawn(name: str, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log_path: Path,
          max_log_bytes: int = 20 * 2**20, log_backups: int = 3) -> ChildProcess:
    """Start argv with stdout+stderr merged into a bounded log file."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(  # nosec B603: argv list built by us
        list(argv), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        bufsize=1, start_new_session=True)
    sink = _BoundedLog(log_path, max_bytes=max_log_bytes, backups=log_backups)
    assert proc.stdout is not None
    t = threading.Thread(target=sink.pump, args=(proc.stdout,), name=f"soak-{name}-log", daemon=True)
    t.start()
    log.info("soak_child_started", child=name, pid=proc.pid)
    return ChildProcess(name, proc, sink, [t])


@dataclass(frozen=True, slots=True)
class SimProcess:
    child: ChildProcess
    rest_url: str
    ws_public_url: str
    ws_private_url: str
    ws_trade_url: str
    api_key: str
    api_secret: str


def parse_sim_banner(lines: Sequence[str]) -> dict[str, str] | None:
    """URLs and the throwaway key pair from `mmctl sim` output (JSON line or `name: value` lines)."""
    for line in lines:
        s = line.strip()
        if s.startswith("{"):
            with contextlib.suppress(json_io.JSONDecodeError):
                doc = json_io.loads(s)
                if isinstance(doc, dict) and "rest_url" in doc:
                    return {k: str(v) for k, v in doc.items() if isinstance(v, (str, int))}
    found: dict[str, str] = {}
    for line in lines:
        for m in _URL_RE.finditer(line):
            kind, url = m.group(1).lower(), m.group(2).rstrip(",;")
            key = {"http": "rest_url", "rest": "rest_url", "public": "ws_public_url", "ws_public": "ws_public_url",
                   "private": "ws_private_url", "ws_private": "ws_private_url", "trade": "ws_trade_url",
                   "ws_trade": "ws_trade_url", "control": "control_url"}[kind]
            found.setdefault(key, url)
        if (m2 := _KEY_RE.search(line)) is not None:
            found.setdefault("api_key", m2.group(1))
        if (m3 := _SECRET_RE.search(line)) is not None:
            found.setdefault("api_secret", m3.group(1))
    need = ("rest_url", "ws_public_url", "ws_private_url", "api_key", "api_secret")
    return found if all(k in found for k in need) else None


def wait_for(predicate: object, *, timeout_s: float, what: str, child: ChildProcess) -> object:
    """Poll `predicate()` until it returns something truthy; fail early if the child exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()  # type: ignore[operator]  # a zero-arg callable
        if value:
            return value
        if not child.alive():
            tail = "\n".join(child.log.head()[-20:])
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode} before {what}:\n{tail}")
        time.sleep(0.1)
    raise TimeoutError(f"{child.name}: no {what} within {timeout_s:.0f}s")


def wait_run_json(state_dir: Path, child: ChildProcess, *, timeout_s: float) -> dict[str, object]:
    """The bot's state_dir/run.json once it names our child's pid and a web_url."""
    path = state_dir / "run.json"

    def ready() -> dict[str, object] | None:
        try:
            doc = json_io.load_file(path)
        except (FileNotFoundError, json_io.JSONDecodeError):
            return None
        if isinstance(doc, dict) and doc.get("web_url") and doc.get("pid") == child.pid:
            return doc
        return None

    result = wait_for(ready, timeout_s=timeout_s, what="run.json", child=child)
    assert isinstance(result, dict)
    return result


@dataclass(frozen=True, slots=True)
class BotProcess:
    child: ChildProcess
    web_url: str
    run_info: Mapping[str, object]


_VENUE_KEYS = frozenset({"BYBIT_API_KEY", "BYBIT_API_KEY_FILE", "BYBIT_API_SECRET", "BYBIT_API_SECRET_FILE",
                         "MM_CONFIG"})


def bot_env(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """The bot's environment: ours (MM_* config layers included, so the soaked config is the operator's)
    without venue keys and MM_CONFIG, which the soak passes explicitly."""
    env = {k: v for k, v in base.items() if k not in _VENUE_KEYS}
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def terminate_group(child: ChildProcess) -> None:
    """Last resort on the way out: SIGKILL the child's process group (it runs in its own session)."""
    if child.alive():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
