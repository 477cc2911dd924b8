"""Benchmark the emulator (bot.sim): book messages/s to one WS subscriber, signed order requests/s.

The emulator runs in its own process (as `mmctl sim` would); the load generator runs here, so the
two share this machine's cores the way a bot and the emulator do in tests.

  book:   one public WS connection subscribed to orderbook.1/50/200, publicTrade and tickers of every
          symbol; counts messages received per second (the emulator's pushes, not echoes).
  orders: N concurrent keep-alive HTTP clients, each signing (HMAC-SHA256, fresh timestamp) and
          sending POST /v5/order/create (PostOnly, resting) then POST /v5/order/cancel for it;
          counts completed signed order requests per second (creates + cancels, all retCode 0).

    .venv/bin/python bench/bench_sim.py [--seconds 10] [--speed 20] [--concurrency 16] [--tls]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import ssl
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.common.json_io import dumps, loads  # noqa: E402
from bot.exchange.bybit.signing import sign_rest  # noqa: E402

KEY, SECRET = "bench-key", "bench-secret"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BTCUSDT@spot", "ETHUSDT@spot")


def _server(q: Any, speed: float, cert_dir: str | None, symbols: tuple[str, ...]) -> None:
    from bot.sim import SimAccount, SimConfig, serve

    ctx = None
    if cert_dir:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(f"{cert_dir}/server.pem")
    cfg = SimConfig(port=0, symbols=symbols, speed=speed, rate_limits=False, ip_limit_per_5s=0,
                    accounts=(SimAccount(api_key=KEY, api_secret=SECRET),), ssl_context=ctx)
    serve(cfg, lambda sim: q.put((sim.rest_url, sim.ws_url)))


async def bench_book(ws_url: str, seconds: float, ssl_ctx: ssl.SSLContext | None,
                     symbols: tuple[str, ...]) -> tuple[float, int]:
    topics = []
    for spec in symbols:
        sym, _, cat = spec.partition("@")
        topics.append((cat or "linear", [f"orderbook.{d}.{sym}" for d in (1, 50, 200)] + [f"publicTrade.{sym}",
                                                                                          f"tickers.{sym}"]))
    by_cat: dict[str, list[str]] = {}
    for cat, ts in topics:
        by_cat.setdefault(cat, []).extend(ts)
    # one subscriber: a single connection per category is what a bot holds; count them all together
    async with aiohttp.ClientSession() as s:
        conns = [await s.ws_connect(f"{ws_url}/v5/public/{cat}", compress=0, ssl=ssl_ctx or True) for cat in by_cat]
        for ws, (_cat, ts) in zip(conns, by_cat.items(), strict=True):
            for i in range(0, len(ts), 10):
                await ws.send_str(dumps({"op": "subscribe", "args": ts[i:i + 10]}).decode())
        await asyncio.sleep(0.5)
        counts = [0] * len(conns)
        size = 0

        async def reader(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
            nonlocal size
            async for msg in ws:
                counts[i] += 1
                size += len(msg.data)

        tasks = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
        start = sum(counts)
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        n = sum(counts) - start
        dt = time.perf_counter() - t0
        for t in tasks:
            t.cancel()
        for ws in conns:
            await ws.close()
    return n / dt, size // max(1, sum(counts))


async def bench_orders(rest_url: str, seconds: float, concurrency: int,
                       ssl_ctx: ssl.SSLContext | None) -> tuple[float, int]:
    conn = aiohttp.TCPConnector(limit=concurrency, ssl=ssl_ctx or True)
    async with aiohttp.ClientSession(connector=conn) as s:
        async with s.get(f"{rest_url}/v5/market/orderbook?category=linear&symbol=ETHUSDT&limit=50") as r:
            book = loads(await r.read())["result"]
        # 30 % under the touch: stays a resting maker order however far the speeded-up market walks
        best = Decimal(book["b"][0][0])
        far_bid = str((best * Decimal("0.7")).quantize(Decimal("0.01")))
        ok = 0
        bad = 0
        codes: Counter[int] = Counter()
        stop = time.perf_counter() + seconds

        async def signed_post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            raw = dumps(body)
            ts = str(int(time.time() * 1000))
            h = {"X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": ts, "X-BAPI-RECV-WINDOW": "5000",
                 "X-BAPI-SIGN": sign_rest(SECRET, ts, KEY, "5000", raw), "Content-Type": "application/json"}
            async with s.post(rest_url + path, data=raw, headers=h) as r:
                return loads(await r.read())  # type: ignore[no-any-return]

        async def worker(w: int) -> None:
            nonlocal ok, bad
            i = 0
            while time.perf_counter() < stop:
                i += 1
                link = f"b{w}-{i}"
                r = await signed_post("/v5/order/create", {
                    "category": "linear", "symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.01",
                    "price": far_bid, "timeInForce": "PostOnly", "orderLinkId": link})
                ok, bad = (ok + 1, bad) if r["retCode"] == 0 else (ok, bad + 1)
                codes[r["retCode"]] += 1
                r = await signed_post("/v5/order/cancel", {"category": "linear", "symbol": "ETHUSDT",
                                                           "orderLinkId": link})
                ok, bad = (ok + 1, bad) if r["retCode"] == 0 else (ok, bad + 1)
                codes[r["retCode"]] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        dt = time.perf_counter() - t0
    if bad:
        print(f"  retCodes: {dict(codes)}")
    return ok / dt, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--speed", type=float, default=20.0, help="emulator speed factor for the book test")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--tls", action="store_true", help="serve over TLS with a throwaway CA (trustme)")
    ap.add_argument("--symbols", default=",".join(SYMBOLS), help="emulator symbols (SYMBOL or SYMBOL@spot)")
    a = ap.parse_args()
    cert_dir = None
    client_ctx = None
    tmp = tempfile.TemporaryDirectory()
    if a.tls:
        import trustme

        ca = trustme.CA()
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(f"{tmp.name}/server.pem")
        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        cert_dir = tmp.name
    mpctx = mp.get_context("spawn")
    q = mpctx.Queue()
    symbols = tuple(x for x in a.symbols.split(",") if x)
    if not any("@" not in x or x.endswith("@linear") for x in symbols) or "ETHUSDT" not in symbols:
        ap.error("--symbols must include ETHUSDT (linear): the order test trades it")
    proc = mpctx.Process(target=_server, args=(q, a.speed, cert_dir, symbols), daemon=True)
    proc.start()
    try:
        rest_url, ws_url = q.get(timeout=30)
        rate, avg = asyncio.run(bench_book(ws_url, a.seconds, client_ctx, symbols))
        print(f"book: {rate:,.0f} msgs/s to one subscriber ({len(symbols)} symbols x depth 1/50/200 + trades + "
              f"tickers, speed {a.speed:g}, avg {avg} B/msg){' over TLS' if a.tls else ''}")
        rate, bad = asyncio.run(bench_orders(rest_url, a.seconds, a.concurrency, client_ctx))
        print(f"orders: {rate:,.0f} signed order requests/s (create+cancel, {a.concurrency} clients, "
              f"{bad} non-zero retCodes){' over TLS' if a.tls else ''}")
    finally:
        proc.terminate()
        proc.join(5)
        tmp.cleanup()


if __name__ == "__main__":
    main()
