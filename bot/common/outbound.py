"""The moment an order request goes out, for tick-to-order latency.

A write arms a stamp (a context variable: each asyncio task runs in a copy of the context it was
created in, so concurrent writes never see each other's); the transport calls `going_out()` once
the request is built, signed and rate-limited, right before it is handed to the socket; the write
reads the stamp back when it is done. Only the first request of a write is stamped: a batch split
into several requests goes out when its first one does. Nothing else runs before the socket write:
what the stamp is for (a histogram, the bench's samples) is the caller's, after it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

__all__ = ["arm", "disarm", "going_out"]

_ARMED = -1
# 0: no write is watching; _ARMED: waiting for the first request; > 0: its monotonic ns
_STAMP: ContextVar[int] = ContextVar("mm_outbound_stamp", default=0)


def arm() -> Token[int]:
    """Watch this context's next order request; pass the token to `disarm`."""
    return _STAMP.set(_ARMED)


def disarm(token: Token[int]) -> int:
    """When the first request since `arm` went out (monotonic ns), 0 if none did; stops watching."""
    out = _STAMP.get()
    _STAMP.reset(token)
    return out if out > 0 else 0


def going_out() -> None:
    """Called by a transport right before it writes an order request."""
    if _STAMP.get() == _ARMED:
        _STAMP.set(time.monotonic_ns())
