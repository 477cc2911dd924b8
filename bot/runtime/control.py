"""The operator's side of a running bot (used by `mmctl stop/status`): run.json, admin API, signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from bot.common import json_io
from bot.runtime.lock import RunInfo, pid_alive, read_run_info

__all__ = ["read_status", "request_stop", "wait_stopped"]


def _get(url: str, timeout_s: float = 3.0) -> dict[str, Any] | None:
    import httpx

    try:
        r = httpx.get(url, timeout=timeout_s)
        r.raise_for_status()
        doc: dict[str, Any] = json_io.loads(r.content)
    except (httpx.HTTPError, ValueError):
        return None
    return doc


def read_status(state_dir: Path) -> dict[str, Any]:
    """{"running": bool, "run": run.json, "status": /status or None, "message"}."""
    info = read_run_info(state_dir)
    if info is None:
        return {"running": False, "message": f"no bot running on {state_dir} (no run.json)"}
    run = {"pid": info.pid, "web_url": info.web_url, "started_at": info.started_at,
           "config_hash": info.config_hash, "venue": info.venue}
    if not info.alive:
        return {"running": False, "run": run,
                "message": f"stale run.json: pid {info.pid} is gone (crashed or killed?)"}
    status = _get(f"{info.web_url}/status") if info.web_url else None
    return {"running": True, "run": run, "status": status,
            "message": "" if status else "bot process alive but /status did not answer"}


def request_stop(state_dir: Path, admin_token: str | None) -> tuple[RunInfo, str] | None:
    """Ask the bot to stop: POST /admin/shutdown with the token, else SIGTERM. None when not running."""
    info = read_run_info(state_dir)
    if info is None or not info.alive:
        return None
    if admin_token and info.web_url:
        import httpx

        try:
            r = httpx.post(f"{info.web_url}/admin/shutdown?reason=mmctl-stop",
                           headers={"Authorization": f"Bearer {admin_token}"}, timeout=3.0)
            if r.status_code == 202:
                return info, "admin"
        except httpx.HTTPError:
            pass
    os.kill(info.pid, signal.SIGTERM)
    return info, "sigterm"


def wait_stopped(state_dir: Path, how: tuple[RunInfo, str], timeout_s: float) -> dict[str, Any]:
    """Wait for the pid to exit; report with the bot's own shutdown report (last_shutdown.json)."""
    info, via = how
    t0 = time.monotonic()
    while pid_alive(info.pid) and time.monotonic() - t0 < timeout_s:
        time.sleep(0.05)
    waited = round(time.monotonic() - t0, 2)
    if pid_alive(info.pid):
        return {"stopped": False, "pid": info.pid, "via": via, "waited_s": waited,
                "message": f"pid {info.pid} still running after {timeout_s}s"}
    report: dict[str, Any] | None = None
    try:
        doc = json_io.load_file(Path(state_dir) / "last_shutdown.json")
        if isinstance(doc, dict) and doc.get("pid") == info.pid:
            report = doc
    except (OSError, ValueError):
        pass
    return {"stopped": True, "pid": info.pid, "via": via, "waited_s": waited,
            "shutdown_ok": bool(report and report.get("ok")),
            "shutdown_s": report.get("duration_s") if report else None, "report": report}
