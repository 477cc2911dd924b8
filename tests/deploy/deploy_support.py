"""Helpers for the deployment checks: repository paths, YAML, the metric contract, a small PromQL reader.

A module with a unique name (not conftest.py): other test directories have their own conftest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.common import json_io

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
COMPOSE_FILES = [DEPLOY / "docker-compose.yml", DEPLOY / "docker-stack.yml"]
DASHBOARD_FILES = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RUNBOOKS = ROOT / "docs" / "runbooks.md"


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule in deploy/prometheus/rules, in file order."""
    out: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in load_yaml(path)["groups"]:
            out.extend(rule for rule in group["rules"] if "alert" in rule)
    return out


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable of every dashboard."""
    out: list[tuple[str, str]] = []

    def walk(panels: list[dict[str, Any]], name: str) -> None:
        for panel in panels:
            for target in panel.get("targets", []):
                out.append((f"{name}: {panel.get('title')}", target["expr"]))
            walk(panel.get("panels", []), name)

    for path in DASHBOARD_FILES:
        doc = json_io.loads(path.read_bytes())
        walk(doc["panels"], path.name)
        for var in doc.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
                m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query.strip())
                assert m, f"{path.name}: variable {var['name']}: only label_values(selector, label) is checked"
                out.append((f"{path.name}: ${var['name']}", f"{m.group(1)}  # label {m.group(2)}"))
    return out


def all_exprs() -> list[tuple[str, str]]:
    return [(f"rule {r['alert']}", str(r["expr"])) for r in alert_rules()] + dashboard_exprs()


# ---- the metric contract: bot/observability/metrics.py -----------------------------------------

@dataclass(frozen=True)
class MetricContract:
    samples: dict[str, frozenset[str]]  # sample name in the exposition -> label names it may carry
    families: dict[str, str]  # family name -> type (from "# TYPE")


# Labels Prometheus adds at scrape time (target labels from our scrape configs).
TARGET_LABELS = frozenset({"job", "instance", "shard", "deployment"})


def _labelnames_by_family(metrics: Any) -> dict[str, tuple[str, ...]]:
    from prometheus_client.metrics import MetricWrapperBase

    out: dict[str, tuple[str, ...]] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            out[value._name] = tuple(value._labelnames)
    return out


def build_metric_contract() -> MetricContract:
    """Sample names (and their labels) the bot's exposition can contain, plus Prometheus' `up`."""
    from bot.observability.metrics import Metrics

    metrics = Metrics()
    text = metrics.exposition().decode("utf-8")
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE))
    labels = _labelnames_by_family(metrics)
    samples: dict[str, frozenset[str]] = {}
    for family, kind in families.items():
        base = family.removesuffix("_total") if kind == "counter" else family
        own = frozenset(labels.get(base, ()))
        if kind == "counter":
            # The text format names counters <name>_total on the TYPE line already.
            samples[f"{base}_total"] = own
        elif kind == "histogram":
            samples[f"{family}_bucket"] = own | {"le"}
            samples[f"{family}_sum"] = own
            samples[f"{family}_count"] = own
        elif kind == "summary":
            samples[family] = own | {"quantile"}
            samples[f"{family}_sum"] = own
            samples[f"{family}_count"] = own
        else:
            # gauges and info metrics: take the labels the exposition shows (python_info has some).
            shown = set(own)
            for m in re.finditer(rf"^{re.escape(family)}\{{([^}}]*)\}}", text, flags=re.MULTILINE):
                shown.update(re.findall(r'(\w+)="', m.group(1)))
            samples[family] = frozenset(shown)
    samples["up"] = frozenset()
    return MetricContract(samples=samples, families=families)


# ---- a small PromQL reader: enough to find metric names and the label names next to them --------

_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
    "unless", "inf", "nan", "atan2",
})
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


@dataclass(frozen=True)
class PromqlRefs:
    metrics: frozenset[str]
    selector_labels: dict[str, frozenset[str]]  # metric -> label names matched in its {...}
    grouping_labels: frozenset[str]  # label names in by/without/on/ignoring/group_* lists


def promql_refs(expr: str) -> PromqlRefs:
    """The metric names and label names an expression uses (Grafana $variables allowed)."""
    text = re.sub(r"\$\{?\w+(?::\w+)?\}?", "0", _STRING.sub('""', expr))
    grouping: set[str] = set()
    for m in _LABEL_LISTS.finditer(text):
        grouping.update(x.strip() for x in m.group(2).split(",") if x.strip())
    selector_labels: dict[str, set[str]] = {}
    for m in _SELECTOR.finditer(text):
        if m.group(1) and m.group(1) not in _KEYWORDS:
            selector_labels.setdefault(m.group(1), set()).update(_MATCHER.findall(m.group(2)))
    bare = _LABEL_LISTS.sub(" ", text)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?([smhdwy]|ms)?\b", " ", bare)
    names = {
        m.group(1)
        for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", bare)
        if m.group(2) is None and m.group(1).lower() not in _KEYWORDS
    }
    return PromqlRefs(
        metrics=frozenset(names | set(selector_labels)),
        selector_labels={k: frozenset(v) for k, v in selector_labels.items()},
        grouping_labels=frozenset(grouping),
    )
