"""`mmctl logs rotate|prune`: thin commands over mmctl.ops.retention; safe while the bot writes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl import render
from mmctl.app import Run

app = typer.Typer(help="Rotate and prune log files.", no_args_is_help=True, add_completion=False)


def _monitoring(ctx: typer.Context) -> Any:
    """The monitoring section through the one config loader (log_dir, recorder_dir, counts)."""
    run: Run | None = ctx.obj
    if run is None:
        from bot.config import load_config

        return load_config(None).monitoring
    return run.config.monitoring


def _json(ctx: typer.Context, flag: bool) -> bool:
    run: Run | None = ctx.obj
    return flag or (run is not None and run.json)


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Log files, or directories whose *.log files rotate (default: monitoring.log_dir).")] = None,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=0, help="Compressed backups kept per file (default: monitoring.log_backups).")] = None,
    copy_truncate: Annotated[bool, typer.Option(
        "--copy-truncate", help="Copy then truncate, for writers that never reopen (may lose a few lines).")] = False,
    settle: Annotated[float, typer.Option("--settle", min=0.0,
                                          help="Seconds to wait for the writer to reopen before compressing.")] = 1.0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rotate now: rename (the bot's handler reopens on its next line), gzip, keep --keep backups."""
    from bot.errors import ConfigError
    from mmctl.ops.retention import rotate_file

    if not paths or keep is None:
        mon = _monitoring(ctx)
        paths = paths or [Path(mon.log_dir)]
        keep = mon.log_backups if keep is None else keep
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(p.glob("*.log")))
        elif p.is_file():
            files.append(p)
        else:
            raise ConfigError(f"no such log file or directory: {p}")
    results = [rotate_file(f, keep=keep, copy_truncate=copy_truncate, settle_s=settle) for f in files]
    if _json(ctx, json_out):
        render.emit_json([{"path": str(r.path), "rotated_to": str(r.rotated_to) if r.rotated_to else None,
                           "result": r.reason, "removed": [str(x) for x in r.removed]} for r in results])
        return
    render.table("logs rotate", ["file", "result", "rotated to", "old backups removed"],
                 [(r.path, r.reason, r.rotated_to or "", len(r.removed)) for r in results])


@app.command("prune")
def prune(
    ctx: typer.Context,
    directories: Annotated[list[Path] | None, typer.Argument(
        help="Log directories to bound (default: monitoring.log_dir and monitoring.recorder_dir).")] = None,
    keep: Annotated[int | None, typer.Option(
        "--keep", min=0, help="Old files kept per series (default: log_backups / recorder_max_files).")] = None,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Directory budget, e.g. 500M, 2G.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Delete old rotated logs: --keep per log, then oldest first down to --max-size. Active files stay."""
    from bot.errors import ConfigError
    from mmctl.ops.retention import parse_size, prune_log_dir

    try:
        budget = parse_size(max_size) if max_size is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-size") from None
    if directories:
        targets = [(d, keep if keep is not None else 10) for d in directories]
    else:
        mon = _monitoring(ctx)
        targets = [(Path(mon.log_dir), mon.log_backups if keep is None else keep),
                   (Path(mon.recorder_dir), mon.recorder_max_files if keep is None else keep)]
        targets = [(d, k) for d, k in targets if d.is_dir()]
    missing = [str(d) for d, _ in targets if not d.is_dir()]
    if missing:
        raise ConfigError(f"not a directory: {', '.join(missing)}")
    reports = [prune_log_dir(d, keep=k, max_bytes=budget) for d, k in targets]
    if _json(ctx, json_out):
        render.emit_json([r.to_dict() for r in reports])
        return
    render.table("logs prune", ["directory", "bytes before", "bytes after", "removed", "compressed", "warnings"],
                 [(r.directory, r.total_bytes_before, r.total_bytes_after, len(r.removed), len(r.compressed),
                   "; ".join(r.warnings)) for r in reports])
