"""`mmctl secrets provision|check`: secrets from stdin or a hidden prompt, never from argv."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

app = typer.Typer(help="Provision and check API keys and the admin token.", no_args_is_help=True)


def _read_value(name: str) -> str:
    if not sys.stdin.isatty():
        value = sys.stdin.read().rstrip("\r\n")
    else:
        import getpass

        value = getpass.getpass(f"{name}: ")
        if getpass.getpass(f"{name} (again): ") != value:
            sys.stderr.write("error: the two entries differ; nothing written\n")
            raise typer.Exit(ExitCode.USAGE)
    if not value.strip():
        sys.stderr.write(f"error: empty value for {name}; nothing written\n")
        raise typer.Exit(ExitCode.USAGE)
    return value


@app.command("provision")
def provision(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="BYBIT_API_KEY | BYBIT_API_SECRET | MM_ADMIN_TOKEN")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Secrets directory (default: config secrets_dir).")
    ] = None,
    docker: Annotated[bool, typer.Option("--docker", help="Create a Docker Swarm secret instead of a file.")] = False,
) -> None:
    """Store secret NAME read from stdin (or a hidden prompt): a 0600 file, or `docker secret create`."""
    from bot.config.secrets import SECRET_NAMES

    if name not in SECRET_NAMES:
        raise typer.BadParameter(f"unknown secret {name!r}; expected one of {', '.join(SECRET_NAMES)}",
                                 param_hint="NAME")
    run: Run = ctx.obj
    value = _read_value(name)
    if docker:
        from mmctl.ops.secrets_store import docker_secret_create

        res = docker_secret_create(name, value)
        if not res.ran:
            render.console().print(f"docker not available: {res.detail}\n  {res.command}")
            raise typer.Exit(ExitCode.FAILURE)
        if not res.ok:
            sys.stderr.write(f"error: docker secret create failed: {res.detail}\n  {res.command}\n")
            raise typer.Exit(ExitCode.FAILURE)
        render.console().print(f"created docker secret {name.lower()}")
        return
    from mmctl.ops.secrets_store import write_secret_file

    target_dir = directory or Path(run.config.secrets_dir)
    path = write_secret_file(target_dir, name, value)
    if run.json:
        render.emit_json({"name": name, "path": str(path), "mode": "0600"})
    else:
        render.console().print(f"wrote {path} (mode 0600); point {name}_FILE at it or keep it in secrets_dir")


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Report each secret as present / missing / unsafe permissions, never its value. Exit 6 on problems."""
    from bot.config.secrets import check_secrets

    run: Run = ctx.obj
    cfg = _config_without_secrets(run)
    statuses = check_secrets(dict(os.environ), cfg.secrets_dir)
    required = {"BYBIT_API_KEY", "BYBIT_API_SECRET"} if cfg.venue != "sim" else set()
    bad = [s for s in statuses if s.state in ("unsafe_permissions", "conflict", "unreadable")
           or (s.state == "missing" and s.name in required)]
    if run.json:
        render.emit_json({"venue": cfg.venue, "ok": not bad, "secrets": [
            {"name": s.name, "state": s.state, "source": s.source, "detail": s.detail,
             "required": s.name in required} for s in statuses]})
    else:
        render.table(f"secrets (venue {cfg.venue})", ["name", "state", "source", "required", "detail"],
                     [(s.name, s.state, s.source or "-", "yes" if s.name in required else "no", s.detail)
                      for s in statuses])
    if bad:
        raise typer.Exit(ExitCode.FINDINGS)


def _config_without_secrets(run: Run):  # type: ignore[no-untyped-def]
    from bot.config import load_config

    return load_config(run.config_path, overrides=run.overrides, require_secrets=False)
