"""Client-side REST rate limiting per endpoint family, driven by Bybit's `X-Bapi-Limit*` headers.

- a rolling 1 s window per family, sized from `X-Bapi-Limit` (defaults from the reference table);
- `X-Bapi-Limit-Status` <= `soft_floor` is a soft stop until the window resets;
- retCode 10006 blocks the family until `X-Bapi-Limit-Reset-Timestamp`;
- HTTP 403 stops *all* REST for the ban period (10 min per the reference).
The clock is injectable; waiting happens in `acquire` only.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.errors import ExchangeUnavailable
from bot.exchange.bybit.wire import RateLimitInfo
from bot.observability.logging import get_logger

__all__ = ["DEFAULT_LIMITS", "RateLimiter"]

log = get_logger(__name__)

# Per-UID limits per second for linear (reference section 4); public market data is IP-limited only.
DEFAULT_LIMITS: dict[str, int] = {
    "order_create": 10, "order_amend": 10, "order_cancel": 10, "order_cancel_all": 10, "order_create_batch": 10,
    "order_amend_batch": 10, "order_cancel_batch": 10, "order_disconnected_cancel_all": 5, "order_realtime": 50,
    "order_history": 50, "execution_list": 50, "position_list": 50, "account_wallet_balance": 50,
    "account_fee_rate": 5, "account_info": 50, "account_query_dcp_info": 5,
}
_PUBLIC_LIMIT = 100  # 600 per 5 s per IP, shared: stay well below


@dataclass(slots=True)
class _Family:
    limit: int
    sent: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class RateLimiter:
    """One per process (the UID and IP limits are per account / per host, not per client object)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 ban_s: float = 600.0, soft_floor: int = 1, window_s: float = 1.0, scale: float = 1.0) -> None:
        self._clock = clock
        self._sleep = sleep
        self.ban_s = ban_s
        self.soft_floor = soft_floor
        self.window_s = window_s
        self.scale = scale  # multiplies the default limits (VIP/MM tiers; benchmarks)
        self.banned_until = 0.0
        self._families: dict[str, _Family] = {}

    def _family(self, name: str) -> _Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = _Family(max(1, int(DEFAULT_LIMITS.get(name, _PUBLIC_LIMIT) * self.scale)))
        return fam

    def limit(self, family: str) -> int:
        """Requests (or batch items) per window currently assumed for `family`."""
        return self._family(family).limit

    def banned_for(self) -> float:
        """Seconds left of an HTTP 403 ban (0 when none)."""
        return max(0.0, self.banned_until - self._clock())

    def wait_time(self, family: str, cost: int = 1) -> float:
        """How long `acquire(family, cost)` would wait right now (0 = go)."""
        now = self._clock()
        fam = self._family(family)
        while fam.sent and fam.sent[0] <= now - self.window_s:
            fam.sent.popleft()
        wait = max(0.0, fam.blocked_until - now)
        cost = min(cost, fam.limit)
        if len(fam.sent) + cost > fam.limit:
            # the oldest sends that must leave the window before `cost` more fit
            idx = len(fam.sent) + cost - fam.limit - 1
            wait = max(wait, fam.sent[idx] + self.window_s - now)
        return wait

    def try_take(self, family: str, cost: int = 1) -> bool:
        """Take room for `cost` requests of `family` if there is some right now (no ban, no wait)."""
        if self.banned_for() > 0 or self.wait_time(family, cost) > 0:
            return False
        fam = self._family(family)
        fam.sent.extend([self._clock()] * min(cost, fam.limit))
        return True

    async def acquire(self, family: str, cost: int = 1, *, max_wait_s: float = 5.0) -> None:
        """Wait for room to send `cost` requests of `family`.

        Raises:
            ExchangeUnavailable: REST is banned (HTTP 403), or the wait would exceed `max_wait_s`.
        """
        while True:
            ban = self.banned_for()
            if ban > 0:
                raise ExchangeUnavailable("REST stopped after HTTP 403 (IP rate limit ban)", endpoint=family,
                                          retry_after_s=round(ban, 1))
            wait = self.wait_time(family, cost)
            if wait <= 0:
                break
            if wait > max_wait_s:
                raise ExchangeUnavailable("client-side rate limit: wait too long", endpoint=family,
                                          retry_after_s=round(wait, 3))
            await self._sleep(wait)
        now = self._clock()
        fam = self._family(family)
        fam.sent.extend([now] * min(cost, fam.limit))

    def observe(self, family: str, info: RateLimitInfo | None, *, reset_in_s: float | None = None) -> None:
        """Follow the response headers: resize the window, soft-stop near exhaustion."""
        if info is None:
            return
        fam = self._family(family)
        if info.limit > 0:
            fam.limit = info.limit
        if info.remaining <= self.soft_floor:
            until = self._clock() + (reset_in_s if reset_in_s is not None and reset_in_s > 0 else self.window_s)
            fam.blocked_until = max(fam.blocked_until, min(until, self._clock() + 10 * self.window_s))

    def block(self, family: str, seconds: float) -> None:
        """retCode 10006: no more requests of `family` for `seconds` (from the reset header)."""
        fam = self._family(family)
        seconds = min(max(seconds, self.window_s / 10), 60.0)
        fam.blocked_until = max(fam.blocked_until, self._clock() + seconds)
        log.warning("rest_rate_limited", endpoint=family, blocked_s=round(seconds, 3))

    def ban(self, seconds: float | None = None) -> None:
        """HTTP 403: stop every REST call for the ban period."""
        self.banned_until = max(self.banned_until, self._clock() + (self.ban_s if seconds is None else seconds))
        log.error("rest_ip_banned", ban_s=self.ban_s if seconds is None else seconds)
