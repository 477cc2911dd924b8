"""The project's error tree; every layer raises these, mmctl maps them to exit codes once."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "BookCrossed",
    "BookError",
    "BookParseError",
    "BookResyncRequired",
    "BookValidationError",
    "ConfigError",
    "ExchangeError",
    "ExchangeRejected",
    "ExchangeUnavailable",
    "MMError",
    "OrderStateUnknown",
    "ParseError",
    "RiskRejected",
]


class MMError(Exception):
    """Base of every error the project raises on purpose; carries context fields."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        if not self.context:
            return self.message
        extras = " ".join(f"{k}={v}" for k, v in sorted(self.context.items()))
        return f"{self.message} ({extras})"


class ConfigError(MMError):
    """Bad or missing configuration or secret; `problems` lists every (key_path, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.problems: list[tuple[str, str]] = problems or []


class ExchangeError(MMError):
    """Anything that went wrong talking to a venue."""

    def __init__(self, message: str, *, ret_code: int | None = None, **context: Any) -> None:
        super().__init__(message, ret_code=ret_code, **context)
        self.ret_code = ret_code


class ExchangeUnavailable(ExchangeError):
    """Network failure, timeout, 5xx or a rate-limit rejection of a read: back off and retry."""


class ExchangeRejected(ExchangeError):
    """The venue refused the request with a business retCode: do not retry as is."""


class AuthError(ExchangeError):
    """Key, signature or permission problem: fatal, never retried in a loop."""


class OrderStateUnknown(ExchangeError):
    """A write whose outcome is unknown (timeout, 10000, 10006, 10016...): reconcile by orderLinkId."""


class RiskRejected(MMError):
    """A risk check refused an action; `reason` is a stable code for metrics and logs."""

    def __init__(self, message: str, *, reason: str, **context: Any) -> None:
        super().__init__(message, reason=reason, **context)
        self.reason = reason


class ParseError(MMError):
    """A wire payload did not match the expected schema; carries topic and an excerpt."""

    def __init__(self, message: str, *, topic: str | None = None, excerpt: str | bytes | None = None) -> None:
        if isinstance(excerpt, bytes):
            excerpt = excerpt[:160].decode("utf-8", "backslashreplace")
        elif excerpt is not None:
            excerpt = excerpt[:160]
        super().__init__(message, topic=topic, excerpt=excerpt)
        self.topic = topic
        self.excerpt = excerpt


class BookError(MMError):
    """Order book problem; the Rust book's errors arrive as subclasses of this."""


class BookValidationError(BookError):
    """A snapshot or delta was malformed (off-grid, non-positive, duplicate...); book unchanged."""


class BookCrossed(BookError):
    """Applying the update would cross the book (best bid >= best ask): resync."""


class BookResyncRequired(BookError):
    """Sequence gap, reset (u == 1) or a delta before any snapshot: fetch a fresh snapshot."""


class BookParseError(BookError):
    """The raw bytes were not a valid Bybit orderbook message."""
