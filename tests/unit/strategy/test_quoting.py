"""The quoting model: grid, touch safety, spread terms, inventory skew, obligations."""

from __future__ import annotations

from decimal import Decimal as D

from bot.config.strategy import StrategyConfig
from bot.domain import Category, Instrument, Side, Symbol
from bot.strategy import QuoteInputs, QuoteParams, TopOfBook, quote

INST = Instrument(Symbol("BTCUSDT"), Category.LINEAR, D("0.1"), D("0.001"), D("0.001"), D("100"), D("5"))
NOW = 1_000_000_000


def params(**kw: object) -> QuoteParams:
    base: dict[str, object] = {"instrument": INST, "levels": 3, "fair_price": "mid", "risk_aversion": D("0.1")}
    base.update(kw)
    return QuoteParams(**base)  # type: ignore[arg-type]


def book(bid: str = "64000.0", ask: str = "64000.5", bsz: str = "1", asz: str = "1", ts: int = NOW) -> TopOfBook:
    return TopOfBook((D(bid), D(bsz)), (D(ask), D(asz)), ts)


def inputs(**kw: object) -> QuoteInputs:
    base: dict[str, object] = {"level_notional": D("650"), "max_position_notional": D("6400")}
    base.update(kw)
    return QuoteInputs(**base)  # type: ignore[arg-type]


def test_quote_flat_book_is_symmetric_around_mid_with_min_half_spread() -> None:
    q = quote(book(), inputs(), params(), now_ns=NOW)
    assert q.reason is None
    # mid 640002.5 ticks, half 1 tick -> bid floor(640001.5)=640001, ask ceil(640003.5)=640004
    assert [b.price for b in q.bids] == [D("64000.1"), D("64000.0"), D("63999.9")]
    assert [a.price for a in q.asks] == [D("64000.4"), D("64000.5"), D("64000.6")]
    assert all(x.qty == D("0.01") for x in q.levels)


def test_quote_rounds_away_from_touch() -> None:
    q = quote(book(), inputs(), params(min_half_spread_ticks=1), now_ns=NOW)
    assert q.fair_ticks is not None and q.half_spread_ticks is not None
    assert q.bids[0].price_ticks <= q.fair_ticks - q.half_spread_ticks
    assert q.asks[0].price_ticks >= q.fair_ticks + q.half_spread_ticks


def test_stale_book_returns_no_quotes_with_reason() -> None:
    q = quote(book(ts=0), inputs(), params(max_book_age_ns=1000), now_ns=NOW)
    assert q.reason == "stale_book" and not q.levels


def test_crossed_empty_and_off_grid_books_are_refused() -> None:
    assert quote(book(bid="64001.0"), inputs(), params(), now_ns=NOW).reason == "crossed_book"
    assert quote(TopOfBook(None, (D(1), D(1)), NOW), inputs(), params(), now_ns=NOW).reason == "empty_book"
    assert quote(book(bid="64000.05"), inputs(), params(), now_ns=NOW).reason == "invalid_book"


def test_positive_maker_fee_widens_half_spread_to_cover_it() -> None:
    q = quote(book(), inputs(), params(maker_fee_rate=D("0.0002")), now_ns=NOW)
    # 0.02 % of 64000.25 = 12.8 quote = 128.0005 ticks
    assert q.half_spread_ticks == D("0.0002") * D("640002.5")
    assert q.asks[0].price - q.bids[0].price >= 2 * D("12.8")


def test_rebate_keeps_one_tick_floor() -> None:
    q = quote(book(), inputs(), params(maker_fee_rate=D("-0.00005")), now_ns=NOW)
    assert q.half_spread_ticks == 1


def test_volatility_term_widens_spread() -> None:
    q = quote(book(), inputs(sigma_ticks=D(3)), params(vol_multiplier=D(2)), now_ns=NOW)
    assert q.half_spread_ticks == 6
    assert q.asks[0].price_ticks - q.bids[0].price_ticks >= 12


def test_long_inventory_skews_reservation_down_and_shrinks_bids() -> None:
    flat = quote(book(), inputs(), params(), now_ns=NOW)
    long = quote(book(), inputs(position=D("0.05"), sigma_ticks=D(2)), params(), now_ns=NOW)
    assert long.reservation_ticks is not None and flat.reservation_ticks is not None
    assert long.reservation_ticks < flat.reservation_ticks
    assert long.bids[0].qty < long.asks[0].qty
    assert long.asks[0].price <= flat.asks[0].price


def test_short_inventory_skews_up_and_shrinks_asks() -> None:
    short = quote(book(), inputs(position=D("-0.05")), params(), now_ns=NOW)
    assert short.reservation_ticks is not None and short.reservation_ticks > D("640002.5")
    assert short.asks[0].qty < short.bids[0].qty


def test_position_at_cap_removes_the_adding_side_only() -> None:
    q = quote(book(), inputs(position=D("0.1")), params(), now_ns=NOW)  # 6400 / 64000 = 0.1 cap
    assert not q.bids and q.asks


def test_resting_bids_never_exceed_remaining_capacity() -> None:
    q = quote(book(), inputs(position=D("0.085")), params(size_skew=D(0)), now_ns=NOW)
    assert sum(b.qty for b in q.bids) + D("0.085") <= D("6400") / D("64000.25")


def test_skew_is_clamped_post_only_safe() -> None:
    q = quote(book(), inputs(position=D("-0.09"), sigma_ticks=D(10)), params(risk_aversion=D(5)), now_ns=NOW)
    assert q.bids and q.bids[0].price < D("64000.5")
    assert q.asks[0].price > D("64000.0")


def test_backoff_moves_that_side_away() -> None:
    base = quote(book(), inputs(), params(), now_ns=NOW)
    off = quote(book(), inputs(backoff_bid_ticks=1), params(), now_ns=NOW)
    assert off.bids[0].price_ticks == base.bids[0].price_ticks - 1
    assert off.asks == base.asks


def test_microprice_leans_to_the_thin_side() -> None:
    # bid 640000 x 3, ask 640005 x 1: the microprice sits 3/4 of the way up, the mid halfway
    thin_ask = book(bid="64000.0", ask="64000.5", bsz="3", asz="1")
    assert quote(thin_ask, inputs(), params(fair_price="microprice"), now_ns=NOW).fair_ticks == D("640003.75")
    assert quote(thin_ask, inputs(), params(fair_price="mid"), now_ns=NOW).fair_ticks == D("640002.5")


def test_obligations_reported() -> None:
    ok = quote(book(), inputs(), params(max_spread_bps=D(5), min_quote_notional=D(100)), now_ns=NOW)
    assert ok.obligations is not None and ok.obligations.met
    bad = quote(book(), inputs(sigma_ticks=D(100)), params(max_spread_bps=D(1), min_quote_notional=D(10_000)),
                now_ns=NOW)
    assert bad.obligations is not None and not bad.obligations.met
    assert set(bad.obligations.failures) == {"max_spread", "min_size_bid", "min_size_ask"}


def test_params_from_config() -> None:
    p = QuoteParams.from_config(StrategyConfig(levels=4), INST, maker_fee_rate=D("-0.0001"), max_book_age_ms=250)
    assert p.levels == 4 and p.max_book_age_ns == 250_000_000 and p.maker_fee_rate == D("-0.0001")


def test_sides_are_labelled() -> None:
    q = quote(book(), inputs(), params(), now_ns=NOW)
    assert {b.side for b in q.bids} == {Side.BUY} and {a.side for a in q.asks} == {Side.SELL}


def test_volatility_per_move_and_over_time() -> None:
    from bot.strategy import MidVolatility

    v = MidVolatility(window=4)
    assert v.sigma_ticks == 0 and v.samples == 0
    v.update(100, 101, 0)
    for i, (b, a) in enumerate([(102, 103), (100, 101), (102, 103), (100, 101)], start=1):
        v.update(b, a, i * 1_000_000)  # the mid moves 2 ticks every ms
    assert v.samples == 4 and v.sigma_ticks == 2
    assert v.sigma_ticks_over(4_000_000) == 4  # variance 4 ticks^2 per ms x 4 ms
    v.update(100, 101, 5_000_000)  # no move: ignored
    assert v.samples == 4
    w = MidVolatility(window=4)
    w.restore(v.snapshot())
    assert w.sigma_ticks_over(4_000_000) == 4


def test_quotes_never_meet_our_own_orders_in_flight() -> None:
    # our ask is on its way to 64000.2 (ticks 640002): the bid must stay below it, and vice versa
    q = quote(book(), inputs(own_ask_ticks=640002, own_bid_ticks=640003), params(), now_ns=NOW)
    assert q.bids[0].price_ticks <= 640001
    assert q.asks[0].price_ticks >= 640004


def test_budget_below_the_venues_smallest_order_quotes_that_order() -> None:
    q = quote(book(), inputs(level_notional=D("25")), params(min_quote_notional=D(0)), now_ns=NOW)
    assert len(q.bids) == 3 and len(q.asks) == 3  # 25 quote < one 0.001 lot at 64000: one lot, not nothing
    assert all(x.qty == INST.min_qty for x in q.levels)
    assert not quote(book(), inputs(level_notional=D(0)), params(), now_ns=NOW).levels  # no budget: no quotes


def test_best_level_carries_the_obligation_size_deeper_levels_the_budget() -> None:
    q = quote(book(), inputs(level_notional=D("65")), params(min_quote_notional=D(200)), now_ns=NOW)
    assert q.bids[0].qty == D("0.004") and q.asks[0].qty == D("0.004")  # ceil(200 / 64000.x / 0.001) lots
    assert all(x.qty == D("0.001") for x in q.bids[1:] + q.asks[1:])
    assert q.obligations is not None and q.obligations.met, q.obligations
    long_q = quote(book(), inputs(level_notional=D("65"), position=D("0.05")), params(min_quote_notional=D(200)),
                   now_ns=NOW)
    assert long_q.bids[0].qty == D("0.004")  # the skew shrinks the adding side, never under the obligation


def test_position_cap_outranks_the_obligation_floor() -> None:
    # 200 quote of room on the buy side: two lots, whatever the obligation asks
    q = quote(book(), inputs(level_notional=D("65"), max_position_notional=D("130")),
              params(min_quote_notional=D(1000)), now_ns=NOW)
    assert sum(b.qty for b in q.bids) * D("64000") <= D("130")
    assert q.obligations is not None and "min_size_bid" in q.obligations.failures
    # no room at all for the venue's minimum order: the side is missing, and says so
    full = quote(book(), inputs(level_notional=D("65"), max_position_notional=D("130"), position=D("0.002")),
                 params(), now_ns=NOW)
    assert not full.bids and full.asks
    assert full.obligations is not None and full.obligations.failures == ("no_bid",)


def test_the_reducing_side_grows_as_the_adding_side_shrinks() -> None:
    # 650 quote per level is 10 lots; a position of 40% of the cap tilts both sides by 0.5 x 40%
    flat = quote(book(), inputs(level_notional=D("650"), max_position_notional=D("6400")), params(), now_ns=NOW)
    assert {lv.qty for lv in flat.levels} == {D("0.010")}
    long_q = quote(book(), inputs(level_notional=D("650"), max_position_notional=D("6400"), position=D("0.04")),
                   params(), now_ns=NOW)
    assert long_q.bids[1].qty == D("0.008") and long_q.asks[1].qty == D("0.012")
    short_q = quote(book(), inputs(level_notional=D("650"), max_position_notional=D("6400"), position=D("-0.04")),
                    params(), now_ns=NOW)
    assert short_q.bids[1].qty == D("0.012") and short_q.asks[1].qty == D("0.008")
    none = quote(book(), inputs(level_notional=D("650"), max_position_notional=D("6400"), position=D("0.04")),
                 params(size_skew=D(0)), now_ns=NOW)
    assert {lv.qty for lv in none.levels} == {D("0.010")}
