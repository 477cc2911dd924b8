"""Rolling volatility of the mid, in ticks, from the last N moves (integer arithmetic)."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from math import isqrt
from typing import Any

__all__ = ["MidVolatility"]

_SCALE = 1_000_000  # sigma is kept with 3 decimals of a tick (sqrt of 1e6 = 1e3)
_THOUSANDTHS_OF_TICK = 2000  # diffs are in half-ticks: /2 for ticks, /1000 for the scale


class MidVolatility:
    """RMS change of the mid over a rolling window of N moves, per move or over a time horizon.

    The mid is fed in half-ticks (bid_ticks + ask_ticks) so it stays an integer; updates where
    the mid did not move are ignored, so a quiet book does not dilute the per-move estimate.
    With timestamps, `sigma_ticks_over(horizon_ns)` scales the variance by time instead
    (variance per ns x horizon), which stays right when the update rate changes.
    """

    __slots__ = ("_cached", "_diffs", "_last", "_span_start_ns", "_sum_sq", "_times", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self._diffs: deque[int] = deque()
        self._times: deque[int] = deque()
        self._sum_sq = 0
        self._last: int | None = None
        self._span_start_ns: int | None = None
        # (horizon_ns, sigma) of the last read: a quote cycle reads sigma on every book update,
        # but it changes only when the mid moves
        self._cached: tuple[int, Decimal] | None = None

    def update(self, bid_ticks: int, ask_ticks: int, ts_ns: int = 0) -> None:
        """Feed one top of book (integer ticks) seen at `ts_ns` (any monotonic clock)."""
        mid2 = bid_ticks + ask_ticks
        last = self._last
        self._last = mid2
        if last is None:
            self._span_start_ns = ts_ns
            return
        if mid2 == last:
            return
        d = mid2 - last
        self._cached = None
        self._diffs.append(d)
        self._times.append(ts_ns)
        self._sum_sq += d * d
        if len(self._diffs) > self.window:
            old = self._diffs.popleft()
            self._span_start_ns = self._times.popleft()
            self._sum_sq -= old * old

    @property
    def samples(self) -> int:
        """Mid moves in the window (quoting waits for enough of them: no spread from a cold estimate)."""
        return len(self._diffs)

    @property
    def sigma_ticks(self) -> Decimal:
        """RMS mid change per move, in ticks (0 until the first move)."""
        return self.sigma_ticks_over(0)

    def sigma_ticks_over(self, horizon_ns: int) -> Decimal:
        """Stdev of the mid over `horizon_ns`, in ticks, from the variance per unit of time.

        `horizon_ns` 0 (or a window spanning no time) gives the RMS change per move instead.
        """
        c = self._cached
        if c is not None and c[0] == horizon_ns:
            return c[1]
        n = len(self._diffs)
        if n == 0 or self._span_start_ns is None:
            return Decimal(0)
        span = self._times[-1] - self._span_start_ns
        if horizon_ns and span > 0:
            sigma = Decimal(isqrt(self._sum_sq * _SCALE * horizon_ns // span)) / _THOUSANDTHS_OF_TICK
        else:
            sigma = Decimal(isqrt(self._sum_sq * _SCALE // n)) / _THOUSANDTHS_OF_TICK
        self._cached = (horizon_ns, sigma)
        return sigma

    def snapshot(self) -> dict[str, Any]:
        return {"window": self.window, "diffs": list(self._diffs), "times": list(self._times),
                "last": self._last, "span_start_ns": self._span_start_ns}

    def restore(self, data: dict[str, Any]) -> None:
        diffs = [int(d) for d in data["diffs"]][-self.window :]
        times = [int(t) for t in data.get("times", [0] * len(diffs))][-len(diffs) :] if diffs else []
        self._diffs, self._times = deque(diffs), deque(times)
        self._cached = None
        self._sum_sq = sum(d * d for d in diffs)
        last, start = data.get("last"), data.get("span_start_ns")
        self._last = None if last is None else int(last)
        self._span_start_ns = None if start is None else int(start)
