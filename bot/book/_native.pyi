"""Type stub for the Rust extension `bot.book._native` (hand-written; see rust/src/python.rs)."""

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, Self, TypeAlias, final

__all__ = ["OrderBook", "__version__"]
__version__: str

_DecimalLike: TypeAlias = str | Decimal | int
_Level: TypeAlias = tuple[Decimal, Decimal]
_LevelIn: TypeAlias = Sequence[_DecimalLike]
# (best_bid_ticks, best_bid_lots, best_ask_ticks, best_ask_lots, update_id, resync_needed)
_MessageResult: TypeAlias = tuple[int | None, int | None, int | None, int | None, int, bool]

@final
class OrderBook:
    """L2 book on integer ticks/lots. Complexity notes: rust/README.md."""

    def __new__(cls, tick_size: _DecimalLike, lot_size: _DecimalLike, depth: int = 0) -> Self:
        """`depth` caps the levels kept per side (0 = unlimited). Raises BookValidationError."""

    def apply_snapshot(
        self,
        bids: Sequence[_LevelIn],
        asks: Sequence[_LevelIn],
        update_id: int | None = None,
        seq: int | None = None,
    ) -> None:
        """Replace the book (bids descending, asks ascending, sizes > 0).

        Raises:
            BookValidationError: a level is malformed, off-grid, duplicated or out of order.
            BookCrossed: best bid >= best ask. The book is unchanged on any error.
        """

    def apply_delta(
        self,
        bids: Sequence[_LevelIn],
        asks: Sequence[_LevelIn],
        update_id: int | None = None,
        seq: int | None = None,
    ) -> bool:
        """Apply a delta (size "0" deletes); False when `u <= last u` (duplicate, ignored).

        Raises:
            BookValidationError: a level is malformed or off-grid.
            BookResyncRequired: no snapshot yet, a `u` gap, `u == 1`, or already awaiting resync.
            BookCrossed: the delta would cross the book (not applied; resync needed).
        """

    def apply_message(self, raw: bytes | bytearray | str) -> _MessageResult:
        """Parse and apply one whole Bybit orderbook.* message in Rust.

        Sequence trouble is reported in the result's `resync_needed`, not raised.

        Raises:
            BookParseError: not JSON, or not an orderbook message.
            BookValidationError: a malformed level.
            BookCrossed: a crossed snapshot.
        """

    def apply_raw(self, raw: bytes | bytearray | str) -> bool:
        """`apply_message` returning only `resync_needed` (the benchmark harness shape)."""

    def best_bid(self) -> _Level | None: ...
    def best_ask(self) -> _Level | None: ...
    def best_bid_price(self) -> Decimal | None:
        """Best bid price alone (Decimal objects are cached per price: the cheapest read)."""

    def best_ask_price(self) -> Decimal | None: ...
    def best_bid_ticks(self) -> int | None: ...
    def best_ask_ticks(self) -> int | None: ...
    def bbo_ticks(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(bid ticks, bid lots, ask ticks, ask lots)."""

    def mid(self) -> Decimal | None: ...
    def microprice(self) -> Decimal | None:
        """(bid * ask_size + ask * bid_size) / (bid_size + ask_size)."""

    def spread(self) -> Decimal | None: ...
    def spread_ticks(self) -> int | None: ...
    def top(self, n: int = 5) -> tuple[list[_Level], list[_Level]]:
        """The n best levels per side, best first."""

    def top_ticks(self, n: int = 5) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]: ...
    def depth_within_bps(self, bps: _DecimalLike) -> tuple[Decimal, Decimal] | None:
        """Total (bid size, ask size) priced within `bps` basis points of the mid, inclusive."""

    def imbalance(self, levels: int = 1) -> Decimal | None:
        """(bid size - ask size) / (bid size + ask size) over the top `levels` of each side."""

    def vwap(self, side: Literal["Buy", "Sell", "buy", "sell"] | str, qty: _DecimalLike) -> Decimal | None:
        """Average price to fill `qty` now: "Buy" takes asks, "Sell" hits bids; None if too thin."""

    def level_counts(self) -> tuple[int, int]: ...
    def price_of(self, ticks: int) -> Decimal: ...
    def size_of(self, lots: int) -> Decimal: ...
    def ticks_of(self, price: _DecimalLike) -> int: ...
    def lots_of(self, size: _DecimalLike) -> int: ...
    def clear(self) -> None: ...
    @property
    def update_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def has_snapshot(self) -> bool: ...
    @property
    def resync_needed(self) -> bool: ...
    @property
    def resync_reason(self) -> Literal["no_snapshot", "gap", "reset", "crossed"] | None: ...
    @property
    def depth(self) -> int: ...
    @property
    def tick_size(self) -> Decimal: ...
    @property
    def lot_size(self) -> Decimal: ...
    def __sizeof__(self) -> int:
        """Rust-side bytes: book, level vectors, scratch, Decimal-cache slots."""
