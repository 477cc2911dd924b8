"""Tick-to-order latency, start-up time to first quote and shutdown time of a real bot run.

Runs the whole bot in this process (`Bot.run()`, the same object `mmctl run` drives) against the
emulator, either in-process (default venue) or an external one (`--rest-url` etc.), for
`--duration` seconds, then prints the figures as JSON. Not a timed test.

    python bench/bench_tick_to_order.py --duration 60
    python bench/bench_tick_to_order.py --duration 60 --external   # emulator in a child process
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.common import json_io
from bot.config import load_config
from bot.runtime.core import Bot, BotOptions


def _external_sim(speed: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "bot.sim", "--speed", str(speed), "--no-rate-limits",
                             "--symbols", "BTCUSDT,ETHUSDT"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info: dict[str, str] = {}
    try:
        while not {"REST", "WS", "KEY", "SECRET"} <= info.keys():
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("emulator did not start")
            key, _, value = line.strip().partition(" ")
            info[key] = value.strip()
    except BaseException:
        proc.kill()
        proc.wait(10)
        raise
    return proc, info


def _pin(sim_pid: int) -> None:
    """The emulator on the last CPU, this process on the others: as a venue on another machine, its
    wake-ups do not preempt the bot (each order write woke it on the bot's CPU: ~0.4 ms per send)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    os.sched_setaffinity(sim_pid, {cpus[-1]})
    os.sched_setaffinity(0, set(cpus[:-1]))


async def _run(args: argparse.Namespace) -> dict[str, object]:
    state = Path(tempfile.mkdtemp(prefix="mm-bench-"))
    sets = [f"state_dir={json_io.dumps_str(str(state))}", "monitoring.web_port=0", "rollout.enabled=false"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    sim_proc = None
    if args.external:
        sim_proc, info = _external_sim(args.speed)
        if getattr(args, "pin", False):
            _pin(sim_proc.pid)
        ws = info["WS"].rstrip("/")
        sets += [f"exchange.rest_url={json_io.dumps_str(info['REST'])}",
                 f"exchange.ws_public_url={json_io.dumps_str(ws + '/v5/public')}",
                 f"exchange.ws_private_url={json_io.dumps_str(ws + '/v5/private')}",
                 f"exchange.ws_trade_url={json_io.dumps_str(ws + '/v5/trade')}"]
        env.update({"BYBIT_API_KEY": info["KEY"], "BYBIT_API_SECRET": info["SECRET"]})
    cfg = load_config(None, env=env, overrides=sets + list(getattr(args, "set", None) or []))
    bot = Bot(cfg, BotOptions(duration_s=args.duration, install_signals=False))
    t0 = time.monotonic()
    try:
        report = await bot.run()
    finally:
        if sim_proc is not None:
            sim_proc.terminate()
            sim_proc.wait(10)
    hist = bot.metrics.tick_to_order
    st = bot.status()
    return {
        "venue": "external emulator" if args.external else "in-process emulator",
        "duration_s": args.duration, "wall_s": round(time.monotonic() - t0, 2),
        "tick_to_order_samples": bot.latency.count,
        "tick_to_order_p50_us": bot.latency.percentile_us(0.5),
        "tick_to_order_p90_us": bot.latency.percentile_us(0.9),
        "tick_to_order_p99_us": bot.latency.percentile_us(0.99),
        "tick_to_order_max_us": bot.latency.percentile_us(1.0),
        "share_under_1ms": round(bot.latency.share_below(1_000_000), 4),
        "first_quote_s": round(bot.first_quote_s or -1, 3),
        "shutdown_s": round(report.duration_s, 3), "shutdown_ok": report.ok,
        "orders_sent": st["totals"]["orders_sent"], "fills": st["totals"]["fills"],
        "post_only_rejects": st["totals"]["post_only_rejects"],
        "position_notional": {s: str(bot.trader.portfolio.inventory(s).position * (x.mid() or 0))
                              for s, x in (bot.trader.syms.items() if bot.trader else ())},
        "quote_uptime": {s: round(x.seconds_met / x.seconds, 3)
                         for s, x in (bot.trader.syms.items() if bot.trader else ()) if x.seconds},
        "histogram_series": len(list(hist.collect())),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--external", action="store_true", help="emulator in a child process (python -m bot.sim)")
    ap.add_argument("--pin", action="store_true", help="with --external: emulator and bot on separate CPUs")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (repeatable)")
    args = ap.parse_args()
    sys.stdout.write(json_io.dumps_str(asyncio.run(_run(args)), indent=True) + "\n")


if __name__ == "__main__":
    main()
