"""Rollout ramp: a new config or deployment starts small, steps up while KPIs hold, back on a breach."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.config.rollout import RolloutConfig

__all__ = ["RampStep", "RolloutRamp"]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_MIN_ORDERS = 10
_MIN_FILLS = 5


@dataclass(frozen=True, slots=True)
class RampStep:
    """A change of the size fraction and why (for logs and metrics)."""

    old: Decimal
    new: Decimal
    reason: str  # "window_ok", "reject_rate", "adverse_selection", "drawdown", "new_config"
    ts_ns: int


class RolloutRamp:
    """Size fraction in (0, 1] applied to every order size.

    KPIs are accumulated over the current window: post-only reject rate, mean adverse
    selection of fills (bps the mid moved against us after the fill), and drawdown of PnL from
    the window's peak. A breach steps back by `step` (not below `initial_fraction`) at once; a
    full window without a breach steps up by `step` (up to 1). `config_id` ties the state to a
    config + deployment: restoring a snapshot of another id restarts at `initial_fraction`.
    """

    def __init__(self, cfg: RolloutConfig, *, now_ns: int, config_id: str = "") -> None:
        self.cfg = cfg
        self.config_id = config_id
        self.fraction = cfg.initial_fraction if cfg.enabled else _ONE
        self.history: list[RampStep] = []
        self._reset_window(now_ns)

    def _reset_window(self, now_ns: int, pnl: Decimal | None = None) -> None:
        self.window_start_ns = now_ns
        self.orders = 0
        self.rejects = 0
        self.fills = 0
        self.adverse_sum_bps = _ZERO
        self.peak_pnl: Decimal | None = pnl
        self.last_pnl: Decimal | None = pnl

    def update_config(self, cfg: RolloutConfig) -> None:
        self.cfg = cfg
        if not cfg.enabled:
            self.fraction = _ONE

    def observe_order(self, *, post_only_rejected: bool) -> None:
        self.orders += 1
        self.rejects += int(post_only_rejected)

    def observe_fill(self, adverse_bps: Decimal) -> None:
        """Adverse selection of one fill: positive when the mid then moved against the fill."""
        self.fills += 1
        self.adverse_sum_bps += adverse_bps

    def observe_pnl(self, total_pnl: Decimal) -> None:
        self.last_pnl = total_pnl
        if self.peak_pnl is None or total_pnl > self.peak_pnl:
            self.peak_pnl = total_pnl

    def breach(self) -> str | None:
        """The first KPI over its limit in this window, or None."""
        cfg = self.cfg
        if self.orders >= _MIN_ORDERS and Decimal(self.rejects) / self.orders > cfg.max_reject_rate:
            return "reject_rate"
        if self.fills >= _MIN_FILLS and self.adverse_sum_bps / self.fills > cfg.max_adverse_bps:
            return "adverse_selection"
        if self.peak_pnl is not None and self.last_pnl is not None \
                and self.peak_pnl - self.last_pnl >= cfg.max_drawdown:
            return "drawdown"
        return None

    def evaluate(self, *, now_ns: int) -> RampStep | None:
        """Step back on a breach, up after a clean full window; returns the step taken, if any."""
        if not self.cfg.enabled:
            return None
        reason = self.breach()
        old = self.fraction
        if reason is not None:
            new = max(self.cfg.initial_fraction, old - self.cfg.step)
        elif now_ns - self.window_start_ns >= self.cfg.window_s * 1_000_000_000:
            new, reason = min(_ONE, old + self.cfg.step), "window_ok"
        else:
            return None
        self._reset_window(now_ns, self.last_pnl)
        self.fraction = new
        step = RampStep(old, new, reason, now_ns)
        self.history = [*self.history[-19:], step]
        return step if new != old or reason != "window_ok" else None

    def restart(self, *, config_id: str, now_ns: int) -> RampStep:
        """A new config or deployment: back to the initial fraction."""
        old = self.fraction
        self.config_id = config_id
        self.fraction = self.cfg.initial_fraction if self.cfg.enabled else _ONE
        self._reset_window(now_ns)
        step = RampStep(old, self.fraction, "new_config", now_ns)
        self.history = [*self.history[-19:], step]
        return step

    def snapshot(self) -> dict[str, Any]:
        return {
            "config_id": self.config_id, "fraction": self.fraction, "window_start_ns": self.window_start_ns,
            "orders": self.orders, "rejects": self.rejects, "fills": self.fills,
            "adverse_sum_bps": self.adverse_sum_bps, "peak_pnl": self.peak_pnl, "last_pnl": self.last_pnl,
            "history": [[s.old, s.new, s.reason, s.ts_ns] for s in self.history],
        }

    def restore(self, data: dict[str, Any], *, now_ns: int | None = None) -> None:
        """Restore; a snapshot of another config_id restarts the ramp instead (needs now_ns)."""
        if data.get("config_id", "") != self.config_id:
            self.restart(config_id=self.config_id, now_ns=now_ns if now_ns is not None else self.window_start_ns)
            return
        self.fraction = Decimal(str(data["fraction"]))
        self.window_start_ns = int(data["window_start_ns"])
        self.orders, self.rejects, self.fills = int(data["orders"]), int(data["rejects"]), int(data["fills"])
        self.adverse_sum_bps = Decimal(str(data["adverse_sum_bps"]))
        self.peak_pnl, self.last_pnl = _dec(data.get("peak_pnl")), _dec(data.get("last_pnl"))
        self.history = [RampStep(Decimal(str(o)), Decimal(str(n)), str(r), int(t))
                        for o, n, r, t in data.get("history", [])]


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))
