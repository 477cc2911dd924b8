"""The L2 order book: `OrderBook` is the Rust (PyO3) book from `bot.book._native`.

Prices and sizes live as integers on the instrument's grid (ticks of `tick_size`, lots of
`lot_size`); every read that returns money returns `Decimal`, and `*_ticks` reads return the
raw integers for the hot path. Errors are the `bot.errors.BookError` family.

The hot path is `apply_message(raw)`: the whole Bybit `orderbook.*` WebSocket message
(`bytes`, `str` or `bytearray`) is parsed and applied in Rust, and the result is one tuple,
built without any per-level Python object::

    (best_bid_ticks, best_bid_lots, best_ask_ticks, best_ask_lots, update_id, resync_needed)
     int | None      int | None     int | None      int | None     int        bool

`update_id` is the last applied `u`. `resync_needed` is True when the book is waiting for a
fresh snapshot: a delta before any snapshot, a `u` gap, a delta with `u == 1` (service
reset) or a delta that would have crossed the book (it is not applied). Those conditions do
not raise from `apply_message`; the reason is in `book.resync_reason`, and later deltas are
ignored (still `resync_needed=True`) until a snapshot arrives. Malformed input does raise:
`BookParseError` (not JSON / not an orderbook message) or `BookValidationError` (a bad
level), and a crossed snapshot raises `BookCrossed`; the book is unchanged in every case.
Use `book.price_of(ticks)` / `book.size_of(lots)` to turn the integers into `Decimal`.

`apply_snapshot` / `apply_delta` take Bybit's `[[price, size], ...]` lists and raise
`BookValidationError`, `BookCrossed` or `BookResyncRequired` instead of returning a flag.
`apply_raw(raw)` is `apply_message` returning only `resync_needed` (the benchmark shape).
"""

from bot.book._native import OrderBook, __version__

__all__ = ["OrderBook", "__version__"]
