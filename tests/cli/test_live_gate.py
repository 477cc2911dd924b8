"""`mmctl run --venue mainnet --live` refuses without a passing pre-live pack; the override is loud."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, so a run that gets past the gate fails fast


@pytest.fixture
def env(clean_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**clean_env, "HOME": str(tmp_path), "BYBIT_API_KEY": "gate-test-key-0001",
            "BYBIT_API_SECRET": "gate-test-secret-0001"}


def _run(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "mmctl", "--set", f'exchange.rest_url="{CLOSED}"',
            "--set", 'exchange.ws_public_url="ws://127.0.0.1:9"', "--set", 'exchange.ws_private_url="ws://127.0.0.1:9"',
            "run", "--venue", "mainnet", "--live", "--state-dir", str(tmp_path / "state"), "--duration", "1",
            "--view", "logs", *extra]
    return subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)


def test_mainnet_without_pack_is_refused_before_any_connection(tmp_path: Path, env: dict[str, str]) -> None:
    r = _run(tmp_path, env)
    assert r.returncode == 5, r.stderr
    assert "refusing to trade on mainnet" in r.stderr and "mmctl rehearsal" in r.stderr
    assert "Traceback" not in r.stderr and "ConnectError" not in r.stderr  # refused before the venue was asked
    assert "gate-test-secret-0001" not in r.stdout + r.stderr


def test_override_warns_loudly_and_starts(tmp_path: Path, env: dict[str, str]) -> None:
    r = _run(tmp_path, env, "--no-pack-check")
    assert "WARNING: starting on MAINNET WITHOUT a passing pre-live pack" in r.stderr
    assert r.returncode == 4, r.stderr  # got past the gate: the closed venue port is the failure now
    assert "gate-test-secret-0001" not in r.stdout + r.stderr
