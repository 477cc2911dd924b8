"""Rolling volatility of the fair price, in ticks, from the last N changes (integer arithmetic)."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from math import isqrt
from typing import Any

__all__ = ["MidVolatility"]

_SCALE = 1_000_000  # sigma is kept with 3 decimals of a tick (sqrt of 1e6 = 1e3)


class MidVolatility:
    """Root-mean-square change of the mid between updates, in ticks, over a rolling window.

    The mid is fed in half-ticks (bid_ticks + ask_ticks) so it stays an integer; updates where
    the mid did not move are ignored, so a quiet book does not dilute the estimate to zero.
    """

    __slots__ = ("_diffs", "_last", "_sum_sq", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self._diffs: deque[int] = deque()
        self._sum_sq = 0
        self._last: int | None = None

    def update(self, bid_ticks: int, ask_ticks: int) -> None:
        """Feed one top of book (integer ticks)."""
        mid2 = bid_ticks + ask_ticks
        last = self._last
        self._last = mid2
        if last is None or mid2 == last:
            return
        d = mid2 - last
        self._diffs.append(d)
        self._sum_sq += d * d
        if len(self._diffs) > self.window:
            old = self._diffs.popleft()
            self._sum_sq -= old * old

    @property
    def sigma_ticks(self) -> Decimal:
        """RMS mid change in ticks (0 until the first move)."""
        n = len(self._diffs)
        if n == 0:
            return Decimal(0)
        # diffs are in half-ticks: sigma_ticks = sqrt(sum_sq / n) / 2
        return Decimal(isqrt(self._sum_sq * _SCALE // n)) / 2000

    def snapshot(self) -> dict[str, Any]:
        return {"window": self.window, "diffs": list(self._diffs), "last": self._last}

    def restore(self, data: dict[str, Any]) -> None:
        self._diffs = deque(int(d) for d in data["diffs"][-self.window :])
        self._sum_sq = sum(d * d for d in self._diffs)
        last = data.get("last")
        self._last = None if last is None else int(last)
