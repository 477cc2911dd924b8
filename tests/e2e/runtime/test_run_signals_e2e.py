"""`mmctl run` as a real process: SIGTERM shutdown, kill -9 then restart, against the emulator."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

from botproc import E2E_KEY, BotProc, start_bot, wait_for

from bot.common import json_io
from bot.runtime.snapshots import validate
from bot.sim import SimServer

SNAPSHOTS = ("allocator", "throttle", "rollout")
# Small sizes and no ramp: both symbols quote at once and fills come quickly at speed 4.
FAST = ("rollout.enabled=false",)


def _open_links(sim: SimServer) -> set[str]:
    return {o["orderLinkId"] for o in sim.open_orders(E2E_KEY)}


def _sim_exec_ids(sim: SimServer) -> set[str]:
    return {e["execId"] for e in sim.executions(E2E_KEY)}


def _ledger_exec_ids(state_dir: Path) -> set[str]:
    db = sqlite3.connect(state_dir / "ledger.sqlite")
    try:
        return {r[0] for r in db.execute("SELECT exec_id FROM executions")}
    finally:
        db.close()


def _ledger_clean(state_dir: Path) -> bool:
    db = sqlite3.connect(state_dir / "ledger.sqlite")
    try:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'clean_shutdown'").fetchone()
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return bool(value == "1")
    finally:
        db.close()


async def _quoting(bot: BotProc, sim: SimServer) -> None:
    await bot.wait_ready()
    await wait_for(lambda: len(_open_links(sim)) >= 4, 15, "the bot to quote both symbols")


async def test_sigterm_cancels_everything_saves_state_and_exits_0_fast(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    bot = await start_bot(ext_sim, tmp_path / "state", sets=FAST)
    bots.append(bot)
    await _quoting(bot, ext_sim)
    t0 = time.monotonic()
    bot.signal(signal.SIGTERM)
    rc = await bot.wait_exit(30)
    elapsed = time.monotonic() - t0
    assert rc == 0, bot.log()[-3000:]
    assert elapsed < 5.0, f"shutdown took {elapsed:.2f}s"
    assert _open_links(ext_sim) == set()
    for kind in SNAPSHOTS:
        doc = json_io.load_file(bot.state_dir / "snapshots" / f"{kind}.json")
        assert validate(doc, kind) == ""
    assert _ledger_clean(bot.state_dir)
    assert not (bot.state_dir / "run.json").exists()
    report = json_io.load_file(bot.state_dir / "last_shutdown.json")
    assert report["ok"] and report["reason"] == "SIGTERM" and report["duration_s"] < 5
    names = [s["name"] for s in report["steps"]]
    assert names.index("cancel_all_and_verify") < names.index("cancel_tasks") < names.index("close_connections")
    assert names[-1] == "stop_web_server"
    print(f"\nSIGTERM -> exit: {elapsed:.3f}s (bot's own sequence {report['duration_s']}s)")


async def test_kill_9_then_restart_cancels_orphans_and_ledger_matches_venue(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    state = tmp_path / "state"
    # Run 1: quote, collect fills, stop cleanly so snapshots exist.
    first = await start_bot(ext_sim, state, sets=FAST)
    bots.append(first)
    await _quoting(first, ext_sim)
    await wait_for(lambda: len(_sim_exec_ids(ext_sim)) >= 3, 30, "some fills")
    first.signal(signal.SIGTERM)
    assert await first.wait_exit(30) == 0
    # Run 2: crash hard while quoting.
    second = await start_bot(ext_sim, state, sets=FAST)
    bots.append(second)
    await _quoting(second, ext_sim)
    baseline = len(_sim_exec_ids(ext_sim))
    await wait_for(lambda: len(_sim_exec_ids(ext_sim)) >= baseline + 2, 30, "more fills")
    # Freeze the market first: no taker may fill the orphans, so only reconciliation can remove them.
    ext_sim.pause_market(True)
    await wait_for(lambda: len(_open_links(ext_sim)) >= 2, 5, "resting orders to orphan")
    second.signal(signal.SIGKILL)
    await second.wait_exit(10)
    orphans = _open_links(ext_sim)
    assert orphans, "expected resting orders left behind by the killed bot"
    assert (state / "run.json").exists()  # stale: the crash left it behind
    # Run 3: start-up reconciliation cancels the orphans before quoting, backfills missed fills.
    t0 = time.monotonic()
    third = await start_bot(ext_sim, state, sets=FAST)
    bots.append(third)
    await wait_for(lambda: not (orphans & _open_links(ext_sim)), 15, "orphans to be cancelled")
    orphan_s = time.monotonic() - t0
    ext_sim.pause_market(False)
    await third.wait_ready()
    restored = third.events("snapshots_restored")
    assert restored and all(restored[0][k] for k in ("allocator", "throttle", "rollout")), restored
    reconciled = third.events("reconciled")
    assert reconciled and reconciled[0]["cancelled"] >= len(orphans)
    third.signal(signal.SIGTERM)
    assert await third.wait_exit(30) == 0
    assert _ledger_exec_ids(state) == _sim_exec_ids(ext_sim)
    assert _open_links(ext_sim) == set()
    print(f"\norphans gone {orphan_s:.2f}s after restart; ledger == venue ({len(_sim_exec_ids(ext_sim))} fills)")
