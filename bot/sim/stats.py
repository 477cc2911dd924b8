"""Counters the tests read: connection attempts, requests per endpoint, messages sent."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["ConnectionAttempt", "SimStats"]


class ConnectionAttempt(NamedTuple):
    stream: str  # "public" | "private" | "trade"
    ts: float  # time.monotonic()
    path: str
    refused: bool


@dataclass
class SimStats:
    connection_attempts: list[tuple[str, float]] = field(default_factory=list)  # (stream, monotonic ts)
    connection_log: list[ConnectionAttempt] = field(default_factory=list)  # with path and refused flag
    requests_per_endpoint: Counter[str] = field(default_factory=Counter)
    messages_sent_by_stream: Counter[str] = field(default_factory=Counter)
    messages_sent: int = 0
    ws_messages_received: int = 0
    # raw create params as received (REST, WS trade, batch items); the newest 10,000
    orders_received: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=10_000))
    auth_failures: Counter[int] = field(default_factory=Counter)  # retCode -> count

    def attempt(self, stream: str, ts: float, path: str, refused: bool) -> None:
        self.connection_attempts.append((stream, ts))
        self.connection_log.append(ConnectionAttempt(stream, ts, path, refused))

    def attempts(self, stream: str | None = None, *, refused: bool | None = None) -> list[ConnectionAttempt]:
        return [a for a in self.connection_log
                if (stream is None or a.stream == stream) and (refused is None or a.refused == refused)]

    def sent(self, stream: str, n: int = 1) -> None:
        self.messages_sent += n
        self.messages_sent_by_stream[stream] += n

    def as_dict(self) -> dict[str, Any]:
        return {
            "connection_attempts": [{"stream": a.stream, "ts": a.ts, "path": a.path, "refused": a.refused}
                                    for a in self.connection_log],
            "requests_per_endpoint": dict(self.requests_per_endpoint),
            "messages_sent": self.messages_sent,
            "messages_sent_by_stream": dict(self.messages_sent_by_stream),
            "ws_messages_received": self.ws_messages_received,
            "orders_received": len(self.orders_received),
            "auth_failures": {str(k): v for k, v in self.auth_failures.items()},
        }
