"""Start-up and reconnect reconciliation: our open orders, positions, balances, missed fills, DCP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot.domain import OrderLinkId, Symbol
from bot.errors import ExchangeError, MMError
from bot.exchange.base import CancelRequest, ExchangeClient
from bot.exchange.events import Execution, OrderUpdate, PositionUpdate, WalletUpdate
from bot.observability.ledger import Ledger
from bot.observability.logging import get_logger

__all__ = ["ReconcileError", "ReconcileReport", "backfill_executions", "cancel_ours", "reconcile_on_start"]

log = get_logger(__name__)

# Executions can land on the venue a little after their exec time is stamped; re-reading an
# overlap costs nothing because the ledger ignores execIds it already has.
BACKFILL_OVERLAP_MS = 5 * 60 * 1000
_IO_TIMEOUT_S = 10.0


class ReconcileError(ExchangeError):
    """Start-up reconciliation failed: the bot must not quote."""


@dataclass(slots=True)
class ReconcileReport:
    cancelled: list[OrderLinkId] = field(default_factory=list)
    adopted: list[OrderUpdate] = field(default_factory=list)
    positions: list[PositionUpdate] = field(default_factory=list)
    wallet: WalletUpdate | None = None
    backfilled: int = 0
    dcp_armed: bool = False
    dcp_error: str = ""

    def as_log(self) -> dict[str, object]:
        return {"cancelled": len(self.cancelled), "adopted": len(self.adopted),
                "positions": ",".join(f"{p.symbol}:{p.signed_size}" for p in self.positions if p.size),
                "backfilled": self.backfilled, "dcp_armed": self.dcp_armed}


async def open_ours(client: ExchangeClient, symbols: Sequence[Symbol], prefix: str) -> list[OrderUpdate]:
    """Our open orders (orderLinkId starts with `<prefix>-`) on the configured symbols."""
    out: list[OrderUpdate] = []
    for sym in symbols:
        orders = await asyncio.wait_for(client.open_orders(sym, link_prefix=f"{prefix}-"), _IO_TIMEOUT_S)
        out.extend(o for o in orders if o.order_link_id.startswith(f"{prefix}-") and o.status.is_open)
    return out


async def cancel_ours(client: ExchangeClient, symbols: Sequence[Symbol], prefix: str, *,
                      attempts: int = 4, pause_s: float = 0.15) -> tuple[list[OrderLinkId], int]:
    """Cancel our open orders and re-read until none are left; (cancelled ids, still open).

    Creates still in flight can land after the first read, hence the verify loop.
    """
    cancelled: list[OrderLinkId] = []
    left: list[OrderUpdate] = []
    for attempt in range(attempts):
        left = await open_ours(client, symbols, prefix)
        if not left:
            return cancelled, 0
        reqs = [CancelRequest(o.symbol, order_link_id=o.order_link_id) for o in left]
        try:
            results = await asyncio.wait_for(client.cancel_batch(reqs), _IO_TIMEOUT_S)
            cancelled.extend(r.order_link_id for r in results if r.ok)
        except ExchangeError as exc:
            log.warning("cancel_ours_failed", attempt=attempt + 1, error=str(exc))
        await asyncio.sleep(pause_s)
    left = await open_ours(client, symbols, prefix)
    return cancelled, len(left)


async def backfill_executions(client: ExchangeClient, ledger: Ledger, symbols: Sequence[Symbol]) -> list[Execution]:
    """Fills since the ledger's watermark (minus an overlap) into the ledger; returns the new ones.

    Read a page at a time and keep only what the ledger lacks: after a reconnect the overlap is
    hundreds to thousands of executions the ledger already has, and holding them all (raw JSON,
    parsed events, fills) at once was a multi-MB transient at every private reconnect, which the
    allocator kept as RSS. What is recorded, and when, is unchanged: one transaction per symbol
    after its whole window was read.
    """
    # Bybit serves at most the last 7 days; a fresh ledger starts there.
    floor = int(time.time() * 1000) - 7 * 86_400_000 + 60_000
    since = max(floor, ledger.watermark_ms() - BACKFILL_OVERLAP_MS)
    new: list[Execution] = []
    for sym in symbols:
        fresh: dict[str, Execution] = {}
        async with asyncio.timeout(_IO_TIMEOUT_S):
            async for page in client.execution_pages(since, sym):
                trades = {e.exec_id: e for e in page if e.is_trade}
                known = ledger.known_exec_ids(list(trades))
                fresh.update((k, e) for k, e in trades.items() if k not in known and k not in fresh)
                del page, trades  # one page alive at a time, also while the next one is read
        added = ledger.record_fills([e.to_fill() for e in fresh.values()], source="rest")
        new.extend(fresh[f.exec_id] for f in added)
    if new:
        log.info("executions_backfilled", count=len(new), since_ms=since)
    return new


async def arm_dcp(client: ExchangeClient, window_s: int) -> str:
    """Arm disconnect-cancel-all; '' on success, else why not (not fatal: not every account has it)."""
    try:
        await asyncio.wait_for(client.arm_dcp(window_s), _IO_TIMEOUT_S)
    except (ExchangeError, TimeoutError) as exc:
        log.warning("dcp_not_armed", error=str(exc) or type(exc).__name__)
        return str(exc) or type(exc).__name__
    log.info("dcp_armed", window_s=window_s)
    return ""


async def reconcile_on_start(client: ExchangeClient, ledger: Ledger, symbols: Sequence[Symbol], *, prefix: str,
                             adopt: bool, dcp_window_s: int | None) -> ReconcileReport:
    """Cancel (or adopt) our leftover orders, read positions and balances, backfill fills, arm DCP.

    Raises:
        ReconcileError: anything here failed, or orders of ours stay open after cancelling.
    """
    rep = ReconcileReport()
    try:
        if adopt:
            rep.adopted = await open_ours(client, symbols, prefix)
        else:
            rep.cancelled, left = await cancel_ours(client, symbols, prefix)
            if left:
                raise ReconcileError(f"{left} order(s) with prefix {prefix!r} still open after cancelling")
        rep.positions = [p for p in await asyncio.wait_for(client.positions(), _IO_TIMEOUT_S)
                         if p.symbol in symbols]
        rep.wallet = await asyncio.wait_for(client.wallet(), _IO_TIMEOUT_S)
        rep.backfilled = len(await backfill_executions(client, ledger, symbols))
    except ReconcileError:
        raise
    except (MMError, TimeoutError, OSError) as exc:
        raise ReconcileError(f"start-up reconciliation failed: {exc or type(exc).__name__}") from exc
    if dcp_window_s is not None:
        rep.dcp_error = await arm_dcp(client, dcp_window_s)
        rep.dcp_armed = not rep.dcp_error
    log.info("reconciled", **rep.as_log())
    return rep


def equity(wallet: WalletUpdate | None) -> Decimal:
    return wallet.total_equity if wallet else Decimal(0)
