"""Rate-limit windows of the emulator: per-UID rolling second with batch cut-off, and the IP ban."""

from __future__ import annotations

from bot.sim.ratelimit import IpLimiter, UidLimiter, limit_for


def test_defaults_follow_the_reference_table() -> None:
    assert limit_for("/v5/order/create", "linear") == 10
    assert limit_for("/v5/order/create", "spot") == 20
    assert limit_for("/v5/order/cancel-all", "option") == 1
    assert limit_for("/v5/account/fee-rate", "linear") == 5
    assert limit_for("/v5/market/time", "") is None


def test_rolling_window_remaining_and_reset() -> None:
    lim = UidLimiter()
    for i in range(10):
        d = lim.take(1, "/v5/order/create", "linear", 1000 + i)
        assert d is not None and d.allowed == 1 and d.remaining == 9 - i
    d = lim.take(1, "/v5/order/create", "linear", 1500)
    assert d is not None and (d.allowed, d.remaining, d.reset_ms) == (0, 0, 2000)
    other_uid = lim.take(2, "/v5/order/create", "linear", 1500)
    other_cat = lim.take(1, "/v5/order/create", "spot", 1500)
    assert other_uid is not None and other_uid.allowed == 1
    assert other_cat is not None and other_cat.allowed == 1
    d = lim.take(1, "/v5/order/create", "linear", 2000)  # the first stamp left the window
    assert d is not None and d.allowed == 1


def test_batch_gets_what_is_left() -> None:
    lim = UidLimiter()
    lim.take(1, "/v5/order/create-batch", "linear", 0, n=7)
    d = lim.take(1, "/v5/order/create-batch", "linear", 10, n=5)
    assert d is not None and d.allowed == 3 and d.remaining == 0


def test_scale_raises_limits() -> None:
    d = UidLimiter(scale=10).take(1, "/v5/order/create", "linear", 0)
    assert d is not None and d.limit == 100


def test_ip_limit_bans_for_a_while() -> None:
    ip = IpLimiter(per_5s=3, ban_s=60)
    assert all(ip.hit("a", t) for t in (0.0, 0.1, 0.2))
    assert not ip.hit("a", 0.3)
    assert not ip.hit("a", 30.0)  # still banned
    assert ip.hit("b", 0.3)
    assert ip.hit("a", 61.0)
    assert IpLimiter(per_5s=0, ban_s=1).hit("a", 0.0)
