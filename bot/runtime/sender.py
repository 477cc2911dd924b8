"""Order writes: one batch to the exchange client, each item's outcome back to the order manager."""

from __future__ import annotations

import time
from decimal import Decimal

from bot.domain import OrderId
from bot.errors import ExchangeError, OrderStateUnknown
from bot.exchange.base import AmendRequest, CancelRequest, ExchangeClient, OrderRequest, OrderResult
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics
from bot.risk.guards import RiskGuards
from bot.strategy.order_manager import OrderManager
from bot.strategy.orders import ActionKind, Batch, OrderAction

__all__ = ["OrderSender"]

log = get_logger(__name__)
_ZERO = Decimal(0)


class OrderSender:
    """Never resends a write whose outcome is unknown: the order stays in flight in the order
    manager until an order update or the stale sweep's `order_by_link_id` read resolves it."""

    def __init__(self, client: ExchangeClient, om: OrderManager, risk: RiskGuards, metrics: Metrics) -> None:
        self.client = client
        self.om = om
        self.risk = risk
        self.metrics = metrics

    async def _write(self, b: Batch) -> list[OrderResult]:
        acts = b.actions
        if b.kind is ActionKind.CREATE:
            return await self.client.submit_batch([
                OrderRequest(a.symbol, a.side, a.qty or _ZERO, a.price or _ZERO, a.order_link_id) for a in acts])
        if b.kind is ActionKind.AMEND:
            return await self.client.amend_batch([
                AmendRequest(a.symbol, order_link_id=a.order_link_id, price=a.price, qty=a.qty) for a in acts])
        return await self.client.cancel_batch([CancelRequest(a.symbol, order_link_id=a.order_link_id) for a in acts])

    async def send(self, b: Batch) -> None:
        acts = b.actions
        t0 = time.monotonic_ns()
        try:
            results = await self._write(b)
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
            self.metrics.rest_errors.labels(b.kind.value, str(exc.ret_code or "none")).inc()
            self.risk.on_request_result(False, now_ns=time.time_ns())
            return
        self.risk.on_latency((time.monotonic_ns() - t0) // 1_000_000)
        for a, r in zip(acts, results, strict=False):
            self.om.on_ack(a, ok=r.ok, ret_code=r.ret_code, order_id=OrderId(r.order_id) if r.order_id else None)
            self.metrics.orders.labels(a.symbol, str(a.kind), "ok" if r.ok else "rejected").inc()
            # a cancel of an order that is already gone is not an exchange health problem
            self.risk.on_request_result(r.ok or a.kind is ActionKind.CANCEL, now_ns=time.time_ns())

    def _count(self, acts: tuple[OrderAction, ...], result: str) -> None:
        for a in acts:
            self.metrics.orders.labels(a.symbol, str(a.kind), result).inc()
