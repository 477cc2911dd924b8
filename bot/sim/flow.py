"""The synthetic market: per symbol a seeded random-walk fair price with jumps, a house ladder of
resting liquidity around it, and random takers, so that a market maker's quotes get filled
(and, when the price jumps, picked off)."""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field
from decimal import Decimal

from bot.sim.engine import Engine, Market
from bot.sim.matching import RestingOrder

__all__ = ["Flow"]

HOUSE_HALF_SPREAD = Decimal("0.0004")  # house quotes 4 bps from fair: room for a maker inside
LEVEL_STEP = Decimal("0.0001")  # 1 bp between house levels


@dataclass(slots=True)
class _State:
    rng: random.Random
    bids: dict[int, RestingOrder] = field(default_factory=dict)
    asks: dict[int, RestingOrder] = field(default_factory=dict)
    grid: tuple[int, int, int] = (0, 0, 0)  # (centre, half spread, step) of the current ladder
    book_fills: int = -1  # book.fills after the last ladder pass (a fill may have eaten a level)


class Flow:
    """Advances every market by dt seconds of simulated time; deterministic for a given seed and dt sequence."""

    def __init__(self, engine: Engine, *, levels: int, activity_per_s: float = 20.0) -> None:
        self.engine = engine
        self.levels = levels
        self.activity_per_s = activity_per_s
        self.states: dict[tuple[str, str], _State] = {}
        for key in engine.markets:
            seed = engine.cfg.seed * 1_000_003 + zlib.crc32("/".join(key).encode())
            self.states[key] = _State(rng=random.Random(seed))  # nosec B311: seeded simulation, not crypto
        for key, m in engine.markets.items():
            self._ladder(m, self.states[key])

    def step(self, dt_s: float) -> None:
        for key, m in self.engine.markets.items():
            self._step_market(m, self.states[key], dt_s)

    def _step_market(self, m: Market, st: _State, dt_s: float) -> None:
        rng = st.rng
        spec = m.spec
        if dt_s > 0:
            ret = float(spec.vol_per_sqrt_s) * math.sqrt(dt_s) * rng.gauss(0.0, 1.0)
            if rng.random() < float(spec.jump_prob_per_s) * dt_s:
                ret += float(spec.jump_size) * (1 if rng.random() < 0.5 else -1)
            fair = m.fair * (1 + Decimal(f"{ret:.10f}"))
            m.fair = max(fair.quantize(spec.instrument.tick_size / 1000), spec.instrument.tick_size)
        self._ladder(m, st)
        # background churn: re-size a random level now and then
        touches = _poisson(rng, self.activity_per_s * dt_s)
        for _ in range(touches):
            book = st.bids if rng.random() < 0.5 else st.asks
            if book:
                px = rng.choice(list(book))
                ro = book.pop(px)
                m.book.remove(ro)
        if touches:
            st.grid = (0, 0, 0)  # force a full pass: re-place the levels just taken away
            self._ladder(m, st)
        # takers
        for _ in range(_poisson(rng, float(spec.taker_rate_per_s) * dt_s)):
            self._taker(m, rng)

    def _taker(self, m: Market, rng: random.Random) -> None:
        inst = m.spec.instrument
        side = "Buy" if rng.random() < 0.5 else "Sell"
        lots = max(1, int(float(m.spec.taker_qty / inst.qty_step) * rng.expovariate(1.0)))
        band = Decimal("1.005") if side == "Buy" else Decimal("0.995")
        limit = self.engine.round_price(m, m.fair * band)
        self.engine.house_take(m, side, lots, max(1, limit))

    def refresh(self, m: Market) -> None:
        """Re-centre one market's house ladder on its fair price now (after set_fair_price)."""
        self._ladder(m, self.states[m.spec.key])

    def _ladder(self, m: Market, st: _State) -> None:
        """Keep the house ladder on its target prices: drop stale levels, place missing ones."""
        eng = self.engine
        inst = m.spec.instrument
        fair_ticks = m.fair / inst.tick_size
        step = max(1, int(fair_ticks * LEVEL_STEP))
        half = max(1, int(fair_ticks * HOUSE_HALF_SPREAD))
        centre = int(fair_ticks)
        top_bid = (centre - half) // step * step  # levels sit on a fixed grid: a small move
        top_ask = -(-(centre + half) // step) * step  # shifts only the edge levels
        grid = (top_bid, top_ask, step)
        if grid == st.grid and m.book.fills == st.book_fills:
            return
        st.grid = grid
        want_bids = {top_bid - k * step for k in range(self.levels) if top_bid - k * step > 0}
        want_asks = {top_ask + k * step for k in range(self.levels)}
        for side_orders, want in ((st.bids, want_bids), (st.asks, want_asks)):
            for px in [p for p, ro in side_orders.items() if p not in want or ro.leaves <= 0]:
                ro = side_orders.pop(px)
                if ro.leaves > 0:
                    m.book.remove(ro)
        base_lots = max(1, int(m.spec.level_qty / inst.qty_step))
        # place from the inside out so a jump takes the stale quotes near the touch first
        for side, side_orders, want, rev in (("Buy", st.bids, want_bids, True), ("Sell", st.asks, want_asks, False)):
            for px in sorted(want - side_orders.keys(), reverse=rev):
                lots = max(1, int(base_lots * (0.5 + st.rng.random())))
                placed = eng.house_limit(m, side, px, lots)
                if placed is not None:
                    side_orders[px] = placed
        st.book_fills = m.book.fills


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1
