"""NET-001 policy as pure code: doubling to a cap, +/-30 % jitter, bounded attempts, healthy reset."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config.base import ReconnectConfig
from bot.exchange.bybit.backoff import BackoffPolicy, ReconnectSchedule


def test_base_delays_double_from_one_second_to_sixty_second_cap() -> None:
    p = BackoffPolicy()
    assert [p.base_delay(a) for a in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert p.base_delay(10_000) == 60


def test_jitter_extremes_are_plus_minus_thirty_percent_and_never_above_cap() -> None:
    p = BackoffPolicy()
    assert p.delay(1, 0.0) == pytest.approx(0.7)
    assert p.delay(1, 0.999999) == pytest.approx(1.3, rel=1e-5)
    assert p.delay(3, 0.5) == pytest.approx(4.0)
    assert p.delay(7, 0.999) == 60.0  # clamped to the cap
    assert p.delay(7, 0.0) == pytest.approx(42.0)


@given(u=st.floats(0, 1, exclude_max=True), attempt=st.integers(1, 200))
def test_every_delay_within_policy_bounds(u: float, attempt: int) -> None:
    p = BackoffPolicy()
    lo, hi = p.bounds(attempt)
    assert lo <= p.delay(attempt, u) <= hi <= 60.0


def test_delays_iterator_ends_after_max_attempts_with_injected_rng() -> None:
    p = BackoffPolicy(max_attempts=5)
    assert list(p.delays(lambda: 0.5)) == [1, 2, 4, 8, 16]
    rng = random.Random(7)
    got = list(p.delays(rng.random))
    assert len(got) == 5 and all(p.bounds(i + 1)[0] <= d <= p.bounds(i + 1)[1] for i, d in enumerate(got))


def test_from_config_and_scaled() -> None:
    p = BackoffPolicy.from_config(ReconnectConfig(max_attempts=4, healthy_after_s=10))
    assert (p.initial_s, p.max_s, p.jitter, p.max_attempts, p.healthy_after_s) == (1.0, 60.0, 0.3, 4, 10.0)
    q = p.scaled(0.01)
    assert q.base_delay(1) == pytest.approx(0.01) and q.max_s == pytest.approx(0.6)
    assert q.healthy_after_s == pytest.approx(0.1)


def test_flapping_link_keeps_backing_off_but_healthy_link_resets_counter() -> None:
    s = ReconnectSchedule(BackoffPolicy(max_attempts=20, healthy_after_s=30), rng=lambda: 0.5)
    now = 0.0
    delays = []
    for _ in range(4):  # connect, drop after 1 s each time: a flapping link
        s.on_connected(now)
        now += 1
        d = s.next_delay(now)
        assert d is not None
        delays.append(d)
        now += d
    assert delays == [1, 2, 4, 8]
    s.on_connected(now)
    now += 31  # healthy for longer than healthy_after_s
    assert s.next_delay(now) == 1  # counter was reset
    assert s.attempt == 1


def test_failed_connects_count_and_exhaust() -> None:
    s = ReconnectSchedule(BackoffPolicy(max_attempts=3), rng=lambda: 0.5)
    assert [s.next_delay(0), s.next_delay(0), s.next_delay(0)] == [1, 2, 4]
    assert s.next_delay(0) is None


@pytest.mark.parametrize("kwargs", [{"initial_s": 0}, {"jitter": 1.0}, {"max_attempts": 0},
                                    {"initial_s": 5, "max_s": 1}])
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]
