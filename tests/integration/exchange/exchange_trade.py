"""A client's WS trade channel, running and connected, for tests that route orders through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.trade import BybitTradeChannel
from bot.exchange.events import StreamState, StreamStatus


@contextlib.asynccontextmanager
async def trade_channel_up(c: BybitClient) -> AsyncIterator[BybitTradeChannel]:
    """`c`'s trade channel, connected (the client routes orders through it) for the block."""
    channel = c.trade_channel()
    runner = asyncio.ensure_future(channel.stream.run())
    try:
        async with asyncio.timeout(5):
            while not isinstance(ev := await channel.stream.get(), StreamState) or ev.status is not \
                    StreamStatus.CONNECTED:
                pass
        yield channel
    finally:
        channel.stream.close()
        await runner
