"""Fuzz-style: arbitrary and mutated bytes into OrderBook.apply_message raise BookError or apply,
never crash the interpreter, and never change the book when they raise."""

from __future__ import annotations

import os

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.book import OrderBook
from bot.errors import BookError

BASE = orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1700000000123,
                     "data": {"s": "BTCUSDT", "b": [["30000.10", "0"], ["29999.90", "1.250"]],
                              "a": [["30000.50", "0.400"]], "u": 6, "seq": 99887766},
                     "cts": 1700000000120})
SNAP = (b'{"topic":"orderbook.50.BTCUSDT","type":"snapshot","data":{"b":[["30000.1","1"],'
        b'["29999.9","2"]],"a":[["30000.5","1"]],"u":5}}')
# BOOK_HYPOTHESIS_SCALE=N multiplies the example counts for a long fuzz run.
SCALE = int(os.environ.get("BOOK_HYPOTHESIS_SCALE", "1"))
# Any character, lone surrogates (no UTF-8 form) often: plain text() would almost never draw one.
ANY_CHAR = st.characters(exclude_categories=()) | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF,
                                                                 exclude_categories=())
TOKENS = [b'"', b"\\", b"[", b"]", b"{", b"}", b",", b":", b"0", b"-", b".", b"e9", b"NaN", b"null",
          b'"0"', b"\\u0000", b"\xff", b"99999999999999999999999", b" ", b'"snapshot"', b'"u":1']


def _fresh() -> OrderBook:
    book = OrderBook("0.1", "0.001", depth=50)
    book.apply_message(SNAP)
    return book


def _check(book: OrderBook, raw: bytes | str) -> None:
    before = (book.top_ticks(100), book.update_id, book.resync_reason)
    try:
        r = book.apply_message(raw)
    except BookError:
        assert (book.top_ticks(100), book.update_id, book.resync_reason) == before
        return
    assert isinstance(r, tuple) and len(r) == 6
    bids, asks = book.top_ticks(100)
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    if bids and asks:
        assert bids[0][0] < asks[0][0]


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(raw: bytes) -> None:
    _check(_fresh(), raw)


@settings(max_examples=400 * SCALE, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(BASE)), st.integers(0, 3), st.sampled_from(TOKENS)),
                min_size=1, max_size=6))
def test_mutated_real_messages_never_crash(edits: list[tuple[int, int, bytes]]) -> None:
    raw = bytearray(BASE)
    for pos, op, tok in edits:
        pos = min(pos, len(raw))
        if op == 0:
            raw[pos:pos + 1] = tok          # replace one byte
        elif op == 1:
            raw[pos:pos] = tok              # insert
        elif op == 2:
            del raw[pos:pos + len(tok)]     # delete
        else:
            del raw[pos:]                   # truncate
    _check(_fresh(), bytes(raw))


@settings(max_examples=300 * SCALE, deadline=None)
@given(st.text(ANY_CHAR, max_size=300) | st.builds(lambda head, t: head + t,
                                                   st.sampled_from([BASE.decode(), BASE.decode()[:60]]),
                                                   st.text(ANY_CHAR, max_size=40)))
@example('{"type":"delta","data":{"b":[["\ud800","1"]],"a":[],"u":6}}')
def test_random_text_never_crashes(raw: str) -> None:
    # Text frames arrive as str; any str, lone surrogates included, applies or raises BookError.
    _check(_fresh(), raw)


def test_pathological_inputs_raise_book_errors() -> None:
    book = _fresh()
    for raw in [b"[" * 100_000, b'{"a":' * 50_000, b'{"type":"delta","data":{"b":[' + b'["1","1"],' * 20_000,
                b'"' + b"\\u" * 1000, b"\x00" * 1000, b'{"type":"snapshot","data":{"u":18446744073709551616}}']:
        _check(book, raw)


@settings(max_examples=150 * SCALE, deadline=None)
@given(bid=st.integers(1, 2**62 - 1), gap=st.integers(1, 2**62 - 1), size=st.integers(1, 2**63 - 1),
       bps=st.from_regex(r"[0-9]{1,30}(\.[0-9]{1,18})?", fullmatch=True), qty=st.integers(1, 2**63 - 1))
def test_reads_on_extreme_books_return_or_raise_book_errors(bid: int, gap: int, size: int, bps: str,
                                                             qty: int) -> None:
    book = OrderBook("1", "1")
    book.apply_snapshot([[str(bid), str(size)]], [[str(bid + gap), str(size)]])
    for read in (book.mid, book.microprice, book.spread, book.imbalance, lambda: book.top(5),
                 lambda: book.depth_within_bps(bps), lambda: book.vwap("Buy", qty),
                 lambda: book.vwap("Sell", str(qty)), lambda: book.price_of(-(2**63)),
                 lambda: book.size_of(2**63 - 1)):
        try:
            read()
        except BookError:
            pass
