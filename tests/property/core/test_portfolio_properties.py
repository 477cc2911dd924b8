"""Properties of the portfolio parts: PnL conservation, allocator shares, ramp bounds, snapshot round trips."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.common import json_io
from bot.config.portfolio import AllocatorConfig, ThrottleConfig
from bot.config.rollout import RolloutConfig
from bot.domain import Category, Fill, OrderId, OrderLinkId, Side, Symbol
from bot.portfolio import Allocator, Portfolio, RolloutRamp, Throttle
from bot.strategy import ActionKind, OrderAction, to_batches

SYM = Symbol("XYZUSDT")
PROFILE = settings(max_examples=200, deadline=None)

fills_st = st.lists(st.tuples(st.sampled_from(Side), st.integers(90, 110), st.integers(1, 5)), max_size=40)


@PROFILE
@given(fills_st)
def test_pnl_is_cash_flow_plus_marked_position(fills: list[tuple[Side, int, int]]) -> None:
    """Realized + unrealized at mark m equals the cash flow plus the position valued at m."""
    p = Portfolio([SYM])
    cash = D(0)
    for i, (side, px, qty) in enumerate(fills):
        p.on_fill(Fill(f"e{i}", SYM, side, D(px), D(qty), D(0), D(0), True, OrderId("o"), OrderLinkId("l"), i))
        cash -= side.sign * D(px) * D(qty)
    inv = p.inventory(SYM)
    mark = D(100)
    assert inv.position == sum(s.sign * q for s, _, q in fills)
    assert abs(inv.realized_pnl + inv.unrealized(mark) - (cash + inv.position * mark)) < D("1e-18")
    assert p.total_pnl({SYM: mark}) == inv.pnl(mark)


@PROFILE
@given(st.lists(st.tuples(st.integers(1, 500), st.integers(0, 10)), min_size=1, max_size=6),
       st.sampled_from([D("0.2"), D("0.5"), D(1)]))
def test_allocator_shares_are_bounded_and_sum_to_one(stats: list[tuple[int, int]], cap: D) -> None:
    syms = [Symbol(f"S{i}") for i in range(len(stats))]
    al = Allocator(AllocatorConfig(max_weight=cap), syms)
    for s, (sigma, rebate) in zip(syms, stats, strict=True):
        al.observe(s, sigma_bps=D(sigma) / 10, rebate_bps=D(rebate) / 10)
    w = al.weights()
    assert all(v >= 0 for v in w.values())
    assert D(1) - D("1e-8") <= sum(w.values()) <= 1
    assert all(v <= max(cap, D(1) / len(syms)) for v in w.values())
    assert sum(b.notional for b in al.budgets().values()) <= al.cfg.total_notional


@PROFILE
@given(st.lists(st.tuples(st.integers(0, 900), st.booleans(), st.integers(-5, 10), st.integers(-50, 50)),
                max_size=60))
def test_ramp_fraction_stays_within_bounds_and_moves_by_steps(
    events: list[tuple[int, bool, int, int]],
) -> None:
    cfg = RolloutConfig(initial_fraction=D("0.2"), step=D("0.2"), window_s=60, max_reject_rate=D("0.1"),
                        max_adverse_bps=D(3), max_drawdown=D(20))
    r = RolloutRamp(cfg, now_ns=0)
    now, pnl = 0, D(0)
    for dt_s, reject, adverse, dpnl in events:
        now += dt_s * 1_000_000_000
        r.observe_order(post_only_rejected=reject)
        r.observe_fill(D(adverse))
        pnl += dpnl
        r.observe_pnl(pnl)
        before = r.fraction
        step = r.evaluate(now_ns=now)
        assert cfg.initial_fraction <= r.fraction <= 1
        assert r.fraction - before in (D(0), cfg.step, -cfg.step) or r.fraction in (cfg.initial_fraction, D(1))
        if step is not None and step.reason != "window_ok":
            assert r.fraction <= before
    again = RolloutRamp(cfg, now_ns=now)
    again.restore(json_io.loads(json_io.dumps(r.snapshot())))
    assert json_io.dumps(again.snapshot()) == json_io.dumps(r.snapshot())


@PROFILE
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 12)), min_size=1, max_size=20))
def test_throttle_snapshot_restore_keeps_the_budget(calls: list[tuple[int, int]]) -> None:
    cfg = ThrottleConfig(batch_per_s=15, cancel_reserve=1)
    t = Throttle(cfg)
    now = 0
    n = 0
    for dt_ms, k in calls:
        now += dt_ms * 1_000_000
        acts = []
        for _ in range(k):
            n += 1
            acts.append(OrderAction(ActionKind.AMEND, SYM, Side.BUY, OrderLinkId(f"mm-r-{n}"), D(1), D(1)))
        t.acquire(to_batches(acts, Category.LINEAR, 20), now_ns=now)
    t2 = Throttle(cfg)
    t2.restore(json_io.loads(json_io.dumps(t.snapshot())))
    for fam in ("create", "amend", "cancel", "batch"):
        assert t2.available(fam, now_ns=now) == t.available(fam, now_ns=now)
