"""One quote cycle, wired from the pure parts: book update -> quotes -> diff -> risk -> throttle -> batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

from bot.config.strategy import StrategyConfig
from bot.domain import Side, Symbol
from bot.portfolio.allocator import Allocator
from bot.portfolio.inventory import Portfolio
from bot.portfolio.rollout import RolloutRamp
from bot.portfolio.throttle import Throttle
from bot.risk.guards import RiskGuards
from bot.risk.reasons import Refusal
from bot.strategy.book_view import BookView
from bot.strategy.order_manager import OrderManager
from bot.strategy.orders import ActionKind, Batch, OrderAction
from bot.strategy.quoting import QuoteInputs, QuoteParams, Quotes, quote
from bot.strategy.volatility import MidVolatility

__all__ = ["CycleResult", "QuoteCycle"]

_NS_PER_DAY = 86_400 * 1_000_000_000
_tuple = tuple.__new__
_BPS = Decimal(10_000)


class CycleResult(NamedTuple):
    """What one book update produced: batches to send now (already marked in flight)."""

    symbol: Symbol
    quotes: Quotes
    batches: Sequence[Batch] = ()
    refusals: tuple[Refusal, ...] = ()
    deferred: Sequence[OrderAction] = ()


class QuoteCycle:
    """Glue for the runtime, the bench and the simulation test; still pure (no I/O, no clock).

    `now_ns` must be wall-clock ns (time.time_ns) here: the daily-loss guard derives the UTC
    day from it. The caller sends every returned batch and reports each item with
    `order_manager.on_ack`, feeds order updates and fills to the order manager and portfolio,
    and calls `refresh_allocation()` from a timer.
    """

    def __init__(
        self,
        *,
        params: Mapping[Symbol, QuoteParams],
        strategy: StrategyConfig,
        order_manager: OrderManager,
        guards: RiskGuards,
        throttle: Throttle,
        allocator: Allocator,
        ramp: RolloutRamp,
        portfolio: Portfolio,
        vols: Mapping[Symbol, MidVolatility] | None = None,
    ) -> None:
        self.params = dict(params)
        self.strategy = strategy
        self.om = order_manager
        self.guards = guards
        self.throttle = throttle
        self.allocator = allocator
        self.ramp = ramp
        self.portfolio = portfolio
        # given `vols`, the caller feeds them (the runtime: every raw book update, not one per cycle)
        self._feed_vols = vols is None
        self.vols = dict(vols) if vols is not None else {s: MidVolatility(strategy.vol_window) for s in self.params}
        self.marks: dict[Symbol, Decimal] = {}
        self._budgets = allocator.budgets()
        self._size_cache: dict[Symbol, tuple[tuple[Decimal, Decimal, Decimal, int], Decimal, Decimal]] = {}
        # per symbol: a cycle deferred whole for want of budget (its key, result and the kinds it waits for)
        self._waiting: dict[Symbol, tuple[tuple[object, ...], CycleResult, dict[ActionKind, int]]] = {}

    def update_config(self, strategy: StrategyConfig, params: Mapping[Symbol, QuoteParams]) -> None:
        """Hot reload: new strategy section and per-symbol parameters from the next cycle."""
        self.strategy = strategy
        self.params = dict(params)
        self._size_cache.clear()

    def _sizes(self, symbol: Symbol) -> tuple[Decimal, Decimal]:
        """(level notional, position cap) from the budget, the ramp and the risk limit; cached."""
        key = (self.ramp.fraction, self.guards.cfg.max_position_notional, self.strategy.order_notional,
               self.strategy.levels)
        hit = self._size_cache.get(symbol)
        if hit is not None and hit[0] == key:
            return hit[1], hit[2]
        budget = self._budgets[symbol]
        level = budget.level_notional(self.strategy.levels, self.strategy.order_notional, self.ramp.fraction)
        cap = min(self.guards.cfg.max_position_notional, budget.inventory_notional)
        self._size_cache[symbol] = (key, level, cap)
        return level, cap

    def inputs(self, symbol: Symbol) -> QuoteInputs:
        own_bid, own_ask = self.om.own_bounds(symbol)
        level, cap = self._sizes(symbol)
        backoff = self.om.backoff_ticks
        # the C tuple constructor: QuoteInputs' generated __new__ costs ~0.7 us per cycle
        return _tuple(QuoteInputs, (level, cap, self.portfolio.inventory(symbol).position, self._sigma(symbol),
                                    backoff(symbol, Side.BUY), backoff(symbol, Side.SELL), own_bid, own_ask))

    def _sigma(self, symbol: Symbol) -> Decimal:
        vol = self.vols[symbol]
        h = self.strategy.vol_horizon_ms
        return vol.sigma_ticks_over(h * 1_000_000) if h else vol.sigma_ticks

    def on_book(self, symbol: Symbol, book: BookView, *, now_ns: int, hold: str | None = None) -> CycleResult:
        """Re-quote one symbol after its book changed.

        `hold` is a reason of the caller's to quote nothing this cycle (paused, book untrusted,
        private stream down): the symbol's orders are cancelled, and the book does not feed the
        volatility or the mark.
        """
        p = self.params[symbol]
        if hold is None:
            self._observe(symbol, book, p)
        self.guards.on_pnl(self.portfolio.total_pnl(self.marks), day=now_ns // _NS_PER_DAY, now_ns=now_ns)
        if self.guards.kill.engaged:
            return self._send(symbol, Quotes.none(symbol, "kill_switch"), self.om.cancel_all(), now_ns)
        reason = self.guards.gate(symbol, book, now_ns=now_ns)
        if hold is None and reason is None:
            waiting = self._waiting.get(symbol)
            if waiting is not None and waiting[0] == self._wait_key(symbol) and not self._grantable(waiting[2], now_ns):
                # the last cycle's writes wait for the budget and nothing but the book changed: a
                # new quote would wait too (the newest book is quoted when the budget refills)
                return waiting[1]
        if hold is not None:
            q = Quotes.none(symbol, hold)
        elif reason is not None:
            q = Quotes.none(symbol, reason.value)
        elif self.vols[symbol].samples < self.strategy.vol_min_samples:
            q = Quotes.none(symbol, "vol_warmup")
        else:
            q = quote(book, self.inputs(symbol), p, now_ns=now_ns)
        return self._send(symbol, q, self.plan(q), now_ns)

    def _observe(self, symbol: Symbol, book: BookView, p: QuoteParams) -> None:
        """The book's mid: the mark for PnL, and a volatility sample unless the caller feeds those."""
        ticks = getattr(book, "ticks", None)
        if ticks is not None:  # integer ticks from the Rust book: no Decimal division
            bid_t, ask_t = ticks[0], ticks[2]
            if 0 < bid_t < ask_t:
                if self._feed_vols:
                    self.vols[symbol].update(bid_t, ask_t, book.ts_ns)
                self.marks[symbol] = p.half_tick * (bid_t + ask_t)
            return
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None and bid[0] < ask[0]:
            tick = p.instrument.tick_size
            if self._feed_vols:
                self.vols[symbol].update(int(bid[0] / tick), int(ask[0] / tick), book.ts_ns)
            self.marks[symbol] = (bid[0] + ask[0]) / 2

    def plan(self, q: Quotes) -> list[OrderAction]:
        """Desired quotes -> actions: the order manager's diff (a benchmark may swap in a baseline)."""
        return self.om.diff(q)

    def _wait_key(self, symbol: Symbol) -> tuple[object, ...]:
        """What a deferred cycle's actions depend on besides the book: orders, position, budgets, config."""
        return (self.om.version, self.portfolio.inventory(symbol).position, self._budgets, self.ramp.fraction,
                self.strategy, self.params[symbol], self.guards.cfg)

    def _grantable(self, kinds: dict[ActionKind, int], now_ns: int) -> bool:
        can = self.throttle.can_grant
        return any(can(k, now_ns=now_ns, items=n) for k, n in kinds.items())

    def _send(self, symbol: Symbol, q: Quotes, actions: list[OrderAction], now_ns: int) -> CycleResult:
        self._waiting.pop(symbol, None)  # set again below only by a cycle deferred whole
        if not actions:
            return _tuple(CycleResult, (symbol, q, (), (), ()))
        kinds: dict[ActionKind, int] = {}
        for a in actions:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        # a side with no order may send its best level alone (the throttle's spill): one item
        empty = self.om.empty_sides(symbol) if ActionKind.CREATE in kinds else ()
        if empty:
            kinds[ActionKind.CREATE] = 1
        if not self._grantable(kinds, now_ns):
            # nothing could go out before the budget refills: risk-checking and batching now would
            # be thrown away (at venue limits of ~10 writes/s this is most cycles of a busy book)
            waits = _tuple(CycleResult, (symbol, q, (), (), actions))
            if q.reason is None:
                self._waiting[symbol] = (self._wait_key(symbol), waits, kinds)
            return waits
        decision = self.guards.check(actions, live=self.om.orders, positions=self.portfolio.positions(),
                                     marks=self.marks, now_ns=now_ns)
        res = self.throttle.acquire(self.om.batches(decision.allowed), now_ns=now_ns, empty=empty)
        for b in res.send:
            self.om.submitted(b.actions, now_ns=now_ns)
        return _tuple(CycleResult, (symbol, q, res.send, decision.refusals, res.deferred))

    def cancel_everything(self, *, now_ns: int) -> list[Batch]:
        """Cancels for every live order, through the throttle (cancels have priority)."""
        res = self.throttle.acquire(self.om.batches(self.om.cancel_all()), now_ns=now_ns)
        for b in res.send:
            self.om.submitted(b.actions, now_ns=now_ns)
        return res.send

    def refresh_allocation(self) -> None:
        """Feed the allocator the latest volatility and rebate, and take its new budgets.

        Slow-moving: call it from a timer (about once a second), not per book update.
        """
        for s, p in self.params.items():
            mark = self.marks.get(s)
            if mark:
                sigma_bps = self._sigma(s) * p.instrument.tick_size / mark * _BPS
                self.allocator.observe(s, sigma_bps=sigma_bps, rebate_bps=-p.maker_fee_rate * _BPS)
        self._budgets = self.allocator.budgets()
        self._size_cache.clear()
