"""The moment an order request goes out, for tick-to-order latency.

The runtime registers a callback around a write (in a context variable: each asyncio task runs in
a copy of the context it was created in, so concurrent writes never see each other's); the transport
calls `going_out()` once the request is built, signed and rate-limited, right before it is handed
to the socket. Only the first request of a write is reported: a batch split into several requests
goes out when its first one does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["going_out", "watch"]

_HOOK: ContextVar[Callable[[int], None] | None] = ContextVar("mm_outbound_hook", default=None)


@contextmanager
def watch(callback: Callable[[int], None] | None) -> Iterator[None]:
    """Within the block, call `callback(monotonic_ns)` when this context's next order request goes out."""
    token = _HOOK.set(callback)
    try:
        yield
    finally:
        _HOOK.reset(token)


def going_out() -> None:
    """Called by a transport right before it writes an order request."""
    cb = _HOOK.get()
    if cb is not None:
        _HOOK.set(None)
        cb(time.monotonic_ns())
