"""Junk on every surface: the emulator answers with codes, never crashes, never drops other clients."""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from typing import Any

import aiohttp
import pytest
from sim_client import Client, ws_auth_args

from bot.common.json_io import dumps, loads
from bot.sim import SimServer

_ATOMS: list[Any] = [None, True, False, 0, -1, 1e308, "", "x", "BTCUSDT", "linear", "spot", "Buy", "Sell", "Limit",
                     "Market", "PostOnly", "0.001", "-5", "1e9", "NaN", "Infinity", "30000", "\u00e9\u0000", [], {}]
_KEYS = ["op", "args", "req_id", "reqId", "header", "category", "symbol", "side", "orderType", "qty", "price",
         "timeInForce", "orderLinkId", "orderId", "request", "positionIdx", "reduceOnly", "limit", "cursor"]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 2 or roll < 0.5:
        return rng.choice(_ATOMS)
    if roll < 0.75:
        return [_junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(_KEYS): _junk(rng, depth + 1) for _ in range(rng.randint(0, 6))}


def _frames(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.1:
            out.append("".join(rng.choice("{}[]\":,ab0") for _ in range(rng.randint(0, 30))))
        elif kind < 0.6:
            msg = {rng.choice(_KEYS): _junk(rng) for _ in range(rng.randint(0, 5))}
            msg["op"] = rng.choice(["subscribe", "unsubscribe", "ping", "auth", "order.create", "order.amend",
                                    "order.cancel-batch", "order.create-batch", _junk(rng)])
            out.append(dumps(msg).decode())
        else:
            out.append(dumps(_junk(rng)).decode())
    return out


async def test_ws_junk_frames_on_every_stream_keep_connections_alive(
        sim: SimServer, caplog: pytest.LogCaptureFixture) -> None:
    acct = sim.accounts[0]
    async with aiohttp.ClientSession() as s:
        watcher = await s.ws_connect(sim.ws_public_url("linear"))
        await watcher.send_str('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
        for i, url in enumerate([sim.ws_public_url("linear"), sim.ws_public_url("spot"), sim.ws_public_url("option"),
                                 sim.ws_private_url, sim.ws_trade_url]):
            async with s.ws_connect(url) as ws:
                if url in (sim.ws_private_url, sim.ws_trade_url):
                    auth = {"op": "auth", "args": ws_auth_args(acct.api_key, acct.api_secret)}
                    await ws.send_str(dumps(auth).decode())
                for frame in _frames(i, 150):
                    await ws.send_str(frame)
                await ws.send_str('{"op":"ping","req_id":"alive"}')
                while True:
                    msg = await asyncio.wait_for(ws.receive(), 5)
                    assert msg.type == aiohttp.WSMsgType.TEXT, (url, msg)
                    body = loads(msg.data)
                    if isinstance(body, dict) and (body.get("op") in ("pong",) or body.get("ret_msg") == "pong"):
                        break
        m = await asyncio.wait_for(watcher.receive(), 5)
        assert m.type == aiohttp.WSMsgType.TEXT
        await watcher.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a handler raised on junk input"


async def test_rest_junk_params_get_codes_not_500s(sim: SimServer, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(11)
    paths = ["/v5/order/create", "/v5/order/amend", "/v5/order/cancel", "/v5/order/cancel-all",
             "/v5/order/create-batch", "/v5/order/amend-batch", "/v5/order/cancel-batch",
             "/v5/order/disconnected-cancel-all", "/v5/position/set-leverage"]
    gets = ["/v5/order/realtime", "/v5/order/history", "/v5/execution/list", "/v5/position/list",
            "/v5/account/wallet-balance", "/v5/account/fee-rate", "/v5/market/orderbook", "/v5/market/tickers",
            "/v5/market/instruments-info"]
    async with Client(sim) as c:
        for i in range(120):
            body = {rng.choice(_KEYS): _junk(rng) for _ in range(rng.randint(0, 7))}
            if rng.random() < 0.5:
                body["category"] = rng.choice(["linear", "spot"])
            r = await c.post(rng.choice(paths), body)
            assert c.last_status == 200 and isinstance(r["retCode"], int), r
            q = "&".join(f"{rng.choice(_KEYS)}={rng.choice(['', 'x', 'linear', '-1', '%zz', 'BTCUSDT'])}"
                         for _ in range(rng.randint(0, 4)))
            r = await c.get(rng.choice(gets), q)
            assert c.last_status == 200 and isinstance(r["retCode"], int), (q, r)
            if i % 40 == 0:
                await asyncio.sleep(1.0)  # stay inside the UID limits of the read endpoints
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a handler raised on junk input"


async def test_tls_listener_serves_rest_and_ws(sim_factory: Any) -> None:
    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    sim = await sim_factory(ssl_context=server_ctx, market=False)
    assert sim.rest_url.startswith("https://") and sim.ws_private_url.startswith("wss://")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ctx)) as s:
        async with s.get(sim.rest_url + "/v5/market/time") as r:
            assert loads(await r.read())["retCode"] == 0
        async with s.ws_connect(sim.ws_public_url("linear")) as ws:
            await ws.send_str('{"op":"ping"}')
            assert loads((await asyncio.wait_for(ws.receive(), 3)).data)["ret_msg"] == "pong"
