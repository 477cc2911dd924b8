"""`mmctl lint ascii`: thin command over mmctl.ops.ascii_lint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

app = typer.Typer(help="Source and file lints.", no_args_is_help=True, add_completion=False)

DEFAULT_CONFIG = Path("ci/ascii_lint.toml")


@app.callback()
def _group() -> None:
    """Source and file lints (a callback keeps `ascii` a subcommand, not the whole group)."""


@app.command("ascii")
def ascii_(
    ctx: typer.Context,
    paths: Annotated[list[str] | None, typer.Argument(help="Files or directories (default: .).")] = None,
    all_lines: Annotated[bool, typer.Option("--all-lines", help="Check every line of every text file.")] = False,
    config: Annotated[Path, typer.Option("--lint-config", help="TOML file with an ascii_lint table.")] = DEFAULT_CONFIG,
    max_line_bytes: Annotated[int | None, typer.Option("--max-line-bytes", min=64,
                                                       help="Report lines longer than this.")] = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", min=16, help="Bytes per read.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON report on stdout.")] = False,
) -> None:
    """Find non-ASCII characters where they are forbidden. Exit 0 clean, 6 findings, 1 failure."""
    from dataclasses import replace

    from bot.errors import ConfigError
    from mmctl.ops.ascii_lint import lint_paths, load_options

    run: Run | None = ctx.obj
    try:
        options = load_options(config, all_lines=all_lines)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"ascii lint config: {exc}") from None
    if max_line_bytes is not None:
        options = replace(options, max_line_bytes=max_line_bytes)
    if chunk_size is not None:
        options = replace(options, chunk_size=chunk_size)
    report = lint_paths(paths or ["."], options)
    if json_out or (run is not None and run.json):
        render.emit_json(report.to_dict())
    else:
        out = render.console()
        for f in report.findings:
            out.print(f.render(), markup=False, highlight=False)
        for n in report.notes:
            out.print(f"note: {n.path}: {n.message}", markup=False, highlight=False)
        for n in report.errors:
            out.print(f"error: {n.path}: {n.message}", markup=False, highlight=False)
        for path in report.truncated:
            out.print(f"note: {path}: listing stopped after {options.max_findings_per_file} findings",
                      markup=False, highlight=False)
        extra = f", {len(report.truncated)} file(s) with more not listed" if report.truncated else ""
        out.print(f"ascii lint: {report.status}: {len(report.findings)} finding(s){extra} in "
                  f"{report.files_scanned} file(s), {report.bytes_scanned} bytes", markup=False, highlight=False)
    code = {"clean": ExitCode.OK, "findings": ExitCode.FINDINGS, "failed": ExitCode.FAILURE}[report.status]
    if code != ExitCode.OK:
        raise typer.Exit(code=int(code))
