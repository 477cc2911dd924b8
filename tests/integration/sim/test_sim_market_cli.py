"""Synthetic market behaviour (determinism, fills, pick-offs, spot balances) and the `mmctl sim` process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from typing import Any

import aiohttp
from sim_client import Client, ask_px, bid_px

from bot.sim import SimAccount, SimConfig, SimServer
from bot.sim.engine import Engine
from bot.sim.flow import Flow


def _path(seed: int) -> list[Decimal]:
    eng = Engine(SimConfig(seed=seed), lambda: 0)
    flow = Flow(eng, levels=20)
    out = []
    for _ in range(200):
        flow.step(0.05)
        out.append(eng.markets[("linear", "BTCUSDT")].fair)
    return out


def test_fair_price_path_is_seeded_and_deterministic() -> None:
    assert _path(3) == _path(3)
    assert _path(3) != _path(4)


async def test_a_jump_picks_off_stale_quotes(sim: SimServer) -> None:
    sim.pause_market()
    m = sim.market("BTCUSDT", "linear")
    ask = str(ask_px(m, -1))
    async with Client(sim) as c:
        r = await c.order(side="Sell", qty="0.01", price=ask, timeInForce="PostOnly", orderLinkId="stale-ask")
        assert r["retCode"] == 0 and len(sim.open_orders(c.key)) == 1
        sim.jump("BTCUSDT", 1)  # +1 %: the house ladder re-centres and lifts our stale ask
        assert sim.open_orders(c.key) == []
        [ex] = sim.executions(c.key)
        assert ex["isMaker"] is True and ex["side"] == "Sell" and ex["execPrice"] == ask
        assert sim.positions(c.key)["BTCUSDT"] == Decimal("-0.01")


async def test_random_takers_fill_a_resting_quote(sim_factory: Any) -> None:
    sim = await sim_factory(speed=20.0)
    m = sim.market("ETHUSDT", "linear")
    async with Client(sim) as c:
        bid = str(bid_px(m, 1))
        ask = str(ask_px(m, -1))
        await c.order(symbol="ETHUSDT", side="Buy", qty="0.05", price=bid, timeInForce="PostOnly", orderLinkId="q-b")
        await c.order(symbol="ETHUSDT", side="Sell", qty="0.05", price=ask, timeInForce="PostOnly", orderLinkId="q-a")
        for _ in range(100):
            if sim.executions(c.key):
                break
            await asyncio.sleep(0.1)
        assert sim.executions(c.key), "no taker reached the quotes within 10 s at speed 20"


async def test_spot_fill_moves_base_and_quote_and_takes_fee_in_the_right_coin(sim: SimServer) -> None:
    sim.pause_market()
    m = sim.market("BTCUSDT", "spot")
    async with Client(sim) as c:
        before = sim.wallet(c.key)
        r = await c.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy",
                                              "orderType": "Market", "qty": "0.01", "marketUnit": "baseCoin"})
        assert r["retCode"] == 0
        [ex] = sim.executions(c.key)
        after = sim.wallet(c.key)
        value = Decimal(ex["execPrice"]) * Decimal(ex["execQty"])
        assert ex["feeCurrency"] == "BTC" and ex["isMaker"] is False
        assert after["BTC"] == before["BTC"] + Decimal("0.01") - Decimal("0.01") * Decimal("0.001")
        assert after["USDT"] == before["USDT"] - value
        r = await c.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Sell",
                                              "orderType": "Limit", "qty": "1000", "price": str(
                                                  ask_px(m, 5))})
        assert r["retCode"] in (170131, 170137)
        # without marketUnit a spot market buy spends qty USDT
        r = await c.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy",
                                              "orderType": "Market", "qty": "100"})
        assert r["retCode"] == 0
        spent = sum(Decimal(e["execValue"]) for e in sim.executions(c.key)[1:])
        assert Decimal("99") < spent <= Decimal("100")
        r = await c.post("/v5/order/create", {"category": "spot", "symbol": "BTCUSDT", "side": "Buy",
                                              "orderType": "Market", "qty": "1"})
        assert r["retCode"] == 170140


async def test_recent_trades_endpoint_lists_the_newest_first(sim_factory: Any) -> None:
    sim = await sim_factory(speed=20.0, market=True)
    async with Client(sim) as c:
        for _ in range(50):
            r = await c.get("/v5/market/recent-trade", "category=linear&symbol=BTCUSDT&limit=5", signed=False)
            if r["result"]["list"]:
                break
            await asyncio.sleep(0.1)
        rows = r["result"]["list"]
        assert rows and {"execId", "price", "size", "side", "time"} <= set(rows[0])
        assert [int(x["time"]) for x in rows] == sorted((int(x["time"]) for x in rows), reverse=True)


async def test_public_tickers_linear_snapshot_then_deltas(sim_factory: Any) -> None:
    sim = await sim_factory(speed=10.0)
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        await ws.send_str('{"op":"subscribe","args":["tickers.BTCUSDT"]}')
        await ws.receive()
        first = (await ws.receive()).json()
        assert first["type"] == "snapshot" and "markPrice" in first["data"]
        nxt = (await asyncio.wait_for(ws.receive(), 3)).json()
        assert nxt["type"] == "delta" and nxt["data"]["symbol"] == "BTCUSDT" and isinstance(nxt["cs"], int)


async def test_oversized_frame_closes_only_that_connection(sim_factory: Any) -> None:
    sim = await sim_factory(max_frame_bytes=4096)
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(sim.ws_public_url("linear")) as big, s.ws_connect(sim.ws_public_url("linear")) as ok:
            await big.send_str('{"op":"ping","req_id":"' + "x" * 10_000 + '"}')
            msg = await asyncio.wait_for(big.receive(), 3)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            await ok.send_str('{"op":"ping"}')
            assert (await asyncio.wait_for(ok.receive(), 3)).json()["ret_msg"] == "pong"


async def test_mmctl_sim_prints_banner_serves_and_exits_cleanly_on_sigint() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mmctl", "sim", "--port", "0", "--symbols", "BTCUSDT,ETHUSDT,BTCUSDT@spot",
        "--seed", "5", "--speed", "2", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    banner: dict[str, str] = {}
    try:
        while "SECRET" not in banner:
            line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
            assert line, "mmctl sim exited before printing its banner"
            name, _, value = line.strip().partition(" ")
            banner[name] = value
        assert banner["WS_PUBLIC"].endswith("/v5/public") and banner["REST"].startswith("http://127.0.0.1:")
        sim_cfg = SimServer(SimConfig(accounts=(SimAccount(api_key=banner["KEY"], api_secret=banner["SECRET"]),)))
        sim_cfg.port = int(banner["REST"].rsplit(":", 1)[1])  # a handle for the client's URLs only
        async with Client(sim_cfg) as c:
            r = await c.get("/v5/account/wallet-balance", "accountType=UNIFIED")
            assert r["retCode"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        rc = await asyncio.wait_for(proc.wait(), 15)
    assert rc == 0
