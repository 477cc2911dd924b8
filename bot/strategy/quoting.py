"""The quoting model: fair price, half-spread, inventory skew and N post-only-safe levels per side."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Literal, NamedTuple

from bot.config.strategy import StrategyConfig
from bot.domain import Instrument, Side, Symbol
from bot.strategy.book_view import BookView

__all__ = [
    "ObligationStatus",
    "QuoteInputs",
    "QuoteLevel",
    "QuoteParams",
    "Quotes",
    "quote",
]

_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWO = Decimal(2)
_BPS = Decimal(10_000)

# The hot path works in Python ints: prices in ticks, sizes in lots, notionals in tick-lots
# (price ticks x lots) and fractional ticks or ratios in millionths (_S). Decimal appears only
# where a value leaves the model (order prices and sizes, the reported fair/half/obligations):
# a Decimal operation costs ~10x an int one, and this runs on every book update.
_S = 1_000_000
_SD = Decimal(_S)
_SIDE_CACHE_MAX = 512  # ~0.3 MB per symbol at 3 levels; cleared when full

# Hot-path value types are NamedTuples: immutable like frozen dataclasses, but several times
# cheaper to build (a frozen slots dataclass costs ~2.7 us for 5 fields here; see the bench).
# The hot path builds them with `_tuple(Cls, (fields...))`: the C constructor, skipping the
# generated Python-level __new__ (~0.1 us instead of ~0.5 us per object).
_tuple = tuple.__new__


@dataclass(frozen=True, slots=True)
class QuoteParams:
    """Static-ish model parameters of one symbol (from StrategyConfig, instruments-info and fee-rate)."""

    instrument: Instrument
    levels: int = 2
    level_spacing_ticks: int = 1
    min_half_spread_ticks: int = 1
    vol_multiplier: Decimal = Decimal(1)
    risk_aversion: Decimal = Decimal("0.1")
    size_skew: Decimal = Decimal("0.5")
    fair_price: Literal["mid", "microprice"] = "microprice"
    maker_fee_rate: Decimal = _ZERO  # /v5/account/fee-rate makerFeeRate; negative = rebate
    max_book_age_ns: int = 2_000_000_000
    max_spread_bps: Decimal = Decimal(50)  # exchange MM obligation
    min_quote_notional: Decimal = Decimal(50)  # exchange MM obligation, per side at the best level
    # derived once from the instrument and the above, in the hot path's integer units
    min_lots: int = field(init=False, repr=False, compare=False)
    max_lots: int = field(init=False, repr=False, compare=False)
    tick_lot: Decimal = field(init=False, repr=False, compare=False)  # notional of 1 tick x 1 lot
    min_notional_tl: int = field(init=False, repr=False, compare=False)  # venue minimum, tick-lots
    min_quote_tl: int = field(init=False, repr=False, compare=False)  # obligation minimum, tick-lots
    vol_multiplier_u: int = field(init=False, repr=False, compare=False)
    risk_aversion_u: int = field(init=False, repr=False, compare=False)
    size_skew_u: int = field(init=False, repr=False, compare=False)
    lot_u: Decimal = field(init=False, repr=False, compare=False)  # _S / qty_step: base qty -> lots x _S
    max_spread_bps_u: int = field(init=False, repr=False, compare=False)
    half_tick: Decimal = field(init=False, repr=False, compare=False)  # mid price = half_tick x (bid + ask ticks)
    # built sides by (side, best ticks, lots, cap or -1 when it cannot bind): prices revisit the same ticks,
    # and a QuoteLevel is immutable, so a repeat costs one dict lookup instead of the loop below
    side_cache: dict[tuple[Side, int, int, int], tuple[tuple[QuoteLevel, ...], int]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        inst = self.instrument
        set_ = object.__setattr__
        min_lots = int((inst.min_qty / inst.qty_step).to_integral_value(ROUND_CEILING))
        set_(self, "min_lots", max(1, min_lots))
        set_(self, "max_lots", int(inst.max_qty / inst.qty_step))
        tl = inst.tick_size * inst.qty_step
        set_(self, "tick_lot", tl)
        set_(self, "min_notional_tl", _ceil(inst.min_notional / tl))
        set_(self, "min_quote_tl", _ceil(self.min_quote_notional / tl))
        set_(self, "vol_multiplier_u", _ceil(self.vol_multiplier * _SD))
        set_(self, "risk_aversion_u", int(self.risk_aversion * _SD))
        set_(self, "size_skew_u", int(self.size_skew * _SD))
        set_(self, "lot_u", _SD / inst.qty_step)
        set_(self, "max_spread_bps_u", int(self.max_spread_bps * _SD))
        set_(self, "half_tick", inst.tick_size / _TWO)
        set_(self, "side_cache", {})

    @classmethod
    def from_config(
        cls, cfg: StrategyConfig, instrument: Instrument, *, maker_fee_rate: Decimal, max_book_age_ms: int
    ) -> QuoteParams:
        """Build from the strategy section, the instrument rules and the account's maker fee rate."""
        return cls(
            instrument=instrument,
            levels=cfg.levels,
            level_spacing_ticks=cfg.level_spacing_ticks,
            min_half_spread_ticks=cfg.min_half_spread_ticks,
            vol_multiplier=cfg.vol_multiplier,
            risk_aversion=cfg.risk_aversion,
            size_skew=cfg.size_skew,
            fair_price=cfg.fair_price,
            maker_fee_rate=maker_fee_rate,
            max_book_age_ns=max_book_age_ms * 1_000_000,
            max_spread_bps=cfg.obligations.max_spread_bps,
            min_quote_notional=cfg.obligations.min_quote_notional,
        )


class QuoteInputs(NamedTuple):
    """What changes between cycles: inventory, budget, volatility and post-only backoff."""

    level_notional: Decimal  # quote notional per level = allocator budget x rollout fraction
    max_position_notional: Decimal  # |position| + same-side resting quotes stay within this
    position: Decimal = _ZERO  # signed base qty (long > 0)
    sigma_ticks: Decimal = _ZERO  # stdev of the fair price per update, in ticks (MidVolatility)
    backoff_bid_ticks: int = 0  # from OrderManager.backoff_ticks after post-only cancels
    backoff_ask_ticks: int = 0
    own_bid_ticks: int | None = None  # our highest bid incl. in-flight targets (OrderManager.own_bounds)
    own_ask_ticks: int | None = None  # our lowest ask incl. in-flight targets: never quote through them


class QuoteLevel(NamedTuple):
    """One desired order: price on the tick grid (also as integer ticks), qty on the lot grid."""

    side: Side
    level: int  # 0 = closest to the touch
    price_ticks: int
    price: Decimal
    qty: Decimal


class ObligationStatus(NamedTuple):
    """Whether the best quotes meet the configured market-maker obligations.

    Judged in integers on the hot path; the Decimal figures are derived on read.
    """

    met: bool
    failures: tuple[str, ...]  # "no_bid", "no_ask", "max_spread", "min_size_bid", "min_size_ask"
    spread_ticks: int | None  # best ask - best bid of our quotes (None: a side is missing)
    fair_u: int  # the fair price in millionths of a tick
    bid_tl: int  # best bid notional in tick-lots (price ticks x lots)
    ask_tl: int
    tick_lot: Decimal  # notional of one tick-lot

    @property
    def spread_bps(self) -> Decimal | None:
        if self.spread_ticks is None:
            return None
        return Decimal(self.spread_ticks * 10_000 * _S) / self.fair_u

    @property
    def bid_notional(self) -> Decimal:
        return self.bid_tl * self.tick_lot

    @property
    def ask_notional(self) -> Decimal:
        return self.ask_tl * self.tick_lot


class Quotes(NamedTuple):
    """Desired quotes for one symbol; `reason` is set (and both sides empty) when not quoting."""

    symbol: Symbol
    bids: tuple[QuoteLevel, ...] = ()
    asks: tuple[QuoteLevel, ...] = ()
    fair_u: int | None = None  # fair price in millionths of a tick (see `fair_ticks`)
    reservation_u: int | None = None
    half_spread_u: int | None = None
    obligations: ObligationStatus | None = None
    reason: str | None = None

    @classmethod
    def none(cls, symbol: Symbol, reason: str) -> Quotes:
        """No quotes, with a stable reason code (stale_book, empty_book, crossed_book, invalid_book...)."""
        return cls(symbol, reason=reason)

    @property
    def levels(self) -> tuple[QuoteLevel, ...]:
        return self.bids + self.asks

    @property
    def fair_ticks(self) -> Decimal | None:
        """Fair price in (fractional) ticks, floored to a millionth of a tick."""
        return None if self.fair_u is None else Decimal(self.fair_u) / _SD

    @property
    def reservation_ticks(self) -> Decimal | None:
        """The inventory-skewed centre of the quotes, in ticks."""
        return None if self.reservation_u is None else Decimal(self.reservation_u) / _SD

    @property
    def half_spread_ticks(self) -> Decimal | None:
        """Half-spread in ticks, rounded up to a millionth of a tick (never narrower than the terms)."""
        return None if self.half_spread_u is None else Decimal(self.half_spread_u) / _SD


def _book_ticks(book: BookView, inst: Instrument) -> tuple[int, int | Decimal, int, int | Decimal] | str:
    ticks = getattr(book, "ticks", None)
    if ticks is not None:  # already integer ticks and lots (the Rust book)
        bid_t, bid_l, ask_t, ask_l = ticks
        if bid_t <= 0 or bid_l <= 0 or ask_l <= 0:
            return "invalid_book"
        return "crossed_book" if bid_t >= ask_t else ticks
    bid = book.best_bid()
    ask = book.best_ask()
    if bid is None or ask is None:
        return "empty_book"
    try:
        bid_t = inst.to_ticks(bid[0])
        ask_t = inst.to_ticks(ask[0])
    except ValueError:
        return "invalid_book"
    if bid_t <= 0 or bid[1] <= 0 or ask[1] <= 0:
        return "invalid_book"
    if bid_t >= ask_t:
        return "crossed_book"
    return bid_t, bid[1], ask_t, ask[1]


def _ceil(x: Decimal) -> int:
    return int(x.to_integral_value(ROUND_CEILING))


def quote(book: BookView, inputs: QuoteInputs, p: QuoteParams, *, now_ns: int) -> Quotes:
    """Desired quotes for one symbol from the top of book, inventory and parameters.

    Half-spread = max(floor ticks, vol_multiplier x sigma, maker fee x fair price); the
    reservation price moves against the position by about q x risk_aversion x variance (q in
    levels, variance in ticks^2, floored at 1), bounded by the half-spread; the side adding to
    the position shrinks and the reducing side grows, and resting size on each side never lets |position| exceed
    max_position_notional. Bids are floored and asks ceiled to the tick grid; a bid is always
    below the best ask and below our own lowest ask (in-flight targets included), an ask above
    the best bid and our own highest bid. Integer arithmetic throughout (see _S).
    """
    inst = p.instrument
    if now_ns - book.ts_ns > p.max_book_age_ns:
        return Quotes.none(inst.symbol, "stale_book")
    top = _book_ticks(book, inst)
    if isinstance(top, str):
        return Quotes.none(inst.symbol, top)
    bid_t, bid_sz, ask_t, ask_sz = top
    mid_u = (bid_t + ask_t) * (_S // 2)
    if p.fair_price == "microprice":  # sizes are lots (ints) or Decimals: // works on both
        fair_u = int((bid_t * ask_sz + ask_t * bid_sz) * _S // (bid_sz + ask_sz))
    else:
        fair_u = mid_u

    half_u = p.min_half_spread_ticks * _S
    sigma = inputs.sigma_ticks
    sig_u = int(sigma * _SD) if sigma else 0
    if sig_u:
        vol_u = -(-sig_u * p.vol_multiplier_u // _S)
        if vol_u > half_u:
            half_u = vol_u
    if p.maker_fee_rate > 0:  # fee in price units / tick = rate x fair price in ticks
        fee_u = _ceil(p.maker_fee_rate * fair_u)
        if fee_u > half_u:
            half_u = fee_u

    # sizes in integer lots; the position cap uses the larger of fair and mid (the risk mark)
    tl = p.tick_lot
    notional = inputs.level_notional
    base_lots = int(notional / tl * _S // fair_u)
    if base_lots < p.min_lots and notional > 0:
        base_lots = p.min_lots  # a ramped-down budget below the venue's smallest order quotes that order, not nothing
    max_lots_u = int(inputs.max_position_notional / tl * _S * _S // (fair_u if fair_u > mid_u else mid_u))
    pos = inputs.position
    pos_u = int(pos * p.lot_u) if pos else 0  # lots x _S

    # Avellaneda-Stoikov reservation price, inventory measured in levels so the skew is unit-free;
    # squashed as half x u / (1 + |u|) so the reducing side reaches the fair price at most and is
    # never pushed through it onto the touch (where it would meet post-only cancels).
    res_u = fair_u
    if pos_u:
        var_u = sig_u * sig_u // _S if sig_u > _S else _S
        if base_lots > 0:
            q_u = pos_u // base_lots
        else:
            q_u = pos_u * _S // max_lots_u if max_lots_u > 0 else 0
        u_u = q_u * p.risk_aversion_u // _S * var_u // half_u
        res_u = fair_u - half_u * u_u // (_S + (u_u if u_u > 0 else -u_u))

    bid0 = (res_u - half_u) // _S - inputs.backoff_bid_ticks
    ask0 = -((-res_u - half_u) // _S) + inputs.backoff_ask_ticks  # ceil((res + half) / _S)
    # post-only safe against the book and against our own orders still on their way
    own_ask, own_bid = inputs.own_ask_ticks, inputs.own_bid_ticks
    top_ask = ask_t if own_ask is None or own_ask > ask_t else own_ask
    top_bid = bid_t if own_bid is None or own_bid < bid_t else own_bid
    if bid0 > top_ask - 1:
        bid0 = top_ask - 1
    if ask0 < top_bid + 1:
        ask0 = top_bid + 1

    bid_lots = ask_lots = base_lots
    if pos_u and max_lots_u > 0:
        # |position| / cap, floored the same way for a long and a short
        frac_u = (pos_u if pos_u > 0 else -pos_u) * _S // max_lots_u
        if frac_u > _S:
            frac_u = _S
        # the side adding to the position shrinks, but keeps the minimum size until the cap; the
        # reducing side grows by as much (at most 2x): where takers sweep whole sides, sizes, not
        # prices, decide how fast the position comes back
        floor_lots = p.min_lots if p.min_lots < base_lots else base_lots
        tilt_u = p.size_skew_u * frac_u // _S
        shrunk = max(base_lots * (_S - tilt_u) // _S, floor_lots)
        grown = min(base_lots * (_S + tilt_u) // _S, p.max_lots)
        if pos_u > 0:
            bid_lots, ask_lots = shrunk, grown
        else:
            bid_lots, ask_lots = grown, shrunk
    buy_cap = (max_lots_u - pos_u) // _S if max_lots_u > pos_u else 0
    sell_cap = (max_lots_u + pos_u) // _S if max_lots_u > -pos_u else 0
    bids, bid_tl = _side(Side.BUY, bid0, -p.level_spacing_ticks, bid_lots, buy_cap, p)
    asks, ask_tl = _side(Side.SELL, ask0, p.level_spacing_ticks, ask_lots, sell_cap, p)
    spread = asks[0].price_ticks - bids[0].price_ticks if bids and asks else None
    failures: tuple[str, ...] = ()
    if spread is None:  # a side with no level at all (the position cap left no room for a minimum order)
        failures += (("no_bid",) if not bids else ()) + (("no_ask",) if not asks else ())
    elif spread * 10_000 * _S * _S > p.max_spread_bps_u * fair_u:
        failures += ("max_spread",)
    if bids and bid_tl < p.min_quote_tl:
        failures += ("min_size_bid",)
    if asks and ask_tl < p.min_quote_tl:
        failures += ("min_size_ask",)
    obligations = _tuple(ObligationStatus, (not failures, failures, spread, fair_u, bid_tl, ask_tl, tl))
    return _tuple(Quotes, (inst.symbol, bids, asks, fair_u, res_u, half_u, obligations, None))


def _side(
    side: Side, ticks: int, step: int, lots: int, cap: int, p: QuoteParams
) -> tuple[tuple[QuoteLevel, ...], int]:
    """The levels of one side, best first, and the best level's notional in tick-lots."""
    if ticks <= 0:
        return (), 0
    if lots > p.max_lots:
        lots = p.max_lots
    if cap > lots * p.levels + p.min_quote_tl:  # a cap this large cannot bind: one key for all of them
        cap = -1
    key = (side, ticks, lots, cap)
    cache = p.side_cache
    hit = cache.get(key)
    if hit is not None:
        return hit
    if len(cache) >= _SIDE_CACHE_MAX:
        cache.clear()
    built = cache[key] = _build_side(side, ticks, step, lots, p.max_lots * p.levels if cap < 0 else cap, p)
    return built


def _build_side(
    side: Side, ticks: int, step: int, lots: int, cap: int, p: QuoteParams
) -> tuple[tuple[QuoteLevel, ...], int]:
    inst = p.instrument
    tick = inst.tick_size
    lot = inst.qty_step
    min_lots = p.min_lots
    min_tl = p.min_notional_tl
    full_qty = lot * lots  # the same Decimal for every uncapped level
    # the best level carries the obligation's minimum size (exchange MM terms outrank the ramp and
    # the skew); only the position cap below can take it lower
    first = lots
    if lots > 0 and lots * ticks < p.min_quote_tl:
        need = -(-p.min_quote_tl // ticks)
        first = need if need < p.max_lots else p.max_lots
    out: list[QuoteLevel] = []
    best_tl = 0
    for level in range(p.levels):
        if ticks <= 0:
            break
        q = first if level == 0 else lots
        if q > cap:
            q = cap
        if q < min_lots or q * ticks < min_tl:
            break
        if level == 0:
            best_tl = q * ticks
        out.append(_tuple(QuoteLevel, (side, level, ticks, tick * ticks, full_qty if q == lots else lot * q)))
        cap -= q
        ticks += step
    return tuple(out), best_tl
