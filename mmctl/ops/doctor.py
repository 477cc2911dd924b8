"""`mmctl doctor`: quick pass/warn/fail checks (config, secrets, clock, venue, key permissions),
and the small signed venue probe the rehearsal and the soak's orphan check share."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Literal

from bot.common import json_io
from bot.observability.logging import get_logger

__all__ = ["CheckLine", "VenueError", "VenueProbe", "overall", "run_doctor"]

log = get_logger(__name__)

Level = Literal["pass", "warn", "fail"]

# Clock: Bybit rejects a request stamped > 1 s ahead of its clock (reference section 2).
CLOCK_WARN_MS = 250.0
CLOCK_FAIL_MS = 1000.0


class VenueError(Exception):
    """A venue call failed: transport error, HTTP error or a non-zero retCode."""

    def __init__(self, message: str, *, ret_code: int | None = None) -> None:
        super().__init__(message)
        self.ret_code = ret_code


class VenueProbe:
    """A minimal signed Bybit V5 REST client (sync httpx) for checks; not the trading client."""

    def __init__(self, rest_url: str, api_key: str | None = None, api_secret: str | None = None, *,
                 recv_window_ms: int = 5000, timeout_s: float = 5.0,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000) -> None:
        import httpx

        self.rest_url = rest_url.rstrip("/")
        self._key, self._secret = api_key, api_secret
        self.recv_window_ms = recv_window_ms
        self._clock_ms = clock_ms
        self._client = httpx.Client(timeout=timeout_s, limits=httpx.Limits(
            max_connections=2, max_keepalive_connections=2, keepalive_expiry=30.0))

    def __enter__(self) -> VenueProbe:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _headers(self, payload: str) -> dict[str, str]:
        from bot.exchange.bybit.signing import sign_rest

        if not self._key or not self._secret:
            raise VenueError("no API key pair loaded")
        ts = self._clock_ms()
        return {"X-BAPI-API-KEY": self._key, "X-BAPI-TIMESTAMP": str(ts),
                "X-BAPI-RECV-WINDOW": str(self.recv_window_ms),
                "X-BAPI-SIGN": sign_rest(self._secret, ts, self._key, self.recv_window_ms, payload)}

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
              body: Mapping[str, Any] | None = None, signed: bool = False) -> dict[str, Any]:
        import httpx

        query = urllib.parse.urlencode(sorted((params or {}).items()))
        content = json_io.dumps(dict(body)) if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if signed:
            headers |= self._headers(content.decode() if body is not None else query)
        url = self.rest_url + path + (f"?{query}" if query else "")
        try:
            r = self._client.request(method, url, content=content or None, headers=headers)
        except httpx.HTTPError as exc:
            raise VenueError(f"{method} {path}: {type(exc).__name__}") from exc
        if r.status_code >= 400:
            raise VenueError(f"{method} {path}: HTTP {r.status_code}")
        try:
            doc = json_io.loads(r.content)
        except json_io.JSONDecodeError as exc:
            raise VenueError(f"{method} {path}: response is not JSON") from exc
        if not isinstance(doc, dict):
            raise VenueError(f"{method} {path}: unexpected response")
        code = int(doc.get("retCode", -1))
        if code != 0:
            raise VenueError(f"{method} {path}: retCode {code} {str(doc.get('retMsg', ''))[:120]}", ret_code=code)
        result = doc.get("result")
        return result if isinstance(result, dict) else {}

    def server_time_offset_ms(self) -> tuple[float, float]:
        """(server - local clock at the midpoint of the request, round trip), both in ms."""
        t0 = time.time_ns()
        res = self._call("GET", "/v5/market/time")
        t1 = time.time_ns()
        server_ns = int(res.get("timeNano") or int(res.get("timeSecond", 0)) * 1_000_000_000)
        return (server_ns - (t0 + t1) / 2) / 1e6, (t1 - t0) / 1e6

    def query_api(self) -> dict[str, Any]:
        return self._call("GET", "/v5/user/query-api", signed=True)

    def instruments(self, category: str, symbol: str) -> list[dict[str, Any]]:
        res = self._call("GET", "/v5/market/instruments-info", params={"category": category, "symbol": symbol})
        return [i for i in res.get("list", []) if isinstance(i, dict)]

    def fee_rates(self, category: str, symbol: str) -> list[dict[str, Any]]:
        res = self._call("GET", "/v5/account/fee-rate", params={"category": category, "symbol": symbol},
                         signed=True)
        return [i for i in res.get("list", []) if isinstance(i, dict)]

    def open_orders(self, category: str, symbol: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(50):  # 50 pages x 50 orders: far beyond any bot's open orders
            params = {"category": category, "symbol": symbol, "limit": "50"} | ({"cursor": cursor} if cursor else {})
            res = self._call("GET", "/v5/order/realtime", params=params, signed=True)
            out.extend(i for i in res.get("list", []) if isinstance(i, dict))
            cursor = str(res.get("nextPageCursor") or "")
            if not cursor:
                break
        return out

    def orderbook_top(self, category: str, symbol: str) -> tuple[str | None, str | None]:
        res = self._call("GET", "/v5/market/orderbook", params={"category": category, "symbol": symbol,
                                                               "limit": "1"})
        bids, asks = res.get("b") or [], res.get("a") or []
        return (bids[0][0] if bids else None), (asks[0][0] if asks else None)

    def place_post_only(self, category: str, symbol: str, side: str, qty: str, price: str,
                        link_id: str) -> dict[str, Any]:
        return self._call("POST", "/v5/order/create", signed=True, body={
            "category": category, "symbol": symbol, "side": side, "orderType": "Limit", "qty": qty,
            "price": price, "timeInForce": "PostOnly", "orderLinkId": link_id})

    def cancel(self, category: str, symbol: str, link_id: str) -> dict[str, Any]:
        return self._call("POST", "/v5/order/cancel", signed=True,
                          body={"category": category, "symbol": symbol, "orderLinkId": link_id})


@dataclass(frozen=True, slots=True)
class CheckLine:
    name: str
    level: Level
    detail: str
    data: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["data"] = dict(self.data) if self.data else None
        return doc


def overall(lines: list[CheckLine]) -> Level:
    levels = {c.level for c in lines}
    return "fail" if "fail" in levels else "warn" if "warn" in levels else "pass"


def key_permissions_line(info: Mapping[str, Any], venue: str) -> CheckLine:
    """Trading needs a read-write key with order permission; withdrawal rights are a red flag."""
    perms = info.get("permissions") or {}
    read_only = str(info.get("readOnly", "0")) == "1"
    flat = {str(k): [str(x) for x in (v or [])] for k, v in perms.items()} if isinstance(perms, Mapping) else {}
    can_trade = any("Order" in v for k, v in flat.items() if k in ("ContractTrade", "Spot", "UTA", "Derivatives"))
    withdraw = any("Withdraw" in v for v in flat.values())
    data = {"readOnly": read_only, "permissions": flat, "uta": info.get("uta"),
            "mktMakerLevel": info.get("mktMakerLevel"), "vipLevel": info.get("vipLevel")}
    if read_only or not can_trade:
        return CheckLine("key_permissions", "fail", "key is read-only or lacks order permission", data)
    if withdraw:
        return CheckLine("key_permissions", "fail" if venue == "mainnet" else "warn",
                         "key can withdraw: trading keys must not", data)
    return CheckLine("key_permissions", "pass", "read-write, order permission, no withdrawal", data)


def clock_line(offset_ms: float, rtt_ms: float) -> CheckLine:
    mag = abs(offset_ms)
    level: Level = "fail" if mag >= CLOCK_FAIL_MS else "warn" if mag >= CLOCK_WARN_MS else "pass"
    return CheckLine("clock_offset", level, f"{offset_ms:+.1f} ms vs venue (rtt {rtt_ms:.1f} ms)",
                     {"offset_ms": round(offset_ms, 3), "rtt_ms": round(rtt_ms, 3)})


def run_doctor(cfg: Any, env: Mapping[str, str], *, rest_url: str | None = None,
               probe_factory: Callable[..., VenueProbe] = VenueProbe) -> list[CheckLine]:
    """Quick checks, each one a line; never raises for a failed check."""
    from bot.config import cfg_hash_sanitized, check_secrets, validate_invariants

    lines: list[CheckLine] = []
    problems = validate_invariants(cfg)
    lines.append(CheckLine("config", "fail" if problems else "pass",
                           "; ".join(f"{p}: {m}" for p, m in problems) or
                           f"venue {cfg.venue}, {len(cfg.symbols)} symbol(s), hash {cfg_hash_sanitized(cfg)[:12]}"))
    statuses = check_secrets(env, cfg.secrets_dir)
    needs_keys = cfg.venue != "sim"
    bad = [s for s in statuses if s.state in ("conflict", "unreadable")
           or (s.state == "missing" and needs_keys and s.name.startswith("BYBIT"))]
    unsafe = [s for s in statuses if s.state == "unsafe_permissions"]
    summary = ", ".join(f"{s.name}={s.state}" for s in statuses)
    lines.append(CheckLine("secrets", "fail" if bad else "warn" if unsafe else "pass", summary,
                           {s.name: s.state for s in statuses}))
    url = rest_url or cfg.urls()[0]
    if not url:
        lines.append(CheckLine("venue", "warn", "venue sim without a URL: the embedded emulator starts with the bot;"
                                                " nothing to reach (pass --rest-url or set exchange.rest_url)"))
        return lines
    sec = cfg.secrets
    key = sec.bybit_api_key.reveal() if sec.bybit_api_key else None
    secret = sec.bybit_api_secret.reveal() if sec.bybit_api_secret else None
    with probe_factory(url, key, secret, recv_window_ms=cfg.exchange.recv_window_ms) as probe:
        try:
            offset, rtt = probe.server_time_offset_ms()
        except VenueError as exc:
            lines.append(CheckLine("venue_reachable", "fail", f"{url}: {exc}"))
            return lines
        lines.append(CheckLine("venue_reachable", "pass", f"{url} answered in {rtt:.1f} ms"))
        lines.append(clock_line(offset, rtt))
        if not key or not secret:
            lines.append(CheckLine("key_permissions", "fail" if needs_keys else "warn", "no API key pair loaded"))
            return lines
        try:
            lines.append(key_permissions_line(probe.query_api(), cfg.venue))
        except VenueError as exc:
            lines.append(CheckLine("key_permissions", "fail", str(exc)))
    return lines
