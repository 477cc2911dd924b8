"""Back-pressure: book updates coalesce to the latest state for a slow consumer; private events never drop."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.common import json_io
from bot.domain import Level, Symbol
from bot.exchange.bybit.parse import parse_ws_message
from bot.exchange.bybit.streamqueue import BookMirror, EventQueue, check_delta
from bot.exchange.events import BookUpdate, ExchangeEvent, StreamKind, StreamState, StreamStatus

SYM = Symbol("BTCUSDT")


def book(u: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]], *, snapshot: bool = False) -> BookUpdate:
    msg = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot" if snapshot else "delta", "ts": u, "cts": u,
           "data": {"s": "BTCUSDT", "b": [list(b) for b in bids], "a": [list(a) for a in asks], "u": u, "seq": u}}
    [ev] = parse_ws_message(json_io.dumps(msg), ts_recv_ns=u)
    assert isinstance(ev, BookUpdate)
    return ev


def test_check_delta_verdicts() -> None:
    assert check_delta(None, 5) == "no_snapshot"
    assert check_delta(10, 11) == "ok"
    assert check_delta(10, 10) == "duplicate" and check_delta(10, 3) == "duplicate"
    assert check_delta(10, 12) == "gap"
    assert check_delta(10, 1) == "reset"


def test_consumer_keeping_up_sees_every_delta_in_order() -> None:
    q, m = EventQueue(book_backlog=4), BookMirror(SYM, 50)
    snap = book(1, [("100", "1")], [("101", "1")], snapshot=True)
    m.apply(snap)
    q.put_book(snap, m)
    assert q.get_nowait() is snap
    for u in range(2, 6):
        ev = book(u, [("100", str(u))], [])
        m.apply(ev)
        q.put_book(ev, m)
        assert q.get_nowait() is ev
    assert q.get_nowait() is None and q.coalesced_total == 0


def test_slow_consumer_gets_one_snapshot_of_latest_state_and_every_private_event() -> None:
    q, m = EventQueue(book_backlog=4), BookMirror(SYM, 50)
    snap = book(1, [("100", "1"), ("99", "2")], [("101", "1")], snapshot=True)
    m.apply(snap)
    q.put_book(snap, m)
    states: list[ExchangeEvent] = []
    for u in range(2, 200):
        ev = book(u, [("100", "0"), (str(90 + u % 5), str(u))], [("101", str(u))])
        m.apply(ev)
        q.put_book(ev, m)
        st = StreamState(StreamKind.PRIVATE, StreamStatus.CONNECTED, attempt=u)
        states.append(st)
        q.put(st)
    got: list[ExchangeEvent] = []
    while (out := q.get_nowait()) is not None:
        got.append(out)
    books = [e for e in got if isinstance(e, BookUpdate)]
    assert [e for e in got if isinstance(e, StreamState)] == states  # never dropped, in order
    assert len(books) < 10 and q.coalesced_total == 1
    last = books[-1]
    assert last.coalesced and last.is_snapshot and last.update_id == 199
    assert last.asks == (Level(Decimal("101"), Decimal("199")),)
    assert Decimal("100") not in {lv.price for lv in last.bids}
    assert [lv.price for lv in last.bids] == sorted((lv.price for lv in last.bids), reverse=True)
    # The raw bytes are a Bybit snapshot of the same state (what the Rust book applies).
    [again] = parse_ws_message(last.raw, ts_recv_ns=0)
    assert isinstance(again, BookUpdate) and again.is_snapshot and again.bids == last.bids and again.asks == last.asks


def test_drop_books_forgets_pending_updates() -> None:
    q, m = EventQueue(book_backlog=4), BookMirror(SYM, 50)
    snap = book(1, [("100", "1")], [("101", "1")], snapshot=True)
    m.apply(snap)
    q.put_book(snap, m)
    q.put_book(book(2, [("100", "2")], []), m)
    q.drop_books(SYM)
    assert q.get_nowait() is None


def test_mirror_snapshot_without_levels() -> None:
    m = BookMirror(SYM, 1)
    m.apply(book(3, [], [], snapshot=True))
    ev = m.snapshot_event(0)
    assert ev.bids == () and ev.asks == () and ev.update_id == 3


async def test_get_waits_for_put() -> None:
    import asyncio

    q = EventQueue()
    waiter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    st = StreamState(StreamKind.PUBLIC, StreamStatus.CONNECTED)
    q.put(st)
    assert await asyncio.wait_for(waiter, 1) is st


level = st.tuples(st.integers(95, 105).map(str), st.sampled_from(["0", "1", "2.5", "7"]))
step: st.SearchStrategy[tuple[str, object, object]] = st.one_of(
    st.tuples(st.just("delta"), st.lists(level, max_size=3), st.lists(level, max_size=3)),
    st.tuples(st.just("pull"), st.integers(0, 5), st.just([])))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=80), backlog=st.integers(1, 6))
def test_whatever_the_consumer_pace_the_consumed_book_equals_the_latest_state(
        steps: list[tuple[str, object, object]], backlog: int) -> None:
    q, m = EventQueue(book_backlog=backlog), BookMirror(SYM, 50)
    snap = book(1, [("90", "1")], [("110", "1")], snapshot=True)
    m.apply(snap)
    q.put_book(snap, m)
    ref_b: dict[Decimal, Decimal] = {}
    ref_a: dict[Decimal, Decimal] = {}
    last_u = 0

    def consume(n: int) -> None:
        nonlocal last_u
        for _ in range(n):
            ev = q.get_nowait()
            if ev is None:
                return
            assert isinstance(ev, BookUpdate)
            if ev.is_snapshot:
                ref_b.clear()
                ref_a.clear()
            else:
                assert ev.update_id == last_u + 1  # a consumer never sees a gap
            for ref, levels in ((ref_b, ev.bids), (ref_a, ev.asks)):
                for lv in levels:
                    if lv.size:
                        ref[lv.price] = lv.size
                    else:
                        ref.pop(lv.price, None)
            last_u = ev.update_id

    u = 1
    for kind, a, b in steps:
        if kind == "pull":
            consume(a)  # type: ignore[arg-type]
            continue
        u += 1
        bids = [x for x in a if int(x[0]) < 100]  # type: ignore[attr-defined]
        asks = [x for x in b if int(x[0]) > 100]  # type: ignore[attr-defined]
        ev = book(u, bids, asks)
        m.apply(ev)
        q.put_book(ev, m)
    consume(10**6)
    assert last_u == u == m.update_id
    assert ref_b == m.bids and ref_a == m.asks
