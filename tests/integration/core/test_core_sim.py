"""The trading core in the emulator: a compressed synthetic market, then an injected price jump.

Speed 4 for ~40 s of wall time is ~2.7 minutes of market. The venue's rate limits are raised
out of the way (rate_limit_scale) and the bot's own throttle carries the budget instead, scaled
by the same compression (10/s x speed), so it is the bot that keeps the request rate in check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal as D

import pytest
from core_sim_driver import CoreDriver

from bot.config.portfolio import ThrottleConfig
from bot.config.risk import RiskConfig
from bot.config.strategy import StrategyConfig
from bot.domain import Symbol
from bot.risk import Reason
from bot.sim import SimServer

SPEED = 4.0
RUN_S = 40.0
SYMBOLS = [Symbol("BTCUSDT"), Symbol("ETHUSDT")]
KEY, SECRET = "sim-test-key", "sim-test-secret"  # account 0 of tests/integration/conftest.py

STRATEGY = StrategyConfig(
    levels=3, order_notional=D(100), requote_tolerance_ticks=10, vol_multiplier=D(2), vol_horizon_ms=50,
    vol_min_samples=20, risk_aversion=D("0.1"),
)
RISK = RiskConfig(
    max_position_notional=D(600), max_order_notional=D(200), max_open_orders=20, daily_loss_limit=D(20),
    max_drawdown=D(30), stale_book_ms=2000,
)
_LIMIT = int(10 * SPEED)
THROTTLE = ThrottleConfig(create_per_s=_LIMIT, amend_per_s=_LIMIT, cancel_per_s=_LIMIT, batch_per_s=_LIMIT)


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_core_quotes_as_maker_within_limits_and_kill_switch_clears_the_book(
    sim_factory: Callable[..., Awaitable[SimServer]],
) -> None:
    sim = await sim_factory(symbols=tuple(SYMBOLS), speed=SPEED, rate_limit_scale=100.0, seed=7)
    driver = CoreDriver(sim, api_key=KEY, api_secret=SECRET, symbols=SYMBOLS, strategy=STRATEGY, risk=RISK,
                        throttle=THROTTLE, session="sim")
    cycle = await driver.setup()
    report: dict[str, object] = {}

    async def scenario() -> None:
        await asyncio.sleep(RUN_S)
        driver.count_requests()
        report["before_jump"] = driver.stats.as_dict()
        driver.watch_positions = False  # the jump below is meant to break the loss limit
        assert not cycle.guards.kill.engaged, cycle.guards.kill.detail
        # jump against whatever we hold (flat or long: down, so the resting bids are taken)
        sym = max(SYMBOLS, key=lambda s: abs(cycle.portfolio.inventory(s).position * sim.fair_price(s)))
        pct = 15 if cycle.portfolio.inventory(sym).position < 0 else -15
        sim.jump(sym, pct)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:
            if cycle.guards.kill.engaged and not cycle.om.live() and not sim.open_orders(KEY):
                report["kill_s"] = round(time.monotonic() - t0, 3)
                return
            await asyncio.sleep(0.05)

    try:
        stats = await driver.run(RUN_S + 20, scenario)
    finally:
        await driver.aclose()
    before = report["before_jump"]
    assert isinstance(before, dict)
    print("core sim:", before, "kill after jump s:", report.get("kill_s"))
    # the market phase: maker fills only, few post-only cancels, positions inside the limit
    assert before["fills"] >= 20, before
    assert before["maker_share"] >= 0.99
    assert before["post_only_cancel_rate"] < 0.01, before
    assert before["max_position_ratio"] <= 1.05, before  # sampled at the venue's fair price
    assert not stats.write_errors.get("10006"), stats.write_errors  # the throttle kept us under the limits
    # the jump: loss limit or drawdown trips the kill switch, and no order is left on the venue
    assert cycle.guards.kill.engaged
    assert cycle.guards.kill.reason in (Reason.DAILY_LOSS, Reason.DRAWDOWN)
    assert "kill_s" in report, "orders still open after the kill switch"
    assert sim.open_orders(KEY) == []
