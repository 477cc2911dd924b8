"""Graceful shutdown (SYS-001): loop signal handlers, one overall deadline, ordered timed steps."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.observability.logging import get_logger

__all__ = ["ShutdownReport", "ShutdownSequence", "Step", "StepResult", "install_signal_handlers"]

log = get_logger(__name__)

StepFn = Callable[[], Awaitable[object] | object]


@dataclass(frozen=True, slots=True)
class Step:
    """One shutdown step; `cap_s` bounds it so one hung step cannot eat the whole deadline."""

    name: str
    fn: StepFn
    cap_s: float = 10.0


@dataclass(slots=True)
class StepResult:
    name: str
    ok: bool
    duration_s: float
    detail: str = ""


@dataclass(slots=True)
class ShutdownReport:
    reason: str
    started_at: float
    deadline_s: float
    steps: list[StepResult] = field(default_factory=list)
    duration_s: float = 0.0
    fast: bool = False

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps) and self.duration_s <= self.deadline_s

    def as_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "ok": self.ok, "fast": self.fast, "deadline_s": self.deadline_s,
                "duration_s": round(self.duration_s, 3), "started_at": self.started_at,
                "steps": [{"name": s.name, "ok": s.ok, "duration_s": round(s.duration_s, 4), "detail": s.detail}
                          for s in self.steps]}


async def _call(fn: StepFn) -> object:
    result = fn()
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        return await result
    return result


class ShutdownSequence:
    """Runs the steps once, in order, under one overall deadline; `run()` is idempotent.

    A second request (another SIGINT) while running switches to the fast path: the step in
    progress is cancelled and only the `fast` steps (one cancel-all attempt, local flushes) run.
    """

    def __init__(self, steps: list[Step], *, deadline_s: float = 25.0, fast_steps: list[Step] | None = None) -> None:
        self.steps = steps
        self.fast_steps = fast_steps or []
        self.deadline_s = deadline_s
        self.report: ShutdownReport | None = None
        self._task: asyncio.Task[ShutdownReport] | None = None
        self._fast = asyncio.Event()

    @property
    def started(self) -> bool:
        return self._task is not None

    def request_fast(self) -> None:
        self._fast.set()

    async def run(self, reason: str) -> ShutdownReport:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run(reason))
        # shield: a caller being cancelled (e.g. the main task) must not abort the sequence midway.
        return await asyncio.shield(self._task)

    async def _run(self, reason: str) -> ShutdownReport:
        t0 = time.monotonic()
        deadline = t0 + self.deadline_s
        report = self.report = ShutdownReport(reason=reason, started_at=time.time(), deadline_s=self.deadline_s)
        log.info("shutdown_started", reason=reason, deadline_s=self.deadline_s)
        for step in self.steps:
            if self._fast.is_set():
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                report.steps.append(StepResult(step.name, False, 0.0, "skipped: deadline passed"))
                continue
            result = await self._step(step, min(step.cap_s, remaining))
            report.steps.append(result)
        if self._fast.is_set():
            report.fast = True
            for step in self.fast_steps:
                report.steps.append(await self._step(step, max(0.5, min(step.cap_s, deadline - time.monotonic()))))
        report.duration_s = time.monotonic() - t0
        log.info("shutdown_finished", reason=reason, ok=report.ok, fast=report.fast,
                 duration_s=round(report.duration_s, 3),
                 steps=",".join(f"{s.name}={s.duration_s * 1000:.0f}ms{'' if s.ok else '!'}" for s in report.steps))
        return report

    async def _step(self, step: Step, timeout_s: float) -> StepResult:
        t = time.monotonic()
        work = asyncio.ensure_future(_call(step.fn))
        fast = asyncio.ensure_future(self._fast.wait())
        try:
            done, _ = await asyncio.wait({work, fast}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            fast.cancel()
        if work in done:
            exc = work.exception()
            detail = "" if exc is None else f"{type(exc).__name__}: {exc}"
            ok = exc is None and work.result() is not False
            if exc is None and isinstance(work.result(), str):
                detail = str(work.result())
            result = StepResult(step.name, ok, time.monotonic() - t, detail)
        else:
            work.cancel()
            try:
                await asyncio.wait_for(work, timeout=1.0)
            except (asyncio.CancelledError, Exception):  # noqa: S110 - the step's own error was already its result
                pass
            why = "interrupted: fast exit" if self._fast.is_set() else f"timed out after {timeout_s:.1f}s"
            result = StepResult(step.name, False, time.monotonic() - t, why)
        (log.info if result.ok else log.warning)(
            "shutdown_step", step=step.name, ok=result.ok, ms=round(result.duration_s * 1000, 1), detail=result.detail)
        return result


def install_signal_handlers(loop: asyncio.AbstractEventLoop, *, on_stop: Callable[[str], None],
                            on_reload: Callable[[], None] | None = None) -> list[int]:
    """SIGINT/SIGTERM -> on_stop(name) and SIGHUP -> on_reload, through the loop (never signal.signal)."""
    installed: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop, sig.name)
        installed.append(sig)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, on_reload)
        installed.append(signal.SIGHUP)
    return installed


def remove_signal_handlers(loop: asyncio.AbstractEventLoop, sigs: list[int]) -> None:
    for sig in sigs:
        loop.remove_signal_handler(sig)
