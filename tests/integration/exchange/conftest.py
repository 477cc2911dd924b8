"""Fixtures for the exchange connectors against the loopback emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.exchange.bybit.backoff import BackoffPolicy
from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.rest import BybitRest
from bot.observability.metrics import Metrics
from bot.sim import SimServer

SIM_KEY = "sim-test-key"
SIM_SECRET = "sim-test-secret"

# NET-001 scaled by 1/100 so 10 reconnects take ~3 s: 10 ms doubling to a 600 ms cap, +/-30 %,
# healthy after 300 ms.
FAST_POLICY = BackoffPolicy().scaled(0.01)


def ws_public_base(sim: SimServer) -> str:
    return sim.ws_public_url("linear").rsplit("/", 1)[0]


@pytest.fixture
async def client_factory(sim: SimServer) -> AsyncIterator[Callable[..., BybitClient]]:
    """Build BybitClients against `sim` (closed at teardown): `make(key=..., policy=..., **BybitRest kwargs)`."""
    made: list[BybitClient] = []

    def make(*, key: str = SIM_KEY, secret: str = SIM_SECRET, policy: BackoffPolicy | None = FAST_POLICY,
             metrics: Metrics | None = None, ping_interval_s: float = 20.0, rng: Callable[[], float] | None = None,
             **rest_kw: Any) -> BybitClient:
        m = metrics or Metrics(process=False)
        rest = BybitRest(sim.rest_url, key, secret, metrics=m, **rest_kw)
        kw: dict[str, Any] = {"rng": rng} if rng is not None else {}
        c = BybitClient(rest, ws_public_url=ws_public_base(sim), ws_private_url=sim.ws_private_url,
                        ws_trade_url=sim.ws_trade_url, api_key=key,
                        api_secret=secret, policy=policy, metrics=m, ping_interval_s=ping_interval_s, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        await c.aclose()
