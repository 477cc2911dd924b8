"""Property: any byte string fed to the parsers yields events or ParseError, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.common import json_io
from bot.domain import Category
from bot.errors import ParseError
from bot.exchange.bybit.parse import parse_envelope, parse_instrument, parse_ws_message
from bot.exchange.events import ExchangeEvent

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=12),
                      st.sampled_from(["0", "1.5", "-0", "NaN", "Infinity", "", "1e5", "Buy", "Sell", "New"]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=20)
KEYS = ["topic", "type", "data", "ts", "op", "success", "ret_msg", "retCode", "s", "b", "a", "u", "seq", "args",
        "symbol", "orderId", "orderStatus", "side", "qty", "price", "execId", "execQty", "execPrice", "execTime"]
TOPICS = ["orderbook.50.BTCUSDT", "orderbook.1.X", "orderbook.x.Y", "publicTrade.BTCUSDT", "tickers.BTCUSDT",
          "order", "execution", "execution.fast", "position", "wallet", "dcp.future", "kline.1.X"]
shaped = st.fixed_dictionaries(
    {"topic": st.sampled_from(TOPICS)},
    optional={"type": st.sampled_from(["snapshot", "delta", "x"]), "ts": json_leaf,
              "data": st.one_of(json_value, st.lists(st.dictionaries(st.sampled_from(KEYS), json_value, max_size=12),
                                                     max_size=3),
                                st.dictionaries(st.sampled_from(KEYS), json_value, max_size=8))},
)


def _check(raw: bytes) -> None:
    try:
        events = parse_ws_message(raw, ts_recv_ns=0, category=Category.LINEAR)
    except ParseError:
        return
    assert isinstance(events, list)
    assert all(isinstance(e, ExchangeEvent) for e in events)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes_to_ws_parser(raw: bytes) -> None:
    _check(raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(shaped)
def test_bybit_shaped_garbage_to_ws_parser(msg: dict[str, object]) -> None:
    _check(json_io.dumps(msg))


@settings(max_examples=300)
@given(st.one_of(st.binary(max_size=200), json_value.map(json_io.dumps)))
def test_any_bytes_to_rest_envelope(raw: bytes) -> None:
    try:
        parse_envelope(raw, endpoint="x")
    except ParseError:
        pass


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["symbol", "priceFilter", "lotSizeFilter", "baseCoin"]),
                       st.one_of(json_value, st.dictionaries(
                           st.sampled_from(["tickSize", "qtyStep", "basePrecision", "maxOrderQty", "minOrderQty"]),
                           json_value)), max_size=4),
       st.sampled_from([Category.LINEAR, Category.SPOT]))
def test_any_instrument_item(item: dict[str, object], cat: Category) -> None:
    try:
        parse_instrument(item, cat)
    except ParseError:
        pass


PRIVATE_KEYS = ["category", "symbol", "orderId", "orderLinkId", "side", "orderType", "price", "qty", "timeInForce",
                "orderStatus", "leavesQty", "cumExecQty", "cumExecValue", "avgPrice", "createdTime", "updatedTime",
                "execId", "execPrice", "execQty", "execTime", "execFee", "feeRate", "isMaker", "size", "entryPrice",
                "avgPrice", "markPrice", "positionIdx", "seq", "coin", "totalEquity", "makerFeeRate", "takerFeeRate"]
private_value = st.one_of(json_value, st.sampled_from(["linear", "spot", "Buy", "Sell", "New", "Cancelled", "0.5",
                                                       "1700000000000", "UNIFIED"]))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(PRIVATE_KEYS), private_value, max_size=20))
def test_any_rest_item_to_the_object_parsers(item: dict[str, object]) -> None:
    from bot.exchange.bybit.parse import parse_execution, parse_fee_rate, parse_order, parse_position, parse_wallet

    for parser in (lambda d: parse_order(d, Category.LINEAR), lambda d: parse_execution(d, Category.LINEAR),
                   lambda d: parse_position(d, Category.LINEAR), parse_wallet, parse_fee_rate):
        try:
            parser(item)
        except ParseError:
            pass
