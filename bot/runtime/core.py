"""The bot's lifecycle: start-up, states (starting/running/paused/killed/stopping), status, stop."""

from __future__ import annotations

import asyncio
import enum
import gc
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.common import json_io
from bot.config import AppConfig, Secret, cfg_hash_sanitized
from bot.errors import MMError
from bot.observability.ledger import Ledger
from bot.observability.logging import get_logger
from bot.observability.metrics import Metrics
from bot.observability.recorder import Recorder
from bot.runtime import hot_reload
from bot.runtime.heap import HeapTrimmer, rss_bytes
from bot.runtime.lock import RunLock
from bot.runtime.shutdown import ShutdownReport, ShutdownSequence, Step, install_signal_handlers
from bot.runtime.snapshots import SnapshotStore
from bot.runtime.tasks import BackgroundTasks, LatencyStats, dir_size, every
from bot.runtime.trading import Trader
from bot.runtime.web import WebServer

__all__ = ["Bot", "BotOptions", "BotState"]

log = get_logger(__name__)


class BotState(enum.StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    KILLED = "killed"
    STOPPING = "stopping"


@dataclass(frozen=True, slots=True)
class BotOptions:
    config_path: Path | None = None
    overrides: tuple[str, ...] = ()
    duration_s: float | None = None
    shutdown_deadline_s: float = 25.0
    live_view: bool = False
    install_signals: bool = True


@dataclass(slots=True)
class _Counters:
    reloads: int = 0
    last_reload: dict[str, object] = field(default_factory=dict)


class Bot:
    """The composition root: owns every resource and the order they are released in (SYS-001)."""

    def __init__(self, cfg: AppConfig, opts: BotOptions | None = None, *, metrics: Metrics | None = None) -> None:
        self.cfg = cfg
        self.opts = opts or BotOptions()
        self.metrics = metrics or Metrics()
        self.state = BotState.STARTING
        self.state_dir = Path(cfg.state_dir)
        self.config_hash = cfg_hash_sanitized(cfg)
        self.started_mono = time.monotonic()
        self.latency = LatencyStats()
        self.heap = HeapTrimmer(on_trim=self.metrics.heap_trim.observe)
        self.lock = RunLock(self.state_dir, account_key=self._account_key(cfg))
        self.ledger: Ledger | None = None
        self.recorder: Recorder | None = None
        self.snapshots = SnapshotStore(self.state_dir,
                                       on_failure=lambda kind: self.metrics.snapshot_failures.labels(kind).inc())
        self.web = WebServer(self, cfg.monitoring.web_host, cfg.monitoring.web_port)
        self.trader: Trader | None = None
        self.tasks = BackgroundTasks(self._on_task_crash)
        self._stop_requested = asyncio.Event()
        self._reloads: asyncio.Queue[str] = asyncio.Queue(maxsize=4)
        self._stop_reason = ""
        self._counters = _Counters()
        self.first_quote_s: float | None = None
        self.startup_error: str = ""
        self.startup_exc: BaseException | None = None
        self._locked = False
        self.shutdown = ShutdownSequence(self._shutdown_steps(), deadline_s=self.opts.shutdown_deadline_s,
                                         fast_steps=self._fast_steps())

    @staticmethod
    def _account_key(cfg: AppConfig) -> str | None:
        key = cfg.secrets.bybit_api_key
        if cfg.venue == "sim" and not cfg.exchange.rest_url:
            return None  # in-process emulator: throwaway keys, nothing shared
        return f"{cfg.venue}:{cfg.exchange.rest_url}:{key.reveal() if key else ''}"

    # ---- lifecycle -------------------------------------------------------------------------
    async def run(self) -> ShutdownReport:
        """Start, run until asked to stop (signal, admin, --duration, fatal error), then stop."""
        loop = asyncio.get_running_loop()
        sigs: list[int] = []
        if self.opts.install_signals:
            sigs = install_signal_handlers(loop, on_stop=self._on_signal, on_reload=self._on_sighup)
        try:
            # A stop request while still starting (a venue that hangs) abandons the start-up.
            start = asyncio.ensure_future(self._start())
            stopped = asyncio.ensure_future(self._stop_requested.wait())
            try:
                await asyncio.wait({start, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not start.done():
                    start.cancel()
                    log.warning("startup_abandoned", reason=self._stop_reason)
                await asyncio.gather(start, return_exceptions=True)
            if not start.cancelled() and (exc := start.exception()) is not None:
                self.startup_exc = exc
                self.startup_error = str(exc) if isinstance(exc, MMError) else f"{type(exc).__name__}: {exc}"
                log.error("startup_failed", error=self.startup_error, exc_info=exc if not isinstance(exc, MMError)
                          else None)
                self.request_stop("startup_failed")
            await stopped
        finally:
            report = await self.stop(self._stop_reason or "exit")
            for sig in sigs:
                loop.remove_signal_handler(sig)
        return report

    async def _start(self) -> None:
        t0 = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        self._locked = True
        self.ledger = Ledger(self.state_dir / "ledger.sqlite")
        if not self.ledger.was_clean:
            log.warning("ledger_unclean_shutdown", note="previous run did not close the ledger; backfilling")
        mon = self.cfg.monitoring
        if mon.recorder_enabled:
            rec_dir = Path(mon.recorder_dir)
            self.recorder = Recorder(rec_dir if rec_dir.is_absolute() else self.state_dir / rec_dir,
                                     max_bytes=mon.recorder_max_bytes, max_files=mon.recorder_max_files,
                                     max_age_s=mon.recorder_max_age_s)
        url = await self.web.start()
        self.lock.write_run_info(web_url=url, config_hash=self.config_hash, venue=self.cfg.venue)
        log.info("bot_starting", venue=self.cfg.venue, symbols=",".join(self.cfg.symbols), web_url=url,
                 state_dir=str(self.state_dir), pid=os.getpid(), config_hash=self.config_hash[:12])
        self.trader = Trader(self.cfg, metrics=self.metrics, ledger=self.ledger, recorder=self.recorder,
                             latency=self.latency, on_first_quote=self._on_first_quote,
                             on_kill=self._on_kill)
        # Reconciliation failure raises here: we never quote on an unreconciled account.
        await self.trader.start(self.snapshots)
        # The start-up heap (modules, config, clients, instruments) lives as long as the process:
        # freeze it out of the collector's reach, so an old-generation pass walks only what trading
        # allocated since (one such pass over the whole heap took 26 ms in the middle of a run).
        gc.collect()
        gc.freeze()
        for name, fn in self.trader.task_specs():
            self.tasks.add(name, fn)
        self.tasks.add("housekeeping", lambda: every(1.0, self._housekeeping, name="housekeeping"))
        self.tasks.add("snapshots", self._periodic_saves)
        self.tasks.add("reload", self._reload_listener)
        self.tasks.add("disk_usage", lambda: every(30.0, self._disk_usage, name="disk_usage"))
        if mon.heap_trim_interval_s > 0 and self.heap.available:
            self.tasks.add("heap_trim", lambda: every(mon.heap_trim_interval_s, self.heap.run, name="heap_trim"))
        if self.opts.duration_s is not None:
            self.tasks.add("duration", self._duration_timer)
        if self.opts.live_view:
            from bot.runtime.liveview import run_live_view

            self.tasks.add("liveview", lambda: run_live_view(self))
        self.tasks.start()
        if self.trader.kill_switch_engaged:  # latched before a restart (risk snapshot): stays killed
            self.trader.engage_kill_switch("restored engaged from the last run")
        else:
            self.state = BotState.RUNNING
            self.trader.set_quoting(True, "started")
        log.info("bot_running", startup_s=round(time.monotonic() - t0, 3), state=str(self.state))

    def _on_first_quote(self) -> None:
        if self.first_quote_s is None:
            self.first_quote_s = time.monotonic() - self.started_mono
            log.info("first_quote", after_s=round(self.first_quote_s, 3))

    async def _duration_timer(self) -> None:
        assert self.opts.duration_s is not None
        await asyncio.sleep(self.opts.duration_s)
        self.request_stop("duration")

    def request_stop(self, reason: str) -> None:
        if not self._stop_requested.is_set():
            self._stop_reason = reason
            log.info("stop_requested", reason=reason)
            self._stop_requested.set()

    def _on_signal(self, name: str) -> None:
        if self._stop_requested.is_set() or self.shutdown.started:
            if name == "SIGINT":
                log.warning("second_sigint_fast_exit")
                self.shutdown.request_fast()
            else:
                log.info("already_stopping", signal=name)
            return
        self.request_stop(name)

    def _on_sighup(self) -> None:
        self._reloads.put_nowait("SIGHUP")  # served by the reload task, never from the handler

    async def _reload_listener(self) -> None:
        while True:
            origin = await self._reloads.get()
            result = await self.admin_reload()
            log.info("reload_done", origin=origin, message=str(result.get("message", "")))

    def _on_task_crash(self, name: str, exc: BaseException) -> None:
        if self.trader is not None:
            self.trader.set_quoting(False, f"task {name} crashed")
        self.request_stop(f"task_crashed:{name}")

    def _on_kill(self, reason: str) -> None:
        self.state = BotState.KILLED
        self.metrics.kill_switch.set(1)
        log.error("kill_switch_engaged", reason=reason)

    # ---- shutdown --------------------------------------------------------------------------
    async def stop(self, reason: str = "stop") -> ShutdownReport:
        """Idempotent: the first call runs the sequence, later calls await the same report."""
        self._stop_requested.set()
        if not self._stop_reason:
            self._stop_reason = reason
        report = await self.shutdown.run(self._stop_reason)
        self._finish(report)
        return report

    def _shutdown_steps(self) -> list[Step]:
        return [
            Step("stop_quoting", self._step_stop_quoting, cap_s=3.0),
            Step("cancel_all_and_verify", self._step_cancel_all, cap_s=10.0),
            Step("cancel_tasks", lambda: self.tasks.stop(3.0), cap_s=4.0),
            Step("close_connections", self._step_close_connections, cap_s=4.0),
            Step("flush_metrics_and_ledger", self._step_flush_ledger, cap_s=3.0),
            Step("close_recorder", self._step_close_recorder, cap_s=3.0),
            Step("save_snapshots", self._save_snapshots, cap_s=3.0),
            Step("stop_web_server", self.web.stop, cap_s=2.0),
        ]

    def _fast_steps(self) -> list[Step]:
        return [Step("cancel_all_once", self._step_cancel_once, cap_s=3.0),
                Step("close_ledger", self._step_flush_ledger, cap_s=1.0)]

    async def _step_stop_quoting(self) -> None:
        self.state = BotState.STOPPING
        self.metrics.quoting.set(0)
        if self.trader is not None:
            await self.trader.stop_quoting()

    async def _step_cancel_all(self) -> str:
        if self.trader is None or not self.trader.started:
            return "no venue session"
        left = await self.trader.cancel_all(verify=True)
        if left:
            raise MMError(f"{left} order(s) still open after cancel-all")
        return "0 open"

    async def _step_cancel_once(self) -> str:
        if self.trader is None or not self.trader.started:
            return "no venue session"
        left = await self.trader.cancel_all(verify=False)
        return f"sent ({left} known open)"

    async def _step_close_connections(self) -> None:
        if self.trader is not None:
            await self.trader.close()

    def _step_flush_ledger(self) -> None:
        self._refresh_metrics()
        if self.recorder is not None:  # the fast exit has no close_recorder step: keep the records
            self.recorder.flush()
        if self.ledger is not None and not self.ledger.closed:
            if self.trader is not None:
                if not self.trader.close_ledger_writer():
                    log.warning("ledger_writer_not_drained", note="queued writes are backfilled on the next start")
                if self.trader.started:
                    self.trader.record_daily_pnl()
            self.ledger.close()

    def _step_close_recorder(self) -> None:
        if self.recorder is not None:
            self.recorder.close()

    async def _periodic_saves(self) -> None:
        """Snapshots and the daily PnL row: soon after start (so a crash early on still restores), then every minute."""
        await asyncio.sleep(5.0)
        while True:
            self._save_snapshots()
            if self.trader is not None and self.ledger is not None and not self.ledger.closed:
                try:
                    self.trader.record_daily_pnl()
                except sqlite3.Error as exc:
                    log.warning("daily_pnl_unrecorded", error=str(exc))
            await asyncio.sleep(60.0)

    def _save_snapshots(self) -> bool:
        if self.trader is None or not self.trader.started:
            return True
        results = self.snapshots.save_all(self.trader.snapshottables(), config_hash=self.config_hash)
        return all(results.values())

    def _finish(self, report: ShutdownReport) -> None:
        if getattr(self, "_finished", False):
            return
        self._finished = True
        if not self._locked:  # another bot owns this state dir: touch nothing in it
            return
        doc = report.as_dict()
        doc.update({"pid": os.getpid(), "venue": self.cfg.venue, "startup_error": self.startup_error,
                    "first_quote_s": self.first_quote_s})
        try:
            json_io.save_file(self.state_dir / "last_shutdown.json", doc)
        except OSError as exc:
            log.error("shutdown_report_unwritten", error=str(exc))
        self.lock.release()

    # ---- periodic ----------------------------------------------------------------------------
    def _refresh_metrics(self) -> None:
        m = self.metrics
        m.quoting.set(1 if self.state is BotState.RUNNING and self.trader and self.trader.quoting else 0)
        m.kill_switch.set(1 if self.trader is not None and self.trader.kill_switch_engaged else 0)
        if self.trader is not None:
            self.trader.refresh_metrics()

    async def _housekeeping(self) -> None:
        self._refresh_metrics()
        if self.recorder is not None:
            # compressing a second of market data held the loop ~1 ms in one piece: off the loop
            await asyncio.to_thread(self.recorder.flush)

    def _disk_usage(self) -> None:
        self.metrics.disk_usage.labels("state").set(dir_size(self.state_dir))
        if self.recorder is not None:
            self.metrics.disk_usage.labels("recordings").set(dir_size(self.recorder.dir))

    # ---- web / admin --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        trader = self.trader
        totals = trader.totals() if trader else {}
        totals["orders_sent"] = totals.get("orders_sent", 0)
        return {
            "state": str(self.state), "venue": self.cfg.venue, "config_hash": self.config_hash, "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.started_mono, 1),
            "kill_switch": bool(trader and trader.kill_switch_engaged),
            "quoting": bool(trader and trader.quoting),
            "connections": trader.connections() if trader else
            {"public": "disconnected", "private": "disconnected", "trade": "disconnected"},
            "latency": {"tick_to_order_p50_us": self.latency.percentile_us(0.5),
                        "tick_to_order_p99_us": self.latency.percentile_us(0.99),
                        "samples": self.latency.count},
            "reconnects": trader.reconnects() if trader else {"public": 0, "private": 0},
            "totals": totals,
            "symbols": trader.symbol_status() if trader else {},
            "tasks": len(asyncio.all_tasks()),
            "memory": {"rss_bytes": rss_bytes(), **self.heap.status()},
            "startup_s": {"first_quote": self.first_quote_s},
            "startup_error": self.startup_error,
            "reloads": self._counters.reloads, "last_reload": self._counters.last_reload,
            "params": {"levels": self.cfg.strategy.levels, "order_notional": str(self.cfg.strategy.order_notional),
                       "max_open_orders": self.cfg.risk.max_open_orders, "log_level": self.cfg.monitoring.log_level},
        }

    def readiness(self) -> tuple[bool, list[str]]:
        reasons: list[str] = []
        if self.state is not BotState.RUNNING:
            reasons.append(f"state {self.state}")
        if self.trader is None or not self.trader.started:
            reasons.append("venue session not started")
        else:
            reasons.extend(self.trader.not_ready_reasons())
        return not reasons, reasons

    def metrics_exposition(self) -> bytes:
        self._refresh_metrics()
        return self.metrics.exposition()

    def admin_token(self) -> Secret | None:
        return self.cfg.secrets.admin_token

    async def admin_pause(self, reason: str) -> dict[str, Any]:
        if self.state in (BotState.STOPPING, BotState.KILLED, BotState.STARTING) or self.trader is None:
            return {"ok": False, "state": str(self.state), "error": f"cannot pause while {self.state}"}
        self.state = BotState.PAUSED
        self.trader.set_quoting(False, f"paused: {reason}")
        left = await self.trader.cancel_all(verify=True)
        return {"ok": left == 0, "state": str(self.state), "open_orders": left}

    async def admin_resume(self) -> dict[str, Any]:
        if self.state is not BotState.PAUSED or self.trader is None:
            return {"ok": False, "state": str(self.state), "error": f"cannot resume while {self.state}"}
        self.state = BotState.RUNNING
        self.trader.set_quoting(True, "resumed")
        return {"ok": True, "state": str(self.state)}

    async def admin_cancel_all(self) -> dict[str, Any]:
        if self.trader is None or not self.trader.started:
            return {"ok": False, "error": "no venue session"}
        left = await self.trader.cancel_all(verify=True)
        return {"ok": left == 0, "open_orders": left, "state": str(self.state)}

    async def admin_kill(self, reason: str) -> dict[str, Any]:
        if self.trader is None:
            return {"ok": False, "error": "no venue session"}
        self.trader.engage_kill_switch(f"admin: {reason}")
        left = await self.trader.cancel_all(verify=True)
        return {"ok": left == 0, "state": str(self.state), "open_orders": left}

    async def admin_reset_kill(self, operator: str) -> dict[str, Any]:
        """The operator's reset of a latched kill switch. The bot comes back PAUSED, not quoting:
        resuming is a second, deliberate call. The engaged state survives restarts (snapshot)."""
        if self.trader is None or self.state is not BotState.KILLED:
            return {"ok": False, "state": str(self.state), "error": f"kill switch not engaged ({self.state})"}
        self.trader.reset_kill_switch(operator)
        self.state = BotState.PAUSED
        self.metrics.kill_switch.set(0)
        log.warning("kill_switch_reset", operator=operator)
        return {"ok": True, "state": str(self.state)}

    async def admin_reload(self) -> dict[str, Any]:
        new_cfg, result = hot_reload.plan_reload(self.cfg, self.opts.config_path, self.opts.overrides)
        if new_cfg is not None:
            self.cfg = new_cfg
            self.config_hash = cfg_hash_sanitized(new_cfg)
            self.lock.update_config_hash(self.config_hash)
            if self.trader is not None:
                self.trader.apply_config(new_cfg)
            import logging

            logging.getLogger().setLevel(new_cfg.monitoring.log_level)
        self._counters.reloads += 1
        self._counters.last_reload = result.as_dict()
        (log.info if result.ok else log.warning)("config_reload", message=result.message)
        return result.as_dict()
