"""Streams against the emulator: gap/reset resync, JSON heartbeat, private events, back-pressure coalescing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.book import OrderBook
from bot.domain import OrderLinkId, OrderStatus, Side, Symbol
from bot.exchange.base import CancelRequest, OrderRequest
from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.ws import BybitStream
from bot.exchange.events import BookUpdate, ExchangeEvent, OrderUpdate, Pong, StreamState, StreamStatus
from bot.sim import SimServer

BTC = Symbol("BTCUSDT")
Make = Callable[..., BybitClient]


async def collect(stream: BybitStream, until: Callable[[list[ExchangeEvent]], bool], within_s: float = 5.0
                  ) -> list[ExchangeEvent]:
    seen: list[ExchangeEvent] = []
    async with asyncio.timeout(within_s):
        while not until(seen):
            seen.append(await stream.get())
    return seen


async def busy_then_drain(stream: BybitStream) -> list[ExchangeEvent]:
    """Leave the stream unread long enough for a book backlog to collapse, then take what is queued."""
    await asyncio.sleep(1.5)  # the consumer is "busy": the reader keeps reading regardless
    assert stream.queue.coalesced_total >= 1
    events: list[ExchangeEvent] = []
    while (ev := stream.queue.get_nowait()) is not None:
        events.append(ev)
    return events


def connected(seen: list[ExchangeEvent]) -> bool:
    return any(isinstance(e, StreamState) and e.status is StreamStatus.CONNECTED for e in seen)


async def test_sequence_gap_forces_resubscribe_and_fresh_snapshot(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC], trades=False, tickers=False)
    runner = asyncio.ensure_future(stream.run())
    try:
        await collect(stream, lambda s: any(isinstance(e, BookUpdate) and e.is_snapshot for e in s))
        assert sim.faults.book_gap("BTCUSDT") >= 1
        seen = await collect(stream, lambda s: any(isinstance(e, StreamState) and e.reason == "sequence" for e in s)
                             and isinstance(s[-1], BookUpdate) and s[-1].is_snapshot)
    finally:
        stream.close()
        await runner
    resync = next(e for e in seen if isinstance(e, StreamState) and e.status is StreamStatus.RESYNC_REQUIRED)
    assert resync.symbols == (BTC,)
    after = seen[seen.index(resync) + 1:]
    assert next(e for e in after if isinstance(e, BookUpdate)).is_snapshot
    assert len(sim.stats.attempts("public")) == 1  # resynced on the same connection


async def test_u_equal_one_snapshot_replaces_the_book(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC], trades=False, tickers=False)
    runner = asyncio.ensure_future(stream.run())
    book = OrderBook("0.10", "0.001", 50)
    try:
        await collect(stream, lambda s: any(isinstance(e, BookUpdate) and e.is_snapshot for e in s))
        sim.faults.book_reset("BTCUSDT")
        seen = await collect(stream, lambda s: any(isinstance(e, BookUpdate) and e.update_id == 1 for e in s))
    finally:
        stream.close()
        await runner
    reset = next(e for e in seen if isinstance(e, BookUpdate) and e.update_id == 1)
    assert reset.is_snapshot
    book.apply_message(reset.raw)
    assert book.update_id == 1 and not book.resync_needed


async def test_json_heartbeat_gets_pongs(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(ping_interval_s=0.05)
    stream = c.private_stream()
    runner = asyncio.ensure_future(stream.run())
    try:
        seen = await collect(stream, lambda s: sum(isinstance(e, Pong) for e in s) >= 3)
    finally:
        stream.close()
        await runner
    assert connected(seen)
    assert all(e.req_id.startswith("ping-") for e in seen if isinstance(e, Pong))


async def test_private_stream_delivers_our_order_lifecycle(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.private_stream()
    runner = asyncio.ensure_future(stream.run())
    link = OrderLinkId("mm-prv-1")
    try:
        await collect(stream, connected)
        await c.submit(OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"), link))
        await c.cancel_batch([CancelRequest(BTC, link)])
        seen = await collect(stream, lambda s: any(isinstance(e, OrderUpdate) and e.status is OrderStatus.CANCELLED
                                                   for e in s))
    finally:
        stream.close()
        await runner
    mine = [e for e in seen if isinstance(e, OrderUpdate) and e.order_link_id == link]
    assert next(e.status for e in mine) is OrderStatus.NEW and mine[-1].status is OrderStatus.CANCELLED


async def test_slow_consumer_gets_coalesced_books_that_apply_cleanly(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC], trades=False, tickers=False)
    stream.queue.book_backlog = 3
    runner = asyncio.ensure_future(stream.run())
    book = OrderBook("0.10", "0.001", 50)
    try:
        events = await busy_then_drain(stream)
        for _ in range(20):  # keep consuming live deltas after the coalesced snapshot
            events.append(await asyncio.wait_for(stream.get(), 5))
    finally:
        stream.close()
        await runner
    while (ev := stream.queue.get_nowait()) is not None:  # whatever arrived before the close
        events.append(ev)
    books = [e for e in events if isinstance(e, BookUpdate)]
    assert any(b.coalesced for b in books)
    for b in books:
        _, _, _, _, _, resync = book.apply_message(b.raw)
        assert not resync, book.resync_reason
    mirror = stream.mirrors[BTC]
    assert book.update_id == books[-1].update_id == mirror.update_id
    best = book.best_bid()
    assert best is not None and best[0] == max(mirror.bids)


async def test_cancelling_run_propagates_and_closes_the_socket(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    await collect(stream, connected)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert not stream.connected
    await asyncio.sleep(0.2)
    assert len(sim.stats.attempts("public")) == 1  # no reconnect after a cancel


async def test_private_stream_reauths_and_resubscribes_after_a_drop(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.private_stream()
    runner = asyncio.ensure_future(stream.run())
    link = OrderLinkId("mm-prv-re-1")
    try:
        await collect(stream, connected)
        sim.faults.drop_ws(stream="private")
        seen = await collect(stream, lambda s: any(isinstance(e, StreamState) and e.status is
                                                   StreamStatus.DISCONNECTED for e in s) and connected(s))
        await c.submit(OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"), link))
        seen += await collect(stream, lambda s: any(isinstance(e, OrderUpdate) and e.order_link_id == link
                                                    for e in s))
    finally:
        stream.close()
        await runner
    assert len(sim.stats.attempts("private")) == 2
    assert c.metrics is not None
    assert c.metrics.registry.get_sample_value("ws_reconnect_attempts_total", {"ws_type": "private"}) == 1


async def test_attached_book_is_applied_on_arrival_and_a_gap_resubscribes_once(
        sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC], trades=False, tickers=False)
    book = OrderBook("0.10", "0.001", 50)
    stream.attach_books({BTC: book})
    runner = asyncio.ensure_future(stream.run())

    def applied(s: list[ExchangeEvent], *, resync: bool) -> list[BookUpdate]:
        return [e for e in s if isinstance(e, BookUpdate) and e.applied is not None and e.applied[4] is resync]

    try:
        seen = await collect(stream, lambda s: len(applied(s, resync=False)) >= 5)
        assert book.has_snapshot and not book.resync_needed
        sim.faults.book_gap("BTCUSDT")
        seen += await collect(stream, lambda s: bool(applied(s, resync=True))
                              and isinstance(s[-1], BookUpdate) and s[-1].applied is not None
                              and not s[-1].applied[4])
    finally:
        stream.close()
        await runner
    books = [e for e in seen if isinstance(e, BookUpdate)]
    assert all(b.applied is not None and b.bids == () and b.asks == () for b in books)  # no levels parsed
    assert not stream.mirrors  # and no Decimal mirror kept
    # the same messages, applied to a second book in order, give the tops the stream reported
    replay = OrderBook("0.10", "0.001", 50)
    for b in books:
        assert b.applied is not None
        top = replay.apply_message(b.raw)
        assert (top[0], top[1], top[2], top[3], top[5]) == b.applied
    resyncs = [e for e in seen if isinstance(e, StreamState) and e.status is StreamStatus.RESYNC_REQUIRED]
    assert [(e.reason, e.symbols) for e in resyncs] == [("sequence", (BTC,))]  # one resubscribe per gap
    assert len(sim.stats.attempts("public")) == 1


async def test_attached_book_backlog_collapses_into_the_books_current_top(
        sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC], trades=False, tickers=False)
    stream.queue.book_backlog = 3
    book = OrderBook("0.10", "0.001", 50)
    stream.attach_books({BTC: book})
    runner = asyncio.ensure_future(stream.run())
    try:
        events = await busy_then_drain(stream)
        now = book.bbo_ticks()  # no await since the drain: the reader has not applied anything newer
    finally:
        stream.close()
        await runner
    merged = [e for e in events if isinstance(e, BookUpdate) and e.coalesced]
    assert merged and merged[-1].applied == (*now, False)
