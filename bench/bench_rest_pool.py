"""PERF-001: pooled keep-alive REST vs unpooled, over TLS on loopback against the emulator.

The emulator runs in a child process (no GIL sharing with the client) with a trustme
self-signed certificate; the client is the bot's own BybitRest. Modes:
  pooled     one AsyncClient, keep-alive (what the bot uses)
  unpooled   one AsyncClient, keep-alive off (`Connection: close`): TCP + TLS handshake per call
  per-call   a fresh AsyncClient per call (the pattern PERF-001 replaces)
The client-side rate limiter is scaled x1000 (Bybit's 50/s and 10/s UID limits would otherwise
dominate the figures with their own waits; the emulator's limits are off).
Modes are interleaved in rounds so drift hits all of them alike. `--orders` adds the order path
question of issue 4: a PostOnly create over pooled REST vs over the WS Trade API (wss), ack latency.
Run: .venv/bin/python bench/bench_rest_pool.py [--n 300] [--rounds 3] [--endpoint wallet|time] [--orders]
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trustme

from bot.exchange.bybit.ratelimit import RateLimiter
from bot.exchange.bybit.rest import BybitRest

KEY, SECRET = "bench-key", "bench-secret"


def serve(cert_dir: str) -> None:
    """Child mode: the emulator with TLS; prints its REST URL, runs until stdin closes."""
    from bot.sim import SimAccount, SimConfig, SimServer

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(Path(cert_dir) / "server.pem")
    cfg = SimConfig(port=0, seed=1, market=False, rate_limits=False, ip_limit_per_5s=0, max_active_orders=10**6,
                    accounts=(SimAccount(api_key=KEY, api_secret=SECRET),), ssl_context=ctx)

    async def main() -> None:
        async with SimServer(cfg) as sim:
            print(sim.rest_url, sim.ws_trade_url, flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


async def call(rest: BybitRest, endpoint: str) -> None:
    if endpoint == "time":
        await rest.get("time", {}, signed=False)
    else:
        await rest.get("wallet", {"accountType": "UNIFIED"})


async def run_mode(mode: str, url: str, ctx: ssl.SSLContext, n: int, endpoint: str) -> list[float]:
    lat: list[float] = []
    if mode == "per-call":
        for i in range(n + 20):
            t0 = time.perf_counter()
            async with BybitRest(url, KEY, SECRET, verify=ctx, limiter=RateLimiter(scale=1000)) as rest:
                await call(rest, endpoint)
            if i >= 20:
                lat.append((time.perf_counter() - t0) * 1000)
        return lat
    async with BybitRest(url, KEY, SECRET, verify=ctx, pooled=mode == "pooled",
                         limiter=RateLimiter(scale=1000)) as rest:
        for i in range(n + 20):  # 20 warm-up calls
            t0 = time.perf_counter()
            await call(rest, endpoint)
            if i >= 20:
                lat.append((time.perf_counter() - t0) * 1000)
    return lat


async def run_orders(rest_url: str, trade_url: str, ctx: ssl.SSLContext, n: int, tag: str
                     ) -> dict[str, list[float]]:
    """Ack latency of one PostOnly create: pooled REST vs WS Trade API, alternating call by call."""
    from decimal import Decimal

    from bot.domain import OrderLinkId, Side, Symbol
    from bot.exchange.base import OrderRequest
    from bot.exchange.bybit.client import BybitClient
    from bot.exchange.events import StreamState, StreamStatus

    out: dict[str, list[float]] = {"rest create": [], "ws-trade create": []}
    rest = BybitRest(rest_url, KEY, SECRET, verify=ctx, limiter=RateLimiter(scale=1000))
    async with BybitClient(rest, ws_public_url="", ws_private_url="", ws_trade_url=trade_url, api_key=KEY,
                           api_secret=SECRET, ws_ssl=ctx) as client:
        channel = client.trade_channel(route_orders=False)  # client.submit stays on REST here
        runner = asyncio.ensure_future(channel.stream.run())
        while True:
            ev = await channel.stream.get()
            if isinstance(ev, StreamState) and ev.status is StreamStatus.CONNECTED:
                break
        for i in range(n + 20):
            for name, submit in (("rest create", client.submit), ("ws-trade create", channel.submit)):
                order = OrderRequest(Symbol("BTCUSDT"), Side.BUY, Decimal("0.001"), Decimal("10000"),
                                     OrderLinkId(f"b{tag}-{name[:2]}-{i}"))
                t0 = time.perf_counter()
                await submit(order)
                if i >= 20:
                    out[name].append((time.perf_counter() - t0) * 1000)
        channel.stream.close()
        await runner
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--endpoint", choices=["time", "wallet"], default="wallet")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode")
    ap.add_argument("--orders", action="store_true", help="also compare order create: REST vs WS trade")
    ap.add_argument("--serve", metavar="CERT_DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    ca = trustme.CA()
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    modes = ["pooled", "unpooled", "per-call"]
    results: dict[str, list[float]] = {m: [] for m in modes}
    orders: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(Path(tmp) / "server.pem"))
        child = subprocess.Popen([sys.executable, __file__, "--serve", tmp], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            url, trade_url = child.stdout.readline().split()
            assert url.startswith("https://"), url
            for r in range(args.rounds):
                for m in modes:
                    results[m] += asyncio.run(run_mode(m, url, client_ctx, args.n, args.endpoint))
                if args.orders:
                    for k, v in asyncio.run(run_orders(url, trade_url, client_ctx, args.n, str(r))).items():
                        orders.setdefault(k, []).extend(v)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(10)
    print(f"endpoint={args.endpoint} n={args.n}x{args.rounds} per mode, TLS on loopback, emulator in a child "
          f"process (latency in ms)")
    base = statistics.median(results["pooled"])
    for m in modes:
        med, p99 = statistics.median(results[m]), pct(results[m], 99)
        print(f"{m:<9} median {med:7.3f}  p99 {p99:7.3f}  mean {statistics.fmean(results[m]):7.3f}"
              + ("" if m == "pooled" else f"   pooled median is {100 * (1 - base / med):5.1f}% lower"))
    for name, lat in orders.items():
        print(f"{name:<16} median {statistics.median(lat):7.3f}  p99 {pct(lat, 99):7.3f}  "
              f"mean {statistics.fmean(lat):7.3f}  (ack latency, ms)")


if __name__ == "__main__":
    main()
