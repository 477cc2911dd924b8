"""The recorder flushed from a worker thread (as the runtime does) while the loop keeps recording."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.observability.recorder import Recorder, read_records


def test_no_record_is_lost_or_reordered_when_flushes_run_in_another_thread(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, max_bytes=64 * 1024)  # small files: rotation happens inside the threads too
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            rec.flush()

    threads = [threading.Thread(target=flusher) for _ in range(2)]
    for t in threads:
        t.start()
    n = 20_000
    for i in range(n):
        rec.record("book", {"i": i, "pad": "x" * 40})
    stop.set()
    for t in threads:
        t.join()
    rec.close()
    rec.flush()  # after close: nothing, no error
    got = [r.data["i"] for r in read_records(tmp_path)]
    assert got == list(range(n))
    assert rec.written == n and rec.dropped == 0
