"""Fixtures for the runtime e2e tests: the emulator in the test process, and a bot registry."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator

import pytest
from botproc import E2E_KEY, E2E_SECRET, BotProc

from bot.sim import SimAccount, SimConfig, SimServer


@pytest.fixture
async def ext_sim() -> AsyncIterator[SimServer]:
    cfg = SimConfig(host="127.0.0.1", port=0, seed=3, speed=4.0, symbols=("BTCUSDT", "ETHUSDT"),
                    accounts=(SimAccount(api_key=E2E_KEY, api_secret=E2E_SECRET),), idle_sweep_s=1.0)
    async with SimServer(cfg) as sim:
        yield sim


@pytest.fixture
async def bots() -> AsyncIterator[list[BotProc]]:
    """Registry of started bots; any still running at teardown is killed (never leaks a process)."""
    started: list[BotProc] = []
    yield started
    for b in started:
        if b.proc.returncode is None:
            try:
                b.signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
            await b.proc.wait()
