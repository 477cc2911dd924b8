"""A running bot (`mmctl run` against the embedded emulator) exports what the rules and dashboard read.

One `mmctl run` subprocess for the module, on loopback with a free port, as the container runs it
(ENTRYPOINT `mmctl run`): its /metrics is checked against every metric name in the rules and the
dashboard, label values are checked to be bounded, the container's health probe and admin client
are run against it, and SIGTERM must stop it cleanly within the 30 s grace period.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from deploy_support import DEPLOY, ROOT, all_exprs, promql_refs
from prometheus_client.parser import text_string_to_metric_families

from bot.common import json_io
from bot.config.risk import RiskConfig
from bot.observability.metrics import KNOWN_RET_CODES, WS_TYPES

pytestmark = pytest.mark.slow

TIMEOUT_FACTOR = float(os.environ.get("TIMEOUT_FACTOR", "1"))
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ADMIN_TOKEN = "deploy-live-admin-token-0123456789"


@dataclass
class LiveBot:
    proc: subprocess.Popen[bytes]
    url: str
    state_dir: Path
    log_path: Path

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def metrics_text(self) -> str:
        r = httpx.get(f"{self.url}/metrics", timeout=5.0)
        r.raise_for_status()
        return r.text


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(text) for s in fam.samples]


def _wait(pred: object, timeout_s: float, what: str, bot: LiveBot) -> None:
    deadline = time.monotonic() + timeout_s * TIMEOUT_FACTOR
    while time.monotonic() < deadline:
        if bot.proc.poll() is not None:
            raise AssertionError(f"bot exited early ({bot.proc.returncode}) waiting for {what}:\n{bot.log_tail()}")
        try:
            if pred():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{bot.log_tail()}")


@pytest.fixture(scope="module")
def live_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBot]:
    work = tmp_path_factory.mktemp("live-bot")
    state_dir, log_path = work / "state", work / "bot.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    env.update({"MM_ADMIN_TOKEN": ADMIN_TOKEN, "MM_SYMBOLS": json_io.dumps_str(list(SYMBOLS))})
    argv = [sys.executable, "-m", "mmctl", "--log-format", "json", "run", "--venue", "sim", "--duration", "300",
            "--state-dir", str(state_dir), "--web-port", "0", "--view", "logs"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    bot = LiveBot(proc, "", state_dir, log_path)
    try:
        run_json = state_dir / "run.json"
        _wait(lambda: run_json.exists() and json_io.load_file(run_json).get("web_url"), 60, "run.json", bot)
        bot.url = json_io.load_file(run_json)["web_url"]
        _wait(lambda: httpx.get(f"{bot.url}/readyz", timeout=2.0).status_code == 200, 60, "/readyz 200", bot)
        # Quotes have gone out and the housekeeping loop has published the gauges.
        _wait(lambda: any(n == "mm_tick_to_order_seconds_count" and v > 0 for n, _, v in _samples(bot.metrics_text())),
              60, "a first tick-to-order observation", bot)
        yield bot
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _exposed_sample_names(text: str) -> set[str]:
    names: set[str] = set()
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        if kind == "counter":
            names.add(family if family.endswith("_total") else f"{family}_total")
        elif kind in ("histogram", "summary"):
            names.update({f"{family}_bucket", f"{family}_sum", f"{family}_count", family})
        else:
            names.add(family)
    return names


def test_live_metrics_expose_every_metric_the_rules_and_dashboard_read(live_bot: LiveBot) -> None:
    exposed = _exposed_sample_names(live_bot.metrics_text()) | {"up"}
    missing = sorted({f"{name} ({where})" for where, expr in all_exprs()
                      for name in promql_refs(expr.split("  # label ")[0]).metrics if name not in exposed})
    assert not missing, "not in the running bot's /metrics:\n" + "\n".join(missing)


# Series the alerts read as "current state": without a sample, the alert is blind.
REQUIRED_SAMPLES = {
    "bot_uptime_seconds", "mm_quoting_active", "mm_kill_switch_engaged", "mm_ws_connected", "mm_book_age_seconds",
    "mm_quote_obligation_met", "mm_position_notional_quote", "mm_position_limit_quote", "mm_risk_limit_quote",
    "mm_drawdown_quote", "mm_daily_pnl_quote", "mm_rate_limit_remaining_ratio", "mm_rest_request_seconds_count",
    "mm_tick_to_order_seconds_bucket", "process_resident_memory_bytes", "process_start_time_seconds",
}


def test_live_gauges_the_alerts_watch_have_samples(live_bot: LiveBot) -> None:
    samples = _samples(live_bot.metrics_text())
    present = {n for n, _, _ in samples}
    assert not REQUIRED_SAMPLES - present, sorted(REQUIRED_SAMPLES - present)
    limits = {labels["limit"] for n, labels, _ in samples if n == "mm_risk_limit_quote"}
    assert {"max_drawdown", "daily_loss_limit"} <= limits, limits  # MMDrawdownNearLimit, MMDailyLossNearLimit
    streams = {labels["ws_type"] for n, labels, _ in samples if n == "mm_ws_connected"}
    assert {"public", "private"} <= streams, streams
    for name in ("mm_book_age_seconds", "mm_quote_obligation_met", "mm_position_limit_quote"):
        assert {labels["symbol"] for n, labels, _ in samples if n == name} == set(SYMBOLS), name


def test_live_quote_uptime_ratio_is_exported(live_bot: LiveBot) -> None:
    assert any(n == "mm_quote_uptime_ratio" for n, _, _ in _samples(live_bot.metrics_text()))


_BOUNDED = {
    "symbol": set(SYMBOLS),
    "ws_type": set(WS_TYPES),
    "ret_code": {str(c) for c in KNOWN_RET_CODES} | {"none", "other"},
    "liquidity": {"maker", "taker"},
    "side": {"buy", "sell"},
    "action": {"create", "amend", "cancel"},
    "limit": set(RiskConfig.model_fields),
}
_SAFE_VALUE = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")  # fixed vocabularies: endpoint, outcome, result, kind, dir, ...


def test_live_label_values_are_bounded(live_bot: LiveBot) -> None:
    problems: list[str] = []
    series_per_family: dict[str, int] = {}
    for name, labels, _ in _samples(live_bot.metrics_text()):
        if name.startswith(("process_", "python_")):
            continue
        series_per_family[name] = series_per_family.get(name, 0) + 1
        for label, value in labels.items():
            if label == "le":
                continue
            allowed = _BOUNDED.get(label)
            ok = value in allowed if allowed is not None else bool(_SAFE_VALUE.match(value))
            if not ok:
                problems.append(f"{name}{{{label}={value!r}}}")
    assert not problems, f"label values outside their fixed sets: {sorted(set(problems))}"
    too_many = {n: c for n, c in series_per_family.items() if c > 300}
    assert not too_many, too_many


def test_container_healthcheck_passes_against_the_live_bot(live_bot: LiveBot) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MM_")}
    env["MM_HEALTHCHECK_URL"] = f"{live_bot.url}/healthz"
    res = subprocess.run([sys.executable, str(DEPLOY / "healthcheck.py")], env=env, capture_output=True,
                         text=True, timeout=30, check=False)
    assert res.returncode == 0, res.stderr


def test_runbook_admin_client_pauses_and_resumes_the_live_bot(live_bot: LiveBot, tmp_path: Path) -> None:
    token = tmp_path / "mm_admin_token"
    token.write_text(ADMIN_TOKEN + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    env.update({"MM_ADMIN_TOKEN_FILE": str(token), "MM_ADMIN_URL": live_bot.url})

    def admin(action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(DEPLOY / "admin_client.py"), action, "--reason", "deploy-test"],
                              env=env, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)

    def quoting() -> float:
        return next(v for n, _, v in _samples(live_bot.metrics_text()) if n == "mm_quoting_active")

    res = admin("pause")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json_io.loads(res.stdout)["state"] == "paused"
    _wait(lambda: quoting() == 0, 10, "mm_quoting_active 0 after pause", live_bot)
    res = admin("resume")
    assert res.returncode == 0, res.stdout + res.stderr
    _wait(lambda: quoting() == 1, 10, "mm_quoting_active 1 after resume", live_bot)


def test_sigterm_stops_the_live_bot_cleanly_within_the_grace_period(live_bot: LiveBot) -> None:
    """Runs last: the container's stop (STOPSIGNAL SIGTERM, stop_grace_period 30s) must end in exit 0."""
    t0 = time.monotonic()
    live_bot.proc.send_signal(signal.SIGTERM)
    rc = live_bot.proc.wait(timeout=30 * TIMEOUT_FACTOR)
    assert rc == 0, f"exit {rc} after SIGTERM:\n{live_bot.log_tail()}"
    assert time.monotonic() - t0 < 30
    assert "shutdown_finished" in live_bot.log_tail()
