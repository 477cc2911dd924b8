"""Throttle: rolling budgets per family, cancels first, cancel reserve, spill-over, snapshot."""

from __future__ import annotations

from decimal import Decimal as D

from bot.common import json_io
from bot.config.portfolio import ThrottleConfig
from bot.domain import Category, OrderLinkId, Side, Symbol
from bot.portfolio import Throttle
from bot.strategy import ActionKind, OrderAction, to_batches

SYM = Symbol("BTCUSDT")
S = 1_000_000_000


def acts(kind: ActionKind, n: int, start: int = 0) -> list[OrderAction]:
    return [OrderAction(kind, SYM, Side.BUY, OrderLinkId(f"mm-s-{kind.value}{start + i}"), D(1), D(1))
            for i in range(n)]


def sent_items(res) -> list[OrderAction]:  # type: ignore[no-untyped-def]
    return [a for b in res.send for a in b.actions]


def test_batch_budget_is_spent_per_item_and_rolls_over() -> None:
    t = Throttle(ThrottleConfig(batch_per_s=10, cancel_reserve=0))
    res = t.acquire(to_batches(acts(ActionKind.CREATE, 15), Category.LINEAR, 20), now_ns=0)
    # one side, and the batch carried its best levels: the rest waits for the next window
    assert len(sent_items(res)) == 10 and len(res.deferred) == 5
    assert t.available("batch", now_ns=S // 2) == 0 and t.available("create", now_ns=S // 2) == 10
    assert t.available("batch", now_ns=S + 1) == 10


def test_cancels_go_first_and_creates_leave_the_reserve() -> None:
    t = Throttle(ThrottleConfig(batch_per_s=10, cancel_reserve=3, cancel_per_s=2))
    batches = to_batches(acts(ActionKind.CREATE, 12) + acts(ActionKind.CANCEL, 4), Category.LINEAR, 20)
    res = t.acquire(batches, now_ns=0)
    kinds = [a.kind for a in sent_items(res)]
    assert kinds[:4] == [ActionKind.CANCEL] * 4
    assert kinds.count(ActionKind.CREATE) == 3  # 10 - 4 cancels - reserve 3
    assert t.available("batch", now_ns=0) == 3


def test_a_burst_of_creates_never_starves_a_cancel() -> None:
    t = Throttle(ThrottleConfig(batch_per_s=10, cancel_reserve=2, cancel_per_s=10))
    t.acquire(to_batches(acts(ActionKind.CREATE, 40), Category.LINEAR, 20), now_ns=0)
    res = t.acquire(to_batches(acts(ActionKind.CANCEL, 5), Category.LINEAR, 20), now_ns=1)
    assert len(sent_items(res)) == 5 and not res.deferred
    # two via the reserved batch units, the rest spill over to the single-cancel endpoint
    assert sorted(b.path for b in res.send) == ["/v5/order/cancel"] * 3 + ["/v5/order/cancel-batch"]


def test_single_actions_use_their_own_endpoint_budget() -> None:
    t = Throttle(ThrottleConfig(create_per_s=1, batch_per_s=10, cancel_reserve=0))
    r1 = t.acquire(to_batches(acts(ActionKind.CREATE, 1), Category.LINEAR, 20), now_ns=0)
    assert r1.send[0].path == "/v5/order/create"
    r2 = t.acquire(to_batches(acts(ActionKind.CREATE, 1, 1), Category.LINEAR, 20), now_ns=1)
    assert r2.send[0].path == "/v5/order/create-batch" and r2.send[0].family == "batch"


def test_rate_limit_feedback_blocks_family() -> None:
    t = Throttle(ThrottleConfig())
    t.on_limit_status("batch", remaining=0, until_ns=5 * S)
    assert t.available("batch", now_ns=S) == 0
    assert t.available("batch", now_ns=5 * S) == 10


def test_snapshot_restore_roundtrip_through_json() -> None:
    t = Throttle(ThrottleConfig(batch_per_s=10, cancel_reserve=0))
    t.acquire(to_batches(acts(ActionKind.AMEND, 7), Category.LINEAR, 20), now_ns=100)
    t2 = Throttle(ThrottleConfig(batch_per_s=10, cancel_reserve=0))
    t2.restore(json_io.loads(json_io.dumps(t.snapshot())))
    assert t2.available("batch", now_ns=200) == 3
    assert t2.snapshot() == t.snapshot()


def test_all_writes_through_batch_endpoints_when_single_endpoints_are_off() -> None:
    t = Throttle(ThrottleConfig(single_endpoints=False, batch_per_s=10, cancel_reserve=0))
    res = t.acquire(to_batches(acts(ActionKind.CREATE, 1), Category.LINEAR, 20), now_ns=0)
    assert res.send[0].path == "/v5/order/create-batch" and t.available("create", now_ns=0) == 10
    assert t.available("batch", now_ns=0) == 9


def test_a_partial_grant_takes_each_sides_best_level_first() -> None:
    """Both sides' best levels go out before either side's second level: the planner lists the
    bids best first and then the asks, and a grant from the front would leave the asks empty."""
    t = Throttle(ThrottleConfig(batch_per_s=3, cancel_reserve=0, create_per_s=5))
    res = t.acquire(to_batches(_two_sided(3), Category.LINEAR, 20), now_ns=0)
    assert [a.order_link_id for a in sent_items(res)] == ["mm-b0", "mm-a0", "mm-b1"]
    assert [a.order_link_id for a in res.deferred] == ["mm-a1", "mm-b2", "mm-a2"]
    assert t.available("create", now_ns=0) == 5  # both sides got a level: nothing spilled


def test_an_empty_side_the_batch_could_not_carry_sends_its_best_level_alone() -> None:
    t = Throttle(ThrottleConfig(batch_per_s=3, cancel_reserve=0, create_per_s=5))
    t.acquire(to_batches(acts(ActionKind.AMEND, 3), Category.LINEAR, 20), now_ns=0)  # batch budget spent
    # sides that still have orders wait for the batch budget
    res = t.acquire(to_batches(_two_sided(3), Category.LINEAR, 20), now_ns=1)
    assert not res.send and len(res.deferred) == 6
    # the ask side is empty: its best level goes alone, the bids still wait
    res = t.acquire(to_batches(_two_sided(3), Category.LINEAR, 20), now_ns=1, empty={Side.SELL})
    assert [(b.path, b.actions[0].order_link_id) for b in res.send] == [("/v5/order/create", "mm-a0")]
    assert len(res.deferred) == 5 and t.available("create", now_ns=1) == 4
    assert t.can_grant(ActionKind.CREATE, now_ns=2, items=1) is True  # the single endpoint has room
    assert t.can_grant(ActionKind.CREATE, now_ns=2, items=2) is False  # a batch needs the batch budget


def _two_sided(n: int) -> list[OrderAction]:
    bids = [OrderAction(ActionKind.CREATE, SYM, Side.BUY, OrderLinkId(f"mm-b{i}"), D(100 - i), D(1)) for i in range(n)]
    asks = [OrderAction(ActionKind.CREATE, SYM, Side.SELL, OrderLinkId(f"mm-a{i}"), D(101 + i), D(1))
            for i in range(n)]
    return bids + asks
