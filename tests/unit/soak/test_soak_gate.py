from __future__ import annotations

from pathlib import Path

import pytest
from soak_series import series, with_ws_drop

from mmctl.ops.soak.gate import Thresholds, evaluate, linear_slope, load_thresholds

SUMMARY = {"duration_s": 3600.0, "faults": [], "orphan_orders": 0, "exit_ok": True}
TH = Thresholds(warmup_s=600.0, dir_bounds_bytes={"logs": 50_000_000, "recordings": 10_000_000})


def by_name(verdict, name):  # type: ignore[no-untyped-def]
    return next(c for c in verdict.checks if c.name == name)


def test_linear_slope_recovers_known_slope() -> None:
    xs = [float(i) for i in range(10)]
    assert linear_slope(xs, [3 * x + 7 for x in xs]) == pytest.approx(3.0)
    assert linear_slope([1.0], [1.0]) is None
    assert linear_slope([2.0, 2.0], [1.0, 5.0]) is None


def test_flat_series_passes_every_check() -> None:
    v = evaluate(series(), SUMMARY, TH)
    assert v.passed, [c for c in v.checks if c.status != "PASS"]
    assert abs(float(by_name(v, "rss_slope").measured.split()[0])) < 2.0


def test_memory_leak_series_fails_on_rss_slope() -> None:
    v = evaluate(series(leak_mb_per_h=20.0), SUMMARY, TH)
    assert not v.passed
    slope = by_name(v, "rss_slope")
    assert slope.status == "FAIL"
    assert float(slope.measured.split()[0]) == pytest.approx(20.0, rel=0.15)


def test_warm_up_growth_alone_does_not_fail() -> None:
    # 30 MB of growth in the first 5 minutes, flat afterwards: the regression starts after warm-up.
    v = evaluate(series(), SUMMARY, Thresholds(warmup_s=0.0, dir_bounds_bytes=TH.dir_bounds_bytes))
    assert by_name(v, "rss_slope").status == "FAIL"
    assert by_name(evaluate(series(), SUMMARY, TH), "rss_slope").status == "PASS"


def test_fd_leak_fails_fd_growth() -> None:
    v = evaluate(series(fd_leak_per_h=30), SUMMARY, TH)
    assert by_name(v, "fd_growth").status == "FAIL"
    assert not v.passed


def test_slow_tail_fails_p99() -> None:
    v = evaluate(series(slow_share=0.05), SUMMARY, TH)
    c = by_name(v, "tick_to_order_p99")
    assert c.status == "FAIL" and float(c.measured.split()[0]) > 5.0


def test_orphan_orders_after_shutdown_fail() -> None:
    v = evaluate(series(), {**SUMMARY, "orphan_orders": 2}, TH)
    assert by_name(v, "orphan_orders_after_shutdown").status == "FAIL"
    v = evaluate(series(), {**SUMMARY, "orphan_orders": None}, TH)
    assert by_name(v, "orphan_orders_after_shutdown").status == "NO DATA"
    assert not v.passed


def test_recovered_ws_drop_passes_and_unrecovered_fails() -> None:
    fault = {"elapsed_s": 1200.0, "kind": "drop_ws", "ok": True}
    ok = evaluate(with_ws_drop(series(), 1200.0), {**SUMMARY, "faults": [fault]}, TH)
    assert by_name(ok, "disconnects_recovered").status == "PASS"
    assert by_name(ok, "disconnects_recovered").measured == "1/1"
    bad = evaluate(with_ws_drop(series(), 1200.0, recover=False), {**SUMMARY, "faults": [fault]}, TH)
    assert by_name(bad, "disconnects_recovered").status == "FAIL"
    assert not bad.passed


def test_drop_without_reconnect_counter_moving_is_not_recovered() -> None:
    fault = {"elapsed_s": 1200.0, "kind": "drop_ws", "ok": True}
    v = evaluate(series(), {**SUMMARY, "faults": [fault]}, TH)  # streams never dropped: counter flat
    assert by_name(v, "disconnects_recovered").status == "FAIL"


def test_directory_over_bound_fails() -> None:
    th = Thresholds(warmup_s=600.0, dir_bounds_bytes={"logs": 1_000_000})
    v = evaluate(series(), SUMMARY, th)
    assert by_name(v, "dir_bounded:logs").status == "FAIL"
    assert by_name(v, "dir_bounded:recordings").status == "PASS"  # no bound: reported only


def test_low_maker_share_and_uptime_fail() -> None:
    s = series()
    for x in s:
        x["maker_share"], x["quote_uptime"] = 0.5, 0.2
    v = evaluate(s, SUMMARY, TH)
    assert by_name(v, "maker_share").status == "FAIL"
    assert by_name(v, "quote_uptime").status == "FAIL"


def test_too_few_samples_is_no_data_and_fails() -> None:
    v = evaluate(series(minutes=1), SUMMARY, TH)
    assert by_name(v, "rss_slope").status == "NO DATA"
    assert not v.passed


def test_missing_task_count_is_optional() -> None:
    s = series()
    for x in s:
        x["tasks"] = None
    v = evaluate(s, SUMMARY, TH)
    assert by_name(v, "task_growth").status == "NO DATA"
    assert v.passed


def test_unreachable_bot_fails() -> None:
    s = series()
    for x in s[100:110]:
        x["up"] = False
    assert by_name(evaluate(s, SUMMARY, TH), "bot_alive").status == "FAIL"


def test_bot_that_died_or_stopped_badly_fails() -> None:
    v = evaluate(series(), {**SUMMARY, "exit_ok": False}, TH)
    assert by_name(v, "bot_alive").status == "FAIL" and not v.passed


def test_load_thresholds_layers_file_profile_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_text("[gate]\nmax_fd_growth = 7\nmin_maker_share = 0.9\n[profile.ci]\nmin_maker_share = 0.5\n")
    th = load_thresholds(f, profile="ci", overrides={"max_orphan_orders": 1})
    assert (th.max_fd_growth, th.min_maker_share, th.max_orphan_orders) == (7, 0.5, 1)
    with pytest.raises(ValueError, match="unknown gate threshold"):
        load_thresholds(f, overrides={"nope": 1})
    with pytest.raises(ValueError, match="profile"):
        load_thresholds(f, profile="missing")


def test_repo_thresholds_file_loads_with_every_profile() -> None:
    import tomllib

    path = Path(__file__).resolve().parents[3] / "ci" / "soak_thresholds.toml"
    for name in tomllib.loads(path.read_text()).get("profile", {}):
        load_thresholds(path, profile=name)
    load_thresholds(path)


def test_stream_the_bot_never_uses_does_not_count_as_down() -> None:
    s = series()
    for x in s:
        x["connections"] = {"public": True, "private": True, "trade": False}  # orders over REST
    fault = {"elapsed_s": 1200.0, "kind": "rest_errors", "ok": True}
    v = evaluate(s, {**SUMMARY, "faults": [fault]}, TH)
    assert by_name(v, "disconnects_recovered").status == "PASS"


def test_quote_uptime_falls_back_to_obligation_samples_worst_symbol() -> None:
    s = series()
    for i, x in enumerate(s):
        x["quote_uptime"] = None
        x["obligations"] = {"BTCUSDT": 1.0, "ETHUSDT": 1.0 if i % 4 else 0.0}
    c = by_name(evaluate(s, SUMMARY, TH), "quote_uptime")
    assert c.status == "FAIL" and 0.70 < float(c.measured) < 0.80
    assert "ETHUSDT 0.7" in c.detail


def test_uptime_detail_names_the_largest_causes() -> None:
    s = series()
    for x in s:
        x["quote_uptime"] = 0.7
    s[-1]["unmet"] = {"ETHUSDT:min_size_bid": 300.0, "BTCUSDT:book_untrusted": 40.0, "BTCUSDT:vol_warmup": 1.0}
    c = by_name(evaluate(s, SUMMARY, TH), "quote_uptime")
    assert c.status == "FAIL"
    assert "ETHUSDT:min_size_bid 300s, BTCUSDT:book_untrusted 40s" in c.detail
