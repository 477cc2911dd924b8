"""Validator source checks: JSON writers, Prometheus naming and bounded labels, test collection."""

from __future__ import annotations

import sys
from pathlib import Path

from mmctl.ops import checks
from mmctl.ops.checks import MetricRules, json_writers, load_metric_rules, metrics_labels

REPO = Path(__file__).resolve().parents[3]


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_json_writers_flags_stdlib_json_outside_json_io(tmp_path: Path) -> None:
    _write(tmp_path, "bot/common/json_io.py", "import json\n")
    _write(tmp_path, "bot/a.py", "import json\nx = json.dumps({})\n")
    _write(tmp_path, "mmctl/b.py", "from json import loads\n")
    _write(tmp_path, "ci/c.py", "import simplejson as sj\n")
    _write(tmp_path, "bot/ok.py", "from bot.common import json_io\njson_io.dumps({})\n")
    _write(tmp_path, ".venv/lib/x.py", "import json\n")
    result = json_writers(tmp_path, ["bot", "mmctl", "ci"], ["bot/common/json_io.py"])
    assert sorted(f.split(":")[0] + ":" + f.split(":")[1] for f in result.findings) == [
        "bot/a.py:1", "bot/a.py:2", "ci/c.py:1", "mmctl/b.py:1"]


RULES = MetricRules(frozenset({"symbol", "ws_type", "endpoint"}), frozenset({"order_id"}),
                    ("_seconds", "_bytes", "_ratio"))


def test_metric_naming_and_label_rules(tmp_path: Path) -> None:
    _write(tmp_path, "bot/m.py", """
from collections import Counter as Tally
from prometheus_client import Counter, Gauge, Histogram
import prometheus_client as pc
Tally("not a metric")
ok1 = Counter("ws_reconnect_attempts", "doc", ["ws_type"])
ok2 = Counter("orders_total", "doc", labelnames=("symbol",))
ok3 = Histogram("rest_request_seconds", "doc", ["endpoint"])
bad1 = Gauge("queue_total", "doc")
bad2 = Histogram("rest_latency", "doc")
bad3 = Gauge("LatencyMs", "doc")
bad4 = Gauge("book_age_ms", "doc", ["symbol"])
bad5 = Counter("fills", "doc", ["order_id"])
bad6 = Counter("fills2", "doc", ["customer"])
bad7 = pc.Gauge(NAME, "doc")
bad8 = Gauge("x_depth", "doc", labels)
bad9 = Histogram("lat_seconds", "doc", ["le"])
""")
    result = metrics_labels(tmp_path, ["bot"], RULES)
    text = "\n".join(result.findings)
    for needle in ("queue_total: only counters end in _total", "rest_latency: histogram needs a unit suffix",
                   "LatencyMs: not snake_case", "book_age_ms: 'ms' is not a base unit",
                   "label 'order_id' has unbounded values", "label 'customer' is not in the bounded-label allowlist",
                   "name is not a string literal", "labelnames are not a literal list", "label 'le' is reserved"):
        assert needle in text, needle
    assert "ws_reconnect_attempts" not in text and "orders_total" not in text and "rest_request_seconds" not in text
    assert len(result.findings) == 9


def test_the_repository_label_allowlist_loads() -> None:
    rules = load_metric_rules(REPO / "ci" / "metrics_labels.toml")
    assert "symbol" in rules.allowed_labels and "order_link_id" in rules.forbidden_labels


def test_tests_collected_lists_files_pytest_does_not_collect(tmp_path: Path) -> None:
    _write(tmp_path, "tests/unit/test_a.py", "def test_one():\n    pass\n")
    _write(tmp_path, "tests/unit/test_empty.py", "def helper():\n    pass\n")
    _write(tmp_path, "tests/other/test_c.py", "def test_c():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/unit"]
    result = checks.tests_collected(tmp_path, argv, "tests/**/test_*.py", timeout_s=60)
    assert not result.errors, result.errors
    assert sorted(f.split(":")[0] for f in result.findings) == ["tests/other/test_c.py", "tests/unit/test_empty.py"]


def test_tests_collected_reports_collection_errors_as_errors(tmp_path: Path) -> None:
    _write(tmp_path, "tests/test_broken.py", "import does_not_exist_anywhere\n")
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"]
    result = checks.tests_collected(tmp_path, argv, "tests/**/test_*.py", timeout_s=60)
    assert result.errors and "exited" in result.errors[0]


def test_tests_collected_understands_the_very_quiet_format(tmp_path: Path) -> None:
    _write(tmp_path, "tests/test_a.py", "def test_one():\n    pass\n")
    _write(tmp_path, "tests/test_b.py", "def test_two():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "--collect-only", "-qq", "-p", "no:cacheprovider", "tests/test_a.py"]
    result = checks.tests_collected(tmp_path, argv, "tests/**/test_*.py", timeout_s=60)
    assert [f.split(":")[0] for f in result.findings] == ["tests/test_b.py"]
