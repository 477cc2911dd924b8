"""Helpers for the soak e2e tests: the emulator as a subprocess (not a test module)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmctl.ops.soak.procs import parse_sim_banner

ROOT = Path(__file__).resolve().parents[3]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}


@contextmanager
def emulator(symbols: str = "BTCUSDT,ETHUSDT") -> Iterator[dict[str, str]]:
    """`python -m bot.sim` on an ephemeral port; yields its banner (URLs + throwaway keys)."""
    proc = subprocess.Popen([sys.executable, "-m", "bot.sim", "--port", "0", "--symbols", symbols],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env())
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        banner = None
        assert proc.stdout is not None
        while banner is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            banner = parse_sim_banner(lines)
        assert banner is not None, f"no emulator banner: {lines}"
        yield banner
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
