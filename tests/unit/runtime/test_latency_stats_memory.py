"""LatencyStats: the last-N window's semantics, and memory allocated once (no growth while it fills)."""

from __future__ import annotations

import tracemalloc

import pytest

from bot.runtime.tasks import LatencyStats


def test_window_keeps_the_last_n_samples() -> None:
    s = LatencyStats(5)
    assert s.percentile_us(0.5) is None and s.share_below(1) == 0.0 and len(s) == 0
    for us in range(1, 8):  # 1..7 us; the window keeps 3..7
        s.add(us * 1000)
    assert s.count == 7 and len(s) == 5
    assert s.percentile_us(0.0) == 3.0
    assert s.percentile_us(0.5) == 5.0
    assert s.percentile_us(1.0) == 7.0
    assert s.share_below(5000) == pytest.approx(2 / 5)


def test_partial_window_ignores_unfilled_slots() -> None:
    s = LatencyStats(100)
    s.add(9_000)
    s.add(11_000)
    assert s.percentile_us(0.0) == 9.0 and s.percentile_us(1.0) == 11.0
    assert s.share_below(10_000) == 0.5


def test_out_of_range_samples_are_clamped_not_raised() -> None:
    s = LatencyStats(3)
    s.add(2**70)
    s.add(-(2**70))
    assert s.percentile_us(0.0) == round(-(2**63 - 1) / 1000, 1)
    assert s.percentile_us(1.0) == round((2**63 - 1) / 1000, 1)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        LatencyStats(0)


def test_filling_the_window_allocates_nothing() -> None:
    """A soak's RSS must not climb while the window fills: 20,000 samples cost no new memory.

    (A deque of Python ints grew ~0.8 MB here: one int object per sample plus the deque's blocks.)
    """
    tracemalloc.start()
    try:
        s = LatencyStats(20_000)
        before = tracemalloc.get_traced_memory()[0]
        for i in range(40_000):
            s.add(400_000 + i)  # realistic ns values, none of them a cached small int
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert s.count == 40_000 and len(s) == 20_000
    assert grown < 16 * 1024, f"LatencyStats grew {grown} bytes while filling"
