"""Where the bot's event loop spends its time during a run: slow steps by task, and the quote cycle.

Runs the bot as `bench/bench_tick_to_order.py` does (the emulator in a child process with
`--external`, or in-process) and times every event-loop callback. Steps longer than
`--slow-us` are attributed to their task (a book update arriving during one waits for it);
QuoteCycle.on_book is timed separately, split by whether the cycle sent orders. For every
tick-to-order sample over `--anatomy-us`, the steps that ran between the book update's arrival and
the request going out are summed by task ("(between steps)": selector waits and loop overhead),
so a slow sample shows what it waited for. Diagnostic
instrumentation: the figures carry its overhead (a few percent). Not a timed test.

    python bench/loop_profile.py --duration 20 --external
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import time
from asyncio import events
from typing import Any

import bench_tick_to_order as t2o

from bot.common import json_io
from bot.observability import recorder as recorder_mod
from bot.portfolio import cycle as cycle_mod
from bot.runtime import account as account_mod
from bot.runtime import sender as sender_mod
from bot.runtime import trading as trading_mod


def _pct(xs: list[int], p: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[int(p * (len(s) - 1))] / 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--external", action="store_true", help="emulator in a child process")
    ap.add_argument("--pin", action="store_true", help="with --external: emulator and bot on separate CPUs")
    ap.add_argument("--slow-us", type=float, default=300.0, help="a step at least this long is listed")
    ap.add_argument("--anatomy-us", type=float, default=1000.0,
                    help="tick-to-order samples at least this long are broken down by the steps they waited on")
    args = ap.parse_args()
    slow_n: collections.Counter[str] = collections.Counter()
    slow_ns: collections.Counter[str] = collections.Counter()
    busy = [0, 0]
    limit = int(args.slow_us * 1000)
    run_step = events.Handle._run
    recent: collections.deque[tuple[int, int, Any]] = collections.deque(maxlen=20_000)

    def step_name(cb: Any) -> str:
        owner = getattr(cb, "__self__", None)
        if isinstance(owner, asyncio.Task):
            coro: Any = owner.get_coro()
            name = owner.get_name()
            if name.startswith("Task-"):  # one entry per coroutine, not per short-lived task
                frame = getattr(coro, "cr_frame", None)
                stream = getattr(frame.f_locals.get("self"), "_kind", None) if frame is not None else None
                name = f"stream {stream.value}" if stream is not None else "Task"
            return f"{getattr(coro, '__qualname__', coro)} [{name}]"
        return str(getattr(cb, "__qualname__", repr(cb)))

    parts: collections.Counter[str] = collections.Counter()  # the current step's time by part
    slow_parts: collections.Counter[str] = collections.Counter()  # summed over slow steps

    step_start = [0]
    step_cb: list[Any] = [None]

    def timed(self: events.Handle) -> None:
        parts.clear()
        t = step_start[0] = time.monotonic_ns()  # the clock of BookUpdate.ts_recv_ns
        step_cb[0] = self._callback  # type: ignore[attr-defined]
        run_step(self)
        end = time.monotonic_ns()
        dt = end - t
        busy[0] += dt
        busy[1] += 1
        cb: Any = self._callback  # type: ignore[attr-defined]
        recent.append((t, end, cb))
        if dt >= limit:
            name = step_name(cb)
            slow_n[name] += 1
            slow_ns[name] += dt
            if parts:
                slow_parts.update({f"{name}: {k}": v for k, v in parts.items()})
                slow_parts[f"{name}: (rest)"] += dt - sum(parts.values())

    def part(label: str, fn: Any) -> Any:
        def wrapped(*a: Any, **k: Any) -> Any:
            t = time.monotonic_ns()
            try:
                return fn(*a, **k)
            finally:
                parts[label] += time.monotonic_ns() - t
        return wrapped

    trader_cls = trading_mod.Trader
    trader_cls._apply_book = part("apply_book", trader_cls._apply_book)  # type: ignore[method-assign]
    cycle_mod.QuoteCycle.on_book = part("QuoteCycle.on_book", cycle_mod.QuoteCycle.on_book)  # type: ignore[method-assign]
    for meth in ("record", "record_raw"):
        setattr(recorder_mod.Recorder, meth, part(f"recorder.{meth}", getattr(recorder_mod.Recorder, meth)))
    for fn in ("on_fills", "on_order"):
        setattr(account_mod, fn, part(f"account.{fn}", getattr(account_mod, fn)))
    sender_mod.OrderSender.submit = part("sender.submit", sender_mod.OrderSender.submit)  # type: ignore[method-assign]

    anatomy_limit = int(args.anatomy_us * 1000)
    anatomy: collections.Counter[str] = collections.Counter()
    anatomy_n = [0, 0]
    on_wire = sender_mod.OrderSender._tick_to_order

    def traced_on_wire(self: sender_mod.OrderSender, tick_ns: int, symbol: str, out_ns: int) -> None:
        anatomy_n[1] += 1
        if out_ns - tick_ns >= anatomy_limit:
            anatomy_n[0] += 1
            in_steps = 0
            # the step running now, then the steps finished since the book update; a write its task
            # sent is timed when the task ends (after the ack): steps after `out_ns` do not count
            for start, end, cb in [(step_start[0], out_ns, step_cb[0]), *reversed(recent)]:
                if end <= tick_ns:
                    break
                if start >= out_ns:
                    continue
                part = min(end, out_ns) - max(start, tick_ns)
                in_steps += part
                anatomy[step_name(cb)] += part
            anatomy["(between steps)"] += (out_ns - tick_ns) - in_steps
        on_wire(self, tick_ns, symbol, out_ns)

    sent: list[int] = []
    other: list[int] = []
    on_book = cycle_mod.QuoteCycle.on_book

    def timed_on_book(self: cycle_mod.QuoteCycle, *a: Any, **k: Any) -> cycle_mod.CycleResult:
        t = time.perf_counter_ns()
        r = on_book(self, *a, **k)
        (sent if r.batches else other).append(time.perf_counter_ns() - t)
        return r

    events.Handle._run = timed  # type: ignore[method-assign]
    sender_mod.OrderSender._tick_to_order = traced_on_wire  # type: ignore[method-assign]
    cycle_mod.QuoteCycle.on_book = timed_on_book  # type: ignore[method-assign]
    res = asyncio.run(t2o._run(argparse.Namespace(duration=args.duration, speed=args.speed,
                                                  external=args.external, pin=args.pin)))
    out = {
        "loop_steps": busy[1], "loop_busy_s": round(busy[0] / 1e9, 3),
        f"steps_over_{args.slow_us:g}us": [
            {"task": k, "n": n, "mean_us": round(slow_ns[k] / n / 1000)} for k, n in slow_n.most_common(12)],
        "on_book_sending_us": {"n": len(sent), "p50": _pct(sent, 0.5), "p90": _pct(sent, 0.9)},
        "on_book_other_us": {"n": len(other), "p50": _pct(other, 0.5), "p90": _pct(other, 0.9)},
        f"steps_over_{args.slow_us:g}us_by_part_ms": {k: round(v / 1e6, 1) for k, v in slow_parts.most_common(14)},
        f"samples_over_{args.anatomy_us:g}us": {
            "n": anatomy_n[0], "of": anatomy_n[1],
            "mean_us_by_step": {k: round(v / max(anatomy_n[0], 1) / 1000) for k, v in anatomy.most_common(12) if v}},
        "tick_to_order": {k: res[k] for k in ("tick_to_order_samples", "tick_to_order_p50_us",
                                              "tick_to_order_p99_us", "share_under_1ms")},
    }
    print(json_io.dumps_str(out, indent=True))


if __name__ == "__main__":
    main()
