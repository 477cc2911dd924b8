"""Private and trade WS: auth, order lifecycle pushes, post-only cancel, fills with rebates, trade ops."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_client import Client, ask_px, bid_px, ws_auth_args

from bot.common.json_io import dumps, loads
from bot.sim import SimServer


async def _recv(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 3.0) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), wait_s)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    out = loads(msg.data)
    assert isinstance(out, dict)
    return out


async def _topic(ws: aiohttp.ClientWebSocketResponse, topic: str, wait_s: float = 5.0) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        while True:
            m = await _recv(ws, wait_s)
            if m.get("topic") == topic:
                return m
    return await asyncio.wait_for(go(), wait_s)


async def _private(s: aiohttp.ClientSession, sim: SimServer, topics: list[str]) -> aiohttp.ClientWebSocketResponse:
    ws = await s.ws_connect(sim.ws_private_url)
    acct = sim.accounts[0]
    auth = {"req_id": "a", "op": "auth", "args": ws_auth_args(acct.api_key, acct.api_secret)}
    await ws.send_str(dumps(auth).decode())
    ack = await _recv(ws)
    assert ack["success"] is True and ack["op"] == "auth" and ack["req_id"] == "a", ack
    await ws.send_str(dumps({"op": "subscribe", "req_id": "s", "args": topics}).decode())
    ack = await _recv(ws)
    assert ack["success"] is True and ack["op"] == "subscribe", ack
    return ws


async def test_private_auth_failures_and_unauthenticated_subscribe(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_private_url) as ws:
        await ws.send_str('{"op":"subscribe","args":["order"]}')
        assert (await _recv(ws))["success"] is False
        acct = sim.accounts[0]
        expired = int(time.time() * 1000) - 1000
        await ws.send_str(dumps({"op": "auth", "args": ws_auth_args(acct.api_key, acct.api_secret, expired)}).decode())
        r = await _recv(ws)
        assert r == {"success": False, "ret_msg": "Params Error", "op": "auth", "conn_id": r["conn_id"]}
        await ws.send_str(dumps({"op": "auth", "args": ws_auth_args(acct.api_key, "wrong")}).decode())
        assert (await _recv(ws))["success"] is False
        # ccxt sends expires as a string
        args = ws_auth_args(acct.api_key, acct.api_secret)
        await ws.send_str(dumps({"op": "auth", "args": [args[0], str(args[1]), args[2]]}).decode())
        assert (await _recv(ws))["success"] is True
        await ws.send_str('{"op":"ping","req_id":"p"}')
        pong = await _recv(ws)
        assert pong["op"] == "pong" and pong["req_id"] == "p" and pong["args"][0].isdigit()


async def test_post_only_crossing_is_accepted_then_cancelled(sim: SimServer) -> None:
    sim.pause_market()
    m = sim.market("BTCUSDT", "linear")
    best_ask = ask_px(m)
    async with aiohttp.ClientSession() as s, Client(sim, session=s) as c:
        ws = await _private(s, sim, ["order"])
        r = await c.order(side="Buy", qty="0.001", price=str(best_ask), timeInForce="PostOnly", orderLinkId="po-1")
        assert r["retCode"] == 0 and r["result"]["orderId"]
        push = await _topic(ws, "order")
        o = push["data"][0]
        assert (o["orderStatus"], o["rejectReason"], o["cancelType"], o["cumExecQty"]) == (
            "Cancelled", "EC_PostOnlyWillTakeLiquidity", "UNKNOWN", "0")
        assert isinstance(push["creationTime"], int) and push["id"]
        rt = await c.get("/v5/order/realtime", "category=linear&orderLinkId=po-1")
        assert rt["result"]["list"][0]["orderStatus"] == "Cancelled"
        assert sim.open_orders(sim.accounts[0].api_key) == []
        await ws.close()


async def test_resting_quote_filled_by_taker_pays_rebate(sim: SimServer) -> None:
    sim.pause_market()
    m = sim.market("BTCUSDT", "linear")
    bid = bid_px(m, 1)
    async with aiohttp.ClientSession() as s, Client(sim, session=s) as c:
        ws = await _private(s, sim, ["order", "execution", "position", "wallet"])
        r = await c.order(side="Buy", qty="0.010", price=str(bid), timeInForce="PostOnly", orderLinkId="mm-b1")
        assert r["retCode"] == 0
        assert (await _topic(ws, "order"))["data"][0]["orderStatus"] == "New"
        # a taker sells into our bid
        m_sell = sim.engine.house_take(m, "Sell", 10, m.spec.instrument.to_ticks(bid_px(m)))
        assert m_sell == 10
        o = (await _topic(ws, "order"))["data"][0]
        assert o["orderStatus"] == "Filled" and o["cumExecQty"] == "0.010"
        ex = (await _topic(ws, "execution"))["data"][0]
        assert ex["isMaker"] is True and ex["orderLinkId"] == "mm-b1" and ex["execType"] == "Trade"
        value = Decimal(ex["execPrice"]) * Decimal(ex["execQty"])
        assert Decimal(ex["feeRate"]) == Decimal("-0.00005")
        assert Decimal(ex["execFee"]) == value * Decimal("-0.00005") < 0
        pos = (await _topic(ws, "position"))["data"][0]
        assert pos["side"] == "Buy" and pos["size"] == "0.01" and Decimal(pos["entryPrice"]) == bid
        wal = (await _topic(ws, "wallet"))["data"][0]
        assert wal["accountType"] == "UNIFIED"
        usdt = next(x for x in wal["coin"] if x["coin"] == "USDT")
        assert Decimal(usdt["walletBalance"]) == Decimal(1_000_000) - Decimal(ex["execFee"])
        el = await c.get("/v5/execution/list", "category=linear&symbol=BTCUSDT")
        assert el["result"]["list"][0]["execId"] == ex["execId"]
        await ws.close()


async def test_taker_fee_and_position_close_realise_pnl(sim: SimServer) -> None:
    sim.pause_market()
    async with Client(sim) as c:
        assert (await c.order(side="Buy", qty="0.01", orderType="Market"))["retCode"] == 0
        assert (await c.order(side="Sell", qty="0.01", orderType="Market", reduceOnly=True))["retCode"] == 0
        execs = sim.executions(sim.accounts[0].api_key)
        assert len(execs) >= 2 and all(e["isMaker"] is False for e in execs)
        for e in execs:
            assert Decimal(e["execFee"]) == Decimal(e["execPrice"]) * Decimal(e["execQty"]) * Decimal("0.00055")
        p = await c.get("/v5/position/list", "category=linear&symbol=BTCUSDT")
        row = p["result"]["list"][0]
        assert row["size"] == "0" and row["side"] == ""
        r = await c.order(side="Sell", qty="0.01", orderType="Market", reduceOnly=True)
        assert r["retCode"] == 110017


async def test_trade_ws_create_amend_cancel_and_duplicate_req_id(sim: SimServer) -> None:
    sim.pause_market()
    m = sim.market("BTCUSDT", "linear")
    px = str(bid_px(m, -5))
    acct = sim.accounts[0]
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_trade_url) as ws:
        await ws.send_str('{"op":"ping"}')
        pong = await _recv(ws)
        assert pong["retCode"] == 0 and pong["op"] == "pong" and pong["connId"]
        hdr = {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000)), "X-BAPI-RECV-WINDOW": "5000"}
        req = {"reqId": "q-1", "header": hdr, "op": "order.create",
               "args": [{"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                         "qty": "0.001", "price": px, "timeInForce": "PostOnly", "orderLinkId": "t-1"}]}
        await ws.send_str(dumps(req).decode())
        r = await _recv(ws)
        assert r["retCode"] == 10007  # not authenticated yet
        await ws.send_str(dumps({"op": "auth", "args": ws_auth_args(acct.api_key, acct.api_secret)}).decode())
        r = await _recv(ws)
        assert (r["retCode"], r["op"]) == (0, "auth")
        req["reqId"] = "q-2"
        await ws.send_str(dumps(req).decode())
        r = await _recv(ws)
        assert r["retCode"] == 0 and r["reqId"] == "q-2" and r["data"]["orderLinkId"] == "t-1"
        assert r["header"]["X-Bapi-Limit"] == "10" and r["header"]["X-Bapi-Limit-Status"] == "9"
        await ws.send_str(dumps(req).decode())
        assert (await _recv(ws))["retCode"] == 20006
        amend = {"reqId": "q-3", "header": hdr, "op": "order.amend",
                 "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "t-1", "qty": "0.002"}]}
        await ws.send_str(dumps(amend).decode())
        assert (await _recv(ws))["retCode"] == 0
        assert sim.open_orders(acct.api_key)[0]["qty"] == "0.002"
        cancel = {"reqId": "q-4", "header": hdr, "op": "order.cancel",
                  "args": [{"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "t-1"}]}
        await ws.send_str(dumps(cancel).decode())
        assert (await _recv(ws))["retCode"] == 0
        cancel["reqId"] = "q-5"
        await ws.send_str(dumps(cancel).decode())
        assert (await _recv(ws))["retCode"] == 110001
        await ws.send_str(dumps({"op": "order.teleport", "reqId": "q-6"}).decode())
        assert (await _recv(ws))["retCode"] == 10404
        stale = {**req, "reqId": "q-7", "header": {"X-BAPI-TIMESTAMP": str(int(time.time() * 1000) - 60_000)}}
        await ws.send_str(dumps(stale).decode())
        assert (await _recv(ws))["retCode"] == 10002
        batch = {"reqId": "q-8", "header": hdr, "op": "order.create-batch",
                 "args": [{"category": "linear", "request": [
                     {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": px,
                      "timeInForce": "PostOnly", "orderLinkId": "tb-1"},
                     {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": px,
                      "timeInForce": "PostOnly", "orderLinkId": "tb-1"}]}]}
        await ws.send_str(dumps(batch).decode())
        r = await _recv(ws)
        assert r["retCode"] == 0 and [x["code"] for x in r["retExtInfo"]["list"]] == [0, 110072]


async def test_dcp_cancels_orders_when_the_subscribed_connection_dies(sim_factory: Any) -> None:
    sim = await sim_factory(market=False)
    m = sim.market("BTCUSDT", "linear")
    px = str(bid_px(m, -3))
    async with aiohttp.ClientSession() as s, Client(sim, session=s) as c:
        r = await c.post("/v5/order/disconnected-cancel-all", {"product": "DERIVATIVES", "timeWindow": 3})
        assert (r["retCode"], r["retMsg"]) == (0, "success")
        info = await c.get("/v5/account/query-dcp-info")
        assert info["result"]["dcpInfos"] == [{"product": "DERIVATIVES", "dcpStatus": "ON", "timeWindow": "3"}]
        ws = await _private(s, sim, ["dcp.future"])
        assert (await c.order(side="Buy", qty="0.001", price=px, orderLinkId="d-1"))["retCode"] == 0
        await ws.close()
        await asyncio.sleep(2.0)
        assert len(sim.open_orders(c.key)) == 1  # still inside the window
        for _ in range(60):  # fires 3 s after the disconnect; allow a slow machine some slack
            if not sim.open_orders(c.key):
                break
            await asyncio.sleep(0.1)
        assert sim.open_orders(c.key) == []
        rt = await c.get("/v5/order/realtime", "category=linear&orderLinkId=d-1")
        assert rt["result"]["list"][0]["cancelType"] == "CancelByDCP"


async def test_max_active_time_sets_the_private_idle_timeout(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_private_url + "?max_active_time=2m") as ws:
        await ws.send_str('{"op":"ping"}')
        await _recv(ws)
        [conn] = [c for c in sim.hub.connections() if c.stream == "private"]
        assert conn.idle_timeout_s == 120


async def test_refused_with_reset_drops_the_tcp_connection(sim: SimServer) -> None:
    sim.faults.refuse_connections(5, stream="private", mode="reset")
    async with aiohttp.ClientSession() as s:
        with pytest.raises((aiohttp.ClientError, ConnectionError)):
            await s.ws_connect(sim.ws_private_url)
        async with s.ws_connect(sim.ws_public_url("linear")):  # other streams are not refused
            pass
    refused = [a.refused for a in sim.stats.attempts("private")]
    assert refused and all(refused)  # aiohttp may retry a reset handshake once
