"""The shutdown sequence on its own: order, one overall deadline, idempotence, the fast path."""

from __future__ import annotations

import asyncio
import time

from bot.runtime.shutdown import ShutdownSequence, Step


async def test_steps_run_once_in_order_and_a_second_stop_gets_the_same_report() -> None:
    seen: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0.05)
        seen.append("cancel")

    seq = ShutdownSequence([Step("quote_off", lambda: seen.append("quote_off")), Step("cancel", slow),
                            Step("close", lambda: seen.append("close"))], deadline_s=5)
    first, second = await asyncio.gather(seq.run("SIGTERM"), seq.run("finally"))
    assert first is second and seen == ["quote_off", "cancel", "close"]
    assert first.ok and first.reason == "SIGTERM" and [s.name for s in first.steps] == ["quote_off", "cancel", "close"]
    assert await seq.run("again") is first and seen.count("close") == 1


async def test_a_hung_step_cannot_push_the_sequence_past_its_deadline() -> None:
    ran: list[str] = []

    async def hang() -> None:
        await asyncio.sleep(3600)

    seq = ShutdownSequence([Step("hang", hang, cap_s=10), Step("after", lambda: ran.append("after"))], deadline_s=0.5)
    t0 = time.monotonic()
    rep = await seq.run("SIGTERM")
    assert time.monotonic() - t0 < 1.6
    assert not rep.ok and "timed out" in rep.steps[0].detail
    assert rep.steps[1].name == "after" and "deadline" in rep.steps[1].detail and ran == []


async def test_a_failing_step_is_reported_and_the_rest_still_run() -> None:
    def boom() -> None:
        raise RuntimeError("venue said no")

    ran: list[str] = []
    rep = await ShutdownSequence([Step("cancel", boom), Step("close", lambda: ran.append("x"))], deadline_s=2).run("x")
    assert not rep.ok and "venue said no" in rep.steps[0].detail and rep.steps[1].ok and ran == ["x"]


async def test_second_interrupt_skips_to_the_fast_steps() -> None:
    ran: list[str] = []

    async def slow_cancel() -> None:
        await asyncio.sleep(3600)

    seq = ShutdownSequence([Step("cancel_all_and_verify", slow_cancel), Step("close", lambda: ran.append("close"))],
                           deadline_s=20, fast_steps=[Step("cancel_all_once", lambda: ran.append("once"))])
    task = asyncio.ensure_future(seq.run("SIGINT"))
    await asyncio.sleep(0.1)
    t0 = time.monotonic()
    seq.request_fast()
    rep = await task
    assert time.monotonic() - t0 < 1.5
    assert rep.fast and ran == ["once"] and rep.steps[0].detail == "interrupted: fast exit"
