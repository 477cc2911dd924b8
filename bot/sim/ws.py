"""WebSocket endpoints: /v5/public/{category}, /v5/private and /v5/trade, with Bybit's op/ack shapes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bot.common.json_io import JSONDecodeError, loads
from bot.sim.appkey import SIM_KEY
from bot.sim.auth import AuthFailure, check_timestamp, check_ws_auth
from bot.sim.engine import OrderError
from bot.sim.hub import DCP_PRODUCTS, Connection
from bot.sim.market import BOOK_DEPTHS
from bot.sim.orderops import amend_order, cancel_order, create_order, run_batch
from bot.sim.orderops import batch_items as _items

if TYPE_CHECKING:
    from bot.sim.server import SimServer

__all__ = ["handle_private", "handle_public", "handle_trade"]

log = logging.getLogger(__name__)
CATEGORIES = ("linear", "spot", "inverse", "option")
_PRIVATE_BASE = ("order", "execution", "execution.fast", "position", "wallet", "greeks")
_ACTIVE_RE = re.compile(r"^(\d+)([sm])$")
MAX_ARGS_LEN = 21_000


def _max_active(request: web.Request, default: float) -> float:
    raw = request.query.get("max_active_time")
    if not raw:
        return default
    m = _ACTIVE_RE.match(raw)
    if not m:
        return default
    secs = int(m.group(1)) * (60 if m.group(2) == "m" else 1)
    return float(min(600, max(30, secs)))


async def _open(sim: SimServer, request: web.Request, stream: str, category: str) -> Connection | web.StreamResponse:
    sim.stats.attempt(stream, time.monotonic(), request.path, sim.faults.is_refused(stream))
    if sim.faults.is_refused(stream):
        if sim.faults.refuse_mode == "reset" and request.transport is not None:
            request.transport.abort()
        return web.Response(status=503, text="service unavailable")
    ws = web.WebSocketResponse(max_msg_size=sim.cfg.max_frame_bytes, compress=False, autoping=True)
    await ws.prepare(request)
    idle = sim.cfg.idle_timeout_s if stream == "public" else _max_active(request, sim.cfg.idle_timeout_s)
    conn = Connection(ws, request, stream, category, idle, sim.hub)
    conn.writer = asyncio.get_running_loop().create_task(conn.write_loop())
    sim.hub.add(conn)
    return conn


async def _serve(sim: SimServer, conn: Connection, on_msg: Any) -> None:
    try:
        async for msg in conn.ws:
            if msg.type == WSMsgType.TEXT:
                sim.stats.ws_messages_received += 1
                conn.last_activity = time.monotonic()
                try:
                    on_msg(conn, msg.data)
                except Exception:  # a bug on one message must not take the server down
                    log.exception("sim_ws_handler_failed conn=%s", conn.conn_id)
            elif msg.type == WSMsgType.BINARY:
                conn.last_activity = time.monotonic()
                on_msg(conn, msg.data.decode("utf-8", "replace"))
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        sim.hub.remove(conn)
        conn.queue.put_nowait(None)
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.writer


def _reply(sim: SimServer, conn: Connection, payload: dict[str, Any]) -> None:
    """Answer an op (ack, pong), after `ws_reply_delay_ms` when set: a venue answers a round trip later."""
    delay = sim.cfg.ws_reply_delay_ms / 1000
    if delay <= 0:
        conn.send(payload)
    else:
        asyncio.get_running_loop().call_later(delay, conn.send, payload)


def _decode(raw: str) -> dict[str, Any] | None:
    try:
        obj = loads(raw)
    except JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


# ------------------------------------------------------------------ public
async def handle_public(request: web.Request) -> web.StreamResponse:
    sim: SimServer = request.app[SIM_KEY]
    category = request.match_info["category"]
    if category not in CATEGORIES:
        raise web.HTTPNotFound()
    conn = await _open(sim, request, "public", category)
    if not isinstance(conn, Connection):
        return conn
    await _serve(sim, conn, lambda c, raw: _public_msg(sim, c, raw))
    return conn.ws


def _public_ack(conn: Connection, op: str, req_id: Any, ok: bool, msg: str,
                good: list[str] | None = None, bad: list[str] | None = None) -> dict[str, Any]:
    if conn.category == "option":
        return {"success": ok, "conn_id": conn.conn_id, "type": "COMMAND_RESP",
                "data": {"failTopics": bad or [], "successTopics": good or []}, "req_id": req_id or ""}
    ret_msg = msg if not ok else (op if conn.category == "spot" else "")
    return {"success": ok, "ret_msg": ret_msg, "conn_id": conn.conn_id, "req_id": req_id or "", "op": op}


def _valid_public_topic(sim: SimServer, category: str, topic: Any) -> bool:
    if not isinstance(topic, str):
        return False
    parts = topic.split(".")
    if parts[0] == "orderbook" and len(parts) == 3:
        return parts[1].isdigit() and int(parts[1]) in BOOK_DEPTHS and (category, parts[2]) in sim.engine.markets
    if parts[0] in ("publicTrade", "tickers") and len(parts) == 2:
        return (category, parts[1]) in sim.engine.markets
    return False


def _public_msg(sim: SimServer, conn: Connection, raw: str) -> None:
    req = _decode(raw)
    if req is None:
        _reply(sim, conn, _public_ack(conn, "", "", False, "error:request parse failed"))
        return
    op, req_id = req.get("op"), req.get("req_id")
    if op == "ping":
        if conn.category == "option":
            _reply(sim, conn, {"args": [str(sim.now_ms())], "op": "pong"})
        else:
            pong = {"success": True, "ret_msg": "pong", "conn_id": conn.conn_id, "op": "ping"}
            if conn.category != "spot" or req_id is not None:
                pong["req_id"] = req_id or ""
            _reply(sim, conn, pong)
        return
    if op not in ("subscribe", "unsubscribe"):
        _reply(sim, conn, _public_ack(conn, str(op or ""), req_id, False, f"error:unsupported op {op}"))
        return
    args = req.get("args")
    if not isinstance(args, list) or not args:
        _reply(sim, conn, _public_ack(conn, op, req_id, False, "error:args invalid"))
        return
    if conn.category == "spot" and len(args) > 10:
        _reply(sim, conn, _public_ack(conn, op, req_id, False, "error:args count exceeds 10"))
        return
    if sum(len(str(a)) for a in conn.topics | {str(a) for a in args}) > MAX_ARGS_LEN:
        _reply(sim, conn, _public_ack(conn, op, req_id, False, "error:args length exceeds 21000"))
        return
    good = [a for a in args if _valid_public_topic(sim, conn.category, a)]
    bad = [str(a) for a in args if a not in good]
    if op == "subscribe":
        dup = [a for a in good if a in conn.topics]
        good = [a for a in good if a not in conn.topics]
        ack_ok = not bad and not dup
        msg = "error:handler not found" if bad else (f"error:already subscribed,topic:{dup[0]}" if dup else "")
        _reply(sim, conn, _public_ack(conn, op, req_id, ack_ok, msg, good, bad + dup))
        for t in dict.fromkeys(good):
            sim.hub.subscribe_public(conn, t)
    else:
        for t in good:
            sim.hub.unsubscribe_public(conn, t)
        _reply(sim, conn, _public_ack(conn, op, req_id, not bad, "error:handler not found" if bad else "", good, bad))


# ------------------------------------------------------------------ private
async def handle_private(request: web.Request) -> web.StreamResponse:
    sim: SimServer = request.app[SIM_KEY]
    conn = await _open(sim, request, "private", "")
    if not isinstance(conn, Connection):
        return conn
    await _serve(sim, conn, lambda c, raw: _private_msg(sim, c, raw))
    return conn.ws


def _private_ack(conn: Connection, op: str, req_id: Any, ok: bool, msg: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"success": ok, "ret_msg": msg, "op": op, "conn_id": conn.conn_id}
    if req_id is not None:
        out["req_id"] = req_id
    return out


def _valid_private_topic(topic: Any) -> bool:
    if not isinstance(topic, str):
        return False
    if topic in _PRIVATE_BASE or topic in DCP_PRODUCTS:
        return True
    base, _, cat = topic.rpartition(".")
    return base in ("order", "execution", "execution.fast", "position") and cat in CATEGORIES \
        and not (base == "position" and cat == "spot")


def _private_msg(sim: SimServer, conn: Connection, raw: str) -> None:
    req = _decode(raw)
    if req is None:
        _reply(sim, conn, _private_ack(conn, "", None, False, "error:request parse failed"))
        return
    op, req_id = req.get("op"), req.get("req_id")
    if op == "ping":
        _reply(sim, conn, {"req_id": req_id or "", "op": "pong", "args": [str(sim.now_ms())], "conn_id": conn.conn_id})
        return
    if op == "auth":
        if conn.account is not None:
            _reply(sim, conn, _private_ack(conn, "auth", req_id, False, "Repeat auth"))
            return
        try:
            conn.account = check_ws_auth(req.get("args"), sim.now_ms(), sim.engine.accounts)
        except AuthFailure as exc:
            sim.stats.auth_failures[exc.code] += 1
            _reply(sim, conn, _private_ack(conn, "auth", req_id, False, exc.msg))
            return
        _reply(sim, conn, _private_ack(conn, "auth", req_id, True))
        return
    if op not in ("subscribe", "unsubscribe"):
        _reply(sim, conn, _private_ack(conn, str(op or ""), req_id, False, f"error:unsupported op {op}"))
        return
    if conn.account is None:
        _reply(sim, conn, _private_ack(conn, op, req_id, False, "Request not authorized"))
        return
    args = req.get("args")
    if not isinstance(args, list) or not args or not all(_valid_private_topic(a) for a in args):
        _reply(sim, conn, _private_ack(conn, op, req_id, False, "error:handler not found"))
        return
    kinds = {("cat" if a.rpartition(".")[2] in CATEGORIES else "all") for a in args
             if a.split(".")[0] in ("order", "execution", "position")}
    if len(kinds) > 1:
        msg = "error:all-in-one and categorised topics cannot be mixed"
        _reply(sim, conn, _private_ack(conn, op, req_id, False, msg))
        return
    if op == "subscribe":
        for a in args:
            conn.topics.add(a)
            if a in DCP_PRODUCTS:
                sim.hub.dcp_subscribed(conn.account, DCP_PRODUCTS[a])
    else:
        conn.topics.difference_update(args)
    _reply(sim, conn, _private_ack(conn, op, req_id, True))


# ------------------------------------------------------------------ trade
async def handle_trade(request: web.Request) -> web.StreamResponse:
    sim: SimServer = request.app[SIM_KEY]
    conn = await _open(sim, request, "trade", "")
    if not isinstance(conn, Connection):
        return conn
    await _serve(sim, conn, lambda c, raw: _trade_msg(sim, c, raw))
    return conn.ws


_TRADE_OPS = {"order.create": ("/v5/order/create", None), "order.amend": ("/v5/order/amend", None),
              "order.cancel": ("/v5/order/cancel", None),
              "order.create-batch": ("/v5/order/create-batch", "create"),
              "order.amend-batch": ("/v5/order/amend-batch", "amend"),
              "order.cancel-batch": ("/v5/order/cancel-batch", "cancel")}
_SINGLE = {"order.create": create_order, "order.amend": amend_order, "order.cancel": cancel_order}


def _trade_reply(conn: Connection, req_id: Any, op: str, code: int, msg: str, data: Any = None,
                 ext: Any = None, header: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if req_id is not None:
        out["reqId"] = req_id
    out.update({"retCode": code, "retMsg": msg, "op": op, "data": data if data is not None else {},
                "retExtInfo": ext if ext is not None else {}})
    if header is not None:
        out["header"] = header
    out["connId"] = conn.conn_id
    return out


def _trade_msg(sim: SimServer, conn: Connection, raw: str) -> None:
    req = _decode(raw)
    if req is None:
        conn.send(_trade_reply(conn, None, "", 10001, "params error: request parse failed"))
        return
    op = req.get("op")
    req_id = req.get("reqId", req.get("req_id"))
    if op == "ping":
        conn.send({"retCode": 0, "retMsg": "OK", "op": "pong", "data": [str(sim.now_ms())], "connId": conn.conn_id})
        return
    if op == "auth":
        if conn.account is not None:
            conn.send(_trade_reply(conn, req_id, "auth", 20001, "Repeat auth"))
            return
        try:
            conn.account = check_ws_auth(req.get("args"), sim.now_ms(), sim.engine.accounts)
        except AuthFailure as exc:
            sim.stats.auth_failures[exc.code] += 1
            conn.send(_trade_reply(conn, req_id, "auth", exc.code, exc.msg))
            return
        out = _trade_reply(conn, req_id, "auth", 0, "OK")
        del out["data"], out["retExtInfo"]
        conn.send(out)
        return
    if not isinstance(op, str) or op not in _TRADE_OPS:
        conn.send(_trade_reply(conn, req_id, str(op or ""), 10404, f"op {op} not found"))
        return
    if conn.account is None:
        conn.send(_trade_reply(conn, req_id, op, 10007, "Request not authorized"))
        return
    if req_id is not None:
        if not isinstance(req_id, str) or len(req_id) > 36:
            conn.send(_trade_reply(conn, req_id, op, 10001, "params error: reqId invalid"))
            return
        if req_id in conn.req_ids:
            conn.send(_trade_reply(conn, req_id, op, 20006, "reqId is duplicated"))
            return
        conn.req_ids[req_id] = None
        if len(conn.req_ids) > 10_000:
            del conn.req_ids[next(iter(conn.req_ids))]
    hdr = req.get("header")
    if not isinstance(hdr, dict) or hdr.get("X-BAPI-TIMESTAMP") in (None, ""):
        conn.send(_trade_reply(conn, req_id, op, 10001, "params error: header X-BAPI-TIMESTAMP is required"))
        return
    now = sim.now_ms()
    try:
        check_timestamp(hdr.get("X-BAPI-TIMESTAMP"), hdr.get("X-BAPI-RECV-WINDOW"), now,
                        future_ms=sim.cfg.future_tolerance_ms, default_window=sim.cfg.recv_window_default_ms)
    except AuthFailure as exc:
        conn.send(_trade_reply(conn, req_id, op, exc.code, exc.msg))
        return
    args = req.get("args")
    if not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
        conn.send(_trade_reply(conn, req_id, op, 10001, "params error: args must hold exactly one item"))
        return
    path, batch_kind = _TRADE_OPS[op]
    sim.stats.requests_per_endpoint[f"ws:{op}"] += 1  # "ws:order.create-batch" beside REST's paths
    item = args[0]
    category = str(item.get("category", ""))
    n = len(item["request"]) if batch_kind and isinstance(item.get("request"), list) else 1
    acct = conn.account
    decision = sim.take_rate_limit(acct, path, category, n)
    header = sim.limit_headers(decision)
    if decision is not None and decision.allowed == 0:
        conn.send(_trade_reply(conn, req_id, op, 10006, "Too many visits!", header=header))
        return
    try:
        if batch_kind:
            if batch_kind == "create":
                sim.stats.orders_received.extend(_items(item))
            results, ext = run_batch(sim.engine, acct, batch_kind, item,
                                     allowed=decision.allowed if decision else None)
            conn.send(_trade_reply(conn, req_id, op, 0, "OK", {"list": results}, {"list": ext}, header))
        else:
            if op == "order.create":
                sim.stats.orders_received.append(item)
            data = _SINGLE[op](sim.engine, acct, item)
            conn.send(_trade_reply(conn, req_id, op, 0, "OK", data, None, header))
    except OrderError as exc:
        conn.send(_trade_reply(conn, req_id, op, exc.code, exc.msg, None, None, header))
