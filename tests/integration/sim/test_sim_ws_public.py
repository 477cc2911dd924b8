"""Public WS conformance: acks echoing req_id, pong shapes, book snapshot + deltas, gaps/resets, bad input."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp

from bot.common.json_io import dumps, loads
from bot.sim import SimServer


async def _recv(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 3.0) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), wait_s)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    out = loads(msg.data)
    assert isinstance(out, dict)
    return out


async def _until(ws: aiohttp.ClientWebSocketResponse, pred: Any, wait_s: float = 5.0) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        while True:
            m = await _recv(ws, wait_s)
            if pred(m):
                return m
    return await asyncio.wait_for(go(), wait_s)


async def test_linear_and_spot_subscribe_acks_and_pongs(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(sim.ws_public_url("linear")) as lin, s.ws_connect(sim.ws_public_url("spot")) as spot:
            await lin.send_str(dumps({"op": "ping", "req_id": "p1"}).decode())
            pong = await _recv(lin)
            assert pong["success"] is True and pong["ret_msg"] == "pong" and pong["op"] == "ping"
            assert pong["req_id"] == "p1" and pong["conn_id"]
            await lin.send_str(dumps({"op": "subscribe", "req_id": "r7", "args": ["publicTrade.BTCUSDT"]}).decode())
            ack = await _recv(lin)
            assert ack == {"success": True, "ret_msg": "", "conn_id": ack["conn_id"], "req_id": "r7", "op": "subscribe"}
            await spot.send_str(dumps({"op": "subscribe", "req_id": "10001", "args": ["tickers.BTCUSDT"]}).decode())
            ack = await _recv(spot)
            assert ack["success"] is True and ack["ret_msg"] == "subscribe" and ack["req_id"] == "10001"
            snap = await _recv(spot)
            assert snap["topic"] == "tickers.BTCUSDT" and "bid1Price" in snap["data"]
            await spot.send_str('{"op":"ping"}')
            pong = await _until(spot, lambda m: m.get("op") == "ping")
            assert pong["ret_msg"] == "pong" and "req_id" not in pong


async def test_option_channel_pong_shape(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("option")) as ws:
        await ws.send_str('{"op":"ping"}')
        pong = await _recv(ws)
        assert pong["op"] == "pong" and isinstance(pong["args"], list) and pong["args"][0].isdigit()


async def test_bad_input_gets_an_error_ack_and_other_clients_keep_streaming(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(sim.ws_public_url("linear")) as bad, s.ws_connect(sim.ws_public_url("linear")) as good:
            await good.send_str('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
            assert (await _recv(good))["success"] is True
            await bad.send_str("{not json")
            assert (await _recv(bad))["success"] is False
            await bad.send_str('{"op":"dance"}')
            assert (await _recv(bad))["success"] is False
            await bad.send_str('{"op":"subscribe","req_id":"x","args":["orderbook.7.BTCUSDT","nope"]}')
            ack = await _recv(bad)
            assert ack["success"] is False and ack["ret_msg"] == "error:handler not found" and ack["req_id"] == "x"
            await bad.send_str('{"op":"subscribe","args":["orderbook.1.BTCUSDT"]}')
            assert (await _recv(bad))["success"] is True
            await bad.send_str('{"op":"subscribe","args":["orderbook.1.BTCUSDT"]}')
            dup = await _until(bad, lambda m: "success" in m)
            assert dup["success"] is False and "already subscribed" in dup["ret_msg"]
            await bad.send_bytes(b"\x00" * 10)
            snap = await _until(good, lambda m: m.get("topic") == "orderbook.50.BTCUSDT")
            assert snap["type"] == "snapshot"
            await _until(good, lambda m: m.get("type") == "delta")
            assert not bad.closed


def _apply(book: dict[str, dict[Decimal, Decimal]], data: dict[str, Any]) -> None:
    for side in ("b", "a"):
        for p, q in data[side]:
            if q == "0":
                book[side].pop(Decimal(p), None)
            else:
                book[side][Decimal(p)] = Decimal(q)


async def test_orderbook_snapshot_then_contiguous_deltas_rebuild_the_book(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        await ws.send_str('{"op":"subscribe","args":["orderbook.50.BTCUSDT"]}')
        await _recv(ws)
        snap = await _recv(ws)
        assert snap["type"] == "snapshot" and snap["topic"] == "orderbook.50.BTCUSDT"
        assert len(snap["data"]["b"]) == 50 and len(snap["data"]["a"]) == 50
        book: dict[str, dict[Decimal, Decimal]] = {"b": {}, "a": {}}
        _apply(book, snap["data"])
        u, seq = snap["data"]["u"], snap["data"]["seq"]
        deltas = 0
        while deltas < 15:
            m = await _recv(ws)
            assert m["type"] == "delta" and isinstance(m["ts"], int) and isinstance(m["cts"], int)
            assert m["data"]["u"] == u + 1
            assert m["data"]["seq"] > seq
            u, seq = m["data"]["u"], m["data"]["seq"]
            _apply(book, m["data"])
            assert max(book["b"]) < min(book["a"])
            deltas += 1
        sim.pause_market()
        await asyncio.sleep(0.1)
        while True:  # drain what was already in flight
            try:
                m = await _recv(ws, 0.3)
            except TimeoutError:
                break
            _apply(book, m["data"])
        bids, asks = sim.market("BTCUSDT", "linear").book.depth(50)
        inst = sim.market("BTCUSDT", "linear").spec.instrument
        assert sorted(book["b"].items(), reverse=True) == [(inst.from_ticks(p), inst.from_lots(q)) for p, q in bids]
        assert sorted(book["a"].items()) == [(inst.from_ticks(p), inst.from_lots(q)) for p, q in asks]


async def test_book_gap_and_reset_faults(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        await ws.send_str('{"op":"subscribe","args":["orderbook.200.ETHUSDT"]}')
        await _recv(ws)
        snap = await _recv(ws)
        u = snap["data"]["u"]
        assert sim.faults.book_gap("ETHUSDT") == 1
        m = await _until(ws, lambda m: m.get("type") == "delta")
        assert m["data"]["u"] == u + 2
        sim.faults.book_reset("ETHUSDT")
        m = await _until(ws, lambda m: m.get("type") == "snapshot")
        assert m["data"]["u"] == 1


async def test_level1_is_snapshot_only_and_public_trades_flow(sim: SimServer) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        await ws.send_str('{"op":"subscribe","args":["orderbook.1.BTCUSDT","publicTrade.BTCUSDT"]}')
        await _recv(ws)
        kinds = set()
        trade = None
        for _ in range(400):
            m = await _recv(ws)
            if m["topic"].startswith("orderbook"):
                kinds.add(m["type"])
                assert len(m["data"]["b"]) <= 1
            elif trade is None:
                trade = m
            if trade is not None and len(kinds) and _ > 20:
                break
        assert kinds == {"snapshot"}
        assert trade is not None and trade["type"] == "snapshot"
        t = trade["data"][0]
        assert {"T", "s", "S", "v", "p", "L", "i", "BT", "seq"} <= set(t)


async def test_idle_connection_is_closed_after_the_timeout(sim_factory: Any) -> None:
    sim = await sim_factory(idle_timeout_s=0.5, idle_sweep_s=0.1, market=False)
    async with aiohttp.ClientSession() as s, s.ws_connect(sim.ws_public_url("linear")) as ws:
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
