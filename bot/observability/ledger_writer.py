"""The ledger's hot-path writes (stream fills and order states) on a worker thread.

A fill's SQLite transaction held the event loop ~60-150 us and an order upsert ~20-80 us, one
at a time, and a burst of private events (fills, order updates) became one loop step of ~0.5 ms
that a book update arriving meanwhile waited behind. Here the loop only queues; the thread
writes what has queued up in one transaction on its own connection (sqlite3 releases the GIL
while SQLite works, and WAL lets the loop's own connection read meanwhile), and WAL
checkpoints run there too.

Nothing is lost across a crash that the ledger could not already recover: a fill queued but
not committed when the process dies is above the ledger's watermark, and start-up backfills
executions from the watermark. Callers that need the ledger to hold everything queued so far
(the backfill after a reconnect, shutdown) call `flush()` first.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from bot.domain import Fill
from bot.observability.ledger import Ledger, OrderRow
from bot.observability.logging import get_logger

__all__ = ["LedgerWriter"]

log = get_logger(__name__)
_STOP = object()


class LedgerWriter:
    """Queue fills and order states from the event loop; one worker thread commits them in batches."""

    def __init__(self, path: str | Path, *, cache_kib: int = 512) -> None:
        self.path = Path(path)
        self._cache_kib = cache_kib
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._opened = threading.Event()
        self._open_error: Exception | None = None
        self.batches = 0  # transactions committed
        self.failed = 0  # transactions that raised (their rows are not in the ledger)
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._open_error is not None:
            raise self._open_error

    def fills(self, fills: list[Fill]) -> None:
        if fills:
            self._q.put(("f", fills))

    def order(self, row: OrderRow) -> None:
        self._q.put(("o", row))

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Block until everything queued before this call is committed; False on timeout or when closed."""
        if not self._thread.is_alive():
            return False
        done = threading.Event()
        self._q.put(done)
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 5.0) -> bool:
        """Commit what is queued, close the connection and stop the thread; idempotent."""
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            ledger = Ledger(self.path, cache_kib=self._cache_kib, owner=False)
        except Exception as exc:  # reported to the constructor's caller
            self._open_error = exc
            self._opened.set()
            return
        self._opened.set()
        try:
            stop = False
            while not stop:
                items = [self._q.get()]
                while True:  # everything queued meanwhile goes into the same transaction
                    try:
                        items.append(self._q.get_nowait())
                    except queue.Empty:
                        break
                fills: list[Fill] = []
                orders: list[OrderRow] = []
                waiters: list[threading.Event] = []
                for it in items:
                    if it is _STOP:
                        stop = True
                    elif isinstance(it, threading.Event):
                        waiters.append(it)
                    elif isinstance(it, tuple) and it[0] == "f":
                        fills.extend(it[1])
                    elif isinstance(it, tuple):
                        orders.append(it[1])
                if fills or orders:
                    self._write(ledger, fills, orders)
                for w in waiters:
                    w.set()
        finally:
            ledger.close()

    def _write(self, ledger: Ledger, fills: list[Fill], orders: list[OrderRow]) -> None:
        try:
            ledger.record_batch(fills, orders)
            self.batches += 1
        except Exception as exc:  # a failed write must not kill the thread
            self.failed += 1
            log.warning("ledger_write_failed", fills=len(fills), orders=len(orders), error=str(exc))
