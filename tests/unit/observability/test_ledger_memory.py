"""The ledger's SQLite page cache is bounded well below SQLite's 2 MB default (a soak reads it as RSS growth)."""

from __future__ import annotations

import ctypes
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain import Fill, OrderId, OrderLinkId, Side, Symbol
from bot.observability.ledger import Ledger


def _sqlite_memory_used() -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    import _sqlite3

    try:
        fn = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (OSError, AttributeError):
        pytest.skip("this Python's sqlite3 does not expose sqlite3_memory_used")
    fn.restype = ctypes.c_int64
    return fn


def _fill(i: int) -> Fill:
    # exec ids spread over the key space like the venue's UUIDs, so inserts touch the whole index
    exec_id = f"{(i * 2654435761) % 2**32:08x}-{i:08d}-4b1c-9d2e-{i * 7919:012x}"
    return Fill(exec_id=exec_id, symbol=Symbol("BTCUSDT"), side=Side.BUY, price=Decimal("30000.5"),
                qty=Decimal("0.001"), fee=Decimal("-0.0015"), fee_rate=Decimal("-0.00005"), is_maker=True,
                order_id=OrderId(f"oid-{i}"), order_link_id=OrderLinkId(f"mm-test-{i}"),
                ts_exchange_ms=1_796_414_856_328 + i)


def test_page_cache_stays_bounded_as_the_file_grows(tmp_path: Path) -> None:
    used = _sqlite_memory_used()
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        before = used()
        for i in range(12_000):  # ~3.5 MB of file: a 30-minute soak's worth
            f = _fill(i)
            ledger.record_fills([f])
            ledger.record_order(f.order_link_id, order_id=f.order_id, symbol=f.symbol, side="Buy", price=f.price,
                                qty=f.qty, status="Filled")
        grown = used() - before
        size = (tmp_path / "ledger.sqlite").stat().st_size + (tmp_path / "ledger.sqlite-wal").stat().st_size
        assert size > 2 * 2**20, "the file must outgrow SQLite's default 2 MB cache for this test to mean anything"
        assert grown < 800 * 1024, f"SQLite memory grew {grown} bytes"
        assert len(ledger.exec_ids()) == 12_000
    finally:
        ledger.close()


def test_cache_size_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache_kib"):
        Ledger(tmp_path / "ledger.sqlite", cache_kib=0)
