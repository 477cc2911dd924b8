"""The security workflow: triggers, pinned actions, no gate-hiding continue-on-error, calls mmctl audit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "security.yml"


@pytest.fixture(scope="module")
def wf() -> dict[Any, Any]:
    return yaml.safe_load(WORKFLOW.read_text())  # type: ignore[no-any-return]


def test_triggers_pr_push_main_develop_and_monday_0200(wf: dict[Any, Any]) -> None:
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in on
    assert set(on["push"]["branches"]) == {"main", "develop"}
    assert {"cron": "0 2 * * 1"} in on["schedule"]


def test_every_action_pinned_by_full_sha_and_nothing_continues_on_error(wf: dict[Any, Any]) -> None:
    text = WORKFLOW.read_text()
    assert "continue-on-error" not in text.replace("# No step has continue-on-error", "")
    steps = [s for job in wf["jobs"].values() for s in job["steps"]]
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert any(u.startswith("dtolnay/rust-toolchain@") for u in uses)
    runs = " ".join(s.get("run", "") for s in steps)
    assert "mmctl audit" in runs and "--strict" in runs and "cargo install cargo-audit" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"].startswith("artifacts/audit")
