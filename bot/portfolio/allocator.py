"""Splits the total quote notional and inventory budget across symbols by risk and rebate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from bot.config.portfolio import AllocatorConfig
from bot.domain import Symbol

__all__ = ["Allocator", "Budget"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_QUANTUM = Decimal("1e-9")  # weights are floored to this, so budgets never sum above the total


@dataclass(frozen=True, slots=True)
class Budget:
    """One symbol's share: resting quote notional (all levels, both sides) and inventory notional."""

    symbol: Symbol
    weight: Decimal
    notional: Decimal
    inventory_notional: Decimal

    def level_notional(self, levels: int, cap: Decimal, fraction: Decimal = _ONE) -> Decimal:
        """Notional per order: the budget over 2 x levels, capped by strategy.order_notional, x ramp."""
        return min(self.notional / (2 * levels), cap) * fraction


class Allocator:
    """Weights symbols equally, or by (1 + rebate_weight x rebate_bps) / max(sigma_bps, floor).

    A calmer book and a bigger rebate earn a bigger share; one symbol never exceeds max_weight
    (the excess is spread over the others). Symbols not yet observed get the mean score.
    """

    def __init__(self, cfg: AllocatorConfig, symbols: Sequence[Symbol]) -> None:
        if not symbols:
            raise ValueError("allocator needs at least one symbol")
        self.cfg = cfg
        self.symbols = tuple(symbols)
        self._stats: dict[Symbol, tuple[Decimal, Decimal]] = {}

    def update_config(self, cfg: AllocatorConfig) -> None:
        self.cfg = cfg

    def observe(self, symbol: Symbol, *, sigma_bps: Decimal, rebate_bps: Decimal) -> None:
        """Latest volatility (bps per update) and maker rebate on offer (bps, positive = earned)."""
        if symbol in self.symbols:
            self._stats[symbol] = (sigma_bps, rebate_bps)

    def _scores(self) -> dict[Symbol, Decimal]:
        cfg = self.cfg
        if cfg.method == "equal" or not self._stats:
            return dict.fromkeys(self.symbols, _ONE)
        known = {
            s: (_ONE + cfg.rebate_weight * max(rb, _ZERO)) / max(sg, cfg.min_sigma_bps)
            for s, (sg, rb) in self._stats.items()
        }
        mean = sum(known.values(), _ZERO) / len(known)
        return {s: known.get(s, mean) for s in self.symbols}

    def weights(self) -> dict[Symbol, Decimal]:
        """Shares summing to 1 (floored to 1e-9; water-filled under max_weight when feasible)."""
        scores = self._scores()
        cap = max(self.cfg.max_weight, _ONE / len(self.symbols))
        fixed: dict[Symbol, Decimal] = {}
        free = dict(scores)
        while True:
            left = _ONE - sum(fixed.values(), _ZERO)
            total = sum(free.values(), _ZERO)
            w = {s: (v / total * left if total > 0 else left / len(free)) for s, v in free.items()}
            over = [s for s, v in w.items() if v > cap]
            if not over:
                return {s: v.quantize(_QUANTUM, ROUND_FLOOR) for s, v in {**fixed, **w}.items()}
            for s in over:
                fixed[s] = cap
                del free[s]
            if not free:
                return fixed

    def budgets(self) -> dict[Symbol, Budget]:
        w = self.weights()
        return {s: Budget(s, w[s], w[s] * self.cfg.total_notional, w[s] * self.cfg.total_inventory_notional)
                for s in self.symbols}

    def budget(self, symbol: Symbol) -> Budget:
        return self.budgets()[symbol]

    def snapshot(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols),
                "stats": {s: [sg, rb] for s, (sg, rb) in self._stats.items()}}

    def restore(self, data: dict[str, Any]) -> None:
        self._stats = {Symbol(s): (Decimal(str(v[0])), Decimal(str(v[1])))
                       for s, v in data.get("stats", {}).items() if s in self.symbols}
