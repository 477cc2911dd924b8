"""PERF-002: orjson (bot.common.json_io) vs stdlib json on the bot's real payload shapes.

Encode and decode are timed separately on: a WS orderbook delta, a REST order response and a
20-order create-batch body. Run: .venv/bin/python bench/bench_json.py [--n 20000]
"""

from __future__ import annotations

import argparse
import json  # noqa: TID251  # the baseline this benchmark measures orjson against
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from bot.common import json_io
from bot.domain import OrderLinkId, Side, Symbol
from bot.exchange.base import OrderRequest
from bot.exchange.bybit.wire import batch_body, create_item

BOOK_DELTA: dict[str, Any] = {
    "topic": "orderbook.50.BTCUSDT", "type": "delta", "ts": 1700000000123,
    "data": {"s": "BTCUSDT", "b": [[f"{30000 - i * 0.1:.2f}", f"{0.001 * (i + 1):.3f}"] for i in range(12)],
             "a": [[f"{30000.5 + i * 0.1:.2f}", f"{0.002 * (i + 1):.3f}"] for i in range(12)],
             "u": 1234568, "seq": 99887766},
    "cts": 1700000000120,
}
ORDER_RESPONSE: dict[str, Any] = {
    "retCode": 0, "retMsg": "OK",
    "result": {"category": "linear", "nextPageCursor": "", "list": [{
        "orderId": "fd4300ae-7847-404e-b947-b46980a4d140", "orderLinkId": "mm-00000001", "symbol": "BTCUSDT",
        "price": "30000.10", "qty": "0.001", "side": "Buy", "isLeverage": "", "positionIdx": 0,
        "orderStatus": "New", "cancelType": "UNKNOWN", "rejectReason": "EC_NoError", "avgPrice": "0",
        "leavesQty": "0.001", "leavesValue": "30.0001", "cumExecQty": "0", "cumExecValue": "0", "cumExecFee": "0",
        "timeInForce": "PostOnly", "orderType": "Limit", "stopOrderType": "", "triggerPrice": "0",
        "takeProfit": "0", "stopLoss": "0", "reduceOnly": False, "closeOnTrigger": False, "smpType": "None",
        "createdTime": "1700000000000", "updatedTime": "1700000000000"}]},
    "retExtInfo": {}, "time": 1700000000124,
}
BATCH_BODY = batch_body("linear", [create_item(OrderRequest(
    Symbol("BTCUSDT"), Side.BUY if i % 2 else Side.SELL, Decimal("0.001"), Decimal("30000.1") + i,
    OrderLinkId(f"mm-{i:08d}"))) for i in range(20)])


def per_op_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    best = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(best)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    print(f"{'payload':<16}{'bytes':>7}  {'enc json':>9} {'enc orjson':>11} {'x':>6}  "
          f"{'dec json':>9} {'dec orjson':>11} {'x':>6}   (microseconds per op, median of 5)")
    for name, obj in (("ws_book_delta", BOOK_DELTA), ("rest_order_resp", ORDER_RESPONSE),
                      ("batch_20_body", BATCH_BODY)):
        as_json = json.dumps(obj, separators=(",", ":")).encode()
        assert orjson.loads(as_json) == obj and json_io.loads(json_io.dumps(obj)) == obj
        enc_std = per_op_us(lambda o=obj: json.dumps(o, separators=(",", ":")).encode(), args.n)
        enc_orj = per_op_us(lambda o=obj: json_io.dumps(o), args.n)
        dec_std = per_op_us(lambda b=as_json: json.loads(b), args.n)
        dec_orj = per_op_us(lambda b=as_json: json_io.loads(b), args.n)
        print(f"{name:<16}{len(as_json):>7}  {enc_std:>9.2f} {enc_orj:>11.2f} {enc_std / enc_orj:>5.1f}x  "
              f"{dec_std:>9.2f} {dec_orj:>11.2f} {dec_std / dec_orj:>5.1f}x")


if __name__ == "__main__":
    main()
