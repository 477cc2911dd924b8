"""The real REST client against the emulator: signatures, typed codes, 10006/403, timeouts, idempotent creates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest
from exchange_tcp_proxy import TcpProxy

from bot.config import AppConfig, Secret, Secrets
from bot.domain import OrderLinkId, OrderStatus, Side, Symbol
from bot.errors import AuthError, ExchangeRejected, ExchangeUnavailable, OrderStateUnknown
from bot.exchange.base import AmendRequest, CancelRequest, EventStream, ExchangeClient, OrderRequest
from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.ratelimit import RateLimiter
from bot.exchange.bybit.rest import BybitRest, RestTimeouts
from bot.sim import SimServer

SIM_KEY, SIM_SECRET = "sim-test-key", "sim-test-secret"  # tests/integration/conftest.py account 0

BTC = Symbol("BTCUSDT")
Make = Callable[..., BybitClient]


def buy(link: str, price: str = "20000", qty: str = "0.001") -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, Decimal(qty), Decimal(price), OrderLinkId(link))


def links_at_sim(sim: SimServer, link: str) -> list[dict[str, object]]:
    return [o for o in sim.open_orders(sim.accounts[0].api_key) if o.get("orderLinkId") == link]


async def test_signed_order_is_accepted_and_seen_by_venue(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    typed: ExchangeClient = c  # mypy checks BybitClient against the Protocol structurally
    stream: EventStream = c.public_stream([BTC])
    assert isinstance(typed, ExchangeClient) and isinstance(stream, EventStream)
    res = await c.submit(buy("mm-sig-1"))
    assert res.ok and res.order_id and res.order_link_id == "mm-sig-1"
    [seen] = [o for o in sim.received_orders if o.get("orderLinkId") == "mm-sig-1"]
    assert seen["timeInForce"] == "PostOnly" and seen["price"] == "20000" and seen["qty"] == "0.001"
    [mine] = await c.open_orders(BTC, link_prefix="mm-sig-")
    assert mine.status is OrderStatus.NEW and mine.price == Decimal("20000")
    assert sum(sim.stats.auth_failures.values()) == 0
    assert c.metrics is not None
    reg = c.metrics.registry
    ratio = reg.get_sample_value("mm_rate_limit_remaining_ratio", {"endpoint": "order_create"})
    assert ratio is not None and 0 <= ratio < 1  # from X-Bapi-Limit-Status / X-Bapi-Limit
    assert reg.get_sample_value("mm_rest_request_seconds_count", {"endpoint": "order_create"}) == 1


async def test_reads_parse_into_typed_values(client_factory: Make) -> None:
    c = client_factory()
    assert await c.server_time_offset_ms() == pytest.approx(0, abs=1000)
    inst = (await c.instruments([BTC]))[BTC]
    assert inst.tick_size == Decimal("0.10") and inst.qty_step == Decimal("0.001")
    fee = (await c.fee_rates([BTC]))[BTC]
    assert fee.maker < 0 < fee.taker
    w = await c.wallet()
    assert w.total_equity > 0 and any(b.coin == "USDT" for b in w.coins)
    assert await c.positions() == [] or all(p.symbol for p in await c.positions())
    assert isinstance(await c.executions(0), list)
    with pytest.raises(ExchangeRejected):
        await c.instruments([Symbol("NOPEUSDT")])


async def test_batch_create_amend_cancel_report_per_item_results(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    # 14 items: chunks of 10 (the linear batch limit per second) and 4, the last a duplicate link id
    orders = [buy(f"mm-bat-{i}", price=str(20000 + i)) for i in range(13)] + [buy("mm-bat-0")]
    res = await c.submit_batch(orders)
    assert [r.order_link_id for r in res] == [o.order_link_id for o in orders]
    assert all(r.ok for r in res[:13])
    dup = res[13]
    assert not dup.ok and dup.ret_code == 110072 and isinstance(dup.error, ExchangeRejected)
    amended = await c.amend_batch([AmendRequest(BTC, OrderLinkId("mm-bat-1"), price=Decimal("19000")),
                                   AmendRequest(BTC, OrderLinkId("mm-nope"), price=Decimal("19000"))])
    assert amended[0].ok and not amended[1].ok and amended[1].ret_code == 110001
    cancelled = await c.cancel_batch([CancelRequest(BTC, OrderLinkId("mm-bat-2"))])
    assert cancelled[0].ok
    gone = await c.cancel_all(BTC)
    assert {r.order_link_id for r in gone} >= {OrderLinkId(f"mm-bat-{i}") for i in (0, 1, 3, 12)}
    assert await c.open_orders(BTC) == []


async def test_business_and_auth_codes_become_typed_errors(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    sim.faults.reject_next_orders(1, 110007)
    with pytest.raises(ExchangeRejected) as info:
        await c.submit(buy("mm-rej-1"))
    assert info.value.ret_code == 110007
    bad = client_factory(secret="wrong-secret")
    with pytest.raises(AuthError) as auth:
        await bad.wallet()
    assert auth.value.ret_code == 10004
    unknown = client_factory(key="revoked-key")
    with pytest.raises(AuthError):
        await unknown.submit(buy("mm-rej-2"))
    assert not links_at_sim(sim, "mm-rej-2")


async def test_timestamp_rejection_resyncs_clock_and_resends_once(sim_factory: Callable[..., Awaitable[SimServer]]
                                                                 ) -> None:
    skewed = await sim_factory(clock_offset_ms=30_000, market=False)  # venue clock 30 s ahead of ours
    async with BybitRest(skewed.rest_url, SIM_KEY, SIM_SECRET) as rest:
        c = BybitClient(rest, ws_public_url="", ws_private_url="")
        assert rest.offset_ms == 0
        w = await c.wallet()  # first try: 10002; the client re-syncs from /v5/market/time and resends
        assert w.total_equity > 0
        assert rest.offset_ms == pytest.approx(30_000, abs=500)
        assert skewed.stats.auth_failures.get(10002) == 1


async def test_rate_limit_10006_is_waited_out_on_reads_and_unknown_on_writes(sim: SimServer, client_factory: Make
                                                                              ) -> None:
    c = client_factory()
    sim.faults.rate_limit_burst(n=1)
    t0 = time.monotonic()
    await c.open_orders(BTC)  # 10006, wait until X-Bapi-Limit-Reset-Timestamp (~1 s), then succeed
    assert time.monotonic() - t0 >= 0.5
    sim.faults.rate_limit_burst(n=1)
    with pytest.raises(OrderStateUnknown) as info:
        await c.submit(buy("mm-rl-1"))
    assert info.value.ret_code == 10006
    assert not links_at_sim(sim, "mm-rl-1")
    t0 = time.monotonic()
    assert (await c.submit(buy("mm-rl-1"))).ok  # the family was blocked: this call waited first
    assert time.monotonic() - t0 >= 0.5
    errors = c.metrics.rest_errors.labels(endpoint="order_create", ret_code="10006")._value.get()  # type: ignore[union-attr]
    assert errors == 1


async def test_http_403_stops_all_rest_for_the_ban_period(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(limiter=RateLimiter(ban_s=0.5))
    sim.faults.rest_errors(1, status=403)
    with pytest.raises(ExchangeUnavailable):
        await c.wallet()
    before = sum(sim.stats.requests_per_endpoint.values())
    for call in (c.wallet(), c.submit(buy("mm-ban-1")), c.open_orders(BTC)):
        with pytest.raises(ExchangeUnavailable, match="403"):
            await call
    assert sum(sim.stats.requests_per_endpoint.values()) == before  # nothing reached the venue
    await asyncio.sleep(0.55)
    assert (await c.wallet()).total_equity > 0


async def test_5xx_is_retried_on_reads_but_unknown_on_writes(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    sim.faults.rest_errors(1, status=503)
    assert (await c.wallet()).total_equity > 0
    sim.faults.rest_errors(1, status=503, path_prefix="/v5/order/create")
    with pytest.raises(OrderStateUnknown):
        await c.submit(buy("mm-5xx-1"))


async def test_timeouts_become_typed_errors(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(timeouts=RestTimeouts(read_s=0.2, total_s=0.5), read_retries=0)
    sim.faults.rest_delay(0.4)
    with pytest.raises(ExchangeUnavailable):
        await c.wallet()
    sim.faults.rest_delay(1.0)
    t0 = time.monotonic()
    with pytest.raises(OrderStateUnknown):
        await c.submit(buy("mm-to-0"))
    assert time.monotonic() - t0 < 0.9  # the total deadline holds


async def test_no_duplicate_order_after_timeout_on_create(sim: SimServer) -> None:
    """The venue processes the create but the response is lost: reconcile by orderLinkId, never double."""
    host, port = sim.rest_url.removeprefix("http://").split(":")
    async with TcpProxy(host, int(port)) as proxy, BybitRest(
            f"http://127.0.0.1:{proxy.port}", SIM_KEY, SIM_SECRET, timeouts=RestTimeouts(read_s=0.3, total_s=1.0)
    ) as rest:
        c = BybitClient(rest, ws_public_url="", ws_private_url="")
        order = buy("mm-dup-1")
        proxy.lose_responses = True
        with pytest.raises(OrderStateUnknown) as info:
            await c.submit(order)
        assert info.value.context["order_link_id"] == "mm-dup-1"
        proxy.lose_responses = False
        found = await c.order_by_link_id(BTC, order.order_link_id)  # the reconcile path
        assert found is not None and found.status is OrderStatus.NEW and found.order_link_id == "mm-dup-1"
        # Even a careless resend cannot double the order: the link id is unique at the venue.
        with pytest.raises(ExchangeRejected) as dup:
            await c.submit(order)
        assert dup.value.ret_code == 110072
    assert len(links_at_sim(sim, "mm-dup-1")) == 1


async def test_create_that_never_reached_the_venue_is_not_found_and_may_be_resent(sim: SimServer,
                                                                                  client_factory: Make) -> None:
    c = client_factory(timeouts=RestTimeouts(read_s=0.2, total_s=1.0))
    sim.faults.rest_delay(0.5)  # the emulator delays before reading the body: our abort loses the order
    order = buy("mm-dup-2")
    with pytest.raises(OrderStateUnknown):
        await c.submit(order)
    await asyncio.sleep(0.4)
    assert await c.order_by_link_id(BTC, order.order_link_id) is None
    assert (await c.submit(order)).ok
    assert len(links_at_sim(sim, "mm-dup-2")) == 1


async def test_from_config_wires_urls_secrets_and_timeouts(sim: SimServer) -> None:
    cfg = AppConfig(exchange={"rest_url": sim.rest_url, "ws_public_url": sim.ws_public_url("linear").rsplit("/", 1)[0],  # type: ignore[arg-type]
                              "ws_private_url": sim.ws_private_url, "read_timeout_s": 2.5},
                    secrets=Secrets(bybit_api_key=Secret(SIM_KEY), bybit_api_secret=Secret(SIM_SECRET)))
    async with BybitClient.from_config(cfg) as c:
        assert c.rest.timeouts.read_s == 2.5 and c.policy.max_attempts == cfg.exchange.reconnect.max_attempts
        assert (await c.submit(buy("mm-cfg-1"))).ok


async def test_deadline_spent_waiting_for_the_rate_limiter_is_not_an_unknown_order(sim: SimServer,
                                                                                  client_factory: Make) -> None:
    c = client_factory(timeouts=RestTimeouts(total_s=0.3))
    c.rest.limiter.block("order_create", 2.0)  # as after a 10006: the family must wait 2 s
    with pytest.raises(ExchangeUnavailable) as info:
        await c.submit(buy("mm-wait-1"))
    assert not isinstance(info.value, OrderStateUnknown)  # nothing was sent, so nothing to reconcile
    assert not links_at_sim(sim, "mm-wait-1")


async def test_open_orders_follow_the_page_cursor(sim_factory: Callable[..., Awaitable[SimServer]]) -> None:
    venue = await sim_factory(market=False, rate_limit_scale=20)
    async with BybitRest(venue.rest_url, SIM_KEY, SIM_SECRET, limiter=RateLimiter(scale=20)) as rest:
        c = BybitClient(rest, ws_public_url="", ws_private_url="")
        res = await c.submit_batch([buy(f"mm-page-{i}", price=str(20000 + i)) for i in range(75)])
        assert all(r.ok for r in res)
        mine = await c.open_orders(BTC, link_prefix="mm-page-")  # realtime pages hold at most 50
        assert sorted(o.order_link_id for o in mine) == sorted(f"mm-page-{i}" for i in range(75))
        assert len(await c.open_orders()) == 75  # linear without a symbol: by settleCoin


async def test_write_round_trips_exclude_the_rate_limiter_wait(sim: SimServer, client_factory: Make) -> None:
    """`on_rtt` reports the venue's round trip of each write: the latency guard's input."""
    c = client_factory()
    seen: list[tuple[str, float]] = []
    c.rest.on_rtt = lambda family, s: seen.append((family, s))
    await c.instruments([BTC])  # a read: not reported
    assert seen == []
    c.rest.limiter.block("order_create", 0.6)  # our own pacing: 0.6 s before the request may go
    t0 = time.monotonic()
    assert (await c.submit(buy("mm-rtt-1"))).ok
    waited = time.monotonic() - t0
    [(family, rtt)] = seen
    assert family == "order_create" and waited >= 0.55
    assert rtt < 0.25 < waited  # the loopback round trip, not the 0.6 s spent waiting for the limiter
