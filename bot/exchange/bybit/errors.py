"""Bybit retCode / HTTP status -> the project's typed errors (pure: no I/O, no clock)."""

from __future__ import annotations

from typing import Any

from bot.errors import AuthError, ExchangeError, ExchangeRejected, ExchangeUnavailable, OrderStateUnknown

__all__ = [
    "AUTH_CODES",
    "RATE_LIMIT_CODE",
    "RETRYABLE_READ_CODES",
    "TIMESTAMP_CODE",
    "UNKNOWN_ON_WRITE_CODES",
    "error_for_http_status",
    "error_for_ret_code",
]

TIMESTAMP_CODE = 10002
RATE_LIMIT_CODE = 10006
# Key, signature, permission, IP whitelist: fatal, never retried in a loop (reference section 3).
AUTH_CODES = frozenset({10003, 10004, 10005, 10007, 10010})
# A write that met one of these may or may not have reached the matching engine: reconcile by
# orderLinkId before resending (nautilus http/error.rs list; reference section 3).
UNKNOWN_ON_WRITE_CODES = frozenset(
    {429, 10000, 10006, 10016, 10019, 10403, 10429, 170001, 170005, 170007, 170032, 20003, 20006, 500000}
)
# Transient venue trouble: a read may be retried after a backoff.
RETRYABLE_READ_CODES = frozenset({429, 10000, 10006, 10016, 10019, 10429, 170001, 170007, 500000})


def error_for_ret_code(
    ret_code: int,
    ret_msg: str,
    *,
    write: bool,
    endpoint: str = "",
    order_link_id: str | None = None,
    symbol: str | None = None,
) -> ExchangeError:
    """The typed error for a non-zero retCode; `write` selects OrderStateUnknown over Unavailable."""
    ctx: dict[str, Any] = {"endpoint": endpoint or None, "order_link_id": order_link_id, "symbol": symbol}
    msg = f"bybit retCode {ret_code}: {ret_msg}"
    if ret_code in AUTH_CODES:
        return AuthError(msg, ret_code=ret_code, **ctx)
    if write and ret_code in UNKNOWN_ON_WRITE_CODES:
        return OrderStateUnknown(msg, ret_code=ret_code, **ctx)
    if ret_code in RETRYABLE_READ_CODES or ret_code == TIMESTAMP_CODE:
        return ExchangeUnavailable(msg, ret_code=ret_code, **ctx)
    return ExchangeRejected(msg, ret_code=ret_code, **ctx)


def error_for_http_status(status: int, *, write: bool, endpoint: str = "", body_excerpt: str = "") -> ExchangeError:
    """The typed error for a non-200 HTTP status (before any retCode could be read).

    401 -> AuthError; 403 (IP ban / region) and 429/5xx -> unavailable (a write that got a 5xx
    may have been processed -> OrderStateUnknown); other 4xx -> ExchangeRejected.
    """
    msg = f"bybit HTTP {status}" + (f": {body_excerpt[:120]}" if body_excerpt else "")
    ctx: dict[str, Any] = {"endpoint": endpoint or None, "http_status": status}
    if status == 401:
        return AuthError(msg, **ctx)
    if status == 403:
        # The request was refused at the edge, so even a write is known not to have happened.
        return ExchangeUnavailable(msg, **ctx)
    if status == 429 or status >= 500:
        return OrderStateUnknown(msg, **ctx) if write else ExchangeUnavailable(msg, **ctx)
    return ExchangeRejected(msg, **ctx)
