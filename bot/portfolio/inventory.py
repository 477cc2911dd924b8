"""Positions and PnL from fills: average price, realized/unrealized PnL, fees vs rebates, maker share."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain import Fill, Symbol

__all__ = ["Inventory", "Portfolio"]

_ZERO = Decimal(0)
# Recent ids only: the ledger's execId key is the durable dedupe, and the runtime feeds fills that
# passed it. The window covers replays within minutes (a reconnect's backfill overlap); at 20,000
# (~3 MB of keys) it read as ~2.5 MB/h of steady RSS growth through a soak's first hour.
RECENT_EXEC_IDS = 2_000


@dataclass(slots=True)
class Inventory:
    """One symbol, linear (quote-settled) accounting: position is signed base qty."""

    symbol: Symbol
    position: Decimal = _ZERO
    avg_price: Decimal = _ZERO
    realized_pnl: Decimal = _ZERO  # price PnL only, fees excluded
    fees_paid: Decimal = _ZERO  # sum of positive fees
    rebates: Decimal = _ZERO  # sum of rebates received (positive number)
    maker_fills: int = 0
    taker_fills: int = 0
    maker_qty: Decimal = _ZERO
    taker_qty: Decimal = _ZERO
    volume_notional: Decimal = _ZERO

    def apply(self, fill: Fill) -> None:
        """Update position, average entry and realized PnL; book the fee or rebate."""
        q = fill.qty * fill.side.sign
        pos = self.position
        if pos == 0 or (pos > 0) == (q > 0):
            new = pos + q
            self.avg_price = (self.avg_price * abs(pos) + fill.price * abs(q)) / abs(new)
            self.position = new
        else:
            closed = min(abs(q), abs(pos))
            # closing a long at p earns (p - avg); closing a short earns (avg - p)
            direction = 1 if pos > 0 else -1
            self.realized_pnl += closed * (fill.price - self.avg_price) * direction
            new = pos + q
            self.position = new
            if new == 0:
                self.avg_price = _ZERO
            elif (new > 0) != (pos > 0):
                self.avg_price = fill.price  # flipped: the remainder opened at this price
        if fill.fee >= 0:
            self.fees_paid += fill.fee
        else:
            self.rebates -= fill.fee
        if fill.is_maker:
            self.maker_fills += 1
            self.maker_qty += fill.qty
        else:
            self.taker_fills += 1
            self.taker_qty += fill.qty
        self.volume_notional += fill.qty * fill.price

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_price) * self.position if self.position else _ZERO

    @property
    def net_fees(self) -> Decimal:
        """Fees paid minus rebates received (negative = net rebate income)."""
        return self.fees_paid - self.rebates

    def pnl(self, mark: Decimal | None) -> Decimal:
        """Realized + unrealized - net fees (unrealized omitted without a mark)."""
        base = self.realized_pnl - self.fees_paid + self.rebates
        if mark is None or not self.position:
            return base
        return base + (mark - self.avg_price) * self.position

    def snapshot(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Inventory:
        inv = cls(Symbol(str(data["symbol"])))
        for k in cls.__slots__:
            if k == "symbol" or k not in data:
                continue
            v = data[k]
            setattr(inv, k, int(v) if k in ("maker_fills", "taker_fills") else Decimal(str(v)))
        return inv


class Portfolio:
    """All symbols' inventories; fills are de-duplicated by execId (replays after reconnects)."""

    def __init__(self, symbols: Iterable[Symbol] = (), *, recent_exec_ids: int = RECENT_EXEC_IDS) -> None:
        self.inventories: dict[Symbol, Inventory] = {s: Inventory(s) for s in symbols}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._recent = recent_exec_ids

    def inventory(self, symbol: Symbol) -> Inventory:
        inv = self.inventories.get(symbol)
        if inv is None:
            inv = self.inventories[symbol] = Inventory(symbol)
        return inv

    def on_fill(self, fill: Fill) -> bool:
        """Apply a fill once; returns False for an execId already seen."""
        if fill.exec_id in self._seen:
            return False
        self._seen[fill.exec_id] = None
        if len(self._seen) > self._recent:
            self._seen.popitem(last=False)
        self.inventory(fill.symbol).apply(fill)
        return True

    def positions(self) -> dict[Symbol, Decimal]:
        return {s: i.position for s, i in self.inventories.items()}

    def total_pnl(self, marks: Mapping[Symbol, Decimal]) -> Decimal:
        total = _ZERO
        for s, i in self.inventories.items():
            total += i.pnl(marks.get(s))
        return total

    @property
    def maker_share(self) -> Decimal | None:
        """Maker fills / all fills (None before the first fill)."""
        maker = sum(i.maker_fills for i in self.inventories.values())
        total = maker + sum(i.taker_fills for i in self.inventories.values())
        return Decimal(maker) / total if total else None

    @property
    def rebates(self) -> Decimal:
        return sum((i.rebates for i in self.inventories.values()), _ZERO)

    @property
    def fees_paid(self) -> Decimal:
        return sum((i.fees_paid for i in self.inventories.values()), _ZERO)

    def snapshot(self) -> dict[str, Any]:
        return {"inventories": {s: i.snapshot() for s, i in self.inventories.items()},
                "exec_ids": list(self._seen)}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.inventories = {Symbol(s): Inventory.from_snapshot(d) for s, d in data["inventories"].items()}
        self._seen = OrderedDict.fromkeys(str(e) for e in list(data.get("exec_ids", []))[-self._recent:])
