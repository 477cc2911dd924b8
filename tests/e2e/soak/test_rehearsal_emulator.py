"""`mmctl rehearsal` and `mmctl doctor` against the emulator, as subprocesses."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from soak_stack import ROOT, clean_env, emulator

from bot.common import json_io
from bot.config import cfg_hash_sanitized, load_config


def mmctl(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmctl", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _evidence(tmp_path: Path, env: dict[str, str], *, soak: bool) -> None:
    cfg = load_config(env=env, overrides=[f"state_dir={tmp_path / 'state'}"])
    if soak:
        ended = datetime.fromtimestamp(time.time() - 600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        json_io.save_file(tmp_path / "soak" / "run1" / "verdict.json",
                          {"verdict": "PASS", "config_hash": cfg_hash_sanitized(cfg), "hours": 0.05,
                           "ended_at": ended})
    json_io.save_file(tmp_path / "audit" / "audit.json", {"gate": "pass", "tools": []})


def _args(tmp_path: Path, rest_url: str) -> list[str]:
    return ["--set", f"state_dir={tmp_path / 'state'}", "rehearsal", "--json", "--rest-url", rest_url,
            "--soak-root", str(tmp_path / "soak"), "--audit-dir", str(tmp_path / "audit")]


def test_rehearsal_passes_against_emulator_and_places_a_post_only_order(tmp_path: Path) -> None:
    with emulator() as sim:
        env = clean_env() | {"BYBIT_API_KEY": sim["api_key"], "BYBIT_API_SECRET": sim["api_secret"]}
        _evidence(tmp_path, env, soak=True)
        r = mmctl(*_args(tmp_path, sim["rest_url"]), env=env, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json_io.loads(r.stdout)
    assert doc["ok"] is True
    pack = Path(doc["pack"])
    venue = json_io.load_file(pack / "venue.json")
    rt = next(c for c in venue["checks"] if c["name"] == "post_only_roundtrip")
    assert rt["level"] == "pass" and rt["data"]["orderLinkId"].startswith("rh-")
    assert venue["fee_rates"]["BTCUSDT"][0]["makerFeeRate"].startswith("-")  # the emulator pays makers
    manifest = json_io.load_file(pack / "manifest.json")
    assert manifest["ok"] is True and "venue.json" in manifest["files"]
    # the live start accepts this pack for this config, and only for it
    from mmctl.ops.rehearsal import check_live_pack

    cfg = load_config(env=env, overrides=[f"state_dir={tmp_path / 'state'}"])
    assert check_live_pack(cfg)[0]


def test_rehearsal_fails_when_soak_verdict_missing(tmp_path: Path) -> None:
    with emulator() as sim:
        env = clean_env() | {"BYBIT_API_KEY": sim["api_key"], "BYBIT_API_SECRET": sim["api_secret"]}
        _evidence(tmp_path, env, soak=False)
        r = mmctl(*_args(tmp_path, sim["rest_url"]), env=env, cwd=ROOT)
    assert r.returncode == 6, r.stdout + r.stderr
    parts = {p["name"]: p for p in json_io.loads(r.stdout)["parts"]}
    assert not parts["soak"]["ok"] and parts["venue"]["ok"]


def test_doctor_against_emulator_passes_with_keys(tmp_path: Path) -> None:
    with emulator() as sim:
        env = clean_env() | {"BYBIT_API_KEY": sim["api_key"], "BYBIT_API_SECRET": sim["api_secret"]}
        r = mmctl("doctor", "--json", "--rest-url", sim["rest_url"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    checks = {c["name"]: c["level"] for c in json_io.loads(r.stdout)["checks"]}
    assert checks == {"config": "pass", "secrets": "pass", "venue_reachable": "pass", "clock_offset": "pass",
                      "key_permissions": "pass"}
