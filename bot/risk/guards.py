"""Pre-trade risk guards: limits per action, book/latency/error gates, loss and drawdown kill switch."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from bot.config.risk import RiskConfig
from bot.domain import OrderLinkId, Side, Symbol
from bot.risk.kill_switch import KillSwitch
from bot.risk.reasons import Reason, Refusal, RiskDecision
from bot.strategy.book_view import BookView
from bot.strategy.orders import GONE_CODES, ActionKind, LiveOrder, OrderAction

__all__ = ["RiskGuards"]

_ZERO = Decimal(0)


class RiskGuards:
    """Every refusal carries a `Reason`. Cancels are never refused.

    Per cycle: `gate(symbol, book, now_ns)` says whether the symbol may quote at all (if not,
    quote nothing so the order manager cancels it); `check(actions, ...)` filters the planned
    actions. Events feed the stateful guards: `on_pnl`, `on_request_result`, `on_latency`,
    `on_order_outcome`. The kill switch latches until `reset_kill(operator=...)`.
    """

    def __init__(self, cfg: RiskConfig) -> None:
        self.cfg = cfg
        self.kill = KillSwitch()
        self._book_block: dict[Symbol, Reason] = {}
        self._consecutive_errors = 0
        self._circuit_until_ns = 0
        self._outcomes: deque[bool] = deque(maxlen=cfg.reject_rate_window)
        self._reject_until_ns = 0
        self._latencies: deque[int] = deque(maxlen=cfg.latency_window)
        self._latency_until_ns = 0
        self._day: int | None = None
        self._day_start_pnl = _ZERO
        self._peak_pnl: Decimal | None = None
        self.last_pnl = _ZERO

    def update_config(self, cfg: RiskConfig) -> None:
        """Hot reload: new limits apply from the next check; guard state is kept."""
        self.cfg = cfg
        self._outcomes = deque(self._outcomes, maxlen=cfg.reject_rate_window)
        self._latencies = deque(self._latencies, maxlen=cfg.latency_window)

    # -- gates ---------------------------------------------------------------------------------
    def gate(self, symbol: Symbol, book: BookView, *, now_ns: int) -> Reason | None:
        """Whether this symbol may quote now: kill switch, global halts, then the book's health."""
        halt = self.halt_reason(now_ns=now_ns)
        reason = halt or self._book_reason(book, now_ns)
        if reason is None or halt is not None:
            self._book_block.pop(symbol, None)
        if reason is not None and halt is None:
            self._book_block[symbol] = reason
        return reason

    def _book_reason(self, book: BookView, now_ns: int) -> Reason | None:
        if now_ns - book.ts_ns > self.cfg.stale_book_ms * 1_000_000:
            return Reason.STALE_BOOK
        ticks = getattr(book, "ticks", None)
        if ticks is not None:  # a GridTop: integer ticks and lots, both sides present
            if ticks[0] <= 0 or ticks[1] <= 0 or ticks[3] <= 0:
                return Reason.INVALID_BOOK
            return Reason.CROSSED_BOOK if ticks[0] >= ticks[2] else None
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return Reason.EMPTY_BOOK
        if bid[0] <= 0 or bid[1] <= 0 or ask[1] <= 0:
            return Reason.INVALID_BOOK
        if bid[0] >= ask[0]:
            return Reason.CROSSED_BOOK
        return None

    def halt_reason(self, *, now_ns: int) -> Reason | None:
        """A global reason that blocks every create/amend right now, or None."""
        if self.kill.engaged:
            return Reason.KILL_SWITCH
        if now_ns < self._circuit_until_ns:
            return Reason.CIRCUIT_BREAKER
        if now_ns < self._reject_until_ns:
            return Reason.POST_ONLY_REJECT_RATE
        if now_ns < self._latency_until_ns:
            return Reason.LATENCY
        if len(self._latencies) > self.cfg.latency_window // 2:
            ordered = sorted(self._latencies)
            if ordered[len(ordered) // 2] > self.cfg.max_latency_ms:
                # Block for the cooldown, then judge fresh round trips: a halted bot sends no orders,
                # so a window that is never refreshed would halt it for good.
                self._latency_until_ns = now_ns + self.cfg.cooldown_ms * 1_000_000
                self._latencies.clear()
                return Reason.LATENCY
        return None

    # -- the check -----------------------------------------------------------------------------
    def check(
        self,
        actions: Iterable[OrderAction],
        *,
        live: Mapping[OrderLinkId, LiveOrder] | Iterable[LiveOrder],
        positions: Mapping[Symbol, Decimal],
        marks: Mapping[Symbol, Decimal],
        now_ns: int,
    ) -> RiskDecision:
        """Filter actions so that, applied to `live`, no limit is breached by an increase.

        `live` is the order manager's `orders` mapping (or any iterable of LiveOrder). Exposure
        per side is position plus the worst-case resting size (in-flight orders at the larger of
        their old and new size). Actions are taken cancels first, then amends, then creates; a
        create/amend is refused if it would push a side, the open-order count or one order's
        notional over its limit. Refusals never stop a later cancel.
        """
        orders = live if isinstance(live, dict) else (
            live if isinstance(live, Mapping) else {o.order_link_id: o for o in live})
        halt = self.halt_reason(now_ns=now_ns)
        open_count = len(orders)
        # per (symbol, side): exposure of the live set, computed only when an increase needs it,
        # plus the running change from the actions allowed so far
        base: dict[tuple[Symbol, Side], Decimal] = {}
        delta: dict[tuple[Symbol, Side], Decimal] = {}
        allowed: list[OrderAction] = []
        refusals: list[Refusal] = []
        max_notional = self.cfg.max_order_notional
        ordered = actions if isinstance(actions, (list, tuple)) else list(actions)
        rank = -1
        for a in ordered:  # usually already cancels, then amends, then creates (one kind, often)
            r = a.kind.priority
            if r < rank:
                ordered = sorted(ordered, key=_priority)
                break
            rank = r
        for a in ordered:
            key = (a.symbol, a.side)
            if a.kind is ActionKind.CANCEL:
                allowed.append(a)
                o = orders.get(a.order_link_id)
                if o is not None:
                    delta[key] = delta.get(key, _ZERO) - _worst(o)
                    open_count -= 1
                continue
            reason = halt or self._book_block.get(a.symbol)
            if reason is not None:
                refusals.append(Refusal(reason, a))
                continue
            o = orders.get(a.order_link_id)
            if (a.qty is None and a.leaves is not None and a.price is not None and o is not None
                    and o.pending is None and a.leaves <= o.qty - o.filled):
                # a pure re-price (the common re-quote): same size, so only the order notional can change
                if a.price * a.leaves > max_notional:
                    refusals.append(Refusal(Reason.MAX_ORDER_NOTIONAL, a, f"{a.price * a.leaves} > {max_notional}"))
                else:
                    allowed.append(a)
                continue
            if a.kind is not ActionKind.AMEND:
                o = None
            elif o is None:
                refusals.append(Refusal(Reason.MAX_OPEN_ORDERS, a, "amend of an unknown order"))
                continue
            old_q = _worst(o) if o is not None else _ZERO
            new_q = a.leaves if a.leaves is not None else (a.qty if a.qty is not None else old_q)
            price = a.price if a.price is not None else (o.target_price if o is not None else _ZERO)
            if price * new_q > self.cfg.max_order_notional:
                refusals.append(Refusal(Reason.MAX_ORDER_NOTIONAL, a,
                                        f"{price * new_q} > {self.cfg.max_order_notional}"))
                continue
            if a.kind is ActionKind.CREATE and open_count + 1 > self.cfg.max_open_orders:
                refusals.append(Refusal(Reason.MAX_OPEN_ORDERS, a, f"{open_count + 1} > {self.cfg.max_open_orders}"))
                continue
            if new_q > old_q:  # shrinking an order never adds exposure
                if key not in base:
                    base[key] = sum((_worst(x) for x in orders.values() if x.symbol == a.symbol and x.side is a.side),
                                    _ZERO)
                exposure = base[key] + delta.get(key, _ZERO) + new_q - old_q
                refusal = self._position_limit(a, exposure, positions.get(a.symbol, _ZERO),
                                               marks.get(a.symbol) or price)
                if refusal is not None:
                    refusals.append(refusal)
                    continue
                delta[key] = delta.get(key, _ZERO) + new_q - old_q
            allowed.append(a)
            if a.kind is ActionKind.CREATE:
                open_count += 1
        return tuple.__new__(RiskDecision, (tuple(allowed), tuple(refusals), self.kill.engaged, halt))

    def _position_limit(self, a: OrderAction, exposure: Decimal, pos: Decimal, mark: Decimal) -> Refusal | None:
        worst = pos + exposure if a.side is Side.BUY else exposure - pos
        cap_qty = self.cfg.max_position_qty.get(a.symbol)
        if cap_qty is not None and worst > cap_qty:
            return Refusal(Reason.MAX_POSITION, a, f"worst-case {worst} > {cap_qty}")
        if mark > 0 and worst * mark > self.cfg.max_position_notional:
            return Refusal(Reason.MAX_NOTIONAL, a, f"worst-case {worst * mark} > {self.cfg.max_position_notional}")
        return None

    # -- events --------------------------------------------------------------------------------
    def on_pnl(self, total_pnl: Decimal, *, day: int, now_ns: int) -> Reason | None:
        """Feed total PnL (realized + unrealized - fees) and the UTC day number; may engage the kill."""
        self.last_pnl = total_pnl
        if self._day != day:
            self._day, self._day_start_pnl = day, total_pnl
        if self._peak_pnl is None or total_pnl > self._peak_pnl:
            self._peak_pnl = total_pnl
        if self._day_start_pnl - total_pnl >= self.cfg.daily_loss_limit:
            self.kill.engage(Reason.DAILY_LOSS, now_ns=now_ns,
                             detail=f"day loss {self._day_start_pnl - total_pnl} >= {self.cfg.daily_loss_limit}")
            return Reason.DAILY_LOSS
        if self._peak_pnl - total_pnl >= self.cfg.max_drawdown:
            self.kill.engage(Reason.DRAWDOWN, now_ns=now_ns,
                             detail=f"drawdown {self._peak_pnl - total_pnl} >= {self.cfg.max_drawdown}")
            return Reason.DRAWDOWN
        return None

    def on_request_result(self, ok: bool, *, now_ns: int, ret_code: int | None = None) -> None:
        """Every exchange write result; N consecutive errors open the circuit for cooldown_ms.

        A `ret_code` in GONE_CODES (amend/cancel of an order that a fill or cancel closed first)
        is the venue answering correctly about a race, so it counts as a success: a fast market
        that fills a whole side while its amends are in flight must not halt quoting.
        """
        if ok or (ret_code is not None and ret_code in GONE_CODES):
            self._consecutive_errors = 0
            return
        self._consecutive_errors += 1
        if self._consecutive_errors >= self.cfg.circuit_breaker_errors:
            self._circuit_until_ns = now_ns + self.cfg.cooldown_ms * 1_000_000
            self._consecutive_errors = 0

    def on_latency(self, latency_ms: int) -> None:
        """Round-trip of an order write (send -> ack); the guard uses the median of the window."""
        self._latencies.append(latency_ms)

    def on_order_outcome(self, *, post_only_cancelled: bool, now_ns: int) -> None:
        """Every created order's fate (rested or post-only cancelled): the reject-rate guard."""
        self._outcomes.append(post_only_cancelled)
        n = len(self._outcomes)
        if n >= self.cfg.reject_min_samples:
            rate = Decimal(sum(self._outcomes)) / n
            if rate > self.cfg.max_post_only_reject_rate:
                self._reject_until_ns = now_ns + self.cfg.cooldown_ms * 1_000_000
                self._outcomes.clear()

    def engage_kill(self, reason: Reason, *, now_ns: int, detail: str = "") -> bool:
        """Engage the kill switch (operator or runtime); returns True when it flipped."""
        return self.kill.engage(reason, now_ns=now_ns, detail=detail)

    def reset_kill(self, *, operator: str) -> bool:
        """Operator reset; also restarts the drawdown peak and the day's loss from the current PnL."""
        self._peak_pnl = self.last_pnl
        self._day_start_pnl = self.last_pnl
        return self.kill.reset(operator=operator)

    def status(self, *, now_ns: int) -> dict[str, Any]:
        """JSON-safe view for the admin API and metrics."""
        return {"kill": self.kill.snapshot(), "halt": (h := self.halt_reason(now_ns=now_ns)) and h.value,
                "book_blocks": {s: r.value for s, r in self._book_block.items()},
                "consecutive_errors": self._consecutive_errors}

    def snapshot(self) -> dict[str, Any]:
        """What must survive a restart: the kill switch and the loss/drawdown reference points."""
        return {"kill": self.kill.snapshot(), "day": self._day, "day_start_pnl": self._day_start_pnl,
                "peak_pnl": self._peak_pnl, "last_pnl": self.last_pnl}

    def restore(self, data: dict[str, Any]) -> None:
        self.kill.restore(data["kill"])
        self._day = data.get("day")
        self._day_start_pnl = Decimal(str(data.get("day_start_pnl", "0")))
        peak = data.get("peak_pnl")
        self._peak_pnl = None if peak is None else Decimal(str(peak))
        self.last_pnl = Decimal(str(data.get("last_pnl", "0")))


def _priority(a: OrderAction) -> int:
    return a.kind.priority


def _worst(o: LiveOrder) -> Decimal:
    """Resting qty if the in-flight action lands or not, whichever is larger."""
    leaves = o.qty - o.filled
    if o.pending_qty is not None and o.pending_qty - o.filled > leaves:
        return o.pending_qty - o.filled
    return leaves

