"""Inventory accounting: average price, realized/unrealized PnL, flips, fees vs rebates, maker share."""

from __future__ import annotations

from decimal import Decimal as D

from bot.common import json_io
from bot.domain import Fill, OrderId, OrderLinkId, Side, Symbol
from bot.portfolio import Portfolio

SYM = Symbol("BTCUSDT")


def fill(i: int, side: Side, price: str, qty: str, fee: str = "0", maker: bool = True) -> Fill:
    return Fill(f"e{i}", SYM, side, D(price), D(qty), D(fee), D(0), maker, OrderId("o"), OrderLinkId("l"), i)


def test_average_price_and_realized_pnl_long() -> None:
    p = Portfolio([SYM])
    p.on_fill(fill(1, Side.BUY, "100", "1"))
    p.on_fill(fill(2, Side.BUY, "110", "1"))
    inv = p.inventory(SYM)
    assert inv.position == 2 and inv.avg_price == 105
    p.on_fill(fill(3, Side.SELL, "120", "1"))
    assert inv.realized_pnl == 15 and inv.position == 1 and inv.avg_price == 105
    assert inv.unrealized(D(100)) == -5


def test_short_and_flip() -> None:
    p = Portfolio()
    p.on_fill(fill(1, Side.SELL, "100", "2"))
    p.on_fill(fill(2, Side.BUY, "90", "3"))
    inv = p.inventory(SYM)
    assert inv.realized_pnl == 20 and inv.position == 1 and inv.avg_price == 90


def test_fees_rebates_maker_share_and_duplicates() -> None:
    p = Portfolio([SYM])
    assert p.maker_share is None
    assert p.on_fill(fill(1, Side.BUY, "100", "1", fee="-0.01"))
    assert not p.on_fill(fill(1, Side.BUY, "100", "1", fee="-0.01"))
    p.on_fill(fill(2, Side.SELL, "101", "1", fee="0.05", maker=False))
    inv = p.inventory(SYM)
    assert inv.rebates == D("0.01") and inv.fees_paid == D("0.05") and inv.net_fees == D("0.04")
    assert p.maker_share == D("0.5")
    assert p.total_pnl({SYM: D(101)}) == D(1) - D("0.04")


def test_snapshot_roundtrip() -> None:
    p = Portfolio([SYM])
    p.on_fill(fill(1, Side.BUY, "100", "1.5", fee="-0.01"))
    p2 = Portfolio()
    p2.restore(json_io.loads(json_io.dumps(p.snapshot())))
    assert p2.inventory(SYM) == p.inventory(SYM)
    assert not p2.on_fill(fill(1, Side.BUY, "100", "1.5"))


def test_exec_id_window_is_bounded_and_still_dedupes_recent_replays() -> None:
    p = Portfolio([SYM], recent_exec_ids=100)
    for i in range(1_000):
        assert p.on_fill(fill(i, Side.BUY if i % 2 else Side.SELL, "100", "1"))
    assert len(p.snapshot()["exec_ids"]) == 100  # bounded: the ledger is the durable dedupe
    assert not p.on_fill(fill(950, Side.BUY, "100", "1"))  # a replay within the window is ignored
    restored = Portfolio(recent_exec_ids=10)
    restored.restore(json_io.loads(json_io.dumps(p.snapshot())))
    assert len(restored.snapshot()["exec_ids"]) == 10
    assert not restored.on_fill(fill(999, Side.BUY, "100", "1"))
