"""The exchange core: markets (books + prices), accounts, fills, fees, positions; emits private events."""

from __future__ import annotations

import logging
import random
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol

from bot.sim.accounts import AccountState, Position, spot_fee_coin
from bot.sim.config import MarketSpec, SimAccount, SimConfig
from bot.sim.matching import Book, Match, RestingOrder
from bot.sim.orders import Execution, SimOrder, order_wire

__all__ = ["Engine", "EventSink", "Market", "OrderError"]

log = logging.getLogger(__name__)
ZERO = Decimal(0)
HOUSE = ""


class OrderError(Exception):
    """A business rejection: becomes retCode/retMsg (or a batch item's code/msg)."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


class EventSink(Protocol):
    def wants(self, owner: str) -> bool: ...

    def private(self, owner: str, topic: str, category: str, items: list[dict[str, Any]]) -> None: ...

    def trades(self, market: Market, trades: list[dict[str, Any]]) -> None: ...


class _NullSink:
    def wants(self, owner: str) -> bool:
        return False

    def private(self, owner: str, topic: str, category: str, items: list[dict[str, Any]]) -> None:
        return None

    def trades(self, market: Market, trades: list[dict[str, Any]]) -> None:
        return None


@dataclass(slots=True)
class Market:
    spec: MarketSpec
    book: Book = field(default_factory=Book)
    fair: Decimal = ZERO
    last_price: Decimal = ZERO
    prev_price_24h: Decimal = ZERO
    high_24h: Decimal = ZERO
    low_24h: Decimal = ZERO
    volume_24h: Decimal = ZERO
    turnover_24h: Decimal = ZERO
    tick_direction: str = "ZeroPlusTick"
    exec_seq: int = 0
    trade_seq: int = 0
    recent_trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=1000))

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def category(self) -> str:
        return self.spec.category

    def mid(self) -> Decimal:
        inst = self.spec.instrument
        bb, ba = self.book.best_bid(), self.book.best_ask()
        if bb is not None and ba is not None:
            return (inst.from_ticks(bb) + inst.from_ticks(ba)) / 2
        return self.fair


class Engine:
    """Holds every market and account; all order operations go through here (single-threaded)."""

    def __init__(self, cfg: SimConfig, clock_ms: Callable[[], int], sink: EventSink | None = None) -> None:
        self.cfg = cfg
        self.clock_ms = clock_ms
        self.sink: EventSink = sink or _NullSink()
        self.rng = random.Random(cfg.seed)  # ids only (market: flow.py)  # nosec B311: not crypto
        self.markets: dict[tuple[str, str], Market] = {}
        for spec in cfg.market_specs():
            m = Market(spec=spec, fair=spec.start_price, last_price=spec.start_price,
                       prev_price_24h=spec.start_price, high_24h=spec.start_price, low_24h=spec.start_price)
            self.markets[spec.key] = m
        self.accounts: dict[str, AccountState] = {}
        self._next_uid = 100001
        self._order_seq = 0
        self._trade_id = 0
        self.reject_hook: Callable[[], tuple[int, str] | None] = lambda: None
        self._pending: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    # ---- accounts
    def add_account(self, acct: SimAccount) -> AccountState:
        if acct.api_key in self.accounts:
            raise ValueError(f"duplicate api key {acct.api_key}")
        if not acct.uid:
            acct.uid = self._next_uid
        self._next_uid = max(self._next_uid, acct.uid) + 1
        st = AccountState(cfg=acct, uid=acct.uid, wallet=dict(acct.balances))
        self.accounts[acct.api_key] = st
        return st

    # ---- ids and lookups
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def market(self, category: Any, symbol: Any) -> Market:
        if category not in ("linear", "spot", "inverse", "option"):
            raise OrderError(10001, "Illegal category")
        if not isinstance(symbol, str) or not symbol:
            raise OrderError(10001, "params error: symbol invalid")
        m = self.markets.get((category, symbol))
        if m is None:
            raise OrderError(10001, "params error: symbol invalid")
        return m

    def marks(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for m in self.markets.values():
            out.setdefault(m.symbol, m.fair)
        return out

    def mark(self, symbol: str) -> Decimal:
        m = self.markets.get(("linear", symbol)) or self.markets.get(("spot", symbol))
        return m.fair if m else ZERO

    # ---- event plumbing
    def emit(self, owner: str, topic: str, category: str, item: dict[str, Any]) -> None:
        self._pending.setdefault((owner, topic, category), []).append(item)

    def flush(self) -> None:
        """Push everything emitted by the last operation, in topic order order->execution->position->wallet."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        rank = {"order": 0, "execution": 1, "position": 2, "wallet": 3}
        for (owner, topic, category), items in sorted(pending.items(), key=lambda kv: rank.get(kv[0][1], 9)):
            try:
                self.sink.private(owner, topic, category, items)
            except Exception:  # a broken subscriber must never break matching
                log.exception("sim_private_push_failed")

    def push_order(self, o: SimOrder) -> None:
        if o.owner != HOUSE and self.sink.wants(o.owner):
            self.emit(o.owner, "order", o.category, order_wire(o))

    def touch_position(self, acct: AccountState, category: str, symbol: str) -> None:
        """Bybit pushes `position` on every create/amend/cancel, changed or not (derivatives only)."""
        if category not in ("linear", "inverse") or not self.sink.wants(acct.api_key):
            return
        if any(k[0] == acct.api_key and k[1] == "position" for k in self._pending):
            return  # a fill already queued the fresh position
        m = self.markets.get((category, symbol))
        if m is None:
            return
        pos = acct.positions.get(symbol) or Position(symbol=symbol)
        self.emit(acct.api_key, "position", category, pos.wire(category, m.fair, ws=True))

    # ---- matching and fills
    def next_order_seq(self) -> int:
        self._order_seq += 1
        return self._order_seq

    def execute(self, m: Market, taker: SimOrder | None, side: str, price: int, qty: int) -> int:
        """Match a taker (a SimOrder, or the house when None) against the book; returns lots filled."""
        matches = m.book.match(side, price, qty)
        if not matches:
            return 0
        now = self.clock_ms()
        m.exec_seq += 1
        trades: list[dict[str, Any]] = []
        inst = m.spec.instrument
        filled = 0
        for mt in matches:
            filled += mt.qty
            self._record_trade(m, mt, side, now, trades)
            maker = mt.maker.ref
            if isinstance(maker, SimOrder):
                self._fill(m, maker, mt.price, mt.qty, True, now)
                if maker.filled >= maker.qty:
                    maker.status = "Filled"
                    maker.resting = None
                    self._close(maker)
                else:
                    maker.status = "PartiallyFilled"
                self.push_order(maker)
            if taker is not None:
                self._fill(m, taker, mt.price, mt.qty, False, now)
        m.last_price = inst.from_ticks(matches[-1].price)
        m.recent_trades.extend(trades)
        self.sink.trades(m, trades)
        return filled

    def _record_trade(self, m: Market, mt: Match, side: str, now: int, out: list[dict[str, Any]]) -> None:
        inst = m.spec.instrument
        px = inst.from_ticks(mt.price)
        qty = inst.from_lots(mt.qty)
        if px > m.last_price:
            m.tick_direction = "PlusTick"
        elif px < m.last_price:
            m.tick_direction = "MinusTick"
        else:
            m.tick_direction = "ZeroPlusTick" if m.tick_direction.endswith("PlusTick") else "ZeroMinusTick"
        m.last_price = px
        m.high_24h = max(m.high_24h, px)
        m.low_24h = min(m.low_24h, px)
        m.volume_24h += qty
        m.turnover_24h += px * qty
        self._trade_id += 1
        t: dict[str, Any] = {"T": now, "s": m.symbol, "S": side, "v": str(qty), "p": str(px),
                             "i": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                             "BT": False, "RPI": False, "seq": m.book.seq}
        if m.category != "spot":
            t["L"] = m.tick_direction
        out.append(t)

    def _fill(self, m: Market, o: SimOrder, price: int, qty: int, is_maker: bool, now: int) -> None:
        acct = self.accounts.get(o.owner)
        inst = m.spec.instrument
        px = inst.from_ticks(price)
        q = inst.from_lots(qty)
        value = px * q
        o.filled += qty
        o.cum_value += value
        o.updated_ms = now
        if acct is None:
            return
        maker_rate, taker_rate = acct.cfg.fee_rates(m.category)
        rate = maker_rate if is_maker else taker_rate
        closed = pnl = ZERO
        if m.category == "spot":
            base, quote = inst.base_coin, inst.quote_coin
            coin = spot_fee_coin(o.side, is_maker, rate, base, quote)
            fee = (q if coin == base else value) * rate
            sign = 1 if o.side == "Buy" else -1
            acct.wallet[base] = acct.wallet.get(base, ZERO) + sign * q
            acct.wallet[quote] = acct.wallet.get(quote, ZERO) - sign * value
            acct.wallet[coin] = acct.wallet.get(coin, ZERO) - fee
        else:
            coin = inst.quote_coin
            fee = value * rate
            pos = acct.positions.get(m.symbol)
            if pos is None:
                pos = acct.positions[m.symbol] = Position(symbol=m.symbol, created_ms=now)
            closed, pnl = pos.apply(o.side, px, q)
            pos.cur_realised += pnl - fee
            pos.cum_realised += pnl - fee
            pos.updated_ms = now
            pos.seq = m.exec_seq
            acct.wallet[coin] = acct.wallet.get(coin, ZERO) + pnl - fee
            acct.cum_realised[coin] = acct.cum_realised.get(coin, ZERO) + pnl - fee
            if self.sink.wants(o.owner):
                self.emit(o.owner, "position", m.category, pos.wire(m.category, m.fair, ws=True))
        o.cum_fee += fee
        o.fee_coin = coin
        ex = Execution(exec_id=self.new_id(), order=o, price=price, qty=qty, fee=fee, fee_rate=rate,
                       fee_coin=coin, is_maker=is_maker, exec_ms=now, seq=m.exec_seq, closed_size=closed,
                       exec_pnl=pnl, mark=m.fair, order_qty=o.qty, leaves_after=o.qty - o.filled)
        acct.executions.append(ex)
        if len(acct.executions) > 2 * self.cfg.execution_retention:
            del acct.executions[: -self.cfg.execution_retention]
        if self.sink.wants(o.owner):
            self.emit(o.owner, "execution", m.category, ex.wire())
            self.emit(o.owner, "wallet", "", acct.wallet_wire(self.marks()))

    def _close(self, o: SimOrder) -> None:
        acct = self.accounts.get(o.owner)
        if acct is None:
            return
        acct.open_orders.pop(o.order_id, None)
        acct.remember_closed(o, self.cfg.closed_order_retention)

    def finish(self, o: SimOrder, status: str, *, cancel_type: str = "UNKNOWN", reason: str = "EC_NoError") -> None:
        """Move an open order to a final status, take it off the book and push it."""
        if o.resting is not None:
            self.markets[(o.category, o.symbol)].book.remove(o.resting)
            o.resting = None
        o.status = status
        o.cancel_type = cancel_type
        o.reject_reason = reason
        o.updated_ms = self.clock_ms()
        self._close(o)
        self.push_order(o)

    def rest(self, m: Market, o: SimOrder) -> None:
        ro = RestingOrder(order_id=o.order_id, owner=o.owner, side=o.side, price=o.price, qty=o.qty,
                          filled=o.filled, ref=o)
        o.resting = ro
        m.book.add(ro)

    # ---- house flow (background liquidity and takers)
    def house_limit(self, m: Market, side: str, price: int, qty: int) -> RestingOrder | None:
        """A house GTC limit order: takes what it crosses (picking off stale quotes), rests the rest."""
        filled = self.execute(m, None, side, price, qty) if m.book.would_cross(side, price) else 0
        self.flush()
        if filled >= qty:
            return None
        ro = RestingOrder(order_id="", owner=HOUSE, side=side, price=price, qty=qty - filled)
        m.book.add(ro)
        return ro

    def house_take(self, m: Market, side: str, qty: int, limit: int) -> int:
        filled = self.execute(m, None, side, limit, qty)
        self.flush()
        return filled

    def round_price(self, m: Market, price: Decimal) -> int:
        return int((price / m.spec.instrument.tick_size).to_integral_value(ROUND_HALF_EVEN))

    def set_fair(self, m: Market, price: Decimal) -> None:
        if price <= 0:
            raise ValueError("fair price must be positive")
        m.fair = price
