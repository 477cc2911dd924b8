"""`mmctl audit`: thin command over mmctl.ops.audit (pip-audit, bandit, cargo-audit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

_STYLE = {"ok": "green", "findings": "red", "skipped": "yellow", "unavailable": "yellow", "failed": "bold red"}


def audit(
    ctx: typer.Context,
    tools: Annotated[list[str] | None, typer.Option(
        "--tool", "-t", help="pip-audit, bandit, cargo-audit (repeatable or comma-separated; default all).")] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", help="Lowest severity that fails: critical|high|medium|low.")
                       ] = "high",
    strict: Annotated[bool, typer.Option("--strict", help="A skipped or unavailable tool is a failure.")] = False,
    requirements: Annotated[list[Path] | None, typer.Option(
        "--requirement", "-r", help="Audit this pinned lock/requirements file instead of the installed env.")] = None,
    osv_url: Annotated[str | None, typer.Option("--osv-url", help="OSV-compatible mirror for pip-audit.")] = None,
    cargo_db: Annotated[Path | None, typer.Option(
        "--cargo-db", help="Local RustSec advisory DB for cargo-audit (used with --no-fetch).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for per-tool and combined JSON reports.")
                       ] = Path("artifacts/audit"),
    root: Annotated[Path, typer.Option("--root", help="Project root.")] = Path("."),
    ignore_file: Annotated[Path, typer.Option("--ignore-file", help="Dated ignore list.")
                           ] = Path("ci/audit-ignore.toml"),
    tool_path: Annotated[str | None, typer.Option(
        "--tool-path", help="Search path for the tool executables (default: beside python, then $PATH).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1.0, help="Seconds allowed per tool.")] = 600.0,
    json_out: Annotated[bool, typer.Option("--json", help="Combined JSON report on stdout.")] = False,
) -> None:
    """Security scan. Exit 0 pass, 6 findings at or above --fail-on, 1 a tool failed (or, with --strict,
    was skipped/unavailable), 3 bad options or ignore list."""
    from bot.errors import ConfigError
    from mmctl.ops.audit import TOOLS, AuditOptions, run_audit, tool_names
    from mmctl.ops.severity import SEVERITIES

    run: Run | None = ctx.obj
    if fail_on not in SEVERITIES:
        raise typer.BadParameter(f"one of {', '.join(SEVERITIES)}", param_hint="--fail-on")
    selected = tool_names(tools) if tools else TOOLS
    opts = AuditOptions(root=root, out_dir=out_dir, tools=selected, fail_on=fail_on,
                        strict=strict, requirements=tuple(requirements or ()), osv_url=osv_url,
                        cargo_db=cargo_db, ignore_file=ignore_file, tool_path=tool_path, tool_timeout_s=timeout)
    try:
        report = run_audit(opts)
    except ValueError as exc:
        raise ConfigError(f"audit: {exc}") from None
    if json_out or (run is not None and run.json):
        render.emit_json(report.to_dict())
    else:
        out = render.console()
        render.table("mmctl audit", ["tool", "status", "findings", "gating", "reason"],
                     [(t.tool, t.status, len(t.findings),
                       sum(1 for f in report.gating() if f.tool == t.tool), t.reason) for t in report.tools])
        for f in report.gating():
            out.print(f"[red]{f.severity:>8}[/] {f.tool} {f.id} {f.location}: {f.title}"
                      + (f" (fix: {f.fix})" if f.fix else ""), highlight=False)
        for t in report.tools:
            for note in t.notes[:5]:
                out.print(f"note: {t.tool}: {note}", markup=False, highlight=False)
        out.print(f"audit: {report.gate} (fail-on {fail_on}{', strict' if strict else ''}); reports in {out_dir}",
                  markup=False, highlight=False)
    code = {"pass": ExitCode.OK, "findings": ExitCode.FINDINGS, "failure": ExitCode.FAILURE}[report.gate]
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))


app = typer.Typer(help="Security audit: pip-audit, bandit, cargo-audit.", add_completion=False)
app.command("audit")(audit)
