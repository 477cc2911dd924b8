"""A tiny signed Bybit V5 client for the emulator's own tests (aiohttp; no bot.exchange dependency)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import aiohttp

from bot.common.json_io import dumps, loads
from bot.exchange.bybit.signing import sign_rest, sign_ws_auth
from bot.sim import SimServer
from bot.sim.engine import Market


class Client:
    def __init__(self, sim: SimServer, key: str | None = None, secret: str | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        acct = sim.accounts[0]
        self.sim = sim
        self.key = key or acct.api_key
        self.secret = secret or acct.api_secret
        self.session = session or aiohttp.ClientSession()
        self.last_headers: dict[str, str] = {}
        self.last_status = 0
        self.history: list[tuple[dict[str, str], Any]] = []  # (response headers, decoded body)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def headers(self, payload: str | bytes, ts: int | None = None, recv: str = "5000") -> dict[str, str]:
        ts = ts if ts is not None else int(time.time() * 1000)
        return {"X-BAPI-API-KEY": self.key, "X-BAPI-TIMESTAMP": str(ts), "X-BAPI-RECV-WINDOW": recv,
                "X-BAPI-SIGN": sign_rest(self.secret, ts, self.key, recv, payload), "X-BAPI-SIGN-TYPE": "2"}

    async def get(self, path: str, query: str = "", *, signed: bool = True,
                  headers: dict[str, str] | None = None) -> Any:
        url = self.sim.rest_url + path + (f"?{query}" if query else "")
        h = headers if headers is not None else (self.headers(query) if signed else {})
        async with self.session.get(url, headers=h) as r:
            self.last_status = r.status
            self.last_headers = dict(r.headers)
            body = await r.read()
        return loads(body) if r.content_type == "application/json" else body.decode()

    async def post(self, path: str, body: dict[str, Any] | bytes | str, *,
                   headers: dict[str, str] | None = None) -> Any:
        raw = body if isinstance(body, (bytes, str)) else dumps(body)
        raw_b = raw.encode() if isinstance(raw, str) else raw
        h = headers if headers is not None else self.headers(raw_b)
        h = {**h, "Content-Type": "application/json"}
        async with self.session.post(self.sim.rest_url + path, data=raw_b, headers=h) as r:
            self.last_status = r.status
            self.last_headers = dict(r.headers)
            data = await r.read()
        out = loads(data) if r.content_type == "application/json" else data.decode()
        self.history.append((dict(r.headers), out))
        return out

    async def order(self, **fields: Any) -> Any:
        body = {"category": "linear", "symbol": "BTCUSDT", "orderType": "Limit", **fields}
        return await self.post("/v5/order/create", body)


def ws_auth_args(key: str, secret: str, expires: int | None = None) -> list[Any]:
    exp = expires if expires is not None else int(time.time() * 1000) + 10_000
    return [key, exp, sign_ws_auth(secret, exp)]


async def wait_subscribed(sim: SimServer, stream: str, topic: str, timeout_s: float = 5.0) -> None:
    """Wait until some connection of `stream` has `topic` (clients subscribe asynchronously)."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while not any(c.stream == stream and topic in c.topics for c in sim.hub.connections()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {stream} connection subscribed to {topic} within {timeout_s}s")
        await asyncio.sleep(0.02)


def bid_px(m: Market, offset_ticks: int = 0) -> Decimal:
    """Best bid of a market (+/- ticks) as a price; the book must have bids."""
    best = m.book.best_bid()
    assert best is not None, "empty bid side"
    return m.spec.instrument.from_ticks(best + offset_ticks)


def ask_px(m: Market, offset_ticks: int = 0) -> Decimal:
    best = m.book.best_ask()
    assert best is not None, "empty ask side"
    return m.spec.instrument.from_ticks(best + offset_ticks)
