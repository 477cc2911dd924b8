"""Shared integration fixtures: the loopback Bybit V5 emulator (`sim`, `sim_factory`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from bot.sim import SimAccount, SimConfig, SimServer

# Fixed test keys so failures are reproducible; the secret is a throwaway.
TEST_API_KEY = "sim-test-key"
TEST_API_SECRET = "sim-test-secret"


def _config(**overrides: Any) -> SimConfig:
    kw: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "seed": 1,
        "speed": 4.0,  # a compressed market: fills happen within a test's patience
        "idle_sweep_s": 1.0,
    }
    kw.update(overrides)
    if "accounts" not in kw:
        kw["accounts"] = (SimAccount(api_key=TEST_API_KEY, api_secret=TEST_API_SECRET),)
    return SimConfig(**kw)


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A started emulator on 127.0.0.1:<ephemeral>; account 0 is (sim-test-key, sim-test-secret)."""
    async with SimServer(_config()) as server:
        yield server


@pytest.fixture
async def sim_factory() -> AsyncIterator[Callable[..., Awaitable[SimServer]]]:
    """Start emulators with custom SimConfig fields: `s = await sim_factory(market=False, rate_limits=False)`."""
    started: list[SimServer] = []

    async def make(**overrides: Any) -> SimServer:
        server = SimServer(_config(**overrides))
        await server.start()
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        await server.stop()
