"""A minimal trading loop around the pure core, against the emulator, for the simulation test and
`bench/requote_compare.py`: Rust book -> QuoteCycle -> BybitClient writes; private stream -> OM/portfolio.

Not the production runtime (that is `bot.runtime.trading`): no ledger, no reconcile, no metrics.
It counts what the venue saw (requests per endpoint from the emulator's own counters).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.book import OrderBook
from bot.config.portfolio import AllocatorConfig, ThrottleConfig
from bot.config.risk import RiskConfig
from bot.config.rollout import RolloutConfig
from bot.config.strategy import StrategyConfig
from bot.domain import Category, OrderId, Symbol
from bot.errors import BookError, ExchangeError, OrderStateUnknown
from bot.exchange.bybit.backoff import BackoffPolicy
from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.rest import BybitRest
from bot.exchange.events import BookUpdate, Execution, OrderUpdate, StreamState, StreamStatus
from bot.observability.metrics import Metrics
from bot.portfolio import Allocator, Portfolio, QuoteCycle, RolloutRamp, Throttle
from bot.risk import RiskGuards
from bot.runtime.sender import write
from bot.sim import SimServer
from bot.strategy import ActionKind, Batch, OrderAction, OrderLinkIds, OrderManager, QuoteParams, Quotes, TopOfBook
from bot.strategy.orders import OrderUpdate as OmUpdate

_ZERO = Decimal(0)


class NaiveCycle(QuoteCycle):
    """Baseline: whenever the quotes change at all, cancel every order of the symbol and create
    every desired level again (batched). Waits while anything of the symbol is in flight."""

    def plan(self, q: Quotes) -> list[OrderAction]:
        if not self.om.diff(q):
            return []
        live = self.om.live(q.symbol)
        if any(o.pending is not None for o in live):
            return []
        acts = [OrderAction(ActionKind.CANCEL, o.symbol, o.side, o.order_link_id) for o in live]
        acts += [OrderAction(ActionKind.CREATE, q.symbol, lv.side, self.om.link_ids.next(), lv.price, lv.qty,
                             lv.qty, lv.price_ticks) for lv in q.levels]
        return acts


@dataclass
class DriverStats:
    requotes: int = 0  # cycles that sent at least one write
    actions: Counter[str] = field(default_factory=Counter)
    creates_resolved: int = 0  # created orders whose fate we saw (rested or post-only cancelled)
    post_only_cancels: int = 0  # creates and amends cancelled with EC_PostOnlyWillTakeLiquidity
    post_only_amends: int = 0  # of which amends
    fills: int = 0
    maker_fills: int = 0
    rebates: Decimal = _ZERO
    fees: Decimal = _ZERO
    max_position_ratio: float = 0.0  # max |venue position| x fair / max_position_notional, sampled
    refusals: Counter[str] = field(default_factory=Counter)
    write_errors: Counter[str] = field(default_factory=Counter)
    # 110001 (order not there) per "action:venue status of that orderLinkId when the error came back"
    gone: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)  # book updates that quoted nothing, by reason
    requests: dict[str, int] = field(default_factory=dict)  # emulator's count per order endpoint

    @property
    def maker_share(self) -> float:
        return self.maker_fills / self.fills if self.fills else 1.0

    @property
    def orders_placed(self) -> int:
        """Order placements that could meet a post-only cancel: creates and amends."""
        return self.actions["create"] + self.actions["amend"]

    @property
    def post_only_cancel_rate(self) -> float:
        return self.post_only_cancels / self.orders_placed if self.orders_placed else 0.0

    @property
    def order_requests(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "requotes": self.requotes, "order_requests": self.order_requests,
            "requests_per_requote": round(self.order_requests / self.requotes, 3) if self.requotes else None,
            "items_per_requote": round(sum(self.actions.values()) / self.requotes, 3) if self.requotes else None,
            "actions": dict(self.actions), "requests": self.requests,
            "creates_resolved": self.creates_resolved, "orders_placed": self.orders_placed,
            "post_only_cancels": self.post_only_cancels, "post_only_amends": self.post_only_amends,
            "post_only_cancel_rate": round(self.post_only_cancel_rate, 5),
            "fills": self.fills, "maker_share": round(self.maker_share, 5),
            "rebates": str(self.rebates), "fees": str(self.fees),
            "max_position_ratio": round(self.max_position_ratio, 4),
            "refusals": dict(self.refusals), "write_errors": dict(self.write_errors), "gone": dict(self.gone),
            "blocked": dict(self.blocked),
        }


class CoreDriver:
    """Runs the core against `sim` for a while; `naive=True` swaps in the cancel-and-replace baseline."""

    def __init__(self, sim: SimServer, *, api_key: str, api_secret: str, symbols: list[Symbol],
                 strategy: StrategyConfig, risk: RiskConfig, throttle: ThrottleConfig,
                 allocator: AllocatorConfig | None = None, naive: bool = False, session: str = "t") -> None:
        self.sim = sim
        self.key = api_key
        self.symbols = symbols
        self.strategy_cfg, self.risk_cfg, self.throttle_cfg = strategy, risk, throttle
        self.allocator_cfg = allocator or AllocatorConfig(total_notional=strategy.order_notional * 2
                                                          * strategy.levels * len(symbols))
        self.naive = naive
        self.session = session
        self.stats = DriverStats()
        rest = BybitRest(sim.rest_url, api_key, api_secret, metrics=Metrics(process=False))
        self.client = BybitClient(rest, ws_public_url=sim.ws_public_url("linear").rsplit("/", 1)[0],
                                  ws_private_url=sim.ws_private_url, api_key=api_key, api_secret=api_secret,
                                  policy=BackoffPolicy().scaled(0.01), metrics=Metrics(process=False))
        self.books: dict[Symbol, OrderBook] = {}
        self.cycle: QuoteCycle | None = None
        self.private_up = asyncio.Event()
        self.last_quotes: dict[Symbol, Quotes] = {}
        self._created: set[str] = set()
        self.watch_positions = True
        self.post_only_log: list[dict[str, Any]] = []  # what the venue looked like at each post-only cancel
        self.kill_seen_ns: int | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._start_requests: Counter[str] = Counter()

    async def setup(self) -> QuoteCycle:
        insts = await self.client.instruments(self.symbols)
        fees = await self.client.fee_rates(self.symbols)
        self.books = {s: OrderBook(i.tick_size, i.qty_step, 0) for s, i in insts.items()}
        params = {s: QuoteParams.from_config(self.strategy_cfg, i, maker_fee_rate=fees[s].maker,
                                             max_book_age_ms=self.risk_cfg.stale_book_ms) for s, i in insts.items()}
        om = OrderManager(instruments=insts, category=Category.LINEAR, link_ids=OrderLinkIds("mm", self.session),
                          batch_max_items=self.throttle_cfg.batch_max_items,
                          tolerance_ticks=self.strategy_cfg.requote_tolerance_ticks,
                          post_only_backoff_ticks=self.strategy_cfg.post_only_backoff_ticks)
        cls = NaiveCycle if self.naive else QuoteCycle
        self.cycle = cls(params=params, strategy=self.strategy_cfg, order_manager=om,
                         guards=RiskGuards(self.risk_cfg), throttle=Throttle(self.throttle_cfg),
                         allocator=Allocator(self.allocator_cfg, self.symbols),
                         ramp=RolloutRamp(RolloutConfig(enabled=False), now_ns=time.time_ns()),
                         portfolio=Portfolio(self.symbols))
        self._start_requests = Counter(self.sim.stats.requests_per_endpoint)
        return self.cycle

    async def run(self, seconds: float, scenario: Callable[[], Awaitable[None]] | None = None) -> DriverStats:
        """Quote for `seconds` of wall time (or until `scenario` returns), then stop the streams.

        Orders are left as they are; `stats.requests` counts the order writes the emulator saw.
        """
        assert self.cycle is not None
        pub = self.client.public_stream(self.symbols, trades=False, tickers=False)
        priv = self.client.private_stream()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                tasks = [tg.create_task(pub.run()), tg.create_task(priv.run()),
                         tg.create_task(self._private(priv)), tg.create_task(self._positions())]
                await asyncio.wait_for(self.private_up.wait(), 10)
                tasks.append(tg.create_task(self._public(pub)))
                if scenario is None:
                    await asyncio.sleep(seconds)
                else:
                    await asyncio.wait_for(scenario(), seconds)
                pub.close()
                priv.close()
                for t in tasks[2:]:
                    t.cancel()
        finally:
            self._tg = None
        self.count_requests()
        return self.stats

    def count_requests(self) -> None:
        """Order writes the emulator saw since setup (into `stats.requests`)."""
        now = Counter(self.sim.stats.requests_per_endpoint)
        self.stats.requests = {p: now[p] - self._start_requests.get(p, 0) for p in now
                               if p.startswith("/v5/order/") and p != "/v5/order/realtime"
                               and now[p] - self._start_requests.get(p, 0) > 0}

    # -- streams -----------------------------------------------------------------------------------
    async def _public(self, pub: Any) -> None:
        assert self.cycle is not None
        async for ev in pub:
            if not isinstance(ev, BookUpdate) or ev.symbol not in self.books:
                continue
            book = self.books[ev.symbol]
            try:
                resync = book.apply_message(ev.raw)[5]
            except BookError:
                resync = True
            if resync:
                pub.request_resync(ev.symbol)
                continue
            now = time.time_ns()
            res = self.cycle.on_book(ev.symbol, TopOfBook.of(book, now), now_ns=now)
            self.last_quotes[ev.symbol] = res.quotes
            if res.quotes.reason is not None:
                self.stats.blocked[res.quotes.reason] += 1
            for r in res.refusals:
                self.stats.refusals[r.reason.value] += 1
            if self.cycle.guards.kill.engaged and self.kill_seen_ns is None:
                self.kill_seen_ns = now
            if res.batches:
                self.stats.requotes += 1
                for b in res.batches:
                    self.stats.actions[b.kind.value] += len(b.actions)
                    if b.kind is ActionKind.CREATE:
                        self._created.update(a.order_link_id for a in b.actions)
                    assert self._tg is not None
                    self._tg.create_task(self._send(b))

    async def _private(self, priv: Any) -> None:
        assert self.cycle is not None
        om, pf = self.cycle.om, self.cycle.portfolio
        async for ev in priv:
            if isinstance(ev, StreamState) and ev.status is StreamStatus.CONNECTED:
                self.private_up.set()
            elif isinstance(ev, OrderUpdate):
                first = ev.order_link_id in self._created
                if first:  # the fate of a new order: rested, filled or cancelled as a would-be taker
                    self._created.discard(ev.order_link_id)
                    self.stats.creates_resolved += 1
                    self.cycle.guards.on_order_outcome(post_only_cancelled=ev.is_post_only_reject,
                                                       now_ns=time.time_ns())
                if ev.is_post_only_reject:
                    self.stats.post_only_cancels += 1
                    if not first:
                        self.stats.post_only_amends += 1
                    was = om.orders.get(ev.order_link_id)
                    m = self.sim.market(ev.symbol)
                    tick = m.spec.instrument.tick_size
                    self.post_only_log.append({
                        "symbol": ev.symbol, "side": str(ev.side), "px": int(ev.price / tick),
                        "venue": (m.book.best_bid(), m.book.best_ask()), "fair": int(m.fair / tick),
                        "kind": "create" if first else "amend",
                        "age_ms": (time.time_ns() - was.pending_since_ns) // 1_000_000 if was else None})
                om.on_order_update(OmUpdate(ev.order_link_id, ev.symbol, ev.side, ev.status, ev.price, ev.qty,
                                            ev.cum_exec_qty, ev.order_id or None, ev.reject_reason))
            elif isinstance(ev, Execution) and ev.is_trade:
                f = ev.to_fill()
                if pf.on_fill(f):
                    om.on_fill(f)
                    self.stats.fills += 1
                    self.stats.maker_fills += int(f.is_maker)
                    if f.fee < 0:
                        self.stats.rebates -= f.fee
                    else:
                        self.stats.fees += f.fee

    async def _positions(self) -> None:
        """Sample the venue's positions (the truth) against the limit every 20 ms; re-allocate every 1 s."""
        assert self.cycle is not None
        limit = float(self.risk_cfg.max_position_notional)
        n = 0
        while True:
            n += 1
            if n % 50 == 0:
                self.cycle.refresh_allocation()
            if self.watch_positions:
                for s, size in self.sim.positions(self.key).items():
                    if s in self.symbols:
                        ratio = abs(float(size) * float(self.sim.fair_price(s))) / limit
                        self.stats.max_position_ratio = max(self.stats.max_position_ratio, ratio)
            await asyncio.sleep(0.02)

    # -- writes ------------------------------------------------------------------------------------
    async def _send(self, b: Batch) -> None:
        assert self.cycle is not None
        om, guards = self.cycle.om, self.cycle.guards
        t0 = time.monotonic_ns()
        try:
            results = await write(self.client, b)
        except OrderStateUnknown:
            self.stats.write_errors["unknown"] += 1
            guards.on_request_result(False, now_ns=time.time_ns())
            return  # stays in flight; the order stream resolves it
        except ExchangeError as exc:
            self.stats.write_errors[str(exc.ret_code)] += 1
            for a in b.actions:
                self._note_gone(a, exc.ret_code)
                om.on_ack(a, ok=False, ret_code=exc.ret_code)
            guards.on_request_result(b.kind is ActionKind.CANCEL, now_ns=time.time_ns())
            return
        guards.on_latency((time.monotonic_ns() - t0) // 1_000_000)
        for a, r in zip(b.actions, results, strict=False):
            if not r.ok:
                self.stats.write_errors[str(r.ret_code)] += 1
                self._note_gone(a, r.ret_code)
            om.on_ack(a, ok=r.ok, ret_code=r.ret_code, order_id=OrderId(r.order_id) if r.order_id else None)
            guards.on_request_result(r.ok, now_ns=time.time_ns(), ret_code=r.ret_code)

    def _note_gone(self, a: OrderAction, ret_code: int | None) -> None:
        """For 110001: what the venue knows of that order now (Filled/Cancelled = a race; none = a bug)."""
        if ret_code != 110001:
            return
        o = self.sim.engine.accounts[self.key].link_ids.get(a.order_link_id)
        self.stats.gone[f"{a.kind.value}:{o.status if o is not None else 'unknown'}"] += 1

    async def aclose(self) -> None:
        await self.client.aclose()
