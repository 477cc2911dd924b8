"""What the recorder stores for a parsed stream event: its scalar fields, money as exact strings."""

from __future__ import annotations

from decimal import Decimal

from bot.common import json_io
from bot.exchange.bybit.parse import parse_ws_message
from bot.exchange.events import Ticker, Trade
from bot.runtime.account import plain

TICKER = (b'{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"17216.00",'
          b'"markPrice":"17217.330","bid1Price":"17215.50","bid1Size":"84.489","ask1Price":"17216.00",'
          b'"ask1Size":"83.020","fundingRate":"-0.000212","nextFundingTime":"1673280000000"},"ts":1673272861686}')
TRADE = (b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,'
         b'"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","i":"20f43950-d8dd","BT":false}]}')


def test_decimals_are_recorded_as_the_exact_strings_and_raw_is_left_out() -> None:
    ticker = parse_ws_message(TICKER, ts_recv_ns=5)[0]
    assert isinstance(ticker, Ticker)
    rec = plain(ticker)
    assert rec["mark_price"] == "17217.330" and rec["ask1_size"] == "83.020"  # trailing zeros kept
    assert rec["next_funding_time_ms"] == 1673280000000 and rec["ts_recv_ns"] == 5
    assert all(not isinstance(v, Decimal) for v in rec.values())
    back = json_io.loads(json_io.dumps(rec))
    assert back == rec and Decimal(back["funding_rate"]) == ticker.funding_rate
    trade = parse_ws_message(TRADE, ts_recv_ns=7)[0]
    assert isinstance(trade, Trade)
    assert plain(trade)["price"] == "16578.50" and "raw" not in plain(trade)
