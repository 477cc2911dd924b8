"""Pre-trade risk guards and the kill switch: pure decisions with reason codes."""

from bot.risk.guards import RiskGuards
from bot.risk.kill_switch import KillSwitch
from bot.risk.reasons import Reason, Refusal, RiskDecision

__all__ = ["KillSwitch", "Reason", "Refusal", "RiskDecision", "RiskGuards"]
