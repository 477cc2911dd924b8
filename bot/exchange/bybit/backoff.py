"""NET-001 reconnect policy as pure code: jittered exponential delays and the attempt counter.

No clock, no sleep, no randomness of its own: callers pass `now_s` and an `rng` returning
floats in [0, 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.base import ReconnectConfig

__all__ = ["BackoffPolicy", "ReconnectSchedule"]


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delays initial, 2x, 4x ... capped at `max_s`, each multiplied by 1 +/- `jitter`.

    The jittered value is clamped to `max_s` as well: "capped at 60 s" means no wait is longer.
    """

    initial_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.3
    max_attempts: int = 12
    healthy_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("need 0 < initial_s <= max_s")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    @classmethod
    def from_config(cls, cfg: ReconnectConfig) -> BackoffPolicy:
        return cls(initial_s=cfg.initial_delay_s, max_s=cfg.max_delay_s, jitter=cfg.jitter,
                   max_attempts=cfg.max_attempts, healthy_after_s=cfg.healthy_after_s)

    def scaled(self, factor: float) -> BackoffPolicy:
        """The same policy with every duration multiplied by `factor` (tests run it fast)."""
        return BackoffPolicy(self.initial_s * factor, self.max_s * factor, self.jitter, self.max_attempts,
                             self.healthy_after_s * factor)

    def base_delay(self, attempt: int) -> float:
        """Un-jittered delay before reconnect attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        # Cap the exponent first: 2**1000 would overflow a float.
        return min(self.initial_s * 2.0 ** min(attempt - 1, 64), self.max_s)

    def bounds(self, attempt: int) -> tuple[float, float]:
        """(lowest, highest) delay the jitter can produce for `attempt`."""
        base = self.base_delay(attempt)
        return base * (1 - self.jitter), min(base * (1 + self.jitter), self.max_s)

    def delay(self, attempt: int, u: float) -> float:
        """Jittered delay for `attempt` given a uniform draw `u` in [0, 1)."""
        base = self.base_delay(attempt)
        return min(base * (1 + self.jitter * (2 * u - 1)), self.max_s)

    def delays(self, rng: Callable[[], float]) -> Iterator[float]:
        """The `max_attempts` jittered delays in order; the iterator ends when attempts run out."""
        for attempt in range(1, self.max_attempts + 1):
            yield self.delay(attempt, rng())


@dataclass(slots=True)
class ReconnectSchedule:
    """The attempt counter: grows on every failed or lost connection, resets only after health.

    A connection that stays up for `healthy_after_s` resets the counter; one that drops sooner
    does not, so a flapping link keeps backing off instead of reconnecting at full speed.
    """

    policy: BackoffPolicy
    rng: Callable[[], float]
    attempt: int = 0
    connected_at_s: float | None = None

    def on_connected(self, now_s: float) -> None:
        self.connected_at_s = now_s

    def maybe_reset(self, now_s: float) -> bool:
        """Reset the counter if the current connection has been healthy long enough."""
        if self.connected_at_s is not None and now_s - self.connected_at_s >= self.policy.healthy_after_s:
            changed = self.attempt != 0
            self.attempt = 0
            return changed
        return False

    def next_delay(self, now_s: float) -> float | None:
        """Called after a lost link or a failed connect: the wait before the next try, or None if exhausted."""
        self.maybe_reset(now_s)
        self.connected_at_s = None
        self.attempt += 1
        if self.attempt > self.policy.max_attempts:
            return None
        return self.policy.delay(self.attempt, self.rng())
