"""Shared test helpers: the time-out factor and a clean environment for config tests."""

from __future__ import annotations

import os

import pytest

TIMEOUT_FACTOR = float(os.environ.get("TIMEOUT_FACTOR", "1"))


@pytest.fixture
def clean_env() -> dict[str, str]:
    """An environment without any MM_* or BYBIT_* variables, for config loader tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
