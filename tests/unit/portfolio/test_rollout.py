"""Rollout ramp: starts small, steps up after a clean window, back on a breach, survives restarts."""

from __future__ import annotations

from decimal import Decimal as D

from bot.common import json_io
from bot.config.rollout import RolloutConfig
from bot.portfolio import RolloutRamp

S = 1_000_000_000
CFG = RolloutConfig(initial_fraction=D("0.25"), step=D("0.25"), window_s=60, max_reject_rate=D("0.1"),
                    max_adverse_bps=D(3), max_drawdown=D(50))


def test_steps_up_after_each_clean_window_to_full_size() -> None:
    r = RolloutRamp(CFG, now_ns=0, config_id="c1")
    assert r.fraction == D("0.25")
    assert r.evaluate(now_ns=30 * S) is None
    step = r.evaluate(now_ns=60 * S)
    assert step is not None and step.reason == "window_ok" and r.fraction == D("0.5")
    for k in (2, 3, 4, 5):
        r.evaluate(now_ns=60 * k * S)
    assert r.fraction == D(1)


def test_reject_rate_breach_steps_back_immediately() -> None:
    r = RolloutRamp(CFG, now_ns=0)
    r.evaluate(now_ns=60 * S)
    for i in range(10):
        r.observe_order(post_only_rejected=i < 2)
    step = r.evaluate(now_ns=61 * S)
    assert step is not None and step.reason == "reject_rate" and r.fraction == D("0.25")


def test_adverse_selection_and_drawdown_breaches() -> None:
    r = RolloutRamp(CFG, now_ns=0)
    for _ in range(5):
        r.observe_fill(D(4))
    assert r.breach() == "adverse_selection"
    r2 = RolloutRamp(CFG, now_ns=0)
    r2.observe_pnl(D(100))
    r2.observe_pnl(D(40))
    assert r2.breach() == "drawdown"


def test_disabled_ramp_is_full_size() -> None:
    assert RolloutRamp(RolloutConfig(enabled=False), now_ns=0).fraction == 1


def test_snapshot_restore_same_config_keeps_state_other_config_restarts() -> None:
    r = RolloutRamp(CFG, now_ns=0, config_id="c1")
    r.evaluate(now_ns=60 * S)
    r.observe_order(post_only_rejected=False)
    data = json_io.loads(json_io.dumps(r.snapshot()))
    same = RolloutRamp(CFG, now_ns=100 * S, config_id="c1")
    same.restore(data)
    assert same.fraction == D("0.5") and same.orders == 1 and same.history[-1].reason == "window_ok"
    other = RolloutRamp(CFG, now_ns=100 * S, config_id="c2")
    other.restore(data, now_ns=100 * S)
    assert other.fraction == D("0.25") and other.history[-1].reason == "new_config"
