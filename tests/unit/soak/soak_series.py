"""Synthetic soak sample series for the gate and report tests (not a test module)."""

from __future__ import annotations

import random
from typing import Any

BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01]


def buckets(n_obs: int, *, slow_share: float = 0.0) -> list[list[Any]]:
    """Cumulative buckets: most observations under 250 us, `slow_share` of them at ~8 ms."""
    fast = int(n_obs * (1 - slow_share))
    out: list[list[Any]] = []
    for le in BOUNDS:
        out.append([le, fast if le >= 0.00025 else fast // 2])
    out[-1][1] = n_obs  # the slow ones land in the 10 ms bucket
    out.append(["+Inf", n_obs])
    return out


def series(*, minutes: float = 60.0, interval_s: float = 10.0, leak_mb_per_h: float = 0.0,
           fd_leak_per_h: float = 0.0, seed: int = 1, slow_share: float = 0.0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    n = int(minutes * 60 / interval_s)
    for i in range(n):
        t = i * interval_s
        warm = 30e6 * min(1.0, t / 300.0)  # 30 MB of warm-up growth in the first 5 minutes
        rss = 80e6 + warm + leak_mb_per_h * 2**20 * t / 3600 + rng.gauss(0, 300e3)
        out.append({
            "t": 1.7e9 + t, "elapsed_s": t, "market_s": t * 10, "up": True, "state": "running",
            "rss_bytes": rss, "fds": 40 + int(fd_leak_per_h * t / 3600) + rng.choice([0, 0, 1]),
            "threads": 6, "tasks": 30 + rng.choice([0, 1, 2]), "p50_us": 120.0, "p99_us": 240.0,
            "lat_buckets": buckets(i * 100, slow_share=slow_share),
            "reconnects": 0.0, "reconnects_exhausted": 0.0,
            "connections": {"public": True, "private": True, "trade": True},
            "open_orders": 8.0, "fills": float(i * 3), "maker_fills": float(i * 3), "taker_fills": 0.0,
            "maker_share": 0.99, "rebates": i * 0.01, "fees": 0.0, "pnl_realized": i * 0.02,
            "pnl_unrealized": rng.gauss(0, 1), "orders_sent": float(i * 20), "post_only_rejects": float(i // 10),
            "quote_uptime": 0.97, "obligation_met": 1.0, "inventory": {"BTCUSDT": rng.gauss(0, 0.01)},
            "kill_switch": False, "dirs": {"logs": 5e6 + (t % 600) * 1e4, "recordings": 1e6},
        })
    return out


def with_ws_drop(samples: list[dict[str, Any]], at_s: float, *, recover: bool = True) -> list[dict[str, Any]]:
    """Connections go down in the sample after `at_s`; reconnects step up after that unless not recovering."""
    out = []
    for s in samples:
        s = dict(s)
        t = s["elapsed_s"]
        if at_s < t <= at_s + 10 or (not recover and t > at_s):
            s["connections"] = {"public": False, "private": True, "trade": True}
        if t > at_s and recover:
            s["reconnects"] = s["reconnects"] + 1
        out.append(s)
    return out
