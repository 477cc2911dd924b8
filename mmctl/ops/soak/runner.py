"""`mmctl soak`: start (or attach to) the bot, sample it, inject faults, stop it, gate and report."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.common import json_io
from bot.observability.logging import get_logger
from mmctl.ops.soak.faults import FAULT_KINDS, FaultEvent, FaultInjector, build_schedule
from mmctl.ops.soak.gate import Thresholds, Verdict, evaluate
from mmctl.ops.soak.procs import (
    BotProcess,
    ChildProcess,
    SimProcess,
    bot_env,
    parse_sim_banner,
    spawn,
    terminate_group,
    wait_for,
    wait_run_json,
)
from mmctl.ops.soak.sampler import Sampler, SampleSink, read_samples

__all__ = ["SoakOptions", "SoakResult", "gate_dir", "run_soak"]

log = get_logger(__name__)

SAMPLES, FAULTS, META, SUMMARY, VERDICT, REPORT = (
    "samples.jsonl", "faults.jsonl", "meta.json", "summary.json", "verdict.json", "report.html")

Progress = Callable[[float, float, Mapping[str, Any], int], None]  # (elapsed, total, last sample, faults)


@dataclass
class SoakOptions:
    hours: float
    out_dir: Path
    thresholds: Thresholds
    interval_s: float = 10.0
    fault_rate_per_h: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    speed: float = 1.0
    attach_url: str | None = None  # attach: sample this bot, do not start or stop anything
    attach_pid: int | None = None
    sim_url: str | None = None  # attach: the emulator to send faults to
    config_path: Path | None = None
    overrides: tuple[str, ...] = ()
    bot_argv: Sequence[str] | None = None  # managed: replaces `python -m mmctl` (global opts + "run" appended)
    bot_extra_env: Mapping[str, str] = field(default_factory=dict)
    stop_timeout_s: float = 45.0
    start_timeout_s: float = 60.0
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SoakResult:
    verdict: Verdict
    out_dir: Path
    report: Path
    interrupted: bool


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_sim(opts: SoakOptions, symbols: Sequence[str], env: Mapping[str, str]) -> SimProcess:
    """The emulator (`python -m bot.sim`, the same serve() as `mmctl sim`) on an ephemeral loopback port;
    its banner gives the URLs and a throwaway key pair."""
    argv = [sys.executable, "-m", "bot.sim", "--host", "127.0.0.1", "--port", "0", "--symbols", ",".join(symbols),
            "--seed", str(opts.seed), "--speed", str(opts.speed)]
    child = spawn("sim", argv, cwd=opts.out_dir, env=bot_env(env, {}), log_path=opts.out_dir / "sim.log")
    try:
        banner = wait_for(lambda: parse_sim_banner(child.log.head()), timeout_s=opts.start_timeout_s,
                          what="the sim banner", child=child)
    except BaseException:
        _abandon(child)
        raise
    assert isinstance(banner, dict)
    return SimProcess(child, banner["rest_url"], banner["ws_public_url"], banner["ws_private_url"],
                      banner.get("ws_trade_url", ""), banner["api_key"], banner["api_secret"])


def bot_dirs(bot_root: Path) -> dict[str, Path]:
    return {"logs": bot_root / "logs", "recordings": bot_root / "recordings", "state": bot_root / "state"}


def attached_dirs(cfg: Any) -> dict[str, Path]:
    """Where a bot started with this config keeps its files, resolved as bot.runtime does: state_dir and
    log_dir against the working directory, a relative recorder_dir under state_dir."""
    state = Path(cfg.state_dir).absolute()
    rec = Path(cfg.monitoring.recorder_dir)
    return {"logs": Path(cfg.monitoring.log_dir).absolute(), "recordings": rec if rec.is_absolute() else state / rec,
            "state": state}


def start_bot(opts: SoakOptions, sim: SimProcess, env: Mapping[str, str]) -> BotProcess:
    root = opts.out_dir / "bot"
    dirs = bot_dirs(root)
    soak_overrides = [
        "venue=sim", f"exchange.rest_url={sim.rest_url}", f"exchange.ws_public_url={sim.ws_public_url}",
        f"exchange.ws_private_url={sim.ws_private_url}", f"exchange.ws_trade_url={sim.ws_trade_url}",
        f"state_dir={dirs['state']}", f"monitoring.log_dir={dirs['logs']}",
        f"monitoring.recorder_dir={dirs['recordings']}", "monitoring.web_port=0",
    ]
    overrides = [*opts.overrides, *soak_overrides]
    prefix = list(opts.bot_argv) if opts.bot_argv else [sys.executable, "-m", "mmctl"]
    if opts.config_path is not None:
        prefix += ["--config", str(opts.config_path)]
    argv = [*prefix, *(a for o in overrides for a in ("--set", o)), "run"]
    extra = {"BYBIT_API_KEY": sim.api_key, "BYBIT_API_SECRET": sim.api_secret, **opts.bot_extra_env}
    child = spawn("bot", argv, cwd=root, env=bot_env(env, extra), log_path=opts.out_dir / "bot.log")
    try:
        info = wait_run_json(dirs["state"], child, timeout_s=opts.start_timeout_s)
    except BaseException:
        _abandon(child)
        raise
    return BotProcess(child, str(info["web_url"]), info)


def _abandon(child: ChildProcess) -> None:
    child.stop(timeout_s=10)
    terminate_group(child)


def orphan_orders(sim: SimProcess, symbols: Sequence[str], category: str) -> tuple[int | None, str]:
    """Open orders left on the emulator after the bot stopped (signed GET /v5/order/realtime)."""
    from mmctl.ops.doctor import VenueProbe

    last = ""
    for attempt in range(5):  # a 10006 or 5xx from the venue is retried; the answer is never guessed
        try:
            with VenueProbe(sim.rest_url, sim.api_key, sim.api_secret) as probe:
                counts = {s: len(probe.open_orders(category, s)) for s in symbols}
            return sum(counts.values()), ", ".join(f"{k}={v}" for k, v in counts.items())
        except Exception as exc:  # reported as NO DATA, never as zero orphans
            last = f"{type(exc).__name__}: {exc}"[:200]
            log.warning("soak_orphan_check_failed", attempt=attempt + 1, error=last)
            time.sleep(1.0 + attempt)
    return None, f"check failed: {last}"


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, _frame: object) -> None:
        self.requested = True


def run_soak(opts: SoakOptions, *, progress: Progress | None = None) -> SoakResult:
    """The whole soak; returns the gate's verdict (written with the report into opts.out_dir)."""
    from bot.config import cfg_hash_sanitized, git_sha, load_config

    out = opts.out_dir
    out.mkdir(parents=True, exist_ok=True)
    env = dict(opts.env)
    cfg = load_config(opts.config_path, env=env, overrides=opts.overrides, require_secrets=False)
    duration_s = opts.hours * 3600.0
    managed = opts.attach_url is None
    th = opts.thresholds
    schedule = build_schedule(duration_s, opts.fault_rate_per_h, seed=opts.seed, kinds=opts.fault_kinds,
                              start_after_s=min(th.warmup_s, th.warmup_fraction_max * duration_s),
                              min_gap_s=min(th.recover_timeout_s, max(opts.interval_s * 3, duration_s / 20)),
                              end_margin_s=min(th.recover_timeout_s, duration_s * 0.1) + opts.interval_s,
                              symbols=cfg.symbols)
    meta: dict[str, Any] = {
        "mode": "managed" if managed else "attach", "hours": opts.hours, "interval_s": opts.interval_s,
        "speed": opts.speed, "seed": opts.seed, "fault_rate_per_h": opts.fault_rate_per_h,
        "config_hash": cfg_hash_sanitized(cfg), "git_sha": git_sha(), "venue": "sim" if managed else cfg.venue,
        "symbols": list(cfg.symbols), "started_at": _now_iso(), "schedule": [e.to_json() for e in schedule],
        "thresholds": _thresholds_json(th),
    }
    json_io.save_file(out / META, meta)
    stop = _Stop()
    old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    sim: SimProcess | None = None
    bot: BotProcess | None = None
    children: list[ChildProcess] = []
    faults: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"duration_s": 0.0, "faults": faults, "orphan_orders": None, "exit_ok": True}
    started = time.monotonic()
    sink = SampleSink(out / SAMPLES)
    fault_sink = SampleSink(out / FAULTS)
    injector: FaultInjector | None = None
    sampler: Sampler | None = None
    pid: int | None
    try:
        if managed:
            try:
                sim = start_sim(opts, cfg.symbols, env)
                children.append(sim.child)
                bot = start_bot(opts, sim, env)
                children.append(bot.child)
            except (RuntimeError, TimeoutError) as exc:
                from bot.errors import MMError

                raise MMError(f"soak could not start: {exc} (logs in {out})") from exc
            meta["run_config_hash"] = bot.run_info.get("config_hash")
            meta["bot_pid"] = bot.child.pid
            web_url, pid, dirs = bot.web_url, bot.child.pid, bot_dirs(out / "bot")
            sim_url: str | None = sim.rest_url
        else:
            assert opts.attach_url is not None
            web_url, pid, sim_url = opts.attach_url, opts.attach_pid, opts.sim_url
            dirs = attached_dirs(cfg)
        meta["web_url"] = web_url
        json_io.save_file(out / META, meta)
        if schedule and sim_url:
            injector = FaultInjector(sim_url)
        elif schedule:
            log.warning("soak_faults_skipped", reason="no emulator URL to send faults to")
        sampler = Sampler(web_url, pid=pid, dirs=dirs, flat_dirs={"soak_artifacts": out}, speed=opts.speed)
        started = sampler.started
        pending = list(schedule) if injector else []
        next_sample = 0.0
        last: dict[str, Any] = {}
        while not stop.requested:
            elapsed = time.monotonic() - started
            if elapsed >= duration_s:
                break
            while pending and pending[0].at_s <= elapsed:
                faults.append(_inject(injector, pending.pop(0), elapsed, fault_sink))
            if elapsed >= next_sample:
                last = sampler.sample()
                last["faults"] = len(faults)
                sink.write(last)
                next_sample += opts.interval_s
                if bot is not None and not bot.child.alive():
                    log.error("soak_bot_died", exit_code=bot.child.proc.returncode)
                    summary["exit_ok"] = False
                    break
            if progress is not None:
                progress(elapsed, duration_s, last, len(faults))
            time.sleep(max(0.05, min(0.5, next_sample - (time.monotonic() - started))))
        if sampler is not None and (bot is None or bot.child.alive()):
            last = sampler.sample()  # one sample at the end, before the shutdown
            last["faults"] = len(faults)
            sink.write(last)
        summary["duration_s"] = time.monotonic() - started
        if injector is not None:
            summary["faults_cleared_before_stop"] = injector.clear()
        if bot is not None and sim is not None:
            code, took, graceful = bot.child.stop(timeout_s=opts.stop_timeout_s)
            summary.update(bot_exit_code=code, stop_s=round(took, 3), stop_graceful=graceful)
            summary["exit_ok"] = summary["exit_ok"] and graceful and code in (0, -signal.SIGTERM)
            summary["orphan_orders"], summary["orphan_detail"] = orphan_orders(sim, cfg.symbols, cfg.category)
        else:
            summary["orphan_detail"] = "attach mode: the bot was left running, no final shutdown to check"
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        for closable in (sampler, injector, sink, fault_sink):
            if closable is not None:
                closable.close()
        for child in reversed(children):
            if child.alive():
                child.stop(timeout_s=10)
            terminate_group(child)
    summary["interrupted"] = stop.requested
    meta.update(ended_at=_now_iso(), wall_s=round(summary["duration_s"], 3),
                market_s=round(summary["duration_s"] * opts.speed, 3))
    json_io.save_file(out / META, meta)
    json_io.save_file(out / SUMMARY, summary)
    if not managed:
        th = _with_optional(th, "orphan_orders_after_shutdown")
    verdict, report = gate_dir(out, th)
    return SoakResult(verdict, out, report, stop.requested)


def _with_optional(th: Thresholds, name: str) -> Thresholds:
    from dataclasses import replace

    return replace(th, optional=(*th.optional, name))


def _thresholds_json(th: Thresholds) -> dict[str, Any]:
    from dataclasses import asdict

    doc = asdict(th)
    doc["dir_bounds_bytes"] = dict(th.dir_bounds_bytes)
    doc["optional"] = list(th.optional)
    return doc


def _inject(injector: FaultInjector | None, event: FaultEvent, elapsed: float, sink: SampleSink) -> dict[str, Any]:
    assert injector is not None
    ok, detail = injector.inject(event)
    rec = {"elapsed_s": round(elapsed, 3), "t": round(time.time(), 3), "kind": event.kind, "ok": ok,
           "detail": detail, "scheduled_s": event.at_s}
    sink.write(rec)
    return rec


def gate_dir(out: Path, th: Thresholds | None = None) -> tuple[Verdict, Path]:
    """Re-run the gate on a soak directory (samples + summary) and rewrite verdict.json and the report.

    Raises:
        FileNotFoundError: the directory holds no samples.
    """
    from mmctl.ops.soak.report import write_report

    samples = read_samples(out / SAMPLES)
    if not samples:
        raise FileNotFoundError(f"no samples in {out / SAMPLES}")
    summary = json_io.load_file(out / SUMMARY) if (out / SUMMARY).exists() else {}
    meta = json_io.load_file(out / META) if (out / META).exists() else {}
    if th is None:
        th = Thresholds().with_overrides(
            {k: v for k, v in (meta.get("thresholds") or {}).items() if k in Thresholds.__dataclass_fields__})
    faults = read_samples(out / FAULTS)
    summary.setdefault("faults", faults)
    verdict = evaluate(samples, summary, th)
    doc = verdict.to_json() | {"config_hash": meta.get("config_hash"), "git_sha": meta.get("git_sha"),
                               "mode": meta.get("mode"), "hours": meta.get("hours"), "wall_s": meta.get("wall_s"),
                               "market_s": meta.get("market_s"), "speed": meta.get("speed"),
                               "ended_at": meta.get("ended_at"), "gated_at": _now_iso()}
    json_io.save_file(out / VERDICT, doc)
    report = write_report(out / REPORT, verdict=verdict, meta=meta, samples=samples, faults=summary["faults"])
    return verdict, report
