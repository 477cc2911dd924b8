"""The Rust OrderBook through its Python API: validation, sequence rules, reads, errors."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.book import OrderBook
from bot.errors import (
    BookCrossed,
    BookError,
    BookParseError,
    BookResyncRequired,
    BookValidationError,
)

BIDS = [["65000.10", "1.250"], ["65000.00", "0.500"], ["64999.50", "2"]]
ASKS = [["65000.20", "0.400"], ["65000.40", "1.000"], ["65001", "3.5"]]


def msg(kind: str, b: list[list[str]], a: list[list[str]], u: int, seq: int = 7) -> bytes:
    import orjson

    return orjson.dumps({"topic": "orderbook.50.BTCUSDT", "type": kind, "ts": 1700000000123,
                         "data": {"s": "BTCUSDT", "b": b, "a": a, "u": u, "seq": seq},
                         "cts": 1700000000120})


@pytest.fixture
def book() -> OrderBook:
    b = OrderBook("0.1", "0.001", depth=50)
    b.apply_snapshot(BIDS, ASKS, update_id=100, seq=5)
    return b


def state(b: OrderBook) -> tuple[object, ...]:
    return (b.top_ticks(1000), b.update_id, b.seq, b.has_snapshot, b.resync_reason)


def reason(b: OrderBook) -> str | None:
    return b.resync_reason


def test_snapshot_reads_are_exact_decimals(book: OrderBook) -> None:
    assert book.best_bid() == (Decimal("65000.1"), Decimal("1.25"))
    assert book.best_ask() == (Decimal("65000.2"), Decimal("0.4"))
    assert book.best_bid_ticks() == 650001 and book.best_ask_ticks() == 650002
    assert book.best_bid_price() == Decimal("65000.1") and book.best_ask_price() == Decimal("65000.2")
    assert book.bbo_ticks() == (650001, 1250, 650002, 400)
    assert book.mid() == Decimal("65000.15")
    assert book.spread() == Decimal("0.1") and book.spread_ticks() == 1
    assert book.microprice() == (Decimal("65000.1") * 400 + Decimal("65000.2") * 1250) / 1650
    assert book.level_counts() == (3, 3)
    assert book.update_id == 100 and book.seq == 5
    bids, asks = book.top(2)
    assert bids == [(Decimal("65000.1"), Decimal("1.25")), (Decimal("65000"), Decimal("0.5"))]
    assert asks == [(Decimal("65000.2"), Decimal("0.4")), (Decimal("65000.4"), Decimal("1"))]
    assert book.tick_size == Decimal("0.1") and book.lot_size == Decimal("0.001")


def test_depth_imbalance_and_vwap(book: OrderBook) -> None:
    # mid 65000.15; 0.1 bps of it is ~0.65: bids >= 64999.50 and asks <= 65000.80 qualify
    assert book.depth_within_bps("0.1") == (Decimal("3.75"), Decimal("1.4"))
    assert book.depth_within_bps(0) == (Decimal("0"), Decimal("0"))
    assert book.imbalance(1) == (Decimal("1.25") - Decimal("0.4")) / Decimal("1.65")
    assert book.vwap("Buy", "1.4") == (Decimal("65000.2") * 4 + Decimal("65000.4") * 10) / 14
    assert book.vwap("sell", "0.001") == Decimal("65000.1")
    assert book.vwap("Buy", "100") is None
    with pytest.raises(BookValidationError):
        book.vwap("Up", "1")


def test_empty_book_reads_are_none() -> None:
    b = OrderBook("0.5", "1")
    assert b.best_bid() is None and b.best_ask() is None and b.mid() is None
    assert b.best_bid_price() is None and b.best_ask_price() is None
    assert b.microprice() is None and b.spread() is None and b.imbalance() is None
    assert b.depth_within_bps(10) is None and b.top(5) == ([], [])
    assert b.update_id == 0 and not b.has_snapshot and not b.resync_needed


@pytest.mark.parametrize(
    ("bids", "asks", "exc", "fragment"),
    [
        ([["65000.15", "1"]], [], BookValidationError, "bid level 0"),
        ([["65000.1", "1"]], [["65000.2", "0.0005"]], BookValidationError, "ask level 0"),
        ([["65000.1", "1"], ["NaN", "1"]], [], BookValidationError, "bid level 1"),
        ([["65000.1", "1"], ["65000", "-1"]], [], BookValidationError, "bid level 1"),
        ([["inf", "1"]], [], BookValidationError, "bid level 0"),
        ([["0", "1"]], [], BookValidationError, "price must be positive"),
        ([["65000.1", "0"]], [], BookValidationError, "size must be positive"),
        ([["65000.1", "1"], ["65000.1", "2"]], [], BookValidationError, "duplicate price"),
        ([["65000.0", "1"], ["65000.1", "2"]], [], BookValidationError, "bid level 1"),
        ([], [["65000.3", "1"], ["65000.2", "2"]], BookValidationError, "out of order"),
        ([["1e3", "1"]], [], BookValidationError, "not a plain"),
        ([["65000.1"]], [], BookValidationError, "pair"),
        ([[65000.1, "1"]], [], BookValidationError, "float"),
        ([["65000.2", "1"]], [["65000.2", "1"]], BookCrossed, "bid level 0 vs ask level 0"),
    ],
)
def test_bad_snapshot_is_rejected_naming_the_level_and_book_is_unchanged(
    book: OrderBook, bids: list[list[Any]], asks: list[list[Any]], exc: type[BookError], fragment: str
) -> None:
    before = state(book)
    with pytest.raises(exc) as info:
        book.apply_snapshot(bids, asks, update_id=500)
    assert fragment in str(info.value)
    assert state(book) == before


def test_validation_error_carries_side_and_index(book: OrderBook) -> None:
    with pytest.raises(BookValidationError) as info:
        book.apply_snapshot(BIDS, [*ASKS, ["65002.05", "1"]])
    assert info.value.context == {"side": "ask", "index": 3}
    assert '"65002.05"' in str(info.value) and "tick grid" in str(info.value)


def test_snapshot_accepts_decimal_and_int_and_truncates_to_depth() -> None:
    b = OrderBook(Decimal("0.1"), "0.001", depth=2)
    b.apply_snapshot([(Decimal("10.0"), "1"), (9, "1"), ("8.9", "1")], [["10.1", Decimal("0.5")]])
    assert b.top_ticks(10) == ([(100, 1000), (90, 1000)], [(101, 500)])


def test_delta_deletes_inserts_replaces_and_tracks_u(book: OrderBook) -> None:
    assert book.apply_delta([["65000.10", "0"], ["64999.90", "1"]], [], update_id=101) is True
    assert book.best_bid_ticks() == 650000 and book.update_id == 101
    book.apply_delta([["64990", "7"], ["65000.00", "0.001"]], [["65000.20", "9"]], update_id=102, seq=9)
    assert book.top_ticks(2) == ([(650000, 1), (649999, 1000)], [(650002, 9000), (650004, 1000)])
    assert book.level_counts() == (4, 3) and book.seq == 9
    book.apply_delta([["12345", "0"]], [], update_id=103)  # deleting an unknown price is a no-op
    assert book.level_counts() == (4, 3)


def test_duplicate_delta_is_ignored(book: OrderBook) -> None:
    before = state(book)
    assert book.apply_delta([["65000.10", "0"]], [], update_id=100) is False
    assert book.apply_delta([["65000.10", "0"]], [], update_id=42) is False
    assert state(book) == before


def test_gap_requires_resync_until_next_snapshot(book: OrderBook) -> None:
    before = book.top_ticks(100)
    with pytest.raises(BookResyncRequired) as info:
        book.apply_delta([["65000.10", "0"]], [], update_id=102)
    assert info.value.context == {"reason": "gap"} and "expected u=101, got u=102" in str(info.value)
    assert book.resync_needed and book.resync_reason == "gap" and book.top_ticks(100) == before
    with pytest.raises(BookResyncRequired):
        book.apply_delta([["65000.10", "0"]], [], update_id=101)
    book.apply_snapshot(BIDS, ASKS, update_id=200)
    assert not book.resync_needed
    assert book.apply_delta([], [], update_id=201) is True


def test_delta_with_u_1_is_a_reset(book: OrderBook) -> None:
    with pytest.raises(BookResyncRequired):
        book.apply_delta([], [], update_id=1)
    assert book.resync_reason == "reset"


def test_delta_before_snapshot_requires_resync() -> None:
    b = OrderBook("0.1", "0.001")
    with pytest.raises(BookResyncRequired):
        b.apply_delta([["1", "1"]], [])
    assert b.resync_reason == "no_snapshot" and b.level_counts() == (0, 0)


def test_crossing_delta_is_undone_and_requires_resync(book: OrderBook) -> None:
    before = book.top_ticks(100)
    with pytest.raises(BookCrossed):
        book.apply_delta([["65000.40", "1"], ["65000.10", "0"]], [["65000.20", "0"]], update_id=101)
    assert book.top_ticks(100) == before and book.update_id == 100
    assert book.resync_reason == "crossed"


def test_invalid_delta_leaves_book_unchanged(book: OrderBook) -> None:
    before = state(book)
    with pytest.raises(BookValidationError):
        book.apply_delta([["65000.10", "0"], ["65000.12", "1"]], [], update_id=101)
    assert state(book) == before


def test_apply_message_returns_ticks_and_lots(book: OrderBook) -> None:
    r = book.apply_message(msg("delta", [["65000.10", "0"]], [["65000.20", "0.5"]], 101))
    assert r == (650000, 500, 650002, 500, 101, False)
    assert book.price_of(r[0]) == Decimal("65000") and book.size_of(r[1]) == Decimal("0.5")
    assert book.ticks_of("65000.1") == 650001 and book.lots_of(Decimal("0.25")) == 250
    assert book.apply_raw(msg("delta", [], [], 102).decode()) is False  # text frames work too
    assert book.apply_raw(bytearray(msg("delta", [], [], 103))) is False


def test_apply_message_reports_resync_instead_of_raising(book: OrderBook) -> None:
    r = book.apply_message(msg("delta", [["65000.10", "0"]], [], 105))
    assert r == (650001, 1250, 650002, 400, 100, True) and book.resync_reason == "gap"
    assert book.apply_message(msg("delta", [], [], 101))[-1] is True
    r = book.apply_message(msg("snapshot", [["10", "1"]], [["11", "1"]], 1))
    assert r == (100, 1000, 110, 1000, 1, False)
    r = book.apply_message(msg("delta", [["11", "1"]], [], 2))
    assert r[-1] is True and reason(book) == "crossed" and book.best_bid_ticks() == 100


def test_apply_message_before_snapshot_needs_resync() -> None:
    b = OrderBook("0.1", "0.001")
    assert b.apply_message(msg("delta", [["1", "1"]], [], 5)) == (None, None, None, None, 0, True)


@pytest.mark.parametrize(
    ("raw", "exc"),
    [
        (b"", BookParseError),
        (b"\xff\xfe", BookParseError),
        (b'{"type":"delta"}', BookParseError),
        (b'{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"b":[],"a":[],"u":1}}', BookParseError),
        (b'{"type":"snapshot","data":{"b":[["1","1"]],"a":[],"u":1}} trailing', BookParseError),
        (b'{"type":"snapshot","data":{"b":[["NaN","1"]],"a":[],"u":1}}', BookValidationError),
        (b'{"type":"snapshot","data":{"b":[["1","-1"]],"a":[],"u":1}}', BookValidationError),
        (b'{"type":"snapshot","data":{"b":[[1.5,"1"]],"a":[],"u":1}}', BookParseError),
        (b'{"type":"snapshot","data":{"b":[["2","1"]],"a":[["1","1"]],"u":1}}', BookCrossed),
    ],
)
def test_apply_message_raises_book_errors_on_bad_input(book: OrderBook, raw: bytes, exc: type[BookError]) -> None:
    before = state(book)
    with pytest.raises(exc):
        book.apply_message(raw)
    assert state(book) == before


def test_apply_message_rejects_non_bytes_with_type_error(book: OrderBook) -> None:
    with pytest.raises(TypeError):
        book.apply_message(123)  # type: ignore[arg-type]  # deliberately wrong type


@pytest.mark.parametrize(("tick", "lot"), [("0", "1"), ("-1", "1"), ("abc", "1"), ("0.1", "1e-3")])
def test_constructor_rejects_bad_steps(tick: str, lot: str) -> None:
    with pytest.raises(BookValidationError):
        OrderBook(tick, lot)


def test_clear_and_repr(book: OrderBook) -> None:
    assert "best_bid=65000.1" in repr(book)
    book.clear()
    assert book.level_counts() == (0, 0) and book.update_id == 0 and not book.has_snapshot


def test_fifty_level_book_stays_small() -> None:
    import sys

    b = OrderBook("0.1", "0.001", depth=50)
    bids = [[f"{65000 - i * 0.1:.1f}", "1"] for i in range(60)]
    asks = [[f"{65000.1 + i * 0.1:.1f}", "2"] for i in range(60)]
    b.apply_snapshot(bids, asks, update_id=1)
    for u in range(2, 2002):
        p = f"{65000 - (u % 50) * 0.1:.1f}"
        b.apply_delta([[p, "0" if u % 3 == 0 else f"{u % 97 + 1}"]], [], update_id=u)
        b.best_bid()
    assert b.level_counts()[1] == 50 and b.level_counts()[0] <= 50
    assert sys.getsizeof(b) < 64 * 1024  # Rust-side bytes; the budget is 1 MB per book


def test_str_without_utf8_form_is_a_book_error_not_unicode_error(book: OrderBook) -> None:
    # A lone surrogate has no UTF-8 form: malformed input, so a BookError like any other.
    before = state(book)
    with pytest.raises(BookParseError, match="lone surrogate"):
        book.apply_message('{"type":"snapshot","data":{"b":[["\ud800","1"]],"a":[],"u":1}}')
    with pytest.raises(BookValidationError, match="bid level 1") as info:
        book.apply_snapshot([["65000.1", "1"], ["\ud800", "1"]], [])
    assert (info.value.context["side"], info.value.context["index"]) == ("bid", 1)
    with pytest.raises(BookValidationError, match="ask level 0"):
        book.apply_delta([], [["65000.3", "\udfff"]], update_id=101)
    assert state(book) == before
    for read in (lambda: book.ticks_of("\ud800"), lambda: book.lots_of("\ud800"),
                 lambda: book.vwap("Buy", "\ud800"), lambda: book.depth_within_bps("\ud800"),
                 lambda: OrderBook("\ud800", "1")):
        with pytest.raises(BookValidationError, match="lone surrogate"):
            read()
