"""Quoting model parameters: levels, spread floor, volatility term, inventory skew, obligations."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field

from bot.config.section import Section

__all__ = ["ObligationsConfig", "StrategyConfig"]


class ObligationsConfig(Section):
    """Exchange market-maker obligations the bot measures itself against."""

    runtime_safe: ClassVar[frozenset[str]] = frozenset({"max_spread_bps", "min_quote_notional"})

    max_spread_bps: Decimal = Field(default=Decimal("50"), gt=0)
    min_quote_notional: Decimal = Field(default=Decimal("50"), ge=0)


class StrategyConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset(
        {
            "levels", "level_spacing_ticks", "min_half_spread_ticks", "vol_multiplier", "vol_window",
            "risk_aversion", "order_notional", "requote_tolerance_ticks", "fair_price",
            "post_only_backoff_ticks", "obligations", "size_skew", "vol_min_samples",
            "vol_horizon_ms",
        }
    )

    levels: int = Field(default=2, ge=1, le=20)
    level_spacing_ticks: int = Field(default=1, ge=1)
    min_half_spread_ticks: int = Field(default=1, ge=1)
    vol_multiplier: Decimal = Field(default=Decimal("1.0"), ge=0)
    vol_window: int = Field(default=50, ge=2, le=10_000)
    vol_min_samples: int = Field(default=10, ge=0, le=10_000, description="mid moves seen before quoting")
    vol_horizon_ms: int = Field(default=0, ge=0, le=60_000,
                                description="vol term over this horizon (order latency); 0 = per book move")
    risk_aversion: Decimal = Field(default=Decimal("0.1"), ge=0)
    size_skew: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    order_notional: Decimal = Field(default=Decimal("100"), gt=0, description="quote notional per level")
    requote_tolerance_ticks: int = Field(default=1, ge=0)
    fair_price: Literal["mid", "microprice"] = "microprice"
    post_only_backoff_ticks: int = Field(default=1, ge=0)
    obligations: ObligationsConfig = ObligationsConfig()
