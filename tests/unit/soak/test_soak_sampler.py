from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmctl.ops.soak.sampler import (
    SampleSink,
    build_sample,
    dir_tree_size,
    histogram_quantile,
    parse_metrics,
    proc_stats,
    read_samples,
)

EXPOSITION = """\
# HELP mm_fills_total Fills of our orders
# TYPE mm_fills_total counter
mm_fills_total{symbol="BTCUSDT",side="Buy",liquidity="maker"} 9.0
mm_fills_total{symbol="ETHUSDT",side="Sell",liquidity="maker"} 10.0
mm_fills_total{symbol="ETHUSDT",side="Sell",liquidity="taker"} 1.0
# HELP ws_reconnect_attempts_total WebSocket reconnect attempts
# TYPE ws_reconnect_attempts_total counter
ws_reconnect_attempts_total{ws_type="public"} 2.0
ws_reconnect_attempts_total{ws_type="private"} 1.0
# HELP mm_quote_uptime_ratio Share of time quoting within obligations
# TYPE mm_quote_uptime_ratio gauge
mm_quote_uptime_ratio{symbol="BTCUSDT"} 0.98
mm_quote_uptime_ratio{symbol="ETHUSDT"} 0.91
# HELP mm_ws_connected 1 while connected
# TYPE mm_ws_connected gauge
mm_ws_connected{ws_type="public"} 1.0
mm_ws_connected{ws_type="private"} 0.0
# HELP mm_position_base Signed position
# TYPE mm_position_base gauge
mm_position_base{symbol="BTCUSDT"} -0.002
# HELP mm_tick_to_order_seconds Book update in -> order request out
# TYPE mm_tick_to_order_seconds histogram
mm_tick_to_order_seconds_bucket{symbol="BTCUSDT",le="0.0001"} 0.0
mm_tick_to_order_seconds_bucket{symbol="BTCUSDT",le="0.001"} 99.0
mm_tick_to_order_seconds_bucket{symbol="BTCUSDT",le="0.01"} 100.0
mm_tick_to_order_seconds_bucket{symbol="BTCUSDT",le="+Inf"} 100.0
mm_tick_to_order_seconds_count{symbol="BTCUSDT"} 100.0
mm_tick_to_order_seconds_sum{symbol="BTCUSDT"} 0.05
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2e+08
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 42.0
"""


def test_parse_metrics_sums_and_splits_by_label() -> None:
    m = parse_metrics(EXPOSITION)
    assert m.total("mm_fills_total") == 20
    assert m.by_label("mm_fills_total", "liquidity") == {"maker": 19, "taker": 1}
    assert m.total("ws_reconnect_attempts_total") == 3
    assert m.minimum("mm_quote_uptime_ratio") == pytest.approx(0.91)
    assert m.buckets("mm_tick_to_order_seconds")[-1] == [float("inf"), 100.0]


def test_histogram_quantile_interpolates_inside_bucket() -> None:
    b = [[0.001, 50.0], [0.002, 100.0], ["+Inf", 100.0]]
    assert histogram_quantile(0.5, b) == pytest.approx(0.001)
    assert histogram_quantile(0.75, b) == pytest.approx(0.0015)
    assert histogram_quantile(0.99, [[0.001, 0.0], ["+Inf", 0.0]]) is None
    assert histogram_quantile(0.99, [[0.001, 1.0], ["+Inf", 10.0]]) == pytest.approx(0.001)


def test_build_sample_from_metrics_only_falls_back_to_process_metrics() -> None:
    s = build_sample(t=1.0, elapsed_s=10.0, speed=5.0, metrics=parse_metrics(EXPOSITION), status=None,
                     proc=None, dirs={"logs": 123})
    assert (s["rss_bytes"], s["fds"], s["market_s"]) == (1.2e8, 42.0, 50.0)
    assert (s["fills"], s["maker_fills"], s["taker_fills"]) == (20, 19, 1)
    assert s["connections"] == {"public": True, "private": False}
    assert s["inventory"] == {"BTCUSDT": -0.002}
    assert 900 < s["p99_us"] < 10_000
    assert s["lat_buckets"][-1][0] == "+Inf"
    assert s["dirs"] == {"logs": 123}


def test_build_sample_prefers_status_totals() -> None:
    status = {"state": "running", "connections": {"public": {"connected": True}, "private": "connected"},
              "latency": {"tick_to_order_p50_us": 80, "tick_to_order_p99_us": 400},
              "totals": {"fills": 5, "maker_fills": 5, "taker_fills": 0, "maker_share": 1.0, "rebates": "0.5",
                         "fees": "0", "pnl_realized": "1.25", "pnl_unrealized": "-0.1", "open_orders": 4,
                         "orders_sent": 40, "post_only_rejects": 1}, "tasks": 17}
    s = build_sample(t=1.0, elapsed_s=1.0, speed=1.0, metrics=None, status=status, proc=None, dirs={})
    assert (s["p99_us"], s["rebates"], s["pnl_realized"], s["tasks"]) == (400, 0.5, 1.25, 17)
    assert s["connections"] == {"public": True, "private": True}
    assert s["up"] is True


def test_unreachable_bot_sample_is_down() -> None:
    s = build_sample(t=1.0, elapsed_s=1.0, speed=1.0, metrics=None, status=None, proc=None, dirs={})
    assert s["up"] is False and s["rss_bytes"] is None


def test_proc_stats_of_this_process_and_of_a_dead_pid() -> None:
    st = proc_stats(os.getpid())
    assert st is not None and st.rss_bytes > 1_000_000 and st.threads >= 1
    assert proc_stats(2**22 + 12345) is None


def test_dir_tree_size_is_recursive(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_bytes(b"1" * 100)
    (tmp_path / "y").write_bytes(b"2" * 50)
    assert dir_tree_size(tmp_path) == 150
    assert dir_tree_size(tmp_path / "missing") == 0


def test_sample_sink_round_trip_skips_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    sink = SampleSink(path)
    sink.write({"elapsed_s": 1.0})
    sink.write({"elapsed_s": 2.0})
    sink.close()
    with open(path, "ab") as fh:
        fh.write(b'{"elapsed_s": 3')
    assert [s["elapsed_s"] for s in read_samples(path)] == [1.0, 2.0]


def test_parse_sim_banner_plain_and_incomplete() -> None:
    from mmctl.ops.soak.procs import parse_sim_banner

    lines = ["REST http://127.0.0.1:4001", "WS   ws://127.0.0.1:4001", "KEY  k123", "SECRET s456"]
    b = parse_sim_banner(lines)
    assert b == {"rest_url": "http://127.0.0.1:4001", "ws_public_url": "ws://127.0.0.1:4001/v5/public",
                 "ws_private_url": "ws://127.0.0.1:4001/v5/private", "ws_trade_url": "ws://127.0.0.1:4001/v5/trade",
                 "api_key": "k123", "api_secret": "s456"}
    assert parse_sim_banner(lines[:3]) is None


def test_attached_dirs_resolve_like_the_runtime(tmp_path: Path, clean_env: dict[str, str]) -> None:
    from bot.config import load_config
    from mmctl.ops.soak.runner import attached_dirs

    cfg = load_config(env=clean_env, overrides=[f"state_dir={tmp_path / 's'}", "monitoring.recorder_dir=rec"])
    d = attached_dirs(cfg)
    assert d["state"] == tmp_path / "s" and d["recordings"] == tmp_path / "s" / "rec"
    assert d["logs"].is_absolute()
