"""One-item writes go to the single-order endpoints the throttle budgeted them on, over REST and WS;
`write_now` puts a write on the trade WebSocket in the caller's step.

The throttle grants a lone create/amend/cancel from that endpoint's own per-second budget. Sent
through the batch endpoint instead, it was counted on the batch family by the client's rate
limiter, which then held amends back for up to 0.8 s while the throttle believed there was room.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from exchange_trade import trade_channel_up

from bot.common import outbound
from bot.config.risk import RiskConfig
from bot.domain import Category, OrderLinkId, Side, Symbol
from bot.exchange.bybit.client import BybitClient
from bot.observability.metrics import Metrics
from bot.risk.guards import RiskGuards
from bot.runtime.sender import OrderSender, write, write_now
from bot.runtime.tasks import LatencyStats
from bot.sim import SimServer
from bot.strategy import OrderLinkIds, OrderManager, QuoteLevel, Quotes
from bot.strategy.orders import GONE_CODES, ActionKind, Batch, OrderAction

BTC = Symbol("BTCUSDT")
_BATCH_PATHS = ("/v5/order/create-batch", "/v5/order/amend-batch", "/v5/order/cancel-batch")


def _one(kind: ActionKind, link: str, price: str | None = None, *, force_batch: bool = False) -> Batch:
    qty = Decimal("0.001") if kind is ActionKind.CREATE else None
    act = OrderAction(kind, BTC, Side.BUY, OrderLinkId(link), price=Decimal(price) if price else None, qty=qty)
    return Batch(kind, Category.LINEAR, (act,), force_batch=force_batch)


def _counts(sim: SimServer, prefix: str) -> dict[str, int]:
    got = sim.stats.requests_per_endpoint
    return {k: n for k, n in got.items() if k.startswith(prefix) and n}


async def _create_amend_cancel(sim: SimServer, c: BybitClient, tag: str) -> None:
    for b in (_one(ActionKind.CREATE, f"mm-{tag}-1", "20000"), _one(ActionKind.AMEND, f"mm-{tag}-1", "20001"),
              _one(ActionKind.CANCEL, f"mm-{tag}-1")):
        [r] = await write(c, b)
        assert r.ok and r.order_link_id == f"mm-{tag}-1", r
    # The venue applied them: the order was amended, then cancelled.
    o = sim.engine.accounts[next(iter(sim.engine.accounts))].link_ids[OrderLinkId(f"mm-{tag}-1")]
    assert o.price == 200_010 and o.status == "Cancelled", (o.price, o.status)  # price in 0.1 ticks
    # A refusal of the one item is its result, with the venue's code (110001: the order is gone).
    [r] = await write(c, _one(ActionKind.AMEND, f"mm-{tag}-1", "20002"))
    assert not r.ok and r.ret_code in GONE_CODES and r.error is not None, r


async def test_one_item_writes_use_the_single_endpoints_over_rest(
        sim: SimServer, client_factory: Callable[..., BybitClient]) -> None:
    c = client_factory()
    await _create_amend_cancel(sim, c, "one")
    assert _counts(sim, "/v5/order/") == {"/v5/order/create": 1, "/v5/order/amend": 2, "/v5/order/cancel": 1}
    # force_batch: granted from the batch budget, so it goes through the batch endpoint
    [r] = await write(c, _one(ActionKind.CREATE, "mm-one-2", "20000", force_batch=True))
    assert r.ok
    assert sim.stats.requests_per_endpoint["/v5/order/create-batch"] == 1


async def test_one_item_writes_use_the_single_ops_over_the_trade_websocket(
        sim: SimServer, client_factory: Callable[..., BybitClient]) -> None:
    c = client_factory()
    async with trade_channel_up(c):
        await _create_amend_cancel(sim, c, "wso")
    assert _counts(sim, "ws:order.") == {"ws:order.create": 1, "ws:order.amend": 2, "ws:order.cancel": 1}
    assert not _counts(sim, "/v5/order/")


async def test_write_now_sends_in_the_callers_step_or_not_at_all(
        sim: SimServer, client_factory: Callable[..., BybitClient]) -> None:
    c = client_factory()
    one = _one(ActionKind.CREATE, "mm-now-1", "20000")
    assert write_now(c, one) is None  # no trade channel: the caller sends it the async way
    async with trade_channel_up(c):
        two = Batch(ActionKind.CREATE, Category.LINEAR, tuple(
            OrderAction(ActionKind.CREATE, BTC, Side.BUY, OrderLinkId(f"mm-now-b{i}"), price=Decimal(20000 + i),
                        qty=Decimal("0.001")) for i in range(2)))
        for b, op in ((one, "ws:order.create"), (two, "ws:order.create-batch")):
            token = outbound.arm()
            pending = write_now(c, b)
            assert pending is not None and outbound.disarm(token) > 0  # on the wire before any await
            results = await write(c, b, pending)
            assert [r.ok for r in results] == [True] * len(b.actions), results
            assert sim.stats.requests_per_endpoint[op] == 1
        # no room left in the single-create rate limit: nothing is sent now
        taken = 0
        while c.rest.limiter.try_take("order_create"):
            taken += 1
        assert taken == c.rest.limiter.limit("order_create") - 1  # one went out above
        assert write_now(c, _one(ActionKind.CREATE, "mm-now-2", "20000")) is None
        assert sim.stats.requests_per_endpoint["ws:order.create"] == 1
        # a refusal still comes back as the item's result
        dup = write_now(c, _one(ActionKind.CANCEL, "mm-now-9"))
        [r] = await write(c, _one(ActionKind.CANCEL, "mm-now-9"), dup)
        assert not r.ok and r.ret_code in GONE_CODES
    assert not _counts(sim, "/v5/order/")


async def test_sender_puts_every_symbols_request_on_the_wire_before_any_bookkeeping(
        sim: SimServer, client_factory: Callable[..., BybitClient]) -> None:
    # two symbols' cycles in one step: both requests go out in `submit`; their tasks, the acks
    # and the tick-to-order samples wait for `flush`, and every write ends acked and accounted
    c = client_factory()
    eth = Symbol("ETHUSDT")
    insts = await c.instruments([BTC, eth])
    om = OrderManager(instruments=insts, category=Category.LINEAR, link_ids=OrderLinkIds("mm", "snd"))
    metrics, latency = Metrics(process=False), LatencyStats(100)
    sender = OrderSender(c, om, RiskGuards(RiskConfig()), metrics, latency)
    async with trade_channel_up(c), asyncio.TaskGroup() as tg:
        runner = tg.create_task(sender.run())
        await asyncio.sleep(0)
        batches = []
        for sym, price in ((BTC, Decimal("20000")), (eth, Decimal("1000"))):
            inst = insts[sym]
            lv = QuoteLevel(Side.BUY, 0, inst.to_ticks(price), price, inst.min_qty * 10)
            acts = om.diff(Quotes(sym, (lv,), ()))
            om.submitted(acts, now_ns=1)
            batches += om.batches(acts)
        tick = time.monotonic_ns()
        assert all(sender.submit(b, tick_ns=tick) for b in batches)  # both on the wire in this step
        assert latency.count == 0 and sender.inflight == 2  # their bookkeeping waits for flush
        sender.flush()
        assert latency.count == 2 and 0 < latency.percentile_us(1.0) < 500_000  # type: ignore[operator]
        assert await sender.idle(5.0) and sender.inflight == 0
        runner.cancel()
    assert sim.stats.requests_per_endpoint["ws:order.create"] == 2
    assert all(o.pending is None and o.order_id for o in om.live())
    assert sum(s.value for m in metrics.orders.collect() for s in m.samples
               if s.name.endswith("_total") and s.labels["result"] == "ok") == 2
