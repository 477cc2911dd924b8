"""The HTTP control surface under /sim/: the same fault and market operations as the Python API."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.common.json_io import JSONDecodeError, dumps, loads
from bot.sim.appkey import SIM_KEY
from bot.sim.config import SimAccount

if TYPE_CHECKING:
    from bot.sim.server import SimServer

__all__ = ["add_control_routes"]


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(obj), status=status, content_type="application/json")


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        obj = loads(raw)
    except JSONDecodeError as exc:
        raise web.HTTPBadRequest(text="body must be JSON") from exc
    if not isinstance(obj, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return obj


def _fault(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        sim: SimServer = request.app[SIM_KEY]
        body = await _body(request)
        try:
            out = getattr(sim.faults, name)(**body)
        except (TypeError, ValueError) as exc:
            return _json({"ok": False, "error": str(exc)}, 400)
        return _json({"ok": True, "result": out})
    return handler


async def _stats(request: web.Request) -> web.Response:
    sim: SimServer = request.app[SIM_KEY]
    return _json({**sim.stats.as_dict(), "faults": sim.faults.state(),
                  "connections": [{"conn_id": c.conn_id, "stream": c.stream, "category": c.category,
                                   "topics": sorted(c.topics)} for c in sim.hub.connections()]})


async def _accounts(request: web.Request) -> web.Response:
    sim: SimServer = request.app[SIM_KEY]
    if request.method == "POST":
        body = await _body(request)
        kw: dict[str, Any] = {}
        try:
            for k in ("api_key", "api_secret"):
                if k in body:
                    kw[k] = str(body[k])
            for k in ("maker_fee", "taker_fee", "spot_maker_fee", "spot_taker_fee"):
                if k in body:
                    kw[k] = Decimal(str(body[k]))
            acct = sim.add_account(SimAccount(**kw))
        except (ValueError, InvalidOperation) as exc:
            return _json({"ok": False, "error": str(exc)}, 400)
        return _json({"ok": True, "api_key": acct.api_key, "api_secret": acct.api_secret, "uid": acct.uid})
    return _json([{"api_key": a.api_key, "uid": a.uid, "maker_fee": a.maker_fee, "taker_fee": a.taker_fee}
                  for a in sim.accounts])


async def _orders(request: web.Request) -> web.Response:
    sim: SimServer = request.app[SIM_KEY]
    key = request.match_info["api_key"]
    if key not in sim.engine.accounts:
        raise web.HTTPNotFound(text="unknown api key")
    return _json({"open_orders": sim.open_orders(key), "executions": sim.executions(key),
                  "positions": sim.positions(key), "wallet": sim.wallet(key)})


async def _market(request: web.Request) -> web.Response:
    sim: SimServer = request.app[SIM_KEY]
    body = await _body(request)
    try:
        symbol = str(body["symbol"])
        cat = body.get("category")
        if "price" in body:
            sim.set_fair_price(symbol, Decimal(str(body["price"])), cat)
        if "jump_pct" in body:
            sim.jump(symbol, Decimal(str(body["jump_pct"])), cat)
        if "paused" in body:
            sim.pause_market(bool(body["paused"]))
        fair = sim.fair_price(symbol, cat)
    except (KeyError, ValueError, InvalidOperation) as exc:
        return _json({"ok": False, "error": str(exc)}, 400)
    return _json({"ok": True, "symbol": symbol, "fair": fair})


async def _clear(request: web.Request) -> web.Response:
    sim: SimServer = request.app[SIM_KEY]
    sim.faults.clear()
    sim.ip_limiter.clear()
    return _json({"ok": True})


def add_control_routes(app: web.Application) -> None:
    for name in ("drop_ws", "refuse_connections", "stall_stream", "book_gap", "book_reset", "rest_errors",
                 "rest_delay", "rate_limit_burst", "reject_next_orders"):
        app.router.add_post(f"/sim/faults/{name}", _fault(name))
    app.router.add_post("/sim/faults/clear", _clear)
    app.router.add_get("/sim/stats", _stats)
    app.router.add_get("/sim/accounts", _accounts)
    app.router.add_post("/sim/accounts", _accounts)
    app.router.add_get("/sim/accounts/{api_key}", _orders)
    app.router.add_post("/sim/market", _market)
