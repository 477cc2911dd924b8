"""Full-stack validator: step outcomes, paired log retention over 500 runs, the size alarm, config errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.common import json_io
from mmctl.ops.retention import new_step_run, step_runs
from mmctl.ops.validator import (
    RetentionPolicy,
    Step,
    ValidatorConfig,
    ValidatorConfigError,
    load_validator_config,
    run_validation,
)


def _project(root: Path) -> Path:
    (root / "bot").mkdir()
    (root / "bot" / "ok.py").write_text("from bot.common import json_io\n")
    return root


def test_step_outcomes_and_worst_status(tmp_path: Path) -> None:
    cfg = ValidatorConfig((
        Step("ok", run=("{python}", "-c", "print('hello')")),
        Step("finds", run=("{python}", "-c", "import sys; sys.stderr.write('bad'); sys.exit(6)")),
        Step("broken", run=("{python}", "-c", "import sys; sys.exit(3)")),
        Step("slow", run=("{python}", "-c", "import time; time.sleep(30)"), timeout_s=0.5),
        Step("missing", run=("/nonexistent/tool",)),
    ))
    report = run_validation(cfg, root=tmp_path, artifacts=tmp_path / "artifacts" / "ci")
    status = {s.name: s.status for s in report.steps}
    assert status == {"ok": "ok", "finds": "findings", "broken": "failed", "slow": "timeout", "missing": "failed"}
    assert report.worst in ("failed", "timeout")
    by_name = {s.name: s for s in report.steps}
    assert Path(by_name["ok"].out_log).read_text() == "hello\n"
    assert Path(by_name["finds"].err_log).read_text() == "bad"
    assert Path(by_name["ok"].err_log).name.endswith(".err.log")
    summary = json_io.load_file(tmp_path / "artifacts" / "ci" / "summary.json")
    assert [s["name"] for s in summary["steps"]] == ["ok", "finds", "broken", "slow", "missing"]


def test_only_runs_selected_steps_and_rejects_unknown(tmp_path: Path) -> None:
    cfg = ValidatorConfig((Step("a", run=("{python}", "-c", "")), Step("b", run=("{python}", "-c", ""))))
    report = run_validation(cfg, root=tmp_path, artifacts=tmp_path / "ci", only=["b"])
    assert [s.name for s in report.steps] == ["b"]
    with pytest.raises(ValidatorConfigError, match="unknown step"):
        run_validation(cfg, root=tmp_path, artifacts=tmp_path / "ci", only=["zzz"])


def test_500_consecutive_validator_runs_keep_5_paired_runs_per_step(tmp_path: Path) -> None:
    root = _project(tmp_path)
    artifacts = root / "artifacts" / "ci"
    cfg = ValidatorConfig((
        Step("json-writers", check="json_writers", options={"roots": ["bot"]}),
        Step("metrics", check="json_writers", options={"roots": ["bot"]}),
    ))
    for _ in range(500):
        report = run_validation(cfg, root=root, artifacts=artifacts)
        assert report.worst == "ok"
    runs = step_runs(artifacts)
    assert {k: len(v) for k, v in runs.items()} == {"json-writers": 5, "metrics": 5}
    names = set(os.listdir(artifacts))
    for step, stamps in runs.items():
        for stamp in stamps:
            assert {f"{step}.{stamp}.out.log", f"{step}.{stamp}.err.log"} <= names
    assert len(names) == 2 * 5 * 2 + 1  # + summary.json


def test_size_alarm_and_aggressive_cleanup_fire_past_a_test_sized_limit(tmp_path: Path) -> None:
    artifacts = tmp_path / "ci"
    artifacts.mkdir()
    for _ in range(4):  # a step that is no longer configured still gets cleaned
        run = new_step_run(artifacts, "retired-step")
        run.out.write_bytes(b"r" * 2000)
        run.err.touch()
    cfg = ValidatorConfig(
        (Step("chatty", run=("{python}", "-c", "print('x' * 1000)")),),
        RetentionPolicy(keep_runs=5, max_total_bytes=9000, aggressive_keep_runs=2),
    )
    report = run_validation(cfg, root=tmp_path, artifacts=artifacts)
    assert report.budget is not None and report.budget.over_budget
    assert report.budget.total_bytes_before > 9000 >= report.budget.total_bytes_after
    assert {k: len(v) for k, v in step_runs(artifacts).items()} == {"retired-step": 2, "chatty": 1}
    summary = json_io.load_file(artifacts / "summary.json")
    assert summary["retention"]["budget"]["over_budget"] is True
    # the next run is under the limit again: no alarm
    assert run_validation(cfg, root=tmp_path, artifacts=artifacts).budget.over_budget is False  # type: ignore[union-attr]


def test_load_config_from_toml(tmp_path: Path) -> None:
    p = tmp_path / "validate.toml"
    p.write_text('[retention]\nkeep_runs = 3\nmax_total_size = "1M"\n\n'
                 '[[steps]]\nname = "lint"\nrun = ["{python}", "-c", ""]\ntimeout_s = 5\n\n'
                 '[[steps]]\nname = "json"\ncheck = "json_writers"\n')
    cfg = load_validator_config(p)
    assert [s.name for s in cfg.steps] == ["lint", "json"]
    assert cfg.retention == RetentionPolicy(3, 1024 * 1024, 2)


def test_the_repository_step_list_parses() -> None:
    cfg = load_validator_config(Path(__file__).resolve().parents[3] / "ci" / "validate.toml")
    names = [s.name for s in cfg.steps]
    assert {"ascii-lint", "json-writers", "metrics-labels", "tests-collected", "tests"} <= set(names)
    assert cfg.retention == RetentionPolicy(5, 500 * 1024 * 1024, 2)


@pytest.mark.parametrize("body", [
    '[[steps]]\nname = "a"\n',
    '[[steps]]\nname = "a"\ncheck = "nope"\n',
    '[[steps]]\nname = "a.b"\nrun = ["x"]\n',
    '[[steps]]\nname = "a"\nrun = ["x"]\n[[steps]]\nname = "a"\nrun = ["y"]\n',
    '[retention]\nkeep_runs = 0\n[[steps]]\nname = "a"\nrun = ["x"]\n',
    'not toml [',
    '',
])
def test_bad_config_is_a_config_error(tmp_path: Path, body: str) -> None:
    p = tmp_path / "v.toml"
    p.write_text(body)
    with pytest.raises(ValidatorConfigError):
        load_validator_config(p)
