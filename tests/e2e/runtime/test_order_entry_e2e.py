"""Order entry: over the WebSocket trade API by default, REST when configured (a real `mmctl run`)."""

from __future__ import annotations

import signal
from pathlib import Path

from botproc import E2E_KEY, BotProc, start_bot, wait_for

from bot.sim import SimServer

_REST_WRITES = ("/v5/order/create", "/v5/order/amend", "/v5/order/cancel",
                "/v5/order/create-batch", "/v5/order/amend-batch", "/v5/order/cancel-batch")


def _writes(sim: SimServer) -> tuple[int, int]:
    """(order writes over the WS trade API, over REST) seen by the emulator so far."""
    counts = sim.stats.requests_per_endpoint
    ws = sum(n for k, n in counts.items() if k.startswith("ws:order."))
    return ws, sum(counts.get(p, 0) for p in _REST_WRITES)


async def _quote_once(sim: SimServer, state: Path, bots: list[BotProc], *sets: str) -> tuple[int, int]:
    before = _writes(sim)
    bot = await start_bot(sim, state, sets=("rollout.enabled=false", *sets))
    bots.append(bot)
    await bot.wait_ready()
    await wait_for(lambda: len(sim.open_orders(E2E_KEY)) >= 4, 20, "quotes")
    bot.signal(signal.SIGTERM)
    assert await bot.wait_exit(30) == 0
    after = _writes(sim)
    return after[0] - before[0], after[1] - before[1]


async def test_orders_go_over_the_trade_websocket_by_default_and_rest_when_configured(
        ext_sim: SimServer, tmp_path: Path, bots: list[BotProc]) -> None:
    ws, rest = await _quote_once(ext_sim, tmp_path / "ws", bots)
    assert ws > 0 and rest == 0, (ws, rest)
    ws, rest = await _quote_once(ext_sim, tmp_path / "rest", bots, "exchange.order_entry=rest")
    assert ws == 0 and rest > 0, (ws, rest)
