"""The outbound stamp: the first request of a watched write, in that write's own context only."""

from __future__ import annotations

import asyncio
import time

from bot.common import outbound


def test_the_stamp_is_the_first_request_of_the_write() -> None:
    before = time.monotonic_ns()
    token = outbound.arm()
    outbound.going_out()
    first_done = time.monotonic_ns()
    time.sleep(0.002)
    outbound.going_out()  # a batch's second request: not the moment the write went out
    out = outbound.disarm(token)
    assert before <= out <= first_done


def test_nothing_sent_reads_zero_and_an_unwatched_send_is_ignored() -> None:
    outbound.going_out()  # no write is watching: a no-op
    token = outbound.arm()
    assert outbound.disarm(token) == 0
    outbound.going_out()  # after disarm: stamps nothing a later write could read
    token = outbound.arm()
    assert outbound.disarm(token) == 0


async def test_concurrent_writes_see_only_their_own_request() -> None:
    go = asyncio.Event()

    async def write(sends: bool) -> int:
        token = outbound.arm()
        await go.wait()  # both are armed at once
        if sends:
            outbound.going_out()
        await asyncio.sleep(0)
        return outbound.disarm(token)

    quiet = asyncio.create_task(write(False))
    loud = asyncio.create_task(write(True))
    await asyncio.sleep(0)
    go.set()
    assert await quiet == 0
    assert await loud > 0
