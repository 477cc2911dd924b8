"""Fault injection on command: WS drops and stalls, refused connections, book gaps and resets,
REST errors and delays, rate-limit bursts, forced order rejections."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sim.server import SimServer

__all__ = ["Faults"]

log = logging.getLogger(__name__)
STREAMS = ("public", "private", "trade")


@dataclass
class _RestError:
    remaining: int
    status: int
    path_prefix: str


@dataclass
class Faults:
    """All fault state; the server consults it on every connection, request and order."""

    server: SimServer
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # nosec B311: seeded simulation, not crypto
    refuse_until: dict[str | None, float] = field(default_factory=dict)
    refuse_mode: str = "http503"
    stalled_until: dict[str | None, float] = field(default_factory=dict)
    rest_error_queue: list[_RestError] = field(default_factory=list)
    rest_delay_s: float = 0.0
    rest_delay_remaining: int = 0
    rate_limit_until: float = 0.0
    rate_limit_remaining: int = 0
    reject_remaining: int = 0
    reject_code: tuple[int, str] = (10001, "params error")
    ip_ban_until: float = 0.0

    # ---- WebSocket
    def drop_ws(self, stream: str | None = None, fraction: float = 1.0, code: int = 1006) -> int:
        """Close some or all WS connections of a stream type (None = all); returns how many."""
        _check_stream(stream)
        conns = [c for c in self.server.hub.connections() if stream is None or c.stream == stream]
        picked = [c for c in conns if fraction >= 1.0 or self.rng.random() < fraction]
        for c in picked:
            c.abort(code)
        log.info("sim_fault_drop_ws stream=%s dropped=%d", stream, len(picked))
        return len(picked)

    def refuse_connections(self, seconds: float, stream: str | None = None, mode: str = "http503") -> None:
        """Refuse new WS handshakes for a while (mode "http503": answer 503; "reset": drop the TCP
        connection before any reply); attempts are still counted."""
        _check_stream(stream)
        if mode not in ("http503", "reset"):
            raise ValueError("mode must be 'http503' or 'reset'")
        self.refuse_until[stream] = time.monotonic() + seconds
        self.refuse_mode = mode

    def is_refused(self, stream: str) -> bool:
        now = time.monotonic()
        return self.refuse_until.get(stream, 0.0) > now or self.refuse_until.get(None, 0.0) > now

    def stall_stream(self, seconds: float, stream: str | None = None) -> None:
        """Stop sending anything (data and pongs) on a stream type for a while; then resume."""
        _check_stream(stream)
        self.stalled_until[stream] = time.monotonic() + seconds

    def is_stalled(self, stream: str) -> bool:
        now = time.monotonic()
        return self.stalled_until.get(stream, 0.0) > now or self.stalled_until.get(None, 0.0) > now

    def stall_remaining(self, stream: str) -> float:
        now = time.monotonic()
        return max(self.stalled_until.get(stream, 0.0), self.stalled_until.get(None, 0.0)) - now

    def book_gap(self, symbol: str, category: str | None = None) -> int:
        """Skip one `u` on the next delta of every depth stream of symbol; returns streams affected."""
        streams = self.server.hub.book_streams_for(symbol, category)
        for s in streams:
            s.gap_pending = True
        return len(streams)

    def book_reset(self, symbol: str, category: str | None = None) -> int:
        """Send a fresh snapshot with u == 1 (service restart) on every depth stream of symbol."""
        streams = self.server.hub.book_streams_for(symbol, category)
        for s in streams:
            s.reset_pending = True
        return len(streams)

    # ---- REST
    def rest_errors(self, n: int, status: int = 503, path_prefix: str = "/v5/") -> None:
        """The next n REST requests (matching path_prefix) get this HTTP status."""
        self.rest_error_queue.append(_RestError(n, status, path_prefix))

    def take_rest_error(self, path: str) -> int | None:
        for e in self.rest_error_queue:
            if e.remaining > 0 and path.startswith(e.path_prefix):
                e.remaining -= 1
                status = e.status
                self.rest_error_queue = [x for x in self.rest_error_queue if x.remaining > 0]
                return status
        return None

    def rest_delay(self, seconds: float, n: int = 1) -> None:
        """Delay the next n REST responses (a delay past the client's timeout is a timeout)."""
        self.rest_delay_s = seconds
        self.rest_delay_remaining = n

    def take_rest_delay(self) -> float:
        if self.rest_delay_remaining > 0:
            self.rest_delay_remaining -= 1
            return self.rest_delay_s
        return 0.0

    def rate_limit_burst(self, n: int = 0, seconds: float = 0.0) -> None:
        """Answer 10006 to the next n rate-limited requests and/or all of them for `seconds`."""
        self.rate_limit_remaining = n
        self.rate_limit_until = time.monotonic() + seconds if seconds else 0.0

    def take_rate_limit(self) -> bool:
        if self.rate_limit_until > time.monotonic():
            return True
        if self.rate_limit_remaining > 0:
            self.rate_limit_remaining -= 1
            return True
        return False

    def reject_next_orders(self, n: int, ret_code: int = 10001, ret_msg: str | None = None) -> None:
        """The next n order creates (REST, WS trade, batch items) fail with ret_code."""
        self.reject_remaining = n
        self.reject_code = (ret_code, ret_msg or _DEFAULT_MSGS.get(ret_code, "params error"))

    def take_reject(self) -> tuple[int, str] | None:
        if self.reject_remaining > 0:
            self.reject_remaining -= 1
            return self.reject_code
        return None

    def clear(self) -> None:
        """Lift every fault."""
        self.refuse_until.clear()
        self.stalled_until.clear()
        self.rest_error_queue.clear()
        self.rest_delay_remaining = 0
        self.rate_limit_remaining = 0
        self.rate_limit_until = 0.0
        self.reject_remaining = 0
        self.ip_ban_until = 0.0

    def state(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "refused": {str(k): round(v - now, 3) for k, v in self.refuse_until.items() if v > now},
            "stalled": {str(k): round(v - now, 3) for k, v in self.stalled_until.items() if v > now},
            "rest_errors": [e.__dict__ for e in self.rest_error_queue],
            "rest_delay": {"seconds": self.rest_delay_s, "remaining": self.rest_delay_remaining},
            "rate_limit": {"remaining": self.rate_limit_remaining,
                           "seconds": max(0.0, self.rate_limit_until - now)},
            "reject_next_orders": {"remaining": self.reject_remaining, "code": self.reject_code[0]},
            "ip_banned_s": max(0.0, self.ip_ban_until - now),
        }


_DEFAULT_MSGS = {
    10001: "params error",
    10006: "Too many visits!",
    10016: "Server error.",
    110004: "Insufficient wallet balance",
    110007: "ab not enough for new order",
    110012: "Insufficient available balance.",
    110020: "Exceeds the maximum number of active orders",
    110079: "The order is processing and can not be operated, please try again later",
    170131: "Insufficient balance.",
}


def _check_stream(stream: str | None) -> None:
    if stream is not None and stream not in STREAMS:
        raise ValueError(f"stream must be one of {STREAMS} or None, not {stream!r}")
