"""`mmctl validate`: thin command over mmctl.ops.validator (steps from ci/validate.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

_STYLE = {"ok": "green", "skipped": "yellow", "findings": "red", "failed": "bold red", "timeout": "bold red"}


def validate(
    ctx: typer.Context,
    steps: Annotated[list[str] | None, typer.Option(
        "--steps", "-s", help="Run only these steps (repeatable or comma-separated).")] = None,
    config: Annotated[Path, typer.Option("--steps-file", help="Validator step list.")] = Path("ci/validate.toml"),
    artifacts: Annotated[Path, typer.Option("--artifacts", help="Where step logs and summary.json go.")] = Path(
        "artifacts/ci"),
    root: Annotated[Path, typer.Option("--root", help="Project root the steps run in.")] = Path("."),
    keep_runs: Annotated[int | None, typer.Option("--keep-runs", min=1, help="Override retention.keep_runs.")] = None,
    max_total_size: Annotated[str | None, typer.Option("--max-total-size",
                                                       help="Override retention.max_total_size (e.g. 500M).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON summary on stdout.")] = False,
) -> None:
    """Run the full-stack validator. Exit 0 all ok, 6 findings, 1 a step failed, 3 bad step list."""
    from dataclasses import replace

    from bot.errors import ConfigError
    from mmctl.ops.retention import parse_size
    from mmctl.ops.validator import ValidatorConfigError, load_validator_config, run_validation

    run: Run | None = ctx.obj
    as_json = json_out or (run is not None and run.json)
    selected = [s.strip() for item in steps or [] for s in item.split(",") if s.strip()] or None
    try:
        cfg = load_validator_config(config)
        policy = cfg.retention
        if keep_runs is not None:
            policy = replace(policy, keep_runs=keep_runs)
        if max_total_size is not None:
            policy = replace(policy, max_total_bytes=parse_size(max_total_size))
        cfg = replace(cfg, retention=policy)
        out = render.console()

        def progress(r: object) -> None:
            if not as_json:
                name, status = getattr(r, "name", "?"), getattr(r, "status", "?")
                out.print(f"[{_STYLE.get(status, 'white')}]{status:>8}[/] {name}")

        report = run_validation(cfg, root=root, artifacts=artifacts, only=selected, on_step=progress)
    except (ValidatorConfigError, ValueError) as exc:
        raise ConfigError(f"validator: {exc}") from None
    if as_json:
        render.emit_json(report.to_dict())
    else:
        render.table("mmctl validate", ["step", "status", "exit", "seconds", "detail", "out log"],
                     [(s.name, s.status, "" if s.exit_code is None else s.exit_code, f"{s.duration_s:.2f}",
                       s.detail, s.out_log) for s in report.steps])
        if report.budget is not None and report.budget.over_budget:
            out.print(f"[yellow]warning:[/] {artifacts} was {report.budget.total_bytes_before} bytes "
                      f"(> {report.budget.max_bytes}): cut to {cfg.retention.aggressive_keep_runs} runs per step, "
                      f"now {report.budget.total_bytes_after} bytes")
        out.print(f"validate: {report.worst}; summary: {artifacts / 'summary.json'}")
    worst = report.worst
    code = ExitCode.OK if worst in ("ok", "skipped") else ExitCode.FINDINGS if worst == "findings" else ExitCode.FAILURE
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


app = typer.Typer(help="Run the full-stack validator (steps from ci/validate.toml).", add_completion=False)
app.command("validate")(validate)
