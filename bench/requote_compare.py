"""Requests per re-quote in the emulator: the order manager (keep / amend / batch) vs a naive
cancel-and-replace baseline (cancel every order of the symbol, create every level again, batched).

Run: python bench/requote_compare.py [--seconds 20] [--speed 3] [--seed 7]

Both runs use the same emulator seed, strategy, risk and throttle settings; the loop is the
simulation test's driver (tests/integration/core/core_sim_driver.py). "Requests" are the order
writes the emulator counted per endpoint; "items" are order actions (each costs one unit of
Bybit's rate budget, batched or not). A re-quote is a book update that produced writes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration" / "core"))

from core_sim_driver import CoreDriver

from bot.common import json_io
from bot.config.portfolio import ThrottleConfig
from bot.config.risk import RiskConfig
from bot.config.strategy import StrategyConfig
from bot.domain import Symbol
from bot.sim import SimAccount, SimConfig, SimServer

SYMBOLS = [Symbol("BTCUSDT"), Symbol("ETHUSDT")]


async def one(naive: bool, seconds: float, speed: float, seed: int) -> dict[str, Any]:
    acct = SimAccount(api_key="bench-key", api_secret="bench-secret")
    cfg = SimConfig(port=0, seed=seed, speed=speed, symbols=tuple(SYMBOLS), accounts=(acct,), rate_limit_scale=100)
    lim = int(10 * speed)
    async with SimServer(cfg) as sim:
        d = CoreDriver(
            sim, api_key="bench-key", api_secret="bench-secret", symbols=SYMBOLS, naive=naive,
            strategy=StrategyConfig(levels=3, order_notional=Decimal(100), requote_tolerance_ticks=10,
                                    vol_multiplier=Decimal(2), vol_horizon_ms=50, vol_min_samples=20),
            risk=RiskConfig(max_position_notional=Decimal(600), max_order_notional=Decimal(200),
                            daily_loss_limit=Decimal(1000), max_drawdown=Decimal(1000)),
            throttle=ThrottleConfig(create_per_s=lim, amend_per_s=lim, cancel_per_s=lim, batch_per_s=lim),
        )
        await d.setup()
        try:
            st = await d.run(seconds)
        finally:
            await d.aclose()
        out = st.as_dict()
        assert d.cycle is not None
        out["pnl"] = str(d.cycle.portfolio.total_pnl(d.cycle.marks).quantize(Decimal("0.0001")))
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rows = {name: asyncio.run(one(naive, args.seconds, args.speed, args.seed))
            for name, naive in (("order_manager", False), ("cancel_replace", True))}
    print(json_io.dumps_str(rows, indent=True))
    keys = ("requotes", "order_requests", "requests_per_requote", "items_per_requote", "fills", "maker_share",
            "post_only_cancel_rate", "rebates", "fees", "pnl")
    print(f"{'':22s}" + "".join(f"{k:>16s}" for k in rows))
    for k in keys:
        print(f"{k:22s}" + "".join(f"{rows[n][k]!s:>16s}" for n in rows))


if __name__ == "__main__":
    main()
