"""BybitClient: the ExchangeClient for Bybit V5, built from the pooled REST client and supervised streams."""

from __future__ import annotations

import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from bot.config.base import AppConfig
from bot.domain import Category, Instrument, OrderId, OrderLinkId, Symbol
from bot.errors import (
    ConfigError,
    ExchangeError,
    ExchangeRejected,
    ExchangeUnavailable,
    OrderStateUnknown,
)
from bot.exchange.base import AmendRequest, CancelRequest, FeeRate, OrderRequest, OrderResult
from bot.exchange.bybit import wire
from bot.exchange.bybit.backoff import BackoffPolicy
from bot.exchange.bybit.errors import error_for_ret_code
from bot.exchange.bybit.parse import (
    Obj,
    parse_execution,
    parse_fee_rate,
    parse_instrument,
    parse_order,
    parse_position,
    parse_wallet,
    result_list,
)
from bot.exchange.bybit.rest import BybitRest, RestTimeouts
from bot.exchange.bybit.trade import BybitTradeChannel, Sent
from bot.exchange.bybit.ws import BybitStream
from bot.exchange.events import Ack, Execution, OrderUpdate, PositionUpdate, StreamKind, WalletUpdate
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics

__all__ = ["BybitClient"]

log = get_logger(__name__)

_EXEC_WINDOW_MS = 7 * 24 * 3600 * 1000 - 60_000


class BybitClient:
    """Implements `bot.exchange.base.ExchangeClient` for one account and one category."""

    def __init__(
        self,
        rest: BybitRest,
        *,
        ws_public_url: str,
        ws_private_url: str,
        ws_trade_url: str = "",
        api_key: str = "",
        api_secret: str = "",
        category: Category = Category.LINEAR,
        policy: BackoffPolicy | None = None,
        ping_interval_s: float = 20.0,
        settle_coin: str = "USDT",
        metrics: Metrics | None = None,
        rng: Callable[[], float] = random.random,
        ws_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.rest = rest
        self.ws_public_url = ws_public_url.rstrip("/")
        self.ws_private_url = ws_private_url
        self.ws_trade_url = ws_trade_url
        self._key, self._secret = api_key, api_secret
        self.category = category
        self.policy = policy or BackoffPolicy()
        self.ping_interval_s = ping_interval_s
        self.settle_coin = settle_coin
        self.metrics = metrics
        self._rng = rng
        self._ws_ssl = ws_ssl
        self._streams: list[BybitStream] = []
        self._trade: BybitTradeChannel | None = None  # orders go here while it is connected
        self._dcp_armed = False

    @classmethod
    def from_config(cls, cfg: AppConfig, *, metrics: Metrics | None = None,
                    verify: ssl.SSLContext | bool = True) -> BybitClient:
        """Build from the app config (URLs from `cfg.urls()`, secrets from `cfg.secrets`).

        Raises:
            ConfigError: no REST URL for the venue.
        """
        rest_url, ws_public, ws_private, ws_trade = cfg.urls()
        if not rest_url:
            raise ConfigError(f"no REST URL for venue {cfg.venue!r}: set exchange.rest_url")
        ex = cfg.exchange
        key = cfg.secrets.bybit_api_key.reveal() if cfg.secrets.bybit_api_key else ""
        secret = cfg.secrets.bybit_api_secret.reveal() if cfg.secrets.bybit_api_secret else ""
        rest = BybitRest(
            rest_url, key, secret,
            timeouts=RestTimeouts(ex.connect_timeout_s, ex.read_timeout_s, ex.write_timeout_s, ex.pool_timeout_s,
                                  ex.total_timeout_s),
            recv_window_ms=ex.recv_window_ms, max_connections=ex.max_connections,
            max_keepalive_connections=ex.max_keepalive_connections, keepalive_expiry_s=ex.keepalive_expiry_s,
            metrics=metrics, verify=verify,
        )
        return cls(rest, ws_public_url=ws_public, ws_private_url=ws_private, ws_trade_url=ws_trade, api_key=key,
                   api_secret=secret,
                   category=Category(cfg.category), policy=BackoffPolicy.from_config(ex.reconnect),
                   ping_interval_s=ex.ping_interval_s, metrics=metrics,
                   ws_ssl=verify if isinstance(verify, ssl.SSLContext) else None)

    async def __aenter__(self) -> BybitClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for s in self._streams:
            s.close()
        await self.rest.aclose()

    @property
    def _cat(self) -> str:
        return self.category.value

    # -- reference data -----------------------------------------------------------------------------

    async def instruments(self, symbols: Sequence[Symbol]) -> dict[Symbol, Instrument]:
        out: dict[Symbol, Instrument] = {}
        for sym in symbols:
            env = await self.rest.get("instruments", {"category": self._cat, "symbol": sym}, signed=False)
            items = [parse_instrument(i, self.category) for i in result_list(env, endpoint="instruments-info")]
            match = [i for i in items if i.symbol == sym]
            if not match:
                raise ExchangeRejected(f"unknown symbol {sym}", symbol=sym, category=self._cat)
            out[sym] = match[0]
        return out

    async def fee_rates(self, symbols: Sequence[Symbol]) -> dict[Symbol, FeeRate]:
        out: dict[Symbol, FeeRate] = {}
        for sym in symbols:
            env = await self.rest.get("fee_rate", {"category": self._cat, "symbol": sym})
            for item in result_list(env, endpoint="fee-rate"):
                rate = parse_fee_rate(item)
                out[rate.symbol] = rate
        return out

    async def server_time_offset_ms(self) -> int:
        offset = await self.rest.sync_time()
        for s in self._streams:
            s.offset_ms = offset
        return offset

    # -- orders -------------------------------------------------------------------------------------

    def _trade_ready(self) -> BybitTradeChannel | None:
        t = self._trade
        return t if t is not None and t.stream.connected else None

    async def submit(self, order: OrderRequest) -> OrderResult:
        return await self._single("create", wire.create_item(order, self._cat), order.order_link_id)

    async def amend(self, req: AmendRequest) -> OrderResult:
        return await self._single("amend", wire.amend_item(req, self._cat), req.order_link_id or "")

    async def cancel(self, req: CancelRequest) -> OrderResult:
        return await self._single("cancel", wire.cancel_item(req, self._cat), req.order_link_id or "")

    async def _single(self, name: str, item: Mapping[str, wire.WireScalar], link: str) -> OrderResult:
        """One order through its single-order endpoint (its own rate budget, not the batch one's):
        over the WS trade channel when connected, else REST."""
        if (trade := self._trade_ready()) is not None:
            try:
                ack = await trade.request(f"order.{name}", [item], order_link_id=link or None)
            except ExchangeUnavailable:  # not connected after all: nothing was sent, use REST
                pass
            else:
                return _single_result(_ack_data(ack)[0], link)
        env = await self.rest.post(name, item, order_link_id=link or None)
        return _single_result(env.result, link)

    def write_now(self, kind: str, reqs: Sequence[Any], *, batch: bool
                  ) -> Coroutine[Any, Any, list[OrderResult]] | None:
        """Put one write (`kind` create / amend / cancel; `reqs` its Order/Amend/CancelRequests) on
        the WS trade channel in the caller's step, when that needs no wait: connected, room in the
        rate limit, no more items than one request carries. Returns the coroutine that awaits its
        results, which raises as `submit` (single) or the batch calls do. None: nothing was sent.
        """
        trade = self._trade_ready()
        if trade is None:
            return None
        make = _ITEMS[kind]
        links = [r.order_link_id or "" for r in reqs]
        if not batch:
            sent = trade.send_now(f"order.{kind}", [make(reqs[0], self._cat)], order_link_id=links[0] or None)
            return None if sent is None else self._single_done(trade, sent, links[0])
        name = f"{kind}_batch"
        if len(reqs) > self._batch_cap(name):
            return None
        sent = trade.send_now(f"order.{kind}-batch", [wire.batch_body(self._cat, [make(r) for r in reqs])])
        return None if sent is None else self._batch_done(trade, sent, name, links)

    async def _single_done(self, trade: BybitTradeChannel, sent: Sent, link: str) -> list[OrderResult]:
        return [_single_result(_ack_data(await trade.finish(sent))[0], link)]

    async def _batch_done(self, trade: BybitTradeChannel, sent: Sent, name: str, links: Sequence[str]
                          ) -> list[OrderResult]:
        async def acked() -> tuple[Obj, Obj]:
            return _ack_data(await trade.finish(sent))

        return await self._settle(name, links, acked(), earlier=[], unknown=links)

    async def _settle(self, name: str, links: Sequence[str], answer: Awaitable[tuple[Obj, Obj]], *,
                      earlier: Sequence[OrderResult], unknown: Sequence[str]) -> list[OrderResult]:
        """One batch request's per-item results. A refusal of the whole request fails every item
        the same way; an unknown outcome carries the results so far and the links left unknown."""
        try:
            result, ext = await answer
        except OrderStateUnknown as exc:
            exc.context["results"] = list(earlier)
            exc.context["unknown_link_ids"] = list(unknown)
            raise
        except ExchangeRejected as exc:
            return _all_refused(links, exc)
        return self._batch_items(name, result, ext, links)

    def _batch_cap(self, name: str) -> int:
        # Each item costs one unit of the per-second batch limit and items beyond the remaining
        # quota fail individually, so never send more items than one window allows.
        family = wire.endpoint_family(wire.PATH[name])
        return max(1, min(wire.BATCH_MAX.get(self._cat, 10), self.rest.limiter.limit(family)))

    async def submit_batch(self, orders: Sequence[OrderRequest]) -> list[OrderResult]:
        items = [wire.create_item(o) for o in orders]
        return await self._batch("create_batch", items, [o.order_link_id for o in orders])

    async def amend_batch(self, amends: Sequence[AmendRequest]) -> list[OrderResult]:
        items = [wire.amend_item(a) for a in amends]
        return await self._batch("amend_batch", items, [a.order_link_id or "" for a in amends])

    async def cancel_batch(self, cancels: Sequence[CancelRequest]) -> list[OrderResult]:
        items = [wire.cancel_item(c) for c in cancels]
        return await self._batch("cancel_batch", items, [c.order_link_id or "" for c in cancels])

    async def _batch(self, name: str, items: Sequence[Mapping[str, wire.WireScalar]], link_ids: Sequence[str]
                     ) -> list[OrderResult]:
        cap = self._batch_cap(name)
        results: list[OrderResult] = []
        for start in range(0, len(items), cap):
            chunk = items[start:start + cap]
            links = link_ids[start:start + cap]
            results.extend(await self._settle(name, links, self._send_batch(name, chunk), earlier=results,
                                              unknown=link_ids[start:]))
        return results

    async def _send_batch(self, name: str, chunk: Sequence[Mapping[str, wire.WireScalar]]) -> tuple[Obj, Obj]:
        """One batch over the WS trade channel when connected, else REST: (result, retExtInfo)."""
        body = wire.batch_body(self._cat, chunk)
        if (trade := self._trade_ready()) is not None:
            try:
                op = wire.PATH[name].removeprefix("/v5/").replace("/", ".")  # "order.create-batch"
                ack = await trade.request(op, [body])
            except ExchangeUnavailable:
                pass  # not connected: nothing was sent, fall back to REST
            else:
                return _ack_data(ack)
        env = await self.rest.post(name, body, cost=len(chunk))
        return env.result, env.ret_ext_info

    def _batch_items(self, name: str, result: Obj, ext: Obj, links: Sequence[str]) -> list[OrderResult]:
        got_raw, codes_raw = result.get("list"), ext.get("list")
        got: list[Any] = got_raw if isinstance(got_raw, list) else []
        codes: list[Any] = codes_raw if isinstance(codes_raw, list) else []
        out = []
        for i, link in enumerate(links):
            item: Mapping[str, Any] = got[i] if i < len(got) and isinstance(got[i], dict) else {}
            code_item: Mapping[str, Any] = codes[i] if i < len(codes) and isinstance(codes[i], dict) else {}
            code = code_item.get("code", 0 if item.get("orderId") else None)
            msg = str(code_item.get("msg", ""))
            lk = OrderLinkId(str(item.get("orderLinkId") or link))
            oid = OrderId(str(item.get("orderId") or ""))
            if code == 0:
                out.append(OrderResult(lk, oid, ok=True, ret_msg=msg))
            elif isinstance(code, int):
                # A per-item code is a definite answer for that item (write=False): 10006 here means
                # "not placed, try later" (ExchangeUnavailable), not an unknown outcome.
                err: ExchangeError = error_for_ret_code(code, msg, write=False, endpoint=wire.endpoint_family(
                    wire.PATH[name]), order_link_id=lk)
                out.append(OrderResult(lk, oid, ok=False, ret_code=code, ret_msg=msg, error=err))
            else:  # the venue answered without an entry for this item: its outcome is unknown
                err = OrderStateUnknown("batch item missing from the response", order_link_id=lk)
                out.append(OrderResult(lk, oid, ok=False, ret_code=0, ret_msg="missing", error=err))
        return out

    async def cancel_all(self, symbol: Symbol) -> list[OrderResult]:
        env = await self.rest.post("cancel_all", {"category": self._cat, "symbol": symbol})
        return [OrderResult(OrderLinkId(str(i.get("orderLinkId") or "")), OrderId(str(i.get("orderId") or "")), ok=True)
                for i in result_list(env, endpoint="cancel-all")]

    async def arm_dcp(self, window_s: int) -> None:
        product = "SPOT" if self.category is Category.SPOT else "DERIVATIVES"
        # Idempotent setting, so safe to retry like a read.
        await self.rest.post("dcp", {"product": product, "timeWindow": int(window_s)}, write=False)
        # DCP only watches connections subscribed to the dcp topic: make ours one of them.
        self._dcp_armed = True
        for s in self._streams:
            if s.kind is StreamKind.PRIVATE:
                await s.add_topics([self._dcp_topic])

    @property
    def _dcp_topic(self) -> str:
        return "dcp.spot" if self.category is Category.SPOT else "dcp.future"

    # -- state reads -------------------------------------------------------------------------------

    async def _pages(self, name: str, params: dict[str, wire.WireScalar | None],
                     max_pages: int = 50) -> AsyncIterator[list[Obj]]:
        """Each page's items as it arrives (the caller holds one page, not the whole listing)."""
        for _ in range(max_pages):
            env = await self.rest.get(name, params)
            items, cursor = result_list(env, endpoint=name), env.result.get("nextPageCursor")
            del env
            yield items
            del items  # not alive while the next page is read
            if not cursor or not isinstance(cursor, str):
                return
            params = {**params, "cursor": cursor}

    async def _paged(self, name: str, params: dict[str, wire.WireScalar | None], max_pages: int = 50) -> list[Obj]:
        return [item async for page in self._pages(name, params, max_pages) for item in page]

    async def open_orders(self, symbol: Symbol | None = None, link_prefix: str | None = None) -> list[OrderUpdate]:
        params: dict[str, wire.WireScalar | None] = {"category": self._cat, "limit": 50}
        if symbol:
            params["symbol"] = symbol
        elif self.category is not Category.SPOT:
            params["settleCoin"] = self.settle_coin
        orders = [parse_order(o, self.category) for o in await self._paged("realtime", params)]
        if link_prefix:
            orders = [o for o in orders if o.order_link_id.startswith(link_prefix)]
        return [o for o in orders if o.status.is_open]

    async def order_by_link_id(self, symbol: Symbol, order_link_id: OrderLinkId) -> OrderUpdate | None:
        for open_only in (None, 1):  # open orders first, then the recent closed ones
            params: dict[str, wire.WireScalar | None] = {"category": self._cat, "symbol": symbol,
                                                          "orderLinkId": order_link_id, "openOnly": open_only}
            env = await self.rest.get("realtime", params)
            for o in result_list(env, endpoint="realtime"):
                order = parse_order(o, self.category)
                if order.order_link_id == order_link_id:
                    return order
        return None

    async def execution_pages(self, since_ms: int, symbol: Symbol | None = None) -> AsyncIterator[list[Execution]]:
        # Bybit refuses a window longer than 7 days; older fills need several calls (not needed live).
        since_ms = max(since_ms, self.rest.now_ms() - _EXEC_WINDOW_MS)
        params: dict[str, wire.WireScalar | None] = {"category": self._cat, "symbol": symbol,
                                                      "startTime": since_ms, "limit": 100}
        async for page in self._pages("executions", params):
            parsed = [parse_execution(e, self.category) for e in page]
            del page
            yield parsed
            del parsed

    async def executions(self, since_ms: int, symbol: Symbol | None = None) -> list[Execution]:
        return [e async for page in self.execution_pages(since_ms, symbol) for e in page]

    async def positions(self) -> list[PositionUpdate]:
        if self.category is Category.SPOT:
            return []
        params: dict[str, wire.WireScalar | None] = {"category": self._cat, "settleCoin": self.settle_coin,
                                                      "limit": 200}
        return [parse_position(p, self.category) for p in await self._paged("positions", params)]

    async def wallet(self) -> WalletUpdate:
        env = await self.rest.get("wallet", {"accountType": "UNIFIED"})
        items = result_list(env, endpoint="wallet-balance")
        if not items:
            raise ExchangeRejected("wallet-balance returned no account", account_type="UNIFIED")
        return parse_wallet(items[0], ts_exchange_ms=env.time_ms)

    # -- streams ------------------------------------------------------------------------------------

    def _stream(self, kind: StreamKind, url: str, topics: list[str], **kw: Any) -> BybitStream:
        s = BybitStream(kind, url, topics, policy=self.policy, rng=self._rng, category=self.category,
                        ping_interval_s=self.ping_interval_s, metrics=self.metrics, ssl_context=self._ws_ssl, **kw)
        s.offset_ms = self.rest.offset_ms
        self._streams.append(s)
        return s

    def public_stream(self, symbols: Sequence[Symbol], *, depth: int = 50, trades: bool = True,
                      tickers: bool = True) -> BybitStream:
        topics = [f"orderbook.{depth}.{s}" for s in symbols]
        topics += [f"publicTrade.{s}" for s in symbols] if trades else []
        topics += [f"tickers.{s}" for s in symbols] if tickers else []
        return self._stream(StreamKind.PUBLIC, f"{self.ws_public_url}/{self._cat}", topics)

    def private_stream(self, *, dcp: bool | None = None) -> BybitStream:
        """Orders, executions, positions, wallet; plus the dcp topic when `dcp` (default: once DCP is armed)."""
        topics = ["order", "execution", "position", "wallet"]
        if self._dcp_armed if dcp is None else dcp:
            topics.append(self._dcp_topic)
        return self._stream(StreamKind.PRIVATE, self.ws_private_url, topics, api_key=self._key,
                            api_secret=self._secret)

    def trade_channel(self, *, route_orders: bool = True) -> BybitTradeChannel:
        """Orders over the WS Trade API; run `channel.stream.run()` in a TaskGroup.

        With `route_orders`, `submit` and the batch calls use it whenever it is connected (measured
        faster than REST: see bench/bench_rest_pool.py --orders) and fall back to REST otherwise.

        Raises:
            ConfigError: the venue has no trade WebSocket (demo trading).
        """
        if not self.ws_trade_url:
            raise ConfigError("no WS trade URL for this venue")
        stream = self._stream(StreamKind.TRADE, self.ws_trade_url, [], api_key=self._key, api_secret=self._secret)
        channel = BybitTradeChannel(stream, category=self._cat, recv_window_ms=self.rest.recv_window_ms,
                                    limiter=self.rest.limiter)
        if route_orders:
            self._trade = channel
        return channel


def _single_result(result: Mapping[str, Any], link: str) -> OrderResult:
    return OrderResult(order_link_id=OrderLinkId(str(result.get("orderLinkId") or link)),
                       order_id=OrderId(str(result.get("orderId") or "")), ok=True)


_ITEMS: dict[str, Callable[..., dict[str, wire.WireScalar]]] = {
    "create": wire.create_item, "amend": wire.amend_item, "cancel": wire.cancel_item}


def _ack_data(ack: Ack) -> tuple[Obj, Obj]:
    """(result, retExtInfo) of a WS trade ack, as REST's envelope has them."""
    data = ack.data if isinstance(ack.data, dict) else {}
    result, ext = data.get("data"), data.get("retExtInfo")
    return (result if isinstance(result, dict) else {}), (ext if isinstance(ext, dict) else {})


def _all_refused(links: Sequence[str], exc: ExchangeRejected) -> list[OrderResult]:
    """The whole request refused: every item failed the same way."""
    return [OrderResult(OrderLinkId(lk), OrderId(""), ok=False, ret_code=exc.ret_code or 0, ret_msg=exc.message,
                        error=exc) for lk in links]
