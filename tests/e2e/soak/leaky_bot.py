"""Test-only bot entry point that leaks memory on purpose: proves the soak gate can FAIL.

Usage: python leaky_bot.py <bytes_per_s> <mmctl global options...> run
A daemon thread appends `bytes_per_s` of fresh, touched bytes to a list every second, in the
bot's own process, then the real `mmctl` main runs the bot unchanged.
"""

from __future__ import annotations

import sys
import threading
import time

_RETAINED: list[bytearray] = []


def _leak(bytes_per_s: int) -> None:
    while True:
        chunk = bytearray(bytes_per_s)
        for i in range(0, len(chunk), 4096):  # touch every page so it counts in RSS
            chunk[i] = 1
        _RETAINED.append(chunk)
        time.sleep(1.0)


def main() -> None:
    rate = int(sys.argv[1])
    threading.Thread(target=_leak, args=(rate,), name="test-leak", daemon=True).start()
    from mmctl.app import main as mmctl_main

    mmctl_main(sys.argv[2:])


if __name__ == "__main__":
    main()
