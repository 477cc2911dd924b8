"""Ledger, recorder, snapshots, lock and hot-reload planning on real files (no venue needed)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.common import json_io
from bot.config import load_config
from bot.domain import Fill, OrderId, OrderLinkId, Side, Symbol
from bot.observability.ledger import Ledger
from bot.observability.recorder import Recorder, read_records
from bot.runtime.hot_reload import plan_reload
from bot.runtime.lock import AlreadyRunning, RunLock, read_run_info
from bot.runtime.snapshots import SnapshotStore


def _fill(i: int, *, maker: bool = True, fee: str = "-0.01") -> Fill:
    return Fill(exec_id=f"e{i}", symbol=Symbol("BTCUSDT"), side=Side.BUY if i % 2 else Side.SELL,
                price=Decimal("50000.5"), qty=Decimal("0.001"), fee=Decimal(fee), fee_rate=Decimal("-0.0001"),
                is_maker=maker, order_id=OrderId(f"o{i}"), order_link_id=OrderLinkId(f"mm-s-{i}"),
                ts_exchange_ms=1_700_000_000_000 + i)


def test_ledger_ignores_replayed_exec_ids_and_keeps_daily_totals(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l.sqlite")
    assert led.record_fills([_fill(1), _fill(2)]) == [_fill(1), _fill(2)]
    assert led.record_fills([_fill(2), _fill(3, maker=False, fee="0.03")], source="rest") == [
        _fill(3, maker=False, fee="0.03")]
    assert not led.record_fill(_fill(1))
    t = led.totals()
    assert (t.fills, t.maker_fills, t.rebates, t.fees) == (3, 2, Decimal("0.02"), Decimal("0.03"))
    assert led.watermark_ms() == 1_700_000_000_003
    led.close()
    led.close()
    again = Ledger(tmp_path / "l.sqlite")
    assert again.was_clean and len(again.fills()) == 3
    again.close()


def test_ledger_survives_kill_9_mid_run(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    code = (
        "import os,sys\nfrom decimal import Decimal\nfrom bot.observability.ledger import Ledger\n"
        "from bot.domain import Fill, Side\n"
        f"led = Ledger({str(db)!r})\n"
        "for i in range(50):\n"
        "    led.record_fill(Fill(f'x{i}', 'ETHUSDT', Side.BUY, Decimal('1'), Decimal('1'), Decimal('0'),"
        " Decimal('0'), True, 'o', 'l', 1000 + i))\n"
        "os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    led = Ledger(db)
    assert not led.was_clean
    assert len(led.exec_ids()) == 50
    assert led.totals().fills == 50
    led.close()
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_recorder_rotates_prunes_and_replays(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "rec", max_bytes=2048, max_files=3)
    for i in range(3000):
        rec.record("book", {"i": i, "pad": "x" * 20})
        if i % 100 == 99:
            rec.flush()
    rec.record("raw", b'{"topic":"orderbook.1.BTCUSDT"}')
    rec.record_raw("msg", b'{"topic":"orderbook.1.BTCUSDT","data":{"b":[["1.5","2"]],"s":"a\\"b"}}')
    rec.record_raw("msg", b'{"topic":\n"x"}')  # a line break: stored as a string
    rec.record_raw("msg", b"")
    rec.close()
    files = sorted((tmp_path / "rec").iterdir())
    assert 1 <= len(files) <= 3
    got = list(read_records(tmp_path / "rec"))
    assert got[-4].kind == "raw" and got[-4].data == '{"topic":"orderbook.1.BTCUSDT"}'
    # record_raw embeds the message as JSON; it reads back as the same document, in a string
    assert [r.kind for r in got[-3:]] == ["msg"] * 3
    assert json_io.loads(got[-3].data) == {"topic": "orderbook.1.BTCUSDT", "data": {"b": [["1.5", "2"]], "s": 'a"b'}}
    assert got[-2].data == '{"topic":\n"x"}' and got[-1].data == ""
    idx = [r.data["i"] for r in got if r.kind == "book"]
    assert idx == sorted(idx) and idx[-1] == 2999


def test_snapshots_are_atomic_envelopes_and_invalid_ones_are_ignored(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    assert store.save("throttle", {"tokens": "3.5"}, config_hash="abc")
    doc = json_io.load_file(tmp_path / "snapshots/throttle.json")
    assert doc["kind"] == "throttle" and doc["data"] == {"tokens": "3.5"} and doc["config_hash"] == "abc"
    assert store.load("throttle") == {"tokens": "3.5"}
    (tmp_path / "snapshots/rollout.json").write_text("{not json")
    assert store.load("rollout") is None
    json_io.save_file(tmp_path / "snapshots/allocator.json", {"kind": "throttle", "version": 1, "data": {}})
    assert store.load("allocator") is None


def test_lock_refuses_a_second_bot_and_run_json_is_ours(tmp_path: Path) -> None:
    a = RunLock(tmp_path, account_key="sim:x")
    a.acquire()
    a.write_run_info(web_url="http://127.0.0.1:1", config_hash="h", venue="sim")
    info = read_run_info(tmp_path)
    assert info is not None and info.pid == os.getpid() and info.alive
    with pytest.raises(AlreadyRunning):
        RunLock(tmp_path).acquire()
    with pytest.raises(AlreadyRunning):
        RunLock(tmp_path / "other", account_key="sim:x").acquire()
    a.release()
    assert read_run_info(tmp_path) is None
    b = RunLock(tmp_path)
    b.acquire()
    b.release()


def test_reload_applies_safe_fields_and_names_the_refused_ones(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text("[strategy]\nlevels = 2\n")
    cur = load_config(cfg_file, env=clean_env)
    cfg_file.write_text('symbols = ["BTCUSDT"]\n[strategy]\nlevels = 1\n')
    new, result = plan_reload(cur, cfg_file, env=clean_env)
    assert new is not None and new.strategy.levels == 1 and new.symbols == cur.symbols
    assert result.applied == ("strategy.levels",) and result.refused == ("symbols",)
    assert not result.ok and "symbols" in result.message
    cfg_file.write_text("[strategy]\nlevels = 2\n")
    none, same = plan_reload(cur, cfg_file, env=clean_env)
    assert none is None and same.ok and same.message == "no changes"
