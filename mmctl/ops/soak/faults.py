"""The soak's fault schedule (pure, seeded) and the injector that asks the emulator for each fault."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.observability.logging import get_logger

__all__ = ["FAULT_KINDS", "FaultEvent", "FaultInjector", "build_schedule"]

log = get_logger(__name__)

# The emulator's fault names (bot/sim/faults.py); each one the bot must ride out on its own.
FAULT_KINDS: tuple[str, ...] = ("drop_ws", "rest_errors", "rate_limit_burst", "book_reset")

# Per-kind arguments (bot/sim/faults.py names): small, bounded faults, each recoverable before the next.
_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "drop_ws": {},  # every stream type
    "rest_errors": {"n": 3, "status": 503},
    "rate_limit_burst": {"seconds": 3.0},  # bounded in time: a count could linger until shutdown
    "book_reset": {},  # symbol filled in per event
}


@dataclass(frozen=True, slots=True)
class FaultEvent:
    at_s: float  # wall seconds since the soak started
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"params": dict(self.params)}


def build_schedule(
    duration_s: float,
    rate_per_h: float,
    *,
    seed: int = 0,
    kinds: Sequence[str] = FAULT_KINDS,
    start_after_s: float = 0.0,
    min_gap_s: float = 30.0,
    end_margin_s: float = 0.0,
    symbols: Sequence[str] = ("BTCUSDT",),
) -> list[FaultEvent]:
    """Poisson-like arrivals at `rate_per_h`, kinds taken in turn, at least `min_gap_s` apart.

    Faults land in [start_after_s, duration_s - end_margin_s): none during warm-up, none so late
    that recovery cannot be seen before the stop. Same arguments, same schedule.
    """
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(FAULT_KINDS)}")
    if rate_per_h <= 0 or not kinds:
        return []
    rng = random.Random(seed)  # nosec B311: seeded simulation, not crypto
    mean_gap = 3600.0 / rate_per_h
    end = duration_s - end_margin_s
    out: list[FaultEvent] = []
    t = start_after_s
    while True:
        t += max(min_gap_s, rng.expovariate(1.0 / mean_gap))
        if t >= end:
            break
        kind = kinds[len(out) % len(kinds)]
        params = dict(_DEFAULT_PARAMS.get(kind, {}))
        if kind == "book_reset":
            params["symbol"] = symbols[len(out) % len(symbols)]
        out.append(FaultEvent(round(t, 3), kind, params))
    return out


class FaultInjector:
    """POSTs each fault to the emulator's `/sim/faults/<kind>` control endpoint."""

    def __init__(self, sim_url: str, *, timeout_s: float = 5.0) -> None:
        import httpx

        self.sim_url = sim_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def clear(self) -> bool:
        """Lift every lingering fault (before the final shutdown, which is judged on a healthy venue)."""
        import httpx

        try:
            return self._client.post(f"{self.sim_url}/sim/faults/clear").status_code < 300
        except httpx.HTTPError:
            return False

    def inject(self, event: FaultEvent) -> tuple[bool, str]:
        import httpx

        from bot.common import json_io

        try:
            r = self._client.post(f"{self.sim_url}/sim/faults/{event.kind}", content=json_io.dumps(dict(event.params)),
                                  headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            log.warning("soak_fault_failed", kind=event.kind, error=type(exc).__name__)
            return False, type(exc).__name__
        ok = r.status_code < 300
        if not ok:
            log.warning("soak_fault_refused", kind=event.kind, status=r.status_code, body=r.text[:200])
        else:
            log.info("soak_fault_injected", kind=event.kind)
        return ok, f"HTTP {r.status_code}"
