"""Hands the C heap's free pages back to the OS on a timer (glibc `malloc_trim`).

Why: asyncio reads every socket with a 256 KiB `recv` buffer and shrinks it to the message.
Once glibc's adaptive mmap threshold has risen past 256 KiB, those buffers come from the top
of the heap, and the small objects left behind pin it: in a steady run the heap's free space
grew ~10 MB/h while live memory stayed flat (soak RSS slope 11 MB/h against a 2 MB/h gate).
`malloc_trim(0)` releases whole free pages anywhere in the heap (madvise), 0.1-0.5 ms a call.
Fixing the mmap threshold instead stopped the growth too, but puts an mmap/munmap pair on
every socket read (~170 a second, on the quote path).
"""

from __future__ import annotations

import asyncio
import ctypes
import time
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["HeapTrimmer", "load_malloc_trim", "rss_bytes"]


def load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    try:
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


class HeapTrimmer:
    """Counts and times the trims; `run` does one in a worker thread.

    The worker keeps the event loop free for the call (ctypes releases the GIL); the loop's own
    mallocs may wait on the arena lock for that long, once a period.
    """

    def __init__(self, on_trim: Callable[[float], object] | None = None) -> None:
        self._trim = load_malloc_trim()
        self._on_trim = on_trim
        self.count = 0
        self.released = 0
        self.last_ms: float | None = None

    @property
    def available(self) -> bool:
        return self._trim is not None

    def trim_now(self) -> float:
        """One trim; returns its duration in seconds (0.0 where there is nothing to call)."""
        if self._trim is None:
            return 0.0
        t0 = time.perf_counter()
        released = self._trim(0)
        took = time.perf_counter() - t0
        self.count += 1
        self.released += 1 if released else 0
        self.last_ms = round(took * 1000, 3)
        if self._on_trim is not None:
            self._on_trim(took)
        return took

    async def run(self) -> None:
        await asyncio.to_thread(self.trim_now)

    def status(self) -> dict[str, object]:
        return {"heap_trim": self.available, "heap_trims": self.count, "heap_trims_released": self.released,
                "heap_trim_ms_last": self.last_ms}


@cache
def _process() -> Any:
    import psutil  # imported on the first /status, not at start-up

    return psutil.Process()


def rss_bytes() -> int | None:
    """This process's resident set size (psutil); None where the platform does not say."""
    try:
        return int(_process().memory_info().rss)
    except Exception:  # psutil.Error, or an unsupported platform: /status shows null, not a 500
        return None
