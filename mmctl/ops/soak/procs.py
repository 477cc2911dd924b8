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

# `python -m bot.sim` / `mmctl sim` banner: "REST <url>", "WS <url>", "KEY <key>", "SECRET <secret>"
# (a colon or equals sign after the name is accepted too).
_BANNER_RE = re.compile(
    r"^\s*(REST|WS|WS_PUBLIC|WS_PRIVATE|WS_TRADE|KEY|API_KEY|SECRET|API_SECRET)\b\s*[:=]?\s*(\S+)\s*$",
    re.IGNORECASE)


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
        try:
            for line in stream:
                line = line.rstrip("\n")
                with self._lock:
                    if len(self.lines) < 200:
                        self.lines.append(line)
                self.handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))
        finally:
            stream.close()
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
        graceful = True
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("soak_child_kill", child=self.name, after_s=timeout_s)
                graceful = False
                self.proc.kill()
                self.proc.wait(timeout=10)
        for t in self.threads:
            t.join(timeout=5)  # the pump closes the pipe when the child's output ends
        return self.proc.returncode, time.monotonic() - t0, graceful


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
    """URLs and the throwaway key pair from the emulator's start-up banner; None until complete."""
    for line in lines:
        st = line.strip()
        if st.startswith("{"):
            with contextlib.suppress(json_io.JSONDecodeError):
                doc = json_io.loads(st)
                if isinstance(doc, dict) and "rest_url" in doc:
                    return {k: str(v) for k, v in doc.items() if isinstance(v, (str, int))}
    raw: dict[str, str] = {}
    for line in lines:
        m = _BANNER_RE.match(line)
        if m is not None:
            raw.setdefault(m.group(1).upper().removeprefix("API_"), m.group(2))
    if not all(k in raw for k in ("REST", "KEY", "SECRET")) or not ("WS" in raw or "WS_PUBLIC" in raw):
        return None
    ws = raw.get("WS", "").rstrip("/")
    return {
        "rest_url": raw["REST"].rstrip("/"),
        "ws_public_url": raw.get("WS_PUBLIC", f"{ws}/v5/public"),  # the bot appends /<category>
        "ws_private_url": raw.get("WS_PRIVATE", f"{ws}/v5/private"),
        "ws_trade_url": raw.get("WS_TRADE", f"{ws}/v5/trade"),
        "api_key": raw["KEY"],
        "api_secret": raw["SECRET"],
    }


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
