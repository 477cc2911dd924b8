"""Pure parts of the emulator: REST/WS auth checks with the reference vectors, and book-stream deltas."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.sim.accounts import AccountState
from bot.sim.auth import AuthFailure, check_rest, check_timestamp, check_ws_auth
from bot.sim.config import SimAccount, SimConfig
from bot.sim.engine import Engine
from bot.sim.market import BookStream

KEY, SECRET, TS = "bybit-test-key", "bybit-test-secret", 1700000000000
ACCTS = {KEY: AccountState(cfg=SimAccount(api_key=KEY, api_secret=SECRET), uid=1)}


def _h(sign: str) -> dict[str, str]:
    return {"X-BAPI-API-KEY": KEY, "X-BAPI-TIMESTAMP": str(TS), "X-BAPI-RECV-WINDOW": "5000", "X-BAPI-SIGN": sign}


@pytest.mark.parametrize(("payload", "sign"), [
    (b"category=linear&symbol=BTCUSDT", "719e8f728d147510ec065ac429edf35f601683c67977b3a9a611a2b33d19184d"),
    (b"symbol=BTCUSDT&category=linear", "32e56c9aa1f875e7f4b7c6ab3b08544cf10e23aeaff5016b1c273ce1ecf5f9a2"),
    (b"", "a26048df897110a22ecc7522f2988b5d69ab7d9449dc52ff0af1e86de8af7f9e"),
    (b"{}", "6b343a44b180ff83ae5b4e5db37eba5358eb41c6cbd88d19d91048982621691b"),
])
def test_reference_vectors_verify(payload: bytes, sign: str) -> None:
    assert check_rest(_h(sign), payload, TS + 10, ACCTS) is ACCTS[KEY]


def test_timestamp_rule_edges() -> None:
    check_timestamp(TS, "5000", TS + 5000)  # exactly recv_window old: ok
    with pytest.raises(AuthFailure) as e:
        check_timestamp(TS, "5000", TS + 5001)
    assert e.value.code == 10002
    check_timestamp(TS + 999, "5000", TS)  # 999 ms ahead: ok
    with pytest.raises(AuthFailure):
        check_timestamp(TS + 1000, "999999", TS)  # 1 s ahead fails whatever the window


def test_ws_auth_reference_vector_and_failures() -> None:
    sig = "6b8cb9853580ac59566f18ede929fbc7d012d3f7ce063f637c51776156e686ca"
    assert check_ws_auth([KEY, 1700000001000, sig], TS, ACCTS) is ACCTS[KEY]
    assert check_ws_auth([KEY, "1700000001000", sig], TS, ACCTS) is ACCTS[KEY]
    for args, code in (([KEY, 1700000001000, "0" * 64], 10004), (["x", 1700000001000, sig], 10003),
                       ([KEY, TS - 1, sig], 10001), ("nope", 10001), ([KEY, True, sig], 10001)):
        with pytest.raises(AuthFailure) as e:
            check_ws_auth(args, TS, ACCTS)
        assert e.value.code == code


def test_book_stream_deltas_replay_to_the_engine_book() -> None:
    eng = Engine(SimConfig(symbols=("BTCUSDT",)), lambda: 1)
    m = eng.markets[("linear", "BTCUSDT")]
    for k in range(1, 8):
        eng.house_limit(m, "Buy", 1000 - k, 3)
        eng.house_limit(m, "Sell", 1000 + k, 3)
    s = BookStream(m, 5, first_u=100)
    snap = s.snapshot_for_new_subscriber(1)
    local = {"b": {p: q for p, q in snap["data"]["b"]}, "a": {p: q for p, q in snap["data"]["a"]}}
    u = snap["data"]["u"]
    eng.house_take(m, "Buy", 4, 1003)  # eats 1001 and part of 1002
    eng.house_limit(m, "Buy", 1000, 2)
    msg = s.poll(2)
    assert msg is not None and msg["type"] == "delta" and msg["data"]["u"] == u + 1
    for side in ("b", "a"):
        for p, q in msg["data"][side]:
            if q == "0":
                local[side].pop(p)
            else:
                local[side][p] = q
    bids, asks = m.book.depth(5)
    inst = m.spec.instrument
    assert sorted(((Decimal(p), Decimal(q)) for p, q in local["b"].items()), reverse=True) == [
        (inst.from_ticks(p), inst.from_lots(q)) for p, q in bids]
    assert sorted((Decimal(p), Decimal(q)) for p, q in local["a"].items()) == [
        (inst.from_ticks(p), inst.from_lots(q)) for p, q in asks]
    assert s.poll(3) is None  # nothing changed, nothing sent
