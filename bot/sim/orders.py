"""Order and execution records of the emulator and their Bybit wire shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.domain import Instrument
from bot.sim.matching import RestingOrder

__all__ = ["OPEN_STATUSES", "Execution", "SimOrder", "order_wire"]

OPEN_STATUSES = frozenset({"New", "PartiallyFilled", "Untriggered"})
ZERO = Decimal(0)


@dataclass(slots=True, eq=False)
class SimOrder:
    order_id: str
    order_link_id: str
    owner: str
    category: str
    symbol: str
    side: str
    order_type: str
    tif: str
    price: int  # ticks
    qty: int  # lots
    inst: Instrument
    created_ms: int
    updated_ms: int
    filled: int = 0
    cum_value: Decimal = ZERO
    cum_fee: Decimal = ZERO
    fee_coin: str = ""
    status: str = "New"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    reduce_only: bool = False
    close_on_trigger: bool = False
    position_idx: int = 0
    smp_type: str = "None"
    market_unit: str = ""
    seq: int = 0  # creation sequence: tie-break for createdTime sorting
    resting: RestingOrder | None = field(default=None, repr=False)

    @property
    def leaves(self) -> int:
        return self.qty - self.filled if self.status in OPEN_STATUSES else 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def price_dec(self) -> Decimal:
        return self.inst.from_ticks(self.price)

    def qty_dec(self) -> Decimal:
        return self.inst.from_lots(self.qty)


def _fmt(d: Decimal) -> str:
    """Decimal -> plain string without exponent; Bybit-style ("0" for zero)."""
    if d == 0:
        return "0"
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def _z(d: Decimal) -> str:
    """Grid-precise string, but plain "0" for zero (Bybit's cumExecQty/leavesQty on an empty fill)."""
    return str(d) if d else "0"


def order_wire(o: SimOrder) -> dict[str, Any]:
    """The order as /v5/order/realtime and the `order` topic show it."""
    inst = o.inst
    filled = inst.from_lots(o.filled)
    leaves = inst.from_lots(o.leaves)
    avg = _fmt(o.cum_value / filled) if o.filled else ""
    price = o.price_dec()
    return {
        "category": o.category,
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderLinkId": o.order_link_id,
        "blockTradeId": "",
        "side": o.side,
        "positionIdx": o.position_idx,
        "orderStatus": o.status,
        "cancelType": o.cancel_type,
        "rejectReason": o.reject_reason,
        "timeInForce": o.tif,
        "isLeverage": "" if o.category != "spot" else "0",
        "price": str(price),
        "qty": str(o.qty_dec()),
        "avgPrice": avg,
        "leavesQty": _z(leaves),
        "leavesValue": _fmt(leaves * price),
        "cumExecQty": _z(filled),
        "cumExecValue": _fmt(o.cum_value),
        "cumExecFee": _fmt(o.cum_fee),
        "cumFeeDetail": {o.fee_coin: _fmt(o.cum_fee)} if o.fee_coin else {},
        "orderType": o.order_type,
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "",
        "takeProfit": "",
        "stopLoss": "",
        "tpslMode": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": o.close_on_trigger,
        "placeType": "",
        "smpType": o.smp_type,
        "smpGroup": 0,
        "smpOrderId": "",
        "marketUnit": o.market_unit,
        "createType": "CreateByUser",
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


@dataclass(slots=True)
class Execution:
    exec_id: str
    order: SimOrder
    price: int
    qty: int
    fee: Decimal
    fee_rate: Decimal
    fee_coin: str
    is_maker: bool
    exec_ms: int
    seq: int
    closed_size: Decimal
    exec_pnl: Decimal
    mark: Decimal
    order_qty: int
    leaves_after: int

    def wire(self) -> dict[str, Any]:
        o = self.order
        inst = o.inst
        price = inst.from_ticks(self.price)
        qty = inst.from_lots(self.qty)
        return {
            "category": o.category,
            "symbol": o.symbol,
            "orderId": o.order_id,
            "orderLinkId": o.order_link_id,
            "side": o.side,
            "orderPrice": str(o.price_dec()),
            "orderQty": str(inst.from_lots(self.order_qty)),
            "leavesQty": _z(inst.from_lots(self.leaves_after)),
            "createType": "CreateByUser",
            "orderType": o.order_type,
            "stopOrderType": "",
            "execFee": _fmt(self.fee),
            "execId": self.exec_id,
            "execPrice": str(price),
            "execQty": str(qty),
            "execType": "Trade",
            "execValue": _fmt(price * qty),
            "execTime": str(self.exec_ms),
            "feeCurrency": self.fee_coin,
            "isMaker": self.is_maker,
            "feeRate": _fmt(self.fee_rate),
            "tradeIv": "",
            "markIv": "",
            "markPrice": _fmt(self.mark),
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": _fmt(self.closed_size),
            "execPnl": _fmt(self.exec_pnl),
            "seq": self.seq,
            "extraFees": "",
        }
