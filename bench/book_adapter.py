"""Adds the project's Rust book to the shared order-book harness (`orderbook_peers.py --extra`).

    python /work/shared/bench/orderbook_peers.py --extra bench/book_adapter.py \\
        --contenders "project rust book,orjson+SortedDict,floor: orjson.loads" --n 20000 --reps 3

Two contenders, both the same `bot.book.OrderBook` (tick 0.1, lot 0.001, depth 50):

- "project rust book": e2e = `apply_raw(raw)` (Rust parses and applies the bytes; no Python
  JSON decoder), then the best bid and best ask *prices* (`best_bid_price()` /
  `best_ask_price()`, exact `Decimal`), which is what the harness's own contenders read
  (`peekitem(-1)[0]`, `bids[0][0]`, `best_bid_price()`). The apply stage feeds
  orjson-decoded `[price, size]` string lists to `apply_snapshot` / `apply_delta`.
- "project rust book (pairs)" (not in a plain run; name it in --contenders): the same, but
  reading `best_bid()` / `best_ask()`, i.e. a (Decimal price, Decimal size) pair per side.

The factory returns a namespace of the book's bound methods, so the harness calls straight
into Rust with no Python wrapper in between.
"""

from __future__ import annotations

from types import SimpleNamespace

import orderbook_peers as obp  # type: ignore[import-not-found]  # on sys.path when the harness runs


def _book() -> object:
    from bot.book import OrderBook

    return OrderBook("0.1", "0.001", depth=obp.DEPTH)   # BTCUSDT linear: tick 0.1, lot 0.001


def _view(book: object, pairs: bool) -> SimpleNamespace:
    b: object = book
    return SimpleNamespace(
        apply_raw=b.apply_raw, apply_snapshot=b.apply_snapshot, apply_delta=b.apply_delta,  # type: ignore[attr-defined]
        best_bid=b.best_bid if pairs else b.best_bid_price,  # type: ignore[attr-defined]
        best_ask=b.best_ask if pairs else b.best_ask_price,  # type: ignore[attr-defined]
        top=b.top, book=b)  # type: ignore[attr-defined]


obp.register_protocol_book(
    "project rust book", lambda: _view(_book(), pairs=False),
    note="bot.book.OrderBook (Rust, PyO3): apply_raw parses the bytes in Rust; reads "
         "best_bid_price()/best_ask_price() (Decimal)")
obp.register_protocol_book(
    "project rust book (pairs)", lambda: _view(_book(), pairs=True), default=False,
    note="same book; reads best_bid()/best_ask() -> (Decimal price, Decimal size)")
