"""Client-side rate limiting follows X-Bapi-Limit headers, waits out 10006 and stops everything on 403."""

from __future__ import annotations

import pytest

from bot.errors import ExchangeUnavailable
from bot.exchange.bybit.ratelimit import RateLimiter
from bot.exchange.bybit.wire import RateLimitInfo, parse_rate_limit_headers


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


async def test_window_follows_header_limit() -> None:
    clk = FakeClock()
    rl = RateLimiter(clock=clk, sleep=clk.sleep)
    rl.observe("order_create", RateLimitInfo(limit=3, remaining=2, reset_ms=0))
    for _ in range(3):
        await rl.acquire("order_create")
    assert clk.slept == []
    await rl.acquire("order_create")
    assert clk.slept == [pytest.approx(1.0)]


async def test_batch_cost_counts_each_item() -> None:
    clk = FakeClock()
    rl = RateLimiter(clock=clk, sleep=clk.sleep)
    await rl.acquire("order_create_batch", 10)
    assert rl.wait_time("order_create_batch", 1) == pytest.approx(1.0)


async def test_soft_stop_near_exhaustion_and_10006_block() -> None:
    clk = FakeClock()
    rl = RateLimiter(clock=clk, sleep=clk.sleep)
    rl.observe("order_realtime", RateLimitInfo(limit=50, remaining=1, reset_ms=0), reset_in_s=0.4)
    assert rl.wait_time("order_realtime") == pytest.approx(0.4)
    rl.block("order_cancel", 0.7)
    await rl.acquire("order_cancel")
    assert clk.slept[-1] == pytest.approx(0.7)
    rl.block("order_amend", 30)
    with pytest.raises(ExchangeUnavailable):
        await rl.acquire("order_amend", max_wait_s=5)


async def test_http_403_stops_all_rest_for_ban_period() -> None:
    clk = FakeClock()
    rl = RateLimiter(clock=clk, sleep=clk.sleep, ban_s=600)
    rl.ban()
    for fam in ("order_create", "order_realtime", "market_time"):
        with pytest.raises(ExchangeUnavailable, match="403"):
            await rl.acquire(fam)
    clk.now += 601
    await rl.acquire("order_create")


def test_rate_limit_header_parsing() -> None:
    info = parse_rate_limit_headers({"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9",
                                     "X-Bapi-Limit-Reset-Timestamp": "1700000000001"})
    assert info == RateLimitInfo(10, 9, 1700000000001) and info.remaining_ratio == pytest.approx(0.9)
    assert parse_rate_limit_headers({}) is None
    assert parse_rate_limit_headers({"X-Bapi-Limit": "x", "X-Bapi-Limit-Status": "1"}) is None
