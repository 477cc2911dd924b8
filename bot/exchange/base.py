"""ExchangeClient: the only exchange API the rest of the bot sees (intent-named, venue-neutral).

Error contract for every method (see `bot.errors`):
- `ExchangeUnavailable`: network/timeout/5xx/rate limit on a read (already retried where safe);
- `ExchangeRejected`: the venue refused the request (do not resend as is);
- `AuthError`: key/signature/permission problem (fatal);
- `OrderStateUnknown`: a write whose outcome is unknown: reconcile by `order_link_id`
  (`order_by_link_id` / `open_orders`), never resend blindly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from bot.domain import Instrument, OrderId, OrderLinkId, Side, Symbol, TimeInForce
from bot.errors import ExchangeError, ExchangeUnavailable
from bot.exchange.events import (
    ExchangeEvent,
    Execution,
    OrderUpdate,
    PositionUpdate,
    StreamKind,
    WalletUpdate,
)

__all__ = [
    "AmendRequest",
    "CancelRequest",
    "EventStream",
    "ExchangeClient",
    "FeeRate",
    "OrderRequest",
    "OrderResult",
    "StreamExhausted",
]


class StreamExhausted(ExchangeUnavailable):
    """A WebSocket stream used up its reconnect attempts (NET-001): stop quoting and alert."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new limit order; `order_link_id` is mandatory (idempotency and reconciliation)."""

    symbol: Symbol
    side: Side
    qty: Decimal
    price: Decimal
    order_link_id: OrderLinkId
    time_in_force: TimeInForce = TimeInForce.POST_ONLY
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class AmendRequest:
    """Change price and/or qty of an open order, addressed by link id (or order id)."""

    symbol: Symbol
    order_link_id: OrderLinkId | None = None
    order_id: OrderId | None = None
    price: Decimal | None = None
    qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    symbol: Symbol
    order_link_id: OrderLinkId | None = None
    order_id: OrderId | None = None


@dataclass(frozen=True, slots=True)
class OrderResult:
    """Per-item outcome of a create/amend/cancel (batch index order is preserved).

    `ok` means *accepted* by the venue, not resting/filled: confirm on the order stream.
    When not ok, `error` is the typed error for this item (ExchangeRejected for business
    refusals, OrderStateUnknown when the item's outcome cannot be known).
    """

    order_link_id: OrderLinkId
    order_id: OrderId
    ok: bool
    ret_code: int = 0
    ret_msg: str = ""
    error: ExchangeError | None = None


@dataclass(frozen=True, slots=True)
class FeeRate:
    symbol: Symbol
    maker: Decimal  # negative = rebate
    taker: Decimal


@runtime_checkable
class EventStream(Protocol):
    """One supervised WebSocket (public, private or trade) and the events it yields.

    The runtime runs `run()` inside its TaskGroup and consumes events with `get()` / `async for`.
    Book updates may be coalesced to the latest state when the consumer is behind; order,
    execution, position and wallet events are never dropped.
    """

    @property
    def kind(self) -> StreamKind: ...

    async def run(self) -> None:
        """Connect and keep connected until `close()`.

        Raises:
            AuthError: credentials rejected (fatal, after one try).
            StreamExhausted: max reconnect attempts used up.
        """

    async def get(self) -> ExchangeEvent:
        """Next event (waits)."""

    def __aiter__(self) -> AsyncIterator[ExchangeEvent]: ...

    def request_resync(self, symbol: Symbol) -> None:
        """The consumer found the book for `symbol` broken: fetch a fresh snapshot (public only)."""

    def close(self) -> None:
        """Ask `run()` to stop after closing the socket; idempotent."""


@runtime_checkable
class ExchangeClient(Protocol):
    """Everything the bot may ask of a venue. Implemented by `bot.exchange.bybit.client.BybitClient`."""

    # -- reference data -------------------------------------------------------------------------
    async def instruments(self, symbols: Sequence[Symbol]) -> dict[Symbol, Instrument]:
        """Tick/lot rules for `symbols`; raises ExchangeRejected for an unknown symbol."""

    async def fee_rates(self, symbols: Sequence[Symbol]) -> dict[Symbol, FeeRate]: ...

    async def server_time_offset_ms(self) -> int:
        """Re-measure (server - local) clock offset in ms; also used to sign requests."""

    # -- orders (writes never blind-retry) --------------------------------------------------------
    async def submit(self, order: OrderRequest) -> OrderResult:
        """Place one order.

        Raises:
            ExchangeRejected: refused (ret_code says why; e.g. 110072 duplicate link id).
            OrderStateUnknown: timeout/overload: reconcile by `order.order_link_id`.
        """

    async def submit_batch(self, orders: Sequence[OrderRequest]) -> list[OrderResult]:
        """Place orders in venue-sized batches; one result per order, same order.

        Raises:
            OrderStateUnknown: a whole batch's outcome is unknown (results for earlier
                batches are attached as `exc.context["results"]`).
        """

    async def amend(self, req: AmendRequest) -> OrderResult:
        """Amend one order through the single-order endpoint (same errors as `submit`)."""

    async def cancel(self, req: CancelRequest) -> OrderResult:
        """Cancel one order through the single-order endpoint (same errors as `submit`)."""

    async def amend_batch(self, amends: Sequence[AmendRequest]) -> list[OrderResult]: ...

    async def cancel_batch(self, cancels: Sequence[CancelRequest]) -> list[OrderResult]: ...

    async def cancel_all(self, symbol: Symbol) -> list[OrderResult]:
        """Cancel every open order on `symbol`; results list what the venue cancelled."""

    async def arm_dcp(self, window_s: int) -> None:
        """Enable disconnect-cancel-all with `window_s` seconds (needs the private stream's dcp topic)."""

    # -- state reads (safe to retry) ---------------------------------------------------------------
    async def open_orders(
        self, symbol: Symbol | None = None, link_prefix: str | None = None
    ) -> list[OrderUpdate]: ...

    async def order_by_link_id(self, symbol: Symbol, order_link_id: OrderLinkId) -> OrderUpdate | None:
        """Find one order (open or recently closed) by link id: the reconcile path after OrderStateUnknown."""

    async def executions(self, since_ms: int, symbol: Symbol | None = None) -> list[Execution]: ...

    def execution_pages(self, since_ms: int, symbol: Symbol | None = None) -> AsyncIterator[list[Execution]]:
        """`executions` one venue page at a time, so a long window is never all in memory at once."""
        ...

    async def positions(self) -> list[PositionUpdate]: ...

    async def wallet(self) -> WalletUpdate: ...

    # -- streams --------------------------------------------------------------------------------
    def public_stream(self, symbols: Sequence[Symbol], *, depth: int = 50) -> EventStream:
        """Books (`orderbook.{depth}`), trades and tickers for `symbols`."""

    def private_stream(self) -> EventStream:
        """Orders, executions, positions, wallet (and dcp) of our account."""

    async def aclose(self) -> None:
        """Close the HTTP pool and any stream; idempotent."""
