"""Requests per re-quote in the emulator: the order manager (keep / amend / batch) vs a naive
cancel-and-replace baseline (cancel every order of the symbol, create every level again, batched).

Run: python bench/requote_compare.py [--seconds 20] [--speed 3] [--seed 7] [--runs 1]

Both runs use the same emulator seed, strategy, risk and throttle settings; the loop is the
simulation test's driver (tests/integration/core/core_sim_driver.py). "Requests" are the order
writes the emulator counted per endpoint; "items" are order actions (each costs one unit of
Bybit's rate budget, batched or not). A re-quote is a book update that produced writes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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


def _num(v: object) -> float:
    return float(str(v)) if v is not None else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--runs", type=int, default=1, help="pairs of runs (alternating); medians are reported")
    ap.add_argument("--json", action="store_true", help="print every run's full counters too")
    args = ap.parse_args()
    names = (("order_manager", False), ("cancel_replace", True))
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n, _ in names}
    for _ in range(args.runs):
        for name, naive in names:
            runs[name].append(asyncio.run(one(naive, args.seconds, args.speed, args.seed)))
    if args.json:
        print(json_io.dumps_str(runs, indent=True))
    keys = ("requotes", "order_requests", "requests_per_requote", "items_per_requote", "fills", "maker_share",
            "post_only_cancel_rate", "rebates", "fees", "pnl")
    print(f"median of {args.runs} run(s) of {args.seconds:g} s at speed {args.speed:g}")
    print(f"{'':22s}" + "".join(f"{k:>16s}" for k in runs))
    for k in keys:
        print(f"{k:22s}" + "".join(f"{statistics.median(_num(r[k]) for r in runs[n]):>16.5g}" for n in runs))
    for k in ("requests_per_requote", "order_requests", "items_per_requote"):
        ratios = [_num(b[k]) / _num(a[k]) for a, b in zip(runs["order_manager"], runs["cancel_replace"], strict=True)
                  if _num(a[k])]
        print(f"cancel_replace / order_manager {k}: median {statistics.median(ratios):.3f} "
              f"(runs: {', '.join(f'{x:.3f}' for x in ratios)})")
    for n in runs:
        reb = sum(Decimal(r["rebates"]) for r in runs[n])
        fees = sum(Decimal(r["fees"]) for r in runs[n])
        fills = sum(int(r["fills"]) for r in runs[n])
        print(f"{n}: all runs: fills {fills}, rebates earned {reb:.6f} USDT, fees paid {fees:.6f} USDT")


if __name__ == "__main__":
    main()
