"""Background tasks: one TaskGroup owned by the runtime, crash reporting, latency stats, housekeeping."""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.observability.logging import get_logger

__all__ = ["BackgroundTasks", "LatencyStats", "dir_size", "every"]

log = get_logger(__name__)

TaskFn = Callable[[], Awaitable[None]]
_NS_MAX = 2**63 - 1


class BackgroundTasks:
    """Runs named coroutines in one `asyncio.TaskGroup`; `stop()` cancels them all and waits.

    A task that raises is logged and reported to `on_crash` (the bot decides: pause, kill or stop);
    it does not take its siblings down with it, because a dead metrics refresher must not stop
    the order stream.
    """

    def __init__(self, on_crash: Callable[[str, BaseException], None]) -> None:
        self._specs: list[tuple[str, TaskFn]] = []
        self._on_crash = on_crash
        self._main: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.running: set[str] = set()

    def add(self, name: str, fn: TaskFn) -> None:
        if self._main is not None:
            raise RuntimeError("add tasks before start()")
        self._specs.append((name, fn))

    async def _guard(self, name: str, fn: TaskFn) -> None:
        self.running.add(name)
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("task_crashed", task=name, error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            self._on_crash(name, exc)
        finally:
            self.running.discard(name)

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for name, fn in self._specs:
                tg.create_task(self._guard(name, fn), name=f"bot:{name}")
            self._started.set()

    def start(self) -> None:
        self._main = asyncio.ensure_future(self._run())

    async def stop(self, timeout_s: float = 5.0) -> bool:
        """Cancel every task and wait for them; False if some did not finish in time."""
        if self._main is None or self._main.done():
            return True
        self._main.cancel()
        done, _ = await asyncio.wait({self._main}, timeout=timeout_s)
        if not done:
            log.warning("tasks_stuck", tasks=",".join(sorted(self.running)))
            return False
        return True


async def every(period_s: float, fn: Callable[[], object], *, name: str) -> None:
    """Call `fn` every `period_s`; an error is logged and the loop goes on."""
    while True:
        await asyncio.sleep(period_s)
        try:
            result = fn()
            if asyncio.iscoroutine(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("periodic_failed", task=name, error=f"{type(exc).__name__}: {exc}")


class LatencyStats:
    """Last N tick-to-order samples (ns) for p50/p99 in /status; the histogram lives in Metrics.

    A ring of machine integers allocated once (8 bytes a sample, 160 kB for 20,000), not a deque
    of Python ints (one 32-byte object each plus the deque's blocks, ~0.8 MB at the cap): the
    memory is all there from the start, so a soak's RSS does not climb while the window fills.
    """

    def __init__(self, size: int = 20_000) -> None:
        if size < 1:
            raise ValueError(f"LatencyStats size must be >= 1, got {size}")
        self._size = size
        self._ring = array("q", bytes(8 * size))
        self._next = 0
        self.count = 0

    def add(self, ns: int) -> None:
        i = self._next
        try:
            self._ring[i] = ns
        except OverflowError:  # beyond int64 (never from a monotonic clock): stored clamped, not lost
            self._ring[i] = _NS_MAX if ns > 0 else -_NS_MAX
        self._next = (i + 1) % self._size
        self.count += 1

    def __len__(self) -> int:
        return min(self.count, self._size)

    def _ordered(self) -> list[int]:
        n = len(self)
        return sorted(self._ring if n == self._size else self._ring[:n])

    def percentile_us(self, q: float) -> float | None:
        ordered = self._ordered()
        if not ordered:
            return None
        idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return round(ordered[idx] / 1000, 1)

    def share_below(self, ns: int) -> float:
        ordered = self._ordered()
        return bisect.bisect_left(ordered, ns) / len(ordered) if ordered else 0.0


def dir_size(path: str | Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
