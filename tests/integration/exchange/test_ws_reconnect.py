"""NET-001 against the emulator: backoff gaps from its connection log, healthy reset, exhaustion, auth."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections.abc import Callable

import pytest

from bot.domain import Symbol
from bot.errors import AuthError
from bot.exchange.base import StreamExhausted
from bot.exchange.bybit.backoff import BackoffPolicy
from bot.exchange.bybit.client import BybitClient
from bot.exchange.bybit.ws import BybitStream
from bot.exchange.events import BookUpdate, ExchangeEvent, StreamState, StreamStatus
from bot.sim import SimServer

BTC = Symbol("BTCUSDT")
Make = Callable[..., BybitClient]
# Scheduling noise allowed above the jittered ceiling (never below the floor); TIMEOUT_FACTOR as in
# tests/conftest.py stretches it on slow machines.
SLACK_S = 0.15 * float(os.environ.get("TIMEOUT_FACTOR", "1"))


async def next_state(stream: BybitStream, *wanted: StreamStatus, within_s: float = 5.0) -> StreamState:
    async with asyncio.timeout(within_s):
        while True:
            ev = await stream.get()
            if isinstance(ev, StreamState) and (not wanted or ev.status in wanted):
                return ev


def counter(c: BybitClient, name: str, ws_type: str = "public") -> float:
    assert c.metrics is not None
    return c.metrics.registry.get_sample_value(name, {"ws_type": ws_type}) or 0.0


async def test_ten_forced_disconnects_follow_the_backoff_policy(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(rng=random.Random(3).random)
    policy: BackoffPolicy = c.policy
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    dropped_at = []
    try:
        await next_state(stream, StreamStatus.CONNECTED)
        for _ in range(10):  # a flapping link: every session dies at once, so the counter never resets
            dropped_at.append(time.monotonic())  # the emulator logs attempts on the same clock
            assert sim.faults.drop_ws(stream="public") == 1
            await next_state(stream, StreamStatus.CONNECTED)
    finally:
        stream.close()
        await runner
    ts = [a.ts for a in sim.stats.attempts("public")]
    assert len(ts) == 11
    gaps = [b - a for a, b in itertools.pairwise(ts)]
    for attempt, (gap, drop, nxt) in enumerate(zip(gaps, dropped_at, ts[1:], strict=True), start=1):
        lo, hi = policy.bounds(attempt)
        assert gap >= lo, (attempt, gap, lo)  # attempt to attempt: never faster than the jittered floor
        assert lo <= nxt - drop <= hi + SLACK_S, (attempt, nxt - drop, lo, hi)  # drop to retry: the delay
    assert policy.base_delay(10) == policy.max_s  # the cap was reached within the ten
    assert sum(gaps) >= sum(policy.bounds(a)[0] for a in range(1, 11))
    assert counter(c, "ws_reconnect_attempts_total") == 10
    assert counter(c, "ws_reconnect_backoff_seconds_count") == 10
    assert counter(c, "ws_reconnect_exhausted_total") == 0


async def test_refused_reconnects_keep_being_scheduled_then_recover(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    try:
        await next_state(stream, StreamStatus.CONNECTED)
        sim.faults.refuse_connections(0.5, stream="public")
        sim.faults.drop_ws(stream="public")
        await next_state(stream, StreamStatus.CONNECTED, within_s=5)
    finally:
        stream.close()
        await runner
    log = sim.stats.attempts("public")
    refused = [a for a in log if a.refused]
    assert len(refused) >= 4  # 10, 20, 40, 80, 160 ms ... within the 0.5 s refusal
    assert not log[-1].refused
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(log[1:])]
    for attempt, gap in enumerate(gaps, start=2):
        assert gap >= c.policy.bounds(attempt)[0]


async def test_counter_resets_only_after_a_healthy_period(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    attempts = []
    try:
        await next_state(stream, StreamStatus.CONNECTED)
        for _ in range(3):  # flapping: attempt numbers climb
            sim.faults.drop_ws(stream="public")
            attempts.append((await next_state(stream, StreamStatus.DISCONNECTED)).attempt)
            await next_state(stream, StreamStatus.CONNECTED)
        await asyncio.sleep(c.policy.healthy_after_s + 0.1)  # now healthy for longer than the threshold
        sim.faults.drop_ws(stream="public")
        attempts.append((await next_state(stream, StreamStatus.DISCONNECTED)).attempt)
        await next_state(stream, StreamStatus.CONNECTED)
        sim.faults.drop_ws(stream="public")  # and flapping again right after: no reset this time
        attempts.append((await next_state(stream, StreamStatus.DISCONNECTED)).attempt)
    finally:
        stream.close()
        await runner
    assert attempts == [1, 2, 3, 1, 2]


async def test_exhaustion_raises_metric_and_event(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(policy=BackoffPolicy(initial_s=0.01, max_s=0.05, max_attempts=3, healthy_after_s=1))
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    await next_state(stream, StreamStatus.CONNECTED)
    sim.faults.refuse_connections(30, stream="public")
    sim.faults.drop_ws(stream="public")
    with pytest.raises(StreamExhausted):
        await asyncio.wait_for(runner, 5)
    states = []
    while (ev := stream.queue.get_nowait()) is not None:
        if isinstance(ev, StreamState):
            states.append(ev.status)
    assert states[-1] is StreamStatus.EXHAUSTED
    assert states.count(StreamStatus.DISCONNECTED) == 3
    assert counter(c, "ws_reconnect_exhausted_total") == 1
    assert counter(c, "ws_reconnect_attempts_total") == 3
    assert len(sim.stats.attempts("public", refused=True)) == 3
    assert c.metrics is not None
    assert c.metrics.registry.get_sample_value("mm_ws_connected", {"ws_type": "public"}) == 0


async def test_revoked_key_stops_after_one_try_with_auth_error(sim: SimServer, client_factory: Make) -> None:
    c = client_factory(key="revoked-key", secret="whatever")
    stream = c.private_stream()
    with pytest.raises(AuthError):
        await asyncio.wait_for(stream.run(), 5)
    assert len(sim.stats.attempts("private")) == 1
    assert sum(sim.stats.auth_failures.values()) == 1
    states = []
    while (ev := stream.queue.get_nowait()) is not None:
        states.append(ev)
    assert isinstance(states[-1], StreamState) and states[-1].status is StreamStatus.FAILED
    assert counter(c, "ws_reconnect_attempts_total", "private") == 0


async def test_reconnect_resubscribes_and_resyncs_from_a_fresh_snapshot(sim: SimServer, client_factory: Make) -> None:
    c = client_factory()
    stream = c.public_stream([BTC, Symbol("ETHUSDT")])
    runner = asyncio.ensure_future(stream.run())
    seen: list[ExchangeEvent] = []
    try:
        await next_state(stream, StreamStatus.CONNECTED)
        sim.faults.drop_ws(stream="public")
        async with asyncio.timeout(5):
            while True:
                ev = await stream.get()
                if isinstance(ev, StreamState) and ev.status is StreamStatus.RESYNC_REQUIRED:
                    seen = []  # everything before the resync belongs to the old session
                seen.append(ev)
                books = {e.symbol for e in seen if isinstance(e, BookUpdate) and e.is_snapshot}
                if any(isinstance(e, StreamState) and e.status is StreamStatus.CONNECTED for e in seen) and \
                        books == {BTC, Symbol("ETHUSDT")}:
                    break
    finally:
        stream.close()
        await runner
    resync = next(e for e in seen if isinstance(e, StreamState) and e.status is StreamStatus.RESYNC_REQUIRED)
    assert set(resync.symbols) == {BTC, Symbol("ETHUSDT")} and resync.reason == "reconnect"
    after = seen[seen.index(resync):]
    for sym in (BTC, Symbol("ETHUSDT")):
        first = next(e for e in after if isinstance(e, BookUpdate) and e.symbol == sym)
        assert first.is_snapshot  # no delta is handed out before the fresh snapshot


async def test_stalled_stream_is_detected_by_the_json_heartbeat_and_reconnected(sim: SimServer,
                                                                                client_factory: Make) -> None:
    c = client_factory(ping_interval_s=0.1)
    stream = c.public_stream([BTC])
    runner = asyncio.ensure_future(stream.run())
    try:
        await next_state(stream, StreamStatus.CONNECTED)
        sim.faults.stall_stream(1.0, stream="public")  # nothing leaves the venue, TCP stays up
        lost = await next_state(stream, StreamStatus.DISCONNECTED, within_s=3)
        await next_state(stream, StreamStatus.CONNECTED, within_s=5)
    finally:
        stream.close()
        await runner
    assert lost.reason.startswith("heartbeat")
    assert len(sim.stats.attempts("public")) >= 2


async def test_refused_subscription_is_fatal_not_retried(sim: SimServer, client_factory: Make) -> None:
    from bot.errors import ExchangeRejected

    c = client_factory()
    stream = c.public_stream([Symbol("NOSUCHUSDT")])
    with pytest.raises(ExchangeRejected):
        await asyncio.wait_for(stream.run(), 5)
    assert len(sim.stats.attempts("public")) == 1
    last = None
    while (ev := stream.queue.get_nowait()) is not None:
        last = ev
    assert isinstance(last, StreamState) and last.status is StreamStatus.FAILED
