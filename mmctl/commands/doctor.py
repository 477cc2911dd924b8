"""`mmctl doctor`: the quick pre-flight checks, one pass/warn/fail line each."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode


def doctor(
    ctx: typer.Context,
    rest_url: Annotated[str | None, typer.Option("--rest-url", help="Check this venue REST URL instead of the "
                                                 "config's (e.g. a running `mmctl sim`).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Config, secrets, clock offset, venue reachable, key permissions, in seconds.
    Exit 0 all pass (warnings allowed), 6 any fail."""
    from mmctl.ops.doctor import overall, run_doctor

    run: Run = ctx.obj
    lines = run_doctor(run.config, dict(os.environ), rest_url=rest_url)
    verdict = overall(lines)
    if run.json or json_out:
        render.emit_json({"overall": verdict, "checks": [c.to_json() for c in lines]})
    else:
        con = render.console()
        style = {"pass": "green", "warn": "yellow", "fail": "red"}  # nosec B105: a UI/status word, not a password
        for c in lines:
            con.print(f"[{style[c.level]}]{c.level.upper():<4}[/{style[c.level]}] {c.name:<16} {c.detail}",
                      highlight=False)
        con.print(f"doctor: [{style[verdict]}]{verdict}[/{style[verdict]}]")
    raise typer.Exit(ExitCode.FINDINGS if verdict == "fail" else ExitCode.OK)


app = typer.Typer(help="Quick pre-flight checks.")
app.command("doctor")(doctor)
