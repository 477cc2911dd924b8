"""One soak sample: the bot's process stats, its /metrics and /status, and its directory sizes."""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.common import json_io
from bot.observability.logging import get_logger

__all__ = [
    "MetricsView",
    "ProcStats",
    "SampleSink",
    "Sampler",
    "bucket_delta",
    "build_sample",
    "dir_tree_size",
    "histogram_quantile",
    "parse_metrics",
    "proc_stats",
    "read_samples",
]

log = get_logger(__name__)

Labels = dict[str, str]


@dataclass(frozen=True, slots=True)
class MetricsView:
    """Parsed Prometheus exposition: sample name -> [(labels, value)]."""

    series: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.series

    def total(self, name: str, **match: str) -> float | None:
        rows = [v for labels, v in self.series.get(name, []) if all(labels.get(k) == w for k, w in match.items())]
        return sum(rows) if rows else None

    def by_label(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for labels, v in self.series.get(name, []):
            out[labels.get(label, "")] += v
        return dict(out)

    def by_labels(self, name: str, labels: tuple[str, ...]) -> dict[str, float]:
        """Sums keyed by the given labels' values joined with ':' (e.g. 'BTCUSDT:min_size_bid')."""
        out: dict[str, float] = defaultdict(float)
        for lab, v in self.series.get(name, []):
            out[":".join(lab.get(k, "") for k in labels)] += v
        return dict(out)

    def minimum(self, name: str) -> float | None:
        rows = [v for _, v in self.series.get(name, []) if not math.isnan(v)]
        return min(rows) if rows else None

    def buckets(self, name: str) -> list[list[float]]:
        """Cumulative histogram buckets summed over every label set: [[le, count], ...] sorted by le."""
        acc: dict[float, float] = defaultdict(float)
        for labels, v in self.series.get(f"{name}_bucket", []):
            acc[float(labels.get("le", "+Inf"))] += v
        return [[le, acc[le]] for le in sorted(acc)]


def parse_metrics(text: str) -> MetricsView:
    """Parse Prometheus text exposition with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    series: dict[str, list[tuple[Labels, float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            series[s.name].append((dict(s.labels), float(s.value)))
    return MetricsView(dict(series))


def histogram_quantile(q: float, buckets: list[list[Any]]) -> float | None:
    """Prometheus-style quantile from cumulative [[le, count]] buckets (linear within a bucket).

    Returns None when the histogram holds no observations. A quantile landing in the +Inf bucket
    returns the largest finite bound (the value is at least that).
    """
    if not buckets:
        return None
    rows: list[tuple[float, float]] = sorted((float(le), float(c)) for le, c in buckets)
    total = rows[-1][1]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in rows:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = (le if not math.isinf(le) else prev_le), count
    return prev_le


def bucket_delta(later: list[list[Any]], earlier: list[list[Any]]) -> list[list[float]]:
    """Observations between two cumulative histograms with the same bounds (counter resets -> later)."""
    before = {float(le): float(c) for le, c in earlier}
    now = [[float(le), float(c)] for le, c in later]
    out = [[le, c - before.get(le, 0.0)] for le, c in now]
    if any(c < 0 for _, c in out):  # the process restarted: its histogram started over
        return now
    return out


@dataclass(frozen=True, slots=True)
class ProcStats:
    rss_bytes: int
    fds: int | None
    threads: int
    cpu_s: float


def proc_stats(pid: int) -> ProcStats | None:
    """psutil view of a local process; None if it is gone."""
    import psutil

    try:
        p = psutil.Process(pid)
        with p.oneshot():
            mem = p.memory_info()
            try:
                fds: int | None = p.num_fds()
            except (AttributeError, psutil.AccessDenied):
                fds = None
            cpu = p.cpu_times()
            return ProcStats(int(mem.rss), fds, int(p.num_threads()), float(cpu.user + cpu.system))
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def dir_tree_size(directory: Path) -> int:
    """Bytes of every regular file under `directory` (recursive; missing dir = 0)."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            total += st.st_size
    return total


def _connections(status: Mapping[str, Any]) -> dict[str, bool]:
    conns = status.get("connections") or {}
    out: dict[str, bool] = {}
    if isinstance(conns, Mapping):
        for name, value in conns.items():
            if isinstance(value, bool):
                out[str(name)] = value
            elif isinstance(value, Mapping):
                flag = value.get("connected", value.get("up"))
                state = value.get("state")
                out[str(name)] = bool(flag) if flag is not None else state in ("connected", "up", "open", "subscribed")
            elif isinstance(value, str):
                out[str(name)] = value in ("connected", "up", "open", "subscribed")
    return out


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _zero_if_scraped(value: float | None, scraped: bool) -> float | None:
    # A labelled counter exports no series until its first increment: absent means 0 if /metrics answered.
    return value if value is not None or not scraped else 0.0


def _reconnects(status: Mapping[str, Any], m: MetricsView, *, scraped: bool) -> float | None:
    """Completed reconnects (the runtime's /status count) or, failing that, the attempts counter."""
    rec = status.get("reconnects")
    if isinstance(rec, Mapping):
        vals = [_num(v) for v in rec.values()]
        return sum(v for v in vals if v is not None)
    return _zero_if_scraped(m.total("ws_reconnect_attempts_total"), scraped)


def build_sample(
    *,
    t: float,
    elapsed_s: float,
    speed: float,
    metrics: MetricsView | None,
    status: Mapping[str, Any] | None,
    proc: ProcStats | None,
    dirs: Mapping[str, int],
) -> dict[str, Any]:
    """One JSON-ready sample from what was read; pure. Missing sources leave fields None."""
    m = metrics or MetricsView()
    st: Mapping[str, Any] = status or {}
    totals: Mapping[str, Any] = st.get("totals") or {}
    lat: Mapping[str, Any] = st.get("latency") or {}
    by_liq = m.by_label("mm_fills_total", "liquidity")
    maker, taker = by_liq.get("maker"), by_liq.get("taker")
    fills = _num(totals.get("fills"))
    if fills is None and by_liq:
        fills = sum(by_liq.values())
    maker_fills = _num(totals.get("maker_fills")) if "maker_fills" in totals else maker
    taker_fills = _num(totals.get("taker_fills")) if "taker_fills" in totals else taker
    maker_share = _num(totals.get("maker_share"))
    if maker_share is None:
        maker_share = m.minimum("mm_maker_share_ratio")
    buckets = m.buckets("mm_tick_to_order_seconds")
    p50 = _num(lat.get("tick_to_order_p50_us"))
    p99 = _num(lat.get("tick_to_order_p99_us"))
    if p99 is None and buckets:
        q50, q99 = histogram_quantile(0.5, buckets), histogram_quantile(0.99, buckets)
        p50 = q50 * 1e6 if q50 is not None else None
        p99 = q99 * 1e6 if q99 is not None else None
    rss = proc.rss_bytes if proc else _num(m.total("process_resident_memory_bytes"))
    fds = proc.fds if proc and proc.fds is not None else _num(m.total("process_open_fds"))
    tasks = _num(st.get("tasks", st.get("asyncio_tasks")))
    if tasks is None:
        tasks = _num(m.total("mm_asyncio_tasks"))
    conns = _connections(st)
    if not conns and m.has("mm_ws_connected"):
        conns = {k: v >= 1 for k, v in m.by_label("mm_ws_connected", "ws_type").items()}
    orders_sent = _num(totals.get("orders_sent"))
    if orders_sent is None:
        orders_sent = m.total("mm_orders_total")
    return {
        "t": round(t, 3),
        "elapsed_s": round(elapsed_s, 3),
        "market_s": round(elapsed_s * speed, 3),
        "up": metrics is not None or status is not None,
        "state": st.get("state"),
        "rss_bytes": rss,
        "fds": fds,
        "threads": proc.threads if proc else None,
        "cpu_s": proc.cpu_s if proc else _num(m.total("process_cpu_seconds_total")),
        "tasks": tasks,
        "p50_us": p50,
        "p99_us": p99,
        "lat_buckets": [[le if math.isfinite(le) else "+Inf", c] for le, c in buckets],
        "reconnects": _reconnects(st, m, scraped=metrics is not None),
        "reconnect_attempts": _zero_if_scraped(m.total("ws_reconnect_attempts_total"), metrics is not None),
        "reconnects_exhausted": m.total("ws_reconnect_exhausted_total"),
        "connections": conns,
        "open_orders": _num(totals.get("open_orders")) if "open_orders" in totals else m.total("mm_open_orders"),
        "fills": fills,
        "maker_fills": maker_fills,
        "taker_fills": taker_fills,
        "maker_share": maker_share,
        "rebates": _num(totals.get("rebates")) if "rebates" in totals else m.total("mm_rebates_earned_quote_total"),
        "fees": _num(totals.get("fees")) if "fees" in totals else m.total("mm_fees_paid_quote_total"),
        "pnl_realized": (_num(totals.get("pnl_realized")) if "pnl_realized" in totals
                         else m.total("mm_pnl_realized_quote")),
        "pnl_unrealized": (_num(totals.get("pnl_unrealized")) if "pnl_unrealized" in totals
                           else m.total("mm_pnl_unrealized_quote")),
        "orders_sent": orders_sent,
        "post_only_rejects": (_num(totals.get("post_only_rejects")) if "post_only_rejects" in totals
                              else m.total("mm_post_only_rejects_total")),
        "quote_uptime": m.minimum("mm_quote_uptime_ratio"),
        "obligation_met": m.minimum("mm_quote_obligation_met"),
        "obligations": m.by_label("mm_quote_obligation_met", "symbol"),
        "unmet": m.by_labels("mm_quote_unmet_seconds_total", ("symbol", "reason")),
        "inventory": m.by_label("mm_position_base", "symbol"),
        "kill_switch": st.get("kill_switch"),
        "dirs": dict(dirs),
    }


class Sampler:
    """Reads one sample from a running bot (sync; the runner calls it every interval)."""

    def __init__(
        self,
        web_url: str,
        *,
        pid: int | None,
        dirs: Mapping[str, Path],
        flat_dirs: Mapping[str, Path] | None = None,
        speed: float = 1.0,
        timeout_s: float = 3.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        import httpx

        self.web_url = web_url.rstrip("/")
        self.pid = pid
        self.dirs = dict(dirs)
        self.flat_dirs = dict(flat_dirs or {})  # top-level files only (the soak's own output dir)
        self.speed = speed
        self._client = httpx.Client(timeout=timeout_s, headers=dict(headers or {}),
                                    limits=httpx.Limits(max_connections=2, max_keepalive_connections=2,
                                                        keepalive_expiry=30.0))
        self.started = time.monotonic()

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str) -> Any:
        import httpx

        try:
            r = self._client.get(self.web_url + path)
            r.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("soak_scrape_failed", path=path, error=type(exc).__name__)
            return None
        return r

    def sample(self) -> dict[str, Any]:
        metrics = status = None
        r = self._get("/metrics")
        if r is not None:
            try:
                metrics = parse_metrics(r.text)
            except ValueError as exc:
                log.warning("soak_metrics_unparsable", error=str(exc)[:200])
        r = self._get("/status")
        if r is not None:
            try:
                status = json_io.loads(r.content)
            except json_io.JSONDecodeError:
                log.warning("soak_status_unparsable")
        proc = proc_stats(self.pid) if self.pid else None
        from mmctl.ops.retention import dir_size

        sizes = {name: dir_tree_size(path) for name, path in self.dirs.items()}
        sizes.update({name: dir_size(path) for name, path in self.flat_dirs.items()})
        return build_sample(t=time.time(), elapsed_s=time.monotonic() - self.started, speed=self.speed,
                            metrics=metrics, status=status if isinstance(status, Mapping) else None,
                            proc=proc, dirs=sizes)


class SampleSink:
    """Appends samples as JSON lines (one write + flush each, so a crash loses at most one)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh = open(path, "ab")

    def write(self, record: Mapping[str, Any]) -> None:
        self._fh.write(json_io.dumps(dict(record)) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Every well-formed JSON line of a samples file (a torn last line from a crash is skipped)."""
    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    with open(path, "rb") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                doc = json_io.loads(line)
            except json_io.JSONDecodeError:
                continue
            if isinstance(doc, dict):
                out.append(doc)
    return out
