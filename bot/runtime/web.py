"""The bot's web server (aiohttp runner): /healthz, /readyz, /metrics, /status (JSON or HTML), /admin/*."""

from __future__ import annotations

import html
from typing import Any, Protocol

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.common import json_io
from bot.runtime.admin_api import AdminController, add_admin_routes

__all__ = ["StatusSource", "WebServer"]


class StatusSource(AdminController, Protocol):
    def status(self) -> dict[str, Any]: ...

    def readiness(self) -> tuple[bool, list[str]]: ...

    def metrics_exposition(self) -> bytes: ...


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=json_io.dumps(doc), status=status, content_type="application/json")


def render_html(st: dict[str, Any]) -> str:
    """A small self-refreshing page with the live numbers of /status."""
    e = html.escape
    tot = st.get("totals", {})
    conns = " ".join(f"{k}={v}" for k, v in st.get("connections", {}).items())
    lat = st.get("latency", {})
    rows = []
    for sym, s in st.get("symbols", {}).items():
        rows.append("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in (
            sym, s.get("bid"), s.get("ask"), s.get("book_bid"), s.get("book_ask"), s.get("book_age_ms"),
            s.get("position"), s.get("open_orders"), s.get("fills"), s.get("maker_share"), s.get("rebates"),
            s.get("fees"), s.get("pnl_realized"), s.get("pnl_unrealized"), s.get("obligations_met"))) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in (
        "symbol", "bid", "ask", "book bid", "book ask", "book age ms", "position", "open", "fills", "maker share",
        "rebates", "fees", "pnl real.", "pnl unreal.", "obligations"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
        "<title>MM Rebate Bot</title><style>body{font-family:monospace}td,th{padding:2px 8px;"
        "text-align:right}</style></head><body>"
        f"<h1>MM Rebate Bot: {e(str(st.get('state')))}</h1>"
        f"<p>venue {e(str(st.get('venue')))} | pid {st.get('pid')} | uptime {st.get('uptime_s')} s | "
        f"kill switch {st.get('kill_switch')} | config {e(str(st.get('config_hash', ''))[:12])}</p>"
        f"<p>connections: {e(conns)} | tick-to-order p50 {lat.get('tick_to_order_p50_us')} us, "
        f"p99 {lat.get('tick_to_order_p99_us')} us</p>"
        f"<p>fills {tot.get('fills')} (maker share {tot.get('maker_share')}) | rebates {tot.get('rebates')} | "
        f"fees {tot.get('fees')} | pnl {tot.get('pnl_realized')} / {tot.get('pnl_unrealized')} | "
        f"open orders {tot.get('open_orders')}</p>"
        f"<table><tr>{head}</tr>{''.join(rows)}</table></body></html>")


class WebServer:
    """Binds host:port (port 0 = ephemeral); `url` is known after `start()`."""

    def __init__(self, source: StatusSource, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.source = source
        self.host = host
        self.port = port
        self.url = ""
        self._runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        src = self.source

        async def healthz(_: web.Request) -> web.Response:
            return _json({"ok": True})

        async def readyz(_: web.Request) -> web.Response:
            ready, reasons = src.readiness()
            return _json({"ready": ready, "reasons": reasons}, 200 if ready else 503)

        async def metrics(_: web.Request) -> web.Response:
            resp = web.Response(body=src.metrics_exposition())
            resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return resp

        async def status(request: web.Request) -> web.Response:
            st = src.status()
            if request.query.get("format") == "html" or request.path.endswith(".html"):
                return web.Response(text=render_html(st), content_type="text/html")
            return _json(st)

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/status", status)
        app.router.add_get("/status.html", status)
        add_admin_routes(app, src)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
