"""The soak KPI gate: samples + run summary + thresholds -> a PASS/FAIL table; pure."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from mmctl.ops.soak.sampler import bucket_delta, histogram_quantile

__all__ = [
    "Check",
    "Thresholds",
    "Verdict",
    "dir_bounds_from_config",
    "evaluate",
    "linear_slope",
    "load_thresholds",
]

Status = Literal["PASS", "FAIL", "NO DATA"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Gate limits; defaults are the 72 h production gate, `ci/soak_thresholds.toml` may override."""

    warmup_s: float = 600.0
    warmup_fraction_max: float = 0.25  # short runs: warm-up is at most this share of the run
    min_samples_after_warmup: int = 10
    max_rss_slope_mb_per_h: float = 2.0
    max_fd_growth: int = 5
    max_task_growth: int = 20
    max_thread_growth: int = 2
    max_tick_to_order_p99_ms: float = 5.0
    max_post_only_reject_rate: float = 0.05
    min_maker_share: float = 0.95
    min_quote_uptime: float = 0.90
    max_orphan_orders: int = 0
    recover_timeout_s: float = 90.0
    max_scrape_failures: int = 3
    dir_slack: float = 1.10  # a rotation in flight may briefly hold one extra file
    dir_bounds_bytes: Mapping[str, int] = field(default_factory=dict)
    optional: tuple[str, ...] = ("task_growth",)  # NO DATA on these does not fail the gate

    def with_overrides(self, values: Mapping[str, Any]) -> Thresholds:
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown gate threshold {key!r}")
            current = getattr(self, key)
            if isinstance(current, tuple):
                clean[key] = tuple(value)
            elif isinstance(current, Mapping):
                clean[key] = {**current, **{str(k): int(v) for k, v in dict(value).items()}}
            elif isinstance(current, bool):
                clean[key] = bool(value)
            else:
                clean[key] = type(current)(value)
        return replace(self, **clean)


def load_thresholds(path: Path | None, *, profile: str | None = None,
                    overrides: Mapping[str, Any] | None = None) -> Thresholds:
    """Defaults < [gate] of the TOML file < [profile.NAME] < explicit overrides.

    Raises:
        ValueError: unknown key or profile.
    """
    th = Thresholds()
    if path is not None and path.exists():
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        th = th.with_overrides(doc.get("gate", {}))
        if profile:
            profiles = doc.get("profile", {})
            if profile not in profiles:
                raise ValueError(f"no [profile.{profile}] in {path}")
            th = th.with_overrides(profiles[profile])
    elif profile:
        raise ValueError(f"profile {profile!r} needs a thresholds file")
    return th.with_overrides(overrides or {})


def dir_bounds_from_config(monitoring: Any) -> dict[str, int]:
    """Size bounds the bot's own retention promises: rotated logs and the recorder's budget."""
    return {
        "logs": int(monitoring.log_max_bytes) * (int(monitoring.log_backups) + 1),
        "recordings": int(monitoring.recorder_max_bytes),
    }


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    measured: str
    threshold: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    checks: tuple[Check, ...]
    warmup_s: float
    samples: int

    @property
    def label(self) -> str:
        return "PASS" if self.passed else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.label, "passed": self.passed, "warmup_s": self.warmup_s, "samples": self.samples,
                "checks": [asdict(c) for c in self.checks]}


def linear_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares slope dy/dx; None with fewer than 2 distinct x."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def _series(samples: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float]]:
    out = []
    for s in samples:
        v = s.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append((float(s["elapsed_s"]), float(v)))
    return out


def _last(samples: Sequence[Mapping[str, Any]], key: str) -> float | None:
    ser = _series(samples, key)
    return ser[-1][1] if ser else None


def _delta(samples: Sequence[Mapping[str, Any]], key: str) -> float | None:
    ser = _series(samples, key)
    if not ser:
        return None
    return ser[-1][1] - ser[0][1] if ser[-1][1] >= ser[0][1] else ser[-1][1]  # reset: count since restart


def _growth(samples: Sequence[Mapping[str, Any]], key: str) -> float | None:
    """Growth after warm-up: the median of the last 3 minus the median of the first 3 (noise-robust)."""
    ser = [v for _, v in _series(samples, key)]
    if len(ser) < 2:
        return None
    k = min(3, len(ser) // 2) or 1
    head, tail = sorted(ser[:k]), sorted(ser[-k:])
    return tail[len(tail) // 2] - head[len(head) // 2]


def _fmt(v: float | None, spec: str = ".3g", unit: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{unit}"


def _check(name: str, value: float | None, ok: bool, measured: str, threshold: str, detail: str = "") -> Check:
    if value is None:
        return Check(name, "NO DATA", "-", threshold, detail or "no samples carried this value")
    return Check(name, "PASS" if ok else "FAIL", measured, threshold, detail)


def _used_streams(samples: Sequence[Mapping[str, Any]]) -> set[str]:
    """Streams the bot connected at some point (an unused stream, e.g. trade WS with REST orders, is ignored)."""
    return {name for s in samples for name, up in (s.get("connections") or {}).items() if up}


def _all_up(sample: Mapping[str, Any], streams: set[str]) -> bool:
    conns = sample.get("connections") or {}
    return bool(sample.get("up")) and all(conns.get(name, False) for name in streams)


def _recoveries(samples: Sequence[Mapping[str, Any]], faults: Sequence[Mapping[str, Any]],
                timeout_s: float) -> tuple[int, int, list[str]]:
    """(recovered, injected, misses): a fault is recovered when a later sample within the timeout is up,
    connected on every stream the bot uses, and (for WS drops) shows the reconnect count moved."""
    streams = _used_streams(samples)
    recovered, misses = 0, []
    injected = [f for f in faults if f.get("ok", True)]
    for f in injected:
        at = float(f["elapsed_s"])
        before = [s for s in samples if float(s["elapsed_s"]) <= at]
        base_reconnects = (before[-1].get("reconnects") or 0) if before else 0
        ok = False
        for s in samples:
            t = float(s["elapsed_s"])
            if t <= at or t > at + timeout_s:
                continue
            if not _all_up(s, streams):
                continue
            if f.get("kind") == "drop_ws" and (s.get("reconnects") or 0) <= base_reconnects:
                continue
            ok = True
            break
        if ok:
            recovered += 1
        else:
            misses.append(f"{f.get('kind')}@{at:.0f}s")
    return recovered, len(injected), misses


def _unmet_detail(up: Sequence[Mapping[str, Any]]) -> str:
    """The largest causes of lost uptime (symbol:reason seconds) from the last sample that has them."""
    unmet = next((s["unmet"] for s in reversed(up) if s.get("unmet")), None)
    if not unmet:
        return ""
    top = sorted(unmet.items(), key=lambda kv: -kv[1])[:4]
    return "; lost to " + ", ".join(f"{k} {v:.0f}s" for k, v in top)


def _quote_uptime(up: Sequence[Mapping[str, Any]], steady: Sequence[Mapping[str, Any]]) -> tuple[float | None, str]:
    """The bot's own uptime ratio if it exports one, else the share of steady samples in which each
    symbol met its obligations (mm_quote_obligation_met), worst symbol."""
    own = _last(up, "quote_uptime")
    if own is not None:
        return own, "mm_quote_uptime_ratio, lowest symbol" + _unmet_detail(up)
    met: dict[str, list[float]] = {}
    for s in steady:
        for sym, v in (s.get("obligations") or {}).items():
            met.setdefault(sym, []).append(1.0 if float(v) >= 1 else 0.0)
    if not met:
        return None, "no obligation series"
    shares = {sym: sum(v) / len(v) for sym, v in met.items()}
    worst = min(shares, key=lambda k: shares[k])
    return shares[worst], ("share of samples meeting obligations: "
                           + ", ".join(f"{k} {v:.3f}" for k, v in sorted(shares.items())))


def evaluate(samples: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], th: Thresholds) -> Verdict:
    """Run every check. `summary` carries what only the end of the run knows:
    duration_s, faults ([{elapsed_s, kind, ok}]), orphan_orders (after the final shutdown), exit_ok."""
    samples = sorted(samples, key=lambda s: float(s.get("elapsed_s", 0.0)))
    duration = float(summary.get("duration_s") or (samples[-1]["elapsed_s"] if samples else 0.0))
    warmup = min(th.warmup_s, th.warmup_fraction_max * duration)
    up = [s for s in samples if s.get("up")]
    steady = [s for s in up if float(s["elapsed_s"]) >= warmup]
    checks: list[Check] = []
    enough = len(steady) >= th.min_samples_after_warmup

    rss = _series(steady, "rss_bytes")
    slope = linear_slope([t / 3600 for t, _ in rss], [v / 2**20 for _, v in rss]) if enough else None
    checks.append(_check("rss_slope", slope, slope is not None and slope <= th.max_rss_slope_mb_per_h,
                         _fmt(slope, ".2f", " MB/h"), f"<= {th.max_rss_slope_mb_per_h} MB/h",
                         f"least squares over {len(rss)} samples after {warmup:.0f}s warm-up"
                         if enough else f"{len(steady)} samples after warm-up < {th.min_samples_after_warmup}"))
    for name, key, limit in (("fd_growth", "fds", th.max_fd_growth), ("task_growth", "tasks", th.max_task_growth),
                             ("thread_growth", "threads", th.max_thread_growth)):
        g = _growth(steady, key) if enough else None
        checks.append(_check(name, g, g is not None and g <= limit, _fmt(g, ".0f"), f"<= {limit}"))

    p99_ms = None
    if steady:
        first = next((s for s in up if float(s["elapsed_s"]) >= warmup), None)
        before = [s for s in up if float(s["elapsed_s"]) < warmup]
        last_b = steady[-1].get("lat_buckets") or []
        base_b = (before[-1].get("lat_buckets") or []) if before else []
        delta = bucket_delta(last_b, base_b) if last_b else []
        q = histogram_quantile(0.99, delta) if delta else None
        if q is not None:
            p99_ms = q * 1e3
        elif first is not None:
            p99s = [v for _, v in _series(steady, "p99_us")]
            p99_ms = max(p99s) / 1e3 if p99s else None
    checks.append(_check("tick_to_order_p99", p99_ms, p99_ms is not None and p99_ms <= th.max_tick_to_order_p99_ms,
                         _fmt(p99_ms, ".3f", " ms"), f"<= {th.max_tick_to_order_p99_ms} ms",
                         "histogram after warm-up"))

    sent, rejects = _delta(up, "orders_sent"), _delta(up, "post_only_rejects")
    rate = (rejects / sent if sent else 0.0) if sent is not None and rejects is not None else None
    checks.append(_check("post_only_reject_rate", rate, rate is not None and rate <= th.max_post_only_reject_rate,
                         _fmt(rate, ".4f"), f"<= {th.max_post_only_reject_rate}",
                         f"{_fmt(rejects, '.0f')} rejects / {_fmt(sent, '.0f')} orders"))

    share = _last(up, "maker_share")
    fills = _last(up, "fills")
    checks.append(_check("maker_share", share, share is not None and share >= th.min_maker_share,
                         _fmt(share, ".4f"), f">= {th.min_maker_share}", f"{_fmt(fills, '.0f')} fills"))
    uptime, how = _quote_uptime(up, steady)
    checks.append(_check("quote_uptime", uptime, uptime is not None and uptime >= th.min_quote_uptime,
                         _fmt(uptime, ".4f"), f">= {th.min_quote_uptime}", how))

    orphans = summary.get("orphan_orders")
    orphan_v = float(orphans) if isinstance(orphans, (int, float)) else None
    checks.append(_check("orphan_orders_after_shutdown", orphan_v,
                         orphan_v is not None and orphan_v <= th.max_orphan_orders,
                         _fmt(orphan_v, ".0f"), f"<= {th.max_orphan_orders}", str(summary.get("orphan_detail", ""))))

    recovered, injected, misses = _recoveries(up, summary.get("faults") or [], th.recover_timeout_s)
    exhausted = _last(up, "reconnects_exhausted") or 0.0
    all_up_at_end = bool(up) and _all_up(up[-1], _used_streams(up))
    ok = recovered == injected and exhausted == 0 and all_up_at_end
    detail = (f"{injected} faults, reconnects {_fmt(_delta(up, 'reconnects'), '.0f')}, exhausted {exhausted:.0f}"
              + (f", missed: {', '.join(misses[:5])}" if misses else "")
              + ("" if all_up_at_end else ", not all streams up at the end"))
    checks.append(_check("disconnects_recovered", float(recovered) if up else None, ok,
                         f"{recovered}/{injected}", f"all, within {th.recover_timeout_s:.0f}s", detail))

    failures = len(samples) - len(up)
    exit_ok = bool(summary.get("exit_ok", True))
    checks.append(Check("bot_alive", "PASS" if failures <= th.max_scrape_failures and samples and exit_ok else "FAIL",
                        f"{failures} failed scrapes", f"<= {th.max_scrape_failures}, clean exit",
                        f"{len(samples)} samples" + ("" if exit_ok else ", bot died or did not stop cleanly")))

    sizes: dict[str, list[float]] = {}
    for s in up:
        for name, size in (s.get("dirs") or {}).items():
            sizes.setdefault(name, []).append(float(size))
    for name, series in sorted(sizes.items()):
        bound = th.dir_bounds_bytes.get(name)
        peak = max(series)
        if bound is None:
            checks.append(Check(f"dir_bounded:{name}", "PASS", f"{peak / 2**20:.1f} MB", "no bound",
                                "reported only"))
            continue
        cap = bound * th.dir_slack
        checks.append(_check(f"dir_bounded:{name}", peak, peak <= cap, f"{peak / 2**20:.1f} MB peak",
                             f"<= {cap / 2**20:.1f} MB"))

    passed = all(c.status == "PASS" or (c.status == "NO DATA" and c.name in th.optional) for c in checks)
    return Verdict(passed, tuple(checks), warmup, len(samples))
