"""Bybit V5 wire format we send: paths, request bodies, query strings, signed headers, WS commands.

Pure: timestamps and ids are arguments. Field names keep Bybit's spelling (`orderLinkId`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

from bot.common import json_io
from bot.exchange.base import AmendRequest, CancelRequest, OrderRequest
from bot.exchange.bybit.signing import sign_rest, sign_ws_auth

__all__ = [
    "BATCH_MAX",
    "PATH",
    "RateLimitInfo",
    "WireScalar",
    "amend_item",
    "auth_msg",
    "batch_body",
    "cancel_item",
    "create_item",
    "dec_str",
    "encode_body",
    "encode_query",
    "endpoint_family",
    "parse_rate_limit_headers",
    "ping_msg",
    "rest_headers",
    "subscribe_msg",
    "trade_msg",
]

WireScalar = str | int | bool

PATH = {
    "time": "/v5/market/time",
    "instruments": "/v5/market/instruments-info",
    "orderbook": "/v5/market/orderbook",
    "tickers": "/v5/market/tickers",
    "create": "/v5/order/create",
    "amend": "/v5/order/amend",
    "cancel": "/v5/order/cancel",
    "cancel_all": "/v5/order/cancel-all",
    "create_batch": "/v5/order/create-batch",
    "amend_batch": "/v5/order/amend-batch",
    "cancel_batch": "/v5/order/cancel-batch",
    "realtime": "/v5/order/realtime",
    "executions": "/v5/execution/list",
    "positions": "/v5/position/list",
    "wallet": "/v5/account/wallet-balance",
    "fee_rate": "/v5/account/fee-rate",
    "dcp": "/v5/order/disconnected-cancel-all",
}

# Items per batch request (reference 5.9): 20 for linear/inverse/option, 10 for spot.
BATCH_MAX = {"linear": 20, "inverse": 20, "option": 20, "spot": 10}


@functools.cache  # our own fixed paths: a bounded set, asked on every order write
def endpoint_family(path: str) -> str:
    """Bounded metric/rate-limit label for a path: "order_create", "execution_list", "market_time"..."""
    return path.strip("/").removeprefix("v5/").replace("/", "_").replace("-", "_") or "root"


def dec_str(value: Decimal) -> str:
    """Decimal -> plain string without exponent ("0.00001", not "1E-5")."""
    return format(value, "f")


def create_item(order: OrderRequest, category: str | None = None) -> dict[str, WireScalar]:
    """One order for `/v5/order/create` (with `category`) or a create-batch item (without)."""
    item: dict[str, WireScalar] = {}
    if category is not None:
        item["category"] = category
    item.update({
        "symbol": order.symbol, "side": order.side.value, "orderType": "Limit", "qty": dec_str(order.qty),
        "price": dec_str(order.price), "timeInForce": order.time_in_force.value,
        "orderLinkId": order.order_link_id,
    })
    if order.reduce_only:
        item["reduceOnly"] = True
    return item


def amend_item(req: AmendRequest, category: str | None = None) -> dict[str, WireScalar]:
    item: dict[str, WireScalar] = {} if category is None else {"category": category}
    item["symbol"] = req.symbol
    _ids(item, req.order_id, req.order_link_id)
    if req.qty is not None:
        item["qty"] = dec_str(req.qty)
    if req.price is not None:
        item["price"] = dec_str(req.price)
    return item


def cancel_item(req: CancelRequest, category: str | None = None) -> dict[str, WireScalar]:
    item: dict[str, WireScalar] = {} if category is None else {"category": category}
    item["symbol"] = req.symbol
    _ids(item, req.order_id, req.order_link_id)
    return item


def _ids(item: dict[str, WireScalar], order_id: str | None, order_link_id: str | None) -> None:
    if not order_id and not order_link_id:
        raise ValueError("amend/cancel needs order_id or order_link_id")
    if order_id:
        item["orderId"] = order_id
    if order_link_id:
        item["orderLinkId"] = order_link_id


def batch_body(category: str, items: Sequence[Mapping[str, WireScalar]]) -> dict[str, object]:
    return {"category": category, "request": list(items)}


def encode_body(body: Mapping[str, object]) -> bytes:
    """Compact JSON; these exact bytes are both signed and sent (the server hashes what it receives)."""
    return json_io.dumps(body)


def encode_query(params: Mapping[str, WireScalar | None]) -> str:
    """`k=v&k2=v2` in insertion order, None dropped; the same string is signed and sent.

    Values are percent-encoded except `[A-Za-z0-9_.,:~-]` and `%` (Bybit's page cursors arrive
    already percent-encoded and go back as they came), so httpx sends exactly the signed text.
    """
    parts = []
    for k, v in params.items():
        if v is None:
            continue
        s = ("true" if v else "false") if isinstance(v, bool) else str(v)
        parts.append(f"{k}={quote(s, safe='_.,:~-%')}")
    return "&".join(parts)


def rest_headers(api_key: str, secret: str, timestamp_ms: int, recv_window_ms: int, payload: str | bytes
                 ) -> dict[str, str]:
    """Signed V5 headers for one request (HMAC keys)."""
    return {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": str(recv_window_ms),
        "X-BAPI-SIGN": sign_rest(secret, timestamp_ms, api_key, recv_window_ms, payload),
    }


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """`X-Bapi-Limit` (per window), `X-Bapi-Limit-Status` (remaining), `X-Bapi-Limit-Reset-Timestamp` (ms)."""

    limit: int
    remaining: int
    reset_ms: int

    @property
    def remaining_ratio(self) -> float:
        return self.remaining / self.limit if self.limit > 0 else 1.0


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """RateLimitInfo from response headers (case-insensitive mapping), None when absent or garbled."""
    try:
        limit = headers.get("X-Bapi-Limit")
        status = headers.get("X-Bapi-Limit-Status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp")
        if limit is None or status is None:
            return None
        return RateLimitInfo(int(limit), int(status), int(reset) if reset else 0)
    except ValueError:
        return None


# -- WebSocket commands -------------------------------------------------------------------------

def ping_msg(req_id: str) -> bytes:
    return json_io.dumps({"op": "ping", "req_id": req_id})


def subscribe_msg(topics: Sequence[str], req_id: str, *, unsubscribe: bool = False) -> bytes:
    return json_io.dumps({"op": "unsubscribe" if unsubscribe else "subscribe", "req_id": req_id,
                          "args": list(topics)})


def auth_msg(api_key: str, secret: str, expires_ms: int, req_id: str) -> bytes:
    """`auth` op for private/trade streams; `expires_ms` should sit a few seconds in the future."""
    return json_io.dumps({"op": "auth", "req_id": req_id,
                          "args": [api_key, expires_ms, sign_ws_auth(secret, expires_ms)]})


def trade_msg(op: str, req_id: str, timestamp_ms: int, recv_window_ms: int,
              args: Sequence[Mapping[str, object]]) -> bytes:
    """A WS Trade API request (`order.create`, `order.create-batch`, ...)."""
    return json_io.dumps({"reqId": req_id,
                          "header": {"X-BAPI-TIMESTAMP": str(timestamp_ms), "X-BAPI-RECV-WINDOW": str(recv_window_ms)},
                          "op": op, "args": list(args)})
