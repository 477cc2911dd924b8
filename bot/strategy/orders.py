"""Order-side value types: actions, batches, live orders, order updates and orderLinkId minting."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from bot.domain import Category, FastStrEnum, OrderId, OrderLinkId, OrderStatus, Side, Symbol

__all__ = [
    "BATCH_LIMITS",
    "GONE_CODES",
    "POST_ONLY_REJECT",
    "ActionKind",
    "Batch",
    "LiveOrder",
    "OrderAction",
    "OrderLinkIds",
    "OrderUpdate",
    "to_batches",
]

POST_ONLY_REJECT = "EC_PostOnlyWillTakeLiquidity"

# retCodes of an amend/cancel meaning "that order is not there any more" (reference section 3):
# the expected race with a fill or cancel that landed first, not an exchange fault.
GONE_CODES = frozenset({110001, 110008, 170213})

# Items per batch request (reference 5.9): 20 for linear, inverse, option; 10 for spot.
BATCH_LIMITS: dict[Category, int] = {
    Category.LINEAR: 20, Category.INVERSE: 20, Category.OPTION: 20, Category.SPOT: 10,
}

_LINK_PART = re.compile(r"^[0-9A-Za-z]{1,12}$")


class ActionKind(FastStrEnum):
    """What to do with one order; the declaration order is the send priority."""

    CANCEL = "cancel"
    AMEND = "amend"
    CREATE = "create"

    @property
    def priority(self) -> int:
        return _PRIORITY[self]


_PRIORITY = {ActionKind.CANCEL: 0, ActionKind.AMEND: 1, ActionKind.CREATE: 2}


class OrderAction(NamedTuple):
    """One order write. For AMEND, `qty` is the new *total* order qty (Bybit semantics) or None."""

    kind: ActionKind
    symbol: Symbol
    side: Side
    order_link_id: OrderLinkId
    price: Decimal | None = None
    qty: Decimal | None = None
    leaves: Decimal | None = None  # the resting qty this action leaves (create/amend), for risk checks
    price_ticks: int | None = None  # `price` in ticks when the planner knew it

    def item(self) -> dict[str, str]:
        """The Bybit request item (without category) for this action, money as strings."""
        d: dict[str, str] = {"symbol": self.symbol, "orderLinkId": self.order_link_id}
        if self.kind is ActionKind.CREATE:
            d.update(side=self.side.value, orderType="Limit", timeInForce="PostOnly",
                     qty=str(self.qty), price=str(self.price))
        elif self.kind is ActionKind.AMEND:
            if self.price is not None:
                d["price"] = str(self.price)
            if self.qty is not None:
                d["qty"] = str(self.qty)
        return d


class Batch(NamedTuple):
    """Actions of one kind for one category, within the per-request item limit (use `.actions`)."""

    kind: ActionKind
    category: Category
    actions: tuple[OrderAction, ...]
    force_batch: bool = False  # send one item through the batch endpoint (its own rate budget)

    @property
    def is_batch(self) -> bool:
        return self.force_batch or len(self.actions) > 1

    @property
    def path(self) -> str:
        """REST path: the single-order endpoint for one item, the batch endpoint otherwise."""
        if not self.is_batch:
            return f"/v5/order/{self.kind.value}"
        return f"/v5/order/{self.kind.value}-batch"

    @property
    def family(self) -> str:
        """Throttle family: "create" / "amend" / "cancel" for single orders, "batch" otherwise."""
        return "batch" if self.is_batch else self.kind.value

    def body(self) -> dict[str, Any]:
        """The JSON body for `path`."""
        if not self.is_batch:
            return {"category": self.category.value, **self.actions[0].item()}
        return {"category": self.category.value, "request": [a.item() for a in self.actions]}


def to_batches(actions: Iterable[OrderAction], category: Category, max_items: int) -> list[Batch]:
    """Group actions by kind (cancels, then amends, then creates) into batches of <= the item limit."""
    limit = min(max_items, BATCH_LIMITS.get(category, 10))
    if not isinstance(actions, (list, tuple)):
        actions = list(actions)
    if actions and len(actions) <= limit:  # the common re-quote: one kind, one request
        kind = actions[0].kind
        for a in actions:
            if a.kind is not kind:
                break
        else:  # the C tuple constructor: Batch's generated __new__ is a Python call
            return [tuple.__new__(Batch, (kind, category, tuple(actions), False))]
    cancels: list[OrderAction] = []
    amends: list[OrderAction] = []
    creates: list[OrderAction] = []
    for a in actions:
        k = a.kind
        (cancels if k is ActionKind.CANCEL else amends if k is ActionKind.AMEND else creates).append(a)
    out: list[Batch] = []
    for kind, items in ((ActionKind.CANCEL, cancels), (ActionKind.AMEND, amends), (ActionKind.CREATE, creates)):
        for i in range(0, len(items), limit):
            out.append(Batch(kind, category, tuple(items[i : i + limit])))
    return out


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """One order state change (private `order` topic or /v5/order/realtime), as the manager needs it."""

    order_link_id: OrderLinkId
    symbol: Symbol
    side: Side
    status: OrderStatus
    price: Decimal
    qty: Decimal  # total order qty
    cum_exec_qty: Decimal = Decimal(0)
    order_id: OrderId | None = None
    reject_reason: str = ""


@dataclass(slots=True)
class LiveOrder:
    """An order the manager believes is open or on its way; at most one action in flight."""

    order_link_id: OrderLinkId
    symbol: Symbol
    side: Side
    price: Decimal
    qty: Decimal  # total order qty
    ticks: int = 0  # `price` in ticks, kept by the OrderManager for integer comparisons
    filled: Decimal = Decimal(0)
    order_id: OrderId | None = None
    pending: ActionKind | None = None
    pending_price: Decimal | None = None
    pending_ticks: int | None = None
    pending_qty: Decimal | None = None
    pending_since_ns: int = 0
    backoff_ticks: int = 0  # post-only backoff in force when this order was created
    confirmed: bool = False  # an open order update has been seen (it rests on the book)
    fills_qty: Decimal = Decimal(0)  # sum of distinct executions seen for this order
    exec_ids: set[str] = field(default_factory=set)
    # after an acknowledged amend: the (price, qty) its own order update will show; open updates
    # that differ are older (the order topic can lag the REST ack) and must not roll it back
    await_price: Decimal | None = None
    await_qty: Decimal | None = None

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.filled

    @property
    def target_price(self) -> Decimal:
        """The price the order will have once its in-flight action lands."""
        return self.pending_price if self.pending_price is not None else self.price

    @property
    def target_leaves(self) -> Decimal:
        return (self.pending_qty if self.pending_qty is not None else self.qty) - self.filled


class OrderLinkIds:
    """Deterministic orderLinkIds: `<prefix>-<session>-<counter>`, at most 36 chars, never reused."""

    __slots__ = ("counter", "prefix", "session")

    def __init__(self, prefix: str, session: str, counter: int = 0) -> None:
        if not (_LINK_PART.match(prefix) and len(prefix) <= 6):
            raise ValueError("prefix must be 1-6 chars of [0-9A-Za-z]")
        if not _LINK_PART.match(session):
            raise ValueError("session must be 1-12 chars of [0-9A-Za-z]")
        self.prefix = prefix
        self.session = session
        self.counter = counter

    def next(self) -> OrderLinkId:
        self.counter += 1
        link = f"{self.prefix}-{self.session}-{self.counter}"
        if len(link) > 36:
            raise OverflowError("orderLinkId counter exhausted for this session")
        return OrderLinkId(link)

    def owns(self, link: str) -> bool:
        """True for ids minted with this prefix (any session): orders to adopt after a restart."""
        return link.startswith(self.prefix + "-")
