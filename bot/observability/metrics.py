"""Every Prometheus metric the bot exports: names, labels and buckets in one place.

Label values are bounded: symbols come from config, endpoints and actions from fixed sets,
and Bybit retCodes outside the known set are reported as "other".
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, disable_created_metrics
from prometheus_client.exposition import generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

__all__ = ["KNOWN_RET_CODES", "WS_TYPES", "Metrics", "ret_code_label"]

# *_created series double the exposition and no rule or panel reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

WS_TYPES = ("public", "private", "trade")
KNOWN_RET_CODES = frozenset(
    {0, 429, 10000, 10001, 10002, 10003, 10004, 10005, 10006, 10016, 10017, 110001, 110003, 110004,
     110007, 110008, 110012, 110017, 110020, 110064, 110072, 110079, 110094, 170130, 170131, 170213}
)
_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_REST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def ret_code_label(code: int | None) -> str:
    if code is None:
        return "none"
    return str(code) if code in KNOWN_RET_CODES else "other"


class Metrics:
    """All bot metrics on one registry (one per bot instance, so tests can run several)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        r = self.registry = registry or CollectorRegistry()
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        self.started_at = time.monotonic()
        self.uptime = Gauge("bot_uptime_seconds", "Seconds since the bot started", registry=r)
        self.uptime.set_function(lambda: time.monotonic() - self.started_at)
        # NET-001, names fixed by the mission.
        self.ws_reconnect_attempts = Counter(
            "ws_reconnect_attempts", "WebSocket reconnect attempts", ["ws_type"], registry=r)
        self.ws_reconnect_exhausted = Counter(
            "ws_reconnect_exhausted", "WebSocket streams that ran out of reconnect attempts", ["ws_type"], registry=r)
        self.ws_reconnect_backoff = Histogram(
            "ws_reconnect_backoff_seconds", "Delay before each WebSocket reconnect attempt", ["ws_type"],
            buckets=(1, 2, 4, 8, 16, 32, 60), registry=r)
        self.ws_connected = Gauge("mm_ws_connected", "1 while the stream is connected and subscribed",
                                  ["ws_type"], registry=r)
        # Trading.
        self.orders = Counter("mm_orders", "Order actions sent, by result", ["symbol", "action", "result"], registry=r)
        self.quotes = Counter("mm_quote_cycles", "Quote cycles run, by outcome", ["symbol", "outcome"], registry=r)
        self.fills = Counter("mm_fills", "Fills of our orders", ["symbol", "side", "liquidity"], registry=r)
        self.fill_notional = Counter("mm_fill_notional_quote", "Filled notional in quote currency",
                                     ["symbol", "liquidity"], registry=r)
        self.maker_share = Gauge("mm_maker_share_ratio", "Maker share of filled notional", ["symbol"], registry=r)
        self.rebates = Counter("mm_rebates_earned_quote", "Maker rebates received (quote)", ["symbol"], registry=r)
        self.fees = Counter("mm_fees_paid_quote", "Trading fees paid (quote)", ["symbol"], registry=r)
        self.position = Gauge("mm_position_base", "Signed position in base units", ["symbol"], registry=r)
        self.position_notional = Gauge("mm_position_notional_quote", "Absolute position notional",
                                       ["symbol"], registry=r)
        self.position_limit = Gauge("mm_position_limit_quote", "Configured max position notional",
                                    ["symbol"], registry=r)
        self.pnl_realized = Gauge("mm_pnl_realized_quote", "Realized PnL incl. fees", ["symbol"], registry=r)
        self.pnl_unrealized = Gauge("mm_pnl_unrealized_quote", "Unrealized PnL at mid", ["symbol"], registry=r)
        self.daily_pnl = Gauge("mm_daily_pnl_quote", "PnL since the UTC day started", registry=r)
        self.drawdown = Gauge("mm_drawdown_quote", "Drawdown from the session's PnL peak", registry=r)
        self.risk_limit = Gauge("mm_risk_limit_quote", "Configured risk limits", ["limit"], registry=r)
        self.open_orders = Gauge("mm_open_orders", "Our open orders", ["symbol"], registry=r)
        self.obligation_met = Gauge("mm_quote_obligation_met", "1 when quotes meet the MM obligations",
                                    ["symbol"], registry=r)
        self.quote_uptime = Gauge("mm_quote_uptime_ratio", "Share of time quoting within obligations",
                                  ["symbol"], registry=r)
        # why uptime was lost: the quote's hold/guard reason or the first obligation it failed (a fixed set)
        self.quote_unmet = Counter("mm_quote_unmet_seconds", "Seconds not quoting within obligations, by reason",
                                   ["symbol", "reason"], registry=r)
        self.quoting = Gauge("mm_quoting_active", "1 while the bot is quoting (not paused or killed)", registry=r)
        self.kill_switch = Gauge("mm_kill_switch_engaged", "1 while the kill switch is engaged", registry=r)
        self.post_only_rejects = Counter("mm_post_only_rejects", "Post-only orders cancelled as takers",
                                         ["symbol"], registry=r)
        self.risk_refusals = Counter("mm_risk_refusals", "Actions refused by a risk guard", ["reason"], registry=r)
        self.tick_to_order = Histogram("mm_tick_to_order_seconds",
                                       "Book update received -> the order request it caused handed to the socket",
                                       ["symbol"], buckets=_LATENCY_BUCKETS, registry=r)
        self.book_age = Gauge("mm_book_age_seconds", "Age of the newest book update", ["symbol"], registry=r)
        # Exchange I/O.
        self.rest_latency = Histogram("mm_rest_request_seconds", "REST request latency", ["endpoint"],
                                      buckets=_REST_BUCKETS, registry=r)
        self.rest_errors = Counter("mm_rest_errors", "REST errors by retCode", ["endpoint", "ret_code"], registry=r)
        self.rate_limit_remaining = Gauge("mm_rate_limit_remaining_ratio",
                                          "X-Bapi-Limit-Status / X-Bapi-Limit of the last response",
                                          ["endpoint"], registry=r)
        # State and housekeeping.
        self.snapshot_failures = Counter("mm_snapshot_failures", "Snapshot saves that failed", ["kind"], registry=r)
        self.heap_trim = Summary("bot_heap_trim_seconds", "Time in malloc_trim, giving free heap pages back",
                                 registry=r)
        self.disk_usage = Gauge("mm_disk_usage_bytes", "Bytes used by the bot's directories", ["dir"], registry=r)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
