"""ccxt (REST and pro WS) against the emulator with only its base URLs changed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sim_client import bid_px, wait_subscribed

from bot.sim import SimServer

ccxt_pro = pytest.importorskip("ccxt.pro")


def _point_at(ex: Any, sim: SimServer) -> None:
    """Replace every Bybit host in ccxt's URL table with the emulator's; nothing else changes."""
    api = ex.urls["api"]
    for k in ("futures", "private", "public", "spot", "v2"):
        api[k] = sim.rest_url
    ws = api["ws"]
    for cat in ("linear", "spot", "inverse", "option"):
        ws["public"][cat] = sim.ws_public_url(cat)
    ws["private"]["contract"] = sim.ws_private_url
    ws["private"]["spot"]["unified"] = sim.ws_private_url
    ws["private"]["trade"] = sim.ws_trade_url


async def test_ccxt_rest_and_ws_work_unchanged(sim: SimServer) -> None:
    acct = sim.accounts[0]
    ex = ccxt_pro.bybit({"apiKey": acct.api_key, "secret": acct.api_secret, "enableRateLimit": False})
    _point_at(ex, sim)
    try:
        markets = await ex.load_markets()
        assert {"BTC/USDT:USDT", "ETH/USDT:USDT", "BTC/USDT"} <= set(markets)
        ob = await ex.watch_order_book("BTC/USDT:USDT", limit=50)
        assert ob["bids"] and ob["asks"] and ob["bids"][0][0] < ob["asks"][0][0]
        ob = await ex.watch_order_book("BTC/USDT:USDT", limit=50)  # a delta applied on top
        assert ob["bids"][0][0] < ob["asks"][0][0]
        bal = await ex.fetch_balance()
        assert bal["USDT"]["total"] == 1_000_000
        fee = await ex.fetch_trading_fee("BTC/USDT:USDT")
        assert fee["maker"] == -0.00005 and fee["taker"] == 0.00055
        sim.pause_market()
        m = sim.market("BTCUSDT", "linear")
        px = float(bid_px(m, -2))
        watcher = asyncio.ensure_future(ex.watch_orders("BTC/USDT:USDT"))
        await wait_subscribed(sim, "private", "order")  # auth + subscribe before the order goes in
        order = await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.001, px, {"postOnly": True})
        pushed = await asyncio.wait_for(watcher, 5)
        assert pushed[0]["id"] == order["id"] and pushed[0]["status"] == "open"
        open_orders = await ex.fetch_open_orders("BTC/USDT:USDT")
        assert [o["id"] for o in open_orders] == [order["id"]]
        await ex.cancel_order(order["id"], "BTC/USDT:USDT")
        await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.001)
        trades = await ex.fetch_my_trades("BTC/USDT:USDT")
        assert trades and trades[0]["fee"]["rate"] == 0.00055 and trades[0]["takerOrMaker"] == "taker"
        assert sim.stats.auth_failures == {}
    finally:
        await ex.close()
