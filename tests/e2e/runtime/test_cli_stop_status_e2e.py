"""`mmctl status` / `mmctl stop`, the state-dir lock, and the second-SIGINT fast exit, as real processes."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from botproc import E2E_KEY, ROOT, BotProc, bot_env, start_bot, wait_for

from bot.common import json_io
from bot.sim import SimServer

FAST = ("rollout.enabled=false",)


async def _mmctl(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "mmctl", *args, cwd=ROOT, env=env or bot_env(),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_status_stop_and_the_lock_on_a_running_bot(ext_sim: SimServer, tmp_path: Path,
                                                         bots: list[BotProc]) -> None:
    state = tmp_path / "state"
    bot = await start_bot(ext_sim, state, sets=(*FAST, "monitoring.heap_trim_interval_s=0.2"))
    bots.append(bot)
    await bot.wait_ready()

    async def trimmed() -> bool:
        mem = (await bot.status())["memory"]
        return bool(mem["heap_trims"] >= 2 and mem["heap_trim_ms_last"] is not None and mem["rss_bytes"] > 0)

    await wait_for(trimmed, 10, "the heap trim task to run twice")  # the soak's RSS gate relies on it
    # A second bot on the same state dir is refused and leaves the first one alone.
    twin = await start_bot(ext_sim, state, sets=FAST)
    bots.append(twin)
    rc = await twin.wait_exit(30)
    assert rc != 0 and "another bot already runs" in twin.log()
    assert json_io.load_file(state / "run.json")["pid"] == bot.pid
    rc, out, _ = await _mmctl("--json", "status", "--state-dir", str(state))
    doc = json_io.loads(out)
    assert rc == 0 and doc["running"] and doc["status"]["state"] == "running" and doc["run"]["pid"] == bot.pid
    assert set(doc["status"]["symbols"]) == {"BTCUSDT", "ETHUSDT"}
    rc, out, err = await _mmctl("--json", "stop", "--state-dir", str(state), "--timeout", "30")
    doc = json_io.loads(out)
    assert rc == 0, err
    assert doc["stopped"] and doc["via"] == "admin" and doc["shutdown_ok"] and doc["shutdown_s"] < 5
    assert bot.proc.returncode == 0 or await bot.wait_exit(5) == 0
    assert ext_sim.open_orders(E2E_KEY) == []
    rc, out, _ = await _mmctl("--json", "status", "--state-dir", str(state))
    assert rc == 6 and not json_io.loads(out)["running"]


async def test_stop_without_token_uses_sigterm(ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    state = tmp_path / "state"
    bot = await start_bot(ext_sim, state, sets=FAST, admin_token=None)
    bots.append(bot)
    await bot.wait_ready()
    rc, out, err = await _mmctl("--json", "stop", "--state-dir", str(state), env=bot_env(admin_token=None))
    doc = json_io.loads(out)
    assert rc == 0, err
    assert doc["via"] == "sigterm" and doc["stopped"] and doc["report"]["reason"] == "SIGTERM"


async def test_second_sigint_takes_the_fast_exit(ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    bot = await start_bot(ext_sim, tmp_path / "state", sets=FAST)
    bots.append(bot)
    await bot.wait_ready()
    await wait_for(lambda: len(ext_sim.open_orders(E2E_KEY)) >= 2, 15, "quotes")
    ext_sim.faults.rest_delay(8.0, n=1)  # the graceful cancel-all hangs on a slow venue...
    bot.signal(signal.SIGINT)
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    bot.signal(signal.SIGINT)  # ...so the operator presses Ctrl-C again
    rc = await bot.wait_exit(15)
    fast_s = time.monotonic() - t0
    assert rc == 130, bot.log()[-2000:]
    assert fast_s < 4.0
    report = json_io.load_file(bot.state_dir / "last_shutdown.json")
    assert report["fast"] and any(s["name"] == "cancel_all_once" for s in report["steps"])
    await wait_for(lambda: ext_sim.open_orders(E2E_KEY) == [], 5, "the one cancel-all to land")


async def test_sigterm_while_the_venue_hangs_at_start_up_exits_promptly(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    ext_sim.faults.rest_delay(20.0, n=10)  # every start-up read hangs
    bot = await start_bot(ext_sim, tmp_path / "state", sets=FAST)
    bots.append(bot)
    await wait_for(lambda: (bot.state_dir / "run.json").exists(), 15, "the bot to begin starting")
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    bot.signal(signal.SIGTERM)
    assert await bot.wait_exit(15) == 0
    assert time.monotonic() - t0 < 4.0
    assert bot.events("startup_abandoned")
    ext_sim.faults.clear()
