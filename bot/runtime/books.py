"""Per-symbol trading state around the Rust book: book updates in, the top of book out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bot.book import OrderBook
from bot.domain import Fill, Instrument, Symbol
from bot.errors import BookError
from bot.exchange.events import BookUpdate
from bot.observability.logging import get_logger
from bot.strategy.book_view import BookView, GridTop, TopOfBook
from bot.strategy.quoting import QuoteParams
from bot.strategy.volatility import MidVolatility

__all__ = ["SymbolState"]

log = get_logger(__name__)


@dataclass(slots=True)
class SymbolState:
    inst: Instrument
    book: OrderBook
    params: QuoteParams
    vol: MidVolatility
    book_ts_ns: int = 0
    trusted: bool = False  # a snapshot arrived since the last disconnect / resync
    obligations_met: bool = False
    unmet: str = "no_quote_yet"  # the last cycle's hold/guard reason or first failed obligation
    post_only_rejects: int = 0
    seconds: int = 0  # portfolio ticks seen, and those with the obligations met: quote uptime
    seconds_met: int = 0
    recent_fills: list[Fill] = field(default_factory=list)

    def mid(self) -> Decimal | None:
        return self.book.mid() if self.book.has_snapshot else None

    def on_book(self, ev: BookUpdate, request_resync: Callable[[Symbol], None]) -> None:
        """Take one book update; the symbol re-quotes after it (an untrusted book pulls its orders).

        The stream has usually applied it to `book` already (`ev.applied`, and it handles resyncs);
        otherwise the raw message is applied here and a sequence problem asks for a resync.
        """
        applied = ev.applied
        if applied is not None:
            bid_t, _bl, ask_t, _al, resync = applied
        else:
            try:
                bid_t, _bl, ask_t, _al, _u, resync = self.book.apply_message(ev.raw)
            except BookError as exc:
                log.warning("book_rejected", symbol=ev.symbol, error=str(exc))
                resync, bid_t, ask_t = True, None, None
            if resync:
                request_resync(ev.symbol)
        if resync:
            if self.trusted:
                log.warning("book_resync", symbol=ev.symbol, reason=str(self.book.resync_reason))
            self.trusted = False
            return
        # an applied update without a resync means the book is whole again since its snapshot
        if not self.trusted and (applied is not None or ev.is_snapshot):
            self.trusted = True
            log.info("book_trusted", symbol=ev.symbol)
        self.book_ts_ns = ev.ts_recv_ns
        if bid_t is not None and ask_t is not None:
            self.vol.update(bid_t, ask_t, ev.ts_recv_ns)

    def view(self, now_ns: int) -> BookView:
        """The book's top for the quote cycle; `now_ns` is wall-clock (the guards derive the UTC day
        from it) and the book's age comes from its monotonic arrival time, mapped onto that clock."""
        ts = now_ns - (time.monotonic_ns() - self.book_ts_ns)
        ticks = self.book.bbo_ticks()
        if ticks[0] is None or ticks[1] is None or ticks[2] is None or ticks[3] is None:
            return TopOfBook.of(self.book, ts)
        return GridTop((ticks[0], ticks[1], ticks[2], ticks[3]), ts, self.inst.tick_size, self.inst.qty_step)

    def untrusted(self) -> bool:
        """Read at cycle time: the stream may have applied newer messages than the cycle's update."""
        book = self.book
        return not self.trusted or book.resync_needed or not book.has_snapshot
