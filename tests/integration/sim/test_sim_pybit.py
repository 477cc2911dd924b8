"""An off-the-shelf client, pybit (Bybit's official SDK), against the emulator with only base URLs changed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sim_client import bid_px, wait_subscribed

from bot.sim import SimServer

pybit_http = pytest.importorskip("pybit.unified_trading")


async def test_pybit_http_signs_and_trades_against_the_emulator(sim: SimServer) -> None:
    sim.pause_market()
    acct = sim.accounts[0]
    # pybit's default max_retries (3): max_retries=0 trips an UnboundLocalError inside pybit 5.17
    session = pybit_http.HTTP(api_key=acct.api_key, api_secret=acct.api_secret)
    session.endpoint = sim.rest_url  # the only change: the base URL
    m = sim.market("BTCUSDT", "linear")
    px = str(bid_px(m, -3))

    def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["time"] = session.get_server_time()
        out["instruments"] = session.get_instruments_info(category="linear")
        out["book"] = session.get_orderbook(category="linear", symbol="BTCUSDT")
        out["create"] = session.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit",
                                            qty="0.001", price=px, timeInForce="PostOnly", orderLinkId="pybit-1")
        out["open"] = session.get_open_orders(category="linear", symbol="BTCUSDT")
        out["amend"] = session.amend_order(category="linear", symbol="BTCUSDT", orderLinkId="pybit-1", qty="0.002")
        out["cancel"] = session.cancel_order(category="linear", symbol="BTCUSDT", orderLinkId="pybit-1")
        out["batch"] = session.place_batch_order(category="linear", request=[
            {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": px,
             "timeInForce": "PostOnly", "orderLinkId": f"pybit-b{i}"} for i in range(3)])
        out["cancel_all"] = session.cancel_all_orders(category="linear", symbol="BTCUSDT")
        out["wallet"] = session.get_wallet_balance(accountType="UNIFIED")
        out["positions"] = session.get_positions(category="linear", symbol="BTCUSDT")
        out["fees"] = session.get_fee_rates(category="linear", symbol="BTCUSDT")
        out["executions"] = session.get_executions(category="linear")
        return out

    out = await asyncio.to_thread(run)
    for name, r in out.items():
        assert r["retCode"] == 0, (name, r)
    assert out["create"]["result"]["orderLinkId"] == "pybit-1"
    assert out["open"]["result"]["list"][0]["orderLinkId"] == "pybit-1"
    assert [x["code"] for x in out["batch"]["retExtInfo"]["list"]] == [0, 0, 0]
    assert len(out["cancel_all"]["result"]["list"]) == 3
    assert sim.stats.auth_failures == {}


async def test_pybit_websockets_public_and_private(sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pybit import unified_trading

    # pybit records a subscription and registers its callback only after sending the subscribe; an
    # ack or snapshot that arrives first (loopback, busy machine) raises inside pybit's reader. A
    # real venue answers a network round trip later; the emulator can be told to wait as long.
    sim: SimServer = await sim_factory(ws_reply_delay_ms=50, first_push_delay_ms=100)
    monkeypatch.setattr(unified_trading, "PUBLIC_WSS", sim.ws_url + "/v5/public/{CHANNEL_TYPE}")
    monkeypatch.setattr(unified_trading, "PRIVATE_WSS", sim.ws_private_url)
    acct = sim.accounts[0]
    got: dict[str, list[dict[str, Any]]] = {"book": [], "order": []}
    seen = threading.Event()
    booked = threading.Event()

    def on_book(msg: dict[str, Any]) -> None:
        got["book"].append(msg)
        booked.set()

    def on_order(msg: dict[str, Any]) -> None:
        got["order"].append(msg)
        seen.set()

    def open_streams() -> tuple[Any, Any]:
        # retries >= 2: pybit 5.x raises after its last retry even when that attempt connected
        pub = unified_trading.WebSocket(testnet=False, channel_type="linear", retries=3)
        pub.orderbook_stream(depth=50, symbol="BTCUSDT", callback=on_book)
        priv = unified_trading.WebSocket(testnet=False, channel_type="private", api_key=acct.api_key,
                                         api_secret=acct.api_secret, retries=3)
        priv.order_stream(callback=on_order)
        return pub, priv

    pub, priv = await asyncio.to_thread(open_streams)
    try:
        sim.pause_market()
        m = sim.market("BTCUSDT", "linear")
        from bot.sim.orderops import create_order

        await wait_subscribed(sim, "private", "order")
        await wait_subscribed(sim, "public", "orderbook.50.BTCUSDT")
        create_order(sim.engine, sim.engine.accounts[acct.api_key], {
            "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001",
            "price": str(bid_px(m, -2)), "orderLinkId": "pybit-ws"})
        await asyncio.to_thread(seen.wait, 5.0)  # pybit calls back from its own threads
        await asyncio.to_thread(booked.wait, 5.0)
        assert got["order"] and got["order"][0]["data"][0]["orderLinkId"] == "pybit-ws"
        assert got["book"] and got["book"][0]["type"] == "snapshot"
    finally:
        await asyncio.to_thread(pub.exit)
        await asyncio.to_thread(priv.exit)
