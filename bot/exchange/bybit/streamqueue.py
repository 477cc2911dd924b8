"""Back-pressure between a WS reader and its consumer: the reader never waits on the strategy.

- Non-book events (orders, fills, positions, wallet, trades, state) queue in order, never dropped.
- Book updates queue per symbol; when a symbol's backlog exceeds `book_backlog`, its pending
  updates collapse into one snapshot of the latest state, built from the stream's `BookMirror`
  only when the consumer asks for it (so a behind consumer costs one snapshot, not N deltas).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from bot.common import json_io
from bot.domain import Level, Symbol
from bot.exchange.bybit.wire import dec_str
from bot.exchange.events import BookUpdate, ExchangeEvent

__all__ = ["AppliedBook", "BookMirror", "DeltaVerdict", "EventQueue", "NativeBook", "check_delta"]


def check_delta(last_u: int | None, u: int) -> str:
    """Verdict for a delta with update id `u`: "ok", "duplicate", "gap", "reset" or "no_snapshot"."""
    if last_u is None:
        return "no_snapshot"
    if u == 1 and last_u != 0:
        return "reset"  # venue restarted; only a fresh snapshot is trustworthy
    if u <= last_u:
        return "duplicate"
    if u > last_u + 1:
        return "gap"
    return "ok"


DeltaVerdict = str


@dataclass(slots=True)
class BookMirror:
    """The stream's own copy of one book: for gap checks and for coalesced snapshots."""

    symbol: Symbol
    depth: int = 0
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    update_id: int | None = None  # None until a snapshot arrived (and after a resync request)
    seq: int = 0
    ts_exchange_ms: int = 0
    cts_ms: int = 0

    def apply(self, ev: BookUpdate) -> None:
        if ev.is_snapshot:
            self.bids = {lv.price: lv.size for lv in ev.bids if lv.size}
            self.asks = {lv.price: lv.size for lv in ev.asks if lv.size}
        else:
            for side, levels in ((self.bids, ev.bids), (self.asks, ev.asks)):
                for lv in levels:
                    if lv.size:
                        side[lv.price] = lv.size
                    else:
                        side.pop(lv.price, None)
        self.depth = ev.depth or self.depth
        self.update_id, self.seq = ev.update_id, ev.seq
        self.ts_exchange_ms, self.cts_ms = ev.ts_exchange_ms, ev.cts_ms

    def invalidate(self) -> None:
        self.update_id = None
        self.bids.clear()
        self.asks.clear()

    def snapshot_event(self, ts_recv_ns: int) -> BookUpdate:
        """The latest state as a Bybit-format snapshot (raw included, so the Rust book can apply it)."""
        bids = tuple(Level(p, self.bids[p]) for p in sorted(self.bids, reverse=True))
        asks = tuple(Level(p, self.asks[p]) for p in sorted(self.asks))
        u = self.update_id or 0
        raw = json_io.dumps({
            "topic": f"orderbook.{self.depth}.{self.symbol}", "type": "snapshot", "ts": self.ts_exchange_ms,
            "data": {"s": self.symbol, "b": [[dec_str(lv.price), dec_str(lv.size)] for lv in bids],
                     "a": [[dec_str(lv.price), dec_str(lv.size)] for lv in asks], "u": u, "seq": self.seq},
            "cts": self.cts_ms,
        })
        return BookUpdate(symbol=self.symbol, is_snapshot=True, update_id=u, seq=self.seq, bids=bids, asks=asks,
                          ts_exchange_ms=self.ts_exchange_ms, ts_recv_ns=ts_recv_ns, raw=raw, depth=self.depth,
                          cts_ms=self.cts_ms, coalesced=True)


class NativeBook(Protocol):
    """What the stream needs of a consumer's book to apply messages to it (bot.book.OrderBook)."""

    def apply_message(self, raw: bytes) -> tuple[int | None, int | None, int | None, int | None, int, bool]: ...
    def bbo_ticks(self) -> tuple[int | None, int | None, int | None, int | None]: ...
    def clear(self) -> None: ...
    @property
    def has_snapshot(self) -> bool: ...
    @property
    def resync_needed(self) -> bool: ...
    @property
    def resync_reason(self) -> str | None: ...


class AppliedBook:
    """The mirror of a book the stream applies messages to directly: a behind consumer's backlog
    collapses into one event carrying the book's current top (nothing to rebuild or re-apply)."""

    __slots__ = ("book", "symbol")

    def __init__(self, symbol: Symbol, book: NativeBook) -> None:
        self.symbol = symbol
        self.book = book

    def snapshot_event(self, ts_recv_ns: int) -> BookUpdate:
        b = self.book
        bid_t, bid_l, ask_t, ask_l = b.bbo_ticks()
        return BookUpdate(symbol=self.symbol, is_snapshot=False, update_id=0, seq=0, bids=(), asks=(),
                          ts_exchange_ms=0, ts_recv_ns=ts_recv_ns, coalesced=True,
                          applied=(bid_t, bid_l, ask_t, ask_l, b.resync_needed or not b.has_snapshot))


@dataclass(slots=True)
class _BookSlot:
    mirror: BookMirror | AppliedBook
    frames: deque[BookUpdate] = field(default_factory=deque)
    queued: bool = False
    coalesced: bool = False
    last_recv_ns: int = 0


class EventQueue:
    """Single-consumer queue with per-symbol book coalescing; `put*` never block."""

    def __init__(self, *, book_backlog: int = 64) -> None:
        self.book_backlog = book_backlog
        self._q: deque[ExchangeEvent | _BookSlot] = deque()
        self._slots: dict[Symbol, _BookSlot] = {}
        self._ready = asyncio.Event()
        self.coalesced_total = 0  # times a backlog collapsed into one snapshot

    def __len__(self) -> int:
        return sum((len(e.frames) or 1) if isinstance(e, _BookSlot) else 1 for e in self._q)

    def put(self, ev: ExchangeEvent) -> None:
        self._q.append(ev)
        self._ready.set()

    def put_book(self, ev: BookUpdate, mirror: BookMirror | AppliedBook) -> None:
        slot = self._slots.get(ev.symbol)
        if slot is None or slot.mirror is not mirror:
            slot = self._slots[ev.symbol] = _BookSlot(mirror)
        slot.last_recv_ns = ev.ts_recv_ns
        if not slot.queued:
            slot.frames.append(ev)
            slot.queued = True
            self._q.append(slot)
        elif slot.coalesced:
            pass  # the snapshot is built from the mirror when the consumer gets there
        elif len(slot.frames) < self.book_backlog:
            slot.frames.append(ev)
        else:
            slot.frames.clear()
            slot.coalesced = True
            self.coalesced_total += 1
        self._ready.set()

    def drop_books(self, symbol: Symbol) -> None:
        """Forget pending book updates of `symbol` (its book is being resynced)."""
        slot = self._slots.get(symbol)
        if slot is not None:
            slot.frames.clear()
            slot.coalesced = False

    def get_nowait(self) -> ExchangeEvent | None:
        while self._q:
            head = self._q[0]
            if not isinstance(head, _BookSlot):
                self._q.popleft()
                return head
            if head.coalesced:
                self._q.popleft()
                head.queued = head.coalesced = False
                return head.mirror.snapshot_event(head.last_recv_ns)
            if head.frames:
                ev = head.frames.popleft()
                if not head.frames:
                    self._q.popleft()
                    head.queued = False
                return ev
            self._q.popleft()  # emptied by drop_books
            head.queued = False
        return None

    async def get(self) -> ExchangeEvent:
        while True:
            ev = self.get_nowait()
            if ev is not None:
                return ev
            self._ready.clear()
            await self._ready.wait()
