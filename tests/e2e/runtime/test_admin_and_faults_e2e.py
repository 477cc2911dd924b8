"""Admin API (token, pause/resume, reload) and forced WS disconnects, on a real `mmctl run` process."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
from botproc import E2E_KEY, BotProc, start_bot, wait_for

from bot.sim import SimServer

FAST = ("rollout.enabled=false",)


def _open(sim: SimServer) -> int:
    return len(sim.open_orders(E2E_KEY))


async def _unmet(bot: BotProc, reason: str) -> bool:
    async with httpx.AsyncClient(timeout=5) as c:
        text = (await c.get(bot.url + "/metrics")).text
    return any(line.startswith("mm_quote_unmet_seconds_total{") and f'reason="{reason}"' in line
               and float(line.rsplit(" ", 1)[1]) > 0 for line in text.splitlines())


async def test_admin_api_needs_the_token_pauses_resumes_and_reloads(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    cfg = tmp_path / "bot.toml"
    cfg.write_text("[strategy]\nlevels = 2\n")
    bot = await start_bot(ext_sim, tmp_path / "state", config=cfg, sets=FAST)
    bots.append(bot)
    await bot.wait_ready()
    await wait_for(lambda: _open(ext_sim) >= 4, 15, "quotes")
    # 401 without or with a wrong token; nothing changes.
    assert (await bot.admin("pause", token=None)).status_code == 401
    wrong = await bot.admin("pause", token="not-the-token")
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await bot.status())["state"] == "running"
    # pause: quoting stops and every order is cancelled at the venue.
    r = await bot.admin("pause")
    assert r.status_code == 200 and r.json()["open_orders"] == 0
    assert _open(ext_sim) == 0
    assert (await bot.status())["state"] == "paused"
    t_paused = time.monotonic()
    while time.monotonic() - t_paused < 1.0:  # stays flat while paused
        assert _open(ext_sim) == 0
        await bot.status()
    # the lost uptime is put down to the pause
    async def paused_seconds_counted() -> bool:
        return await _unmet(bot, "paused")

    await wait_for(paused_seconds_counted, 5, "paused seconds in mm_quote_unmet_seconds_total", period_s=0.2)
    # resume: quotes come back.
    assert (await bot.admin("resume")).status_code == 200
    await wait_for(lambda: _open(ext_sim) >= 2, 10, "quotes after resume")
    # reload, safe field: applied and visible in /status.
    before = await bot.status()
    cfg.write_text("[strategy]\nlevels = 1\n")
    r = await bot.admin("reload")
    assert r.status_code == 200, r.text
    assert r.json()["applied"] == ["strategy.levels"]
    after = await bot.status()
    assert after["params"]["levels"] == 1 and after["config_hash"] != before["config_hash"]
    await wait_for(lambda: _open(ext_sim) <= 2, 10, "one level per side after the reload")
    # reload, unsafe field: refused by name, the running config is unchanged.
    cfg.write_text('symbols = ["BTCUSDT"]\n[strategy]\nlevels = 1\n')
    r = await bot.admin("reload")
    assert r.status_code == 409 and r.json()["refused"] == ["symbols"] and "symbols" in r.json()["message"]
    st = await bot.status()
    assert set(st["symbols"]) == {"BTCUSDT", "ETHUSDT"} and st["config_hash"] == after["config_hash"]
    # SIGHUP reloads through the same path.
    cfg.write_text("[strategy]\nlevels = 2\n")
    bot.signal(signal.SIGHUP)
    await wait_for(lambda: bool(bot.events("reload_done")), 5, "SIGHUP reload")
    assert (await bot.status())["params"]["levels"] == 2
    # shutdown through the admin API.
    r = await bot.admin("shutdown")
    assert r.status_code == 202
    assert await bot.wait_exit(30) == 0
    assert _open(ext_sim) == 0


async def test_admin_api_is_disabled_without_a_token(ext_sim: SimServer, tmp_path: Path,
                                                     bots: list[BotProc]) -> None:
    bot = await start_bot(ext_sim, tmp_path / "state", sets=FAST, admin_token=None)
    bots.append(bot)
    await bot.wait_ready()
    async with httpx.AsyncClient(timeout=5) as c:
        r = await c.post(bot.url + "/admin/pause", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 503 and "no admin token" in r.json()["error"]
        # the latency histogram has a series once the first order went out (after the vol warm-up)
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            metrics = await c.get(bot.url + "/metrics")
            assert metrics.status_code == 200
            if b"mm_tick_to_order_seconds_bucket" in metrics.content:
                break
            assert asyncio.get_running_loop().time() < deadline, "no tick-to-order sample within 20 s"
            await asyncio.sleep(0.2)
        page = await c.get(bot.url + "/status?format=html")
        assert page.status_code == 200 and "BTCUSDT" in page.text
    bot.signal(signal.SIGINT)
    assert await bot.wait_exit(30) == 0


async def test_ws_disconnects_pull_quotes_until_the_book_is_resynced(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    bot = await start_bot(ext_sim, tmp_path / "state", sets=(*FAST, "risk.stale_book_ms=500"))
    bots.append(bot)
    await bot.wait_ready()
    await wait_for(lambda: _open(ext_sim) >= 4, 15, "quotes")
    for round_ in range(3):
        # Public stream down and refused for a while: the book is not trustworthy.
        ext_sim.faults.refuse_connections(2.0, stream="public")
        ext_sim.faults.drop_ws("public")
        t0 = time.monotonic()
        await wait_for(lambda: _open(ext_sim) == 0, 3, f"quotes pulled after public drop #{round_ + 1}")
        pulled_s = time.monotonic() - t0
        st = await bot.status()
        assert st["connections"]["public"] != "connected" or not all(
            s["book_trusted"] for s in st["symbols"].values())
        await wait_for(lambda: _open(ext_sim) >= 2, 20, f"quotes back after resync #{round_ + 1}")
        assert pulled_s < 1.5
    # Private stream down: fills are invisible, so quotes are pulled too; back after resync.
    ext_sim.faults.refuse_connections(2.0, stream="private")
    ext_sim.faults.drop_ws("private")
    await wait_for(lambda: _open(ext_sim) == 0, 3, "quotes pulled after the private drop")

    async def private_back() -> bool:
        return int((await bot.status())["reconnects"]["private"]) >= 1

    await wait_for(private_back, 20, "private reconnect")
    await wait_for(lambda: _open(ext_sim) >= 2, 20, "quotes back after private reconnect")
    st = await bot.status()
    assert st["reconnects"]["public"] >= 3
    bot.signal(signal.SIGTERM)
    assert await bot.wait_exit(30) == 0
    assert _open(ext_sim) == 0


async def _wait_up(bot: BotProc, timeout_s: float = 30.0) -> None:
    """Like wait_ready, but a killed bot is never ready: wait for /status to answer."""
    async def answering() -> bool:
        run = bot.state_dir / "run.json"
        if not bot.url and run.exists():
            from bot.common import json_io

            doc = json_io.load_file(run)
            if doc["pid"] == bot.pid:
                bot.url = doc["web_url"]
        if not bot.url:
            return False
        try:
            return (await bot.status())["state"] in ("killed", "running", "paused")
        except httpx.HTTPError:
            return False

    deadline = time.monotonic() + timeout_s
    while not await answering():
        assert time.monotonic() < deadline, bot.log()[-3000:]
        assert bot.proc.returncode is None, bot.log()[-3000:]
        await asyncio.sleep(0.1)


async def test_kill_switch_latches_across_a_restart_until_the_operator_resets_it(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    state = tmp_path / "state"
    bot = await start_bot(ext_sim, state, sets=FAST)
    bots.append(bot)
    await bot.wait_ready()
    await wait_for(lambda: _open(ext_sim) >= 2, 15, "quotes")
    assert (await bot.admin("reset-kill")).status_code == 409  # nothing to reset
    r = await bot.admin("kill")
    assert r.status_code == 200 and r.json()["open_orders"] == 0 and _open(ext_sim) == 0
    st = await bot.status()
    assert st["state"] == "killed" and st["kill_switch"]
    assert (await bot.admin("resume")).status_code == 409  # resume does not unlatch it
    bot.signal(signal.SIGTERM)
    assert await bot.wait_exit(30) == 0
    # a restart restores the latched switch from its snapshot: still no quotes
    again = await start_bot(ext_sim, state, sets=FAST)
    bots.append(again)
    await _wait_up(again)
    st = await again.status()
    assert st["state"] == "killed" and st["kill_switch"], st
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:
        assert _open(ext_sim) == 0
        await asyncio.sleep(0.1)
    assert (await again.admin("reset-kill", token="wrong")).status_code == 401
    r = await again.admin("reset-kill")
    assert r.status_code == 200 and r.json()["state"] == "paused", r.text
    st = await again.status()
    assert not st["kill_switch"] and st["state"] == "paused" and _open(ext_sim) == 0  # unlatched, not quoting
    assert (await again.admin("resume")).status_code == 200
    await wait_for(lambda: _open(ext_sim) >= 2, 15, "quotes after reset and resume")
    again.signal(signal.SIGTERM)
    assert await again.wait_exit(30) == 0
