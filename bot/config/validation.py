"""Cross-field invariants and the runtime-safe diff used by hot reload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.config.base import AppConfig
from bot.config.section import Section

__all__ = ["ConfigDiff", "diff_runtime_safe", "validate_invariants"]


def validate_invariants(cfg: AppConfig) -> list[tuple[str, str]]:
    """Every cross-field problem as (key path, message); empty when the config is coherent."""
    problems: list[tuple[str, str]] = []
    s, r, p = cfg.strategy, cfg.risk, cfg.portfolio
    if s.order_notional > r.max_order_notional:
        problems.append(("strategy.order_notional",
                         f"{s.order_notional} exceeds risk.max_order_notional {r.max_order_notional}"))
    if s.order_notional >= r.max_position_notional:
        problems.append(("strategy.order_notional",
                         f"{s.order_notional} must be below risk.max_position_notional {r.max_position_notional}"))
    if s.obligations.min_quote_notional > r.max_order_notional:
        problems.append(("strategy.obligations.min_quote_notional",
                         f"{s.obligations.min_quote_notional} exceeds risk.max_order_notional "
                         f"{r.max_order_notional}: the best level could never meet it"))
    if 2 * s.levels > r.max_open_orders:
        problems.append(("strategy.levels",
                         f"{s.levels} levels per side need {2 * s.levels} orders > risk.max_open_orders "
                         f"{r.max_open_orders}"))
    if cfg.exchange.reconnect.initial_delay_s > cfg.exchange.reconnect.max_delay_s:
        problems.append(("exchange.reconnect.initial_delay_s", "must not exceed max_delay_s"))
    if cfg.rollout.max_drawdown > r.max_drawdown:
        problems.append(("rollout.max_drawdown", f"must not exceed risk.max_drawdown {r.max_drawdown}"))
    if cfg.category == "spot" and p.throttle.batch_max_items > 10:
        problems.append(("portfolio.throttle.batch_max_items", "spot batches hold at most 10 items"))
    if cfg.venue == "sim" and any(cfg.urls()):
        pass  # explicit URLs with the sim venue point at an external emulator: allowed
    if cfg.venue != "sim" and not all(cfg.urls()[:3]):
        problems.append(("exchange.rest_url", f"venue {cfg.venue} has no default URL for every stream"))
    return problems


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """Changed leaf paths, split into those hot reload may apply and those needing a restart."""

    safe: tuple[str, ...]
    unsafe: tuple[str, ...]

    @property
    def changed(self) -> tuple[str, ...]:
        return tuple(sorted(self.safe + self.unsafe))


def _walk(old: Any, new: Any, path: str, safe_here: bool, safe: list[str], unsafe: list[str]) -> None:
    if isinstance(old, BaseModel) and isinstance(new, BaseModel) and type(old) is type(new):
        declared = type(old).runtime_safe if isinstance(old, Section) else frozenset()
        for name in type(old).model_fields:
            if name == "secrets":
                continue
            child_safe = safe_here and name in declared
            _walk(getattr(old, name), getattr(new, name), f"{path}.{name}" if path else name,
                  child_safe, safe, unsafe)
        return
    if old != new:
        (safe if safe_here else unsafe).append(path)


def diff_runtime_safe(old: AppConfig, new: AppConfig) -> ConfigDiff:
    """Which changed fields hot reload can apply live and which need a restart."""
    safe: list[str] = []
    unsafe: list[str] = []
    _walk(old, new, "", True, safe, unsafe)
    if old.secrets != new.secrets:
        unsafe.append("secrets")
    return ConfigDiff(tuple(sorted(safe)), tuple(sorted(unsafe)))
