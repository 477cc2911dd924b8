"""Risk guards: limits with reason codes, gates, kill switch latch, circuit breaker, snapshot."""

from __future__ import annotations

from decimal import Decimal as D

from bot.common import json_io
from bot.config.risk import RiskConfig
from bot.domain import OrderLinkId, Side, Symbol
from bot.errors import RiskRejected
from bot.risk import Reason, RiskGuards
from bot.strategy import ActionKind, LiveOrder, OrderAction, TopOfBook

SYM = Symbol("BTCUSDT")
MS = 1_000_000
MARKS = {SYM: D(100)}


def create(i: int, qty: str = "1", price: str = "100", side: Side = Side.BUY) -> OrderAction:
    return OrderAction(ActionKind.CREATE, SYM, side, OrderLinkId(f"mm-s-{i}"), D(price), D(qty), D(qty))


def cancel(link: str) -> OrderAction:
    return OrderAction(ActionKind.CANCEL, SYM, Side.BUY, OrderLinkId(link))


def guards(**kw: object) -> RiskGuards:
    base: dict[str, object] = {"max_position_notional": D(1000), "max_order_notional": D(300),
                               "max_open_orders": 4, "circuit_breaker_errors": 3, "cooldown_ms": 100}
    base.update(kw)
    return RiskGuards(RiskConfig(**base))  # type: ignore[arg-type]


def check(g: RiskGuards, acts: list[OrderAction], live: list[LiveOrder] = (), pos: str = "0", now: int = 0):  # type: ignore[assignment,no-untyped-def]
    return g.check(acts, live=live, positions={SYM: D(pos)}, marks=MARKS, now_ns=now)


def reasons(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.reason.value for r in decision.refusals]


def test_within_limits_everything_passes() -> None:
    d = check(guards(), [create(1), create(2, side=Side.SELL)])
    assert len(d.allowed) == 2 and not d.refusals and not d.cancel_all


def test_max_order_notional() -> None:
    assert reasons(check(guards(), [create(1, qty="4")])) == ["max_order_notional"]


def test_max_open_orders_counts_live_and_new() -> None:
    live = [LiveOrder(OrderLinkId(f"mm-s-l{i}"), SYM, Side.SELL, D(101), D(1)) for i in range(3)]
    d = check(guards(), [create(1), create(2)], live)
    assert reasons(d) == ["max_open_orders"] and len(d.allowed) == 1
    d = check(guards(), [cancel("mm-s-l0"), create(1), create(2)], live)
    assert not d.refusals


def test_worst_case_position_notional_per_side() -> None:
    # position 8 long at 100 = 800; a buy of 2 more -> 1000 ok, 3 more -> refused; sells are fine
    d = check(guards(), [create(1, qty="2"), create(2, qty="1"), create(3, qty="3", side=Side.SELL)], pos="8")
    assert reasons(d) == ["max_notional"]
    assert [a.order_link_id for a in d.allowed] == ["mm-s-1", "mm-s-3"]


def test_max_position_qty_per_symbol() -> None:
    g = guards(max_position_qty={"BTCUSDT": D(2)})
    assert reasons(check(g, [create(1, qty="2"), create(2, qty="1")])) == ["max_position"]


def test_amend_up_is_checked_and_amend_down_always_passes() -> None:
    live = [LiveOrder(OrderLinkId("mm-s-a"), SYM, Side.BUY, D(100), D(2))]
    up = OrderAction(ActionKind.AMEND, SYM, Side.BUY, OrderLinkId("mm-s-a"), D(100), D(3), D(3))
    assert reasons(check(guards(), [up], live, pos="8")) == ["max_notional"]
    down = OrderAction(ActionKind.AMEND, SYM, Side.BUY, OrderLinkId("mm-s-a"), D(100), D(1), D(1))
    assert not check(guards(), [down], live, pos="9.5").refusals


def test_cancels_always_pass_even_with_the_kill_switch() -> None:
    g = guards()
    g.engage_kill(Reason.OPERATOR, now_ns=0)
    d = check(g, [create(1), cancel("mm-s-x")])
    assert [a.kind for a in d.allowed] == [ActionKind.CANCEL]
    assert reasons(d) == ["kill_switch"] and d.cancel_all and d.halt is Reason.KILL_SWITCH


def test_daily_loss_engages_kill_switch_which_stays_until_reset() -> None:
    g = guards(daily_loss_limit=D(50), max_drawdown=D(1000))
    assert g.on_pnl(D(0), day=1, now_ns=0) is None
    assert g.on_pnl(D(-60), day=1, now_ns=1) is Reason.DAILY_LOSS
    g.on_pnl(D(100), day=2, now_ns=2)  # recovery and a new day do not clear it
    assert g.kill.engaged and g.kill.reason is Reason.DAILY_LOSS
    assert g.reset_kill(operator="alice")
    assert not g.kill.engaged and g.kill.reset_by == "alice"
    assert g.on_pnl(D(90), day=2, now_ns=3) is None


def test_drawdown_from_peak_engages_kill() -> None:
    g = guards(daily_loss_limit=D(1000), max_drawdown=D(30))
    g.on_pnl(D(0), day=1, now_ns=0)
    g.on_pnl(D(100), day=1, now_ns=1)
    assert g.on_pnl(D(69), day=1, now_ns=2) is Reason.DRAWDOWN


def test_book_gate_reasons_and_symbol_block() -> None:
    g = guards(stale_book_ms=10)
    good = TopOfBook((D(100), D(1)), (D(101), D(1)), 0)
    assert g.gate(SYM, good, now_ns=5 * MS) is None
    assert g.gate(SYM, good, now_ns=11 * MS) is Reason.STALE_BOOK
    assert reasons(check(g, [create(1)], now=11 * MS)) == ["stale_book"]
    assert g.gate(SYM, TopOfBook((D(101), D(1)), (D(100), D(1)), 0), now_ns=0) is Reason.CROSSED_BOOK
    assert g.gate(SYM, TopOfBook(None, (D(100), D(1)), 0), now_ns=0) is Reason.EMPTY_BOOK
    assert g.gate(SYM, TopOfBook((D(0), D(1)), (D(100), D(1)), 0), now_ns=0) is Reason.INVALID_BOOK
    assert g.gate(SYM, good, now_ns=0) is None
    assert not check(g, [create(1)]).refusals


def test_circuit_breaker_after_consecutive_errors_then_cooldown() -> None:
    g = guards()
    for t in range(2):
        g.on_request_result(False, now_ns=t)
    g.on_request_result(True, now_ns=2)
    assert g.halt_reason(now_ns=3) is None
    for t in range(3):
        g.on_request_result(False, now_ns=10 + t)
    assert g.halt_reason(now_ns=20) is Reason.CIRCUIT_BREAKER
    assert reasons(check(g, [create(1)], now=20)) == ["circuit_breaker"]
    assert g.halt_reason(now_ns=12 + 100 * MS) is None


def test_order_gone_is_a_race_not_an_error_for_the_circuit_breaker() -> None:
    """110001 on an amend of an order a fill closed first: a correct venue answer; 10016 is a fault."""
    g = guards()
    for t in range(10):
        g.on_request_result(False, now_ns=t, ret_code=110001)
    assert g.halt_reason(now_ns=10) is None
    for t in range(3):
        g.on_request_result(False, now_ns=20 + t, ret_code=10016)
    assert g.halt_reason(now_ns=30) is Reason.CIRCUIT_BREAKER


def test_post_only_reject_rate_guard() -> None:
    g = guards(max_post_only_reject_rate=D("0.1"), reject_min_samples=10)
    for i in range(10):
        g.on_order_outcome(post_only_cancelled=i < 2, now_ns=0)
    assert g.halt_reason(now_ns=1) is Reason.POST_ONLY_REJECT_RATE
    assert g.halt_reason(now_ns=101 * MS) is None


def test_latency_guard_uses_the_median() -> None:
    g = guards(max_latency_ms=100, latency_window=5)
    for ms in (10, 500, 20):
        g.on_latency(ms)
    assert g.halt_reason(now_ns=0) is None
    for ms in (300, 400):
        g.on_latency(ms)
    assert g.halt_reason(now_ns=0) is Reason.LATENCY


def test_latency_halt_lifts_after_the_cooldown_without_new_orders() -> None:
    # halted, the bot sends nothing, so no fresh latency arrives: the halt must still end
    g = guards(max_latency_ms=100, latency_window=4, cooldown_ms=100)
    for ms in (600, 700, 800):
        g.on_latency(ms)
    assert g.halt_reason(now_ns=0) is Reason.LATENCY
    assert g.halt_reason(now_ns=99 * MS) is Reason.LATENCY
    assert g.halt_reason(now_ns=101 * MS) is None
    for ms in (900, 900, 900):  # still slow after the pause: halted again
        g.on_latency(ms)
    assert g.halt_reason(now_ns=102 * MS) is Reason.LATENCY


def test_kill_switch_survives_snapshot_restore_through_json() -> None:
    g = guards(daily_loss_limit=D(10))
    g.on_pnl(D(0), day=1, now_ns=0)
    g.on_pnl(D(-20), day=1, now_ns=5)
    data = json_io.loads(json_io.dumps(g.snapshot()))
    g2 = guards()
    g2.restore(data)
    assert g2.kill.engaged and g2.kill.reason is Reason.DAILY_LOSS and g2.kill.engaged_at_ns == 5


def test_refusal_as_risk_rejected() -> None:
    [r] = check(guards(), [create(1, qty="4")]).refusals
    err = r.error()
    assert isinstance(err, RiskRejected) and err.reason == "max_order_notional"
    assert err.context["order_link_id"] == "mm-s-1"
