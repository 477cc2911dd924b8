"""Order-rate budget per endpoint family over a rolling window; cancels before amends before creates."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from bot.config.portfolio import ThrottleConfig
from bot.domain import Side
from bot.strategy.orders import ActionKind, Batch, OrderAction

__all__ = ["FAMILIES", "Throttle", "ThrottleResult"]

FAMILIES = ("create", "amend", "cancel", "batch")


class ThrottleResult(NamedTuple):
    """Batches to send now (within budget) and actions deferred to a later cycle."""

    send: list[Batch]
    deferred: list[OrderAction]


class Throttle:
    """Rolling-window budget per family: single create / amend / cancel, and one shared "batch".

    Bybit counts each item of a batch as one unit (reference section 4); the three batch
    endpoints share one budget here, which is conservative. A sent `Batch` says where it must go
    (`path`, `is_batch`): a one-item batch granted from a single-endpoint budget must be sent to
    that endpoint; with `single_endpoints=False` everything is granted from the batch budget.
    Creates and amends may not use the last `cancel_reserve` batch units. Cancels that do not
    fit a batch spill over to the single-cancel endpoint (when allowed), so a burst of quotes never
    starves a cancel; a side with no order whose creates got no batch room sends its best level
    through the single-create endpoint.
    """

    def __init__(self, cfg: ThrottleConfig) -> None:
        self.cfg = cfg
        self._limits = self._limits_of(cfg)
        self._window_ns = cfg.window_ms * 1_000_000
        self._events: dict[str, deque[tuple[int, int]]] = {f: deque() for f in FAMILIES}
        self._used: dict[str, int] = dict.fromkeys(FAMILIES, 0)
        self._blocked_until: dict[str, int] = dict.fromkeys(FAMILIES, 0)

    @staticmethod
    def _limits_of(c: ThrottleConfig) -> dict[str, int]:
        return {"create": c.create_per_s, "amend": c.amend_per_s, "cancel": c.cancel_per_s, "batch": c.batch_per_s}

    def update_config(self, cfg: ThrottleConfig) -> None:
        self.cfg = cfg
        self._limits = self._limits_of(cfg)
        self._window_ns = cfg.window_ms * 1_000_000

    def limit(self, family: str) -> int:
        return self._limits[family]

    def available(self, family: str, *, now_ns: int) -> int:
        """Units left in the current window (0 while blocked by the venue's rate-limit headers)."""
        if now_ns < self._blocked_until[family]:
            return 0
        ev = self._events[family]
        if ev:
            horizon = now_ns - self._window_ns
            used = self._used[family]
            while ev and ev[0][0] <= horizon:
                used -= ev.popleft()[1]
            self._used[family] = used
        left = self._limits[family] - self._used[family]
        return left if left > 0 else 0

    def can_grant(self, kind: ActionKind, *, now_ns: int, items: int = 1) -> bool:
        """Whether any of `items` actions of this kind could be sent now, as `acquire` would batch
        them: one alone may use its single endpoint; several go through the batch budget."""
        if items == 1 and self.cfg.single_endpoints and self.available(kind.value, now_ns=now_ns) >= 1:
            return True
        reserve = 0 if kind is ActionKind.CANCEL else self.cfg.cancel_reserve
        return self.available("batch", now_ns=now_ns) - reserve >= 1

    def _take(self, family: str, units: int, now_ns: int) -> None:
        self._events[family].append((now_ns, units))
        self._used[family] += units

    def acquire(self, batches: Sequence[Batch], *, now_ns: int, empty: Collection[Side] = ()) -> ThrottleResult:
        """Spend budget on batches in priority order; split what does not fit, defer the rest.

        `empty`: sides with no order at all; the best-level create of such a side that the batch
        budget cannot carry goes through the single-create endpoint.
        """
        out = ThrottleResult([], [])
        if len(batches) > 1 and any(batches[i].kind.priority > batches[i + 1].kind.priority
                                    for i in range(len(batches) - 1)):
            batches = sorted(batches, key=_priority)
        for b in batches:
            items = b.actions
            if len(items) == 1 and not b.force_batch and self.cfg.single_endpoints:
                fam = b.kind.value
                if self.available(fam, now_ns=now_ns) >= 1:
                    self._take(fam, 1, now_ns)
                    out.send.append(b)
                    continue
                # single endpoint exhausted: fall through to the batch budget
            reserve = 0 if b.kind is ActionKind.CANCEL else self.cfg.cancel_reserve
            room = self.available("batch", now_ns=now_ns) - reserve
            if room >= len(items):
                self._take("batch", len(items), now_ns)
                out.send.append(b if b.is_batch else b._replace(force_batch=True))
                continue
            items = _best_levels_first(items)
            take = items[:room] if room > 0 else ()
            if take:
                self._take("batch", len(take), now_ns)
                out.send.append(Batch(b.kind, b.category, take, force_batch=True))
            rest = list(items[len(take):])
            if b.kind is ActionKind.CANCEL and self.cfg.single_endpoints:
                while rest and self.available("cancel", now_ns=now_ns) >= 1:
                    self._take("cancel", 1, now_ns)
                    out.send.append(Batch(b.kind, b.category, (rest.pop(0),)))
            elif b.kind is ActionKind.CREATE and empty and self.cfg.single_endpoints:
                rest = self._spill_creates(b, take, rest, out, now_ns, empty)
            out.deferred.extend(rest)
        return out

    def _spill_creates(self, b: Batch, taken: tuple[OrderAction, ...], rest: list[OrderAction],
                       out: ThrottleResult, now_ns: int, empty: Collection[Side]) -> list[OrderAction]:
        """An empty side whose creates got no batch room sends its best level through the
        single-create endpoint (a side with no order earns nothing and fails the quote obligation).
        Only those: spilling every create nearly doubled the write rate, and with it the acks and
        order updates each book update waits behind."""
        covered = {a.side for a in taken}
        left: list[OrderAction] = []
        for a in rest:
            if a.side in empty and a.side not in covered and self.available("create", now_ns=now_ns) >= 1:
                covered.add(a.side)
                self._take("create", 1, now_ns)
                out.send.append(Batch(b.kind, b.category, (a,)))
            else:
                left.append(a)
        return left

    def on_limit_status(self, family: str, *, remaining: int, until_ns: int) -> None:
        """Venue feedback (X-Bapi-Limit-Status / retCode 10006): stop the family until `until_ns`."""
        if remaining <= 1:
            self._blocked_until[family] = max(self._blocked_until[family], until_ns)

    def snapshot(self) -> dict[str, Any]:
        """JSON-safe state; timestamps are in the caller's clock (use wall-clock ns across restarts)."""
        return {"events": {f: [list(e) for e in ev] for f, ev in self._events.items()},
                "blocked_until": dict(self._blocked_until)}

    def restore(self, data: dict[str, Any]) -> None:
        for f in FAMILIES:
            ev = deque((int(t), int(u)) for t, u in data.get("events", {}).get(f, []))
            self._events[f] = ev
            self._used[f] = sum(u for _, u in ev)
            self._blocked_until[f] = int(data.get("blocked_until", {}).get(f, 0))


def _priority(b: Batch) -> int:
    return b.kind.priority


def _best_levels_first(items: tuple[OrderAction, ...]) -> tuple[OrderAction, ...]:
    """Interleave a batch's sides level by level (bid 1, ask 1, bid 2, ...): the planner lists a
    side's levels best first, one side after the other, so a partial grant taken from the front
    would fill one side and leave the other empty."""
    sides: dict[tuple[str, Side], list[OrderAction]] = {}
    for a in items:
        sides.setdefault((a.symbol, a.side), []).append(a)
    if len(sides) < 2:
        return items
    lanes = list(sides.values())
    return tuple(a for level in itertools.zip_longest(*lanes) for a in level if a is not None)
