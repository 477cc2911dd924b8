"""Allocator: equal and volatility/rebate weights, cap, budgets, snapshot."""

from __future__ import annotations

from decimal import Decimal as D

from bot.common import json_io
from bot.config.portfolio import AllocatorConfig
from bot.domain import Symbol
from bot.portfolio import Allocator

A, B, C = Symbol("AAA"), Symbol("BBB"), Symbol("CCC")


def test_equal_until_observed() -> None:
    al = Allocator(AllocatorConfig(total_notional=D(3000)), [A, B, C])
    assert al.weights() == dict.fromkeys((A, B, C), D("0.333333333"))
    assert al.budget(A).notional == D("999.999999000")
    assert sum(b.notional for b in al.budgets().values()) <= D(3000)


def test_calmer_symbol_gets_more() -> None:
    al = Allocator(AllocatorConfig(rebate_weight=D(0)), [A, B])
    al.observe(A, sigma_bps=D(1), rebate_bps=D(0))
    al.observe(B, sigma_bps=D(3), rebate_bps=D(0))
    w = al.weights()
    assert w[A] == D("0.75") and w[B] == D("0.25")


def test_rebate_on_offer_raises_share() -> None:
    al = Allocator(AllocatorConfig(rebate_weight=D(1)), [A, B])
    al.observe(A, sigma_bps=D(1), rebate_bps=D(1))
    al.observe(B, sigma_bps=D(1), rebate_bps=D(0))
    w = al.weights()
    assert w[A] > w[B] and D("0.999999998") <= sum(w.values()) <= 1


def test_cap_spreads_excess() -> None:
    al = Allocator(AllocatorConfig(max_weight=D("0.5")), [A, B, C])
    al.observe(A, sigma_bps=D("0.5"), rebate_bps=D(0))
    al.observe(B, sigma_bps=D(10), rebate_bps=D(0))
    al.observe(C, sigma_bps=D(10), rebate_bps=D(0))
    w = al.weights()
    assert w == {A: D("0.5"), B: D("0.25"), C: D("0.25")}


def test_level_notional_is_capped_and_ramped() -> None:
    al = Allocator(AllocatorConfig(total_notional=D(1200)), [A, B])
    b = al.budget(A)
    assert b.level_notional(3, D(1000)) == D(100)
    assert b.level_notional(3, D(50), D("0.5")) == D(25)


def test_equal_method_ignores_stats_and_snapshot_roundtrip() -> None:
    al = Allocator(AllocatorConfig(method="equal"), [A, B])
    al.observe(A, sigma_bps=D(1), rebate_bps=D(0))
    assert al.weights()[A] == D("0.5")
    al2 = Allocator(AllocatorConfig(method="equal"), [A, B])
    al2.restore(json_io.loads(json_io.dumps(al.snapshot())))
    assert json_io.dumps(al2.snapshot()) == json_io.dumps(al.snapshot())
