"""QuoteCycle wiring: book update -> batches in flight; kill on loss cancels everything."""

from __future__ import annotations

from decimal import Decimal as D

from bot.config.portfolio import AllocatorConfig, ThrottleConfig
from bot.config.risk import RiskConfig
from bot.config.rollout import RolloutConfig
from bot.config.strategy import StrategyConfig
from bot.domain import Category, Fill, Instrument, OrderId, OrderLinkId, Side, Symbol
from bot.portfolio import Allocator, Portfolio, QuoteCycle, RolloutRamp, Throttle
from bot.portfolio.cycle import CycleResult
from bot.risk import RiskGuards
from bot.strategy import ActionKind, OrderLinkIds, OrderManager, QuoteParams, TopOfBook

SYMS = [Symbol("BTCUSDT"), Symbol("ETHUSDT")]
INSTS = {s: Instrument(s, Category.LINEAR, D("0.1"), D("0.001"), D("0.001"), D(100)) for s in SYMS}
T0 = 1_700_000_000 * 10**9


def make_cycle() -> QuoteCycle:
    strat = StrategyConfig(levels=3, order_notional=D(100), vol_min_samples=0)
    return QuoteCycle(
        params={s: QuoteParams.from_config(strat, i, maker_fee_rate=D("-0.00005"), max_book_age_ms=2000)
                for s, i in INSTS.items()},
        strategy=strat,
        order_manager=OrderManager(instruments=INSTS, category=Category.LINEAR, link_ids=OrderLinkIds("mm", "t")),
        guards=RiskGuards(RiskConfig(daily_loss_limit=D(5), max_drawdown=D(10))),
        throttle=Throttle(ThrottleConfig()),
        allocator=Allocator(AllocatorConfig(total_notional=D(2400)), SYMS),
        ramp=RolloutRamp(RolloutConfig(enabled=False), now_ns=T0),
        portfolio=Portfolio(SYMS),
    )


def ack_all(c: QuoteCycle, r: CycleResult) -> None:
    """The venue accepted every write of `r`."""
    for b in r.batches:
        for a in b.actions:
            c.om.on_ack(a, ok=True)


def top(bid: str, ask: str, ts: int = T0) -> TopOfBook:
    return TopOfBook((D(bid), D(1)), (D(ask), D(1)), ts)


def test_book_update_produces_one_create_batch_per_symbol_then_nothing() -> None:
    c = make_cycle()
    r = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0)
    assert [(b.kind, len(b.actions)) for b in r.batches] == [(ActionKind.CREATE, 6)]
    assert r.quotes.obligations is not None
    for b in r.batches:
        for a in b.actions:
            c.om.on_ack(a, ok=True)
    assert not c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0 + 1).batches
    moved = c.on_book(SYMS[0], top("2001.0", "2001.5"), now_ns=T0 + 2)
    assert {b.kind for b in moved.batches} == {ActionKind.AMEND}


def test_loss_engages_kill_and_cancels_every_symbol() -> None:
    c = make_cycle()
    c.throttle = Throttle(ThrottleConfig(batch_per_s=100))
    for s in SYMS:
        for b in c.on_book(s, top("2000.0", "2000.5"), now_ns=T0).batches:
            for a in b.actions:
                c.om.on_ack(a, ok=True)
    c.portfolio.on_fill(Fill("e1", SYMS[0], Side.BUY, D("2000.0"), D("0.05"), D(0), D(0), True, OrderId("o"),
                             OrderLinkId("mm-t-1"), 0))
    r = c.on_book(SYMS[0], top("1800.0", "1800.5"), now_ns=T0 + 10)
    assert c.guards.kill.engaged
    assert r.batches and all(b.kind is ActionKind.CANCEL for b in r.batches)
    assert sum(len(b.actions) for b in r.batches) == 12
    assert c.cancel_everything(now_ns=T0 + 11) == []  # all already in flight


def test_no_quotes_until_the_volatility_estimate_is_warm() -> None:
    c = make_cycle()
    c.strategy = StrategyConfig(levels=3, order_notional=D(100), vol_min_samples=3)
    mids = ["2000.0", "2000.2", "2000.1", "2000.3"]
    reasons = [c.on_book(SYMS[0], top(b, str(D(b) + D("0.5"))), now_ns=T0 + i).quotes.reason
               for i, b in enumerate(mids)]
    assert reasons == ["vol_warmup", "vol_warmup", "vol_warmup", None]


def test_level_size_follows_the_rollout_fraction() -> None:
    c = make_cycle()
    c.ramp = RolloutRamp(RolloutConfig(initial_fraction=D("0.5")), now_ns=T0)
    q = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0).quotes
    # budget 2400 / 2 symbols / 6 orders = 200, capped at order_notional 100, x 0.5 = 50 quote;
    # 50 / 2000.25 = 0.02499.. floored to the 0.001 lot (the levels behind the best)
    assert [b.qty for b in q.bids[1:]] == [D("0.024"), D("0.024")]
    # the best level carries the obligation's minimum (50 USDT at its price), ceiled to the lot
    assert q.bids[0].qty == D("0.025") and q.bids[0].qty * q.bids[0].price >= D(50)


def test_refresh_allocation_moves_budget_to_the_calmer_symbol() -> None:
    c = make_cycle()
    c.strategy = StrategyConfig(levels=3, order_notional=D(1000), vol_min_samples=0)
    for i, (b0, b1) in enumerate([("2000.0", "2000.0"), ("2000.1", "2003.0"), ("2000.0", "2000.0")]):
        c.on_book(SYMS[0], top(b0, str(D(b0) + D("0.5"))), now_ns=T0 + i)
        c.on_book(SYMS[1], top(b1, str(D(b1) + D("0.5"))), now_ns=T0 + i)
    c.refresh_allocation()
    w = c.allocator.weights()
    assert w[SYMS[0]] > w[SYMS[1]]
    assert c.inputs(SYMS[0]).level_notional > c.inputs(SYMS[1]).level_notional


def test_spent_write_budget_defers_without_risk_check_or_batches() -> None:
    # all writes through the batch budget of 8/s, 2 of them reserved for cancels: the 6 creates of
    # the first quote leave no room for amends, so the next re-price comes back deferred, with
    # nothing sent or refused; once the window rolls over, the same move goes out as amends
    c = make_cycle()
    c.throttle = Throttle(ThrottleConfig(batch_per_s=8, single_endpoints=False))
    first = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0)
    assert [len(b.actions) for b in first.batches] == [6]
    ack_all(c, first)
    assert not c.throttle.can_grant(ActionKind.AMEND, now_ns=T0 + 1)
    assert c.throttle.can_grant(ActionKind.CANCEL, now_ns=T0 + 1)  # the reserve
    # a limit every re-price would break: a deferred action is not risk-checked (nor refused) yet
    limits = c.guards.cfg
    c.guards.cfg = limits.model_copy(update={"max_order_notional": D(1)})
    held = c.on_book(SYMS[0], top("2002.0", "2002.5"), now_ns=T0 + 1)
    assert not held.batches and not held.refusals
    c.guards.cfg = limits
    assert held.deferred and {a.kind for a in held.deferred} == {ActionKind.AMEND}
    later = c.on_book(SYMS[0], top("2002.0", "2002.5"), now_ns=T0 + 1_100_000_000)
    assert [(b.kind, len(b.actions)) for b in later.batches] == [(ActionKind.AMEND, len(held.deferred))]


def test_several_actions_wait_for_the_batch_budget_even_with_a_single_endpoint_free() -> None:
    # acquire() sends several actions of one kind as one batch, so a free single-amend budget does
    # not help a re-price of several orders: the cycle defers it before the risk check, as acquire would
    c = make_cycle()
    c.throttle = Throttle(ThrottleConfig(batch_per_s=8, amend_per_s=10))
    first = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0)
    ack_all(c, first)
    assert c.throttle.can_grant(ActionKind.AMEND, now_ns=T0 + 1)  # one alone could go
    assert not c.throttle.can_grant(ActionKind.AMEND, now_ns=T0 + 1, items=6)
    limits = c.guards.cfg
    c.guards.cfg = limits.model_copy(update={"max_order_notional": D(1)})
    held = c.on_book(SYMS[0], top("2002.0", "2002.5"), now_ns=T0 + 1)
    assert not held.batches and not held.refusals
    assert len(held.deferred) >= 2 and {a.kind for a in held.deferred} == {ActionKind.AMEND}


def test_a_side_left_empty_gets_its_best_level_through_the_single_create_endpoint() -> None:
    # the first quote's 6 creates spend the batch budget (8/s, 2 reserved for cancels); the asks
    # then fill and are gone: the re-created asks cannot go as a batch, but the empty side's best
    # level goes alone, while the bids (still quoting) wait for the batch budget
    c = make_cycle()
    c.throttle = Throttle(ThrottleConfig(batch_per_s=8, create_per_s=10))
    first = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0)
    ack_all(c, first)
    for o in [o for o in c.om.live(SYMS[0]) if o.side is Side.SELL]:
        c.om.forget(o.order_link_id)
    assert c.om.empty_sides(SYMS[0]) == {Side.SELL}
    r = c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0 + 1)
    assert [(b.path, b.actions[0].side) for b in r.batches] == [("/v5/order/create", Side.SELL)]
    best_ask = min(a.price for a in first.batches[0].actions if a.side is Side.SELL and a.price is not None)
    assert r.batches[0].actions[0].price == best_ask
    assert len(r.deferred) == 2 and {a.side for a in r.deferred} == {Side.SELL}


def test_a_cycle_waiting_for_budget_requotes_when_the_budget_the_orders_or_a_hold_says_so() -> None:
    c = make_cycle()
    c.throttle = Throttle(ThrottleConfig(batch_per_s=8, single_endpoints=False))
    ack_all(c, c.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0))
    held = c.on_book(SYMS[0], top("2002.0", "2002.5"), now_ns=T0 + 1)
    assert held.deferred and not held.batches
    # only the book moved and the budget is still spent: the deferred result stands, unquoted
    assert c.on_book(SYMS[0], top("2003.0", "2003.5"), now_ns=T0 + 2) is held
    # an order changed (a fill): quoted again, though the budget is still spent
    o = c.om.live(SYMS[0])[0]
    c.om.on_fill(Fill("e1", SYMS[0], o.side, o.price, D("0.001"), D(0), D(0), True, OrderId("o"), o.order_link_id, 0))
    moved = c.on_book(SYMS[0], top("2003.0", "2003.5"), now_ns=T0 + 3)
    assert moved is not held and moved.deferred and moved.quotes.bids[0].price > held.quotes.bids[0].price
    # a hold is never answered from the wait: the cancels are planned now
    paused = c.on_book(SYMS[0], top("2004.0", "2004.5"), now_ns=T0 + 4, hold="paused")
    assert paused.quotes.reason == "paused"
    planned = [a for b in paused.batches for a in b.actions] + list(paused.deferred)
    assert planned and {a.kind for a in planned} == {ActionKind.CANCEL}
    # once the window rolls over, the newest book goes out
    c2 = make_cycle()
    c2.throttle = Throttle(ThrottleConfig(batch_per_s=8, single_endpoints=False))
    ack_all(c2, c2.on_book(SYMS[0], top("2000.0", "2000.5"), now_ns=T0))
    held2 = c2.on_book(SYMS[0], top("2002.0", "2002.5"), now_ns=T0 + 1)
    assert c2.on_book(SYMS[0], top("2003.0", "2003.5"), now_ns=T0 + 2) is held2
    later = c2.on_book(SYMS[0], top("2005.0", "2005.5"), now_ns=T0 + 1_100_000_000)
    amends = [a for b in later.batches for a in b.actions]
    assert amends and {a.kind for a in amends} == {ActionKind.AMEND}
    asks_then = [a.price for a in held2.deferred if a.side is Side.SELL and a.price]
    assert asks_then and min(a.price for a in amends if a.side is Side.SELL and a.price) > max(asks_then)
