"""Price-time priority limit order book on integer ticks and lots; pure, no I/O, no clock."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Book", "Match", "RestingOrder"]

BUY = "Buy"
SELL = "Sell"


@dataclass(slots=True, eq=False)
class RestingOrder:
    """What the book needs to know about an order; the engine keeps the rest of its state."""

    order_id: str
    owner: str  # api key; "" for the house (background liquidity and takers)
    side: str  # "Buy" | "Sell"
    price: int  # ticks
    qty: int  # lots, original (after amends)
    filled: int = 0
    priority: int = 0  # lower = earlier
    ref: object = field(default=None, repr=False)  # back pointer for the engine

    @property
    def leaves(self) -> int:
        return self.qty - self.filled


@dataclass(frozen=True, slots=True)
class Match:
    maker: RestingOrder
    price: int
    qty: int


class Book:
    """One symbol's book. Bids and asks: price -> FIFO of resting orders, plus level sizes."""

    __slots__ = ("_ask_px", "_bid_px", "_prio", "ask_size", "asks", "bid_size", "bids", "fills", "seq")

    def __init__(self) -> None:
        self._bid_px: list[int] = []  # ascending; best bid is last
        self._ask_px: list[int] = []  # ascending; best ask is first
        self.bids: dict[int, deque[RestingOrder]] = {}
        self.asks: dict[int, deque[RestingOrder]] = {}
        self.bid_size: dict[int, int] = {}
        self.ask_size: dict[int, int] = {}
        self._prio = 0
        self.seq = 0  # bumped on every change: the cross sequence of public messages
        self.fills = 0  # bumped by every match that filled something

    # ---- queries
    def best_bid(self) -> int | None:
        return self._bid_px[-1] if self._bid_px else None

    def best_ask(self) -> int | None:
        return self._ask_px[0] if self._ask_px else None

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top n aggregated levels: bids (desc) and asks (asc) as (price ticks, size lots)."""
        bids = [(p, self.bid_size[p]) for p in reversed(self._bid_px[-n:])] if n else []
        asks = [(p, self.ask_size[p]) for p in self._ask_px[:n]]
        return bids, asks

    def would_cross(self, side: str, price: int) -> bool:
        if side == BUY:
            ba = self.best_ask()
            return ba is not None and price >= ba
        bb = self.best_bid()
        return bb is not None and price <= bb

    def fillable(self, side: str, price: int, limit: int) -> int:
        """Lots available to a taker at or better than price, capped at limit."""
        total = 0
        if side == BUY:
            for p in self._ask_px:
                if p > price or total >= limit:
                    break
                total += self.ask_size[p]
        else:
            for p in reversed(self._bid_px):
                if p < price or total >= limit:
                    break
                total += self.bid_size[p]
        return min(total, limit)

    def orders(self) -> list[RestingOrder]:
        out: list[RestingOrder] = []
        for q in self.bids.values():
            out.extend(q)
        for q in self.asks.values():
            out.extend(q)
        return out

    def __len__(self) -> int:
        return sum(len(q) for q in self.bids.values()) + sum(len(q) for q in self.asks.values())

    # ---- changes
    def add(self, order: RestingOrder) -> None:
        """Rest an order at the back of its level (it must not cross)."""
        self._prio += 1
        order.priority = self._prio
        self.seq += 1
        if order.side == BUY:
            levels, sizes, prices = self.bids, self.bid_size, self._bid_px
        else:
            levels, sizes, prices = self.asks, self.ask_size, self._ask_px
        q = levels.get(order.price)
        if q is None:
            q = levels[order.price] = deque()
            sizes[order.price] = 0
            insort(prices, order.price)
        q.append(order)
        sizes[order.price] += order.leaves

    def remove(self, order: RestingOrder) -> bool:
        """Take an order out of the book; False if it was not resting."""
        if order.side == BUY:
            levels, sizes, prices = self.bids, self.bid_size, self._bid_px
        else:
            levels, sizes, prices = self.asks, self.ask_size, self._ask_px
        q = levels.get(order.price)
        if q is None:
            return False
        try:
            q.remove(order)
        except ValueError:
            return False
        self.seq += 1
        sizes[order.price] -= order.leaves
        if not q:
            del levels[order.price]
            del sizes[order.price]
            del prices[bisect_left(prices, order.price)]
        return True

    def reduce(self, order: RestingOrder, new_qty: int) -> None:
        """Shrink a resting order in place, keeping its queue position."""
        sizes = self.bid_size if order.side == BUY else self.ask_size
        sizes[order.price] -= order.qty - new_qty
        order.qty = new_qty
        self.seq += 1

    def match(self, side: str, price: int, qty: int) -> list[Match]:
        """Take liquidity for a taker (side, limit price, qty) in price-time order; mutates makers.

        Makers that fill completely leave the book. Returns the fills in match order.
        """
        out: list[Match] = []
        remaining = qty
        if side == BUY:
            prices, levels, sizes = self._ask_px, self.asks, self.ask_size
        else:
            prices, levels, sizes = self._bid_px, self.bids, self.bid_size
        while remaining > 0 and prices:
            best = prices[0] if side == BUY else prices[-1]
            if (side == BUY and best > price) or (side == SELL and best < price):
                break
            q = levels[best]
            while remaining > 0 and q:
                maker = q[0]
                take = min(remaining, maker.leaves)
                maker.filled += take
                remaining -= take
                sizes[best] -= take
                out.append(Match(maker, best, take))
                if maker.leaves == 0:
                    q.popleft()
            if not q:
                del levels[best]
                del sizes[best]
                if side == BUY:
                    prices.pop(0)
                else:
                    prices.pop()
        if out:
            self.seq += 1
            self.fills += 1
        return out
