"""REST surface under /v5/: routing, auth, rate limits, faults and Bybit's response envelope."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.common.json_io import JSONDecodeError, dumps, loads
from bot.sim import market, orderops, queries
from bot.sim.accounts import AccountState
from bot.sim.appkey import SIM_KEY
from bot.sim.auth import AuthFailure, check_rest
from bot.sim.engine import Engine, OrderError
from bot.sim.orderops import batch_items as _items

if TYPE_CHECKING:
    from bot.sim.server import SimServer

__all__ = ["ROUTES", "handle_rest"]

log = logging.getLogger(__name__)
Handler = Callable[["SimServer", AccountState | None, dict[str, Any]], Any]


def _public(fn: Callable[[Engine, dict[str, Any]], Any]) -> Handler:
    return lambda sim, acct, p: fn(sim.engine, p)


def _private(fn: Callable[[Engine, AccountState, dict[str, Any]], Any]) -> Handler:
    def call(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
        assert acct is not None
        return fn(sim.engine, acct, p)
    return call


def _time(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    ns = time.time_ns() + sim.cfg.clock_offset_ms * 1_000_000
    return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}


def _dcp_set(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    assert acct is not None
    product = p.get("product", "OPTIONS") or "OPTIONS"
    if product not in ("OPTIONS", "DERIVATIVES", "SPOT"):
        raise OrderError(10001, "params error: product invalid")
    window = p.get("timeWindow", 10)
    if isinstance(window, bool) or not isinstance(window, (int, str)) or not str(window).isdigit() \
            or not 3 <= int(window) <= 300:
        raise OrderError(10001, "params error: timeWindow must be an integer in [3, 300]")
    if not sim.cfg.dcp_enabled:
        raise OrderError(10005, "Permission denied, please check your API key permissions.")
    acct.dcp[product] = int(window)
    return None


def _dcp_info(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    assert acct is not None
    return {"dcpInfos": [{"product": k, "dcpStatus": "ON", "timeWindow": str(v)} for k, v in acct.dcp.items()]}


def _account_info(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    return {"unifiedMarginStatus": 5, "marginMode": "REGULAR_MARGIN", "isMasterTrader": False,
            "spotHedgingStatus": "OFF", "updatedTime": str(sim.now_ms()), "dcpStatus": "OFF", "timeWindow": 10,
            "smpGroup": 0}


def _query_api(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    assert acct is not None
    return {"id": str(acct.uid), "note": "sim", "apiKey": acct.api_key, "readOnly": 0, "secret": "",  # nosec B105
            "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"],
                            "Wallet": ["AccountTransfer"],
                            "Options": ["OptionsTrade"], "Derivatives": [], "CopyTrading": [], "BlockTrade": [],
                            "Exchange": [], "NFT": []},
            "ips": ["*"], "type": 1, "deadlineDay": 90, "expiredAt": "", "createdAt": "2026-01-01T00:00:00Z",
            "unified": 0, "uta": 1, "userID": acct.uid, "inviterID": 0, "vipLevel": "No VIP",
            "mktMakerLevel": str(acct.cfg.mm_level), "affiliateID": 0, "rsaPublicKey": "", "isMaster": True,
            "parentUid": "0", "kycLevel": "LEVEL_DEFAULT", "kycRegion": ""}


def _coin_info(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    """GET /v5/asset/coin/query-info: ccxt calls it while loading markets (fetch_currencies)."""
    coins = sorted({c for m in sim.engine.markets.values()
                    for c in (m.spec.instrument.base_coin, m.spec.instrument.quote_coin)})
    if p.get("coin"):
        coins = [c for c in coins if c == p["coin"]]
    return {"rows": [{"name": c, "coin": c, "remainAmount": "1000000", "chains": [{
        "chainType": c, "confirmation": "1", "withdrawFee": "0", "depositMin": "0", "withdrawMin": "0",
        "chain": c, "chainDeposit": "1", "chainWithdraw": "1", "minAccuracy": "8",
        "withdrawPercentageFee": "0", "contractAddress": "", "safeConfirmNumber": "1"}]} for c in coins]}


def _set_leverage(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
    assert acct is not None
    m = sim.engine.market(p.get("category"), p.get("symbol"))
    from decimal import Decimal, InvalidOperation

    try:
        lev = Decimal(str(p.get("buyLeverage")))
    except InvalidOperation as exc:
        raise OrderError(10001, "params error: buyLeverage invalid") from exc
    from bot.sim.accounts import Position

    pos = acct.positions.setdefault(m.symbol, Position(symbol=m.symbol))
    if pos.leverage == lev:
        raise OrderError(110043, "Set leverage not modified")
    pos.leverage = lev
    return {}


def _batch(kind: str) -> Handler:
    def call(sim: SimServer, acct: AccountState | None, p: dict[str, Any]) -> Any:
        raise AssertionError("batches are dispatched in handle_rest")
    call.batch_kind = kind  # type: ignore[attr-defined]
    return call


# path -> (method, needs auth, handler)
ROUTES: dict[str, tuple[str, bool, Handler]] = {
    "/v5/market/time": ("GET", False, _time),
    "/v5/market/instruments-info": ("GET", False, _public(market.instruments)),
    "/v5/market/orderbook": ("GET", False, lambda sim, a, p: market.orderbook_rest(sim.engine, p, sim.now_ms())),
    "/v5/market/tickers": ("GET", False, _public(market.tickers_rest)),
    "/v5/market/recent-trade": ("GET", False, _public(market.recent_trades_rest)),
    "/v5/order/create": ("POST", True, _private(orderops.create_order)),
    "/v5/order/amend": ("POST", True, _private(orderops.amend_order)),
    "/v5/order/cancel": ("POST", True, _private(orderops.cancel_order)),
    "/v5/order/cancel-all": ("POST", True, _private(orderops.cancel_all)),
    "/v5/order/create-batch": ("POST", True, _batch("create")),
    "/v5/order/amend-batch": ("POST", True, _batch("amend")),
    "/v5/order/cancel-batch": ("POST", True, _batch("cancel")),
    "/v5/order/disconnected-cancel-all": ("POST", True, _dcp_set),
    "/v5/order/realtime": ("GET", True, _private(queries.open_orders)),
    "/v5/order/history": ("GET", True, _private(queries.order_history)),
    "/v5/execution/list": ("GET", True, _private(queries.executions)),
    "/v5/position/list": ("GET", True, _private(queries.positions)),
    "/v5/position/set-leverage": ("POST", True, _set_leverage),
    "/v5/account/wallet-balance": ("GET", True, _private(queries.wallet_balance)),
    "/v5/account/fee-rate": ("GET", True, _private(queries.fee_rate)),
    "/v5/account/info": ("GET", True, _account_info),
    "/v5/account/query-dcp-info": ("GET", True, _dcp_info),
    "/v5/user/query-api": ("GET", True, _query_api),
    "/v5/asset/coin/query-info": ("GET", True, _coin_info),
}


def _envelope(sim: SimServer, code: int, msg: str, result: Any, ext: Any = None,
              headers: dict[str, str] | None = None, status: int = 200) -> web.Response:
    now = sim.now_ms()
    body = {"retCode": code, "retMsg": msg, "result": result if result is not None else {},
            "retExtInfo": ext if ext is not None else {}, "time": now}
    h = {"Content-Type": "application/json", "Ret_code": str(code), "Traceid": f"sim{now:x}", "Timenow": str(now)}
    if headers:
        h.update(headers)
    return web.Response(body=dumps(body), status=status, headers=h)


async def handle_rest(request: web.Request) -> web.StreamResponse:
    sim: SimServer = request.app[SIM_KEY]
    try:
        return await _handle(sim, request)
    except web.HTTPException:
        raise
    except Exception:  # an emulator bug must look like a venue hiccup, not a dropped connection
        log.exception("sim_rest_handler_failed path=%s", request.path)
        return _envelope(sim, 10016, "Server error.", None)


async def _handle(sim: SimServer, request: web.Request) -> web.StreamResponse:
    path = request.path
    sim.stats.requests_per_endpoint[path] += 1
    ip = request.remote or "?"
    if not sim.ip_limiter.hit(ip, time.monotonic()):
        return web.Response(status=403, text="access too frequent")
    status = sim.faults.take_rest_error(path)
    delay = sim.faults.take_rest_delay()
    if delay:
        await asyncio.sleep(delay)
    if status is not None:
        return web.Response(status=status, text=f"sim injected HTTP {status}")
    route = ROUTES.get(path)
    if route is None or route[0] != request.method:
        return _envelope(sim, 10017, "route not found", None, status=404)
    _, needs_auth, handler = route
    if request.method == "GET":
        raw = request.raw_path.partition("?")[2].encode()
        params: dict[str, Any] = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    else:
        raw = await request.read()
        params = {}
    now = sim.now_ms()
    acct: AccountState | None = None
    if needs_auth:
        try:
            acct = check_rest(request.headers, raw, now, sim.engine.accounts,
                              future_ms=sim.cfg.future_tolerance_ms, default_window=sim.cfg.recv_window_default_ms)
        except AuthFailure as exc:
            sim.stats.auth_failures[exc.code] += 1
            return _envelope(sim, exc.code, exc.msg, None)
    if request.method == "POST":
        try:
            params = loads(raw) if raw.strip() else {}
        except JSONDecodeError:
            return _envelope(sim, 10001, "params error: request body is not valid JSON", None)
        if not isinstance(params, dict):
            return _envelope(sim, 10001, "params error: request body must be a JSON object", None)
    batch_kind = getattr(handler, "batch_kind", None)
    headers: dict[str, str] | None = None
    allowed: int | None = None
    if acct is not None:
        n = len(params["request"]) if batch_kind and isinstance(params.get("request"), list) else 1
        decision = sim.take_rate_limit(acct, path, str(params.get("category", "")), n)
        headers = sim.limit_headers(decision)
        if decision is not None:
            if decision.allowed == 0:
                return _envelope(sim, 10006, "Too many visits!", None, headers=headers)
            allowed = decision.allowed
    try:
        if batch_kind:
            assert acct is not None
            if batch_kind == "create":
                sim.stats.orders_received.extend(_items(params))
            results, ext = orderops.run_batch(sim.engine, acct, batch_kind, params, allowed=allowed)
            return _envelope(sim, 0, "OK", {"list": results}, {"list": ext}, headers)
        if path == "/v5/order/create":
            sim.stats.orders_received.append(params)
        result = handler(sim, acct, params)
    except OrderError as exc:
        return _envelope(sim, exc.code, exc.msg, None, headers=headers)
    msg = "success" if path == "/v5/order/disconnected-cancel-all" else "OK"
    return _envelope(sim, 0, msg, result, headers=headers)
