"""Properties of the trading core: quotes, skew, risk limits, order diff, throttle budgets."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config.portfolio import ThrottleConfig
from bot.config.risk import RiskConfig
from bot.domain import Category, Fill, Instrument, OrderId, OrderLinkId, Side, Symbol
from bot.portfolio import Throttle
from bot.risk import RiskGuards
from bot.strategy import (
    ActionKind,
    GridTop,
    LiveOrder,
    OrderAction,
    OrderLinkIds,
    OrderManager,
    QuoteInputs,
    QuoteParams,
    Quotes,
    TopOfBook,
    quote,
    to_batches,
)

SYM = Symbol("XYZUSDT")
NOW = 10**12
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick = draw(st.sampled_from([D("0.0001"), D("0.01"), D("0.1"), D("0.5"), D(1)]))
    step = draw(st.sampled_from([D("0.001"), D("0.01"), D("1")]))
    return Instrument(SYM, Category.LINEAR, tick, step, step, step * 100_000, draw(st.sampled_from([D(0), D(5)])))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams]:
    inst = draw(instruments())
    bid_t = draw(st.integers(1, 2_000_000))
    ask_t = bid_t + draw(st.integers(1, 30))
    book = TopOfBook((inst.from_ticks(bid_t), D(draw(st.integers(1, 1000)))),
                     (inst.from_ticks(ask_t), D(draw(st.integers(1, 1000)))), NOW)
    params = QuoteParams(
        instrument=inst, levels=draw(st.integers(1, 5)), level_spacing_ticks=draw(st.integers(1, 3)),
        min_half_spread_ticks=draw(st.integers(1, 5)), vol_multiplier=D(draw(st.integers(0, 3))),
        risk_aversion=draw(st.sampled_from([D(0), D("0.05"), D("0.5"), D(3)])),
        size_skew=draw(st.sampled_from([D(0), D("0.5"), D(1)])),
        fair_price=draw(st.sampled_from(["mid", "microprice"])),
        maker_fee_rate=draw(st.sampled_from([D("-0.0001"), D(0), D("0.0002")])),
    )
    mid_px = (inst.from_ticks(bid_t) + inst.from_ticks(ask_t)) / 2
    level_notional = mid_px * inst.qty_step * draw(st.integers(1, 50))
    max_pos = level_notional * draw(st.integers(1, 20))
    pos_frac = draw(st.fractions(-1, 1, max_denominator=20))
    position = inst.floor_to_lot(max_pos / mid_px * D(pos_frac.numerator) / D(pos_frac.denominator))
    inputs = QuoteInputs(level_notional=level_notional, max_position_notional=max_pos, position=position,
                         sigma_ticks=D(draw(st.integers(0, 40))) / 4,
                         backoff_bid_ticks=draw(st.integers(0, 3)), backoff_ask_ticks=draw(st.integers(0, 3)),
                         own_bid_ticks=draw(st.none() | st.integers(bid_t - 20, ask_t + 20)),
                         own_ask_ticks=draw(st.none() | st.integers(bid_t - 20, ask_t + 20)))
    return inst, book, inputs, params


@PROFILE
@given(scenarios())
def test_quotes_never_cross_the_book_or_each_other_and_sit_on_the_grid(
    s: tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams],
) -> None:
    inst, book, inputs, params = s
    q = quote(book, inputs, params, now_ns=NOW)
    assert q.reason is None
    assert book.bid is not None and book.ask is not None
    best_bid, best_ask = book.bid[0], book.ask[0]
    for lv in q.levels:
        assert inst.from_ticks(inst.to_ticks(lv.price)) == lv.price and lv.price > 0
        assert lv.price_ticks == inst.to_ticks(lv.price)
        assert inst.to_lots(lv.qty) >= 1 and lv.qty >= inst.min_qty
    assert all(b.price < best_ask for b in q.bids)
    assert all(a.price > best_bid for a in q.asks)
    if inputs.own_ask_ticks is not None:  # never through our own orders (in flight included)
        assert all(b.price_ticks < inputs.own_ask_ticks for b in q.bids)
    if inputs.own_bid_ticks is not None:
        assert all(a.price_ticks > inputs.own_bid_ticks for a in q.asks)
    if q.bids and q.asks:
        assert q.bids[0].price < q.asks[0].price
    assert [b.price for b in q.bids] == sorted((b.price for b in q.bids), reverse=True)
    assert [a.price for a in q.asks] == sorted(a.price for a in q.asks)
    mid = (best_bid + best_ask) / 2
    cap = inputs.max_position_notional / mid
    assert inputs.position + sum(b.qty for b in q.bids) <= cap or not q.bids
    assert -inputs.position + sum(a.qty for a in q.asks) <= cap or not q.asks


@PROFILE
@given(scenarios())
def test_integer_top_of_book_quotes_exactly_like_the_decimal_one(
    s: tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams],
) -> None:
    # the runtime and the bench feed GridTop (ticks and lots from the Rust book); tests and the
    # reference book feed Decimal prices: both must give the very same quotes
    inst, book, inputs, params = s
    assert book.bid is not None and book.ask is not None
    grid = GridTop((inst.to_ticks(book.bid[0]), inst.to_lots(book.bid[1]), inst.to_ticks(book.ask[0]),
                    inst.to_lots(book.ask[1])), book.ts_ns, inst.tick_size, inst.qty_step)
    assert grid.best_bid() == book.bid and grid.best_ask() == book.ask
    assert quote(grid, inputs, params, now_ns=NOW) == quote(book, inputs, params, now_ns=NOW)


@PROFILE
@given(scenarios(), st.lists(st.tuples(st.integers(-40, 40), st.integers(-3, 3), st.integers(1, 8)), max_size=12))
def test_cached_sides_equal_freshly_built_ones(
    s: tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams], moves: list[tuple[int, int, int]],
) -> None:
    # QuoteParams keeps built sides for reuse; a params copy starts with an empty cache
    inst, book, inputs, params = s
    assert book.bid is not None and book.ask is not None
    bid_t, ask_t = inst.to_ticks(book.bid[0]), inst.to_ticks(book.ask[0])
    for pos_lots, shift, cap_div in moves:
        b, a = max(1, bid_t + shift), max(2, ask_t + shift)
        moved = TopOfBook((inst.from_ticks(b), book.bid[1]), (inst.from_ticks(max(a, b + 1)), book.ask[1]), NOW)
        qi = inputs._replace(position=inst.qty_step * pos_lots,
                             max_position_notional=inputs.max_position_notional / cap_div)
        assert quote(moved, qi, params, now_ns=NOW) == quote(moved, qi, dataclasses.replace(params), now_ns=NOW)


@PROFILE
@given(scenarios(), st.integers(1, 30))
def test_skew_moves_against_inventory_and_grows_with_it(
    s: tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams], k: int,
) -> None:
    inst, book, inputs, params = s
    params = dataclasses.replace(params, risk_aversion=D("0.1"))

    def r(pos: D) -> D:
        qi = QuoteInputs(inputs.level_notional, inputs.max_position_notional, pos, inputs.sigma_ticks)  # no clamps
        res = quote(book, qi, params, now_ns=NOW).reservation_ticks
        assert res is not None
        return res

    step = inst.qty_step
    flat = r(D(0))
    assert r(step * k) < flat < r(-step * k)
    assert r(step * (k + 1)) < r(step * k)
    assert r(-step * (k + 1)) > r(-step * k)


@st.composite
def risk_cases(draw: st.DrawFn) -> tuple[list[LiveOrder], list[OrderAction], D, RiskConfig]:
    cfg = RiskConfig(max_position_notional=D(draw(st.integers(50, 2000))),
                     max_order_notional=D(draw(st.integers(20, 500))), max_open_orders=draw(st.integers(1, 12)))
    prices = st.integers(90, 110).map(D)
    qtys = st.integers(1, 8).map(D)
    live = [LiveOrder(OrderLinkId(f"mm-l-{i}"), SYM, draw(st.sampled_from(Side)), draw(prices), draw(qtys))
            for i in range(draw(st.integers(0, 8)))]
    acts: list[OrderAction] = []
    for i in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(ActionKind))
        if kind is ActionKind.CREATE or not live:
            q = draw(qtys)
            acts.append(OrderAction(ActionKind.CREATE, SYM, draw(st.sampled_from(Side)), OrderLinkId(f"mm-n-{i}"),
                                    draw(prices), q, q))
        else:
            o = draw(st.sampled_from(live))
            if any(a.order_link_id == o.order_link_id for a in acts):
                continue
            q = draw(qtys)
            if kind is ActionKind.AMEND and draw(st.booleans()):  # a pure re-price, size unchanged
                acts.append(OrderAction(kind, SYM, o.side, o.order_link_id, draw(prices), None, o.leaves))
                continue
            acts.append(OrderAction(kind, SYM, o.side, o.order_link_id,
                                    *((draw(prices), q, q) if kind is ActionKind.AMEND else ())))
    return live, acts, D(draw(st.integers(-10, 10))), cfg


def _exposure(orders: Mapping[OrderLinkId, tuple[Side, D, D]], pos: D) -> tuple[D, D, int]:
    buy = pos + sum(q for s, _, q in orders.values() if s is Side.BUY)
    sell = -pos + sum(q for s, _, q in orders.values() if s is Side.SELL)
    return buy, sell, len(orders)


@PROFILE
@given(risk_cases())
def test_no_allowed_action_breaches_a_risk_limit(
    case: tuple[list[LiveOrder], list[OrderAction], D, RiskConfig],
) -> None:
    live, acts, pos, cfg = case
    mark = D(100)
    d = RiskGuards(cfg).check(acts, live=live, positions={SYM: pos}, marks={SYM: mark}, now_ns=0)
    assert len(d.allowed) + len(d.refusals) == len(acts)
    assert all(r.action is None or r.action.kind is not ActionKind.CANCEL for r in d.refusals)
    before = {o.order_link_id: (o.side, o.price, o.leaves) for o in live}
    after = dict(before)
    for a in d.allowed:
        if a.kind is ActionKind.CANCEL:
            after.pop(a.order_link_id, None)
        else:
            assert a.price is not None and a.leaves is not None
            assert a.price * a.leaves <= cfg.max_order_notional
            after[a.order_link_id] = (a.side, a.price, a.leaves)
    b0, s0, n0 = _exposure(before, pos)
    b1, s1, n1 = _exposure(after, pos)
    cap = cfg.max_position_notional / mark
    assert b1 <= max(cap, b0) and s1 <= max(cap, s0)
    assert n1 <= max(cfg.max_open_orders, n0)


@st.composite
def quote_paths(draw: st.DrawFn) -> list[tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]]]:
    steps = []
    for _ in range(draw(st.integers(1, 12))):
        mid = draw(st.integers(1000, 1030))
        nb, na = draw(st.integers(0, 4)), draw(st.integers(0, 4))
        bids = [(mid - 1 - i * draw(st.integers(1, 2)), draw(st.integers(1, 5))) for i in range(nb)]
        asks = [(mid + 1 + i * draw(st.integers(1, 2)), draw(st.integers(1, 5))) for i in range(na)]
        bids = sorted(dict(bids).items(), reverse=True)
        asks = sorted(dict(asks).items())
        fills = draw(st.lists(st.integers(0, 10), max_size=3))
        steps.append((bids, asks, fills))
    return steps


INST = Instrument(SYM, Category.LINEAR, D(1), D(1), D(1), D(10_000))


def _quotes(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> Quotes:
    from bot.strategy import QuoteLevel
    return Quotes(SYM, tuple(QuoteLevel(Side.BUY, i, p, D(p), D(q)) for i, (p, q) in enumerate(bids)),
                  tuple(QuoteLevel(Side.SELL, i, p, D(p), D(q)) for i, (p, q) in enumerate(asks)))


@PROFILE
@given(quote_paths(), st.integers(0, 2))
def test_order_manager_one_action_per_order_and_diff_reaches_desired(
    path: list[tuple[list[tuple[int, int]], list[tuple[int, int]], list[int]]], tol: int,
) -> None:
    qtol = D("0.25")
    m = OrderManager(instruments={SYM: INST}, category=Category.LINEAR, link_ids=OrderLinkIds("mm", "p"),
                     tolerance_ticks=tol, qty_tolerance=qtol)
    exec_n = 0
    for bids, asks, fills in path:
        q = _quotes(bids, asks)
        acts = m.diff(q)
        links = [a.order_link_id for a in acts]
        assert len(links) == len(set(links))
        # apply to a copy of the live set: it must equal the desired set (within tolerances)
        state = {o.order_link_id: (o.side, o.price, o.leaves) for o in m.live()}
        for a in acts:
            if a.kind is ActionKind.CANCEL:
                del state[a.order_link_id]
            elif a.kind is ActionKind.CREATE:
                assert a.order_link_id not in state and a.price is not None and a.qty is not None
                state[a.order_link_id] = (a.side, a.price, a.qty)
            else:
                side, price, _ = state[a.order_link_id]
                assert a.leaves is not None
                state[a.order_link_id] = (side, a.price if a.price is not None else price, a.leaves)
        for side, want in ((Side.BUY, q.bids), (Side.SELL, q.asks)):
            have = sorted(((p, lv) for s, p, lv in state.values() if s is side), reverse=side is Side.BUY)
            assert len(have) == len(want)
            assert any(  # a perfect matching exists (levels <= 4: brute force is fine)
                all(abs(h[0] - w.price) <= tol and abs(h[1] - w.qty) <= w.qty * qtol
                    for h, w in zip(perm, want, strict=True))
                for perm in itertools.permutations(have)
            )
        for a in m.submitted(acts, now_ns=0):
            m.on_ack(a, ok=True)
        for o in list(m.live()):  # cancels are confirmed by the order stream
            if o.pending is ActionKind.CANCEL:
                m.forget(o.order_link_id)
        for f in fills:
            live = m.live()
            if live:
                o = live[f % len(live)]
                exec_n += 1
                m.on_fill(Fill(f"x{exec_n}", SYM, o.side, o.price, min(o.leaves, D(1)), D(0), D(0), True,
                               OrderId("o"), o.order_link_id, 0))


@PROFILE
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 25), st.integers(0, 25), st.integers(0, 25)),
                min_size=1, max_size=40),
       st.integers(1, 20), st.integers(0, 5))
def test_throttle_never_exceeds_budget_and_never_defers_a_cancel_for_a_create(
    calls: list[tuple[int, int, int, int]], batch_per_s: int, reserve: int,
) -> None:
    cfg = ThrottleConfig(batch_per_s=batch_per_s, cancel_per_s=5, create_per_s=5, amend_per_s=5,
                         cancel_reserve=reserve)
    t = Throttle(cfg)
    now = 0
    spent: list[tuple[int, str, int]] = []
    n = 0
    for dt_ms, nc, na, nx in calls:
        now += dt_ms * 1_000_000
        acts = []
        for kind, k in ((ActionKind.CREATE, nc), (ActionKind.AMEND, na), (ActionKind.CANCEL, nx)):
            for _ in range(k):
                n += 1
                acts.append(OrderAction(kind, SYM, Side.BUY, OrderLinkId(f"mm-t-{n}"), D(1), D(1)))
        res = t.acquire(to_batches(acts, Category.LINEAR, 20), now_ns=now)
        sent = [a for b in res.send for a in b.actions]
        assert len(sent) + len(res.deferred) == len(acts)
        if any(a.kind is ActionKind.CANCEL for a in res.deferred):
            # nothing else took a unit a cancel could have used (single create/amend have own budgets)
            assert not any(b.family == "batch" and b.kind is not ActionKind.CANCEL for b in res.send)
        for b in res.send:
            assert len(b.actions) <= 20
            spent.append((now, b.family, len(b.actions) if b.is_batch else 1))
        for fam in ("create", "amend", "cancel", "batch"):
            used = sum(u for ts, f, u in spent if f == fam and ts > now - 1_000_000_000)
            assert used <= t.limit(fam)


@PROFILE
@given(scenarios(), st.integers(1, 20))
def test_the_side_adding_to_the_position_shrinks_and_keeps_shrinking(
    s: tuple[Instrument, TopOfBook, QuoteInputs, QuoteParams], k: int,
) -> None:
    """Long: bids total no more than asks per level, and less the longer we are (short: mirrored).

    The obligation's minimum size and the venue's minimum notional are off here: both act on
    notional, which the skew's price move changes (a lower bid needs more lots for the obligation;
    an ask moved up can pass a minimum notional it failed at), and they are the exchange's rules,
    not the skew's.
    """
    inst, book, inputs, params = s
    inst = dataclasses.replace(inst, min_notional=D(0))
    params = dataclasses.replace(params, instrument=inst, min_quote_notional=D(0), size_skew=D("0.5"))
    big = inputs.max_position_notional * 100  # no position cap in the way: the skew alone

    def sides(pos: D) -> tuple[D, D, list[D], list[D]]:
        q = quote(book, QuoteInputs(inputs.level_notional, big, pos, inputs.sigma_ticks), params, now_ns=NOW)
        return (sum((b.qty for b in q.bids), D(0)), sum((a.qty for a in q.asks), D(0)),
                [b.qty for b in q.bids], [a.qty for a in q.asks])

    step = inst.qty_step
    for sign in (1, -1):
        near = sides(sign * step * k)
        far = sides(sign * step * (k + 1) * 50)
        adding_near, adding_far = (near[0], far[0]) if sign > 0 else (near[1], far[1])
        assert adding_far <= adding_near
        add_levels, cut_levels = (near[2], near[3]) if sign > 0 else (near[3], near[2])
        assert all(a <= c for a, c in zip(add_levels, cut_levels, strict=False))


@st.composite
def venue_paths(draw: st.DrawFn) -> list[tuple[str, int, int]]:
    """A random interleaving of re-quotes, landings at the venue, deliveries and fills."""
    ops = st.sampled_from(["quote", "quote", "kill", "land", "land", "ack", "update", "exec", "fill"])
    return [(draw(ops), draw(st.integers(0, 10_000)), draw(st.integers(0, 10_000)))
            for _ in range(draw(st.integers(1, 60)))]


@PROFILE
@given(venue_paths(), st.integers(0, 2))
def test_order_manager_never_has_two_actions_in_flight_and_converges_to_the_venue(
    path: list[tuple[str, int, int]], tol: int,
) -> None:
    """Against a model venue where requests land late and acks, order updates and executions
    arrive on three independent channels (each in its own order): no action is ever planned for an
    order whose previous action has not landed, and once everything is delivered the manager's
    live set equals the venue's open orders."""
    from bot.domain import OrderStatus
    from bot.strategy import POST_ONLY_REJECT
    from bot.strategy import OrderUpdate as Upd

    m = OrderManager(instruments={SYM: INST}, category=Category.LINEAR, link_ids=OrderLinkIds("mm", "v"),
                     tolerance_ticks=tol)
    venue: dict[str, list[object]] = {}  # link -> [side, price, qty, filled, open]
    unlanded: list[OrderAction] = []  # sent, not yet reached the venue
    acks: list[tuple[OrderAction, bool, int | None]] = []  # any order (independent requests)
    updates: list[Upd] = []  # FIFO: the order topic
    execs: list[Fill] = []  # FIFO: the execution topic
    n_exec = 0

    def upd(link: str, reason: str = "") -> Upd:
        side, price, qty, filled, is_open = venue[link]
        assert isinstance(side, Side) and isinstance(price, int) and isinstance(qty, D) and isinstance(filled, D)
        status = (OrderStatus.NEW if filled == 0 else OrderStatus.PARTIALLY_FILLED) if is_open else (
            OrderStatus.FILLED if filled == qty else OrderStatus.CANCELLED)
        return Upd(OrderLinkId(link), SYM, side, status, D(price), qty, filled, OrderId(link), reason)

    def send(acts: list[OrderAction], keep: int) -> None:
        links = [a.order_link_id for a in acts]
        assert len(links) == len(set(links))
        for a in acts:
            if a.kind is not ActionKind.CREATE:
                o = m.orders[a.order_link_id]
                assert o.pending is None, f"{a.kind} planned for {a.order_link_id} with {o.pending} in flight"
            assert all(u.order_link_id != a.order_link_id for u in unlanded), "two actions in flight"
        sent = m.submitted(acts[: keep % (len(acts) + 1)], now_ns=0)  # the throttle may defer a tail
        unlanded.extend(sent)

    def land(a: OrderAction, variant: int) -> None:
        v = venue.get(a.order_link_id)
        if a.kind is ActionKind.CREATE:
            assert a.price is not None and a.qty is not None
            if variant % 5 == 0:  # refused outright (e.g. a parameter error): ack only
                acks.append((a, False, 10001))
                return
            venue[a.order_link_id] = [a.side, int(a.price), a.qty, D(0), variant % 5 != 1]
            acks.append((a, True, None))
            updates.append(upd(a.order_link_id, POST_ONLY_REJECT if variant % 5 == 1 else ""))
        elif v is None or not v[4]:
            acks.append((a, False, 110001))  # closed first: the race the manager must absorb
        elif a.kind is ActionKind.AMEND and a.qty is not None and a.qty <= v[3]:  # type: ignore[operator]
            acks.append((a, False, 110064))  # amended qty <= filled qty (a fill not yet delivered)
        elif a.kind is ActionKind.AMEND:
            if a.price is not None:
                v[1] = int(a.price)
            if a.qty is not None:
                v[2] = a.qty
            acks.append((a, True, None))
            updates.append(upd(a.order_link_id))
        else:
            v[4] = False
            acks.append((a, True, None))
            updates.append(upd(a.order_link_id))

    for op, x, y in path:
        if op == "quote":
            mid = 1000 + x % 30
            bids = [(mid - 1 - i * (1 + y % 2), 1 + (x + i) % 5) for i in range(y % 5)]
            asks = [(mid + 1 + i * (1 + x % 2), 1 + (y + i) % 5) for i in range(x % 5)]
            send(m.diff(_quotes(bids, asks)), x + y)
        elif op == "kill":
            send(m.cancel_all(), 10**6)
        elif op == "land" and unlanded:
            land(unlanded.pop(x % len(unlanded)), y)
        elif op == "ack" and acks:
            a, ok, code = acks.pop(x % len(acks))
            m.on_ack(a, ok=ok, ret_code=code, order_id=OrderId(a.order_link_id) if ok else None)
        elif op == "update" and updates:
            m.on_order_update(updates.pop(0))
        elif op == "exec" and execs:
            m.on_fill(execs.pop(0))
        elif op == "fill":
            open_links = sorted(k for k, v in venue.items() if v[4])
            if open_links:
                link = open_links[x % len(open_links)]
                v = venue[link]
                assert isinstance(v[2], D) and isinstance(v[3], D) and isinstance(v[0], Side)
                q = min(v[2] - v[3], D(1 + y % 3))
                v[3] = v[3] + q
                v[4] = v[3] < v[2]
                n_exec += 1
                execs.append(Fill(f"x{n_exec}", SYM, v[0], D(int(str(v[1]))), q, D(0), D(0), True,
                                  OrderId(link), OrderLinkId(link), 0))
                updates.append(upd(link))
    # drain: everything lands, then every message is delivered
    while unlanded:
        land(unlanded.pop(0), 2)
    for a, ok, code in acks:
        m.on_ack(a, ok=ok, ret_code=code, order_id=OrderId(a.order_link_id) if ok else None)
    for u in updates:
        m.on_order_update(u)
    for f in execs:
        m.on_fill(f)
    assert all(o.pending is None for o in m.live())
    mine = {o.order_link_id: (o.side, o.ticks, o.leaves) for o in m.live()}
    theirs = {k: (v[0], v[1], v[2] - v[3]) for k, v in venue.items() if v[4]}  # type: ignore[operator]
    assert mine == theirs
