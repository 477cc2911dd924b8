"""`mmctl soak --hours H` (run, sample, fault, gate, report) and `mmctl soak gate DIR`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmctl import render
from mmctl.app import Run
from mmctl.exit_codes import ExitCode

if TYPE_CHECKING:
    from mmctl.ops.soak.gate import Thresholds, Verdict

app = typer.Typer(help="Soak the bot for H hours and gate its KPIs.", invoke_without_command=True)

_DEFAULT_THRESHOLDS = Path("ci/soak_thresholds.toml")


def _thresholds(run: Run, path: Path | None, profile: str | None, items: list[str] | None,
                base: Mapping[str, Any] | None = None) -> Thresholds:
    from bot.config import parse_value
    from mmctl.ops.soak.gate import Thresholds, dir_bounds_from_config, load_thresholds

    overrides: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected key=value, got {item!r}", param_hint="--threshold")
        overrides[key.strip()] = parse_value(value.strip())
    try:
        if path is None and base is not None:
            th = Thresholds().with_overrides({k: v for k, v in base.items() if k in Thresholds.__dataclass_fields__})
            th = th.with_overrides(overrides)
        else:
            th = load_thresholds(path or _DEFAULT_THRESHOLDS, profile=profile, overrides=overrides)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--thresholds/--profile/--threshold") from None
    bounds = {**dir_bounds_from_config(run.config.monitoring), **th.dir_bounds_bytes}
    return th.with_overrides({"dir_bounds_bytes": bounds})


def _show(verdict: Verdict, run: Run, extra: Mapping[str, Any]) -> None:
    if run.json:
        render.emit_json(verdict.to_json() | dict(extra))
        return
    render.table(f"soak gate: {verdict.label}", ["check", "result", "measured", "threshold", "detail"],
                 [(c.name, c.status, c.measured, c.threshold, c.detail) for c in verdict.checks])
    colour = "green" if verdict.passed else "red"
    con = render.console()
    con.print(f"[bold {colour}]soak gate {verdict.label}[/bold {colour}]")
    for k, v in extra.items():
        con.print(f"{k}: {v}")


@app.callback()
def soak(
    ctx: typer.Context,
    hours: Annotated[float | None, typer.Option("--hours", min=0.0, help="Run length in wall hours (0.05 = 3 min).")
                     ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output dir (default artifacts/soak/<UTC stamp>).")
                   ] = None,
    interval: Annotated[float, typer.Option("--interval", min=0.2, help="Seconds between samples.")] = 10.0,
    faults: Annotated[float, typer.Option("--faults", min=0.0, help="Injected faults per wall hour (0 = none).")
                      ] = 0.0,
    fault_kinds: Annotated[str, typer.Option("--fault-kinds", help="Comma list: drop_ws,rest_errors,"
                                             "rate_limit_burst,book_reset.")] = "",
    seed: Annotated[int, typer.Option("--seed", help="Emulator and fault-schedule seed.")] = 0,
    speed: Annotated[float, typer.Option("--speed", min=0.01, help="Emulator speed factor (market time / wall).")
                     ] = 1.0,
    attach: Annotated[str | None, typer.Option("--attach", help="Sample a running bot at this web URL instead.")
                      ] = None,
    pid: Annotated[int | None, typer.Option("--pid", help="With --attach: the bot's local pid (psutil stats).")
                   ] = None,
    sim_url: Annotated[str | None, typer.Option("--sim-url", help="With --attach: emulator REST URL for faults.")
                       ] = None,
    thresholds: Annotated[Path | None, typer.Option("--thresholds", help="Gate thresholds TOML.")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="The thresholds file's profile.NAME.")] = None,
    threshold: Annotated[list[str] | None, typer.Option("--threshold", help="Override one: key=value (repeatable).")
                         ] = None,
) -> None:
    """Start the emulator and the bot (or --attach), sample every --interval s, inject --faults per hour,
    stop, then gate and write report.html. Exit 0 PASS, 6 FAIL, 130 interrupted (gate still written)."""
    if ctx.invoked_subcommand is not None:
        return
    run: Run = ctx.obj
    if hours is None or hours <= 0:
        raise typer.BadParameter("give --hours (e.g. 72, or 0.05 for a 3-minute smoke run)", param_hint="--hours")
    from mmctl.ops.soak.faults import FAULT_KINDS
    from mmctl.ops.soak.runner import SoakOptions, run_soak

    kinds = tuple(k.strip() for k in fault_kinds.split(",") if k.strip()) or FAULT_KINDS
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        raise typer.BadParameter(f"unknown {unknown}; known: {', '.join(FAULT_KINDS)}", param_hint="--fault-kinds")
    th = _thresholds(run, thresholds, profile, threshold)
    out_dir = out or Path("artifacts/soak") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    opts = SoakOptions(hours=hours, out_dir=out_dir.resolve(), thresholds=th, interval_s=interval,
                       fault_rate_per_h=faults, fault_kinds=kinds, seed=seed, speed=speed, attach_url=attach,
                       attach_pid=pid, sim_url=sim_url, config_path=run.config_path, overrides=run.overrides,
                       env=dict(os.environ))
    if run.json:
        result = run_soak(opts)
    else:
        with _LiveProgress() as bar:
            result = run_soak(opts, progress=bar.update)
    from bot.common import json_io
    from mmctl.ops.soak.runner import META

    meta = json_io.load_file(result.out_dir / META)
    _show(result.verdict, run, {
        "report": str(result.report), "dir": str(result.out_dir),
        "time": f"wall {meta.get('wall_s', 0) / 3600:.3f} h, market {meta.get('market_s', 0) / 3600:.3f} h "
                f"(emulator speed x{meta.get('speed')})"})
    if result.interrupted:
        raise typer.Exit(ExitCode.INTERRUPTED)
    raise typer.Exit(ExitCode.OK if result.verdict.passed else ExitCode.FINDINGS)


@app.command("gate")
def gate(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="A soak output directory (samples.jsonl, summary.json).")],
    thresholds: Annotated[Path | None, typer.Option("--thresholds", help="Thresholds TOML (default: the ones the "
                                                    "run recorded in meta.json).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="The thresholds file's profile.NAME.")] = None,
    threshold: Annotated[list[str] | None, typer.Option("--threshold", help="Override one: key=value.")] = None,
) -> None:
    """Re-run the KPI gate on DIR; rewrites verdict.json and report.html. Exit 0 PASS, 6 FAIL."""
    from bot.common import json_io
    from mmctl.ops.soak.runner import META, gate_dir

    run: Run = ctx.obj
    meta_path = directory / META
    recorded = json_io.load_file(meta_path).get("thresholds") if meta_path.exists() else None
    th = _thresholds(run, thresholds, profile, threshold, base=recorded if thresholds is None else None)
    try:
        verdict, report = gate_dir(directory, th)
    except FileNotFoundError as exc:
        render.console().print(f"[red]{exc}[/red]")
        raise typer.Exit(ExitCode.USAGE) from None
    _show(verdict, run, {"report": str(report)})
    raise typer.Exit(ExitCode.OK if verdict.passed else ExitCode.FINDINGS)


class _LiveProgress:
    """rich progress bar with ETA and the latest KPIs."""

    def __enter__(self) -> _LiveProgress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._p = Progress(TextColumn("soak"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                           TextColumn("{task.fields[kpi]}"),
                           console=render.console(), transient=False)
        self._p.__enter__()
        self._task = self._p.add_task("soak", total=1.0, kpi="starting emulator and bot")
        return self

    def __exit__(self, *exc: object) -> None:
        self._p.__exit__(None, None, None)

    def update(self, elapsed: float, total: float, last: Mapping[str, Any], faults: int) -> None:
        def num(key: str, scale: float = 1.0, fmt: str = ".0f") -> str:
            v = last.get(key)
            return format(float(v) * scale, fmt) if isinstance(v, (int, float)) else "-"

        kpi = (f"RSS {num('rss_bytes', 1 / 2**20)} MB | FDs {num('fds')} | p99 {num('p99_us', 1e-3, '.2f')} ms | "
               f"fills {num('fills')} maker {num('maker_share', 1, '.3f')} | reconnects {num('reconnects')} | "
               f"faults {faults} | pnl {num('pnl_realized', 1, '.2f')}")
        self._p.update(self._task, total=total, completed=min(elapsed, total), kpi=kpi)
