"""Positions and PnL, the allocator, the order-rate throttle and the rollout ramp."""

from bot.portfolio.allocator import Allocator, Budget
from bot.portfolio.cycle import CycleResult, QuoteCycle
from bot.portfolio.inventory import Inventory, Portfolio
from bot.portfolio.rollout import RampStep, RolloutRamp
from bot.portfolio.throttle import FAMILIES, Throttle, ThrottleResult

__all__ = [
    "FAMILIES",
    "Allocator",
    "Budget",
    "CycleResult",
    "Inventory",
    "Portfolio",
    "QuoteCycle",
    "RampStep",
    "RolloutRamp",
    "Throttle",
    "ThrottleResult",
]
