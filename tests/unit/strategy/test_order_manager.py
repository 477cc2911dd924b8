"""Order manager: fewest actions, in-flight discipline, fills, post-only backoff, batches, link ids."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from bot.domain import Category, Fill, Instrument, OrderId, OrderLinkId, OrderStatus, Side, Symbol
from bot.strategy import (
    POST_ONLY_REJECT,
    ActionKind,
    OrderAction,
    OrderLinkIds,
    OrderManager,
    OrderUpdate,
    QuoteLevel,
    Quotes,
    to_batches,
)

SYM = Symbol("BTCUSDT")
INST = Instrument(SYM, Category.LINEAR, D("0.1"), D("0.001"), D("0.001"), D("100"))


def om(tol: int = 0, **kw: object) -> OrderManager:
    return OrderManager(instruments={SYM: INST}, category=Category.LINEAR, link_ids=OrderLinkIds("mm", "s1"),
                        tolerance_ticks=tol, **kw)  # type: ignore[arg-type]


def quotes(bids: list[tuple[str, str]], asks: list[tuple[str, str]] = ()) -> Quotes:  # type: ignore[assignment]
    def lv(side: Side, items: list[tuple[str, str]]) -> tuple[QuoteLevel, ...]:
        return tuple(QuoteLevel(side, i, INST.to_ticks(D(p)), D(p), D(q)) for i, (p, q) in enumerate(items))
    return Quotes(SYM, lv(Side.BUY, bids), lv(Side.SELL, list(asks)))


def settle(m: OrderManager, actions: list[OrderAction]) -> None:
    for a in m.submitted(actions, now_ns=1):
        m.on_ack(a, ok=True, order_id=OrderId("x" + a.order_link_id))


def kinds(actions: list[OrderAction]) -> list[str]:
    return sorted(a.kind.value for a in actions)


def test_first_diff_creates_every_level_with_deterministic_ids() -> None:
    m = om()
    acts = m.diff(quotes([("100.0", "1"), ("99.9", "1")], [("100.2", "1")]))
    assert kinds(acts) == ["create"] * 3
    assert [a.order_link_id for a in acts] == ["mm-s1-1", "mm-s1-2", "mm-s1-3"]
    settle(m, acts)
    assert m.diff(quotes([("100.0", "1"), ("99.9", "1")], [("100.2", "1")])) == []


def test_move_within_tolerance_is_kept() -> None:
    m = om(tol=1)
    settle(m, m.diff(quotes([("100.0", "1")])))
    assert m.diff(quotes([("100.1", "1")])) == []
    [a] = m.diff(quotes([("100.2", "1")]))
    assert a.kind is ActionKind.AMEND and a.price == D("100.2") and a.qty is None


def test_shift_by_one_level_costs_one_amend() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1"), ("99.9", "1"), ("99.8", "1")])))
    [a] = m.diff(quotes([("100.1", "1"), ("100.0", "1"), ("99.9", "1")]))
    assert a.kind is ActionKind.AMEND and a.price == D("100.1")
    assert m.orders[a.order_link_id].price == D("99.8")


def test_fewer_levels_cancel_and_more_levels_create() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1"), ("99.9", "1")])))
    assert kinds(m.diff(quotes([("100.0", "1")]))) == ["cancel"]
    assert kinds(m.diff(quotes([("100.0", "1"), ("99.9", "1"), ("99.8", "1")]))) == ["create"]
    assert kinds(m.diff(Quotes.none(SYM, "stale_book"))) == ["cancel", "cancel"]


def test_size_change_amends_total_qty_including_filled() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "2")])))
    link = next(iter(m.orders))
    m.on_fill(Fill("e1", SYM, Side.BUY, D("100.0"), D("1.5"), D(0), D(0), True, OrderId("x"), link, 0))
    assert m.orders[link].leaves == D("0.5")
    [a] = m.diff(quotes([("100.0", "2")]))
    assert a.kind is ActionKind.AMEND and a.price is None and a.qty == D("3.5") and a.leaves == D(2)


def test_fill_and_order_update_do_not_double_count() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "2")])))
    link = next(iter(m.orders))
    fill = Fill("e1", SYM, Side.BUY, D("100.0"), D("0.5"), D(0), D(0), True, OrderId("x"), link, 0)
    m.on_order_update(OrderUpdate(link, SYM, Side.BUY, OrderStatus.PARTIALLY_FILLED, D("100.0"), D(2), D("0.5")))
    m.on_fill(fill)
    m.on_fill(fill)
    assert m.orders[link].leaves == D("1.5")
    m.on_order_update(OrderUpdate(link, SYM, Side.BUY, OrderStatus.FILLED, D("100.0"), D(2), D(2)))
    assert link not in m.orders


def test_in_flight_order_is_never_touched_twice() -> None:
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    # the create is not acked yet: a new desired price must not amend it
    acts = m.diff(quotes([("101.0", "1")]))
    assert all(a.order_link_id != c.order_link_id for a in acts)
    assert kinds(acts) == ["create"]
    with pytest.raises(ValueError, match="in flight"):
        m.submitted([OrderAction(ActionKind.CANCEL, SYM, Side.BUY, c.order_link_id)], now_ns=2)


def test_in_flight_order_matching_desired_blocks_a_duplicate_create() -> None:
    m = om()
    m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    assert m.diff(quotes([("100.0", "1")])) == []


def test_ack_failures() -> None:
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    m.on_ack(c, ok=False, ret_code=10001)
    assert not m.orders
    settle(m, m.diff(quotes([("100.0", "1")])))
    [a] = m.submitted(m.diff(quotes([("99.0", "1")])), now_ns=2)
    m.on_ack(a, ok=False, ret_code=10001)  # refused amend: order stays at its old price
    assert m.orders[a.order_link_id].price == D("100.0") and m.orders[a.order_link_id].pending is None
    [a] = m.submitted(m.diff(quotes([("99.0", "1")])), now_ns=3)
    m.on_ack(a, ok=False, ret_code=110001)  # order already gone
    assert not m.orders


def test_cancel_stays_pending_until_the_update_confirms() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1")])))
    [x] = m.submitted(m.diff(Quotes.none(SYM, "kill_switch")), now_ns=2)
    m.on_ack(x, ok=True)
    assert m.orders[x.order_link_id].pending is ActionKind.CANCEL
    assert m.cancel_all() == []
    m.on_order_update(OrderUpdate(x.order_link_id, SYM, Side.BUY, OrderStatus.CANCELLED, D("100.0"), D(1)))
    assert not m.orders


def test_post_only_cancel_backs_off_one_tick_then_relaxes() -> None:
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    m.on_order_update(OrderUpdate(c.order_link_id, SYM, Side.BUY, OrderStatus.CANCELLED, D("100.0"), D(1),
                                  reject_reason=POST_ONLY_REJECT))
    assert m.backoff_ticks(SYM, Side.BUY) == 1 and m.backoff_ticks(SYM, Side.SELL) == 0
    assert m.stats.post_only_cancels == 1
    [c2] = m.submitted(m.diff(quotes([("99.9", "1")])), now_ns=2)
    m.on_order_update(OrderUpdate(c2.order_link_id, SYM, Side.BUY, OrderStatus.NEW, D("99.9"), D(1)))
    assert m.backoff_ticks(SYM, Side.BUY) == 0


def test_order_update_adopts_our_orders_and_ignores_foreign_ones() -> None:
    m = om()
    m.on_order_update(OrderUpdate(OrderLinkId("mm-old-7"), SYM, Side.SELL, OrderStatus.NEW, D(101), D(1)))
    m.on_order_update(OrderUpdate(OrderLinkId("manual-1"), SYM, Side.SELL, OrderStatus.NEW, D(101), D(1)))
    assert list(m.orders) == ["mm-old-7"]
    assert kinds(m.diff(quotes([]))) == ["cancel"]


def _upd(link: str, status: OrderStatus, price: str, qty: str, cum: str = "0") -> OrderUpdate:
    return OrderUpdate(OrderLinkId(link), SYM, Side.BUY, status, D(price), D(qty), D(cum))


def test_a_late_open_update_does_not_revive_an_order_a_fill_closed() -> None:
    """Execution and order topics are separate streams: the fill can beat the order's own "New"."""
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    m.on_ack(c, ok=True)
    m.on_fill(Fill("e1", SYM, Side.BUY, D("100.0"), D(1), D(0), D(0), True, OrderId("x"), c.order_link_id, 0))
    assert not m.orders
    m.on_order_update(_upd(c.order_link_id, OrderStatus.NEW, "100.0", "1"))
    assert not m.orders  # no phantom order for the next diff to amend or cancel
    m.on_order_update(_upd(c.order_link_id, OrderStatus.FILLED, "100.0", "1", "1"))
    assert not m.orders


def test_a_fill_of_the_old_size_keeps_an_order_whose_size_up_amend_is_in_flight() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1")])))
    [a] = m.submitted(m.diff(quotes([("100.0", "2")])), now_ns=2)
    assert a.qty == D(2)
    m.on_fill(Fill("e1", SYM, Side.BUY, D("100.0"), D(1), D(0), D(0), True, OrderId("x"), a.order_link_id, 0))
    assert a.order_link_id in m.orders  # the amend may land: one lot would still rest
    m.on_ack(a, ok=True)
    assert m.orders[a.order_link_id].leaves == D(1)


def test_a_size_up_amend_refused_for_fills_drops_the_exhausted_order() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1")])))
    [a] = m.submitted(m.diff(quotes([("100.0", "2")])), now_ns=2)
    m.on_fill(Fill("e1", SYM, Side.BUY, D("100.0"), D(1), D(0), D(0), True, OrderId("x"), a.order_link_id, 0))
    m.on_ack(a, ok=False, ret_code=110064)  # amended qty <= filled qty
    assert not m.orders


def test_an_older_open_update_does_not_roll_back_an_acknowledged_amend() -> None:
    """The order topic can lag the REST ack: the create's "New" arriving after the amend's ack."""
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=1)
    m.on_ack(c, ok=True)
    [a] = m.submitted(m.diff(quotes([("100.5", "2")])), now_ns=2)
    m.on_ack(a, ok=True)
    m.on_order_update(_upd(c.order_link_id, OrderStatus.NEW, "100.0", "1"))  # from the create
    o = m.orders[c.order_link_id]
    assert (o.price, o.qty) == (D("100.5"), D(2))
    m.on_order_update(_upd(c.order_link_id, OrderStatus.NEW, "100.5", "2"))  # the amend's own
    m.on_order_update(_upd(c.order_link_id, OrderStatus.PARTIALLY_FILLED, "100.5", "2", "0.5"))
    assert (o.price, o.qty, o.leaves) == (D("100.5"), D(2), D("1.5"))


def test_a_late_ack_of_an_earlier_amend_does_not_settle_the_current_one() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1")])))
    [a1] = m.submitted(m.diff(quotes([("100.5", "1")])), now_ns=2)
    link = a1.order_link_id
    m.on_order_update(_upd(link, OrderStatus.NEW, "100.5", "1"))  # a1 landed; its ack is still on its way
    [a2] = m.submitted(m.diff(quotes([("101.0", "1")])), now_ns=3)
    m.on_ack(a1, ok=True)
    assert m.orders[link].pending is ActionKind.AMEND  # still waiting for a2
    assert all(x.order_link_id != link for x in m.diff(quotes([("99.0", "1")])))  # nothing else for it
    m.on_ack(a2, ok=True)
    assert m.orders[link].pending is None and m.orders[link].price == D("101.0")


def test_expire_pending_lists_stuck_actions() -> None:
    m = om()
    [c] = m.submitted(m.diff(quotes([("100.0", "1")])), now_ns=100)
    assert m.expire_pending(now_ns=150, timeout_ns=100) == []
    assert m.expire_pending(now_ns=300, timeout_ns=100) == [c.order_link_id]
    m.forget(c.order_link_id)
    assert not m.orders


def test_batches_respect_category_item_limits_and_priority() -> None:
    acts = [OrderAction(ActionKind.CREATE, SYM, Side.BUY, OrderLinkId(f"mm-s-{i}"), D(1), D(1)) for i in range(25)]
    acts.append(OrderAction(ActionKind.CANCEL, SYM, Side.BUY, OrderLinkId("mm-s-99")))
    lin = to_batches(acts, Category.LINEAR, 20)
    assert [(b.kind.value, len(b.actions)) for b in lin] == [("cancel", 1), ("create", 20), ("create", 5)]
    assert lin[0].path == "/v5/order/cancel" and lin[1].path == "/v5/order/create-batch"
    spot = to_batches(acts, Category.SPOT, 20)
    assert [len(b.actions) for b in spot] == [1, 10, 10, 5]
    body = lin[1].body()
    assert body["category"] == "linear" and body["request"][0]["timeInForce"] == "PostOnly"


def test_link_ids_are_bounded_and_validated() -> None:
    ids = OrderLinkIds("abcdef", "A" * 12, counter=10**15)
    assert len(ids.next()) <= 36
    with pytest.raises(ValueError):
        OrderLinkIds("bad-prefix", "s")
    with pytest.raises(ValueError):
        OrderLinkIds("mm", "has space")
    with pytest.raises(OverflowError):
        OrderLinkIds("abcdef", "A" * 12, counter=10**16 - 1).next()


def test_open_qty_counts_in_flight_worst_case() -> None:
    m = om()
    settle(m, m.diff(quotes([("100.0", "1")])))
    m.submitted(m.diff(quotes([("100.0", "3")])), now_ns=5)
    assert m.open_qty(SYM, Side.BUY) == D(3)


def test_own_bounds_follow_every_change_of_the_live_set() -> None:
    # own_bounds is cached per OrderManager.version: each kind of change must show in the next read
    m = om()
    assert m.own_bounds(SYM) == (None, None)
    acts = m.diff(quotes([("100.0", "1")], [("100.3", "1")]))
    assert m.own_bounds(SYM) == (None, None)  # planned, not sent
    m.submitted(acts, now_ns=1)
    assert m.own_bounds(SYM) == (1000, 1003)  # in flight counts
    for a in acts:
        m.on_ack(a, ok=True)
    assert m.own_bounds(SYM) == (1000, 1003)
    [amend] = m.diff(quotes([("100.1", "1")], [("100.3", "1")]))
    m.submitted([amend], now_ns=2)
    assert m.own_bounds(SYM) == (1001, 1003)  # the in-flight target of an amend counts
    m.on_ack(amend, ok=True)
    assert m.own_bounds(SYM) == (1001, 1003)
    ask = next(o for o in m.live(SYM) if o.side is Side.SELL)
    m.on_order_update(OrderUpdate(ask.order_link_id, SYM, Side.SELL, OrderStatus.CANCELLED, D("100.3"), D(1)))
    assert m.own_bounds(SYM) == (1001, None)
    bid = m.live(SYM)[0]
    m.on_fill(Fill("e1", SYM, Side.BUY, D("100.1"), D(1), D(0), D(0), True, OrderId("o1"), bid.order_link_id, 3))
    assert m.own_bounds(SYM) == (None, None)  # fully filled: gone


def test_unchanged_quotes_against_unchanged_orders_plan_nothing_and_any_change_is_seen() -> None:
    # the quote sides are cached tuples: the same object again means the same quotes
    m = om()
    q = quotes([("100.0", "1"), ("99.9", "1")], [("100.2", "1")])
    settle(m, m.diff(q))
    assert m.diff(q) == [] and m.diff(q) == []
    [bid] = [o for o in m.live() if o.side is Side.BUY and o.price == D("100.0")]
    # the venue cancelled it (an order change the quotes do not show): the same quotes re-create it
    m.on_order_update(OrderUpdate(bid.order_link_id, SYM, Side.BUY, OrderStatus.CANCELLED, D("100.0"), D(1)))
    [again] = m.diff(q)
    assert again.kind is ActionKind.CREATE and again.price == D("100.0")
    settle(m, [again])
    assert m.diff(q) == []
    [ask] = [o for o in m.live() if o.side is Side.SELL]
    m.on_fill(Fill("e1", SYM, Side.SELL, D("100.2"), D("0.5"), D(0), D(0), True, OrderId("x"), ask.order_link_id, 0))
    [top_up] = m.diff(q)  # half filled: leaves 0.5 of 1 is outside the size tolerance
    assert top_up.kind is ActionKind.AMEND and top_up.order_link_id == ask.order_link_id
    settle(m, [top_up])
    m.on_order_update(OrderUpdate(ask.order_link_id, SYM, Side.SELL, OrderStatus.PARTIALLY_FILLED, D("100.2"),
                                  D("1.5"), D("0.5")))
    assert m.diff(q) == []
    m.tolerance_ticks = 5  # a hot reload: a looser tolerance may keep what a tighter one moved
    wider = quotes([("100.3", "1"), ("100.2", "1")], [("100.5", "1")])
    assert m.diff(wider) == []
    m.tolerance_ticks = 0
    assert kinds(m.diff(wider)) == ["amend"] * 3
