"""The small read-only view of an order book that the quoting model needs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Protocol

__all__ = ["BookView", "GridTop", "TopOfBook"]


class BookView(Protocol):
    """Best bid/ask (price, size) or None, plus when the book last changed (caller's clock, ns).

    The Rust book (`bot.book.OrderBook`) and the Python reference book already provide
    `best_bid()` / `best_ask()`; the runtime wraps them with `TopOfBook.of(book, ts_ns)` or any
    object that also exposes `ts_ns`.
    """

    @property
    def ts_ns(self) -> int: ...

    def best_bid(self) -> tuple[Decimal, Decimal] | None: ...

    def best_ask(self) -> tuple[Decimal, Decimal] | None: ...


class _HasTop(Protocol):
    def best_bid(self) -> tuple[Decimal, Decimal] | None: ...

    def best_ask(self) -> tuple[Decimal, Decimal] | None: ...


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """A plain BookView: top of book captured at `ts_ns` (used in tests, benches and by the runtime)."""

    bid: tuple[Decimal, Decimal] | None
    ask: tuple[Decimal, Decimal] | None
    ts_ns: int

    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        return self.bid

    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        return self.ask

    @classmethod
    def of(cls, book: _HasTop, ts_ns: int) -> TopOfBook:
        """Capture the top of any book exposing best_bid()/best_ask() (Rust or reference)."""
        return cls(book.best_bid(), book.best_ask(), ts_ns)


class GridTop(NamedTuple):
    """A BookView in integer ticks and lots, as the Rust book returns them from `apply_message`.

    The hot path (quote, gates, marks) reads `ticks` and never builds a Decimal; `best_bid()` /
    `best_ask()` derive the Decimal prices only for callers that ask. Both sides must be present
    (use TopOfBook for a book with an empty side).
    """

    ticks: tuple[int, int, int, int]  # (bid ticks, bid lots, ask ticks, ask lots)
    ts_ns: int
    tick_size: Decimal
    lot_size: Decimal

    def best_bid(self) -> tuple[Decimal, Decimal]:
        t = self.ticks
        return self.tick_size * t[0], self.lot_size * t[1]

    def best_ask(self) -> tuple[Decimal, Decimal]:
        t = self.ticks
        return self.tick_size * t[2], self.lot_size * t[3]
