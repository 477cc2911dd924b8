"""Admin endpoints (/admin/*): bearer token compared in constant time; disabled without a token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from bot.common import json_io
from bot.config import Secret
from bot.observability.logging import get_logger

__all__ = ["AdminController", "add_admin_routes"]

log = get_logger(__name__)

ADMIN_ACTIONS = ("pause", "resume", "reload", "cancel-all", "kill", "reset-kill", "shutdown")


class AdminController(Protocol):
    """What the admin API may ask of the bot."""

    def admin_token(self) -> Secret | None: ...

    async def admin_pause(self, reason: str) -> dict[str, Any]: ...

    async def admin_resume(self) -> dict[str, Any]: ...

    async def admin_reload(self) -> dict[str, Any]: ...

    async def admin_cancel_all(self) -> dict[str, Any]: ...

    async def admin_kill(self, reason: str) -> dict[str, Any]: ...

    async def admin_reset_kill(self, operator: str) -> dict[str, Any]: ...

    def request_stop(self, reason: str) -> None: ...


def _json(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json_io.dumps(doc), status=status, content_type="application/json", headers=headers)


def _authorized(request: web.Request, token: Secret) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), token.reveal().encode())


def add_admin_routes(app: web.Application, ctl: AdminController) -> None:
    async def handle(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action not in ADMIN_ACTIONS:
            return _json({"error": f"unknown admin action {action!r}", "actions": list(ADMIN_ACTIONS)}, 404)
        token = ctl.admin_token()
        if token is None:
            return _json({"error": "admin API disabled: no admin token configured "
                                   "(set MM_ADMIN_TOKEN_FILE or MM_ADMIN_TOKEN, see `mmctl secrets`)"}, 503)
        if not _authorized(request, token):
            log.warning("admin_unauthorized", action=action, peer=request.remote or "")
            return _json({"error": "unauthorized: send Authorization: Bearer <admin token>"}, 401,
                         headers={"WWW-Authenticate": 'Bearer realm="mmctl-admin"'})
        reason = request.query.get("reason", "admin")
        log.info("admin_action", action=action, reason=reason)
        handlers: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
            "pause": lambda: ctl.admin_pause(reason),
            "resume": ctl.admin_resume,
            "reload": ctl.admin_reload,
            "cancel-all": ctl.admin_cancel_all,
            "kill": lambda: ctl.admin_kill(reason),
            "reset-kill": lambda: ctl.admin_reset_kill(reason),
        }
        if action == "shutdown":
            # Answer first: the web server is the last thing the shutdown sequence stops.
            ctl.request_stop(f"admin:{reason}")
            return _json({"ok": True, "state": "stopping"}, 202)
        result = await handlers[action]()
        status = 200 if result.get("ok", True) else 409
        return _json(result, status)

    app.router.add_post("/admin/{action}", handle)
