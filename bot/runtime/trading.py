"""The trading loop: book updates -> quotes -> risk -> throttle -> order writes; private events -> ledger."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from bot.book import OrderBook
from bot.config import AppConfig
from bot.domain import Category, Instrument, Side, Symbol
from bot.exchange.base import EventStream, FeeRate
from bot.exchange.events import (
    BookUpdate,
    Execution,
    OrderUpdate,
    PositionUpdate,
    StreamKind,
    StreamState,
    StreamStatus,
    WalletUpdate,
)
from bot.observability.ledger import Ledger
from bot.observability.ledger_writer import LedgerWriter
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics
from bot.observability.recorder import Recorder
from bot.portfolio.allocator import Allocator
from bot.portfolio.cycle import CycleResult, QuoteCycle
from bot.portfolio.inventory import Portfolio
from bot.portfolio.rollout import RolloutRamp
from bot.portfolio.throttle import Throttle
from bot.risk.guards import RiskGuards
from bot.risk.reasons import Reason
from bot.runtime import account, reconcile, report
from bot.runtime.books import SymbolState
from bot.runtime.sender import OrderSender
from bot.runtime.snapshots import SnapshotStore, Snapshottable
from bot.runtime.tasks import LatencyStats, every
from bot.runtime.venue import Venue, open_venue
from bot.strategy.order_manager import OrderManager
from bot.strategy.orders import OrderLinkIds
from bot.strategy.quoting import QuoteParams
from bot.strategy.volatility import MidVolatility

__all__ = ["Trader"]

log = get_logger(__name__)
_ZERO = Decimal(0)


class Trader:
    """Owns the venue session (client, streams, in-process emulator) and every trading component."""

    def __init__(self, cfg: AppConfig, *, metrics: Metrics, ledger: Ledger, recorder: Recorder | None,
                 latency: LatencyStats, on_first_quote: Callable[[], None], on_kill: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.ledger = ledger
        self.ledger_writer: LedgerWriter | None = None  # stream fills and order states, off the loop
        self.recorder = recorder
        self.latency = latency
        self._on_first_quote = on_first_quote
        self._on_kill = on_kill
        self.venue: Venue | None = None
        self.started = False
        self.quoting = False
        self.syms: dict[Symbol, SymbolState] = {}
        self.conn: dict[str, str] = {"public": "disconnected", "private": "disconnected", "trade": "disconnected"}
        self.reconnect_counts = {"public": 0, "private": 0}
        self.orders_sent = 0
        self.wallet: WalletUpdate | None = None
        self.fees: dict[Symbol, FeeRate] = {}
        self._lock = asyncio.Lock()
        self._kill_handled = False
        self._ever_connected: set[str] = set()
        self._quote_counters: dict[tuple[str, str], Any] = {}
        self._public: EventStream | None = None
        self._private: EventStream | None = None
        self._trade: EventStream | None = None  # the WS trade API's stream when orders go that way
        self.risk = RiskGuards(cfg.risk)
        self.throttle = Throttle(cfg.portfolio.throttle)
        self.allocator = Allocator(cfg.portfolio.allocator, [Symbol(s) for s in cfg.symbols])
        self.rollout = RolloutRamp(cfg.rollout, now_ns=time.time_ns(), config_id="")
        self.om: OrderManager | None = None
        self.cycle: QuoteCycle | None = None  # the pure quote cycle (bot.portfolio.cycle), built at start
        self.sender: OrderSender | None = None
        self.portfolio = Portfolio([Symbol(s) for s in cfg.symbols])

    # ---- start / stop --------------------------------------------------------------------------
    async def start(self, snapshots: SnapshotStore) -> None:
        """Open the venue, load instruments and fees, reconcile, restore snapshots, arm DCP.

        Raises:
            ReconcileError / ExchangeError / ConfigError: the bot must not quote.
        """
        self.venue = venue = await open_venue(self.cfg, self.metrics)
        client = venue.client
        symbols = [Symbol(s) for s in self.cfg.symbols]
        insts = await asyncio.wait_for(client.instruments(symbols), 15)
        self.fees = await asyncio.wait_for(client.fee_rates(symbols), 15)
        for sym in symbols:
            inst = insts[sym]
            self.syms[sym] = SymbolState(inst, OrderBook(inst.tick_size, inst.qty_step, 0), self._params(inst),
                                         MidVolatility(self.cfg.strategy.vol_window))
            self.metrics.position_limit.labels(sym).set(float(self.cfg.risk.max_position_notional))
        session = format(time.time_ns() // 1_000_000 % 10**10, "x")
        self.om = OrderManager(instruments=insts, category=Category(self.cfg.category),
                               link_ids=OrderLinkIds(self.cfg.order_link_prefix, session),
                               batch_max_items=self.cfg.portfolio.throttle.batch_max_items,
                               tolerance_ticks=self.cfg.strategy.requote_tolerance_ticks,
                               post_only_backoff_ticks=self.cfg.strategy.post_only_backoff_ticks)
        self.cycle = QuoteCycle(
            params={s: st.params for s, st in self.syms.items()}, strategy=self.cfg.strategy, order_manager=self.om,
            guards=self.risk, throttle=self.throttle, allocator=self.allocator, ramp=self.rollout,
            portfolio=self.portfolio, vols={s: st.vol for s, st in self.syms.items()})
        self.sender = OrderSender(client, self.om, self.risk, self.metrics, self.latency)
        rep = await reconcile.reconcile_on_start(
            client, self.ledger, symbols, prefix=self.cfg.order_link_prefix, adopt=self.cfg.adopt_orders_on_start,
            dcp_window_s=self.cfg.exchange.dcp_window_s if venue.supports_dcp else None)
        for o in rep.adopted:
            self.om.on_order_update(account.om_update(o))
        self._replay_ledger(rep.positions)
        self.wallet = rep.wallet
        self.ledger_writer = LedgerWriter(self.ledger.path)
        restored = snapshots.restore_all(self.snapshottables())
        log.info("snapshots_restored", **{k: v for k, v in restored.items()})
        self._public = client.public_stream(symbols, depth=50)
        attach = getattr(self._public, "attach_books", None)
        if attach is not None:  # book messages go straight into our Rust books as they arrive
            attach({s: st.book for s, st in self.syms.items()})
        self._private = client.private_stream()
        trade_channel = getattr(client, "trade_channel", None) if getattr(client, "ws_trade_url", None) else None
        if self.cfg.exchange.order_entry == "ws" and trade_channel is not None:
            # Writes go over the trade WebSocket while it is connected, REST otherwise (the client
            # routes them). An httpx request held the event loop ~0.65 ms per order, in one piece.
            channel = trade_channel()
            self.sender.watch_trade_channel(channel)
            self._trade = channel.stream
        self.started = True

    def _params(self, inst: Instrument) -> QuoteParams:
        fee = self.fees.get(inst.symbol)
        return QuoteParams.from_config(self.cfg.strategy, inst, maker_fee_rate=fee.maker if fee else _ZERO,
                                       max_book_age_ms=self.cfg.risk.stale_book_ms)

    def _replay_ledger(self, positions: list[PositionUpdate]) -> None:
        """Cumulative fills, fees and PnL from the ledger; then the venue's positions win."""
        for f in self.ledger.fills():
            if f.symbol in self.syms:
                self.portfolio.on_fill(f)
        for p in positions:
            inv = self.portfolio.inventory(p.symbol)
            if inv.position != p.signed_size:
                log.info("position_from_venue", symbol=p.symbol, ledger=str(inv.position), venue=str(p.signed_size))
                inv.position, inv.avg_price = p.signed_size, p.entry_price

    def task_specs(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]:
        assert self._public is not None and self._private is not None
        assert self.sender is not None
        for sym in self.syms:  # exported from the start, not only after the first 1 s portfolio tick
            self.metrics.quote_uptime.labels(sym).set(0.0)
        trade = [("trade_stream", self._trade.run), ("trade_events", self._consume_trade)] if self._trade else []
        return [("order_writes", self.sender.run),
                ("public_stream", self._public.run), ("private_stream", self._private.run), *trade,
                ("public_events", self._consume_public), ("private_events", self._consume_private),
                ("stale_guard", lambda: every(0.1, self._stale_sweep, name="stale_guard")),
                ("portfolio", lambda: every(1.0, self._portfolio_tick, name="portfolio"))]

    def snapshottables(self) -> dict[str, Snapshottable]:
        return {"allocator": self.allocator, "throttle": self.throttle, "rollout": self.rollout,  # type: ignore[dict-item]
                "risk": self.risk}  # type: ignore[dict-item]  # restore() takes dict, Protocol says Mapping

    def set_quoting(self, on: bool, reason: str) -> None:
        if on != self.quoting:
            log.info("quoting_on" if on else "quoting_off", reason=reason)
        self.quoting = on

    async def stop_quoting(self) -> None:
        self.set_quoting(False, "stopping")
        if self.sender is not None:
            await self.sender.idle(2.0)  # let writes in flight land, so cancel-all sees them

    async def cancel_all(self, *, verify: bool) -> int:
        """Cancel every order of ours; with `verify`, re-read until none is open. Returns how many are left."""
        if self.venue is None:
            return 0
        client = self.venue.client
        symbols = list(self.syms)
        async with self._lock:
            if not verify:  # the fast exit: one cancel-all per symbol, at once
                await asyncio.gather(*(client.cancel_all(s) for s in symbols), return_exceptions=True)
                return len(self.om.live()) if self.om else 0
            if self.sender is not None:
                await self.sender.idle(2.0)
            _, left = await reconcile.cancel_ours(client, symbols, self.cfg.order_link_prefix)
            if self.om is not None and left == 0:
                for o in self.om.live():
                    self.om.forget(o.order_link_id)
        for sym in symbols:
            self.metrics.open_orders.labels(sym).set(0 if left == 0 else len(self.om.live(sym)) if self.om else 0)
        return left

    async def close(self) -> None:
        for s in (self._public, self._private, self._trade):
            if s is not None:
                s.close()
        if self.venue is not None:
            await self.venue.aclose()

    def engage_kill_switch(self, reason: str) -> None:
        self.risk.engage_kill(Reason.OPERATOR, now_ns=time.time_ns(), detail=reason)
        self._check_kill()

    def reset_kill_switch(self, operator: str) -> None:
        """Unlatch the kill switch (drawdown peak and day start restart from the current PnL);
        quoting stays off until the operator resumes."""
        self.risk.reset_kill(operator=operator)
        self._kill_handled = False

    @property
    def kill_switch_engaged(self) -> bool:
        return self.risk.kill.engaged

    def _check_kill(self) -> None:
        if self.risk.kill.engaged and not self._kill_handled:
            self._kill_handled = True
            self.set_quoting(False, "kill switch")
            self._on_kill(f"{self.risk.kill.reason}: {self.risk.kill.detail}")

    def apply_config(self, cfg: AppConfig) -> None:
        """Hot reload of the runtime-safe sections."""
        self.cfg = cfg
        self.risk.update_config(cfg.risk)
        self.throttle.update_config(cfg.portfolio.throttle)
        self.allocator.update_config(cfg.portfolio.allocator)
        self.rollout.update_config(cfg.rollout)
        for st in self.syms.values():
            st.params = self._params(st.inst)
        if self.cycle is not None:
            self.cycle.update_config(cfg.strategy, {s: st.params for s, st in self.syms.items()})
            self.cycle.refresh_allocation()
        if self.om is not None:
            self.om.tolerance_ticks = cfg.strategy.requote_tolerance_ticks
            self.om.post_only_backoff_ticks = cfg.strategy.post_only_backoff_ticks

    # ---- public stream: the hot path ---------------------------------------------------------------
    async def _consume_public(self) -> None:
        assert self._public is not None
        # Drain what is already queued, apply every book update, then quote each touched symbol
        # once on its newest state: a backlog never turns into a backlog of stale quotes.
        queue = getattr(self._public, "queue", None)
        drain = getattr(queue, "get_nowait", None)
        async for first in self._public:
            batch = [first]
            while drain is not None and len(batch) < 256 and (nxt := drain()) is not None:
                batch.append(nxt)
            touched: dict[Symbol, int] = {}
            for ev in batch:
                if isinstance(ev, BookUpdate):
                    if self._apply_book(ev):
                        touched[ev.symbol] = ev.ts_recv_ns
                elif isinstance(ev, StreamState):
                    await self._on_stream_state(ev)
            # every touched symbol's requests go out first; each cycle's bookkeeping waits for all
            later: list[tuple[SymbolState, CycleResult]] = []
            try:
                for sym, tick_ns in touched.items():
                    if await self._cycle(sym, tick_ns, later):
                        # a write left to its task: let it put the request on the wire before the
                        # next symbol's cycle and the recorder's work (tick-to-order ends there)
                        self._after_cycles(later)
                        await asyncio.sleep(0)
            finally:
                self._after_cycles(later)
            if self.recorder is not None:  # bookkeeping waits until the quotes went out
                now = time.time_ns()
                for i, ev in enumerate(batch):
                    if isinstance(ev, BookUpdate):
                        self.recorder.record_raw("book", ev.raw, ts_ns=now)
                    elif not isinstance(ev, StreamState):
                        self.recorder.record(type(ev).__name__.lower(), account.plain(ev), ts_ns=now)
                    if i % 32 == 31:  # a long backlog is recorded in slices: a book update may come first
                        await asyncio.sleep(0)

    def _apply_book(self, ev: BookUpdate) -> bool:
        """Take one book update; True when its symbol should re-quote."""
        st = self.syms.get(ev.symbol)
        if st is None:
            return False
        assert self._public is not None
        st.on_book(ev, self._public.request_resync)
        return True

    def _hold(self, st: SymbolState) -> str | None:
        """The runtime's reasons to quote nothing, before the guards and the model have a say."""
        if not self.quoting:
            return "paused"
        if self.conn["public"] != "connected" or st.untrusted():
            return "book_untrusted"
        if self.conn["private"] != "connected":
            return "private_down"
        return None

    async def _cycle(self, sym: Symbol, tick_ns: int | None = None,
                     later: list[tuple[SymbolState, CycleResult]] | None = None) -> bool:
        """One quote cycle for `sym`; `tick_ns` is when the triggering book update arrived (monotonic).

        Given `later`, the cycle's bookkeeping is left there for `_after_cycles` (the caller's other
        symbols send first). True when a write is left for its task to send (it could not go out
        in this step).
        """
        cycle, sender = self.cycle, self.sender
        if cycle is None or sender is None:
            return False
        async with self._lock:
            st = self.syms[sym]
            now = time.time_ns()
            res = cycle.on_book(sym, st.view(now), now_ns=now, hold=self._hold(st))
            queued = False
            for i, b in enumerate(res.batches):  # already marked in flight by the cycle
                queued |= not sender.submit(b, tick_ns=tick_ns if i == 0 else None)
            if self.risk.kill.engaged:
                self._check_kill()
        if later is None:
            self._after_cycles([(st, res)])
        else:
            later.append((st, res))
        return queued

    def _after_cycles(self, done: list[tuple[SymbolState, CycleResult]]) -> None:
        """After the requests went out: start their tasks and count what the cycles did."""
        if self.sender is not None:
            self.sender.flush()
        for st, res in done:
            q = res.quotes
            key = (q.symbol, q.reason or "quoted")
            counter = self._quote_counters.get(key)
            if counter is None:  # labels() costs a few microseconds: keep the children
                counter = self._quote_counters[key] = self.metrics.quotes.labels(*key)
            counter.inc()
            ob = q.obligations
            if ob is not None:
                st.obligations_met = ob.met
                if ob.failures:
                    st.unmet = ob.failures[0]
            elif q.reason:
                st.obligations_met = False
                st.unmet = q.reason
            for r in res.refusals:
                self.metrics.risk_refusals.labels(r.reason.value).inc()
            if res.batches:
                if q.bids or q.asks:
                    self._on_first_quote()
                self.orders_sent += sum(len(b.actions) for b in res.batches)
        done.clear()

    async def _on_stream_state(self, ev: StreamState) -> None:
        kind = str(ev.stream)
        status = {StreamStatus.CONNECTED: "connected", StreamStatus.DISCONNECTED: "disconnected",
                  StreamStatus.RESYNC_REQUIRED: "resyncing", StreamStatus.EXHAUSTED: "exhausted",
                  StreamStatus.FAILED: "exhausted"}[ev.status]
        prev = self.conn.get(kind)
        if ev.status is StreamStatus.RESYNC_REQUIRED:
            for s in ev.symbols:
                if s in self.syms:
                    self.syms[s].trusted = False
            status = prev or "connected"
        self.conn[kind] = status
        self.metrics.ws_connected.labels(kind).set(1 if status == "connected" else 0)
        if prev == status:
            return
        log.info("stream_state", stream=kind, status=status, attempt=ev.attempt, reason=ev.reason)
        if status != "connected":
            if ev.stream is StreamKind.PUBLIC:
                for st in self.syms.values():
                    st.trusted = False
            # Pull quotes now: the book (or our view of fills) is not trustworthy.
            for sym in self.syms:
                await self._cycle(sym)
            return
        if kind not in self._ever_connected:
            self._ever_connected.add(kind)  # the first connect: start-up already reconciled
            return
        if kind in self.reconnect_counts:
            self.reconnect_counts[kind] += 1
        if ev.stream is StreamKind.PRIVATE:
            await account.after_private_reconnect(self)

    async def _consume_trade(self) -> None:
        """The trade stream's own events: only its state matters (its acks go to the requests)."""
        assert self._trade is not None
        async for ev in self._trade:
            if isinstance(ev, StreamState):
                status = "connected" if ev.status is StreamStatus.CONNECTED else "disconnected"
                if self.conn.get("trade") != status:
                    log.info("stream_state", stream="trade", status=status, attempt=ev.attempt, reason=ev.reason)
                self.conn["trade"] = status
                self.metrics.ws_connected.labels("trade").set(1 if status == "connected" else 0)

    # ---- private stream ----------------------------------------------------------------------------
    async def _consume_private(self) -> None:
        assert self._private is not None
        async for ev in self._private:
            if isinstance(ev, Execution):
                if ev.is_trade:
                    account.on_fills(self, [ev])
            elif isinstance(ev, OrderUpdate):
                account.on_order(self, ev)
            elif isinstance(ev, PositionUpdate):
                account.on_position(self, ev)
            elif isinstance(ev, WalletUpdate):
                self.wallet = ev
            elif isinstance(ev, StreamState):
                await self._on_stream_state(ev)

    def close_ledger_writer(self, timeout_s: float = 5.0) -> bool:
        """Commit the queued ledger writes and stop the writer thread (before the ledger closes)."""
        return self.ledger_writer.close(timeout_s) if self.ledger_writer is not None else True

    def record_daily_pnl(self) -> None:
        """Realized PnL net of fees per symbol into the ledger's daily table (every minute and at stop)."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        for sym in self.syms:
            inv = self.portfolio.inventory(sym)
            self.ledger.set_daily_pnl(day, sym, inv.realized_pnl - inv.net_fees)

    def marks(self) -> dict[Symbol, Decimal]:
        return {s: m for s, st in self.syms.items() if (m := st.mid()) is not None}

    # ---- periodic ------------------------------------------------------------------------------------
    async def _stale_sweep(self) -> None:
        """Pull quotes from books older than risk.stale_book_ms; reconcile writes stuck in flight."""
        now = time.monotonic_ns()
        limit = self.cfg.risk.stale_book_ms * 1_000_000
        for sym, st in self.syms.items():
            if self.om is not None and self.om.live(sym) and (now - st.book_ts_ns > limit or not st.trusted):
                await self._cycle(sym)
        if self.om is not None and self.venue is not None:
            # in-flight times are wall-clock: the quote cycle marks them with its now_ns
            stuck = self.om.expire_pending(now_ns=time.time_ns(), timeout_ns=5_000_000_000)
            for link in stuck[:10]:
                o = self.om.orders.get(link)
                if o is None:
                    continue
                found = await self.venue.client.order_by_link_id(o.symbol, link)
                if found is None or not found.status.is_open:
                    self.om.forget(link)
                else:
                    self.om.on_order_update(account.om_update(found))

    def _portfolio_tick(self) -> None:
        marks = self.marks()
        for sym, st in self.syms.items():
            st.seconds += 1
            if st.obligations_met and self.quoting:
                st.seconds_met += 1
            else:
                self.metrics.quote_unmet.labels(sym, st.unmet if self.quoting else "paused").inc()
            self.metrics.quote_uptime.labels(sym).set(st.seconds_met / st.seconds)
            mid = marks.get(sym)
            if mid is None:
                continue
            now_ms = time.time() * 1000
            for f in [f for f in st.recent_fills if now_ms - f.ts_exchange_ms > 1000]:
                adverse = (f.price - mid) if f.side is Side.BUY else (mid - f.price)
                self.rollout.observe_fill(adverse / f.price * 10_000)
                st.recent_fills.remove(f)
            del st.recent_fills[:-200]
        if self.cycle is not None:
            self.cycle.refresh_allocation()  # the allocator observes volatility and rebate; new budgets
        total = self.portfolio.total_pnl(marks)
        self.risk.on_pnl(total, day=int(time.time() // 86400), now_ns=time.time_ns())
        self.rollout.observe_pnl(total)
        self.rollout.evaluate(now_ns=time.time_ns())
        self._check_kill()

    def refresh_metrics(self) -> None:
        report.refresh_metrics(self)

    def connections(self) -> dict[str, str]:
        return dict(self.conn)

    def reconnects(self) -> dict[str, int]:
        return dict(self.reconnect_counts)

    def not_ready_reasons(self) -> list[str]:
        return report.not_ready_reasons(self)

    def symbol_status(self) -> dict[str, dict[str, Any]]:
        return report.symbol_status(self)

    def totals(self) -> dict[str, Any]:
        return report.totals(self)
