"""Supervised Bybit V5 WebSocket stream (NET-001): connect, auth, subscribe, read, reconnect.

Our own supervisor loop around `websockets.connect()` rather than the library's `async for ws
in connect(...)`: the library resets its backoff on every successful handshake (a link that
accepts then drops reconnects at full speed) and cannot express "reset only after a healthy
period", max attempts with an exhausted event, auth failures as fatal, or our metrics.

Policy: `ReconnectSchedule` (bybit/backoff.py): 1 s doubling to 60 s, +/-30 % jitter, max
attempts, counter reset only after `healthy_after_s` of a connected, subscribed link. A failed
reconnect goes through the same path, so the next try is always scheduled.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.protocol import State

from bot.domain import Category, Symbol
from bot.errors import AuthError, BookError, ExchangeRejected, ExchangeUnavailable, ParseError
from bot.exchange.base import StreamExhausted
from bot.exchange.bybit import wire
from bot.exchange.bybit.backoff import BackoffPolicy, ReconnectSchedule
from bot.exchange.bybit.parse import parse_ws_message
from bot.exchange.bybit.streamqueue import AppliedBook, BookMirror, EventQueue, NativeBook, check_delta
from bot.exchange.events import (
    Ack,
    BookUpdate,
    ExchangeEvent,
    Pong,
    StreamKind,
    StreamState,
    StreamStatus,
    Ticker,
)
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics

__all__ = ["BybitStream", "merge_ticker"]

log = get_logger(__name__)


def merge_ticker(prev: Ticker | None, new: Ticker) -> Ticker:
    """Linear ticker deltas carry only changed fields: overlay them on the last full state."""
    if prev is None:
        return new
    fields = ("last_price", "mark_price", "index_price", "bid1_price", "bid1_size", "ask1_price", "ask1_size",
              "funding_rate", "next_funding_time_ms")
    merged = {f: getattr(new, f) if getattr(new, f) is not None else getattr(prev, f) for f in fields}
    return Ticker(symbol=new.symbol, ts_exchange_ms=new.ts_exchange_ms, ts_recv_ns=new.ts_recv_ns, **merged)


_BOOK_TOPIC = b'"topic":"orderbook.'


class BybitStream:
    """One Bybit WebSocket (public, private or trade) kept alive per NET-001; implements EventStream."""

    def __init__(
        self,
        kind: StreamKind,
        url: str,
        topics: Sequence[str],
        *,
        api_key: str = "",
        api_secret: str = "",
        policy: BackoffPolicy | None = None,
        rng: Callable[[], float] = random.random,
        category: Category = Category.LINEAR,
        ping_interval_s: float = 20.0,
        protocol_ping_s: float | None = 20.0,
        open_timeout_s: float = 5.0,
        ack_timeout_s: float = 5.0,
        auth_expiry_ms: int = 10_000,
        book_backlog: int = 64,
        check_gaps: bool = True,
        metrics: Metrics | None = None,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        clock: Callable[[], float] = time.monotonic,
        max_subscribe_args: int = 10,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._kind = kind
        self.url = url
        self.topics = list(topics)
        self._key, self._secret = api_key, api_secret
        self.policy = policy or BackoffPolicy()
        self.schedule = ReconnectSchedule(self.policy, rng)
        self.category = category
        self.ping_interval_s = ping_interval_s
        self.protocol_ping_s = protocol_ping_s  # websockets' own ping: detects a half-open link
        self.open_timeout_s = open_timeout_s
        self.ack_timeout_s = ack_timeout_s
        self.auth_expiry_ms = auth_expiry_ms
        self.check_gaps = check_gaps
        self.metrics = metrics
        self._wall_ms = wall_ms
        self._clock = clock
        self.max_subscribe_args = max_subscribe_args
        self.ssl_context = ssl_context  # wss:// with a custom trust store (tests, benchmarks)
        self.offset_ms = 0  # server - local, set by the client after a REST time sync
        self.queue = EventQueue(book_backlog=book_backlog)
        self.mirrors: dict[Symbol, BookMirror] = {}
        self._applied: dict[bytes, AppliedBook] = {}  # attach_books: symbol bytes as in the topic -> book
        self._awaiting: set[Symbol] = set()  # attached books waiting for the snapshot of a resync
        self._tickers: dict[Symbol, Ticker] = {}
        self._ids = itertools.count(1)
        self._stop = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._resync: set[Symbol] = set()
        self.last_frame_at = 0.0
        self.silence_factor = 2.5  # heartbeat intervals without any frame before the link is declared dead
        self._close_reason = ""
        self.connects = 0  # successful, subscribed sessions
        self.connected = False  # authenticated and subscribed right now
        # Hooks for a request/response layer on top (trade API): an ack it claims is not queued.
        self.on_ack: Callable[[Ack], bool] | None = None
        self.on_state: Callable[[StreamStatus], None] | None = None

    # -- EventStream --------------------------------------------------------------------------------

    @property
    def kind(self) -> StreamKind:
        return self._kind

    async def get(self) -> ExchangeEvent:
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[ExchangeEvent]:
        while True:
            yield await self.queue.get()

    def attach_books(self, books: Mapping[Symbol, NativeBook]) -> None:
        """Apply these symbols' book messages to the caller's own books as they arrive.

        The book parses the raw message itself (the Rust book: ~1-3 us), so the stream neither
        parses levels into Decimals nor keeps a mirror (~12 us a delta, ~90 us a 50-level
        snapshot, on the event loop). The events carry `applied` (the top and the resync flag
        right after the message) and no levels. Gaps and resets come from the book's own
        sequence check: the stream resubscribes once and waits for the snapshot.
        """
        self._applied = {s.encode(): AppliedBook(s, b) for s, b in books.items()}

    def request_resync(self, symbol: Symbol) -> None:
        mirror = self.mirrors.get(symbol)
        if mirror is not None:
            mirror.invalidate()
        self.queue.drop_books(symbol)
        self._resync.add(symbol)

    def close(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Supervise the connection until `close()`; see the module docstring for the policy.

        Raises:
            AuthError: credentials or permissions rejected (after one try).
            ExchangeRejected: a subscription was refused (bad topic: a config problem).
            StreamExhausted: `max_attempts` reconnects in a row without a healthy period.
        """
        try:
            await self._supervise()
        finally:
            self._set_connected(False)  # also on cancellation and fatal errors

    async def _supervise(self) -> None:
        ws_type = self._kind.value
        while not self._stop.is_set():
            reason = "closed by peer"
            self._close_reason = ""
            try:
                if await self._until_stopped(self._session()):
                    break
            except (AuthError, ExchangeRejected) as exc:
                self._set_connected(False)
                self._emit_state(StreamStatus.FAILED, reason=str(exc))
                log.error("ws_fatal", ws_type=ws_type, error=type(exc).__name__, detail=str(exc))
                raise
            except (OSError, TimeoutError, WebSocketException, ExchangeUnavailable, ParseError) as exc:
                reason = f"{type(exc).__name__}: {exc}"[:200]
            reason = self._close_reason or reason
            self._set_connected(False)
            self._on_disconnect()
            delay = self.schedule.next_delay(self._clock())
            if delay is None:
                if self.metrics is not None:
                    self.metrics.ws_reconnect_exhausted.labels(ws_type=ws_type).inc()
                self._emit_state(StreamStatus.EXHAUSTED, reason=reason)
                log.error("ws_reconnect_exhausted", ws_type=ws_type, attempts=self.policy.max_attempts, reason=reason)
                raise StreamExhausted(f"{ws_type} stream: {self.policy.max_attempts} reconnect attempts failed",
                                      ws_type=ws_type, reason=reason)
            self._emit_state(StreamStatus.DISCONNECTED, reason=reason)
            log.warning("ws_reconnecting", ws_type=ws_type, attempt=self.schedule.attempt, delay_s=round(delay, 3),
                        reason=reason)
            if self.metrics is not None:
                self.metrics.ws_reconnect_backoff.labels(ws_type=ws_type).observe(delay)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
                break  # closed while waiting
            except TimeoutError:
                pass
            if self.metrics is not None:
                self.metrics.ws_reconnect_attempts.labels(ws_type=ws_type).inc()

    async def _until_stopped(self, session: Coroutine[Any, Any, None]) -> bool:
        """Run the session; True if `close()` ended it. Cancellation of `run()` is never swallowed."""
        task = asyncio.ensure_future(session)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            stopper.cancel()
            task.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
            raise
        stopper.cancel()
        if self._stop.is_set():
            task.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
            return True
        task.result()  # re-raise the session's error
        return False

    # -- one connection -----------------------------------------------------------------------------

    async def _session(self) -> None:
        try:
            tls: dict[str, Any] = {"ssl": self.ssl_context} if self.ssl_context is not None else {}
            conn = websockets.connect(self.url, open_timeout=self.open_timeout_s, ping_interval=self.protocol_ping_s,
                                      ping_timeout=self.protocol_ping_s, close_timeout=1, proxy=None,
                                      compression=None, max_queue=256, max_size=8 * 2**20,
                                      **tls)
            async with conn as ws:
                self._ws = ws
                await self._handshake(ws)
                self.last_frame_at = self._clock()
                pinger = asyncio.ensure_future(self._pinger(ws))
                try:
                    await self._reader(ws)
                finally:
                    pinger.cancel()
                    await asyncio.gather(pinger, return_exceptions=True)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise AuthError(f"{self._kind.value} stream: HTTP 401 at handshake", ws_type=self._kind.value) from exc
            raise ExchangeUnavailable(f"{self._kind.value} stream: HTTP {status} at handshake") from exc
        finally:
            self._ws = None

    async def _handshake(self, ws: ClientConnection) -> None:
        if self._kind is not StreamKind.PUBLIC:
            req = f"auth-{next(self._ids)}"
            expires = self._wall_ms() + self.offset_ms + self.auth_expiry_ms
            await ws.send(wire.auth_msg(self._key, self._secret, expires, req))
            ack = await self._await_ack(ws, {req}, "auth")
            if not ack:
                raise AuthError(f"{self._kind.value} stream: auth rejected", ws_type=self._kind.value)
        if self.topics:
            reqs = set()
            for i in range(0, len(self.topics), self.max_subscribe_args):
                req = f"sub-{next(self._ids)}"
                reqs.add(req)
                await ws.send(wire.subscribe_msg(self.topics[i:i + self.max_subscribe_args], req))
            if not await self._await_ack(ws, reqs, "subscribe"):
                raise ExchangeRejected(f"{self._kind.value} stream: subscription refused", topics=",".join(self.topics))
        self.schedule.on_connected(self._clock())
        self.connects += 1
        self._set_connected(True)
        self._emit_state(StreamStatus.CONNECTED)
        log.info("ws_connected", ws_type=self._kind.value, topics=len(self.topics), connects=self.connects)

    async def _await_ack(self, ws: ClientConnection, req_ids: set[str], op: str) -> bool:
        """Read until every ack in `req_ids` arrived (other frames are handled normally); False on a refusal."""
        pending = set(req_ids)
        async with asyncio.timeout(self.ack_timeout_s):
            while pending:
                raw = await ws.recv(decode=False)
                for ev in self._parse(raw, time.monotonic_ns()):
                    if isinstance(ev, Ack) and ev.op == op and (ev.req_id in pending or not ev.req_id):
                        if not ev.success:
                            log.error("ws_command_refused", ws_type=self._kind.value, op=op, ret_msg=ev.ret_msg,
                                      ret_code=ev.ret_code)
                            return False
                        pending.discard(ev.req_id if ev.req_id in pending else next(iter(pending)))
                    else:
                        self._dispatch(ev)
        return True

    async def _pinger(self, ws: ClientConnection) -> None:
        """Bybit's JSON heartbeat every `ping_interval_s` (the library only sends protocol pings).

        Every ping is answered with a pong frame, so a link with no frame at all for
        `silence_factor` intervals is stalled at the application level (protocol pings may still
        be answered): close it, which makes the reader end and the supervisor reconnect.
        """
        while True:
            await asyncio.sleep(self.ping_interval_s)
            silent_s = self._clock() - self.last_frame_at
            if silent_s > self.ping_interval_s * self.silence_factor:
                self._close_reason = f"heartbeat: no frame for {silent_s:.1f}s"
                log.warning("ws_heartbeat_lost", ws_type=self._kind.value, silent_s=round(silent_s, 3))
                await ws.close(code=4000, reason="heartbeat lost")
                return
            await ws.send(wire.ping_msg(f"ping-{next(self._ids)}"))
            self.schedule.maybe_reset(self._clock())

    async def _reader(self, ws: ClientConnection) -> None:
        """Only read, parse and enqueue: a slow consumer must never stall this loop."""
        while True:
            try:
                raw = await ws.recv(decode=False)  # bytes as received: no UTF-8 decode + re-encode
            except websockets.ConnectionClosedOK:
                return  # a clean close by the venue still means "reconnect"
            ts = time.monotonic_ns()
            self.last_frame_at = self._clock()
            for ev in self._parse(raw, ts):
                self._dispatch(ev)
            if self._resync:
                await self._send_resync(ws)

    def _parse(self, raw: bytes | str, ts: int) -> list[ExchangeEvent]:
        if self._applied and isinstance(raw, bytes):
            target = self._applied_target(raw)
            if target is not None:
                self._apply_native(target, raw, ts)
                return []
        try:
            return parse_ws_message(raw, ts_recv_ns=ts, category=self.category)
        except ParseError as exc:
            # One bad frame is logged and skipped; a book frame we could not read forces a resync.
            log.warning("ws_parse_error", ws_type=self._kind.value, topic=exc.topic, excerpt=exc.excerpt)
            if exc.topic and exc.topic.startswith("orderbook."):
                self.request_resync(Symbol(exc.topic.rsplit(".", 1)[-1]))
            return []

    def _dispatch(self, ev: ExchangeEvent) -> None:
        if isinstance(ev, BookUpdate):
            self._on_book(ev)
        elif isinstance(ev, Ticker):
            merged = self._tickers[ev.symbol] = merge_ticker(self._tickers.get(ev.symbol), ev)
            self.queue.put(merged)
        elif isinstance(ev, (Pong, Ack)):
            if isinstance(ev, Ack) and self.on_ack is not None and self.on_ack(ev):
                return
            if isinstance(ev, Ack) and not ev.success:
                log.warning("ws_command_refused", ws_type=self._kind.value, op=ev.op, ret_msg=ev.ret_msg)
            self.queue.put(ev)
        else:
            self.queue.put(ev)

    def _applied_target(self, raw: bytes) -> AppliedBook | None:
        """The attached book of an `orderbook.{depth}.{symbol}` push, from the topic's bytes (Bybit
        sends the topic first; anything else takes the parsing path)."""
        i = raw.find(_BOOK_TOPIC, 0, 48)
        if i < 0:
            return None
        dot = raw.find(b".", i + len(_BOOK_TOPIC))
        end = raw.find(b'"', dot)
        return self._applied.get(raw[dot + 1:end]) if dot > 0 and end > dot else None

    def _apply_native(self, target: AppliedBook, raw: bytes, ts: int) -> None:
        sym = target.symbol
        try:
            bid_t, bid_l, ask_t, ask_l, u, resync = target.book.apply_message(raw)
        except BookError as exc:
            log.warning("ws_book_rejected", symbol=sym, error=str(exc))
            resync, bid_t, bid_l, ask_t, ask_l, u = True, None, None, None, None, 0
            target.book.clear()  # the next delta then reports no_snapshot until the resubscribe's snapshot
        if resync:
            if sym not in self._awaiting:
                log.warning("ws_book_resync", symbol=sym, reason=target.book.resync_reason or "rejected")
                self._awaiting.add(sym)
                self.request_resync(sym)
        else:
            self._awaiting.discard(sym)
        self.queue.put_book(BookUpdate(symbol=sym, is_snapshot=False, update_id=u, seq=0,
                                       bids=(), asks=(), ts_exchange_ms=0, ts_recv_ns=ts, raw=raw,
                                       applied=(bid_t, bid_l, ask_t, ask_l, resync)), target)

    def _on_book(self, ev: BookUpdate) -> None:
        target = self._applied.get(ev.symbol.encode()) if self._applied else None
        if target is not None:  # an attached book whose message did not start with its topic
            self._apply_native(target, ev.raw, ev.ts_recv_ns)
            return
        mirror = self.mirrors.get(ev.symbol)
        if mirror is None:
            mirror = self.mirrors[ev.symbol] = BookMirror(ev.symbol, ev.depth)
        if ev.is_snapshot:
            self._resync.discard(ev.symbol)
            mirror.apply(ev)
            self.queue.put_book(ev, mirror)
            return
        verdict = check_delta(mirror.update_id, ev.update_id) if self.check_gaps else (
            "ok" if mirror.update_id is not None else "no_snapshot")
        if verdict == "ok":
            mirror.apply(ev)
            self.queue.put_book(ev, mirror)
        elif verdict in ("gap", "reset"):
            log.warning("ws_book_resync", symbol=ev.symbol, reason=verdict, last_u=mirror.update_id, u=ev.update_id)
            self.request_resync(ev.symbol)
        # "duplicate" and "no_snapshot" (waiting for the snapshot after a resync) are dropped

    async def _send_resync(self, ws: ClientConnection) -> None:
        """Unsubscribe + subscribe the affected book topics: Bybit answers with a fresh snapshot."""
        symbols = sorted(self._resync)
        topics = [t for t in self.topics if t.startswith("orderbook.") and t.rsplit(".", 1)[-1] in symbols]
        self._resync.clear()
        if not topics:
            return
        self._emit_state(StreamStatus.RESYNC_REQUIRED, reason="sequence", symbols=tuple(Symbol(s) for s in symbols))
        await ws.send(wire.subscribe_msg(topics, f"unsub-{next(self._ids)}", unsubscribe=True))
        await ws.send(wire.subscribe_msg(topics, f"resub-{next(self._ids)}"))

    def _on_disconnect(self) -> None:
        # Every book is stale until the snapshot that follows the resubscribe.
        stale = tuple(self.mirrors)
        for sym in stale:
            self.mirrors[sym].invalidate()
            self.queue.drop_books(sym)
        for target in self._applied.values():  # the subscribe after the reconnect brings snapshots
            target.book.clear()
            self.queue.drop_books(target.symbol)
            self._awaiting.add(target.symbol)
        stale += tuple(t.symbol for t in self._applied.values() if t.symbol not in stale)
        self._resync.clear()
        if stale:
            self._emit_state(StreamStatus.RESYNC_REQUIRED, reason="reconnect", symbols=stale)

    def _emit_state(self, status: StreamStatus, *, reason: str = "", symbols: tuple[Symbol, ...] = ()) -> None:
        if self.on_state is not None:
            self.on_state(status)
        self.queue.put(StreamState(stream=self._kind, status=status, attempt=self.schedule.attempt, reason=reason,
                                   symbols=symbols, ts_recv_ns=time.monotonic_ns()))

    def _set_connected(self, up: bool) -> None:
        self.connected = up
        if self.metrics is not None:
            self.metrics.ws_connected.labels(ws_type=self._kind.value).set(1 if up else 0)

    async def add_topics(self, topics: Sequence[str]) -> None:
        """Subscribe more topics now (if connected; the ack arrives as an Ack event) and on every reconnect."""
        new = [t for t in topics if t not in self.topics]
        if not new:
            return
        self.topics.extend(new)
        if self._ws is not None and self.connected:
            await self.send(wire.subscribe_msg(new, f"sub-{next(self._ids)}"))

    # -- trade stream helper ------------------------------------------------------------------------

    def can_send_now(self) -> bool:
        """Whether `send_now` would write: connected, open, and nothing queued in the socket buffer."""
        ws = self._ws
        return (ws is not None and self.connected and ws.protocol.state is State.OPEN
                and not ws.transport.get_write_buffer_size())

    def send_now(self, payload: bytes) -> None:
        """Write a command frame in the caller's step, without a suspension point (the order path:
        the request goes out inside the quote cycle that decided it). Check `can_send_now` first.

        websockets' `send()` is a coroutine even when the frame fits the socket at once; this is
        what it does then, through the Sans-I/O protocol's documented calls.
        """
        ws = self._ws
        if ws is None:
            raise ExchangeUnavailable(f"{self._kind.value} stream not connected")
        ws.protocol.send_binary(payload)
        for data in ws.protocol.data_to_send():
            ws.transport.write(data)

    async def send(self, payload: bytes) -> None:
        """Send a raw command on the live connection (trade API).

        Raises:
            ExchangeUnavailable: not connected.
        """
        ws = self._ws
        if ws is None:
            raise ExchangeUnavailable(f"{self._kind.value} stream not connected")
        try:
            await ws.send(payload)
        except websockets.ConnectionClosed as exc:  # raised before the frame went out
            raise ExchangeUnavailable(f"{self._kind.value} stream closed") from exc
