"""Typed events the exchange layer hands to the rest of the bot (from WS pushes and REST reads).

Money is Decimal; venue clocks are `*_ms` (exchange time), our clock is `ts_recv_ns`
(`time.monotonic_ns()` at frame arrival, 0 for REST reads). Every event is a frozen value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from bot.domain import Category, Fill, Level, OrderId, OrderLinkId, OrderStatus, Side, Symbol

__all__ = [
    "Ack",
    "BookUpdate",
    "CoinBalance",
    "ExchangeEvent",
    "Execution",
    "OrderUpdate",
    "Pong",
    "PositionUpdate",
    "StreamKind",
    "StreamState",
    "StreamStatus",
    "Ticker",
    "Trade",
    "WalletUpdate",
]


class StreamKind(enum.StrEnum):
    """Which WebSocket a stream is; the value is the `ws_type` metric label."""

    PUBLIC = "public"
    PRIVATE = "private"
    TRADE = "trade"


class StreamStatus(enum.StrEnum):
    CONNECTED = "connected"  # connected, authenticated (private) and every subscription acked
    DISCONNECTED = "disconnected"  # link lost; a reconnect is scheduled per NET-001
    RESYNC_REQUIRED = "resync_required"  # book state for `symbols` is stale until the next snapshot
    EXHAUSTED = "exhausted"  # max reconnect attempts used up: stop quoting and alert
    FAILED = "failed"  # fatal (auth rejected): the stream stopped and will not retry


@dataclass(frozen=True, slots=True)
class StreamState:
    """Lifecycle of one stream; the runtime stops quoting on anything but CONNECTED."""

    stream: StreamKind
    status: StreamStatus
    attempt: int = 0  # reconnect attempts since the counter last reset
    reason: str = ""
    symbols: tuple[Symbol, ...] = ()  # for RESYNC_REQUIRED: the affected books
    ts_recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """One `orderbook.{depth}.{symbol}` message (or a coalesced snapshot when the consumer was behind).

    `raw` is a Bybit-format orderbook message: the runtime feeds it straight to the Rust book
    (`bot.book.OrderBook.apply_message(raw)`); for a coalesced update it is a synthesized
    `snapshot` of the latest state, so it always applies cleanly.
    """

    symbol: Symbol
    is_snapshot: bool
    update_id: int  # Bybit `u`
    seq: int  # Bybit cross sequence
    bids: tuple[Level, ...]  # best first; size 0 = delete (deltas only)
    asks: tuple[Level, ...]
    ts_exchange_ms: int
    ts_recv_ns: int
    raw: bytes = field(repr=False, default=b"")
    depth: int = 0
    cts_ms: int = 0  # matching-engine time (comparable with Trade.ts_exchange_ms)
    coalesced: bool = False
    # Set when the stream already applied the message to the consumer's own book on arrival
    # (BybitStream.attach_books): (bid ticks, bid lots, ask ticks, ask lots, resync needed) right
    # after it, and the levels are not parsed into `bids` / `asks`.
    applied: tuple[int | None, int | None, int | None, int | None, bool] | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade (`publicTrade.{symbol}`); `side` is the taker's side."""

    symbol: Symbol
    trade_id: str
    side: Side
    price: Decimal
    size: Decimal
    ts_exchange_ms: int
    ts_recv_ns: int
    seq: int = 0
    is_block_trade: bool = False


@dataclass(frozen=True, slots=True)
class Ticker:
    """`tickers.{symbol}` merged to full state (linear deltas carry only changed fields)."""

    symbol: Symbol
    last_price: Decimal | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None
    bid1_price: Decimal | None = None
    bid1_size: Decimal | None = None
    ask1_price: Decimal | None = None
    ask1_size: Decimal | None = None
    funding_rate: Decimal | None = None
    next_funding_time_ms: int | None = None
    ts_exchange_ms: int = 0
    ts_recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """State of one of our orders (WS `order` topic or REST `/v5/order/realtime`)."""

    category: Category
    symbol: Symbol
    order_id: OrderId
    order_link_id: OrderLinkId
    side: Side
    order_type: str  # "Limit" | "Market"
    price: Decimal
    qty: Decimal
    time_in_force: str  # "GTC" | "IOC" | "FOK" | "PostOnly" | "RPI"
    status: OrderStatus
    leaves_qty: Decimal
    cum_exec_qty: Decimal  # monotone fill counter
    cum_exec_value: Decimal
    avg_price: Decimal | None  # None when nothing filled ("" or "0" on the wire)
    cancel_type: str = ""
    reject_reason: str = ""
    reduce_only: bool = False
    created_time_ms: int = 0
    updated_time_ms: int = 0
    ts_recv_ns: int = 0

    @property
    def is_post_only_reject(self) -> bool:
        """A PostOnly order that would have crossed: accepted, then Cancelled by the venue."""
        return self.reject_reason == "EC_PostOnlyWillTakeLiquidity"

    @property
    def dedup_key(self) -> tuple[str, int, str, Decimal]:
        """(orderId, updatedTime, orderStatus, cumExecQty): identical pushes are duplicates."""
        return (self.order_id, self.updated_time_ms, self.status.value, self.cum_exec_qty)


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill (`execution` topic or REST `/v5/execution/list`); `exec_id` is unique."""

    category: Category
    symbol: Symbol
    exec_id: str
    order_id: OrderId
    order_link_id: OrderLinkId  # "" on execution.fast maker fills: map by order_id
    side: Side
    price: Decimal
    qty: Decimal
    exec_value: Decimal
    fee: Decimal  # negative = rebate received
    fee_rate: Decimal
    fee_currency: str
    is_maker: bool
    exec_type: str  # "Trade" is a fill of our quote; Funding/AdlTrade/... are not
    exec_time_ms: int
    seq: int = 0
    leaves_qty: Decimal = Decimal(0)
    order_price: Decimal = Decimal(0)
    order_qty: Decimal = Decimal(0)
    ts_recv_ns: int = 0

    @property
    def is_trade(self) -> bool:
        return self.exec_type == "Trade"

    def to_fill(self) -> Fill:
        return Fill(
            exec_id=self.exec_id, symbol=self.symbol, side=self.side, price=self.price, qty=self.qty,
            fee=self.fee, fee_rate=self.fee_rate, is_maker=self.is_maker, order_id=self.order_id,
            order_link_id=self.order_link_id, ts_exchange_ms=self.exec_time_ms,
        )


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """One position (`position` topic or REST `/v5/position/list`); `size` is unsigned."""

    category: Category
    symbol: Symbol
    side: Side | None  # None when flat
    size: Decimal
    entry_price: Decimal  # WS `entryPrice`, REST `avgPrice`
    mark_price: Decimal
    position_value: Decimal
    unrealised_pnl: Decimal
    cum_realised_pnl: Decimal
    leverage: Decimal = Decimal(0)
    liq_price: Decimal | None = None
    position_idx: int = 0
    seq: int = 0
    updated_time_ms: int = 0
    ts_recv_ns: int = 0

    @property
    def signed_size(self) -> Decimal:
        if self.side is None:
            return Decimal(0)
        return self.size * self.side.sign


@dataclass(frozen=True, slots=True)
class CoinBalance:
    coin: str
    equity: Decimal
    wallet_balance: Decimal
    locked: Decimal = Decimal(0)
    unrealised_pnl: Decimal = Decimal(0)
    cum_realised_pnl: Decimal = Decimal(0)
    usd_value: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class WalletUpdate:
    """Unified account balances (`wallet` topic or REST `/v5/account/wallet-balance`); totals in USD."""

    account_type: str
    total_equity: Decimal
    total_wallet_balance: Decimal
    total_available_balance: Decimal
    total_initial_margin: Decimal = Decimal(0)
    total_maintenance_margin: Decimal = Decimal(0)
    coins: tuple[CoinBalance, ...] = ()
    ts_exchange_ms: int = 0
    ts_recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class Ack:
    """Reply to a command we sent on a WS (auth, subscribe, unsubscribe, trade op)."""

    op: str
    success: bool
    req_id: str = ""
    ret_msg: str = ""
    ret_code: int = 0
    conn_id: str = ""
    data: object = None  # trade acks: the `data` mirror of the REST result (wire dict)
    ts_recv_ns: int = 0


@dataclass(frozen=True, slots=True)
class Pong:
    """Reply to our JSON heartbeat; `server_ts_ms` when the venue included one."""

    req_id: str = ""
    server_ts_ms: int | None = None
    ts_recv_ns: int = 0


ExchangeEvent = (
    BookUpdate | Trade | Ticker | OrderUpdate | Execution | PositionUpdate | WalletUpdate | Ack | Pong | StreamState
)
