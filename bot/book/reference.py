"""A small pure-Python L2 book with the Rust book's exact semantics, for differential tests."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

from bot.common.json_io import loads
from bot.errors import BookCrossed, BookParseError, BookResyncRequired, BookValidationError

__all__ = ["ReferenceBook"]

_PLAIN = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_I64_MAX = 2**63 - 1
Levels = Iterable[Sequence[str]]


def _units(text: object, step: Decimal, what: str) -> int:
    """Exact grid units of a plain decimal string, or ValueError naming the problem."""
    if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
        raise ValueError(f"{what} must be a decimal string")
    s = str(text)
    if not _PLAIN.match(s):
        raise ValueError(f"{what} is not a plain non-negative decimal")
    whole, _, frac = s.partition(".")
    if len(frac) > 18 or len((whole + frac).lstrip("0")) > 36:
        raise ValueError(f"{what} has too many digits")
    q = Decimal(s) / step
    if q != q.to_integral_value():
        raise ValueError(f"{what} is off the grid")
    n = int(q)
    if n > _I64_MAX:
        raise ValueError(f"{what} is too large")
    return n


class ReferenceBook:
    """Same API subset and rules as `bot.book.OrderBook`, with dicts and sorting on read."""

    def __init__(self, tick_size: str | Decimal, lot_size: str | Decimal, depth: int = 0) -> None:
        self.tick = Decimal(str(tick_size))
        self.lot = Decimal(str(lot_size))
        self.depth = depth
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.update_id = 0
        self.seq = 0
        self.has_snapshot = False
        self.resync_reason: str | None = None

    @property
    def resync_needed(self) -> bool:
        return self.resync_reason is not None

    def _convert(self, side: str, levels: Levels) -> list[tuple[int, int]]:
        out = []
        for i, level in enumerate(levels):
            if not isinstance(level, (list, tuple)) or len(level) != 2:
                raise BookValidationError(f"{side} level {i}: expected a [price, size] pair")
            try:
                p = _units(level[0], self.tick, "price")
                q = _units(level[1], self.lot, "size")
            except ValueError as exc:
                raise BookValidationError(f"{side} level {i} {level!r}: {exc}") from None
            if p == 0:
                raise BookValidationError(f"{side} level {i}: price must be positive")
            out.append((p, q))
        return out

    def _keep(self, levels: dict[int, int], best_first: list[int]) -> dict[int, int]:
        if self.depth:
            best_first = best_first[: self.depth]
        return {p: levels[p] for p in best_first}

    def apply_snapshot(self, bids: Levels, asks: Levels, update_id: int | None = None,
                       seq: int | None = None) -> None:
        """Replace the book; raises BookValidationError / BookCrossed and leaves it unchanged."""
        b, a = self._convert("bid", bids), self._convert("ask", asks)
        for side, levels, desc in (("bid", b, True), ("ask", a, False)):
            for i, (p, q) in enumerate(levels):
                if q <= 0:
                    raise BookValidationError(f"{side} level {i}: size must be positive in a snapshot")
                if i and p == levels[i - 1][0]:
                    raise BookValidationError(f"{side} level {i}: duplicate price")
                if i and (p > levels[i - 1][0]) == desc:
                    raise BookValidationError(f"{side} level {i}: out of order")
        if b and a and b[0][0] >= a[0][0]:
            raise BookCrossed("snapshot would cross the book")
        keep = len(b) if not self.depth else self.depth
        self.bids = dict(b[:keep])
        keep = len(a) if not self.depth else self.depth
        self.asks = dict(a[:keep])
        self.update_id = update_id or 0
        if seq is not None:
            self.seq = seq
        self.has_snapshot = True
        self.resync_reason = None

    def _resync(self, reason: str) -> BookResyncRequired:
        self.resync_reason = reason
        return BookResyncRequired(f"resync required: {reason}", reason=reason)

    def apply_delta(self, bids: Levels, asks: Levels, update_id: int | None = None,
                    seq: int | None = None) -> bool:
        """Apply a delta; False for a duplicate. Raises like the Rust book, levels unchanged."""
        b, a = self._convert("bid", bids), self._convert("ask", asks)
        if self.resync_reason is not None:
            raise BookResyncRequired(f"resync required: {self.resync_reason}", reason=self.resync_reason)
        if not self.has_snapshot:
            raise self._resync("no_snapshot")
        if update_id is not None:
            if update_id == 1 and self.update_id != 0:
                raise self._resync("reset")
            if self.update_id != 0:
                if update_id <= self.update_id:
                    return False
                if update_id > self.update_id + 1:
                    raise self._resync("gap")
        new_b, new_a = dict(self.bids), dict(self.asks)
        for side, levels in ((new_b, b), (new_a, a)):
            for p, q in levels:
                if q:
                    side[p] = q
                else:
                    side.pop(p, None)
        if new_b and new_a and max(new_b) >= min(new_a):
            self.resync_reason = "crossed"
            raise BookCrossed("delta would cross the book")
        self.bids = self._keep(new_b, sorted(new_b, reverse=True))
        self.asks = self._keep(new_a, sorted(new_a))
        if update_id is not None:
            self.update_id = update_id
        if seq is not None:
            self.seq = seq
        return True

    def apply_message(self, raw: bytes) -> tuple[int | None, int | None, int | None, int | None, int, bool]:
        """Decode a Bybit orderbook message with orjson and apply it; same result as the Rust book."""
        try:
            msg = loads(raw)
            kind, data = msg["type"], msg["data"]
            u = data["u"]
            b, a, seq = data.get("b", []), data.get("a", []), data.get("seq")
        except Exception as exc:  # any decode/shape failure is a parse error here
            raise BookParseError(f"not a Bybit orderbook message: {exc}") from None
        if kind == "snapshot":
            self.apply_snapshot(b, a, u, seq)
        elif kind == "delta":
            try:
                self.apply_delta(b, a, u, seq)
            except (BookResyncRequired, BookCrossed):
                pass
        else:
            raise BookParseError("type must be snapshot or delta")
        bb, ba = self.best_ticks()
        return (None if bb is None else bb[0], None if bb is None else bb[1],
                None if ba is None else ba[0], None if ba is None else ba[1],
                self.update_id, self.resync_needed)

    def best_ticks(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """(best bid, best ask) as (ticks, lots) pairs."""
        bb = max(self.bids) if self.bids else None
        ba = min(self.asks) if self.asks else None
        return (None if bb is None else (bb, self.bids[bb]), None if ba is None else (ba, self.asks[ba]))

    def _dec(self, level: tuple[int, int]) -> tuple[Decimal, Decimal]:
        return (level[0] * self.tick, level[1] * self.lot)

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        bb = self.best_ticks()[0]
        return None if bb is None else self._dec(bb)

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        ba = self.best_ticks()[1]
        return None if ba is None else self._dec(ba)

    def top(self, n: int = 5) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        b = sorted(self.bids.items(), reverse=True)[:n]
        a = sorted(self.asks.items())[:n]
        return [self._dec(x) for x in b], [self._dec(x) for x in a]

    def level_counts(self) -> tuple[int, int]:
        return len(self.bids), len(self.asks)
