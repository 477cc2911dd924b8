"""Rollout ramp: start small, step up while KPIs hold, step back on a breach."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from bot.config.section import Section

__all__ = ["RolloutConfig"]


class RolloutConfig(Section):
    runtime_safe: ClassVar[frozenset[str]] = frozenset(
        {"enabled", "initial_fraction", "step", "window_s", "max_reject_rate", "max_adverse_bps", "max_drawdown"}
    )

    enabled: bool = True
    initial_fraction: Decimal = Field(default=Decimal("0.25"), gt=0, le=1)
    step: Decimal = Field(default=Decimal("0.25"), gt=0, le=1)
    window_s: int = Field(default=600, ge=1)
    max_reject_rate: Decimal = Field(default=Decimal("0.02"), ge=0, le=1)
    max_adverse_bps: Decimal = Field(default=Decimal("5"), ge=0)
    max_drawdown: Decimal = Field(default=Decimal("100"), gt=0)
