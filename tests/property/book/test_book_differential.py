"""Differential: the Rust OrderBook and the pure-Python ReferenceBook agree on every sequence."""

from __future__ import annotations

import os
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.book import OrderBook
from bot.book.reference import ReferenceBook
from bot.errors import BookError

GRIDS = [("0.1", "0.001"), ("0.5", "1"), ("0.25", "0.01")]
# BOOK_HYPOTHESIS_SCALE=N multiplies the example counts for a long soak of the differential tests.
SCALE = int(os.environ.get("BOOK_HYPOTHESIS_SCALE", "1"))
SETTINGS = settings(max_examples=120 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fmt(units: int, step: str, pad: int) -> str:
    """units * step as a decimal string, with `pad` extra trailing zeros (Bybit pads prices)."""
    from decimal import Decimal

    s = format(units * Decimal(step), "f")
    if pad and "." not in s:
        s += "."
    return s + "0" * pad


@st.composite
def texts(draw: st.DrawFn, step: str, lo: int, hi: int, zero: bool) -> str:
    kind = draw(st.integers(0, 299))
    if kind == 0:
        return draw(st.sampled_from(["NaN", "inf", "-1", "1e3", "", " 1", "+2", "0x10", "1.2.3", "."]))
    if kind == 1:
        return draw(st.from_regex(r"[0-9]{1,3}\.[0-9]{1,5}", fullmatch=True))  # often off-grid
    if zero and kind < 60:
        return draw(st.sampled_from(["0", "0.0", "0.000"]))
    return _fmt(draw(st.integers(lo, hi)), step, draw(st.integers(0, 2)))


@st.composite
def sides(draw: st.DrawFn, tick: str, lot: str, zero: bool, lo: int = 190, hi: int = 210) -> list[list[str]]:
    n = draw(st.integers(0, 5))
    return [[draw(texts(tick, lo, hi, False)), draw(texts(lot, 1, 40, zero))] for _ in range(n)]


@st.composite
def ordered_snapshot(draw: st.DrawFn, tick: str, lot: str) -> tuple[list[list[str]], list[list[str]]]:
    mid = draw(st.integers(195, 205))
    b = sorted(draw(st.sets(st.integers(180, mid), max_size=10)), reverse=True)
    a = sorted(draw(st.sets(st.integers(mid + 1, 220), max_size=10)))
    size = st.integers(1, 40)
    return ([[_fmt(p, tick, 1), _fmt(draw(size), lot, 0)] for p in b],
            [[_fmt(p, tick, 0), _fmt(draw(size), lot, 1)] for p in a])


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, str, int, list[tuple[str, Any, Any, int | None]]]:
    tick, lot = draw(st.sampled_from(GRIDS))
    depth = draw(st.sampled_from([0, 3, 50]))
    ops: list[tuple[str, Any, Any, int | None]] = []
    last = 0
    if draw(st.integers(0, 4)):  # usually start from a good snapshot, as a live stream does
        ops.append(("snapshot", *draw(ordered_snapshot(tick, lot)), 1))
        last = 1
    for _ in range(draw(st.integers(1, 25))):
        # mostly in sequence, sometimes absent, duplicate, a gap or a reset (u == 1)
        u = draw(st.sampled_from([last + 1] * 24 + [None, last, last + 2, 1]))
        last = max(last, u or 0)
        kind = draw(st.integers(0, 9))
        if kind < 2:
            b, a = draw(ordered_snapshot(tick, lot))
            ops.append(("snapshot", b, a, u))
        elif kind == 2:
            ops.append(("snapshot", draw(sides(tick, lot, True)), draw(sides(tick, lot, True)), u))
        else:
            # bids below asks except near 200, so most deltas apply and some cross
            ops.append(("delta", draw(sides(tick, lot, True, 180, 201)), draw(sides(tick, lot, True, 200, 220)), u))
    return tick, lot, depth, ops


def _observe(book: Any) -> tuple[Any, ...]:
    return (book.top(5), book.level_counts(), book.update_id, book.resync_reason, book.best_bid(),
            book.best_ask())


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except BookError as exc:
        return ("error", type(exc).__name__)


@SETTINGS
@given(scenarios())
def test_native_book_matches_reference_through_snapshot_and_delta(sc: tuple[str, str, int, list[Any]]) -> None:
    tick, lot, depth, ops = sc
    native, ref = OrderBook(tick, lot, depth), ReferenceBook(tick, lot, depth)
    for kind, b, a, u in ops:
        want = _outcome(getattr(ref, f"apply_{kind}"), b, a, u)
        got = _outcome(getattr(native, f"apply_{kind}"), b, a, u)
        assert got == want, (kind, b, a, u)
        assert _observe(native) == _observe(ref)


@SETTINGS
@given(scenarios())
def test_native_apply_message_matches_reference(sc: tuple[str, str, int, list[Any]]) -> None:
    tick, lot, depth, ops = sc
    native, ref = OrderBook(tick, lot, depth), ReferenceBook(tick, lot, depth)
    for kind, b, a, u in ops:
        raw = orjson.dumps({"topic": "orderbook.50.X", "type": kind, "ts": 1,
                            "data": {"s": "X", "b": b, "a": a, "u": u or 1, "seq": 3}, "cts": 0})
        want = _outcome(ref.apply_message, raw)
        got = _outcome(native.apply_message, raw)
        assert got == want, raw
        assert _observe(native) == _observe(ref)


@settings(max_examples=60 * SCALE, deadline=None)
@given(st.lists(st.tuples(st.integers(190, 210), st.integers(0, 30)), max_size=40))
def test_reads_match_reference_on_valid_books(changes: list[tuple[int, int]]) -> None:
    native, ref = OrderBook("0.1", "0.001"), ReferenceBook("0.1", "0.001")
    snap = ([["19.9", "1"], ["19.8", "2"]], [["20.1", "1"], ["20.3", "4"]])
    native.apply_snapshot(*snap)
    ref.apply_snapshot(*snap)
    for p, q in changes:
        lv = [[_fmt(p, "0.1", 0), _fmt(q, "0.001", 0)]]
        args = (lv, []) if p < 200 else ([], lv)
        assert _outcome(native.apply_delta, *args) == _outcome(ref.apply_delta, *args)
    assert native.top(100) == ref.top(100)
    bb, ba = ref.best_bid(), ref.best_ask()
    if bb and ba:
        assert native.mid() == (bb[0] + ba[0]) / 2
        assert native.spread() == ba[0] - bb[0]
