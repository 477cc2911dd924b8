"""Allocator budgets across symbols and the order-rate throttle."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from bot.config.section import Section

__all__ = ["AllocatorConfig", "PortfolioConfig", "ThrottleConfig"]


class ThrottleConfig(Section):
    """Order-rate budget per endpoint family, per second (Bybit default UTA limits for linear)."""

    runtime_safe: ClassVar[frozenset[str]] = frozenset({"create_per_s", "amend_per_s", "cancel_per_s", "batch_per_s"})

    create_per_s: int = Field(default=10, ge=1)
    amend_per_s: int = Field(default=10, ge=1)
    cancel_per_s: int = Field(default=10, ge=1)
    batch_per_s: int = Field(default=10, ge=1, description="orders per second through batch endpoints")
    batch_max_items: int = Field(default=20, ge=1, le=20)


class AllocatorConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset({"total_notional", "method"})

    total_notional: Decimal = Field(default=Decimal("4000"), gt=0, description="quote notional across symbols")
    method: Literal["equal", "volatility"] = "volatility"


class PortfolioConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset({"allocator", "throttle"})

    allocator: AllocatorConfig = AllocatorConfig()
    throttle: ThrottleConfig = ThrottleConfig()
