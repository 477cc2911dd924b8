"""Order writes: one batch to the exchange client, each item's outcome back to the order manager."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from bot.common import outbound
from bot.domain import OrderId
from bot.errors import ExchangeError, ExchangeRejected, OrderStateUnknown
from bot.exchange.base import AmendRequest, CancelRequest, ExchangeClient, OrderRequest, OrderResult
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics
from bot.risk.guards import RiskGuards
from bot.runtime.tasks import LatencyStats
from bot.strategy.order_manager import OrderManager
from bot.strategy.orders import ActionKind, Batch, OrderAction

__all__ = ["OrderSender", "write", "write_now"]

log = get_logger(__name__)
_ZERO = Decimal(0)


class OrderSender:
    """Never resends a write whose outcome is unknown: the order stays in flight in the order
    manager until an order update or the stale sweep's `order_by_link_id` read resolves it."""

    def __init__(self, client: ExchangeClient, om: OrderManager, risk: RiskGuards, metrics: Metrics,
                 latency: LatencyStats) -> None:
        self.client = client
        self.om = om
        self.risk = risk
        self.metrics = metrics
        self.latency = latency
        # The latency guard wants the venue's round trip. A client that reports it per request
        # (BybitClient's REST layer) feeds the guard directly; timing the whole call here would
        # count the wait for our own rate limiter as exchange latency and halt quoting near a limit.
        rest: Any = getattr(client, "rest", None)
        self._venue_rtt = hasattr(rest, "on_rtt")
        if self._venue_rtt:
            rest.on_rtt = self._on_rtt
        self.inflight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._tg: asyncio.TaskGroup | None = None
        # (batch, its results if already sent, tick ns, on-the-wire ns): taken by submit, for flush
        self._after: list[tuple[Batch, Coroutine[Any, Any, list[OrderResult]] | None, int | None, int]] = []

    def watch_trade_channel(self, channel: Any) -> None:
        """Orders over a WS trade channel report their round trips to the latency guard too."""
        channel.on_rtt = self._on_rtt

    async def run(self) -> None:
        """Owns the write tasks (one TaskGroup): the quote loop hands batches over and moves on to
        the next book update instead of waiting for each REST round trip."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            try:
                await asyncio.Event().wait()
            finally:
                self._tg = None

    def submit(self, b: Batch, *, tick_ns: int | None) -> bool:
        """Send one batch; `tick_ns` = arrival of the book update that caused it. True when the
        request went out in this step, False when its task will send it. Call `flush()` before the
        step ends: the bookkeeping waits there, so the next symbol's cycle does not wait behind it.
        """
        if self._tg is None:
            raise RuntimeError("order sender is not running")
        self.inflight += 1
        self._idle.clear()
        # The request goes out here, inside the quote cycle's step, when the client can send it
        # without waiting; the task only awaits the answer. Otherwise the task sends it.
        token = outbound.arm()
        try:
            pending = write_now(self.client, b)
        finally:
            out_ns = outbound.disarm(token)
        self._after.append((b, pending, tick_ns, out_ns))
        return pending is not None

    def flush(self) -> None:
        """Start the tasks for the batches `submit` took, and time the ones already on the wire."""
        tg, after = self._tg, self._after
        if not after:
            return
        self._after = []
        if tg is None:  # stopped in between: nothing awaits them
            for _, pending, _, _ in after:
                if pending is not None:
                    pending.close()
            self.inflight -= len(after)
            if self.inflight == 0:
                self._idle.set()
            return
        for b, pending, tick_ns, out_ns in after:
            if pending is None:
                tg.create_task(self._send_tracked(b, tick_ns, None))
                continue
            if tick_ns is not None and out_ns:
                self._tick_to_order(tick_ns, b.actions[0].symbol, out_ns)
            task = tg.create_task(self._send_tracked(b, None, pending))
            # a task cancelled before its first step never awaits it
            task.add_done_callback(functools.partial(_close, pending))

    async def idle(self, timeout_s: float) -> bool:
        """Wait until no write is in flight; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _send_tracked(self, b: Batch, tick_ns: int | None,
                            pending: Coroutine[Any, Any, list[OrderResult]] | None) -> None:
        token = outbound.arm()
        try:
            await self.send(b, pending)
        finally:
            out_ns = outbound.disarm(token)
            if tick_ns is not None and out_ns:
                self._tick_to_order(tick_ns, b.actions[0].symbol, out_ns)
            self.inflight -= 1
            if self.inflight == 0:
                self._idle.set()

    def _tick_to_order(self, tick_ns: int, symbol: str, out_ns: int) -> None:
        lat = out_ns - tick_ns
        self.latency.add(lat)
        self.metrics.tick_to_order.labels(symbol).observe(lat / 1e9)

    def _on_rtt(self, family: str, seconds: float) -> None:
        self.risk.on_latency(int(seconds * 1000))

    async def send(self, b: Batch, pending: Coroutine[Any, Any, list[OrderResult]] | None = None) -> None:
        """Send `b` (or await `pending`, its request already sent by `write_now`) and feed each
        item's outcome to the order manager and the guards."""
        acts = b.actions
        t0 = time.monotonic_ns()
        try:
            results = await write(self.client, b, pending)
        except OrderStateUnknown as exc:
            log.warning("order_state_unknown", kind=str(b.kind), n=len(acts), error=str(exc))
            self._count(acts, "unknown")
            self.risk.on_request_result(False, now_ns=time.time_ns())
            return
        except ExchangeError as exc:
            log.warning("order_write_failed", kind=str(b.kind), n=len(acts), error=str(exc))
            for a in acts:
                self.om.on_ack(a, ok=False, ret_code=exc.ret_code)
            self._count(acts, "error")
            self.risk.on_request_result(False, now_ns=time.time_ns())
            return
        if not self._venue_rtt:
            self.risk.on_latency((time.monotonic_ns() - t0) // 1_000_000)
        for a, r in zip(acts, results, strict=False):
            self.om.on_ack(a, ok=r.ok, ret_code=r.ret_code, order_id=OrderId(r.order_id) if r.order_id else None)
            self.metrics.orders.labels(a.symbol, str(a.kind), "ok" if r.ok else "rejected").inc()
            # the guards treat the venue's "order gone" codes (a cancel or amend that lost the race to
            # a fill) as healthy answers, whatever the action
            self.risk.on_request_result(r.ok, now_ns=time.time_ns(), ret_code=r.ret_code)

    def _count(self, acts: tuple[OrderAction, ...], result: str) -> None:
        for a in acts:
            self.metrics.orders.labels(a.symbol, str(a.kind), result).inc()


def _close(coro: Coroutine[Any, Any, Any], _task: object) -> None:
    coro.close()


def write_now(client: ExchangeClient, b: Batch) -> Coroutine[Any, Any, list[OrderResult]] | None:
    """Send `b` in the caller's step if the client can without waiting (`BybitClient.write_now`);
    the coroutine awaits the results. None: nothing was sent."""
    now = getattr(client, "write_now", None)
    if now is None:
        return None
    reqs: list[Any] = [_REQUEST[b.kind](a) for a in b.actions]
    result: Coroutine[Any, Any, list[OrderResult]] | None = now(b.kind.value, reqs, batch=b.is_batch)
    return result


async def write(client: ExchangeClient, b: Batch, pending: Coroutine[Any, Any, list[OrderResult]] | None = None
                ) -> list[OrderResult]:
    """Send one batch through the endpoint the throttle granted it from; one result per action.

    A one-item batch that is not `force_batch` goes to the single-order endpoint: the throttle
    spent that endpoint's budget on it, and the client's rate limiter counts it there. A
    refusal of that one item comes back as its result (ok=False, ret_code), as a batch reports it.
    `pending`: the results of `b` already sent by `write_now`.
    """
    acts = b.actions
    if not b.is_batch:
        a = acts[0]
        try:
            if pending is not None:
                return await pending
            if b.kind is ActionKind.CREATE:
                return [await client.submit(_create(a))]
            if b.kind is ActionKind.AMEND:
                return [await client.amend(_amend(a))]
            return [await client.cancel(_cancel(a))]
        except ExchangeRejected as exc:
            return [OrderResult(a.order_link_id, OrderId(""), ok=False, ret_code=exc.ret_code or 0,
                                ret_msg=str(exc), error=exc)]
    if pending is not None:
        return await pending
    if b.kind is ActionKind.CREATE:
        return await client.submit_batch([_create(a) for a in acts])
    if b.kind is ActionKind.AMEND:
        return await client.amend_batch([_amend(a) for a in acts])
    return await client.cancel_batch([_cancel(a) for a in acts])


def _create(a: OrderAction) -> OrderRequest:
    return OrderRequest(a.symbol, a.side, a.qty or _ZERO, a.price or _ZERO, a.order_link_id)


def _amend(a: OrderAction) -> AmendRequest:
    return AmendRequest(a.symbol, order_link_id=a.order_link_id, price=a.price, qty=a.qty)


def _cancel(a: OrderAction) -> CancelRequest:
    return CancelRequest(a.symbol, order_link_id=a.order_link_id)


_REQUEST: dict[ActionKind, Callable[[OrderAction], Any]] = {
    ActionKind.CREATE: _create, ActionKind.AMEND: _amend, ActionKind.CANCEL: _cancel}
