"""Adds the project's Rust book to the shared order-book harness (`orderbook_peers.py --extra`).

    python /work/shared/bench/orderbook_peers.py --extra bench/book_adapter.py \\
        --contenders "project rust book,orjson+SortedDict,floor: orjson.loads" --n 20000 --reps 3

The book already has the harness shape: `apply_raw(raw)` (the e2e stage: Rust parses and
applies the raw bytes), `apply_snapshot` / `apply_delta` (the apply stage: orjson-decoded
lists of strings), `best_bid()` / `best_ask()` ((Decimal, Decimal) pairs) and `top(n)`.
"""

from __future__ import annotations

import orderbook_peers as obp  # type: ignore[import-not-found]  # on sys.path when the harness runs


def _make() -> object:
    from bot.book import OrderBook

    return OrderBook("0.1", "0.001", depth=obp.DEPTH)   # BTCUSDT linear: tick 0.1, lot 0.001


obp.register_protocol_book(
    "project rust book", _make,
    note="bot.book.OrderBook (Rust, PyO3): apply_raw parses the bytes in Rust; best_bid/best_ask "
         "return (Decimal, Decimal)")
