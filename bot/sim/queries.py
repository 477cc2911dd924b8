"""Read endpoints: open orders, history, executions, positions, wallet, fee rate (cursor pagination)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sim.accounts import AccountState, Position
from bot.sim.engine import Engine, OrderError
from bot.sim.orders import Execution, SimOrder, order_wire

__all__ = ["executions", "fee_rate", "open_orders", "order_history", "positions", "wallet_balance"]

_CATS = ("linear", "spot", "inverse", "option")


def _limit(p: dict[str, Any], default: int, hi: int) -> int:
    raw = p.get("limit")
    if raw in (None, ""):
        return default
    try:
        n = int(raw)
    except (TypeError, ValueError) as exc:
        raise OrderError(10001, "params error: limit invalid") from exc
    if not 1 <= n <= hi:
        raise OrderError(10001, f"params error: limit must be in [1, {hi}]")
    return n


def _page(rows: list[Any], p: dict[str, Any], default: int, hi: int) -> tuple[list[Any], str]:
    """Slice rows by the opaque cursor; returns (page, nextPageCursor or "")."""
    n = _limit(p, default, hi)
    cur = p.get("cursor") or ""
    start = 0
    if cur:
        try:
            start = int(str(cur).removeprefix("page_"), 16)
        except ValueError as exc:
            raise OrderError(10001, "params error: cursor invalid") from exc
    page = rows[start:start + n]
    nxt = f"page_{start + n:x}" if start + n < len(rows) else ""
    return page, nxt


def _category(p: dict[str, Any]) -> str:
    cat = p.get("category")
    if cat not in _CATS:
        raise OrderError(10001, "Illegal category")
    return str(cat)


def _filter_orders(orders: list[SimOrder], p: dict[str, Any]) -> list[SimOrder]:
    oid, link, sym, base, settle = (p.get(k) for k in ("orderId", "orderLinkId", "symbol", "baseCoin", "settleCoin"))
    if oid:
        return [o for o in orders if o.order_id == oid]
    if link:
        return [o for o in orders if o.order_link_id == link]
    if sym:
        return [o for o in orders if o.symbol == sym]
    if base:
        return [o for o in orders if o.inst.base_coin == base]
    if settle:
        return [o for o in orders if o.inst.quote_coin == settle]
    return orders


def open_orders(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    """GET /v5/order/realtime: open orders (openOnly=0) or recent closed ones (openOnly=1)."""
    cat = _category(p)
    if cat in ("linear", "inverse") and not any(p.get(k) for k in ("symbol", "baseCoin", "settleCoin",
                                                                   "orderId", "orderLinkId")):
        raise OrderError(10001, "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin")
    open_only = str(p.get("openOnly", "0") or "0")
    live = [o for o in acct.open_orders.values() if o.category == cat]
    closed = list(acct.closed.get(cat, ()))
    if p.get("orderId") or p.get("orderLinkId"):
        pool = live + closed  # a lookup by id also finds recently closed orders
    elif open_only == "1":
        pool = closed
    else:
        pool = live
    rows = sorted(_filter_orders(pool, p), key=lambda o: (o.created_ms, o.seq), reverse=True)
    page, nxt = _page(rows, p, 20, 50)
    return {"category": cat, "list": [order_wire(o) for o in page], "nextPageCursor": nxt}


def order_history(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    """GET /v5/order/history: closed orders still remembered, plus open ones (as Bybit's list does)."""
    cat = _category(p)
    pool = [o for o in acct.open_orders.values() if o.category == cat] + list(acct.closed.get(cat, ()))
    rows = sorted(_filter_orders(pool, p), key=lambda o: (o.created_ms, o.seq), reverse=True)
    page, nxt = _page(rows, p, 20, 50)
    return {"category": cat, "list": [order_wire(o) for o in page], "nextPageCursor": nxt}


def executions(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    """GET /v5/execution/list, newest first."""
    cat = _category(p)
    rows = [e for e in acct.executions if e.order.category == cat]
    getters: dict[str, Callable[[Execution], str]] = {
        "symbol": lambda e: e.order.symbol, "orderId": lambda e: e.order.order_id,
        "orderLinkId": lambda e: e.order.order_link_id, "baseCoin": lambda e: e.order.inst.base_coin}
    for key, get in getters.items():
        if p.get(key):
            rows = [e for e in rows if get(e) == p[key]]
    if p.get("execType") and p["execType"] != "Trade":
        rows = []
    try:
        start = int(p["startTime"]) if p.get("startTime") else None
        end = int(p["endTime"]) if p.get("endTime") else None
    except ValueError as exc:
        raise OrderError(10001, "params error: startTime or endTime invalid") from exc
    if start is not None:
        rows = [e for e in rows if e.exec_ms >= start]
    if end is not None:
        rows = [e for e in rows if e.exec_ms <= end]
    rows.reverse()
    page, nxt = _page(rows, p, 50, 100)
    return {"category": cat, "list": [e.wire() for e in page], "nextPageCursor": nxt}


def positions(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    """GET /v5/position/list: one-way linear positions; a row for a flat symbol when asked by symbol."""
    cat = _category(p)
    if cat == "spot":
        raise OrderError(10001, "Illegal category")
    sym, settle = p.get("symbol"), p.get("settleCoin")
    if cat in ("linear", "inverse") and not (sym or settle):
        raise OrderError(10001, "Missing some parameters that must be filled in, symbol or settleCoin")
    rows: list[Position] = []
    if sym:
        m = engine.market(cat, sym)
        rows = [acct.positions.get(m.symbol) or Position(symbol=m.symbol)]
    else:
        rows = [pos for s, pos in sorted(acct.positions.items())
                if pos.size and (cat, s) in engine.markets
                and engine.markets[(cat, s)].spec.instrument.quote_coin == settle]
    page, nxt = _page(rows, p, 20, 200)
    return {"category": cat, "list": [pos.wire(cat, engine.mark(pos.symbol)) for pos in page], "nextPageCursor": nxt}


def wallet_balance(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    if p.get("accountType") != "UNIFIED":
        raise OrderError(10001, "accountType only support UNIFIED.")
    coins = {c.strip() for c in str(p["coin"]).split(",") if c.strip()} if p.get("coin") else None
    return {"list": [acct.wallet_wire(engine.marks(), coins)]}


def fee_rate(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, Any]:
    cat = _category(p)
    maker, taker = acct.cfg.fee_rates(cat)
    syms = [m.symbol for (c, _), m in engine.markets.items() if c == cat]
    if p.get("symbol"):
        syms = [s for s in syms if s == p["symbol"]]
        if not syms:
            raise OrderError(10001, "params error: symbol invalid")
    rows = [{"symbol": s, "takerFeeRate": str(taker), "makerFeeRate": str(maker)} for s in syms]
    out: dict[str, Any] = {"list": rows}
    if cat in ("spot", "option"):
        out["category"] = cat
    return out
