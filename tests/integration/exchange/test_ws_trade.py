"""Orders over the WS Trade API against the emulator: accepted acks, typed refusals, same idempotency."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from exchange_trade import trade_channel_up

from bot.domain import OrderLinkId, Side, Symbol
from bot.errors import ExchangeRejected
from bot.exchange.base import OrderRequest
from bot.exchange.bybit.client import BybitClient
from bot.sim import SimServer

BTC = Symbol("BTCUSDT")


async def test_ws_trade_create_is_acked_and_duplicates_refused(sim: SimServer,
                                                              client_factory: Callable[..., BybitClient]) -> None:
    c = client_factory()
    async with trade_channel_up(c) as channel:
        order = OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"), OrderLinkId("mm-wst-1"))
        res = await channel.submit(order)
        assert res.ok and res.order_id and res.order_link_id == "mm-wst-1"
        with pytest.raises(ExchangeRejected) as info:
            await channel.submit(order)
        assert info.value.ret_code == 110072
        sim.faults.reject_next_orders(1, 110007)
        with pytest.raises(ExchangeRejected):
            await channel.submit(OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"),
                                              OrderLinkId("mm-wst-2")))
        # While the channel is connected the client routes orders through it, batches included.
        rest_batches = sim.stats.requests_per_endpoint["/v5/order/create-batch"]
        batch = await c.submit_batch([OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal(20000 + i),
                                                 OrderLinkId(f"mm-wsb-{i}")) for i in range(3)]
                                   + [order])
        assert [r.ok for r in batch] == [True, True, True, False] and batch[3].ret_code == 110072
        assert (await c.submit(OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"),
                                            OrderLinkId("mm-wst-3")))).ok
        assert sim.stats.requests_per_endpoint["/v5/order/create-batch"] == rest_batches
        assert sim.stats.requests_per_endpoint["/v5/order/create"] == 0
    # Channel gone: the same calls fall back to REST.
    assert (await c.submit(OrderRequest(BTC, Side.BUY, Decimal("0.001"), Decimal("20000"),
                                        OrderLinkId("mm-wst-4")))).ok
    assert sim.stats.requests_per_endpoint["/v5/order/create"] == 1
    for link in ("mm-wst-1", "mm-wsb-2", "mm-wst-3", "mm-wst-4"):
        assert await c.order_by_link_id(BTC, OrderLinkId(link)) is not None
