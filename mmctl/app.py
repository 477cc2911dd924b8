"""Root Typer app: global options, lazy command registry, and the one exception -> exit code map."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from mmctl.exit_codes import ExitCode

if TYPE_CHECKING:
    from bot.config import AppConfig

__all__ = ["Run", "app", "main"]

# name -> ("module:attribute", short help). Modules are imported only when their command runs,
# so `mmctl --help` stays fast however many commands join.
_COMMANDS: dict[str, tuple[str, str]] = {
    "config": ("mmctl.commands.config:app", "Show, check and diff the configuration."),
    "secrets": ("mmctl.commands.secrets:app", "Provision and check API keys and the admin token."),
    "run": ("mmctl.commands.run:run_app", "Run the bot (default venue: the in-process emulator)."),
    "stop": ("mmctl.commands.run:stop_app", "Ask the running bot to shut down and wait for it."),
    "status": ("mmctl.commands.run:status_app", "Show the running bot's state (table or --json)."),
    "lint": ("mmctl.commands.lint:app", "Lints: non-ASCII in logs and CI files (lint ascii)."),
    "validate": ("mmctl.commands.validate:app", "Run the full-stack validator (steps in ci/validate.toml)."),
    "logs": ("mmctl.commands.logs:app", "Rotate and prune log files (safe while the bot writes)."),
    "audit": ("mmctl.commands.audit:app", "Security scan: pip-audit, bandit, cargo-audit; gate by severity."),
    "soak": ("mmctl.commands.soak:app", "Soak the bot for H hours with faults; KPI gate and HTML report."),
    "rehearsal": ("mmctl.commands.rehearsal:app", "Build the pre-live pack (soak verdict, audit, venue checks)."),
    "sim": ("mmctl.commands.sim:app", "Run the Bybit V5 emulator on loopback (URLs + throwaway keys)."),
    "doctor": ("mmctl.commands.doctor:app", "Quick checks: config, secrets, clock, venue, key permissions."),
}


_COMPLETION_PARAMS = frozenset({"install_completion", "show_completion"})


class LazyGroup(TyperGroup):
    """Click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in _COMMANDS:
            target, _ = _COMMANDS[cmd_name]
            module_name, attr = target.split(":")
            obj = getattr(importlib.import_module(module_name), attr)
            cmd = typer.main.get_command(obj) if isinstance(obj, typer.Typer) else obj
            cmd.name = cmd_name
            # Shell completion belongs to the root app; Typer adds it to every sub-app otherwise.
            cmd.params = [p for p in cmd.params if p.name not in _COMPLETION_PARAMS]
            return cmd
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, _COMMANDS[name][1]) for name in sorted(_COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@dataclass
class Run:
    """What every command receives in ctx.obj: global options and the lazily loaded config."""

    config_path: Path | None
    overrides: tuple[str, ...]
    log_format: str
    log_level: str
    json: bool
    _config: Any = field(default=None, repr=False)

    @property
    def config(self) -> AppConfig:
        if self._config is None:
            from bot.config import load_config

            self._config = load_config(self.config_path, overrides=self.overrides)
        return self._config  # type: ignore[no-any-return]


app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="mmctl: run, check and operate MM Rebate Bot.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="TOML config file (default: $MM_CONFIG or built-in defaults).",
                     envvar="MM_CONFIG"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set risk.max_open_orders=10 (repeatable)."),
    ] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="console | json")] = "console",
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG | INFO | WARNING | ERROR")] = "INFO",
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable JSON output where supported.")] = False,
) -> None:
    if log_format not in ("console", "json"):
        raise typer.BadParameter("must be 'console' or 'json'", param_hint="--log-format")
    ctx.obj = Run(config, tuple(set_ or ()), log_format, log_level.upper(), json_out)
    from bot.observability.logging import configure

    configure(fmt=log_format, level=log_level.upper())


def _error(msg: str) -> None:
    sys.stderr.write(f"error: {msg}\n")


def _exit_code_for(exc: BaseException) -> int:
    """Map project errors to exit codes; returns FAILURE for anything unexpected."""
    from bot import errors

    if isinstance(exc, errors.ConfigError):
        _error(exc.message)
        for path, problem in exc.problems:
            sys.stderr.write(f"  {path}: {problem}\n")
        return ExitCode.CONFIG
    if isinstance(exc, errors.RiskRejected):
        _error(str(exc))
        return ExitCode.RISK
    if isinstance(exc, errors.ExchangeError):
        _error(str(exc))
        return ExitCode.EXCHANGE
    if isinstance(exc, errors.MMError):
        _error(str(exc))
        return ExitCode.FAILURE
    import traceback

    traceback.print_exception(exc)
    return ExitCode.FAILURE


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="mmctl", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # the one place that turns errors into exit codes
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]  # Click's exceptions render themselves
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        sys.exit(_exit_code_for(exc))
    sys.exit(rv if isinstance(rv, int) else ExitCode.OK)


def _is_usage_error(exc: Exception) -> bool:
    # Typer vendors its own copy of Click in recent releases, so match Click's exception
    # protocol rather than one class: a `show()` method and an integer `exit_code`.
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)

if __name__ == "__main__":
    main()
