"""Every message the bot consumes parses into typed events; malformed ones raise ParseError."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.common import json_io
from bot.domain import Category, Level, OrderStatus, Side
from bot.errors import ParseError
from bot.exchange.bybit.parse import (
    parse_envelope,
    parse_instrument,
    parse_server_time_ms,
    parse_ws_message,
    result_list,
)
from bot.exchange.events import (
    Ack,
    BookUpdate,
    Execution,
    OrderUpdate,
    Pong,
    PositionUpdate,
    Ticker,
    Trade,
    WalletUpdate,
)

BOOK_DELTA = (b'{"topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1700000000123, '
              b'"data": {"s": "BTCUSDT", "b": [["30000.10", "0"], ["29999.90", "1.250"]], '
              b'"a": [["30000.50", "0.400"]], "u": 1234568, "seq": 99887766}, "cts": 1700000000120}')


def one(raw: bytes | dict[str, object]) -> object:
    data = raw if isinstance(raw, bytes) else json_io.dumps(raw)
    [ev] = parse_ws_message(data, ts_recv_ns=42)
    return ev


def test_parse_orderbook_delta_keeps_zero_size_levels_and_raw_bytes() -> None:
    ev = one(BOOK_DELTA)
    assert isinstance(ev, BookUpdate)
    assert ev.symbol == "BTCUSDT" and not ev.is_snapshot and ev.update_id == 1234568 and ev.seq == 99887766
    assert ev.bids == (Level(Decimal("30000.10"), Decimal(0)), Level(Decimal("29999.90"), Decimal("1.250")))
    assert ev.asks == (Level(Decimal("30000.50"), Decimal("0.400")),)
    assert ev.raw == BOOK_DELTA and ev.depth == 50 and ev.cts_ms == 1700000000120 and ev.ts_recv_ns == 42


def test_parse_orderbook_snapshot_flag_follows_type() -> None:
    msg = json_io.loads(BOOK_DELTA)
    msg["data"]["u"] = 1
    ev = one(msg)
    assert isinstance(ev, BookUpdate) and not ev.is_snapshot and ev.update_id == 1
    msg["type"] = "snapshot"
    ev = one(msg)
    assert isinstance(ev, BookUpdate) and ev.is_snapshot


def test_parse_public_trade_list() -> None:
    msg = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1, "data": [
        {"T": 1700000000000, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "30000.5", "L": "PlusTick",
         "i": "t-1", "BT": False, "seq": 5},
        {"T": 1700000000001, "s": "BTCUSDT", "S": "Sell", "v": "0.002", "p": "30000.4", "i": "t-2", "BT": False}]}
    evs = parse_ws_message(json_io.dumps(msg), ts_recv_ns=1)
    assert [type(e) for e in evs] == [Trade, Trade]
    assert evs[0] == Trade("BTCUSDT", "t-1", Side.BUY, Decimal("30000.5"), Decimal("0.001"), 1700000000000, 1, 5)  # type: ignore[arg-type]
    assert isinstance(evs[1], Trade) and evs[1].side is Side.SELL


def test_parse_ticker_delta_has_none_for_absent_fields() -> None:
    ev = one({"topic": "tickers.BTCUSDT", "type": "delta", "ts": 5, "cs": 1,
              "data": {"symbol": "BTCUSDT", "bid1Price": "30000.1", "markPrice": "30000.2"}})
    assert isinstance(ev, Ticker)
    assert ev.bid1_price == Decimal("30000.1") and ev.mark_price == Decimal("30000.2") and ev.ask1_price is None


ORDER = {"category": "linear", "symbol": "BTCUSDT", "orderId": "o-1", "orderLinkId": "mm-1", "side": "Buy",
         "orderType": "Limit", "price": "30000", "qty": "0.001", "timeInForce": "PostOnly",
         "orderStatus": "Cancelled", "cancelType": "UNKNOWN", "rejectReason": "EC_PostOnlyWillTakeLiquidity",
         "avgPrice": "", "leavesQty": "0", "leavesValue": "0", "cumExecQty": "0", "cumExecValue": "0",
         "positionIdx": 0, "reduceOnly": False, "createdTime": "1700000000000", "updatedTime": "1700000000005"}


def test_parse_order_post_only_cancel() -> None:
    ev = one({"id": "x", "topic": "order", "creationTime": 1, "data": [ORDER]})
    assert isinstance(ev, OrderUpdate)
    assert ev.status is OrderStatus.CANCELLED and ev.is_post_only_reject and ev.avg_price is None
    assert ev.updated_time_ms == 1700000000005 and ev.category is Category.LINEAR
    assert ev.dedup_key == ("o-1", 1700000000005, "Cancelled", Decimal(0))


def test_parse_execution_maker_rebate() -> None:
    ex = {"category": "linear", "symbol": "BTCUSDT", "orderId": "o-1", "orderLinkId": "mm-1", "side": "Sell",
          "orderPrice": "30000", "orderQty": "0.002", "leavesQty": "0.001", "orderType": "Limit", "execId": "e-1",
          "execPrice": "30000", "execQty": "0.001", "execValue": "30", "execFee": "-0.0015", "feeRate": "-0.00005",
          "feeCurrency": "USDT", "isMaker": True, "execType": "Trade", "execTime": "1700000000001", "seq": 7}
    ev = one({"id": "x", "topic": "execution", "creationTime": 1, "data": [ex]})
    assert isinstance(ev, Execution) and ev.is_maker and ev.is_trade and ev.fee == Decimal("-0.0015")
    fill = ev.to_fill()
    assert fill.fee < 0 and fill.side is Side.SELL and fill.ts_exchange_ms == 1700000000001


def test_parse_position_flat_and_long() -> None:
    flat = {"category": "linear", "symbol": "BTCUSDT", "side": "", "size": "0", "positionIdx": 0,
            "entryPrice": "0", "markPrice": "30000", "positionValue": "0", "unrealisedPnl": "0",
            "cumRealisedPnl": "1.5", "liqPrice": "", "seq": 3, "updatedTime": "5"}
    long = {**flat, "side": "Buy", "size": "0.002", "entryPrice": "29990"}
    evs = parse_ws_message(json_io.dumps({"topic": "position", "data": [flat, long]}), ts_recv_ns=0)
    assert all(isinstance(e, PositionUpdate) for e in evs)
    a, b = evs
    assert isinstance(a, PositionUpdate) and a.side is None and a.signed_size == 0 and a.liq_price is None
    assert isinstance(b, PositionUpdate) and b.signed_size == Decimal("0.002") and b.entry_price == 29990


def test_parse_wallet() -> None:
    w = {"accountType": "UNIFIED", "totalEquity": "1000.5", "totalWalletBalance": "1000",
         "totalAvailableBalance": "900", "coin": [{"coin": "USDT", "equity": "1000.5", "walletBalance": "1000",
                                                   "usdValue": "1000.4", "locked": "0", "unrealisedPnl": "0.5"}]}
    ev = one({"topic": "wallet", "creationTime": 1, "data": [w]})
    assert isinstance(ev, WalletUpdate) and ev.total_equity == Decimal("1000.5") and ev.coins[0].coin == "USDT"


@pytest.mark.parametrize("reply", [
    {"success": True, "ret_msg": "pong", "conn_id": "c", "op": "ping"},
    {"success": True, "ret_msg": "pong", "conn_id": "c", "req_id": "", "op": "ping"},
    {"args": ["1672916271846"], "op": "pong"},
    {"req_id": "test", "op": "pong", "args": ["1675418560633"], "conn_id": "c"},
    {"retCode": 0, "retMsg": "OK", "op": "pong", "data": ["1711002002529"], "connId": "c"},
])
def test_every_documented_pong_shape_is_a_pong(reply: dict[str, object]) -> None:
    assert isinstance(one(reply), Pong)


@pytest.mark.parametrize(("reply", "ok"), [
    ({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c", "req_id": "s1"}, True),
    ({"success": False, "ret_msg": "error:handler not found", "op": "subscribe", "conn_id": "c"}, False),
    ({"success": False, "ret_msg": "Params Error", "op": "auth", "conn_id": "c"}, False),
    ({"success": True, "conn_id": "c", "type": "COMMAND_RESP", "data": {"failTopics": [], "successTopics": ["x"]}},
     True),
    ({"retCode": 10004, "retMsg": "bad sign", "op": "auth", "connId": "c"}, False),
])
def test_command_replies_are_acks(reply: dict[str, object], ok: bool) -> None:
    ev = one(reply)
    assert isinstance(ev, Ack) and ev.success is ok


def test_trade_stream_ack_carries_code_and_req_id() -> None:
    ev = one({"reqId": "q-1", "retCode": 0, "retMsg": "OK", "op": "order.create",
              "data": {"orderId": "o", "orderLinkId": "mm-1"}, "retExtInfo": {}, "header": {}, "connId": "c"})
    assert isinstance(ev, Ack) and ev.op == "order.create" and ev.req_id == "q-1" and ev.ret_code == 0


def test_unknown_topics_yield_no_events() -> None:
    assert parse_ws_message(b'{"topic": "kline.1.BTCUSDT", "data": []}', ts_recv_ns=0) == []
    assert parse_ws_message(b'{"topic": "dcp.future", "data": []}', ts_recv_ns=0) == []


@pytest.mark.parametrize("raw", [
    b"", b"not json", b"[1,2]", b'{"foo": 1}', b'{"topic": "orderbook.50.BTCUSDT", "type": "delta"}',
    b'{"topic": "orderbook.50.BTCUSDT", "type": "delta", "data": {"s": "X", "b": [["1"]], "a": [], "u": 2}}',
    b'{"topic": "orderbook.50.X", "type": "delta", "data": {"s": "X", "b": [["NaN", "1"]], "a": [], "u": 2}}',
    b'{"topic": "order", "data": [{"symbol": "X"}]}', b'{"topic": "publicTrade.X", "data": {}}',
    b'{"op": "subscribe", "success": "yes"}', b"\xff\xfe",
])
def test_malformed_messages_raise_parse_error_with_topic_and_excerpt(raw: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_ws_message(raw, ts_recv_ns=0)
    if raw.startswith(b'{"topic"'):
        assert info.value.topic is not None
        assert info.value.excerpt


def test_envelope_and_server_time() -> None:
    env = parse_envelope(b'{"retCode":0,"retMsg":"OK","result":{"timeSecond":"1700000000",'
                         b'"timeNano":"1700000000123456789"},"retExtInfo":{},"time":1700000000124}')
    assert env.ret_code == 0 and parse_server_time_ms(env) == 1700000000123
    env2 = parse_envelope(b'{"retCode":10006,"retMsg":"Too many visits!","result":null,"time":1}')
    assert env2.ret_code == 10006 and env2.result == {}
    with pytest.raises(ParseError):
        parse_envelope(b'{"retMsg":"no code"}', endpoint="create")


def test_instruments_linear_and_spot() -> None:
    lin = {"symbol": "BTCUSDT", "status": "Trading", "baseCoin": "BTC", "quoteCoin": "USDT",
           "priceFilter": {"minPrice": "0.10", "maxPrice": "1999999.80", "tickSize": "0.10"},
           "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": "0.001", "qtyStep": "0.001",
                             "minNotionalValue": "5"}}
    i = parse_instrument(lin, Category.LINEAR)
    assert i.tick_size == Decimal("0.10") and i.qty_step == Decimal("0.001") and i.min_notional == 5
    spot = {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT", "status": "Trading",
            "lotSizeFilter": {"basePrecision": "0.000001", "minOrderQty": "0.000011", "maxOrderQty": "83",
                              "minOrderAmt": "5", "maxLimitOrderQty": "83"}, "priceFilter": {"tickSize": "0.1"}}
    s = parse_instrument(spot, Category.SPOT)
    assert s.qty_step == Decimal("0.000001") and s.max_qty == 83 and s.min_notional == 5
    env = parse_envelope(json_io.dumps({"retCode": 0, "retMsg": "OK", "result": {"list": [lin]}, "time": 1}))
    assert result_list(env) == [lin]


def test_ticker_deltas_merge_into_full_state() -> None:
    from bot.exchange.bybit.ws import merge_ticker

    snap = Ticker("BTCUSDT", last_price=Decimal(1), bid1_price=Decimal(2), ask1_price=Decimal(3))  # type: ignore[arg-type]
    delta = Ticker("BTCUSDT", bid1_price=Decimal(5), ts_exchange_ms=9)  # type: ignore[arg-type]
    merged = merge_ticker(snap, delta)
    assert merged.last_price == 1 and merged.bid1_price == 5 and merged.ask1_price == 3
    assert merged.ts_exchange_ms == 9
    assert merge_ticker(None, delta) is delta


def test_query_strings_are_signed_as_sent() -> None:
    from bot.exchange.bybit.wire import encode_query

    assert encode_query({"category": "linear", "symbol": "BTCUSDT", "cursor": None, "limit": 50,
                         "openOnly": 1}) == "category=linear&symbol=BTCUSDT&limit=50&openOnly=1"
    assert encode_query({"symbol": "A&b=c d"}) == "symbol=A%26b%3Dc%20d"
    cursor = "page_args%3Dfd4300ae-7847%26symbol%3D6%26"  # Bybit sends cursors already encoded
    assert encode_query({"cursor": cursor}) == f"cursor={cursor}"
