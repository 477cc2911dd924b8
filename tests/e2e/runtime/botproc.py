"""E2E helpers: `mmctl run` as a real subprocess against an emulator running in the test process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bot.common import json_io
from bot.sim import SimServer

E2E_KEY = "e2e-bot-key"
E2E_SECRET = "e2e-bot-secret"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
ROOT = Path(__file__).resolve().parents[3]
TIMEOUT_FACTOR = float(os.environ.get("TIMEOUT_FACTOR", "1"))


class BotProc:
    """One `mmctl run` subprocess with its state dir, stderr log and web URL."""

    def __init__(self, proc: asyncio.subprocess.Process, state_dir: Path, log_path: Path) -> None:
        self.proc = proc
        self.state_dir = state_dir
        self.log_path = log_path
        self.url = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        out = []
        for line in self.log().splitlines():
            if f'"{name}"' in line:
                try:
                    doc = json_io.loads(line)
                except ValueError:
                    continue
                if doc.get("event") == name:
                    out.append(doc)
        return out

    async def wait_ready(self, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s * TIMEOUT_FACTOR
        last = ""
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise AssertionError(f"bot exited early ({self.proc.returncode}):\n{self.log()[-4000:]}")
                run = self.state_dir / "run.json"
                if run.exists() and not self.url:
                    doc = json_io.load_file(run)
                    if doc["pid"] == self.pid:  # a killed predecessor leaves a stale run.json
                        self.url = doc["web_url"]
                if self.url:
                    try:
                        r = await client.get(self.url + "/readyz")
                        if r.status_code == 200:
                            return self.url
                        last = r.text
                    except httpx.HTTPError:
                        pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"bot not ready in {timeout_s}s: {last}\n{self.log()[-3000:]}")

    async def status(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=3.0) as client:
            r = await client.get(self.url + "/status")
            r.raise_for_status()
            doc: dict[str, Any] = r.json()
            return doc

    async def admin(self, action: str, token: str | None = ADMIN_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=15.0) as client:
            return await client.post(f"{self.url}/admin/{action}", headers=headers)

    async def wait_exit(self, timeout_s: float = 30.0) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout_s * TIMEOUT_FACTOR)

    def signal(self, sig: int) -> None:
        os.kill(self.proc.pid, sig)


def bot_env(*, admin_token: str | None = ADMIN_TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    env.update({"BYBIT_API_KEY": E2E_KEY, "BYBIT_API_SECRET": E2E_SECRET, "PYTHONUNBUFFERED": "1"})
    if admin_token:
        env["MM_ADMIN_TOKEN"] = admin_token
    return env


def _log_file(state_dir: Path) -> tuple[Path, Any]:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir.parent / f"{state_dir.name}-stderr-{time.monotonic_ns()}.log"  # one per run
    return log_path, open(log_path, "ab")


async def start_bot(sim: SimServer, state_dir: Path, *args: str, config: Path | None = None,
                    sets: tuple[str, ...] = (), admin_token: str | None = ADMIN_TOKEN) -> BotProc:
    public_base = sim.ws_public_url("linear").rsplit("/", 1)[0]
    cmd = [sys.executable, "-m", "mmctl", "--log-format", "json"]
    if config is not None:
        cmd += ["--config", str(config)]
    for s in (f"exchange.rest_url={sim.rest_url}", f"exchange.ws_public_url={public_base}",
              f"exchange.ws_private_url={sim.ws_private_url}", f"exchange.ws_trade_url={sim.ws_trade_url}",
              f"monitoring.recorder_dir={state_dir / 'rec'}", *sets):
        cmd += ["--set", s]
    cmd += ["run", "--state-dir", str(state_dir), "--web-port", "0", "--view", "logs", *args]
    log_path, fh = _log_file(state_dir)
    proc = await asyncio.create_subprocess_exec(*cmd, cwd=ROOT, env=bot_env(admin_token=admin_token),
                                                stdout=fh, stderr=fh, start_new_session=True)
    fh.close()
    return BotProc(proc, state_dir, log_path)


async def wait_for(pred: Any, timeout_s: float, what: str, period_s: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s * TIMEOUT_FACTOR
    while time.monotonic() < deadline:
        if await pred() if asyncio.iscoroutinefunction(pred) else pred():
            return
        await asyncio.sleep(period_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
