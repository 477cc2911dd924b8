"""Turns desired quotes plus live orders into the fewest order writes, and tracks their outcome."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.domain import Category, Fill, Instrument, OrderId, OrderLinkId, Side, Symbol
from bot.strategy.orders import (
    GONE_CODES,
    POST_ONLY_REJECT,
    ActionKind,
    Batch,
    LiveOrder,
    OrderAction,
    OrderLinkIds,
    OrderUpdate,
    to_batches,
)
from bot.strategy.quoting import QuoteLevel, Quotes

__all__ = ["OrderManager", "OrderManagerStats"]

_MAX_CLOSED = 2_000  # closed orderLinkIds remembered, so a late open update is not adopted again


@dataclass(slots=True)
class OrderManagerStats:
    """Counters for metrics: actions planned by kind and post-only cancellations seen."""

    creates: int = 0
    amends: int = 0
    cancels: int = 0
    post_only_cancels: int = 0
    orders_rested: int = 0


class OrderManager:
    """Diff desired quotes against live orders; one in-flight action per order.

    Flow per cycle: `diff(quotes)` (no live-state change) -> risk and throttle decide what is
    sent -> `submitted(sent_actions, now_ns)` marks those in flight -> `on_ack` per item result,
    `on_order_update` / `on_fill` from the private streams. Orders with an action in flight are
    never touched again until it resolves (ack, order update, or `expire_pending` + reconcile).
    """

    def __init__(
        self,
        *,
        instruments: Mapping[Symbol, Instrument],
        category: Category,
        link_ids: OrderLinkIds,
        batch_max_items: int = 20,
        tolerance_ticks: int = 1,
        qty_tolerance: Decimal = Decimal("0.25"),
        post_only_backoff_ticks: int = 1,
        max_backoff_ticks: int = 10,
    ) -> None:
        self.instruments = dict(instruments)
        self.category = category
        self.link_ids = link_ids
        self.batch_max_items = batch_max_items
        self.tolerance_ticks = tolerance_ticks
        self.qty_tolerance = qty_tolerance
        self.post_only_backoff_ticks = post_only_backoff_ticks
        self.max_backoff_ticks = max_backoff_ticks
        self.orders: dict[OrderLinkId, LiveOrder] = {}  # read-only outside: mutate via _add/_remove
        self._by_symbol: dict[Symbol, dict[OrderLinkId, LiveOrder]] = {}
        self._backoff: dict[tuple[Symbol, Side], int] = {}
        self._closed: OrderedDict[OrderLinkId, None] = OrderedDict()
        self.stats = OrderManagerStats()
        # bumped by every method that may change an order: read-side caches key on it
        self.version = 0
        self._bounds: dict[Symbol, tuple[int, tuple[int | None, int | None]]] = {}
        # per symbol: (version, tolerances) and the quote sides of the last diff that found nothing to do
        self._settled: dict[Symbol, tuple[tuple[int, int, Decimal], tuple[QuoteLevel, ...],
                                          tuple[QuoteLevel, ...]]] = {}

    def _add(self, o: LiveOrder) -> None:
        self.version += 1
        self.orders[o.order_link_id] = o
        self._by_symbol.setdefault(o.symbol, {})[o.order_link_id] = o

    def _remove(self, link: OrderLinkId, *, closed: bool = True) -> None:
        self.version += 1
        o = self.orders.pop(link, None)
        if o is not None:
            self._by_symbol[o.symbol].pop(link, None)
        if closed:
            # the execution and order topics are separate streams: a fill can close an order before
            # its own earlier "New" update arrives, which must not bring the order back to life
            self._closed[link] = None
            if len(self._closed) > _MAX_CLOSED:
                self._closed.popitem(last=False)

    # -- queries -------------------------------------------------------------------------------
    def live(self, symbol: Symbol | None = None) -> list[LiveOrder]:
        """Orders believed open or in flight (optionally for one symbol)."""
        if symbol is None:
            return list(self.orders.values())
        return list(self._by_symbol.get(symbol, {}).values())

    def empty_sides(self, symbol: Symbol) -> frozenset[Side]:
        """Sides of `symbol` with no order open or in flight (a pending cancel still counts)."""
        have = {o.side for o in self._by_symbol.get(symbol, {}).values()}
        return _BOTH - have if len(have) < 2 else _NONE

    def backoff_ticks(self, symbol: Symbol, side: Side) -> int:
        """Extra ticks away from the touch on this side after post-only cancellations."""
        return self._backoff.get((symbol, side), 0)

    def own_bounds(self, symbol: Symbol) -> tuple[int | None, int | None]:
        """(highest bid, lowest ask) in ticks over our orders, counting in-flight targets too.

        The quote keeps new asks above our highest bid and new bids below our lowest ask, so a
        quote never meets one of our own orders still on its way (post-only cancel, self-trade).
        """
        hit = self._bounds.get(symbol)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        hi: int | None = None
        lo: int | None = None
        for o in self._by_symbol.get(symbol, {}).values():
            if o.pending is ActionKind.CANCEL:
                continue
            t = o.ticks
            pt = o.pending_ticks
            if o.side is Side.BUY:
                top = t if pt is None or pt < t else pt
                if hi is None or top > hi:
                    hi = top
            else:
                low = t if pt is None or pt > t else pt
                if lo is None or low < lo:
                    lo = low
        self._bounds[symbol] = (self.version, (hi, lo))
        return hi, lo

    def open_qty(self, symbol: Symbol, side: Side) -> Decimal:
        """Worst-case resting qty on one side (in-flight orders at the larger of old/new size)."""
        total = Decimal(0)
        for o in self.orders.values():
            if o.symbol == symbol and o.side is side:
                total += max(o.leaves, o.target_leaves)
        return total

    # -- planning ------------------------------------------------------------------------------
    def diff(self, quotes: Quotes) -> list[OrderAction]:
        """The fewest actions that turn this symbol's live orders into `quotes`.

        Keep an order within `tolerance_ticks` of a desired price and within `qty_tolerance` of
        its size; amend in place when only price/size differ; create what is missing; cancel
        the rest. Only the orderLinkId counter advances (creates get their id here, so batches
        can be built before sending); live state changes only in `submitted`.
        """
        sym = quotes.symbol
        # nothing to do last time, and neither the orders nor the quotes changed since: the quote
        # sides come from a cache, so an unchanged side is the same tuple
        key = (self.version, self.tolerance_ticks, self.qty_tolerance)
        last = self._settled.get(sym)
        if last is not None and last[0] == key and last[1] is quotes.bids and last[2] is quotes.asks:
            return []
        buys: list[LiveOrder] = []
        sells: list[LiveOrder] = []
        for o in self._by_symbol.get(sym, {}).values():
            (buys if o.side is Side.BUY else sells).append(o)
        actions: list[OrderAction] = []
        if buys or quotes.bids:
            self._diff_side(sym, Side.BUY, quotes.bids, buys, actions)
        if sells or quotes.asks:
            self._diff_side(sym, Side.SELL, quotes.asks, sells, actions)
        if actions:
            self._settled.pop(sym, None)
        else:
            self._settled[sym] = (key, quotes.bids, quotes.asks)
        return actions

    def _diff_side(
        self, sym: Symbol, side: Side, want: tuple[QuoteLevel, ...], live: list[LiveOrder],
        out: list[OrderAction],
    ) -> None:
        rev = side is Side.BUY
        tol = self.tolerance_ticks
        # fast path: every level already rests within tolerance (the common case between moves);
        # `want` is best-first, so pair it with live sorted the same way (no Decimal hashing)
        if len(want) == len(live):
            if len(live) > 1:
                live.sort(key=_ticks_of, reverse=rev)  # our own list: sorting in place is safe
            qtol = self.qty_tolerance
            for o, d in zip(live, want, strict=True):
                gap = o.ticks - d.price_ticks
                if o.pending is not None or gap > tol or gap < -tol:
                    break
                leaves = o.qty - o.filled if o.filled else o.qty
                if leaves != d.qty and abs(leaves - d.qty) > d.qty * qtol:
                    break
            else:
                return
        slots: list[QuoteLevel | None] = list(want)
        free: list[LiveOrder | None] = []
        # In-flight orders are frozen: they may satisfy a desired level but are never touched.
        for o in live:
            if o.pending is None:
                free.append(o)
            elif o.pending is not ActionKind.CANCEL:
                j = _closest(slots, o.pending_ticks if o.pending_ticks is not None else o.ticks, tol)
                if j >= 0:
                    slots[j] = None
        if free:
            # 1. keep: price within tolerance and size close enough (closest price wins)
            for j, lv in enumerate(slots):
                if lv is None:
                    continue
                dt = lv.price_ticks
                best, best_gap = -1, tol + 1
                for i, od in enumerate(free):
                    if od is None:
                        continue
                    gap = od.ticks - dt if od.ticks >= dt else dt - od.ticks
                    if gap < best_gap and self._qty_ok(od.qty - od.filled, lv.qty):
                        best, best_gap = i, gap
                if best >= 0:
                    free[best] = None
                    slots[j] = None
            # 2. price within tolerance, size off: amend the size only
            for j, lv in enumerate(slots):
                if lv is None:
                    continue
                dt = lv.price_ticks
                for i, od in enumerate(free):
                    if od is not None and (od.ticks - dt if od.ticks >= dt else dt - od.ticks) <= tol:
                        free[i] = None
                        slots[j] = None
                        out.append(self._amend(od, None, None, lv.qty))
                        break
        desired = [d for d in slots if d is not None]
        rest = [o for o in free if o is not None]
        # 3. pair the rest best-first: amend price (and size), then create / cancel leftovers
        if len(desired) > 1:
            desired.sort(key=_price_ticks_of, reverse=rev)
        if len(rest) > 1:
            rest.sort(key=_ticks_of, reverse=rev)
        n = min(len(desired), len(rest))
        for i in range(n):
            d = desired[i]
            out.append(self._amend(rest[i], d.price, d.price_ticks, d.qty))
        for o in rest[n:]:
            out.append(OrderAction(ActionKind.CANCEL, sym, side, o.order_link_id))
        for d in desired[n:]:
            out.append(OrderAction(ActionKind.CREATE, sym, side, self.link_ids.next(), d.price, d.qty, d.qty,
                                   d.price_ticks))

    def _qty_ok(self, leaves: Decimal, want: Decimal) -> bool:
        return leaves == want or abs(leaves - want) <= want * self.qty_tolerance

    def _amend(self, o: LiveOrder, price: Decimal | None, ticks: int | None, want_leaves: Decimal) -> OrderAction:
        qty = None if want_leaves == o.qty - o.filled else o.filled + want_leaves
        return OrderAction(ActionKind.AMEND, o.symbol, o.side, o.order_link_id, price, qty, want_leaves, ticks)

    def cancel_all(self, symbol: Symbol | None = None) -> list[OrderAction]:
        """Cancel actions for every order with nothing in flight (kill switch, shutdown).

        Orders with an action in flight are left out (one action per order): call again once
        their ack or update lands, or use the venue's cancel-all endpoint for a hard stop.
        """
        return [
            OrderAction(ActionKind.CANCEL, o.symbol, o.side, o.order_link_id)
            for o in self.orders.values()
            if (symbol is None or o.symbol == symbol) and o.pending is None
        ]

    def batches(self, actions: Iterable[OrderAction]) -> list[Batch]:
        """Group actions into batch requests within the category's item limit, cancels first."""
        return to_batches(actions, self.category, self.batch_max_items)

    # -- bookkeeping ---------------------------------------------------------------------------
    def submitted(self, actions: Iterable[OrderAction], *, now_ns: int) -> list[OrderAction]:
        """Mark actions as sent (in flight); returns them (creates always carry their orderLinkId).

        Raises:
            ValueError: an action targets an order that already has one in flight.
        """
        self.version += 1
        sent: list[OrderAction] = []
        for a in actions:
            if a.kind is ActionKind.CREATE:
                link = a.order_link_id or self.link_ids.next()
                if link in self.orders:
                    raise ValueError(f"orderLinkId {link} already live")
                assert a.price is not None and a.qty is not None
                ticks = a.price_ticks if a.price_ticks is not None else self._ticks(a.symbol, a.price)
                self._add(LiveOrder(
                    link, a.symbol, a.side, a.price, a.qty, ticks, pending=ActionKind.CREATE,
                    pending_since_ns=now_ns, backoff_ticks=self.backoff_ticks(a.symbol, a.side),
                ))
                if link != a.order_link_id:
                    a = a._replace(order_link_id=link)
                self.stats.creates += 1
            else:
                o = self.orders.get(a.order_link_id)
                if o is None:
                    continue
                if o.pending is not None:
                    raise ValueError(f"order {a.order_link_id} already has a {o.pending} in flight")
                o.pending, o.pending_since_ns = a.kind, now_ns
                if a.kind is ActionKind.AMEND:
                    o.pending_price, o.pending_qty = a.price, a.qty
                    if a.price is not None:
                        o.pending_ticks = a.price_ticks if a.price_ticks is not None else self._ticks(a.symbol, a.price)
                    self.stats.amends += 1
                else:
                    self.stats.cancels += 1
            sent.append(a)
        return sent

    def on_ack(
        self, action: OrderAction, *, ok: bool, ret_code: int | None = None, order_id: OrderId | None = None
    ) -> None:
        """The REST/WS-trade response for one sent item (accepted is not resting: see updates)."""
        self.version += 1
        o = self.orders.get(action.order_link_id)
        if o is None or o.pending is not action.kind:
            return
        if action.kind is ActionKind.AMEND and (action.price != o.pending_price or action.qty != o.pending_qty):
            return  # the late ack of an earlier amend (its order update already settled it)
        if order_id:
            o.order_id = order_id
        if ok:
            if action.kind is ActionKind.AMEND:
                if o.pending_price is not None and o.pending_ticks is not None:
                    o.price, o.ticks = o.pending_price, o.pending_ticks
                o.qty = o.pending_qty if o.pending_qty is not None else o.qty
                o.await_price, o.await_qty = o.price, o.qty
                self._clear(o)
            elif action.kind is ActionKind.CREATE:
                self._clear(o)
            # an accepted cancel stays pending until the order update says Cancelled/Filled
            return
        if action.kind is ActionKind.CREATE or (ret_code is not None and ret_code in GONE_CODES):
            self._remove(o.order_link_id)
        else:
            self._clear(o)
            if _exhausted(o):  # e.g. 110064: the size-up amend lost the race with fills of the old size
                self._remove(o.order_link_id)

    def on_order_update(self, u: OrderUpdate) -> None:
        """Apply an order state change; adopts open orders carrying our prefix (after a restart)."""
        self.version += 1
        o = self.orders.get(u.order_link_id)
        if not u.status.is_open:
            if u.reject_reason == POST_ONLY_REJECT:
                self.stats.post_only_cancels += 1
                key = (u.symbol, u.side)
                self._backoff[key] = min(
                    self.max_backoff_ticks, self._backoff.get(key, 0) + self.post_only_backoff_ticks
                )
            self._remove(u.order_link_id)
            return
        if o is None:
            if (not self.link_ids.owns(u.order_link_id) or u.symbol not in self.instruments
                    or u.order_link_id in self._closed):
                return
            o = LiveOrder(u.order_link_id, u.symbol, u.side, u.price, u.qty, self._ticks(u.symbol, u.price),
                          confirmed=True)
            self._add(o)
        if u.order_id:
            o.order_id = u.order_id
        if u.cum_exec_qty > o.filled:
            o.filled = u.cum_exec_qty
        if not o.confirmed:
            o.confirmed = True
            self._rested(o)
        if o.pending is ActionKind.CREATE:
            self._clear(o)
        elif o.pending is ActionKind.AMEND:
            if u.price == o.pending_price or (o.pending_price is None and u.qty == o.pending_qty):
                self._set(o, u.price, u.qty)
                self._clear(o)
                o.await_price = o.await_qty = None
        elif o.await_price is not None:
            if u.price == o.await_price and u.qty == o.await_qty:
                o.await_price = o.await_qty = None  # caught up with our acknowledged amend
            # else: an update from before the amend landed (fills were taken above)
        elif o.pending is None:
            self._set(o, u.price, u.qty)
        if _exhausted(o):
            self._remove(o.order_link_id)

    def _rested(self, o: LiveOrder) -> None:
        self.stats.orders_rested += 1
        key = (o.symbol, o.side)
        cur = self._backoff.get(key, 0)
        # an order placed with the full backoff rested: relax by one tick
        if cur > 0 and o.backoff_ticks >= cur:
            self._backoff[key] = cur - 1

    def on_fill(self, fill: Fill) -> None:
        """A fill shrinks the live size (idempotent with order updates: filled only grows)."""
        self.version += 1
        o = self.orders.get(fill.order_link_id)
        if o is None:
            return
        if fill.exec_id in o.exec_ids:
            return
        o.exec_ids.add(fill.exec_id)
        o.fills_qty += fill.qty
        # order updates carry cumExecQty: take the larger so an execution is never counted twice
        if o.fills_qty > o.filled:
            o.filled = o.fills_qty
        if _exhausted(o):
            self._remove(o.order_link_id)

    def expire_pending(self, *, now_ns: int, timeout_ns: int) -> list[OrderLinkId]:
        """Orders whose action has been in flight longer than timeout: reconcile them by orderLinkId."""
        return [o.order_link_id for o in self.orders.values()
                if o.pending is not None and now_ns - o.pending_since_ns > timeout_ns]

    def forget(self, link: OrderLinkId) -> None:
        """Drop an order reconciliation found absent on the exchange (a later open update may adopt it)."""
        self._remove(link, closed=False)

    def _ticks(self, symbol: Symbol, price: Decimal) -> int:
        inst = self.instruments[symbol]
        return int((price / inst.tick_size).to_integral_value())

    def _set(self, o: LiveOrder, price: Decimal, qty: Decimal) -> None:
        if price != o.price:
            o.price, o.ticks = price, self._ticks(o.symbol, price)
        o.qty = qty

    @staticmethod
    def _clear(o: LiveOrder) -> None:
        o.pending = None
        o.pending_price = None
        o.pending_ticks = None
        o.pending_qty = None


def _exhausted(o: LiveOrder) -> bool:
    """Nothing left to rest, even if an in-flight amend raising the size lands (then it may not be)."""
    qty = o.qty if o.pending_qty is None or o.pending_qty < o.qty else o.pending_qty
    return qty - o.filled <= 0


def _closest(slots: list[QuoteLevel | None], ticks: int, tol: int) -> int:
    """Index of the open slot closest to `ticks` within `tol`, or -1."""
    best, best_gap = -1, tol + 1
    for j, d in enumerate(slots):
        if d is not None:
            gap = abs(d.price_ticks - ticks)
            if gap < best_gap:
                best, best_gap = j, gap
    return best


def _ticks_of(o: LiveOrder) -> int:
    return o.ticks


def _price_ticks_of(q: QuoteLevel) -> int:
    return q.price_ticks


_BOTH = frozenset((Side.BUY, Side.SELL))
_NONE: frozenset[Side] = frozenset()
