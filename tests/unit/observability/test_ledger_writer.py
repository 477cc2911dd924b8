"""LedgerWriter: stream fills and order states committed by a worker thread, in batches."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

from bot.domain import Fill, OrderId, OrderLinkId, Side, Symbol
from bot.observability.ledger import Ledger, OrderRow
from bot.observability.ledger_writer import LedgerWriter


def _fill(i: int) -> Fill:
    return Fill(exec_id=f"exec-{i:06d}", symbol=Symbol("BTCUSDT"), side=Side.BUY if i % 2 else Side.SELL,
                price=Decimal("30000.5"), qty=Decimal("0.001"), fee=Decimal("-0.0015"),
                fee_rate=Decimal("-0.00005"), is_maker=True, order_id=OrderId(f"oid-{i}"),
                order_link_id=OrderLinkId(f"mm-t-{i}"), ts_exchange_ms=1_796_414_856_328 + i)


def _order(i: int, status: str = "New", symbol: object = "BTCUSDT") -> OrderRow:
    return OrderRow(OrderLinkId(f"mm-t-{i}"), f"oid-{i}", symbol, "Buy", Decimal("30000.5"),  # type: ignore[arg-type]
                    Decimal("0.001"), status, 1_796_414_856_328 + i)


def _order_status(ledger: Ledger, i: int) -> str | None:
    row = ledger._conn().execute("SELECT status FROM orders WHERE order_link_id = ?", (f"mm-t-{i}",)).fetchone()
    return None if row is None else str(row[0])


def test_queued_writes_are_in_the_ledger_after_flush_batched_and_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger.path)
    try:
        for i in range(500):
            writer.fills([_fill(i)])
            writer.order(_order(i))
            writer.order(_order(i, "Filled"))
        writer.fills([_fill(7), _fill(8)])  # a replay: the execId key keeps each fill once
        assert writer.flush()
        assert len(ledger.exec_ids()) == 500
        assert ledger.totals().fills == 500 and ledger.totals().rebates == Decimal("0.75")
        assert ledger.watermark_ms() == _fill(499).ts_exchange_ms
        assert _order_status(ledger, 0) == "Filled" and _order_status(ledger, 499) == "Filled"  # in order
        # what queued up while a transaction ran went into the next one, not one transaction per item
        assert 1 <= writer.batches < 1001 and writer.failed == 0
    finally:
        assert writer.close()
        ledger.close()


def test_close_commits_what_is_queued_and_is_idempotent(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger.path)
    writer.fills([_fill(i) for i in range(50)])
    assert writer.close() and writer.close()
    assert not writer.flush()  # closed: nothing would ever commit it
    assert len(ledger.exec_ids()) == 50
    ledger.close()
    assert Ledger(ledger.path).was_clean  # the owner's mark, not the writer's connection


def test_a_failed_write_is_counted_and_later_writes_still_land(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger.path)
    try:
        writer.order(_order(1, symbol=object()))  # sqlite cannot bind it: the transaction rolls back
        assert writer.flush()
        assert writer.failed == 1
        writer.order(_order(2))
        assert writer.flush()
        assert _order_status(ledger, 2) == "New" and _order_status(ledger, 1) is None
    finally:
        writer.close()
        ledger.close()


def test_writes_happen_on_the_worker_thread(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    writer = LedgerWriter(ledger.path)
    seen: list[str] = []
    real = Ledger.record_batch

    def spy(self: Ledger, *a: object, **k: object) -> list[Fill]:
        seen.append(threading.current_thread().name)
        return real(self, *a, **k)  # type: ignore[arg-type]

    Ledger.record_batch = spy  # type: ignore[method-assign]
    try:
        writer.fills([_fill(1)])
        assert writer.flush()
    finally:
        Ledger.record_batch = real  # type: ignore[method-assign]
        writer.close()
        ledger.close()
    assert seen == ["ledger-writer"]
