"""Where does the bot's memory go? The bot in-process against the emulator in a child process.

Runs `bot.runtime.core.Bot` (what `mmctl run` runs) in this process against `python -m bot.sim`
in a child (so, as in `mmctl soak`, the measured process holds only the bot), optionally drops
every WebSocket every `--drop-every` seconds through the emulator's `/sim/faults/drop_ws`, and
every `--sample-every` seconds records: RSS (kernel), tracemalloc's traced total and per-interval
peak, live asyncio tasks, gc object counts, glibc's heap (in use / free but kept / mmapped, via
mallinfo2) and SQLite's own allocator (sqlite3_memory_used): the last two are memory tracemalloc
never sees. At the end it prints

- the slopes after the warm-up (least squares, MB/h) of RSS, heap in use, heap free, SQLite,
- how much RSS malloc_trim(0) gives back (free heap the allocator kept),
- the tracemalloc growth by allocation site between the end of the warm-up and the end,
- the object types whose live count grew the most.

    .venv/bin/python bench/mem_growth.py --seconds 300 --warmup 60 --drop-every 10 --frames 8

`--frames 0` disables tracemalloc (RSS as the soak sees it, no tracing overhead: use it for
slopes; a snapshot itself inflates RSS). `--trace-backfill` reports what each execution backfill
(run at every private reconnect) read and cost. Reconnecting every few seconds needs
`--set exchange.reconnect.healthy_after_s=1 --set exchange.reconnect.max_attempts=1000
--set exchange.ping_interval_s=2`, or the backoff grows until the streams are exhausted.
`--json PATH` writes every sample and the top sites for later comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import gc
import os
import signal
import subprocess  # nosec B404: fixed argv, no shell
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def slope_mb_per_h(rows: list[tuple[float, float]]) -> float | None:
    if len(rows) < 2:
        return None
    n = len(rows)
    mx = sum(t for t, _ in rows) / n
    my = sum(v for _, v in rows) / n
    den = sum((t - mx) ** 2 for t, _ in rows)
    if den == 0:
        return None
    return sum((t - mx) * (v - my) for t, v in rows) / den * 3600 / 2**20


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]


def native_mem() -> dict[str, int]:
    """glibc heap (in use / free but kept / mmapped) and SQLite's own allocator: memory tracemalloc never sees."""
    out: dict[str, int] = {}
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        mi = libc.mallinfo2()
        out.update(heap_used=mi.uordblks, heap_free=mi.fordblks, mmapped=mi.hblkhd)
    except (OSError, AttributeError):
        pass
    try:
        import _sqlite3

        lib = ctypes.CDLL(_sqlite3.__file__)
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        out["sqlite"] = int(lib.sqlite3_memory_used())
    except (OSError, AttributeError, ImportError):
        pass
    return out


def malloc_trim() -> bool:
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def type_counts() -> collections.Counter[str]:
    gc.collect()
    return collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def snap_to_disk(path: Path) -> Path:
    snap = tracemalloc.take_snapshot()
    snap.dump(str(path))
    del snap
    gc.collect()
    return path


def _drain(stream: Any) -> None:
    for _ in stream:  # the emulator's log: read so its pipe never fills
        pass


def _trace_backfill(out: list[dict[str, Any]], proc: Any) -> None:
    """Wrap reconcile.backfill_executions (what a private reconnect runs): executions read, RSS and traced peak."""
    from bot.runtime import reconcile

    inner = reconcile.backfill_executions

    async def traced(client: Any, ledger: Any, symbols: Any) -> Any:
        pages: list[int] = []
        real_list, real_pages = client.executions, getattr(client, "execution_pages", None)

        async def executions(since_ms: int, symbol: Any = None) -> Any:
            got = await real_list(since_ms, symbol)
            pages.append(len(got))
            return got

        async def execution_pages(since_ms: int, symbol: Any = None) -> Any:
            pages.append(0)
            async for page in real_pages(since_ms, symbol):  # type: ignore[misc]  # set when wrapped
                pages[-1] += len(page)
                yield page

        client.executions = executions
        if real_pages is not None:
            client.execution_pages = execution_pages
        rss0 = proc.memory_info().rss
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0
        t0 = time.monotonic()
        try:
            return await inner(client, ledger, symbols)
        finally:
            del client.executions
            if real_pages is not None:
                del client.execution_pages
            peak = tracemalloc.get_traced_memory()[1] - base if tracemalloc.is_tracing() else 0
            out.append({"read": pages, "ms": round((time.monotonic() - t0) * 1000, 1),
                        "rss_step": proc.memory_info().rss - rss0, "traced_peak": peak})
            print(f"backfill: executions read per symbol {pages} in {out[-1]['ms']} ms, "
                  f"transient traced peak {peak / 2**20:.2f} MB, RSS step {out[-1]['rss_step'] / 2**20:+.2f} MB",
                  flush=True)

    reconcile.backfill_executions = traced


def start_sim(symbols: str, seed: int, speed: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    from mmctl.ops.soak.procs import parse_sim_banner

    argv = [sys.executable, "-m", "bot.sim", "--host", "127.0.0.1", "--port", "0", "--symbols", symbols,
            "--seed", str(seed), "--speed", str(speed)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # nosec B603
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        banner = parse_sim_banner(lines)
        if banner is not None:
            import threading

            threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
            return proc, banner
    proc.kill()
    raise SystemExit(f"no sim banner: {lines[-5:]}")


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    import psutil

    from bot.config import load_config
    from bot.runtime.core import Bot, BotOptions

    sim, banner = start_sim(args.symbols, args.seed, args.speed)
    sim_url = banner["rest_url"].rstrip("/")
    root = Path(tempfile.mkdtemp(prefix="mem_growth-"))
    overrides = [
        "venue=sim", f"exchange.rest_url={banner['rest_url']}", f"exchange.ws_public_url={banner['ws_public_url']}",
        f"exchange.ws_private_url={banner['ws_private_url']}",
        f"exchange.ws_trade_url={banner.get('ws_trade_url', '')}",
        f"state_dir={root / 'state'}", f"monitoring.log_dir={root / 'logs'}",
        f"monitoring.recorder_dir={root / 'recordings'}", "monitoring.web_port=0", *args.set,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYBIT_", "MM_"))}
    env.update({"BYBIT_API_KEY": banner["api_key"], "BYBIT_API_SECRET": banner["api_secret"]})
    cfg = load_config(None, env=env, overrides=overrides)
    bot = Bot(cfg, BotOptions(install_signals=False))
    proc = psutil.Process()
    samples: list[dict[str, Any]] = []
    snaps: dict[str, Path] = {}
    counts: dict[str, collections.Counter[str]] = {}
    drops = 0

    async def monitor() -> None:
        nonlocal drops
        t0 = time.monotonic()
        next_drop = t0 + args.warmup / 2 if args.drop_every else float("inf")
        next_sample = t0
        async with httpx.AsyncClient(timeout=5) as http:
            while (now := time.monotonic()) - t0 < args.seconds:
                if now >= next_drop:
                    r = await http.post(f"{sim_url}/sim/faults/drop_ws", json={})
                    drops += r.status_code < 300
                    next_drop += args.drop_every
                if now >= next_sample:
                    el = now - t0
                    traced, peak = tracemalloc.get_traced_memory() if tracemalloc.is_tracing() else (0, 0)
                    if tracemalloc.is_tracing():
                        tracemalloc.reset_peak()  # peak per interval: the transient a reconnect costs
                    row = {"t": round(el, 1), "rss": proc.memory_info().rss, "traced": traced, "peak": peak,
                           "tasks": len(asyncio.all_tasks()), "drops": drops,
                           "gc_objects": len(gc.get_objects()), **native_mem()}
                    samples.append(row)
                    if not args.quiet:
                        print(f"t={el:7.1f}s rss={row['rss'] / 2**20:7.2f}MB traced={traced / 2**20:7.2f}MB "
                              f"tasks={row['tasks']} objs={row['gc_objects']} drops={drops} "
                              f"heap_used={row.get('heap_used', 0) / 2**20:.2f}MB "
                              f"heap_free={row.get('heap_free', 0) / 2**20:.2f}MB "
                              f"mmap={row.get('mmapped', 0) / 2**20:.2f}MB sqlite={row.get('sqlite', 0) / 2**20:.2f}MB",
                              flush=True)
                    if "warm" not in counts and el >= args.warmup:
                        counts["warm"] = type_counts()
                        if tracemalloc.is_tracing():  # on disk: a snapshot held in memory is itself growth
                            snaps["warm"] = snap_to_disk(root / "warm.tm")
                    next_sample += args.sample_every
                await asyncio.sleep(0.25)
        counts["end"] = type_counts()
        rss0 = proc.memory_info().rss
        trimmed = malloc_trim()
        rss1 = proc.memory_info().rss
        print(f"malloc_trim(0) at the end: released={trimmed} RSS {rss0 / 2**20:.2f} -> {rss1 / 2**20:.2f} MB",
              flush=True)
        if tracemalloc.is_tracing():
            snaps["end"] = snap_to_disk(root / "end.tm")
        bot.request_stop("mem_growth done")

    backfills: list[dict[str, Any]] = []
    if args.trace_backfill:
        _trace_backfill(backfills, proc)
    if args.frames:
        tracemalloc.start(args.frames)
    mon = asyncio.ensure_future(monitor())
    try:
        await bot.run()
        if not mon.done():
            print(f"the bot stopped on its own ({bot._stop_reason}) before the run's end", flush=True)
    finally:
        mon.cancel()
        await asyncio.gather(mon, return_exceptions=True)
        sim.terminate()
        sim.wait(10)
    return {"samples": samples, "snaps": snaps, "counts": counts, "drops": drops, "root": str(root),
            "backfills": backfills}


def report(res: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    samples = res["samples"]
    steady = [s for s in samples if s["t"] >= args.warmup]
    out: dict[str, Any] = {
        "drops": res["drops"], "samples": samples,
        "rss_slope_mb_h": slope_mb_per_h([(s["t"], s["rss"]) for s in steady]),
        **{f"{k}_slope_mb_h": slope_mb_per_h([(s["t"], s[k]) for s in steady if k in s])
           for k in ("heap_used", "heap_free", "mmapped", "sqlite")},
        "traced_slope_mb_h": slope_mb_per_h([(s["t"], s["traced"]) for s in steady]) if args.frames else None,
    }
    print(f"\ndrop_ws faults: {res['drops']}; steady samples: {len(steady)}")
    for k in ("rss", "heap_used", "heap_free", "mmapped", "sqlite"):
        v = out.get(f"{k}_slope_mb_h")
        print(f"{k} slope after warm-up: {'n/a' if v is None else f'{v:.2f}'} MB/h")
    if args.frames:
        print(f"tracemalloc traced slope after warm-up: {out['traced_slope_mb_h']} MB/h")
    snaps = res["snaps"]
    sites: list[dict[str, Any]] = []
    if "warm" in snaps and "end" in snaps:
        flt = [tracemalloc.Filter(False, tracemalloc.__file__),
               tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"), tracemalloc.Filter(False, __file__)]
        a = tracemalloc.Snapshot.load(str(snaps["warm"])).filter_traces(flt)
        b = tracemalloc.Snapshot.load(str(snaps["end"])).filter_traces(flt)
        span_h = max(1e-9, (samples[-1]["t"] - args.warmup) / 3600)
        print(f"\ntop {args.top} allocation sites by growth (warm-up end -> end), lineno:")
        for st in b.compare_to(a, "lineno")[:args.top]:
            fr = st.traceback[0]
            rate = st.size_diff / 2**20 / span_h
            print(f"  {st.size_diff / 2**10:+9.1f} KiB {st.count_diff:+7d} blocks ({rate:+6.2f} MB/h)"
                  f"  {fr.filename}:{fr.lineno}")
            sites.append({"site": f"{fr.filename}:{fr.lineno}", "kib": round(st.size_diff / 1024, 1),
                          "blocks": st.count_diff})
        print(f"\ntop {args.top_tb} by traceback:")
        for st in b.compare_to(a, "traceback")[:args.top_tb]:
            print(f"  {st.size_diff / 2**10:+9.1f} KiB {st.count_diff:+7d} blocks")
            for line in st.traceback.format(limit=args.frames, most_recent_first=True):
                print("      " + line)
    out["sites"] = sites
    if "warm" in res["counts"] and "end" in res["counts"]:
        diff = res["counts"]["end"].copy()
        diff.subtract(res["counts"]["warm"])
        grown = [(k, v) for k, v in diff.most_common(args.top) if v > 0]
        print(f"\nobject types whose live count grew (warm-up end -> end), top {args.top}:")
        for k, v in grown:
            print(f"  {v:+8d}  {k}  (now {res['counts']['end'][k]})")
        out["types"] = grown
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--warmup", type=float, default=60)
    p.add_argument("--sample-every", type=float, default=10)
    p.add_argument("--drop-every", type=float, default=0, help="drop every WS every S seconds (0 = never)")
    p.add_argument("--frames", type=int, default=8, help="tracemalloc frames (0 = off)")
    p.add_argument("--symbols", default="BTCUSDT,ETHUSDT")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--speed", type=float, default=2.0)
    p.add_argument("--set", action="append", default=[], help="extra config override (repeatable)")
    p.add_argument("--trace-backfill", action="store_true",
                   help="report what each execution backfill (every private reconnect) reads and costs")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--top-tb", type=int, default=8)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--log-level", default="INFO", help="the bot's log level (as in the soak: INFO)")
    p.add_argument("--log-file", type=Path, default=Path(tempfile.gettempdir()) / "mem_growth-bot.log")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, so the emulator child is stopped
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # partial output survives a kill
    from bot.observability.logging import configure

    log_stream = open(args.log_file, "w", encoding="utf-8")  # the soak pipes the bot's console log to a file
    configure(fmt="console", level=args.log_level, stream=log_stream)
    res = asyncio.run(main_async(args))
    out = report(res, args)
    if args.json:
        from bot.common import json_io

        json_io.save_file(args.json, out)


if __name__ == "__main__":
    main()
