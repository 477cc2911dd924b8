"""Rules and dashboard read only metrics the bot exports (bot/observability/metrics.py), with real labels."""

from __future__ import annotations

import re

import pytest
from deploy_support import TARGET_LABELS, MetricContract, all_exprs, promql_refs


def _check(where: str, expr: str, contract: MetricContract) -> list[str]:
    label_var = re.search(r"# label (\w+)$", expr)
    expr = expr.split("  # label ")[0]
    refs = promql_refs(expr)
    problems = [f"{where}: unknown metric {name}" for name in sorted(refs.metrics - set(contract.samples))]
    known = {n: contract.samples[n] for n in refs.metrics if n in contract.samples}
    for name, labels in refs.selector_labels.items():
        if name in known:
            bad = labels - known[name] - TARGET_LABELS
            problems += [f"{where}: {name} has no label {label}" for label in sorted(bad)]
    available = set().union(*known.values()) if known else set()
    extra = {label_var.group(1)} if label_var else set()
    for label in sorted((refs.grouping_labels | extra) - available - TARGET_LABELS):
        problems.append(f"{where}: no metric in the expression carries label {label}")
    return problems


def test_every_metric_and_label_in_rules_and_dashboard_is_exported(metric_contract: MetricContract) -> None:
    problems = [p for where, expr in all_exprs() for p in _check(where, expr, metric_contract)]
    assert not problems, "\n".join(problems)


def test_rules_and_dashboard_use_a_broad_part_of_the_contract(metric_contract: MetricContract) -> None:
    used = set().union(*(promql_refs(e.split("  # label ")[0]).metrics for _, e in all_exprs()))
    assert len(used) >= 30, sorted(used)


@pytest.mark.parametrize(
    ("expr", "metrics", "labels"),
    [
        ('sum by (job, symbol) (rate(mm_fills_total{liquidity="taker"}[5m])) > 0 or up offset 5m',
         {"mm_fills_total", "up"}, {"job", "symbol"}),
        ('mm_drawdown_quote / ignoring(limit) (mm_risk_limit_quote{limit="max_drawdown"} > 0) > 0.8',
         {"mm_drawdown_quote", "mm_risk_limit_quote"}, {"limit"}),
        ('histogram_quantile(0.99, sum by (le) (rate(mm_tick_to_order_seconds_bucket{symbol=~"$symbol"}'
         '[$__rate_interval]))) > 1e-3', {"mm_tick_to_order_seconds_bucket"}, {"le"}),
    ],
)
def test_promql_reader_finds_metrics_and_labels(expr: str, metrics: set[str], labels: set[str]) -> None:
    refs = promql_refs(expr)
    assert refs.metrics == metrics
    assert refs.grouping_labels == labels


def test_check_catches_an_unknown_metric_and_a_wrong_label(metric_contract: MetricContract) -> None:
    problems = _check("planted", 'rate(mm_order_total[5m]) + mm_book_age_seconds{endpoint="x"}', metric_contract)
    assert any("unknown metric mm_order_total" in p for p in problems)
    assert any("mm_book_age_seconds has no label endpoint" in p for p in problems)
    assert _check("planted", "sum by (ws_type) (mm_open_orders)", metric_contract)
