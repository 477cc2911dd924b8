"""REST order entry on the emulator: batches, pagination, codes, rate limits, IP limit, faults (Python + HTTP)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from sim_client import Client, ask_px, bid_px

from bot.common.json_io import dumps, loads
from bot.sim import SimServer


def _px(sim: SimServer, symbol: str = "BTCUSDT", below: int = 10, category: str = "linear") -> str:
    m = sim.market(symbol, category)
    return str(bid_px(m, -below))


def _item(px: str, link: str, **kw: Any) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": px,
            "timeInForce": "PostOnly", "orderLinkId": link, **kw}


async def test_batch_create_partial_success_and_item_caps(sim: SimServer) -> None:
    sim.pause_market()
    px = _px(sim)
    async with Client(sim) as c:
        r = await c.post("/v5/order/create-batch", {"category": "linear", "request": [
            _item(px, "b-1"), _item(px, "b-1"), _item(px, "b-3", qty="-1"), _item(px, "b-4")]})
        assert r["retCode"] == 0
        codes = [x["code"] for x in r["retExtInfo"]["list"]]
        assert codes == [0, 110072, 10001, 0]
        rows = r["result"]["list"]
        assert rows[0]["orderId"] and rows[0]["createAt"] and rows[1]["orderId"] == "" and rows[1]["createAt"] == ""
        assert {x["category"] for x in rows} == {"linear"}
        too_many = [_item(px, f"x-{i}") for i in range(21)]
        r = await c.post("/v5/order/create-batch", {"category": "linear", "request": too_many})
        assert r["retCode"] == 10001
        spot_px = _px(sim, category="spot")
        spot_items = [{**_item(spot_px, f"s-{i}"), "qty": "0.001"} for i in range(11)]
        r = await c.post("/v5/order/create-batch", {"category": "spot", "request": spot_items})
        assert r["retCode"] == 10001
        r = await c.post("/v5/order/cancel-batch", {"category": "linear", "request": [
            {"symbol": "BTCUSDT", "orderLinkId": "b-1"}, {"symbol": "BTCUSDT", "orderLinkId": "nope"}]})
        assert [x["code"] for x in r["retExtInfo"]["list"]] == [0, 110001]
        r = await c.post("/v5/order/amend-batch", {"category": "linear", "request": [
            {"symbol": "BTCUSDT", "orderLinkId": "b-4", "qty": "0.003"}]})
        assert r["retExtInfo"]["list"] == [{"code": 0, "msg": "OK"}]


async def test_open_orders_cursor_pagination_and_cancel_all(sim_factory: Any) -> None:
    sim = await sim_factory(market=False, rate_limits=False)
    px = _px(sim, below=50)
    async with Client(sim) as c:
        for i in range(23):
            assert (await c.order(side="Buy", qty="0.001", price=px, timeInForce="PostOnly",
                                  orderLinkId=f"p-{i:02d}"))["retCode"] == 0
        seen: list[str] = []
        cursor = ""
        pages = 0
        while True:
            q = "category=linear&symbol=BTCUSDT&limit=10" + (f"&cursor={cursor}" if cursor else "")
            r = await c.get("/v5/order/realtime", q)
            seen += [o["orderLinkId"] for o in r["result"]["list"]]
            pages += 1
            cursor = r["result"]["nextPageCursor"]
            if not cursor:
                break
        assert pages == 3 and sorted(seen) == [f"p-{i:02d}" for i in range(23)]
        assert seen[0] == "p-22"  # newest first
        r = await c.get("/v5/order/realtime", "category=linear")
        assert r["retCode"] == 10001  # linear needs symbol, baseCoin or settleCoin
        r = await c.post("/v5/order/cancel-all", {"category": "linear", "symbol": "BTCUSDT"})
        assert r["retCode"] == 0 and r["result"]["success"] == "1" and len(r["result"]["list"]) == 23
        assert sim.open_orders(c.key) == []
        r = await c.get("/v5/order/realtime", "category=linear&symbol=BTCUSDT&openOnly=1&limit=50")
        assert len(r["result"]["list"]) == 23 and r["result"]["list"][0]["cancelType"] == "CancelByUser"


async def test_unknown_order_and_amend_codes(sim: SimServer) -> None:
    sim.pause_market()
    async with Client(sim) as c:
        r = await c.post("/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderId": "nope"})
        assert r["retCode"] == 110001
        r = await c.post("/v5/order/cancel", {"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "nope"})
        assert r["retCode"] == 170213
        px = _px(sim)
        await c.order(side="Buy", qty="0.002", price=px, timeInForce="PostOnly", orderLinkId="a-1")
        r = await c.post("/v5/order/amend", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "a-1"})
        assert r["retCode"] == 10001
        r = await c.post("/v5/order/amend", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "a-1",
                                             "price": str(ask_px(sim.market("BTCUSDT"), 2))})
        assert r["retCode"] == 0
        fee = await c.get("/v5/account/fee-rate", "category=linear&symbol=BTCUSDT")
        assert fee["result"]["list"] == [{"symbol": "BTCUSDT", "takerFeeRate": "0.00055", "makerFeeRate": "-0.00005"}]
        w = await c.get("/v5/account/wallet-balance", "accountType=UNIFIED")
        assert w["result"]["list"][0]["coin"]
        assert (await c.get("/v5/account/wallet-balance", "accountType=SPOT"))["retCode"] == 10001


async def test_uid_rate_limit_gives_10006_with_headers_and_batches_are_cut(sim_factory: Any) -> None:
    sim = await sim_factory(market=False)
    px = _px(sim, below=20)
    async with Client(sim) as c:
        # all eleven inside one second, however slow the machine: send them together
        rs = await asyncio.gather(*(c.order(side="Buy", qty="0.001", price=px, orderLinkId=f"r-{i}")
                                    for i in range(11)))
        assert sorted(r["retCode"] for r in rs) == [0] * 10 + [10006]
        [hdr] = [h for h, body in c.history if body["retCode"] == 10006]
        assert hdr["X-Bapi-Limit"] == "10" and hdr["X-Bapi-Limit-Status"] == "0"
        assert int(hdr["X-Bapi-Limit-Reset-Timestamp"]) >= int(time.time() * 1000) - 1000
        await asyncio.sleep(1.1)  # a fresh window for the batch checks
        r = await c.post("/v5/order/create-batch", {"category": "linear", "request": [
            _item(px, f"q-{i}") for i in range(8)]})
        assert [x["code"] for x in r["retExtInfo"]["list"]] == [0] * 8
        r = await c.post("/v5/order/create-batch", {"category": "linear", "request": [
            _item(px, f"w-{i}") for i in range(4)]})
        assert [x["code"] for x in r["retExtInfo"]["list"]] == [0, 0, 10006, 10006]


async def test_ip_limit_answers_http_403(sim_factory: Any) -> None:
    sim = await sim_factory(market=False, ip_limit_per_5s=5, ip_ban_s=60)
    async with Client(sim) as c:
        for _ in range(5):
            assert (await c.get("/v5/market/time", signed=False))["retCode"] == 0
        body = await c.get("/v5/market/time", signed=False)
        assert c.last_status == 403 and "too frequent" in body
        await c.get("/v5/market/time", signed=False)
        assert c.last_status == 403  # banned


async def test_rest_faults_from_python(sim: SimServer) -> None:
    async with Client(sim) as c:
        sim.faults.rest_errors(2, status=503)
        await c.get("/v5/market/time", signed=False)
        assert c.last_status == 503
        await c.get("/v5/market/time", signed=False)
        assert c.last_status == 503
        assert (await c.get("/v5/market/time", signed=False))["retCode"] == 0
        sim.faults.rest_delay(0.3, n=1)
        t0 = time.monotonic()
        await c.get("/v5/market/time", signed=False)
        assert time.monotonic() - t0 >= 0.3
        sim.faults.reject_next_orders(2, ret_code=110007)
        px = _px(sim, below=30)
        r1 = await c.order(side="Buy", qty="0.001", price=px)
        r2 = await c.order(side="Buy", qty="0.001", price=px)
        r3 = await c.order(side="Buy", qty="0.001", price=px)
        assert [r1["retCode"], r2["retCode"], r3["retCode"]] == [110007, 110007, 0]
        sim.faults.rate_limit_burst(n=1)
        assert (await c.order(side="Buy", qty="0.001", price=px))["retCode"] == 10006
        assert sim.stats.requests_per_endpoint["/v5/order/create"] == 4


async def test_http_control_surface(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(sim.ws_public_url("linear")) as ws:
            r = await s.post(f"{sim.rest_url}/sim/faults/drop_ws", data=dumps({"stream": "public"}))
            assert r.status == 200 and loads(await r.read())["result"] == 1
            msg = await asyncio.wait_for(ws.receive(), 3)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        r = await s.post(f"{sim.rest_url}/sim/faults/refuse_connections", data=dumps({"seconds": 5}))
        assert r.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await s.ws_connect(sim.ws_public_url("linear"))
        assert exc.value.status == 503
        r = await s.post(f"{sim.rest_url}/sim/faults/clear")
        async with s.ws_connect(sim.ws_public_url("linear")):
            pass
        stats = loads(await (await s.get(f"{sim.rest_url}/sim/stats")).read())
        assert [a["refused"] for a in stats["connection_attempts"]] == [False, True, False]
        assert [a[0] for a in sim.stats.connection_attempts] == ["public"] * 3
        r = await s.post(f"{sim.rest_url}/sim/faults/rest_errors", data=dumps({"n": 1, "status": 502}))
        assert (await s.get(f"{sim.rest_url}/v5/market/time")).status == 502
        r = await s.post(f"{sim.rest_url}/sim/faults/drop_ws", data=dumps({"stream": "bogus"}))
        assert r.status == 400
        r = await s.post(f"{sim.rest_url}/sim/market", data=dumps({"symbol": "BTCUSDT", "price": "31000"}))
        assert loads(await r.read())["fair"] == "31000"
        r = await s.post(f"{sim.rest_url}/sim/accounts", data=dumps({"maker_fee": "-0.0001"}))
        new = loads(await r.read())
        assert new["api_key"] in {a.api_key for a in sim.accounts}


async def test_stall_stream_delays_pushes_then_resumes(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        await ws.send_str('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
        await asyncio.wait_for(ws.receive(), 3)
        await asyncio.wait_for(ws.receive(), 3)
        sim.faults.stall_stream(0.6, stream="public")
        t0 = time.monotonic()
        await asyncio.sleep(0.05)
        await asyncio.wait_for(ws.receive(), 3)
        assert time.monotonic() - t0 >= 0.5


async def test_extra_accounts_have_their_own_keys_and_fees(sim: SimServer) -> None:
    other = sim.add_account(maker_fee=__import__("decimal").Decimal("0.0001"))
    async with Client(sim, key=other.api_key, secret=other.api_secret) as c:
        fee = await c.get("/v5/account/fee-rate", "category=linear&symbol=ETHUSDT")
        assert fee["result"]["list"][0]["makerFeeRate"] == "0.0001"
        info = await c.get("/v5/user/query-api")
        assert info["result"]["apiKey"] == other.api_key and info["result"]["uta"] == 1
