"""Rate limits: per-UID rolling 1 s windows per endpoint and category, and the REST IP limit."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["IpLimiter", "RateDecision", "UidLimiter", "limit_for"]

_TRADE = {"linear": 10, "inverse": 10, "option": 10, "spot": 20}
_UID_LIMITS: dict[str, dict[str, int] | int] = {
    "/v5/order/create": _TRADE,
    "/v5/order/amend": {"linear": 10, "inverse": 10, "option": 10, "spot": 10},
    "/v5/order/cancel": _TRADE,
    "/v5/order/cancel-all": {"linear": 10, "inverse": 10, "option": 1, "spot": 20},
    "/v5/order/create-batch": _TRADE,
    "/v5/order/amend-batch": _TRADE,
    "/v5/order/cancel-batch": _TRADE,
    "/v5/order/disconnected-cancel-all": 5,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/position/list": 50,
    "/v5/account/wallet-balance": 50,
    "/v5/account/fee-rate": 5,
    "/v5/account/info": 50,
    "/v5/account/query-dcp-info": 5,
}


def limit_for(path: str, category: str) -> int | None:
    """The default UTA per-UID limit per second for (endpoint, category); None if unlimited."""
    spec = _UID_LIMITS.get(path)
    if spec is None:
        return None
    if isinstance(spec, int):
        return spec
    return spec.get(category, spec.get("linear"))


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: int  # units granted (a batch may get fewer than it asked for)
    limit: int
    remaining: int
    reset_ms: int


class UidLimiter:
    """Rolling 1 s windows keyed by (uid, endpoint, category); batches consume one unit per item."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self._windows: dict[tuple[int, str, str], deque[int]] = {}

    def take(self, uid: int, path: str, category: str, now_ms: int, n: int = 1) -> RateDecision | None:
        base = limit_for(path, category)
        if base is None:
            return None
        limit = max(1, int(base * self.scale))
        key = (uid, path, category if not isinstance(_UID_LIMITS[path], int) else "")
        win = self._windows.setdefault(key, deque())
        while win and win[0] <= now_ms - 1000:
            win.popleft()
        free = max(0, limit - len(win))
        allowed = min(n, free)
        for _ in range(allowed):
            win.append(now_ms)
        remaining = limit - len(win)
        reset = win[0] + 1000 if remaining <= 0 and win else now_ms
        return RateDecision(allowed, limit, remaining, reset)


class IpLimiter:
    """600 REST requests per 5 s per IP; beyond that HTTP 403 and a ban (10 minutes by default)."""

    def __init__(self, per_5s: int, ban_s: float) -> None:
        self.per_5s = per_5s
        self.ban_s = ban_s
        self._hits: dict[str, deque[float]] = {}
        self.banned_until: dict[str, float] = {}

    def hit(self, ip: str, now_s: float) -> bool:
        """Count one request; False when the IP is (now) banned."""
        if self.per_5s <= 0:
            return True
        if self.banned_until.get(ip, 0.0) > now_s:
            return False
        q = self._hits.setdefault(ip, deque())
        while q and q[0] <= now_s - 5.0:
            q.popleft()
        q.append(now_s)
        if len(q) > self.per_5s:
            self.banned_until[ip] = now_s + self.ban_s
            q.clear()
            return False
        return True

    def clear(self) -> None:
        self._hits.clear()
        self.banned_until.clear()
