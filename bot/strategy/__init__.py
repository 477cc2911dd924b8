"""Pure quoting: (book view, inventory, params, now) -> desired quotes; the order diff."""

from bot.strategy.book_view import BookView, GridTop, TopOfBook
from bot.strategy.order_manager import OrderManager, OrderManagerStats
from bot.strategy.orders import (
    BATCH_LIMITS,
    GONE_CODES,
    POST_ONLY_REJECT,
    ActionKind,
    Batch,
    LiveOrder,
    OrderAction,
    OrderLinkIds,
    OrderUpdate,
    to_batches,
)
from bot.strategy.quoting import ObligationStatus, QuoteInputs, QuoteLevel, QuoteParams, Quotes, quote
from bot.strategy.volatility import MidVolatility

__all__ = [
    "BATCH_LIMITS",
    "GONE_CODES",
    "POST_ONLY_REJECT",
    "ActionKind",
    "Batch",
    "BookView",
    "GridTop",
    "LiveOrder",
    "MidVolatility",
    "ObligationStatus",
    "OrderAction",
    "OrderLinkIds",
    "OrderManager",
    "OrderManagerStats",
    "OrderUpdate",
    "QuoteInputs",
    "QuoteLevel",
    "QuoteParams",
    "Quotes",
    "TopOfBook",
    "quote",
    "to_batches",
]
