"""HeapTrimmer: free pages in the middle of the C heap go back to the OS (RSS falls), and each trim is timed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.runtime.heap import load_malloc_trim, rss_bytes

pytestmark = pytest.mark.skipif(load_malloc_trim() is None, reason="needs glibc's malloc_trim")

# A fresh interpreter, so the heap holds only what the script makes: 400 blocks of 64 KiB (under
# glibc's mmap threshold, so on the heap), every other one freed. The holes cannot go back from the
# top of the heap (a kept block sits above each), which is the pattern socket reads leave behind.
_SCRIPT = """
import sys
from bot.runtime.heap import HeapTrimmer, rss_bytes
seen = []
trimmer = HeapTrimmer(on_trim=seen.append)
blocks = [bytearray(b"x" * (64 * 1024)) for _ in range(400)]
del blocks[::2]
before = rss_bytes()
trimmer.trim_now()
after = rss_bytes()
print(before - after, trimmer.count, len(seen), trimmer.last_ms is not None)
"""


def test_trim_gives_freed_heap_pages_back() -> None:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    released, count, observed, timed = out.stdout.split()
    assert int(released) >= 8 * 2**20, f"RSS fell by only {int(released)} bytes after the trim"
    assert (count, observed, timed) == ("1", "1", "True")


def test_rss_is_read() -> None:
    rss = rss_bytes()
    assert rss is not None and rss > 1 * 2**20
