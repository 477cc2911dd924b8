"""`mmctl config show|check|diff`: the effective config through the one loader."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

app = typer.Typer(help="Show, check and diff the configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective config (defaults < file < MM_* env < --set); secrets masked."""
    from bot.config import cfg_hash_sanitized, check_secrets, sanitized_dict

    run: Run = ctx.obj
    cfg = run.config
    doc = sanitized_dict(cfg)
    doc["secrets"] = {s.name: s.state for s in check_secrets({**_env()}, cfg.secrets_dir)}
    doc["config_hash"] = cfg_hash_sanitized(cfg)
    if run.json:
        render.emit_json(doc)
        return
    render.console().print_json(data=doc)


@app.command("check")
def check(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="TOML config file to check.")]) -> None:
    """Validate FILE (with the current env and --set); every error with its key path. Exit 3 on errors."""
    from bot.config import load_config
    from bot.errors import ConfigError

    run: Run = ctx.obj
    try:
        cfg = load_config(file, overrides=run.overrides)
    except ConfigError as exc:
        if run.json:
            render.emit_json({"ok": False, "error": exc.message,
                              "problems": [{"path": p, "problem": m} for p, m in exc.problems]})
            raise typer.Exit(ExitCode.CONFIG) from None
        raise
    from bot.config import cfg_hash_sanitized

    if run.json:
        render.emit_json({"ok": True, "config_hash": cfg_hash_sanitized(cfg)})
    else:
        render.console().print(f"[green]OK[/green] {file} (hash {cfg_hash_sanitized(cfg)[:12]})")


@app.command("diff")
def diff(
    ctx: typer.Context,
    old: Annotated[Path, typer.Argument(help="Current config file.")],
    new: Annotated[Path, typer.Argument(help="Candidate config file.")],
) -> None:
    """Show which keys differ between OLD and NEW and which hot reload can apply live."""
    from bot.config import diff_runtime_safe, load_config

    run: Run = ctx.obj
    a = load_config(old, overrides=run.overrides, require_secrets=False)
    b = load_config(new, overrides=run.overrides, require_secrets=False)
    d = diff_runtime_safe(a, b)
    rows = [(p, _get(a, p), _get(b, p), "live" if p in d.safe else "restart") for p in d.changed]
    if run.json:
        render.emit_json({"changes": [{"path": p, "old": o, "new": n, "apply": k} for p, o, n, k in rows],
                          "runtime_safe": list(d.safe), "restart_required": list(d.unsafe)})
        return
    if not rows:
        render.console().print("no differences")
        return
    render.table("config diff", ["key", "old", "new", "applies"], rows)


def _get(cfg: object, path: str) -> object:
    node = cfg
    for part in path.split("."):
        node = getattr(node, part, None)
    return "***" if path == "secrets" else node


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)
