"""`mmctl run | stop | status`: start the bot, ask it to stop, and show how it is doing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

run_app = typer.Typer(help="Run the market-making bot.")
stop_app = typer.Typer(help="Ask the running bot to shut down and wait for it.")
status_app = typer.Typer(help="Show the running bot's state.")

_VENUES = ("sim", "testnet", "demo", "mainnet")


def _quoted(value: str) -> str:
    from bot.common import json_io

    return json_io.dumps_str(value)  # a TOML basic string: paths stay strings whatever they look like


def _config(run: Run, *, venue: str | None = None, state_dir: Path | None = None, web_port: int | None = None) -> Any:
    from bot.config import load_config

    extra = list(run.overrides)
    if venue:
        extra.append(f"venue={_quoted(venue)}")
    if state_dir is not None:
        extra.append(f"state_dir={_quoted(str(state_dir))}")
    if web_port is not None:
        extra.append(f"monitoring.web_port={web_port}")
    return load_config(run.config_path, overrides=extra), tuple(extra)


def pre_live_gate(cfg: Any, *, override: bool) -> None:
    """Mainnet needs a passing rehearsal pack for this config hash; `--no-pack-check` overrides, loudly."""
    from mmctl.ops.rehearsal import check_live_pack

    ok, reason = check_live_pack(cfg)
    bar = "!" * 78
    if not ok and override:
        sys.stderr.write(f"\n{bar}\nWARNING: starting on MAINNET WITHOUT a passing pre-live pack (--no-pack-check)\n"
                         f"{reason}\n{bar}\n\n")
    elif not ok:
        sys.stderr.write(f"refusing to trade on mainnet: {reason}\nbuild a pack first: mmctl rehearsal (after "
                         "mmctl soak and mmctl audit), or pass --no-pack-check to override\n")
        raise typer.Exit(ExitCode.RISK)


@run_app.command("run")
def run_cmd(
    ctx: typer.Context,
    venue: Annotated[str | None, typer.Option("--venue", help="sim (default) | testnet | demo | mainnet")] = None,
    live: Annotated[bool, typer.Option("--live", help="Required for mainnet: real money.")] = False,
    duration: Annotated[float | None, typer.Option("--duration", help="Stop after S seconds.", min=0.1)] = None,
    state_dir: Annotated[Path | None, typer.Option("--state-dir", help="Ledger, snapshots, lock, run.json.")] = None,
    web_port: Annotated[int | None, typer.Option("--web-port", help="Status/admin port (0 = any free).")] = None,
    view: Annotated[str, typer.Option("--view", help="auto | live | logs (live = rich view on a TTY)")] = "auto",
    shutdown_deadline: Annotated[float, typer.Option("--shutdown-deadline", help="Seconds for a graceful stop.",
                                                     min=1, max=29)] = 25.0,
    no_pack_check: Annotated[bool, typer.Option("--no-pack-check",
                                                help="mainnet: start without a passing pre-live pack (loud warning).")
                             ] = False,
) -> None:
    """Run the bot until Ctrl-C / SIGTERM / `mmctl stop` / --duration. Exit 0 after a clean shutdown."""
    import asyncio

    run: Run = ctx.obj
    if venue is not None and venue not in _VENUES:
        raise typer.BadParameter(f"must be one of {', '.join(_VENUES)}", param_hint="--venue")
    if venue == "mainnet" and not live:
        raise typer.BadParameter("mainnet trades real money: add --live to confirm", param_hint="--live")
    cfg, overrides = _config(run, venue=venue, state_dir=state_dir, web_port=web_port)
    if cfg.venue == "mainnet":
        if not live:
            render.console().print("[red]mainnet trades real money: add --live to confirm[/red]")
            raise typer.Exit(ExitCode.USAGE)
        pre_live_gate(cfg, override=no_pack_check)
    live_view = view == "live" or (view == "auto" and sys.stderr.isatty() and not run.json)
    if live_view:
        _quiet_console_logs(cfg)
    from bot.runtime.core import Bot, BotOptions

    bot = Bot(cfg, BotOptions(config_path=run.config_path, overrides=overrides, duration_s=duration,
                              shutdown_deadline_s=shutdown_deadline, live_view=live_view))
    report = asyncio.run(bot.run())
    if bot.startup_exc is not None:
        from bot.errors import ExchangeError, MMError

        if isinstance(bot.startup_exc, MMError):
            raise bot.startup_exc  # mapped to its exit code by mmctl.app (config 3, exchange 4, ...)
        raise ExchangeError(f"bot did not start: {bot.startup_error}")
    if run.json:
        render.emit_json(report.as_dict())
    if report.fast:
        sys.stderr.write("fast exit after a second interrupt: one cancel-all attempt was sent\n")
        raise typer.Exit(ExitCode.INTERRUPTED)
    if not report.ok:
        failed = [s.name for s in report.steps if not s.ok]
        sys.stderr.write(f"shutdown finished with problems: {', '.join(failed)}\n")
        raise typer.Exit(ExitCode.EXCHANGE if "cancel_all_and_verify" in failed else ExitCode.FAILURE)


def _quiet_console_logs(cfg: Any) -> None:
    """With the live view on stderr, full logs go to the log file and the console shows warnings only."""
    import logging

    from bot.observability.logging import configure

    root = logging.getLogger()
    configure(fmt="json", level=logging.getLevelName(root.level),
              log_file=Path(cfg.monitoring.log_dir) / "bot.log", max_bytes=cfg.monitoring.log_max_bytes,
              backups=cfg.monitoring.log_backups)
    for h in root.handlers:
        if type(h) is logging.StreamHandler:
            h.setLevel(logging.WARNING)


def _state_dir(run: Run, state_dir: Path | None) -> Path:
    if state_dir is not None:
        return state_dir
    from bot.config import load_config

    return Path(load_config(run.config_path, overrides=run.overrides, require_secrets=False).state_dir)


@stop_app.command("stop")
def stop_cmd(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the bot to exit.")] = 30.0,
    state_dir: Annotated[Path | None, typer.Option("--state-dir")] = None,
) -> None:
    """Ask the bot to shut down (admin API with the token, else SIGTERM), wait, and report how it went."""
    from bot.runtime.control import request_stop, wait_stopped

    run: Run = ctx.obj
    sd = _state_dir(run, state_dir)
    how = request_stop(sd, _admin_token(run))
    if how is None:
        _out(run, {"running": False, "message": f"no bot running on {sd}"})
        return
    result = wait_stopped(sd, how, timeout)
    _out(run, result)
    if not result["stopped"]:
        raise typer.Exit(ExitCode.FAILURE)
    if not result.get("shutdown_ok", True):
        raise typer.Exit(ExitCode.FINDINGS)


@status_app.command("status")
def status_cmd(
    ctx: typer.Context,
    state_dir: Annotated[Path | None, typer.Option("--state-dir")] = None,
) -> None:
    """Show the running bot's /status (table, or --json). Exit 6 when no bot is running."""
    from bot.runtime.control import read_status

    run: Run = ctx.obj
    sd = _state_dir(run, state_dir)
    st = read_status(sd)
    if run.json:
        render.emit_json(st)
    else:
        from bot.runtime.liveview import render as render_status

        if st.get("running"):
            render.console().print(render_status(st["status"]))
        else:
            render.console().print(st.get("message", "not running"))
    if not st.get("running"):
        raise typer.Exit(ExitCode.FINDINGS)


def _out(run: Run, doc: dict[str, Any]) -> None:
    if run.json:
        render.emit_json(doc)
        return
    render.console().print(" ".join(f"{k}={v}" for k, v in doc.items() if k != "report"))
    rep = doc.get("report")
    if isinstance(rep, dict):
        render.table("shutdown", ["step", "ok", "ms", "detail"],
                     [(s["name"], s["ok"], round(s["duration_s"] * 1000, 1), s["detail"]) for s in rep["steps"]])


def _admin_token(run: Run) -> str | None:
    from bot.config import load_config
    from bot.errors import ConfigError

    try:
        token = load_config(run.config_path, overrides=run.overrides, require_secrets=False).secrets.admin_token
    except ConfigError:
        return None
    return token.reveal() if token else None
