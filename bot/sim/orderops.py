"""Order entry on the engine: validate, create, amend, cancel, cancel-all and batches, with Bybit's codes."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.sim.accounts import AccountState
from bot.sim.engine import Engine, Market, OrderError
from bot.sim.orders import SimOrder

__all__ = ["amend_order", "batch_items", "cancel_all", "cancel_order", "create_order", "run_batch"]

_LINK_RE = re.compile(r"^[0-9A-Za-z_-]{1,36}$")
_TIFS = ("GTC", "IOC", "FOK", "PostOnly")


def _dec(v: Any, name: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise OrderError(10001, f"params error: {name} invalid")
    try:
        d = Decimal(str(v))
    except InvalidOperation as exc:
        raise OrderError(10001, f"params error: {name} invalid") from exc
    if not d.is_finite():
        raise OrderError(10001, f"params error: {name} invalid")
    return d


def _qty_lots(m: Market, raw: Any) -> int:
    inst = m.spec.instrument
    spot = m.category == "spot"
    q = _dec(raw, "qty")
    if q <= 0:
        raise OrderError(10001, "params error: qty invalid" if not spot else "Order quantity invalid.")
    if q % inst.qty_step:
        raise OrderError(170137 if spot else 10001,
                         "Order quantity has too many decimals." if spot else "Qty invalid: not a multiple of qtyStep")
    if q < inst.min_qty:
        raise OrderError(170136 if spot else 10001, "Order quantity exceeded lower limit." if spot
                         else "The number of contracts exceeds minimum limit allowed")
    if q > inst.max_qty:
        raise OrderError(170137 if spot else 10001, "Order quantity exceeded upper limit." if spot
                         else "The number of contracts exceeds maximum limit allowed")
    return int(q / inst.qty_step)


def _quote_to_lots(m: Market, quote: Decimal) -> int:
    """Base lots a spot market buy of `quote` USDT can take from the asks, walking the book."""
    inst = m.spec.instrument
    if quote <= 0:
        raise OrderError(170130, "Value for parameter 'qty' not valid.")
    if quote < inst.min_notional:
        raise OrderError(170140, "Order value exceeded lower limit.")
    _, asks = m.book.depth(1000)
    lots = 0
    left = quote
    for px_ticks, size in asks:
        px = inst.from_ticks(px_ticks)
        lot_cost = px * inst.qty_step
        take = min(size, int(left / lot_cost))
        lots += take
        left -= take * lot_cost
        if take < size:
            break
    if lots <= 0:
        raise OrderError(170140, "Order value exceeded lower limit.")
    return lots


def _price_ticks(m: Market, raw: Any) -> int:
    inst = m.spec.instrument
    spot = m.category == "spot"
    p = _dec(raw, "price")
    if p <= 0:
        raise OrderError(170130 if spot else 10001,
                         "Value for parameter 'price' not valid." if spot else "params error: price invalid")
    if p % inst.tick_size:
        raise OrderError(170134 if spot else 10001,
                         "Order price has too many decimals." if spot else "Price invalid: not a multiple of tickSize")
    return int(p / inst.tick_size)


def _find(engine: Engine, acct: AccountState, m: Market, p: dict[str, Any], verb: str) -> SimOrder:
    oid, link = p.get("orderId"), p.get("orderLinkId")
    if not oid and not link:
        raise OrderError(10001, "params error: orderId or orderLinkId is required")
    o: SimOrder | None = None
    if oid:
        o = acct.open_orders.get(str(oid))
    elif link:
        cand = acct.link_ids.get(str(link))
        o = cand if cand is not None and cand.is_open else None
    if o is None or o.symbol != m.symbol or o.category != m.category:
        if m.category == "spot":
            raise OrderError(170213, "Order does not exist.")
        raise OrderError(110001, f"order not exists or too late to {verb}")
    return o


def create_order(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, str]:
    """POST /v5/order/create. Accepted means accepted, not resting: the order topic tells the rest."""
    try:
        out = _create(engine, acct, p)
        engine.touch_position(acct, str(p.get("category")), str(p.get("symbol")))
        return out
    finally:
        engine.flush()


def _create(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, str]:
    m = engine.market(p.get("category"), p.get("symbol"))
    spot = m.category == "spot"
    side = p.get("side")
    if side not in ("Buy", "Sell"):
        raise OrderError(10001, "params error: side invalid")
    for unsupported in ("triggerPrice", "takeProfit", "stopLoss"):
        if p.get(unsupported) not in (None, "", "0"):
            # conditional and TP/SL orders are outside the emulator's scope: refuse loudly, never ignore
            raise OrderError(10001, f"params error: {unsupported} is not supported by the emulator")
    otype = p.get("orderType")
    if otype not in ("Limit", "Market"):
        raise OrderError(10001, "params error: orderType invalid")
    tif = p.get("timeInForce") or "GTC"
    if tif == "RPI":
        raise OrderError(170355 if spot else 110119, "RPI order is not permitted for this account")
    if tif not in _TIFS:
        raise OrderError(10001, "params error: timeInForce invalid")
    if otype == "Market":
        tif = "IOC"
    inst = m.spec.instrument
    if spot and otype == "Market" and side == "Buy" and p.get("marketUnit") != "baseCoin":
        # spot market buys count qty in the quote coin unless marketUnit=baseCoin (docs 5.5)
        qty = _quote_to_lots(m, _dec(p.get("qty"), "qty"))
    else:
        qty = _qty_lots(m, p.get("qty"))
    if otype == "Limit":
        if p.get("price") in (None, ""):
            raise OrderError(10001, "params error: price is required for Limit order")
        price = _price_ticks(m, p.get("price"))
    else:  # market -> IOC limit at a protected price (docs/faq.mdx)
        ref = m.book.best_ask() if side == "Buy" else m.book.best_bid()
        base = inst.from_ticks(ref) if ref is not None else m.fair
        band = Decimal("1.05") if side == "Buy" else Decimal("0.95")
        price = max(1, engine.round_price(m, base * band))
    link = p.get("orderLinkId") or ""
    if link:
        if not isinstance(link, str) or not _LINK_RE.match(link):
            raise OrderError(10001, "params error: orderLinkId invalid")
        if link in acct.link_ids:
            raise OrderError(110072, "OrderLinkedID is duplicate")
    pidx = p.get("positionIdx", 0)
    if pidx not in (0, "0", None):
        raise OrderError(10001, "position idx not match position mode")
    notional = inst.from_ticks(price) * inst.from_lots(qty)
    if otype == "Limit" and notional < inst.min_notional:
        if spot:
            raise OrderError(170140, "Order value exceeded lower limit.")
        raise OrderError(110094, f"Order does not meet minimum order value {inst.min_notional}USDT")
    reduce_only = bool(p.get("reduceOnly")) and not spot
    if reduce_only:
        pos = acct.positions.get(m.symbol)
        size = pos.size if pos else Decimal(0)
        closable = abs(size) if (size > 0 and side == "Sell") or (size < 0 and side == "Buy") else Decimal(0)
        if closable == 0:
            raise OrderError(110017, "current position is zero, cannot fix reduce-only order qty")
        qty = min(qty, int(closable / inst.qty_step))
    if sum(1 for o in acct.open_orders.values() if o.symbol == m.symbol and o.category == m.category) \
            >= engine.cfg.max_active_orders:
        raise OrderError(110020, "Exceeds the maximum number of active orders")
    if spot:
        if side == "Buy" and acct.available(inst.quote_coin) < notional:
            raise OrderError(170131, "Insufficient balance.")
        if side == "Sell" and acct.available(inst.base_coin) < inst.from_lots(qty):
            raise OrderError(170131, "Insufficient balance.")
    forced = engine.reject_hook()
    if forced is not None:
        raise OrderError(*forced)
    now = engine.clock_ms()
    o = SimOrder(order_id=engine.new_id(), order_link_id=link, owner=acct.api_key, category=m.category,
                 symbol=m.symbol, side=side, order_type=otype, tif=tif, price=price, qty=qty, inst=inst,
                 created_ms=now, updated_ms=now, reduce_only=reduce_only,
                 close_on_trigger=bool(p.get("closeOnTrigger")), seq=engine.next_order_seq(),
                 smp_type=str(p.get("smpType") or "None"), market_unit=str(p.get("marketUnit") or ""))
    acct.open_orders[o.order_id] = o
    if link:
        acct.link_ids[link] = o
    _place(engine, m, o)
    return {"orderId": o.order_id, "orderLinkId": link}


def _place(engine: Engine, m: Market, o: SimOrder) -> None:
    """Run a fresh (or re-priced) order through the book according to its time in force."""
    book = m.book
    crosses = book.would_cross(o.side, o.price)
    if o.tif == "PostOnly" and crosses:
        if engine.cfg.post_only_pushes_new:
            engine.push_order(o)
        engine.finish(o, "Cancelled", reason="EC_PostOnlyWillTakeLiquidity")
        return
    if o.tif == "FOK" and book.fillable(o.side, o.price, o.leaves) < o.leaves:
        engine.finish(o, "Cancelled", reason="EC_NoEnoughQtyToFill")
        return
    if crosses:
        engine.execute(m, o, o.side, o.price, o.leaves)
    if o.filled >= o.qty:
        o.status = "Filled"
        engine.finish(o, "Filled")
        return
    if o.tif in ("IOC", "FOK"):
        status = "PartiallyFilledCanceled" if (m.category == "spot" and o.filled) else "Cancelled"
        engine.finish(o, status, reason="EC_NoImmediateQtyToFill" if not o.filled else "EC_NoError")
        return
    o.status = "PartiallyFilled" if o.filled else "New"
    engine.rest(m, o)
    engine.push_order(o)


def amend_order(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, str]:
    """POST /v5/order/amend: a price change or a size increase loses queue priority (guess)."""
    try:
        m = engine.market(p.get("category"), p.get("symbol"))
        o = _find(engine, acct, m, p, "replace")
        new_qty = _qty_lots(m, p["qty"]) if p.get("qty") not in (None, "") else o.qty
        new_price = _price_ticks(m, p["price"]) if p.get("price") not in (None, "") else o.price
        if new_qty == o.qty and new_price == o.price:
            raise OrderError(
                10001, "The order remains unchanged as the parameters entered match the existing ones.")
        if new_qty <= o.filled:
            raise OrderError(
                110064, "The modified contract quantity cannot be less than or equal to the filled quantity.")
        o.updated_ms = engine.clock_ms()
        if new_price == o.price and new_qty < o.qty and o.resting is not None:
            m.book.reduce(o.resting, new_qty)
            o.qty = new_qty
            engine.push_order(o)
        else:
            if o.resting is not None:
                m.book.remove(o.resting)
                o.resting = None
            o.qty, o.price = new_qty, new_price
            _place(engine, m, o)
        engine.touch_position(acct, m.category, m.symbol)
        return {"orderId": o.order_id, "orderLinkId": o.order_link_id}
    finally:
        engine.flush()


def cancel_order(engine: Engine, acct: AccountState, p: dict[str, Any]) -> dict[str, str]:
    try:
        m = engine.market(p.get("category"), p.get("symbol"))
        o = _find(engine, acct, m, p, "cancel")
        status = "PartiallyFilledCanceled" if (m.category == "spot" and o.filled) else "Cancelled"
        engine.finish(o, status, cancel_type="CancelByUser")
        engine.touch_position(acct, m.category, m.symbol)
        return {"orderId": o.order_id, "orderLinkId": o.order_link_id}
    finally:
        engine.flush()


def cancel_all(engine: Engine, acct: AccountState, p: dict[str, Any], *, cancel_type: str = "CancelByUser",
               categories: tuple[str, ...] | None = None) -> dict[str, Any]:
    """POST /v5/order/cancel-all (and DCP with categories=...)."""
    try:
        if categories is None:
            cat = p.get("category")
            if cat not in ("linear", "spot", "inverse", "option"):
                raise OrderError(10001, "Illegal category")
            symbol, base, settle = p.get("symbol"), p.get("baseCoin"), p.get("settleCoin")
            if cat in ("linear", "inverse") and not (symbol or base or settle):
                raise OrderError(
                    10001, "Missing some parameters that must be filled in, symbol or settleCoin or baseCoin")
            if symbol:
                engine.market(cat, symbol)
            categories = (cat,)
        else:
            symbol = base = settle = None
        picked = []
        for o in list(acct.open_orders.values()):
            if o.category not in categories:
                continue
            if symbol and o.symbol != symbol:
                continue
            if base and o.inst.base_coin != base:
                continue
            if settle and o.inst.quote_coin != settle:
                continue
            picked.append(o)
        if categories != ("spot",):
            picked = picked[:500]  # futures cancel at most 500 per call
        for o in picked:
            status = "PartiallyFilledCanceled" if (o.category == "spot" and o.filled) else "Cancelled"
            engine.finish(o, status, cancel_type=cancel_type)
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.order_link_id} for o in picked], "success": "1"}
    finally:
        engine.flush()


def batch_items(p: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed items of a batch body's `request` list (for the received-orders log)."""
    items = p.get("request")
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


_BATCH_OPS = {"create": create_order, "amend": amend_order, "cancel": cancel_order}


def run_batch(engine: Engine, acct: AccountState, kind: str, p: dict[str, Any],
              allowed: int | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Batch create/amend/cancel: per-item results and retExtInfo.list; items past `allowed` get 10006.

    Raises:
        OrderError: for a bad category, a missing/empty request list or too many items.
    """
    cat = p.get("category")
    if cat not in ("linear", "spot", "inverse", "option"):
        raise OrderError(10001, "Illegal category")
    items = p.get("request")
    if not isinstance(items, list) or not items:
        raise OrderError(10001, "params error: request is empty")
    cap = engine.cfg.batch_max_spot if cat == "spot" else engine.cfg.batch_max_linear
    if len(items) > cap:
        raise OrderError(10001, f"Batch size must be less than or equal to {cap}")
    op = _BATCH_OPS[kind]
    results: list[dict[str, Any]] = []
    ext: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        sym = item.get("symbol", "") if isinstance(item, dict) else ""
        row: dict[str, Any] = {"category": cat, "symbol": sym, "orderId": "", "orderLinkId": ""}
        if kind == "create":
            row["createAt"] = ""
        try:
            if not isinstance(item, dict):
                raise OrderError(10001, "params error: request item invalid")
            row["orderLinkId"] = str(item.get("orderLinkId") or "")
            if allowed is not None and i >= allowed:
                raise OrderError(10006, "Too many visits!")
            out = op(engine, acct, {**item, "category": cat})
            row["orderId"], row["orderLinkId"] = out["orderId"], out["orderLinkId"]
            if kind == "create":
                row["createAt"] = str(engine.clock_ms())
            ext.append({"code": 0, "msg": "OK"})
        except OrderError as exc:
            ext.append({"code": exc.code, "msg": exc.msg})
        results.append(row)
    return results, ext
