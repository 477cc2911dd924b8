"""WebSocket connections and fan-out: public book/trade/ticker streams, private pushes, DCP timers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bot.common.json_io import dumps
from bot.sim.engine import Engine, Market
from bot.sim.market import BOOK_DEPTHS, BookStream, TickerStream

if TYPE_CHECKING:
    from bot.sim.accounts import AccountState
    from bot.sim.faults import Faults
    from bot.sim.stats import SimStats

__all__ = ["Connection", "Hub"]

log = logging.getLogger(__name__)
MAX_QUEUE = 50_000  # a subscriber this far behind is dropped, as a venue would
TICKER_MS = 100
DCP_PRODUCTS = {"dcp.future": "DERIVATIVES", "dcp.spot": "SPOT", "dcp.option": "OPTIONS"}
PRODUCT_CATEGORIES = {"DERIVATIVES": ("linear", "inverse"), "SPOT": ("spot",), "OPTIONS": ("option",)}


class Connection:
    """One accepted WS connection: its subscriptions and an outbound queue drained by one writer task."""

    _ids = itertools.count(1)

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, stream: str, category: str,
                 idle_timeout_s: float, hub: Hub) -> None:
        self.ws = ws
        self.request = request
        self.stream = stream
        self.category = category
        self.hub = hub
        n = next(self._ids)
        self.conn_id = f"sim{n:06d}-{id(self) & 0xFFFFFF:06x}"
        self.topics: set[str] = set()
        self.account: AccountState | None = None
        self.idle_timeout_s = idle_timeout_s
        self.last_activity = time.monotonic()
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self.req_ids: dict[str, None] = {}  # trade reqIds seen (newest 10,000), for 20006
        self._msg_ids = itertools.count(1)
        self.writer: asyncio.Task[None] | None = None

    def next_msg_id(self) -> str:
        return f"{self.conn_id}-{next(self._msg_ids)}"

    def send(self, payload: bytes | dict[str, Any]) -> None:
        if self.closed:
            return
        data = payload if isinstance(payload, bytes) else dumps(payload)
        if self.queue.qsize() >= MAX_QUEUE:
            log.warning("sim_ws_slow_consumer conn=%s", self.conn_id)
            self.abort(1011)
            return
        self.queue.put_nowait(data)

    async def write_loop(self) -> None:
        faults = self.hub.faults
        stats = self.hub.stats
        while True:
            data = await self.queue.get()
            if data is None:
                return
            while faults.is_stalled(self.stream):  # noqa: ASYNC110 - a deadline, not an event
                await asyncio.sleep(min(0.05, max(0.001, faults.stall_remaining(self.stream))))
            try:
                await self.ws.send_frame(data, WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):
                self.closed = True
                return
            self.last_activity = time.monotonic()
            stats.sent(self.stream)

    def abort(self, code: int = 1006) -> None:
        """Drop the connection at once (no close frame when code is 1006, like a network cut)."""
        self.closed = True
        self.queue.put_nowait(None)
        transport = self.request.transport
        if code == 1006 and transport is not None:
            transport.abort()
        else:
            asyncio.get_running_loop().create_task(self._close(code))

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close(code=code)


class Hub:
    """Routes engine events to connections and runs the public stream publishers."""

    def __init__(self, engine: Engine, faults: Faults, stats: SimStats, speed: float,
                 clock_ms: Callable[[], int], first_push_delay_s: float = 0.0) -> None:
        self.engine = engine
        self.faults = faults
        self.stats = stats
        self.speed = max(speed, 1e-6)
        self.clock_ms = clock_ms
        self.first_push_delay_s = first_push_delay_s
        self._conns: set[Connection] = set()
        self.public_subs: dict[tuple[str, str], set[Connection]] = {}  # (category, topic) -> conns
        self.book_streams: dict[tuple[str, str], BookStream] = {}
        self.ticker_streams: dict[tuple[str, str], TickerStream] = {}
        self.dcp_timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._first_u = 1000
        engine.sink = self

    # ---- connections
    def connections(self) -> list[Connection]:
        return list(self._conns)

    def add(self, conn: Connection) -> None:
        self._conns.add(conn)

    def remove(self, conn: Connection) -> None:
        conn.closed = True
        self._conns.discard(conn)
        for topic in conn.topics:
            subs = self.public_subs.get((conn.category, topic))
            if subs is not None:
                subs.discard(conn)
        if conn.account is not None:
            for topic in conn.topics:
                if topic in DCP_PRODUCTS:
                    self._maybe_arm_dcp(conn.account, DCP_PRODUCTS[topic])

    # ---- public
    def subscribe_public(self, conn: Connection, topic: str) -> None:
        """Start a topic for a connection a moment after its ack, as the venue's snapshot follows the ack.

        The pause matters to clients that register their callback after sending the subscribe
        (pybit does): a snapshot that beats the registration is dropped or crashes them.
        """
        conn.topics.add(topic)
        if self.first_push_delay_s <= 0:
            self._start_topic(conn, topic)
        else:
            asyncio.get_running_loop().call_later(self.first_push_delay_s, self._start_topic, conn, topic)

    def _start_topic(self, conn: Connection, topic: str) -> None:
        if conn.closed or topic not in conn.topics:
            return
        self.public_subs.setdefault((conn.category, topic), set()).add(conn)
        now = self.clock_ms()
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            depth_s, _, symbol = rest.partition(".")
            stream = self.book_stream(self.engine.markets[(conn.category, symbol)], int(depth_s))
            conn.send(stream.snapshot_for_new_subscriber(now))
        elif kind == "tickers":
            ts = self._ticker_stream(self.engine.markets[(conn.category, rest)])
            conn.send(ts.snapshot(now))

    def unsubscribe_public(self, conn: Connection, topic: str) -> None:
        conn.topics.discard(topic)
        subs = self.public_subs.get((conn.category, topic))
        if subs is not None:
            subs.discard(conn)

    def book_stream(self, m: Market, depth: int) -> BookStream:
        key = (m.category, f"orderbook.{depth}.{m.symbol}")
        s = self.book_streams.get(key)
        if s is None:
            self._first_u += 1_000_000
            s = self.book_streams[key] = BookStream(m, depth, self._first_u)
        return s

    def _ticker_stream(self, m: Market) -> TickerStream:
        key = (m.category, f"tickers.{m.symbol}")
        s = self.ticker_streams.get(key)
        if s is None:
            s = self.ticker_streams[key] = TickerStream(m)
        return s

    def book_streams_for(self, symbol: str, category: str | None) -> list[BookStream]:
        out = []
        for (cat, _), s in self.book_streams.items():
            if s.m.symbol == symbol and (category is None or cat == category):
                out.append(s)
        return out

    def _fan_out(self, category: str, topic: str, msg: dict[str, Any]) -> None:
        subs = self.public_subs.get((category, topic))
        if not subs:
            return
        data = dumps(msg)
        for c in list(subs):
            c.send(data)

    def publish(self) -> None:
        """Push every public message that is due (called by the server's market loop)."""
        now = self.clock_ms()
        for (cat, topic), stream in self.book_streams.items():
            if not self.public_subs.get((cat, topic)):
                continue
            if now - stream.last_push_ms < BOOK_DEPTHS[stream.depth] / self.speed and not stream.reset_pending:
                continue
            msg = stream.poll(now)
            if msg is not None:
                self._fan_out(cat, topic, msg)
        for (cat, topic), ts in self.ticker_streams.items():
            if not self.public_subs.get((cat, topic)) or now - ts.last_push_ms < TICKER_MS / self.speed:
                continue
            msg = ts.poll(now)
            if msg is not None:
                self._fan_out(cat, topic, msg)

    # ---- EventSink (called by the engine)
    def wants(self, owner: str) -> bool:
        """Is any authenticated private connection of this account subscribed to something?"""
        return any(c.stream == "private" and c.account is not None and c.account.api_key == owner and c.topics
                   for c in self._conns)

    def trades(self, market: Market, trades: list[dict[str, Any]]) -> None:
        topic = f"publicTrade.{market.symbol}"
        if self.public_subs.get((market.category, topic)):
            self._fan_out(market.category, topic,
                          {"topic": topic, "type": "snapshot", "ts": self.clock_ms(), "data": trades})

    def private(self, owner: str, topic: str, category: str, items: list[dict[str, Any]]) -> None:
        now = self.clock_ms()
        for c in self._conns:
            if c.stream != "private" or c.account is None or c.account.api_key != owner or c.closed:
                continue
            for sub in _matching_topics(c.topics, topic, category):
                data = items
                if sub.startswith("execution.fast"):
                    data = [_fast_exec(i) for i in items]
                c.send({"id": c.next_msg_id(), "topic": sub, "creationTime": now, "data": data})

    # ---- DCP
    def dcp_alive(self, acct: AccountState, product: str) -> bool:
        topic = next(t for t, p in DCP_PRODUCTS.items() if p == product)
        return any(c.account is acct and topic in c.topics and not c.closed for c in self._conns)

    def dcp_subscribed(self, acct: AccountState, product: str) -> None:
        h = self.dcp_timers.pop((acct.api_key, product), None)
        if h is not None:
            h.cancel()

    def _maybe_arm_dcp(self, acct: AccountState, product: str) -> None:
        window = acct.dcp.get(product)
        if not window or self.dcp_alive(acct, product) or (acct.api_key, product) in self.dcp_timers:
            return
        loop = asyncio.get_running_loop()
        self.dcp_timers[(acct.api_key, product)] = loop.call_later(window, self._fire_dcp, acct, product)

    def _fire_dcp(self, acct: AccountState, product: str) -> None:
        self.dcp_timers.pop((acct.api_key, product), None)
        if self.dcp_alive(acct, product):
            return
        from bot.sim.orderops import cancel_all

        out = cancel_all(self.engine, acct, {}, cancel_type="CancelByDCP", categories=PRODUCT_CATEGORIES[product])
        log.info("sim_dcp_fired account=%s product=%s cancelled=%d", acct.uid, product, len(out["list"]))

    def close_all(self) -> None:
        for h in self.dcp_timers.values():
            h.cancel()
        self.dcp_timers.clear()


def _matching_topics(subs: set[str], topic: str, category: str) -> list[str]:
    out = []
    if topic in subs:
        out.append(topic)
    if category and f"{topic}.{category}" in subs:
        out.append(f"{topic}.{category}")
    if topic == "execution":
        if "execution.fast" in subs:
            out.append("execution.fast")
        if category and f"execution.fast.{category}" in subs:
            out.append(f"execution.fast.{category}")
    return out


_FAST_FIELDS = ("category", "symbol", "orderId", "isMaker", "orderLinkId", "execId", "execPrice", "execQty",
                "side", "execTime", "seq")


def _fast_exec(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: item.get(k) for k in _FAST_FIELDS}
    if item.get("isMaker"):
        out["orderLinkId"] = ""  # maker fills carry no orderLinkId on execution.fast
    return out
