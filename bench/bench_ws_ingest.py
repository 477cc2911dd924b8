"""WS ingest: orderbook messages/s parsed into events by one BybitStream, and frame arrival -> event latency.

A child process serves a Bybit-shaped public stream (subscribe ack, one snapshot, then N deltas with
consecutive `u`, realistic 1-6 changed levels each); the parent runs the bot's real BybitStream and a
consumer that always keeps up. Two runs:
  saturated  the server sends as fast as it can: messages/s parsed into BookUpdate events
  paced      the server sends at --rate msgs/s: latency from frame arrival (ts_recv_ns, taken by the
             reader) to the consumer holding the parsed event, p50/p99
Run: .venv/bin/python bench/bench_ws_ingest.py [--n 50000] [--rate 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time

from bot.common import json_io


def frames(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    mid = 300000  # ticks of 0.1
    bids = {mid - i: rng.randint(1, 900) for i in range(1, 51)}
    asks = {mid + i: rng.randint(1, 900) for i in range(1, 51)}

    def lv(book: dict[int, int]) -> list[list[str]]:
        return [[f"{p / 10:.1f}", f"{q / 1000:.3f}"] for p, q in book.items()]

    out = [json_io.dumps({"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1, "cts": 1,
                          "data": {"s": "BTCUSDT", "b": lv(bids), "a": lv(asks), "u": 1000, "seq": 1}})]
    for u in range(1001, 1001 + n):
        b = {mid - rng.randint(1, 50): rng.choice([0, rng.randint(1, 900)]) for _ in range(rng.randint(0, 3))}
        a = {mid + rng.randint(1, 50): rng.choice([0, rng.randint(1, 900)]) for _ in range(rng.randint(1, 3))}
        out.append(json_io.dumps({"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": u, "cts": u,
                                  "data": {"s": "BTCUSDT", "b": lv(b), "a": lv(a), "u": u, "seq": u}}))
    return out


def serve(n: int, rate: float) -> None:
    """Child mode: one public stream on 127.0.0.1:<port> (printed), blasting or pacing the frames."""
    import websockets

    msgs = frames(n)

    async def handler(ws: websockets.ServerConnection) -> None:
        try:
            await session(ws)
        except websockets.ConnectionClosed:
            pass  # the client is done

    async def session(ws: websockets.ServerConnection) -> None:
        async for raw in ws:
            req = json_io.loads(raw)
            if req.get("op") == "subscribe":
                await ws.send(json_io.dumps({"success": True, "ret_msg": "", "conn_id": "b", "req_id": req["req_id"],
                                             "op": "subscribe"}))
                t0 = time.perf_counter()
                for i, m in enumerate(msgs):
                    await ws.send(m)
                    if rate:
                        delay = t0 + (i + 1) / rate - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
            elif req.get("op") == "ping":
                await ws.send(json_io.dumps({"op": "pong", "args": ["1"]}))

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", 0, compression=None, max_queue=None) as server:
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


async def consume(port: int, n: int) -> tuple[float, list[float], int]:
    from bot.exchange.bybit.ws import BybitStream
    from bot.exchange.events import BookUpdate, StreamKind

    stream = BybitStream(StreamKind.PUBLIC, f"ws://127.0.0.1:{port}", ["orderbook.50.BTCUSDT"], book_backlog=10**9)
    runner = asyncio.ensure_future(stream.run())
    lat_us: list[float] = []
    got = 0
    t_first = t_last = 0.0
    while got < n + 1:
        ev = await stream.get()
        if isinstance(ev, BookUpdate):
            now = time.monotonic_ns()
            if got == 0:
                t_first = time.perf_counter()
            got += 1
            t_last = time.perf_counter()
            lat_us.append((now - ev.ts_recv_ns) / 1000)
    stream.close()
    await runner
    return (got - 1) / (t_last - t_first), lat_us, stream.queue.coalesced_total


def run(n: int, rate: float) -> tuple[float, list[float], int]:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(n), str(rate)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        return asyncio.run(consume(port, n))
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--rate", type=float, default=2000.0, help="paced run: messages per second")
    ap.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(int(args.serve[0]), float(args.serve[1]))
        return
    from bot.exchange.bybit.parse import parse_ws_message

    parsed = frames(5000)
    t0 = time.perf_counter()
    for raw in parsed:
        parse_ws_message(raw, ts_recv_ns=0)
    parse_only = len(parsed) / (time.perf_counter() - t0)
    rate_sat, lat_sat, _ = run(args.n, 0)
    paced_n = int(min(args.n, args.rate * 10))
    _, lat_paced, _ = run(paced_n, args.rate)
    print(f"parse_ws_message alone:            {parse_only:10.0f} book msgs/s")
    print(f"saturated, {args.n} msgs via socket: {rate_sat:10.0f} book msgs/s parsed into events "
          f"(arrival->event p50 {pct(lat_sat, 50):.0f} us, p99 {pct(lat_sat, 99):.0f} us: queueing under saturation)")
    print(f"paced at {args.rate:.0f} msgs/s, {paced_n} msgs: arrival->event p50 {pct(lat_paced, 50):.1f} us, "
          f"p99 {pct(lat_paced, 99):.1f} us, mean {statistics.fmean(lat_paced):.1f} us")


if __name__ == "__main__":
    main()
