"""A taker fill seen every way the bot reads it: REST executions and positions, private stream events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from bot.domain import OrderLinkId, Side, Symbol, TimeInForce
from bot.exchange.base import OrderRequest
from bot.exchange.bybit.client import BybitClient
from bot.exchange.events import ExchangeEvent, Execution, PositionUpdate, StreamState, StreamStatus
from bot.sim import SimServer

BTC = Symbol("BTCUSDT")
Make = Callable[..., BybitClient]


async def test_taker_fill_reaches_rest_reads_and_private_stream(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.private_stream()
    runner = asyncio.ensure_future(stream.run())
    seen: list[ExchangeEvent] = []
    since = int(time.time() * 1000) - 60_000
    try:
        async with asyncio.timeout(5):
            while not any(isinstance(e, StreamState) and e.status is StreamStatus.CONNECTED for e in seen):
                seen.append(await stream.get())
        price = (sim.fair_price("BTCUSDT") * Decimal("1.05")).quantize(Decimal("0.1"))
        res = await c.submit(OrderRequest(BTC, Side.BUY, Decimal("0.010"), price, OrderLinkId("mm-take-1"),
                                          time_in_force=TimeInForce.IOC))
        assert res.ok
        async with asyncio.timeout(5):
            while not (any(isinstance(e, Execution) for e in seen)
                       and any(isinstance(e, PositionUpdate) for e in seen)):
                seen.append(await stream.get())
    finally:
        stream.close()
        await runner
    fills = [e for e in seen if isinstance(e, Execution) and e.order_link_id == "mm-take-1"]
    assert fills and not any(f.is_maker for f in fills) and all(f.fee > 0 for f in fills)
    assert sum(f.qty for f in fills) == Decimal("0.010")
    rest_fills = [e for e in await c.executions(since, BTC) if e.order_link_id == "mm-take-1"]
    assert {f.exec_id for f in rest_fills} == {f.exec_id for f in fills}
    [pos] = [p for p in await c.positions() if p.symbol == BTC]
    assert pos.side is Side.BUY and pos.signed_size == Decimal("0.010")


async def test_dcp_armed_and_private_stream_subscribes_its_topic(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    early = c.private_stream()
    assert "dcp.future" not in early.topics
    await c.arm_dcp(10)
    assert "dcp.future" in early.topics  # added to a stream created before arming
    stream = c.private_stream()
    assert "dcp.future" in stream.topics  # and subscribed by default once armed
    runner = asyncio.ensure_future(stream.run())
    try:
        async with asyncio.timeout(5):
            while not isinstance(ev := await stream.get(), StreamState) or ev.status is not StreamStatus.CONNECTED:
                pass
        await c.arm_dcp(10)  # re-arming on a live connection does not resubscribe
    finally:
        stream.close()
        await runner
    assert await c.executions(0) == []  # a since older than Bybit's 7-day window is clamped, not refused


async def test_arming_dcp_subscribes_a_live_private_stream(sim: SimServer, client_factory: Make) -> None:
    from bot.exchange.events import Ack

    c = client_factory()
    stream = c.private_stream()
    runner = asyncio.ensure_future(stream.run())
    try:
        async with asyncio.timeout(5):
            while not isinstance(ev := await stream.get(), StreamState) or ev.status is not StreamStatus.CONNECTED:
                pass
            await c.arm_dcp(10)
            while not isinstance(ev := await stream.get(), Ack):
                pass
    finally:
        stream.close()
        await runner
    assert ev.op == "subscribe" and ev.success
