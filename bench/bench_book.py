"""RUST-001/002: the Rust OrderBook's own figures beside the shared harness.

Same seeded Bybit orderbook.50 stream as /work/shared/bench/orderbook_peers.py. Times (best
and median of --reps passes, ns per message) for the book's entry points, the orjson.loads
floor on the same bytes, and the memory of a 50-level book (Rust-side bytes via __sizeof__,
and RSS growth per book over many live books, Decimal caches included).

Run: .venv/bin/python bench/bench_book.py [--n 20000] [--reps 7] [--harness /work/shared/bench]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable

import orjson

from bot.book import OrderBook


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        import os

        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _book() -> OrderBook:
    return OrderBook("0.1", "0.001", depth=50)


def _time_interleaved(cases: list[tuple[str, Callable[[OrderBook], None]]], n_msgs: int,
                      reps: int) -> dict[str, list[float]]:
    """ns/msg per pass, the cases taking turns pass by pass so load swings hit them alike."""
    runs: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(reps):
        for name, run in cases:
            book = _book()
            gc.collect()
            t0 = time.perf_counter_ns()
            run(book)
            runs[name].append((time.perf_counter_ns() - t0) / n_msgs)
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--books", type=int, default=300, help="live books for the RSS-per-book figure")
    p.add_argument("--harness", default="/work/shared/bench")
    args = p.parse_args(argv)
    sys.path.insert(0, args.harness)
    import orderbook_peers as obp  # type: ignore[import-not-found]  # the shared harness

    msgs = obp.generate_stream(args.n, args.seed).messages
    decoded = [orjson.loads(m) for m in msgs]
    loads = orjson.loads

    def raw_only(b: OrderBook) -> None:
        f = b.apply_raw
        for m in msgs:
            f(m)

    def message_only(b: OrderBook) -> None:
        f = b.apply_message
        for m in msgs:
            f(m)

    def raw_then_reads(bid: str, ask: str) -> Callable[[OrderBook], None]:
        """apply_raw, then one read per side (methods bound before the loop, as the harness does)."""
        def run(b: OrderBook) -> None:
            f, bb, ba = b.apply_raw, getattr(b, bid), getattr(b, ask)
            for m in msgs:
                f(m)
                bb()
                ba()
        return run

    def lists_decimal_reads(b: OrderBook) -> None:
        snap, delta, bb, ba = b.apply_snapshot, b.apply_delta, b.best_bid, b.best_ask
        for m in decoded:
            d = m["data"]
            (delta if m["type"] == "delta" else snap)(d["b"], d["a"])
            bb()
            ba()

    def orjson_floor(b: OrderBook) -> None:
        for m in msgs:
            loads(m)

    cases: list[tuple[str, Callable[[OrderBook], None]]] = [
        ("apply_message(raw) -> top tuple (the hot path)", message_only),
        ("apply_raw(raw)", raw_only),
        ("apply_raw + best_bid_ticks/best_ask_ticks", raw_then_reads("best_bid_ticks", "best_ask_ticks")),
        ("apply_raw + best_bid_price/best_ask_price (Decimal) [harness e2e]",
         raw_then_reads("best_bid_price", "best_ask_price")),
        ("apply_raw + best_bid/best_ask ((Decimal, Decimal) pairs)", raw_then_reads("best_bid", "best_ask")),
        ("apply_snapshot/delta(lists) + Decimal reads  [harness apply]", lists_decimal_reads),
        ("floor: orjson.loads(raw) alone", orjson_floor),
    ]
    for _, run in cases:
        run(_book())                                   # warm-up
    print(f"stream: seed {args.seed}, {len(msgs):,} messages; best / median of {args.reps} passes, "
          "cases interleaved pass by pass")
    print(f"{'case':66s} {'best ns/msg':>12s} {'median':>8s} {'msgs/s (best)':>14s}")
    for name, runs in _time_interleaved(cases, len(msgs), args.reps).items():
        best, med = min(runs), statistics.median(runs)
        print(f"{name:66s} {best:12,.0f} {med:8,.0f} {1e9 / best:14,.0f}")

    book = _book()
    for m in msgs:
        book.apply_raw(m)
    print(f"\nmemory, one 50-level book after the whole stream: levels {book.level_counts()}, "
          f"Rust-side sys.getsizeof = {sys.getsizeof(book):,} B")
    gc.collect()
    rss0 = _rss_kib()
    books = []
    for _ in range(args.books):
        b = _book()
        for m in msgs[:2000]:
            b.apply_raw(m)
            b.best_bid()
            b.best_ask()
        books.append(b)
    gc.collect()
    per_book = (_rss_kib() - rss0) * 1024 / args.books
    print(f"RSS growth per live book ({args.books} books, 2,000 messages each, Decimal reads, "
          f"caches filled): {per_book:,.0f} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
