"""SimServer: the emulator's lifetime (one aiohttp app on one port) and its Python API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
from decimal import Decimal
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.sim.accounts import AccountState
from bot.sim.appkey import SIM_KEY
from bot.sim.config import SimAccount, SimConfig
from bot.sim.engine import Engine, Market
from bot.sim.faults import Faults
from bot.sim.flow import Flow
from bot.sim.hub import Hub
from bot.sim.orders import order_wire
from bot.sim.ratelimit import IpLimiter, RateDecision, UidLimiter
from bot.sim.stats import SimStats

__all__ = ["SimServer", "banner", "serve"]

log = logging.getLogger(__name__)


class SimServer:
    """A Bybit V5 emulator on loopback. `async with SimServer(cfg) as sim:` starts it on cfg.port (0 = ephemeral)."""

    def __init__(self, cfg: SimConfig | None = None) -> None:
        self.cfg = cfg = cfg or SimConfig()
        self.stats = SimStats()
        self.engine = Engine(cfg, self.now_ms)
        for acct in cfg.accounts or (SimAccount(),):
            self.engine.add_account(acct)
        self.faults = Faults(self)
        self.engine.reject_hook = self.faults.take_reject
        self.hub = Hub(self.engine, self.faults, self.stats, cfg.speed, self.now_ms, cfg.first_push_delay_ms / 1000)
        self.flow: Flow | None = Flow(self.engine, levels=cfg.levels)  # builds the house ladder
        self.uid_limiter = UidLimiter(cfg.rate_limit_scale)
        self.ip_limiter = IpLimiter(cfg.ip_limit_per_5s, cfg.ip_ban_s)
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event() if _has_loop() else None
        self.port = cfg.port
        self.market_paused = False

    # ---- clock
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.cfg.clock_offset_ms

    # ---- lifetime
    async def start(self) -> SimServer:
        from bot.sim.control import add_control_routes
        from bot.sim.rest import handle_rest
        from bot.sim.ws import handle_private, handle_public, handle_trade

        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=self.cfg.max_frame_bytes)
        app[SIM_KEY] = self
        app.router.add_get("/v5/public/{category}", handle_public)
        app.router.add_get("/v5/private", handle_private)
        app.router.add_get("/v5/trade", handle_trade)
        add_control_routes(app)
        app.router.add_route("*", "/v5/{tail:.*}", handle_rest)
        # aiohttp sets TCP_NODELAY on every accepted connection (aiohttp/base_protocol.py).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        ctx = self.cfg.ssl_context if isinstance(self.cfg.ssl_context, ssl.SSLContext) else None
        site = web.TCPSite(self._runner, self.cfg.host, self.cfg.port, ssl_context=ctx, reuse_address=True)
        await site.start()
        server = site._server  # the only way aiohttp exposes the bound port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._market_loop()), loop.create_task(self._idle_sweeper())]
        log.info("sim_started url=%s", self.rest_url)
        return self

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        self.hub.close_all()
        for c in self.hub.connections():
            c.abort(1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._stopped is not None:
            self._stopped.set()

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def run_forever(self) -> None:
        """Start (if needed) and serve until stop() is called or the task is cancelled."""
        if self._runner is None:
            await self.start()
        assert self._stopped is not None
        try:
            await self._stopped.wait()
        finally:
            if self._runner is not None:
                await self.stop()

    async def _market_loop(self) -> None:
        speed = max(self.cfg.speed, 1e-6)
        period = max(0.001, min(0.01, 0.01 / speed))  # 100 Hz at speed 1, up to 1 kHz
        last = time.monotonic()
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            dt = (now - last) * speed
            last = now
            try:
                if self.flow is not None and self.cfg.market and not self.market_paused:
                    self.flow.step(dt)
                self.hub.publish()
            except Exception:
                log.exception("sim_market_step_failed")

    async def _idle_sweeper(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.idle_sweep_s)
            now = time.monotonic()
            for c in self.hub.connections():
                if now - c.last_activity > c.idle_timeout_s:
                    log.info("sim_ws_idle_close conn=%s", c.conn_id)
                    c.abort(1000)

    # ---- URLs
    @property
    def _host(self) -> str:
        return f"[{self.cfg.host}]" if ":" in self.cfg.host else self.cfg.host

    @property
    def rest_url(self) -> str:
        scheme = "https" if self.cfg.ssl_context is not None else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def url(self) -> str:
        return self.rest_url

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.cfg.ssl_context is not None else "ws"
        return f"{scheme}://{self._host}:{self.port}"

    def ws_public_url(self, category: str = "linear") -> str:
        return f"{self.ws_url}/v5/public/{category}"

    @property
    def ws_private_url(self) -> str:
        return f"{self.ws_url}/v5/private"

    @property
    def ws_trade_url(self) -> str:
        return f"{self.ws_url}/v5/trade"

    # ---- accounts and state
    @property
    def accounts(self) -> list[SimAccount]:
        return [a.cfg for a in self.engine.accounts.values()]

    def add_account(self, account: SimAccount | None = None, **kwargs: Any) -> SimAccount:
        """Register another account (its own key pair, fees, balances); returns it."""
        acct = account or SimAccount(**kwargs)
        self.engine.add_account(acct)
        return acct

    def account_state(self, api_key: str) -> AccountState:
        return self.engine.accounts[api_key]

    def open_orders(self, api_key: str) -> list[dict[str, Any]]:
        """Open orders of an account in the wire shape of /v5/order/realtime (oldest first)."""
        st = self.engine.accounts[api_key]
        return [order_wire(o) for o in sorted(st.open_orders.values(), key=lambda o: o.seq)]

    def executions(self, api_key: str) -> list[dict[str, Any]]:
        return [e.wire() for e in self.engine.accounts[api_key].executions]

    def positions(self, api_key: str) -> dict[str, Decimal]:
        """Signed position size per linear symbol."""
        return {s: p.size for s, p in self.engine.accounts[api_key].positions.items()}

    def wallet(self, api_key: str) -> dict[str, Decimal]:
        return dict(self.engine.accounts[api_key].wallet)

    @property
    def received_orders(self) -> list[dict[str, Any]]:
        return list(self.stats.orders_received)

    # ---- market control
    def market(self, symbol: str, category: str | None = None) -> Market:
        for (cat, sym), m in self.engine.markets.items():
            if sym == symbol and (category is None or cat == category):
                return m
        raise KeyError(f"unknown symbol {symbol!r}")

    def fair_price(self, symbol: str, category: str | None = None) -> Decimal:
        return self.market(symbol, category).fair

    def set_fair_price(self, symbol: str, price: Decimal | str | int, category: str | None = None) -> None:
        """Move the fair price; the house ladder follows on the next step (taking stale quotes it crosses)."""
        m = self.market(symbol, category)
        self.engine.set_fair(m, Decimal(str(price)))
        if self.flow is not None:
            self.flow.refresh(m)
            self.hub.publish()

    def jump(self, symbol: str, pct: Decimal | str | float, category: str | None = None) -> Decimal:
        """Jump the fair price by pct percent (5 = +5 %, -3 = -3 %); returns the new fair price."""
        m = self.market(symbol, category)
        new = m.fair * (1 + Decimal(str(pct)) / 100)
        self.set_fair_price(symbol, new.quantize(m.spec.instrument.tick_size), category)
        return m.fair

    def pause_market(self, paused: bool = True) -> None:
        """Freeze the synthetic flow (fair price, house ladder, takers); books stay as they are."""
        self.market_paused = paused

    def step_market(self, seconds: float) -> None:
        """Advance the synthetic market by `seconds` of simulated time at once (deterministic tests)."""
        if self.flow is not None:
            self.flow.step(seconds)
        self.hub.publish()

    # ---- rate limits (shared by REST and the trade WS)
    def take_rate_limit(self, acct: AccountState, path: str, category: str, n: int) -> RateDecision | None:
        now = self.now_ms()
        if self.faults.take_rate_limit():
            return RateDecision(0, 10, 0, now + 1000)
        if not self.cfg.rate_limits:
            return None
        return self.uid_limiter.take(acct.uid, path, category, now, n)

    @staticmethod
    def limit_headers(d: RateDecision | None) -> dict[str, str] | None:
        if d is None:
            return None
        return {"X-Bapi-Limit": str(d.limit), "X-Bapi-Limit-Status": str(max(0, d.remaining)),
                "X-Bapi-Limit-Reset-Timestamp": str(d.reset_ms)}


def banner(sim: SimServer) -> dict[str, str]:
    """What `mmctl sim` and `python -m bot.sim` print: base URLs and the first account's throwaway keys."""
    acct = sim.accounts[0]
    return {"REST": sim.rest_url, "WS": sim.ws_url, "WS_PUBLIC": f"{sim.ws_url}/v5/public",
            "WS_PRIVATE": sim.ws_private_url, "WS_TRADE": sim.ws_trade_url, "KEY": acct.api_key,
            "SECRET": acct.api_secret}


def _has_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def serve(cfg: SimConfig, on_started: Any = None) -> None:
    """Blocking entry point (`mmctl sim`): run until SIGINT/SIGTERM, then shut down cleanly."""

    async def main() -> None:
        sim = SimServer(cfg)
        await sim.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: loop.create_task(sim.stop()))
        if on_started is not None:
            on_started(sim)
        await sim.run_forever()

    asyncio.run(main())
