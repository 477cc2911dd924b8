"""`mmctl sim`: run the Bybit V5 emulator alone on loopback until Ctrl-C."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mmctl.app import Run

app = typer.Typer(help="Run the Bybit V5 emulator (REST + WS) on loopback until Ctrl-C.")


@app.command()
def sim(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Listen address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port; 0 picks a free one.")] = 0,
    symbols: Annotated[str, typer.Option("--symbols", help="Comma list: SYMBOL (linear) or SYMBOL@spot.")] = (
        "BTCUSDT,ETHUSDT,BTCUSDT@spot"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic market and ids.")] = 1,
    speed: Annotated[float, typer.Option("--speed", help="Market activity and push-rate factor.")] = 1.0,
    rate_limits: Annotated[bool, typer.Option("--rate-limits/--no-rate-limits",
                                              help="Enforce Bybit's UID and IP rate limits.")] = True,
) -> None:
    """Print the REST and WS base URLs and a throwaway key pair, then serve until SIGINT/SIGTERM."""
    from bot.sim import SimConfig, SimServer, banner, parse_symbol_spec, serve

    run: Run = ctx.obj
    specs = tuple(s.strip() for s in symbols.split(",") if s.strip())
    try:
        for s in specs:
            parse_symbol_spec(s)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--symbols") from None
    if speed <= 0:
        raise typer.BadParameter("must be > 0", param_hint="--speed")
    cfg = SimConfig(host=host, port=port, symbols=specs, seed=seed, speed=speed, rate_limits=rate_limits,
                    ip_limit_per_5s=600 if rate_limits else 0)

    def started(server: SimServer) -> None:
        info = banner(server)
        if run is not None and run.json:
            from mmctl import render

            render.emit_json({k.lower(): v for k, v in info.items()})
        else:
            sys.stdout.write("".join(f"{k} {v}\n" for k, v in info.items()))
            sys.stdout.write("Ctrl-C to stop.\n")
            sys.stdout.flush()

    serve(cfg, started)
