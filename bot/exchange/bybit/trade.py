"""Orders over the Bybit V5 WebSocket Trade API (`/v5/trade`): request/ack matching by reqId.

Same outcomes as the REST path: an ack with retCode 0 means *accepted* (confirm on the order
stream); a non-zero code is a typed error; no ack within the deadline, or a link lost while a
request is pending, is OrderStateUnknown (reconcile by orderLinkId, exactly as for REST).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from bot.common import outbound
from bot.domain import OrderId, OrderLinkId
from bot.errors import OrderStateUnknown
from bot.exchange.base import OrderRequest, OrderResult
from bot.exchange.bybit import wire
from bot.exchange.bybit.errors import error_for_ret_code
from bot.exchange.bybit.ratelimit import RateLimiter
from bot.exchange.bybit.ws import BybitStream
from bot.exchange.events import Ack, StreamStatus

__all__ = ["BybitTradeChannel", "Sent"]


class Sent(NamedTuple):
    """A trade request on the wire, its ack still to come."""

    op: str
    req_id: str
    fut: asyncio.Future[Ack]
    msg: bytes
    at: float  # monotonic seconds, for the round trip
    order_link_id: str | None


def _budget(op: str, args: list[Mapping[str, Any]]) -> tuple[str, int]:
    """The rate-limit family and cost of a trade op: "order.create-batch" -> "order_create_batch",
    one unit per batch item (WS trade requests share the per-UID limits with REST)."""
    family = _FAMILY.get(op)
    if family is None:
        family = _FAMILY[op] = op.replace(".", "_").replace("-", "_")
    return family, max(1, len(args[0].get("request") or ()) if op.endswith("-batch") else 1)


_FAMILY: dict[str, str] = {}


class BybitTradeChannel:
    """Wraps a TRADE-kind BybitStream (run it in the runtime's TaskGroup like any stream)."""

    def __init__(self, stream: BybitStream, *, category: str = "linear", recv_window_ms: int = 5000,
                 ack_timeout_s: float = 5.0, wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
                 limiter: RateLimiter | None = None) -> None:
        self.stream = stream
        # WS trade requests share the per-UID limits with REST (reference section 8).
        self.limiter = limiter
        self.category = category
        self.recv_window_ms = recv_window_ms
        self.ack_timeout_s = ack_timeout_s
        self._wall_ms = wall_ms
        self._pending: dict[str, asyncio.Future[Ack]] = {}
        self._ids = itertools.count(1)
        self._prefix = f"t{time.time_ns() % 10**9:09d}-"  # reqIds must not repeat on a connection (20006)
        # (family, seconds) of each acked request, send to ack, like BybitRest.on_rtt: the venue's
        # round trip without the wait for our own rate limiter (the runtime's latency guard)
        self.on_rtt: Callable[[str, float], None] | None = None
        stream.on_ack = self._on_ack
        stream.on_state = self._on_state

    def _on_ack(self, ack: Ack) -> bool:
        fut = self._pending.pop(ack.req_id, None)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(ack)
        return True

    def _on_state(self, status: StreamStatus) -> None:
        if status is not StreamStatus.CONNECTED:  # the link went away: pending requests are unknowable
            for req_id, fut in list(self._pending.items()):
                if not fut.done():
                    fut.set_exception(OrderStateUnknown("trade stream lost with a request pending", req_id=req_id))
            self._pending.clear()

    async def request(self, op: str, args: list[Mapping[str, Any]], *, order_link_id: str | None = None) -> Ack:
        """Send one trade op and wait for its ack.

        Raises:
            ExchangeUnavailable: not connected (nothing was sent).
            OrderStateUnknown: sent but no ack (timeout or link lost).
            ExchangeRejected, AuthError: a non-zero retCode.
        """
        if self.limiter is not None:
            await self.limiter.acquire(*_budget(op, args), max_wait_s=self.ack_timeout_s)
        sent = self._prepare(op, args, order_link_id)
        outbound.going_out()
        try:
            await self.stream.send(sent.msg)
        except BaseException:
            self._pending.pop(sent.req_id, None)
            raise
        return await self.finish(sent)

    def send_now(self, op: str, args: list[Mapping[str, Any]], *, order_link_id: str | None = None) -> Sent | None:
        """Send one trade op in the caller's step when that needs no wait: connected, room in the
        rate limit, the socket not backed up. None: nothing was sent (use `request`). Await
        `finish()` for the ack; it raises as `request` does."""
        if not self.stream.can_send_now():
            return None
        if self.limiter is not None and not self.limiter.try_take(*_budget(op, args)):
            return None
        sent = self._prepare(op, args, order_link_id)
        outbound.going_out()
        self.stream.send_now(sent.msg)
        return sent

    def _prepare(self, op: str, args: list[Mapping[str, Any]], order_link_id: str | None) -> Sent:
        req_id = f"{self._prefix}{next(self._ids)}"
        fut: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        msg = wire.trade_msg(op, req_id, self._wall_ms() + self.stream.offset_ms, self.recv_window_ms, args)
        return Sent(op, req_id, fut, msg, time.monotonic(), order_link_id)

    async def finish(self, sent: Sent) -> Ack:
        """The ack of a sent request (see `request` for what it raises)."""
        op, order_link_id = sent.op, sent.order_link_id
        try:
            async with asyncio.timeout(self.ack_timeout_s):
                ack = await sent.fut
        except TimeoutError as exc:
            self._pending.pop(sent.req_id, None)
            raise OrderStateUnknown(f"{op}: no ack within {self.ack_timeout_s}s", order_link_id=order_link_id,
                                    req_id=sent.req_id) from exc
        if self.on_rtt is not None:
            self.on_rtt(op, time.monotonic() - sent.at)
        if ack.ret_code != 0:
            raise error_for_ret_code(ack.ret_code, ack.ret_msg, write=True, endpoint=op, order_link_id=order_link_id)
        return ack

    async def submit(self, order: OrderRequest) -> OrderResult:
        ack = await self.request("order.create", [wire.create_item(order, self.category)],
                                 order_link_id=order.order_link_id)
        data = ack.data.get("data") if isinstance(ack.data, dict) else None
        data = data if isinstance(data, dict) else {}
        return OrderResult(order_link_id=OrderLinkId(str(data.get("orderLinkId") or order.order_link_id)),
                           order_id=OrderId(str(data.get("orderId") or "")), ok=True)
