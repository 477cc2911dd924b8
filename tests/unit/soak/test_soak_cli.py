"""`mmctl soak gate DIR` and `mmctl doctor` as the operator runs them (subprocess, exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from soak_series import series

from bot.common import json_io


def mmctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    return subprocess.run([sys.executable, "-m", "mmctl", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def soak_dir(tmp_path: Path, name: str, **kw: float) -> Path:
    d = tmp_path / name
    d.mkdir()
    with open(d / "samples.jsonl", "wb") as fh:
        for s in series(minutes=30, **kw):
            fh.write(json_io.dumps(s) + b"\n")
    json_io.save_file(d / "summary.json", {"duration_s": 1800, "faults": [], "orphan_orders": 0, "exit_ok": True})
    json_io.save_file(d / "meta.json", {"config_hash": "x", "wall_s": 1800, "market_s": 18000, "speed": 10,
                                        "thresholds": {"warmup_s": 400, "max_rss_slope_mb_per_h": 2.0}})
    return d


def test_soak_gate_passes_flat_run_and_writes_verdict_and_report(tmp_path: Path) -> None:
    d = soak_dir(tmp_path, "flat")
    root = Path(__file__).resolve().parents[3]
    r = mmctl("--json", "soak", "gate", str(d), cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json_io.loads(r.stdout)
    assert doc["verdict"] == "PASS" and doc["warmup_s"] == 400
    assert json_io.load_file(d / "verdict.json")["verdict"] == "PASS"
    assert "Soak gate: PASS" in (d / "report.html").read_text()


def test_soak_gate_exit_6_on_leak(tmp_path: Path) -> None:
    d = soak_dir(tmp_path, "leak", leak_mb_per_h=40.0)
    root = Path(__file__).resolve().parents[3]
    r = mmctl("soak", "gate", str(d), cwd=root)
    assert r.returncode == 6, r.stdout + r.stderr
    assert "rss_slope" in r.stdout and "FAIL" in r.stdout
    # a looser explicit threshold turns the same data into a pass: the number, not the code, decides
    r = mmctl("soak", "gate", str(d), "--threshold", "max_rss_slope_mb_per_h=100", "--threshold", "warmup_s=400",
              cwd=root)
    assert r.returncode == 0, r.stdout


def test_soak_gate_on_empty_dir_is_usage_error(tmp_path: Path) -> None:
    r = mmctl("soak", "gate", str(tmp_path), cwd=Path(__file__).resolve().parents[3])
    assert r.returncode == 2


def test_soak_without_hours_is_usage_error(tmp_path: Path) -> None:
    r = mmctl("soak", cwd=Path(__file__).resolve().parents[3])
    assert r.returncode == 2 and "--hours" in r.stderr


def test_doctor_json_on_default_sim_config(tmp_path: Path) -> None:
    r = mmctl("doctor", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json_io.loads(r.stdout)
    assert [c["name"] for c in doc["checks"]][:2] == ["config", "secrets"]
    assert doc["overall"] == "warn"  # sim without a URL: nothing to reach


def test_doctor_fails_on_unreachable_venue(tmp_path: Path) -> None:
    r = mmctl("doctor", "--rest-url", "http://127.0.0.1:9", cwd=tmp_path)
    assert r.returncode == 6
    assert "FAIL venue_reachable" in r.stdout
