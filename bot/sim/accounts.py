"""Per-account state: wallet balances, one-way linear positions, orders, fills; and their wire shapes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.sim.config import SimAccount
from bot.sim.orders import Execution, SimOrder, _fmt

__all__ = ["AccountState", "Position", "spot_fee_coin"]

ZERO = Decimal(0)
AVG_QUANTUM = Decimal("1e-8")


def spot_fee_coin(side: str, is_maker: bool, rate: Decimal, base: str, quote: str) -> str:
    """Bybit spot fee coin: buy pays in base, sell in quote; a rebated maker fill is the other way."""
    if is_maker and rate < 0:
        return quote if side == "Buy" else base
    return base if side == "Buy" else quote


@dataclass(slots=True)
class Position:
    symbol: str
    size: Decimal = ZERO  # signed: > 0 long
    avg_price: Decimal = ZERO
    cum_realised: Decimal = ZERO
    cur_realised: Decimal = ZERO
    leverage: Decimal = Decimal(10)
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = 0

    def apply(self, side: str, price: Decimal, qty: Decimal) -> tuple[Decimal, Decimal]:
        """Apply a fill; returns (closed size, realised pnl before fees)."""
        signed = qty if side == "Buy" else -qty
        closed = ZERO
        pnl = ZERO
        if self.size == 0 or (self.size > 0) == (signed > 0):
            new = self.size + signed
            # entry price kept to 1e-8 so PnL and balances stay exact sums (no 28-digit drift)
            self.avg_price = ((self.avg_price * abs(self.size) + price * qty) / abs(new)).quantize(AVG_QUANTUM)
            self.size = new
        else:
            closed = min(abs(self.size), qty)
            direction = 1 if self.size > 0 else -1
            pnl = (price - self.avg_price) * closed * direction
            self.size += signed
            if self.size == 0:
                self.avg_price = ZERO
            elif (self.size > 0) != (direction > 0):  # flipped: the rest opens at the fill price
                self.avg_price = price
        return closed, pnl

    def wire(self, category: str, mark: Decimal, *, ws: bool = False) -> dict[str, Any]:
        side = "Buy" if self.size > 0 else "Sell" if self.size < 0 else ""
        size = abs(self.size)
        value = size * self.avg_price
        upl = (mark - self.avg_price) * self.size if self.size else ZERO
        out: dict[str, Any] = {
            "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": self.symbol,
            "side": side, "size": _fmt(size), "positionValue": _fmt(value),
            "leverage": _fmt(self.leverage), "markPrice": _fmt(mark), "liqPrice": "", "bustPrice": "",
            "breakEvenPrice": _fmt(self.avg_price), "positionIM": _fmt(value / self.leverage),
            "positionMM": _fmt(value * Decimal("0.005")), "takeProfit": "", "stopLoss": "",
            "trailingStop": "0", "unrealisedPnl": _fmt(upl), "curRealisedPnl": _fmt(self.cur_realised),
            "cumRealisedPnl": _fmt(self.cum_realised), "positionStatus": "Normal", "adlRankIndicator": 0,
            "isReduceOnly": False, "autoAddMargin": 0, "tradeMode": 0, "positionBalance": "",
            "createdTime": str(self.created_ms), "updatedTime": str(self.updated_ms), "seq": self.seq,
            "category": category,
        }
        out["entryPrice" if ws else "avgPrice"] = _fmt(self.avg_price)
        if not ws:
            out["openTime"] = str(self.created_ms) if self.size else "0"
        return out


@dataclass(slots=True)
class AccountState:
    cfg: SimAccount
    uid: int
    wallet: dict[str, Decimal] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    open_orders: dict[str, SimOrder] = field(default_factory=dict)  # orderId -> open order
    link_ids: dict[str, SimOrder] = field(default_factory=dict)  # remembered orderLinkIds
    closed: dict[str, deque[SimOrder]] = field(default_factory=dict)  # category -> recent closed
    executions: list[Execution] = field(default_factory=list)
    dcp: dict[str, int] = field(default_factory=dict)  # product -> timeWindow s
    cum_realised: dict[str, Decimal] = field(default_factory=dict)

    @property
    def api_key(self) -> str:
        return self.cfg.api_key

    def remember_closed(self, o: SimOrder, retention: int) -> None:
        q = self.closed.setdefault(o.category, deque())
        q.append(o)
        while len(q) > retention:
            old = q.popleft()
            if old.order_link_id and self.link_ids.get(old.order_link_id) is old:
                del self.link_ids[old.order_link_id]

    def locked(self) -> dict[str, Decimal]:
        """Spot balances held by open orders (quote for buys, base for sells)."""
        out: dict[str, Decimal] = {}
        for o in self.open_orders.values():
            if o.category != "spot":
                continue
            inst = o.inst
            if o.side == "Buy":
                out[inst.quote_coin] = out.get(inst.quote_coin, ZERO) + inst.from_lots(o.leaves) * o.price_dec()
            else:
                out[inst.base_coin] = out.get(inst.base_coin, ZERO) + inst.from_lots(o.leaves)
        return out

    def available(self, coin: str) -> Decimal:
        return self.wallet.get(coin, ZERO) - self.locked().get(coin, ZERO)

    def wallet_wire(self, marks: dict[str, Decimal], coins: set[str] | None = None) -> dict[str, Any]:
        """One item of /v5/account/wallet-balance result.list (and the `wallet` topic)."""
        locked = self.locked()
        upl_by_symbol = {
            s: (marks.get(s, p.avg_price) - p.avg_price) * p.size for s, p in self.positions.items() if p.size
        }
        upl = sum(upl_by_symbol.values(), ZERO)
        im = sum((abs(p.size) * p.avg_price / p.leverage for p in self.positions.values()), ZERO)
        coin_rows = []
        total = ZERO
        for coin, bal in sorted(self.wallet.items()):
            if coins is not None and coin not in coins:
                continue
            if coins is None and bal == 0:
                continue
            px = Decimal(1) if coin in ("USDT", "USDC") else marks.get(coin + "USDT", ZERO)
            coin_upl = upl if coin == "USDT" else ZERO
            equity = bal + coin_upl
            total += equity * px
            coin_rows.append({
                "coin": coin, "equity": _fmt(equity), "usdValue": _fmt(equity * px),
                "walletBalance": _fmt(bal), "free": "", "locked": _fmt(locked.get(coin, ZERO)),
                "spotHedgingQty": "0", "borrowAmount": "0", "availableToWithdraw": "",
                "accruedInterest": "0", "totalOrderIM": "0",
                "totalPositionIM": _fmt(im) if coin == "USDT" else "0",
                "totalPositionMM": "0", "unrealisedPnl": _fmt(coin_upl),
                "cumRealisedPnl": _fmt(self.cum_realised.get(coin, ZERO)), "bonus": "0",
                "marginCollateral": True, "collateralSwitch": True, "availableToBorrow": "",
            })
        return {
            "accountType": "UNIFIED", "accountLTV": "0", "accountIMRate": "0", "accountMMRate": "0",
            "totalEquity": _fmt(total), "totalWalletBalance": _fmt(total - upl),
            "totalMarginBalance": _fmt(total), "totalAvailableBalance": _fmt(total - im),
            "totalPerpUPL": _fmt(upl), "totalInitialMargin": _fmt(im), "totalMaintenanceMargin": "0",
            "coin": coin_rows,
        }
