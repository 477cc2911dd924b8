"""Property tests of the emulator's matching engine: never crossed, quantity conserved, fees from rates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sim.accounts import spot_fee_coin
from bot.sim.config import SimAccount, SimConfig
from bot.sim.engine import Engine, OrderError
from bot.sim.matching import Book, RestingOrder
from bot.sim.orderops import amend_order, cancel_order, create_order

# ---------------------------------------------------------------- the pure book

book_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(["Buy", "Sell"]), st.integers(90, 110), st.integers(1, 5)),
        st.tuples(st.just("take"), st.sampled_from(["Buy", "Sell"]), st.integers(85, 115), st.integers(1, 12)),
        st.tuples(st.just("remove"), st.integers(0, 50), st.just(0), st.just(0)),
    ),
    max_size=120,
)


def _resting(book: Book) -> int:
    return sum(book.bid_size.values()) + sum(book.ask_size.values())


@given(book_ops)
def test_book_never_crossed_and_quantity_conserved(ops: list[tuple[Any, ...]]) -> None:
    book = Book()
    live: list[RestingOrder] = []
    n = 0
    for op in ops:
        before = _resting(book)
        if op[0] == "add":
            _, side, px, qty = op
            if book.would_cross(side, px):
                continue  # the engine never rests a crossing order: it matches it first
            n += 1
            ro = RestingOrder(order_id=str(n), owner="a", side=side, price=px, qty=qty)
            book.add(ro)
            live.append(ro)
            assert _resting(book) == before + qty
        elif op[0] == "take":
            _, side, px, qty = op
            fills = book.match(side, px, qty)
            got = sum(f.qty for f in fills)
            assert got <= qty
            assert _resting(book) == before - got
            assert all((f.price <= px) if side == "Buy" else (f.price >= px) for f in fills)
            # price-time priority: better prices first, then earlier orders at a price
            keys = [(f.price if side == "Buy" else -f.price, f.maker.priority) for f in fills]
            assert keys == sorted(keys)
            if got < qty:
                assert not book.would_cross(side, px)  # nothing left at the limit or better
        else:
            idx = op[1]
            if live:
                ro = live[idx % len(live)]
                was = ro.leaves if book.remove(ro) else 0
                assert _resting(book) == before - was
        live = [r for r in live if r.leaves > 0]
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is None or ba is None or bb < ba
        assert all(q > 0 for q in book.bid_size.values()) and all(q > 0 for q in book.ask_size.values())
        bids, asks = book.depth(1000)
        assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
        assert [p for p, _ in asks] == sorted(p for p, _ in asks)


# ---------------------------------------------------------------- the engine with accounts and fees

MAKER, TAKER = Decimal("-0.00005"), Decimal("0.00055")

engine_ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.integers(0, 1), st.sampled_from(["Buy", "Sell"]), st.integers(-15, 15),
                  st.integers(1, 40), st.sampled_from(["GTC", "IOC", "FOK", "PostOnly"])),
        st.tuples(st.just("market"), st.integers(0, 1), st.sampled_from(["Buy", "Sell"]), st.just(0),
                  st.integers(1, 30), st.just("IOC")),
        st.tuples(st.just("amend"), st.integers(0, 1), st.just(""), st.integers(-15, 15), st.integers(1, 40),
                  st.just("")),
        st.tuples(st.just("cancel"), st.integers(0, 1), st.just(""), st.integers(0, 30), st.just(0), st.just("")),
        st.tuples(st.just("house"), st.just(0), st.sampled_from(["Buy", "Sell"]), st.integers(-15, 15),
                  st.integers(1, 60), st.just("")),
    ),
    max_size=60,
)


def _engine() -> tuple[Engine, list[Any]]:
    cfg = SimConfig(symbols=("BTCUSDT",), rate_limits=False)
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000))
    eng = Engine(cfg, lambda: next(clock))
    accts = [eng.add_account(SimAccount(api_key=f"k{i}", api_secret="s", maker_fee=MAKER, taker_fee=TAKER))
             for i in range(2)]
    m = eng.markets[("linear", "BTCUSDT")]
    for k in range(1, 6):  # a small house ladder around 30000.0 (ticks of 0.1)
        eng.house_limit(m, "Buy", 300_000 - 10 * k, 20)
        eng.house_limit(m, "Sell", 300_000 + 10 * k, 20)
    return eng, accts


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(engine_ops)
def test_engine_invariants_under_random_order_flow(ops: list[tuple[Any, ...]]) -> None:
    eng, accts = _engine()
    m = eng.markets[("linear", "BTCUSDT")]
    inst = m.spec.instrument
    links = 0
    for kind, who, side, off, qty, tif in ops:
        acct = accts[who]
        price = str(inst.from_ticks(300_000 + off * 5))
        try:
            if kind == "create":
                links += 1
                create_order(eng, acct, {"category": "linear", "symbol": "BTCUSDT", "side": side, "orderType": "Limit",
                                         "qty": str(inst.from_lots(qty)), "price": price, "timeInForce": tif,
                                         "orderLinkId": f"l{links}"})
            elif kind == "market":
                create_order(eng, acct, {"category": "linear", "symbol": "BTCUSDT", "side": side,
                                         "orderType": "Market", "qty": str(inst.from_lots(qty))})
            elif kind == "amend" and acct.open_orders:
                oid = sorted(acct.open_orders)[qty % len(acct.open_orders)]
                amend_order(eng, acct, {"category": "linear", "symbol": "BTCUSDT", "orderId": oid, "price": price})
            elif kind == "cancel" and acct.open_orders:
                oid = sorted(acct.open_orders)[off % len(acct.open_orders)]
                cancel_order(eng, acct, {"category": "linear", "symbol": "BTCUSDT", "orderId": oid})
            elif kind == "house":
                eng.house_take(m, side, qty, 300_000 + off * 5)
        except OrderError as exc:
            assert exc.code in (10001, 110001, 110064, 110094)
        bb, ba = m.book.best_bid(), m.book.best_ask()
        assert bb is None or ba is None or bb < ba, "book crossed after matching"
    for acct in accts:
        # resting orders in the book are exactly the account's open orders, with the same leaves
        in_book = {ro.order_id: ro for ro in m.book.orders() if ro.owner == acct.api_key}
        assert set(in_book) == set(acct.open_orders)
        for oid, o in acct.open_orders.items():
            assert in_book[oid].leaves == o.qty - o.filled > 0
        fills_by_order: dict[str, int] = {}
        fee_total = pnl_total = Decimal(0)
        signed = Decimal(0)
        for e in acct.executions:
            value = inst.from_ticks(e.price) * inst.from_lots(e.qty)
            assert e.fee_rate == (MAKER if e.is_maker else TAKER)
            assert e.fee == value * e.fee_rate
            fills_by_order[e.order.order_id] = fills_by_order.get(e.order.order_id, 0) + e.qty
            fee_total += e.fee
            pnl_total += e.exec_pnl
            signed += inst.from_lots(e.qty) * (1 if e.order.side == "Buy" else -1)
        for o in list(acct.open_orders.values()) + [x for q in acct.closed.values() for x in q]:
            assert fills_by_order.get(o.order_id, 0) == o.filled <= o.qty
            if o.tif == "PostOnly":
                assert all(e.is_maker for e in acct.executions if e.order is o)
        pos = acct.positions.get("BTCUSDT")
        assert (pos.size if pos else Decimal(0)) == signed
        assert acct.wallet["USDT"] == Decimal(1_000_000) + pnl_total - fee_total


def test_post_only_that_would_cross_is_cancelled_not_filled() -> None:
    eng, (a, _) = _engine()
    out = create_order(eng, a, {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                                "qty": "0.01", "price": "30001.0", "timeInForce": "PostOnly", "orderLinkId": "p"})
    o = a.link_ids["p"]
    assert out["orderId"] == o.order_id
    assert (o.status, o.reject_reason, o.filled) == ("Cancelled", "EC_PostOnlyWillTakeLiquidity", 0)


def test_fok_without_enough_liquidity_fills_nothing() -> None:
    eng, (a, _) = _engine()
    create_order(eng, a, {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
                          "qty": "0.5", "price": "30001.0", "timeInForce": "FOK", "orderLinkId": "f"})
    o = a.link_ids["f"]
    assert (o.status, o.reject_reason, o.filled) == ("Cancelled", "EC_NoEnoughQtyToFill", 0)
    assert a.executions == []


def test_spot_fee_coin_rules() -> None:
    assert spot_fee_coin("Buy", False, Decimal("0.001"), "BTC", "USDT") == "BTC"
    assert spot_fee_coin("Sell", False, Decimal("0.001"), "BTC", "USDT") == "USDT"
    assert spot_fee_coin("Buy", True, Decimal("-0.00005"), "BTC", "USDT") == "USDT"
    assert spot_fee_coin("Sell", True, Decimal("-0.00005"), "BTC", "USDT") == "BTC"
    assert spot_fee_coin("Buy", True, Decimal("0.0002"), "BTC", "USDT") == "BTC"


spot_ops = st.lists(
    st.tuples(st.integers(0, 1), st.sampled_from(["Buy", "Sell"]), st.integers(-12, 12), st.integers(1, 30),
              st.sampled_from(["GTC", "IOC", "PostOnly", "Market"])),
    max_size=40,
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(spot_ops)
def test_spot_balances_move_by_fills_and_fees_in_the_right_coin(ops: list[tuple[Any, ...]]) -> None:
    cfg = SimConfig(symbols=("BTCUSDT@spot",), rate_limits=False)
    clock = iter(range(1_700_000_000_000, 1_800_000_000_000))
    eng = Engine(cfg, lambda: next(clock))
    accts = [eng.add_account(SimAccount(api_key=f"k{i}", api_secret="s")) for i in range(2)]
    m = eng.markets[("spot", "BTCUSDT")]
    inst = m.spec.instrument
    for k in range(1, 6):
        eng.house_limit(m, "Buy", 300_000 - 10 * k, 200_000)
        eng.house_limit(m, "Sell", 300_000 + 10 * k, 200_000)
    start = [dict(a.wallet) for a in accts]
    for who, side, off, lots, tif in ops:
        body = {"category": "spot", "symbol": "BTCUSDT", "side": side, "qty": str(inst.from_lots(lots * 1000))}
        if tif == "Market":
            body["orderType"] = "Market"
        else:
            body.update(orderType="Limit", timeInForce=tif, price=str(inst.from_ticks(300_000 + off * 5)))
        try:
            create_order(eng, accts[who], body)
        except OrderError as exc:
            assert exc.code in (10001, 170131, 170140)
        bb, ba = m.book.best_bid(), m.book.best_ask()
        assert bb is None or ba is None or bb < ba
    for acct, before in zip(accts, start, strict=True):
        expect = {c: Decimal(v) for c, v in before.items()}
        for e in acct.executions:
            qty = inst.from_lots(e.qty)
            value = inst.from_ticks(e.price) * qty
            sign = 1 if e.order.side == "Buy" else -1
            expect["BTC"] += sign * qty
            expect["USDT"] -= sign * value
            assert e.fee_coin == spot_fee_coin(e.order.side, e.is_maker, e.fee_rate, "BTC", "USDT")
            assert e.fee == (qty if e.fee_coin == "BTC" else value) * e.fee_rate
            expect[e.fee_coin] -= e.fee
        assert {c: acct.wallet[c] for c in expect} == expect
        assert all(acct.available(c) >= 0 for c in ("BTC", "USDT"))
