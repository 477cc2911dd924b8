"""Allocator budgets across symbols and the order-rate throttle."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from bot.config.section import Section

__all__ = ["AllocatorConfig", "PortfolioConfig", "ThrottleConfig"]


class ThrottleConfig(Section):
    """Order-rate budget per endpoint family, per second (Bybit default UTA limits for linear)."""

    runtime_safe: ClassVar[frozenset[str]] = frozenset(
        {"create_per_s", "amend_per_s", "cancel_per_s", "batch_per_s", "cancel_reserve", "window_ms",
         "single_endpoints"}
    )

    create_per_s: int = Field(default=10, ge=1)
    amend_per_s: int = Field(default=10, ge=1)
    cancel_per_s: int = Field(default=10, ge=1)
    batch_per_s: int = Field(default=10, ge=1, description="orders per second through batch endpoints")
    batch_max_items: int = Field(default=20, ge=1, le=20)
    cancel_reserve: int = Field(default=2, ge=0, description="batch units creates/amends may not use")
    window_ms: int = Field(default=1000, ge=1, description="Bybit counts per rolling 1 s window")
    single_endpoints: bool = Field(default=True, description="1-item batches may use /v5/order/create etc.; "
                                   "False = every write goes through the batch endpoints and their budget")


class AllocatorConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset(
        {"total_notional", "total_inventory_notional", "method", "min_sigma_bps", "rebate_weight", "max_weight"}
    )

    total_notional: Decimal = Field(default=Decimal("4000"), gt=0, description="resting quote notional, all symbols")
    total_inventory_notional: Decimal = Field(default=Decimal("4000"), gt=0, description="inventory, all symbols")
    method: Literal["equal", "volatility"] = "volatility"
    min_sigma_bps: Decimal = Field(default=Decimal("0.5"), gt=0, description="volatility floor in the score")
    rebate_weight: Decimal = Field(default=Decimal("1"), ge=0, description="score bonus per bp of maker rebate")
    max_weight: Decimal = Field(default=Decimal("1"), gt=0, le=1, description="cap on one symbol's share")


class PortfolioConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset({"allocator", "throttle"})

    allocator: AllocatorConfig = AllocatorConfig()
    throttle: ThrottleConfig = ThrottleConfig()
