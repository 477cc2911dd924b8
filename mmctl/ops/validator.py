"""Full-stack validator (SOAK-002): runs the steps in ci/validate.toml with bounded per-step logs."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess  # nosec B404 # runs argv lists from ci/validate.toml, never through a shell
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.common import json_io
from mmctl.ops import checks
from mmctl.ops.retention import BudgetReport, enforce_artifact_budget, new_step_run, parse_size, prune_step_logs

__all__ = [
    "RetentionPolicy",
    "Step",
    "StepResult",
    "ValidationReport",
    "ValidatorConfig",
    "ValidatorConfigError",
    "load_validator_config",
    "run_validation",
]

log = logging.getLogger(__name__)

StepStatus = Literal["ok", "findings", "failed", "timeout", "skipped"]
_SEVERITY: dict[str, int] = {"ok": 0, "skipped": 0, "findings": 1, "failed": 2, "timeout": 2}
BUILTIN_CHECKS = ("json_writers", "metrics_labels", "tests_collected")


class ValidatorConfigError(ValueError):
    """ci/validate.toml is missing, malformed or names an unknown check."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    keep_runs: int = 5
    max_total_bytes: int = 500 * 1024 * 1024
    aggressive_keep_runs: int = 2


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: tuple[str, ...] = ()  # argv; "{python}" is this interpreter
    check: str | None = None  # or a built-in check
    timeout_s: float = 900.0
    findings_exit_codes: tuple[int, ...] = (6,)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ValidatorConfig:
    steps: tuple[Step, ...]
    retention: RetentionPolicy = RetentionPolicy()


@dataclass
class StepResult:
    name: str
    status: StepStatus
    exit_code: int | None
    duration_s: float
    out_log: str
    err_log: str
    detail: str = ""


@dataclass
class ValidationReport:
    steps: list[StepResult] = field(default_factory=list)
    budget: BudgetReport | None = None
    removed_logs: int = 0

    @property
    def worst(self) -> StepStatus:
        statuses: list[StepStatus] = [s.status for s in self.steps] or ["ok"]
        return max(statuses, key=lambda s: _SEVERITY[s])

    def to_dict(self) -> dict[str, object]:
        return {
            "status": self.worst,
            "steps": [vars(s) for s in self.steps],
            "retention": {"removed_logs": self.removed_logs,
                          "budget": self.budget.to_dict() if self.budget else None},
        }


def _positive_int(doc: dict[str, Any], key: str, default: int) -> int:
    value = doc.get(key, default)
    if not isinstance(value, int) or value < 1:
        raise ValidatorConfigError(f"retention.{key} must be a positive integer")
    return value


def load_validator_config(path: Path) -> ValidatorConfig:
    """Parse ci/validate.toml.

    Raises:
        ValidatorConfigError: unreadable, malformed, duplicate or unknown step.
    """
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidatorConfigError(f"{path}: {exc}") from exc
    ret = doc.get("retention", {})
    try:
        size = parse_size(str(ret.get("max_total_size", "500M")))
    except ValueError as exc:
        raise ValidatorConfigError(f"{path}: retention.max_total_size: {exc}") from exc
    policy = RetentionPolicy(_positive_int(ret, "keep_runs", 5), size, _positive_int(ret, "aggressive_keep_runs", 2))
    steps: list[Step] = []
    for raw in doc.get("steps", []):
        name = raw.get("name")
        if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
            raise ValidatorConfigError(f"{path}: step name {name!r}: letters, digits, '-', '_' only")
        if name in {s.name for s in steps}:
            raise ValidatorConfigError(f"{path}: duplicate step {name!r}")
        run, check = raw.get("run"), raw.get("check")
        if (run is None) == (check is None):
            raise ValidatorConfigError(f"{path}: step {name!r} needs exactly one of 'run' or 'check'")
        if check is not None and check not in BUILTIN_CHECKS:
            raise ValidatorConfigError(f"{path}: step {name!r}: unknown check {check!r} ({', '.join(BUILTIN_CHECKS)})")
        if run is not None and not (isinstance(run, list) and run and all(isinstance(a, str) for a in run)):
            raise ValidatorConfigError(f"{path}: step {name!r}: 'run' must be a non-empty list of strings")
        known = {"name", "run", "check", "timeout_s", "findings_exit_codes", "options"}
        if set(raw) - known:
            raise ValidatorConfigError(f"{path}: step {name!r}: unknown keys {sorted(set(raw) - known)}")
        steps.append(Step(name, tuple(run or ()), check, float(raw.get("timeout_s", 900)),
                          tuple(raw.get("findings_exit_codes", [6])), dict(raw.get("options", {}))))
    if not steps:
        raise ValidatorConfigError(f"{path}: no [[steps]]")
    return ValidatorConfig(tuple(steps), policy)


def _expand(arg: str) -> str:
    return arg.replace("{python}", sys.executable)


def _run_command(step: Step, root: Path, out: Path, err: Path) -> tuple[StepStatus, int | None, str]:
    argv = [_expand(a) for a in step.run]
    with out.open("wb") as fo, err.open("wb") as fe:
        try:
            proc = subprocess.Popen(argv, cwd=root, stdout=fo, stderr=fe,  # nosec B603 # argv, no shell
                                    start_new_session=True)
        except OSError as exc:
            fe.write(f"cannot start {argv[0]}: {exc}\n".encode())
            return "failed", None, f"cannot start: {exc.strerror}"
        try:
            code = proc.wait(timeout=step.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            fe.write(f"\ntimed out after {step.timeout_s:g} s\n".encode())
            return "timeout", None, f"timed out after {step.timeout_s:g} s"
        except BaseException:  # Ctrl-C: the step runs in its own session, so stop it ourselves
            _kill_group(proc)
            raise
    if code == 0:
        return "ok", 0, ""
    if code in step.findings_exit_codes:
        return "findings", code, f"exit {code}"
    return "failed", code, f"exit {code}"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the step and everything it started (pytest workers, child shells)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _run_check(step: Step, root: Path, out: Path, err: Path) -> tuple[StepStatus, int | None, str]:
    opts = step.options
    with out.open("w", encoding="utf-8") as fo, err.open("w", encoding="utf-8") as fe:
        try:
            if step.check == "json_writers":
                result = checks.json_writers(root, opts.get("roots", ["bot", "mmctl", "ci"]),
                                             opts.get("allow", ["bot/common/json_io.py"]))
            elif step.check == "metrics_labels":
                rules = checks.load_metric_rules(root / opts.get("allowlist", "ci/metrics_labels.toml"))
                result = checks.metrics_labels(root, opts.get("roots", ["bot"]), rules)
            else:
                argv = [_expand(a) for a in opts.get("collect", ["{python}", "-m", "pytest", "--collect-only", "-q"])]
                result = checks.tests_collected(root, argv, opts.get("pattern", "tests/**/test_*.py"),
                                                timeout_s=step.timeout_s)
        except (OSError, ValueError) as exc:
            fe.write(f"{step.check}: {exc}\n")
            return "failed", None, str(exc)
        except Exception:  # a bug in a check must not hide the other steps' results
            fe.write(traceback.format_exc())
            return "failed", None, "check crashed (see err log)"
        for line in result.findings:
            fo.write(line + "\n")
        for line in result.info:
            fo.write(f"# {line}\n")
        for line in result.errors:
            fe.write(line + "\n")
    if result.errors:
        return "failed", None, result.errors[0].splitlines()[0]
    if result.findings:
        return "findings", None, f"{len(result.findings)} finding(s)"
    return "ok", None, ""


def run_validation(config: ValidatorConfig, *, root: Path, artifacts: Path, only: Sequence[str] | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   on_step: Callable[[StepResult], None] | None = None) -> ValidationReport:
    """Run the selected steps in order, then apply retention; writes summary.json into `artifacts`.

    Raises:
        ValidatorConfigError: `only` names a step that is not configured.
    """
    names = [s.name for s in config.steps]
    unknown = [n for n in (only or []) if n not in names]
    if unknown:
        raise ValidatorConfigError(f"unknown step(s): {', '.join(unknown)} (configured: {', '.join(names)})")
    artifacts.mkdir(parents=True, exist_ok=True)
    report = ValidationReport()
    policy = config.retention
    for step in config.steps:
        if only and step.name not in only:
            continue
        paths = new_step_run(artifacts, step.name)
        started = clock()
        runner = _run_command if step.run else _run_check
        status, code, detail = runner(step, root, paths.out, paths.err)
        result = StepResult(step.name, status, code, round(clock() - started, 3), str(paths.out),
                            str(paths.err), detail)
        report.steps.append(result)
        log.info("validator_step_done step=%s status=%s duration_s=%.3f", step.name, status, result.duration_s)
        report.removed_logs += len(prune_step_logs(artifacts, policy.keep_runs))  # every step on disk
        budget = enforce_artifact_budget(artifacts, max_bytes=policy.max_total_bytes,
                                         aggressive_keep=policy.aggressive_keep_runs)
        report.removed_logs += len(budget.removed)
        if report.budget is None or budget.over_budget:
            report.budget = budget
        if on_step is not None:
            on_step(result)
    json_io.save_file(artifacts / "summary.json", report.to_dict())
    return report
