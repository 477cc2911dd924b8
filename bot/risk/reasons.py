"""Stable reason codes for every risk refusal, and the decision a check returns."""

from __future__ import annotations

import enum
from typing import NamedTuple

from bot.errors import RiskRejected
from bot.strategy.orders import OrderAction

__all__ = ["Reason", "Refusal", "RiskDecision"]


class Reason(enum.StrEnum):
    """Why an action or a quote was refused; the values are metric labels and log fields."""

    KILL_SWITCH = "kill_switch"
    DAILY_LOSS = "daily_loss"
    DRAWDOWN = "drawdown"
    MAX_POSITION = "max_position"
    MAX_NOTIONAL = "max_notional"
    MAX_OPEN_ORDERS = "max_open_orders"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    STALE_BOOK = "stale_book"
    EMPTY_BOOK = "empty_book"
    INVALID_BOOK = "invalid_book"
    CROSSED_BOOK = "crossed_book"
    POST_ONLY_REJECT_RATE = "post_only_reject_rate"
    LATENCY = "latency"
    CIRCUIT_BREAKER = "circuit_breaker"
    OPERATOR = "operator"  # manual kill from mmctl / admin API


class Refusal(NamedTuple):
    """One refused action (or None for a symbol/global halt) with its reason and detail."""

    reason: Reason
    action: OrderAction | None = None
    detail: str = ""

    def error(self) -> RiskRejected:
        """As the project's exception, for callers that raise."""
        link = self.action.order_link_id if self.action else None
        sym = self.action.symbol if self.action else None
        return RiskRejected(self.detail or self.reason.value, reason=self.reason.value,
                            symbol=sym, order_link_id=link)


class RiskDecision(NamedTuple):
    """Allowed actions (cancels always pass) and refusals; `cancel_all` when the kill switch is on."""

    allowed: tuple[OrderAction, ...]
    refusals: tuple[Refusal, ...] = ()
    cancel_all: bool = False
    halt: Reason | None = None  # a global reason that stopped every create/amend
