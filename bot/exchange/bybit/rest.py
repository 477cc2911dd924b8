"""Signed, pooled Bybit V5 REST client (PERF-001): one httpx.AsyncClient, typed outcomes.

Reads are retried on transient trouble; writes never are (they carry an orderLinkId and the
caller reconciles on OrderStateUnknown). A 10002 timestamp rejection re-syncs the clock and
resends once: the venue refused the request before processing it, so that is not a blind retry.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from bot.common import outbound
from bot.errors import AuthError, ExchangeError, ExchangeUnavailable, OrderStateUnknown, ParseError
from bot.exchange.bybit import wire
from bot.exchange.bybit.errors import RATE_LIMIT_CODE, TIMESTAMP_CODE, error_for_http_status, error_for_ret_code
from bot.exchange.bybit.parse import RestEnvelope, parse_envelope, parse_server_time_ms
from bot.exchange.bybit.ratelimit import RateLimiter
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics, ret_code_label

__all__ = ["BybitRest", "RestTimeouts"]

log = get_logger(__name__)

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError,
               httpx.TransportError)


class RestTimeouts:
    """Explicit connect/read/write/pool timeouts plus a total deadline per call (retries included)."""

    __slots__ = ("connect_s", "pool_s", "read_s", "total_s", "write_s")

    def __init__(self, connect_s: float = 3.0, read_s: float = 5.0, write_s: float = 5.0, pool_s: float = 2.0,
                 total_s: float = 10.0) -> None:
        self.connect_s, self.read_s, self.write_s = connect_s, read_s, write_s
        self.pool_s, self.total_s = pool_s, total_s

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.write_s, pool=self.pool_s)


class BybitRest:
    """Raw V5 endpoints (`get_*`, `place_*`); `request` is the one signed, rate-limited, typed path."""

    def __init__(  # nosec B107: an empty default, not a password
        self,
        base_url: str,
        api_key: str = "",
        api_secret: str = "",
        *,
        timeouts: RestTimeouts | None = None,
        recv_window_ms: int = 5000,
        max_connections: int = 10,
        max_keepalive_connections: int = 10,
        keepalive_expiry_s: float = 60.0,
        read_retries: int = 2,
        limiter: RateLimiter | None = None,
        metrics: Metrics | None = None,
        verify: ssl.SSLContext | bool = True,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        pooled: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._secret = api_secret
        self.timeouts = timeouts or RestTimeouts()
        self.recv_window_ms = recv_window_ms
        self.read_retries = read_retries
        self.limiter = limiter or RateLimiter()
        self.metrics = metrics
        # (endpoint family, seconds on the wire) of every write: the venue's own round trip, without
        # the time spent waiting for our rate limiter (the latency guard's input)
        self.on_rtt: Callable[[str, float], None] | None = None
        self._wall_ms = wall_ms
        self.offset_ms = 0  # server - local
        self._time_lock = asyncio.Lock()
        # Every field of Limits set on purpose: a field left out means "unlimited" in httpx.
        limits = httpx.Limits(max_connections=max_connections,
                              max_keepalive_connections=max_keepalive_connections if pooled else 0,
                              keepalive_expiry=keepalive_expiry_s if pooled else 0)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeouts.httpx(), limits=limits, verify=verify,
            trust_env=False, headers={"Content-Type": "application/json"} if pooled else
            {"Content-Type": "application/json", "Connection": "close"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> BybitRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def now_ms(self) -> int:
        """Our best estimate of the venue clock."""
        return self._wall_ms() + self.offset_ms

    # -- the one request path ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, wire.WireScalar | None] | None = None,
        body: Mapping[str, object] | None = None,
        signed: bool = True,
        write: bool = False,
        cost: int = 1,
        order_link_id: str | None = None,
    ) -> RestEnvelope:
        """Send one call; returns the envelope of a retCode 0 answer.

        Raises:
            AuthError, ExchangeRejected, ExchangeUnavailable, OrderStateUnknown (writes), ParseError.
        """
        family = wire.endpoint_family(path)
        sent: list[bool] = []  # appended to once bytes may have left: a deadline before that is "not sent"
        try:
            async with asyncio.timeout(self.timeouts.total_s):
                return await self._request(method, path, family, params, body, signed, write, cost, order_link_id,
                                           sent)
        except TimeoutError as exc:
            cls = OrderStateUnknown if write and sent else ExchangeUnavailable
            self._count_error(family, None)
            raise cls(f"{family}: total deadline {self.timeouts.total_s}s exceeded", endpoint=family,
                      order_link_id=order_link_id) from exc

    async def _request(self, method: str, path: str, family: str, params: Mapping[str, wire.WireScalar | None] | None,
                       body: Mapping[str, object] | None, signed: bool, write: bool, cost: int,
                       order_link_id: str | None, sent: list[bool]) -> RestEnvelope:
        attempt = 0
        resynced = False
        while True:
            attempt += 1
            await self.limiter.acquire(family, cost, max_wait_s=self.timeouts.total_s)
            try:
                return await self._send_once(method, path, family, params, body, signed, write, order_link_id, sent)
            except ExchangeError as exc:
                if exc.ret_code == TIMESTAMP_CODE and not resynced:
                    resynced = True  # rejected before processing: re-sync and resend once, even a write
                    await self.sync_time()
                    continue
                if write or isinstance(exc, AuthError) or not isinstance(exc, ExchangeUnavailable):
                    raise
                if attempt > self.read_retries or self.limiter.banned_for() > 0:
                    raise
                log.warning("rest_read_retry", endpoint=family, attempt=attempt, error=type(exc).__name__,
                            ret_code=exc.ret_code)
                await asyncio.sleep(0.05 * 2 ** (attempt - 1))

    async def _send_once(self, method: str, path: str, family: str,
                         params: Mapping[str, wire.WireScalar | None] | None, body: Mapping[str, object] | None,
                         signed: bool, write: bool, order_link_id: str | None, sent: list[bool] | None = None
                         ) -> RestEnvelope:
        query = wire.encode_query(params or {})
        content = wire.encode_body(body) if body is not None else None
        headers: dict[str, str] = {}
        if signed:
            payload: str | bytes = content if content is not None else query
            headers = wire.rest_headers(self._key, self._secret, self.now_ms(), self.recv_window_ms, payload)
        url = f"{path}?{query}" if query else path
        t0 = time.perf_counter()
        if sent is not None:
            sent.append(True)
        if write:
            outbound.going_out()
        try:
            resp = await self._http.request(method, url, content=content, headers=headers)
        except _NOT_SENT as exc:
            self._count_error(family, None)
            raise ExchangeUnavailable(f"{family}: not sent ({type(exc).__name__})", endpoint=family,
                                      order_link_id=order_link_id) from exc
        except _MAYBE_SENT as exc:
            self._count_error(family, None)
            cls = OrderStateUnknown if write else ExchangeUnavailable
            raise cls(f"{family}: {type(exc).__name__} after send", endpoint=family,
                      order_link_id=order_link_id) from exc
        finally:
            rtt = time.perf_counter() - t0
            if self.metrics is not None:
                self.metrics.rest_latency.labels(endpoint=family).observe(rtt)
            if self.on_rtt is not None and write:
                self.on_rtt(family, rtt)
        info = wire.parse_rate_limit_headers(resp.headers)
        if info is not None:
            reset_in = (info.reset_ms - self.now_ms()) / 1000 if info.reset_ms else None
            self.limiter.observe(family, info, reset_in_s=reset_in)
            if self.metrics is not None:
                self.metrics.rate_limit_remaining.labels(endpoint=family).set(info.remaining_ratio)
        if resp.status_code != 200:
            self._count_error(family, None)
            if resp.status_code == 403:
                self.limiter.ban()
            raise error_for_http_status(resp.status_code, write=write, endpoint=family,
                                        body_excerpt=resp.text[:120])
        try:
            env = parse_envelope(resp.content, endpoint=family)
        except ParseError:
            self._count_error(family, None)
            if write:  # a 200 we cannot read: the order may exist
                raise OrderStateUnknown(f"{family}: unreadable response", endpoint=family,
                                        order_link_id=order_link_id) from None
            raise
        if env.ret_code != 0:
            self._count_error(family, env.ret_code)
            if env.ret_code == RATE_LIMIT_CODE:
                wait = (info.reset_ms - self.now_ms()) / 1000 if info is not None and info.reset_ms else 1.0
                self.limiter.block(family, wait)
            raise error_for_ret_code(env.ret_code, env.ret_msg, write=write, endpoint=family,
                                     order_link_id=order_link_id)
        return env

    def _count_error(self, family: str, code: int | None) -> None:
        if self.metrics is not None:
            self.metrics.rest_errors.labels(endpoint=family, ret_code=ret_code_label(code)).inc()

    # -- clock ------------------------------------------------------------------------------------

    async def sync_time(self) -> int:
        """Measure (server - local) ms from `/v5/market/time` (midpoint of the round trip)."""
        async with self._time_lock:
            t0 = self._wall_ms()
            env = await self._send_once("GET", wire.PATH["time"], "market_time", None, None, False, False, None)
            t1 = self._wall_ms()
            self.offset_ms = parse_server_time_ms(env) - (t0 + t1) // 2
            log.info("server_time_synced", offset_ms=self.offset_ms, rtt_ms=t1 - t0)
            return self.offset_ms

    # -- raw endpoints ----------------------------------------------------------------------------

    async def get(self, name: str, params: Mapping[str, wire.WireScalar | None], *, signed: bool = True
                  ) -> RestEnvelope:
        return await self.request("GET", wire.PATH[name], params=params, signed=signed)

    async def post(self, name: str, body: Mapping[str, Any], *, cost: int = 1, order_link_id: str | None = None,
                   write: bool = True) -> RestEnvelope:
        return await self.request("POST", wire.PATH[name], body=body, write=write, cost=cost,
                                  order_link_id=order_link_id)
