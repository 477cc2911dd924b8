"""The sans-I/O layer stays pure: no clocks, randomness, sockets, event loop or environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PURE = ["bot/exchange/base.py", "bot/exchange/events.py", "bot/exchange/bybit/wire.py",
        "bot/exchange/bybit/parse.py", "bot/exchange/bybit/signing.py", "bot/exchange/bybit/errors.py",
        "bot/exchange/bybit/backoff.py"]
BANNED = {"asyncio", "socket", "ssl", "time", "random", "os", "httpx", "websockets", "aiohttp", "threading"}


@pytest.mark.parametrize("path", PURE)
def test_pure_module_imports_no_io(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & BANNED


def test_importing_the_interfaces_and_parsers_starts_no_event_loop_machinery() -> None:
    code = ("import sys, bot.exchange, bot.exchange.bybit.parse, bot.exchange.bybit.wire, "
            "bot.exchange.bybit.backoff, bot.exchange.bybit.errors; "
            "print(sorted(m for m in ('asyncio', 'httpx', 'websockets', 'socket') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    assert out.stdout.strip() == "[]"
