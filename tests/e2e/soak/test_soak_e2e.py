"""Short soaks of the real stack (emulator + bot as subprocesses): faults recovered, an injected leak FAILs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from soak_stack import ROOT, clean_env

from bot.common import json_io
from mmctl.ops.soak.gate import load_thresholds
from mmctl.ops.soak.runner import SoakOptions, run_soak
from mmctl.ops.soak.sampler import read_samples

pytestmark = pytest.mark.timeout(240)


def _checks(verdict: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: c for c in verdict["checks"]}


def test_short_soak_with_faults_passes_and_writes_series_verdict_report(tmp_path: Path) -> None:
    out = tmp_path / "soak"
    r = subprocess.run(
        [sys.executable, "-m", "mmctl", "--json", "soak", "--hours", "0.025", "--interval", "2", "--faults", "150",
         "--seed", "3", "--speed", "2", "--profile", "ci", "--out", str(out)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=230)
    verdict = json_io.load_file(out / "verdict.json")
    checks = _checks(verdict)
    # The exit code is the verdict's; which KPIs the bot meets in 90 s is the bot's business (the
    # verdict table says), what this test pins is the soak's own job: series, recovery, shutdown, report.
    assert r.returncode == (0 if verdict["verdict"] == "PASS" else 6), r.stderr[-3000:]
    for name in ("disconnects_recovered", "orphan_orders_after_shutdown", "bot_alive", "fd_growth", "maker_share"):
        assert checks[name]["status"] == "PASS", checks[name]
    samples = read_samples(out / "samples.jsonl")
    assert len(samples) >= 30 and all(s["rss_bytes"] for s in samples if s["up"])
    faults = read_samples(out / "faults.jsonl")
    assert len(faults) >= 2 and all(f["ok"] for f in faults)
    assert checks["disconnects_recovered"]["measured"] == f"{len(faults)}/{len(faults)}"
    assert {f["kind"] for f in faults} >= {"drop_ws", "rest_errors"}
    assert checks["orphan_orders_after_shutdown"]["measured"] == "0"
    meta = json_io.load_file(out / "meta.json")
    assert meta["market_s"] == pytest.approx(2 * meta["wall_s"], rel=0.01)
    html = (out / "report.html").read_text()
    assert f"Soak gate: {verdict['verdict']}" in html and html.count("data:image/png;base64,") >= 6
    assert (out / "charts" / "rss.png").stat().st_size > 1000


def test_injected_leak_makes_the_gate_fail_on_memory_slope(tmp_path: Path) -> None:
    th = load_thresholds(ROOT / "ci" / "soak_thresholds.toml", profile="ci")
    leak_bytes_per_s = 4 * 2**20  # ~14 GB/h: far past any threshold, small enough for a 1-minute run
    opts = SoakOptions(hours=0.015, out_dir=tmp_path / "leak", thresholds=th, interval_s=2.0,
                       bot_argv=[sys.executable, str(Path(__file__).with_name("leaky_bot.py")),
                                 str(leak_bytes_per_s)],
                       env=clean_env())
    result = run_soak(opts)
    checks = {c.name: c for c in result.verdict.checks}
    assert not result.verdict.passed
    assert checks["rss_slope"].status == "FAIL", checks["rss_slope"]
    assert float(checks["rss_slope"].measured.split()[0]) > 5000
    assert checks["bot_alive"].status == "PASS"  # the leak, not a crash, failed the gate
