"""Fixtures for the deployment checks (helpers live in deploy_support.py)."""

from __future__ import annotations

import os
import shutil

import pytest
from deploy_support import MetricContract, build_metric_contract


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; a missing one FAILS the test unless MM_ALLOW_NO_PROMTOOL=1 says skip."""
    found = shutil.which("promtool")
    if found:
        return found
    msg = ("promtool not found on PATH: install Debian's `prometheus` package "
           "(apt-get install -y --no-install-recommends prometheus), which provides /usr/bin/promtool")
    if os.environ.get("MM_ALLOW_NO_PROMTOOL") == "1":
        pytest.skip(f"{msg} (skipped because MM_ALLOW_NO_PROMTOOL=1)")
    pytest.fail(f"{msg}; set MM_ALLOW_NO_PROMTOOL=1 to skip these checks knowingly", pytrace=False)


@pytest.fixture(scope="session")
def metric_contract() -> MetricContract:
    """Sample names (and their labels) the bot's exposition can contain, plus Prometheus' `up`."""
    return build_metric_contract()
