"""Risk guards and the kill switch thresholds."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from bot.config.section import Section

__all__ = ["RiskConfig"]


class RiskConfig(Section):
    # Limits may be tightened or loosened live; the kill switch itself is reset by an operator.
    runtime_safe: ClassVar[frozenset[str]] = frozenset(
        {
            "max_position_notional", "max_open_orders", "max_order_notional", "daily_loss_limit",
            "max_drawdown", "stale_book_ms", "max_post_only_reject_rate", "reject_rate_window",
            "max_latency_ms", "circuit_breaker_errors", "max_position_qty", "cooldown_ms",
            "latency_window", "reject_min_samples",
        }
    )

    max_position_notional: Decimal = Field(default=Decimal("2000"), gt=0, description="per symbol, quote")
    max_open_orders: int = Field(default=20, ge=1, le=500)
    max_order_notional: Decimal = Field(default=Decimal("500"), gt=0)
    daily_loss_limit: Decimal = Field(default=Decimal("200"), gt=0)
    max_drawdown: Decimal = Field(default=Decimal("300"), gt=0)
    stale_book_ms: int = Field(default=2000, ge=10)
    max_post_only_reject_rate: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    reject_rate_window: int = Field(default=200, ge=10)
    max_latency_ms: int = Field(default=500, ge=1)
    circuit_breaker_errors: int = Field(default=5, ge=1)
    max_position_qty: dict[str, Decimal] = Field(default_factory=dict, description="per symbol, base qty")
    cooldown_ms: int = Field(default=5000, ge=0, description="circuit breaker / reject-rate block time")
    latency_window: int = Field(default=10, ge=1, description="latency guard: median of the last N")
    reject_min_samples: int = Field(default=100, ge=1, description="reject-rate guard needs this many orders")
