"""OBS-001: the alert rules pass promtool, carry what an on-call needs, and are unit-tested both ways."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from deploy_support import PROM, RULE_FILES, RULE_TEST_FILES, RUNBOOKS, alert_rules, load_yaml

SEVERITIES = {"critical", "warning"}
# absent() has no meaningful value to quote (it is always 1).
NO_VALUE_IN_DESCRIPTION = {"MMBotMetricsAbsent"}


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    text = RUNBOOKS.read_text(encoding="utf-8")
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)}


def test_rule_files_exist() -> None:
    assert RULE_FILES, "no rule files under deploy/prometheus/rules"
    assert RULE_TEST_FILES, "no promtool unit tests under deploy/prometheus/tests"
    assert len(alert_rules()) >= 16


def test_promtool_check_rules_passes(promtool: str) -> None:
    res = _run([promtool, "check", "rules", *map(str, RULE_FILES)], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", res.stdout))
    assert found == len(alert_rules()), res.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-swarm.yml"])
def test_promtool_check_config_passes(promtool: str, config: str) -> None:
    res = _run([promtool, "check", "config", config], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_rule_unit_tests_pass(promtool: str) -> None:
    res = _run([promtool, "test", "rules", *[str(p.relative_to(PROM)) for p in RULE_TEST_FILES]], cwd=PROM)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(RULE_TEST_FILES), res.stdout


def test_promtool_unit_tests_catch_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    """Guard against a silently passing runner: a planted wrong annotation must fail."""
    src = (PROM / "tests" / "risk.test.yml").read_text(encoding="utf-8")
    planted = src.replace("Kill switch engaged on bot:8080", "Kill switch engaged on nowhere")
    assert planted != src
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULE_FILES:
        (rules / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "planted.test.yml").write_text(planted, encoding="utf-8")
    res = _run([promtool, "test", "rules", "tests/planted.test.yml"], cwd=tmp_path)
    assert res.returncode != 0 and "nowhere" in res.stdout + res.stderr


def test_rule_unit_tests_load_every_rule_file() -> None:
    for path in RULE_TEST_FILES:
        loaded = {(path.parent / f).resolve() for f in load_yaml(path)["rule_files"]}
        assert loaded == {p.resolve() for p in RULE_FILES}, path.name


def test_alert_names_are_unique() -> None:
    names = [r["alert"] for r in alert_rules()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_alert_has_severity_summary_description_and_runbook(rule: dict[str, object]) -> None:
    labels = rule.get("labels") or {}
    annotations = rule.get("annotations") or {}
    assert isinstance(labels, dict) and isinstance(annotations, dict)
    assert labels.get("severity") in SEVERITIES
    for key in ("summary", "description", "runbook_url"):
        assert str(annotations.get(key, "")).strip(), f"{rule['alert']}: missing {key}"
    if rule["alert"] not in NO_VALUE_IN_DESCRIPTION:
        assert "$value" in str(annotations["description"]), f"{rule['alert']}: description must quote the value"


def test_every_runbook_url_points_at_an_existing_runbook_section() -> None:
    anchors = runbook_anchors()
    missing = []
    for rule in alert_rules():
        url = str(rule["annotations"]["runbook_url"])
        path, _, fragment = url.partition("#")
        assert path.endswith("docs/runbooks.md"), url
        assert fragment == github_anchor(rule["alert"]), f"{rule['alert']}: anchor {fragment!r} is not its name"
        if fragment not in anchors:
            missing.append(f"{rule['alert']} -> #{fragment}")
    assert not missing, f"runbook sections missing in docs/runbooks.md: {missing}"


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: dict[str, int] = defaultdict(int)
    quiet: dict[str, int] = defaultdict(int)
    for path in RULE_TEST_FILES:
        for case in load_yaml(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet)[check["alertname"]] += 1
    names = {r["alert"] for r in alert_rules()}
    assert not names - set(firing), f"never shown firing: {sorted(names - set(firing))}"
    assert not names - set(quiet), f"never shown not firing: {sorted(names - set(quiet))}"
    assert not (set(firing) | set(quiet)) - names, "unit tests name alerts that do not exist"


def test_up_and_process_rules_select_the_bot_job() -> None:
    """Prometheus scrapes itself too: up/process_* without job="mm-bot" would alert on it."""
    for rule in alert_rules():
        for name in re.findall(r"\b(up|process_\w+)\s*\{([^}]*)\}|\b(up|process_\w+)\b", str(rule["expr"])):
            if name[0]:
                assert 'job="mm-bot"' in name[1], f"{rule['alert']}: {name[0]} without job=\"mm-bot\""
            else:
                pytest.fail(f"{rule['alert']}: {name[2]} without a job selector")
