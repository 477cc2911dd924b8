"""Bybit V5 messages -> typed events (pure: no socket, clock or book).

Every public function either returns typed values or raises `ParseError` carrying the topic
and an excerpt of the offending payload; no other exception escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from bot.common import json_io
from bot.domain import Category, Instrument, Level, OrderId, OrderLinkId, OrderStatus, Side, Symbol
from bot.errors import ParseError
from bot.exchange.base import FeeRate
from bot.exchange.events import (
    Ack,
    BookUpdate,
    CoinBalance,
    ExchangeEvent,
    Execution,
    OrderUpdate,
    Pong,
    PositionUpdate,
    Ticker,
    Trade,
    WalletUpdate,
)

__all__ = [
    "RestEnvelope",
    "decode",
    "parse_book",
    "parse_envelope",
    "parse_execution",
    "parse_fee_rate",
    "parse_instrument",
    "parse_order",
    "parse_position",
    "parse_server_time_ms",
    "parse_wallet",
    "parse_ws_message",
    "result_list",
]

T = TypeVar("T")
_ERRORS = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError, IndexError, OverflowError)
Obj = Mapping[str, Any]


class _Bad(Exception):
    """Internal: a field was missing or malformed (turned into ParseError at the boundary)."""


def decode(raw: bytes | str, *, topic: str | None = None) -> Obj:
    """JSON bytes -> a JSON object; anything else is a ParseError."""
    try:
        obj = json_io.loads(raw)
    except (json_io.JSONDecodeError, TypeError, ValueError) as exc:
        raise ParseError("invalid JSON", topic=topic, excerpt=raw) from exc
    if not isinstance(obj, dict):
        raise ParseError("expected a JSON object", topic=topic, excerpt=raw)
    return obj


def _guard(fn: Callable[[], T], topic: str | None, raw: object) -> T:
    try:
        return fn()
    except ParseError:
        raise
    except (_Bad, *_ERRORS) as exc:
        excerpt = raw if isinstance(raw, (bytes, str)) else _excerpt(raw)
        raise ParseError(f"malformed payload: {type(exc).__name__}: {exc}"[:200], topic=topic,
                         excerpt=excerpt) from exc


def _excerpt(obj: object) -> str:
    try:
        return json_io.dumps_str(obj)[:160]
    except TypeError:
        return repr(obj)[:160]


# -- field accessors (raise _Bad / stdlib errors, translated by _guard) ---------------------------

def _str(d: Obj, key: str, default: str | None = None) -> str:
    v = d.get(key, default)
    if v is None:
        raise _Bad(f"missing {key}")
    if not isinstance(v, str):
        raise _Bad(f"{key} is not a string")
    return v


def _dec(d: Obj, key: str, default: str | None = None) -> Decimal:
    return _to_dec(d.get(key, default), key)


def _opt_dec(d: Obj, key: str) -> Decimal | None:
    v = d.get(key)
    if v is None or v == "":
        return None
    return _to_dec(v, key)


def _to_dec(v: object, key: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise _Bad(f"{key} is not a decimal string")
    d = Decimal(v)
    if not d.is_finite():
        raise _Bad(f"{key} is not finite")
    return d


def _int(d: Obj, key: str, default: int | None = None) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or v is None:
        raise _Bad(f"{key} is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.lstrip("-").isdigit() and len(v) < 30:
        return int(v)
    if isinstance(v, str) and v == "":
        if default is None:
            raise _Bad(f"{key} is empty")
        return default
    raise _Bad(f"{key} is not an integer")


def _bool(d: Obj, key: str, default: bool = False) -> bool:
    v = d.get(key, default)
    if isinstance(v, bool):
        return v
    if v in ("true", "1", 1):
        return True
    if v in ("false", "0", 0, ""):
        return False
    raise _Bad(f"{key} is not a boolean")


def _obj(v: object, what: str) -> Obj:
    if not isinstance(v, dict):
        raise _Bad(f"{what} is not an object")
    return v


def _list(v: object, what: str) -> list[Any]:
    if not isinstance(v, list):
        raise _Bad(f"{what} is not a list")
    return v


def _side(v: object) -> Side:
    if v == "Buy":
        return Side.BUY
    if v == "Sell":
        return Side.SELL
    raise _Bad(f"bad side {v!r}")


def _category(d: Obj, default: Category) -> Category:
    v = d.get("category")
    if v in (None, ""):
        return default
    return Category(v)


def _levels(v: object, what: str) -> tuple[Level, ...]:
    # The hot path of book parsing: kept flat (Bybit sends every level as two decimal strings).
    if type(v) is not list:
        raise _Bad(f"{what} is not a list")
    out = []
    new = tuple.__new__  # the C constructor: Level's generated __new__ is a Python call per level
    for lvl in v:
        if type(lvl) is not list or len(lvl) < 2 or type(lvl[0]) is not str or type(lvl[1]) is not str:
            raise _Bad(f"{what} level is not [price, size] strings")
        p, q = Decimal(lvl[0]), Decimal(lvl[1])
        if not (p.is_finite() and q.is_finite()):
            raise _Bad(f"{what} level is not finite")
        out.append(new(Level, (p, q)))
    return tuple(out)


# -- WebSocket ----------------------------------------------------------------------------------

def parse_ws_message(raw: bytes | str, *, ts_recv_ns: int, category: Category = Category.LINEAR
                     ) -> list[ExchangeEvent]:
    """One WS frame -> zero or more events (unknown topics yield none).

    Raises:
        ParseError: not JSON, not an object, or a known topic/op with malformed fields.
    """
    msg = decode(raw)
    topic = msg.get("topic")
    if isinstance(topic, str):
        return _guard(lambda: _by_topic(topic, msg, raw, ts_recv_ns, category), topic, raw)
    if "op" in msg or "success" in msg or "type" in msg:
        op = msg.get("op")
        return [_guard(lambda: _command_reply(msg, ts_recv_ns), op if isinstance(op, str) else None, raw)]
    raise ParseError("neither a topic push nor a command reply", excerpt=raw)


def _by_topic(topic: str, msg: Obj, raw: bytes | str, ts: int, category: Category) -> list[ExchangeEvent]:
    head = topic.split(".", 1)[0]
    if head == "orderbook":
        return [parse_book(msg, raw if isinstance(raw, bytes) else raw.encode(), ts_recv_ns=ts)]
    if head == "publicTrade":
        return [_trade(_obj(t, "trade"), ts) for t in _list(msg["data"], "data")]
    if head == "tickers":
        return [_ticker(_obj(msg["data"], "data"), msg, ts)]
    if head == "order":
        return [parse_order(_obj(o, "order"), category, ts_recv_ns=ts) for o in _list(msg["data"], "data")]
    if head in ("execution",):
        return [parse_execution(_obj(e, "execution"), category, ts_recv_ns=ts) for e in _list(msg["data"], "data")]
    if head == "position":
        return [parse_position(_obj(p, "position"), category, ts_recv_ns=ts) for p in _list(msg["data"], "data")]
    if head == "wallet":
        return [parse_wallet(_obj(w, "wallet"), ts_recv_ns=ts) for w in _list(msg["data"], "data")]
    return []  # kline, dcp.* and anything we did not ask for


def parse_book(msg: Obj, raw: bytes, *, ts_recv_ns: int) -> BookUpdate:
    """Map one orderbook.N.SYMBOL message; size "0" deletes the level (applied by the book)."""
    topic = msg.get("topic")

    def build() -> BookUpdate:
        parts = _str(msg, "topic").split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            raise _Bad("topic is not orderbook.{depth}.{symbol}")
        data = _obj(msg["data"], "data")
        kind = msg.get("type")
        if kind not in ("snapshot", "delta"):
            raise _Bad("type is neither snapshot nor delta")
        u = _int(data, "u")
        return BookUpdate(
            symbol=Symbol(_str(data, "s")),
            # A *delta* with u == 1 (venue restart) is left to the stream, which forces a resync.
            is_snapshot=kind == "snapshot",
            update_id=u, seq=_int(data, "seq", 0),
            bids=_levels(data.get("b", []), "b"), asks=_levels(data.get("a", []), "a"),
            ts_exchange_ms=_int(msg, "ts", 0), ts_recv_ns=ts_recv_ns, raw=raw, depth=int(parts[1]),
            cts_ms=_int(msg, "cts", 0),
        )

    return _guard(build, topic if isinstance(topic, str) else "orderbook", raw)


def _trade(t: Obj, ts: int) -> Trade:
    return Trade(symbol=Symbol(_str(t, "s")), trade_id=_str(t, "i"), side=_side(t.get("S")), price=_dec(t, "p"),
                 size=_dec(t, "v"), ts_exchange_ms=_int(t, "T"), ts_recv_ns=ts, seq=_int(t, "seq", 0),
                 is_block_trade=_bool(t, "BT"))


def _ticker(d: Obj, msg: Obj, ts: int) -> Ticker:
    nft = d.get("nextFundingTime")
    return Ticker(
        symbol=Symbol(_str(d, "symbol")), last_price=_opt_dec(d, "lastPrice"), mark_price=_opt_dec(d, "markPrice"),
        index_price=_opt_dec(d, "indexPrice"), bid1_price=_opt_dec(d, "bid1Price"),
        bid1_size=_opt_dec(d, "bid1Size"), ask1_price=_opt_dec(d, "ask1Price"), ask1_size=_opt_dec(d, "ask1Size"),
        funding_rate=_opt_dec(d, "fundingRate"),
        next_funding_time_ms=_int(d, "nextFundingTime") if nft not in (None, "") else None,
        ts_exchange_ms=_int(msg, "ts", 0), ts_recv_ns=ts,
    )


def _command_reply(msg: Obj, ts: int) -> ExchangeEvent:
    op = msg.get("op")
    ret_msg = msg.get("ret_msg", msg.get("retMsg", ""))
    if op == "pong" or ret_msg == "pong":
        args = msg.get("args") or msg.get("data")
        server_ts = None
        if isinstance(args, list) and args and isinstance(args[0], str) and args[0].isdigit() and len(args[0]) < 20:
            server_ts = int(args[0])
        return Pong(req_id=str(msg.get("req_id") or msg.get("reqId") or ""), server_ts_ms=server_ts, ts_recv_ns=ts)
    if msg.get("type") == "COMMAND_RESP":  # option/spread public ack
        data = _obj(msg.get("data", {}), "data")
        failed = data.get("failTopics") or []
        return Ack(op="subscribe", success=bool(msg.get("success")) and not failed,
                   req_id=str(msg.get("req_id") or ""), ret_msg=",".join(map(str, failed)),
                   conn_id=str(msg.get("conn_id") or ""), ts_recv_ns=ts)
    if not isinstance(op, str):
        raise _Bad("reply without op")
    if "retCode" in msg:  # trade stream
        code = _int(msg, "retCode")
        return Ack(op=op, success=code == 0, req_id=str(msg.get("reqId") or ""), ret_msg=str(ret_msg or ""),
                   ret_code=code, conn_id=str(msg.get("connId") or ""),
                   data={"data": msg.get("data"), "retExtInfo": msg.get("retExtInfo")}, ts_recv_ns=ts)
    success = msg.get("success")
    if not isinstance(success, bool):
        raise _Bad("success is not a boolean")
    return Ack(op=op, success=success, req_id=str(msg.get("req_id") or ""), ret_msg=str(ret_msg or ""),
               conn_id=str(msg.get("conn_id") or ""), ts_recv_ns=ts)


# -- private objects (shared by WS pushes and REST lists) ---------------------------------------

def parse_order(o: Obj, category: Category, *, ts_recv_ns: int = 0) -> OrderUpdate:
    def build() -> OrderUpdate:
        avg = _opt_dec(o, "avgPrice")
        return OrderUpdate(
            category=_category(o, category), symbol=Symbol(_str(o, "symbol")), order_id=OrderId(_str(o, "orderId")),
            order_link_id=OrderLinkId(_str(o, "orderLinkId", "")), side=_side(o.get("side")),
            order_type=_str(o, "orderType", "Limit"), price=_opt_dec(o, "price") or Decimal(0), qty=_dec(o, "qty"),
            time_in_force=_str(o, "timeInForce", "GTC"),
            status=OrderStatus(_str(o, "orderStatus")), leaves_qty=_opt_dec(o, "leavesQty") or Decimal(0),
            cum_exec_qty=_opt_dec(o, "cumExecQty") or Decimal(0),
            cum_exec_value=_opt_dec(o, "cumExecValue") or Decimal(0),
            avg_price=avg if avg else None, cancel_type=_str(o, "cancelType", ""),
            reject_reason=_str(o, "rejectReason", ""), reduce_only=_bool(o, "reduceOnly"),
            created_time_ms=_int(o, "createdTime", 0), updated_time_ms=_int(o, "updatedTime", 0),
            ts_recv_ns=ts_recv_ns,
        )

    return _guard(build, "order", o)


def parse_execution(e: Obj, category: Category, *, ts_recv_ns: int = 0) -> Execution:
    def build() -> Execution:
        qty = _dec(e, "execQty")
        price = _dec(e, "execPrice")
        return Execution(
            category=_category(e, category), symbol=Symbol(_str(e, "symbol")), exec_id=_str(e, "execId"),
            order_id=OrderId(_str(e, "orderId")), order_link_id=OrderLinkId(_str(e, "orderLinkId", "")),
            side=_side(e.get("side")), price=price, qty=qty,
            exec_value=_opt_dec(e, "execValue") or price * qty, fee=_opt_dec(e, "execFee") or Decimal(0),
            fee_rate=_opt_dec(e, "feeRate") or Decimal(0), fee_currency=_str(e, "feeCurrency", ""),
            is_maker=_bool(e, "isMaker"), exec_type=_str(e, "execType", "Trade"),
            exec_time_ms=_int(e, "execTime"), seq=_int(e, "seq", 0),
            leaves_qty=_opt_dec(e, "leavesQty") or Decimal(0), order_price=_opt_dec(e, "orderPrice") or Decimal(0),
            order_qty=_opt_dec(e, "orderQty") or Decimal(0), ts_recv_ns=ts_recv_ns,
        )

    return _guard(build, "execution", e)


def parse_position(p: Obj, category: Category, *, ts_recv_ns: int = 0) -> PositionUpdate:
    def build() -> PositionUpdate:
        side = p.get("side")
        entry = _opt_dec(p, "entryPrice")
        if entry is None:
            entry = _opt_dec(p, "avgPrice")
        return PositionUpdate(
            category=_category(p, category), symbol=Symbol(_str(p, "symbol")),
            side=None if side in ("", "None", None) else _side(side), size=_dec(p, "size"),
            entry_price=entry or Decimal(0), mark_price=_opt_dec(p, "markPrice") or Decimal(0),
            position_value=_opt_dec(p, "positionValue") or Decimal(0),
            unrealised_pnl=_opt_dec(p, "unrealisedPnl") or Decimal(0),
            cum_realised_pnl=_opt_dec(p, "cumRealisedPnl") or Decimal(0),
            leverage=_opt_dec(p, "leverage") or Decimal(0), liq_price=_opt_dec(p, "liqPrice"),
            position_idx=_int(p, "positionIdx", 0), seq=_int(p, "seq", 0),
            updated_time_ms=_int(p, "updatedTime", 0), ts_recv_ns=ts_recv_ns,
        )

    return _guard(build, "position", p)


def parse_wallet(w: Obj, *, ts_recv_ns: int = 0, ts_exchange_ms: int = 0) -> WalletUpdate:
    def build() -> WalletUpdate:
        coins = tuple(
            CoinBalance(coin=_str(c, "coin"), equity=_opt_dec(c, "equity") or Decimal(0),
                        wallet_balance=_opt_dec(c, "walletBalance") or Decimal(0),
                        locked=_opt_dec(c, "locked") or Decimal(0),
                        unrealised_pnl=_opt_dec(c, "unrealisedPnl") or Decimal(0),
                        cum_realised_pnl=_opt_dec(c, "cumRealisedPnl") or Decimal(0),
                        usd_value=_opt_dec(c, "usdValue") or Decimal(0))
            for c in (_obj(x, "coin") for x in _list(w.get("coin", []), "coin"))
        )
        return WalletUpdate(
            account_type=_str(w, "accountType", "UNIFIED"), total_equity=_opt_dec(w, "totalEquity") or Decimal(0),
            total_wallet_balance=_opt_dec(w, "totalWalletBalance") or Decimal(0),
            total_available_balance=_opt_dec(w, "totalAvailableBalance") or Decimal(0),
            total_initial_margin=_opt_dec(w, "totalInitialMargin") or Decimal(0),
            total_maintenance_margin=_opt_dec(w, "totalMaintenanceMargin") or Decimal(0),
            coins=coins, ts_exchange_ms=ts_exchange_ms, ts_recv_ns=ts_recv_ns,
        )

    return _guard(build, "wallet", w)


# -- REST ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RestEnvelope:
    """`{"retCode", "retMsg", "result", "retExtInfo", "time"}`; `result` is {} when null."""

    ret_code: int
    ret_msg: str
    result: Obj
    ret_ext_info: Obj
    time_ms: int


def parse_envelope(raw: bytes | str, *, endpoint: str = "") -> RestEnvelope:
    """Decode a REST response body. Raises ParseError if it is not a V5 envelope."""
    msg = decode(raw, topic=endpoint or None)

    def build() -> RestEnvelope:
        result = msg.get("result")
        ext = msg.get("retExtInfo")
        return RestEnvelope(
            ret_code=_int(msg, "retCode"), ret_msg=str(msg.get("retMsg") or ""),
            result=_obj(result, "result") if result not in (None, []) else {},
            ret_ext_info=_obj(ext, "retExtInfo") if ext not in (None, []) else {},
            time_ms=_int(msg, "time", 0),
        )

    return _guard(build, endpoint or None, raw)


def result_list(env: RestEnvelope, *, endpoint: str = "") -> list[Obj]:
    """`result.list` as a list of objects (ParseError otherwise)."""
    return _guard(lambda: [_obj(x, "item") for x in _list(env.result.get("list", []), "list")], endpoint, env.result)


def parse_instrument(item: Obj, category: Category) -> Instrument:
    """Instrument from an instruments-info item; spot uses `basePrecision` as its qty step."""

    def build() -> Instrument:
        pf = _obj(item["priceFilter"], "priceFilter")
        lf = _obj(item["lotSizeFilter"], "lotSizeFilter")
        if category is Category.SPOT:
            step = _dec(lf, "basePrecision")
            max_qty = _opt_dec(lf, "maxLimitOrderQty") or _dec(lf, "maxOrderQty")
            min_notional = _opt_dec(lf, "minOrderAmt") or Decimal(0)
            min_qty = _opt_dec(lf, "minOrderQty") or step
        else:
            step = _dec(lf, "qtyStep")
            max_qty = _dec(lf, "maxOrderQty")
            min_notional = _opt_dec(lf, "minNotionalValue") or Decimal(0)
            min_qty = _dec(lf, "minOrderQty")
        tick = _dec(pf, "tickSize")
        if tick <= 0 or step <= 0:
            raise _Bad("tickSize and qty step must be positive")
        return Instrument(symbol=Symbol(_str(item, "symbol")), category=category, tick_size=tick, qty_step=step,
                          min_qty=min_qty, max_qty=max_qty, min_notional=min_notional,
                          base_coin=_str(item, "baseCoin", ""), quote_coin=_str(item, "quoteCoin", ""))

    return _guard(build, "instruments-info", item)


def parse_fee_rate(item: Obj) -> FeeRate:
    return _guard(lambda: FeeRate(symbol=Symbol(_str(item, "symbol")), maker=_dec(item, "makerFeeRate"),
                                  taker=_dec(item, "takerFeeRate")), "fee-rate", item)


def parse_server_time_ms(env: RestEnvelope) -> int:
    """Server time from `/v5/market/time`: `timeNano` if present, else the envelope's `time`."""

    def build() -> int:
        nano = env.result.get("timeNano")
        if isinstance(nano, str) and nano.isdigit():
            return int(nano) // 1_000_000
        sec = env.result.get("timeSecond")
        if isinstance(sec, str) and sec.isdigit() and not env.time_ms:
            return int(sec) * 1000
        if env.time_ms:
            return env.time_ms
        raise _Bad("no time in response")

    return _guard(build, "time", env.result)
