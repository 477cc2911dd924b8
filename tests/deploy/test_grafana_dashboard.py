"""The Grafana dashboard parses, covers what the desk watches, and is provisioned where compose mounts it."""

from __future__ import annotations

from typing import Any

from deploy_support import DASHBOARD_FILES, DEPLOY, load_yaml, promql_refs

from bot.common import json_io

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "mm-bot.json"

# What the issue asks the dashboard to show -> metrics that show it (at least one must be charted).
TOPICS = {
    "quotes": {"mm_quote_cycles_total", "mm_open_orders", "mm_quote_obligation_met"},
    "inventory": {"mm_position_base", "mm_position_notional_quote"},
    "pnl": {"mm_pnl_realized_quote", "mm_pnl_unrealized_quote", "mm_daily_pnl_quote"},
    "rebates": {"mm_rebates_earned_quote_total"},
    "maker share": {"mm_maker_share_ratio"},
    "latency": {"mm_tick_to_order_seconds_bucket"},
    "reconnects": {"ws_reconnect_attempts_total"},
    "rate-limit headroom": {"mm_rate_limit_remaining_ratio"},
}


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in doc["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def test_dashboards_exist_and_parse() -> None:
    assert DASHBOARD in DASHBOARD_FILES
    for path in DASHBOARD_FILES:
        doc = json_io.loads(path.read_bytes())
        assert doc["uid"] and doc["title"] and doc["panels"]


def test_panels_have_unique_ids_fit_the_grid_and_query_the_datasource_variable() -> None:
    doc = json_io.loads(DASHBOARD.read_bytes())
    ids = [p["id"] for p in panels(doc)]
    assert len(ids) == len(set(ids))
    for p in panels(doc):
        pos = p["gridPos"]
        assert 0 <= pos["x"] and pos["x"] + pos["w"] <= 24, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]


def test_template_variables_used_by_panels_are_defined() -> None:
    doc = json_io.loads(DASHBOARD.read_bytes())
    defined = {v["name"] for v in doc["templating"]["list"]}
    text = DASHBOARD.read_text(encoding="utf-8")
    for var in ("instance", "symbol", "datasource"):
        assert var in defined
        assert f"${var}" in text or f"${{{var}}}" in text


def test_dashboard_covers_every_topic_the_desk_watches() -> None:
    doc = json_io.loads(DASHBOARD.read_bytes())
    charted = set().union(*(promql_refs(t["expr"]).metrics for p in panels(doc) for t in p.get("targets", [])))
    missing = [topic for topic, metrics in TOPICS.items() if not metrics & charted]
    assert not missing, f"no panel for: {missing}"


def test_provisioning_points_at_the_compose_mounts() -> None:
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    volumes = compose["services"]["grafana"]["volumes"]
    targets = {v.split(":")[1] for v in volumes}
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "mm-bot.yml")
    assert provider["providers"][0]["options"]["path"] in targets
    datasource = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    doc = json_io.loads(DASHBOARD.read_bytes())
    [var] = [v for v in doc["templating"]["list"] if v["name"] == "datasource"]
    assert var["current"]["value"] == datasource["uid"]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
