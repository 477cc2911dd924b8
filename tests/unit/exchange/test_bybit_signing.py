"""The reference's worked signing examples are test vectors for REST headers and WS auth."""

from __future__ import annotations

import pytest

from bot.common import json_io
from bot.exchange.bybit.signing import sign_rest, sign_ws_auth, verify
from bot.exchange.bybit.wire import auth_msg, rest_headers

KEY, SECRET, TS, RW = "bybit-test-key", "bybit-test-secret", 1700000000000, 5000
B1 = ('{"category":"linear","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.001","price":"30000",'
      '"timeInForce":"PostOnly","orderLinkId":"mm-0001"}')
B2 = ('{"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", '
      '"price": "30000", "timeInForce": "PostOnly", "orderLinkId": "mm-0001"}')


@pytest.mark.parametrize(("payload", "expected"), [
    ("category=linear&symbol=BTCUSDT", "719e8f728d147510ec065ac429edf35f601683c67977b3a9a611a2b33d19184d"),
    ("symbol=BTCUSDT&category=linear", "32e56c9aa1f875e7f4b7c6ab3b08544cf10e23aeaff5016b1c273ce1ecf5f9a2"),
    ("", "a26048df897110a22ecc7522f2988b5d69ab7d9449dc52ff0af1e86de8af7f9e"),
    (B1, "52a9e979df52647fc3c745552ae6378ec02a10a493bf32481e501ceeebd25ec0"),
    (B2, "abe55d45986a1746bf2e69d80e2174117a0f6d6057471cbf1fcd21b9b39395f4"),
    ("{}", "6b343a44b180ff83ae5b4e5db37eba5358eb41c6cbd88d19d91048982621691b"),
])
def test_rest_signature_matches_reference_vector(payload: str, expected: str) -> None:
    assert sign_rest(SECRET, TS, KEY, RW, payload) == expected
    assert sign_rest(SECRET, TS, KEY, RW, payload.encode()) == expected
    headers = rest_headers(KEY, SECRET, TS, RW, payload)
    assert headers["X-BAPI-SIGN"] == expected
    assert headers["X-BAPI-TIMESTAMP"] == "1700000000000" and headers["X-BAPI-RECV-WINDOW"] == "5000"
    assert verify(expected, headers["X-BAPI-SIGN"])


@pytest.mark.parametrize(("expires", "expected"), [
    (1700000001000, "6b8cb9853580ac59566f18ede929fbc7d012d3f7ce063f637c51776156e686ca"),
    (1700000010000, "ace2f1aa653e53c8deef473d28149c2d6470f0e078fbf3fed51b0261e6ca6501"),
])
def test_ws_auth_signature_matches_reference_vector(expires: int, expected: str) -> None:
    assert sign_ws_auth(SECRET, expires) == expected
    msg = json_io.loads(auth_msg(KEY, SECRET, expires, "a1"))
    assert msg == {"op": "auth", "req_id": "a1", "args": [KEY, expires, expected]}


def test_compact_order_body_is_reference_b1() -> None:
    from decimal import Decimal

    from bot.domain import OrderLinkId, Side, Symbol
    from bot.exchange.base import OrderRequest
    from bot.exchange.bybit.wire import create_item, encode_body

    order = OrderRequest(Symbol("BTCUSDT"), Side.BUY, Decimal("0.001"), Decimal("30000"), OrderLinkId("mm-0001"))
    assert encode_body(create_item(order, "linear")).decode() == B1
