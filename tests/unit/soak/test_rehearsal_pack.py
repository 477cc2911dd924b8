"""Rehearsal pack parts that need no venue: soak verdict lookup, audit, manifest, check_live_pack."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from bot.common import json_io
from bot.config import cfg_hash_sanitized, load_config
from mmctl.ops.rehearsal import (
    RehearsalOptions,
    check_live_pack,
    latest_soak_verdict,
    run_rehearsal,
    verify_pack,
)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _soak(root: Path, name: str, cfg_hash: str, verdict: str, ended_ts: float) -> None:
    json_io.save_file(root / name / "verdict.json", {"verdict": verdict, "config_hash": cfg_hash, "hours": 1.0,
                                                     "ended_at": _iso(ended_ts)})


def _audit(d: Path, gate: str = "pass") -> None:
    json_io.save_file(d / "audit.json", {"gate": gate, "tools": [{"tool": "bandit", "status": "ok"}]})


def _cfg(tmp_path: Path, clean_env: dict[str, str]):  # type: ignore[no-untyped-def]
    return load_config(env=clean_env, overrides=[f"state_dir={tmp_path / 'state'}"])


def _opts(tmp_path: Path, clean_env: dict[str, str], now: float) -> RehearsalOptions:
    # venue sim with no URL: the venue part fails, which these tests read part by part
    return RehearsalOptions(soak_root=tmp_path / "soak", audit_dir=tmp_path / "audit", env=clean_env,
                            now=lambda: now)


def _part(result, name):  # type: ignore[no-untyped-def]
    return next(p for p in result.parts if p.name == name)


def test_latest_soak_verdict_picks_newest_for_the_hash(tmp_path: Path) -> None:
    now = time.time()
    _soak(tmp_path, "a", "h1", "PASS", now - 7200)
    _soak(tmp_path, "b", "h1", "FAIL", now - 60)
    _soak(tmp_path, "c", "h2", "PASS", now)
    found = latest_soak_verdict(tmp_path, "h1")
    assert found is not None and found[0].parent.name == "b"
    assert latest_soak_verdict(tmp_path, "nope") is None


def test_rehearsal_fails_without_soak_verdict(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    _audit(tmp_path / "audit")
    r = run_rehearsal(cfg, _opts(tmp_path, clean_env, time.time()))
    assert not r.ok
    assert not _part(r, "soak").ok and "no soak verdict" in _part(r, "soak").detail
    assert _part(r, "audit").ok and _part(r, "config").ok and _part(r, "secrets").ok


def test_rehearsal_fails_on_stale_or_failed_soak(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    now = time.time()
    _soak(tmp_path / "soak", "old", cfg_hash_sanitized(cfg), "PASS", now - 10 * 24 * 3600)
    r = run_rehearsal(cfg, _opts(tmp_path, clean_env, now))
    assert "stale" in _part(r, "soak").detail and not _part(r, "soak").ok
    _soak(tmp_path / "soak", "new", cfg_hash_sanitized(cfg), "FAIL", now - 60)
    r = run_rehearsal(cfg, _opts(tmp_path, clean_env, now))
    assert "verdict FAIL" in _part(r, "soak").detail


def test_fresh_passing_soak_part_passes_and_pack_has_manifest_and_checksums(tmp_path: Path,
                                                                            clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    now = time.time()
    _soak(tmp_path / "soak", "s1", cfg_hash_sanitized(cfg), "PASS", now - 3600)
    _audit(tmp_path / "audit")
    r = run_rehearsal(cfg, _opts(tmp_path, clean_env, now))
    assert _part(r, "soak").ok, _part(r, "soak").detail
    assert not _part(r, "venue").ok  # sim without a URL: nothing to check, so not a pass
    manifest = json_io.load_file(r.pack_dir / "manifest.json")
    assert manifest["config_hash"] == cfg_hash_sanitized(cfg) and manifest["ok"] is False
    assert {"config.json", "build.json", "secrets.json", "soak.json", "audit.json", "venue.json"} <= set(
        manifest["files"])
    sums = (r.pack_dir / "SHA256SUMS").read_text().splitlines()
    assert any(line.endswith("  manifest.json") for line in sums)
    assert verify_pack(r.pack_dir)[0]
    assert r.pack_dir.parent == tmp_path / "state" / "rehearsal"


def test_failed_audit_gate_fails_its_part(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    _audit(tmp_path / "audit", gate="findings")
    r = run_rehearsal(cfg, _opts(tmp_path, clean_env, time.time()))
    assert not _part(r, "audit").ok


def _fake_pack(state: Path, cfg_hash: str, *, ok: bool, created: float) -> Path:
    from mmctl.ops.rehearsal import _sha256

    pack = state / "rehearsal" / f"20260101T000000Z-{cfg_hash[:12]}"
    pack.mkdir(parents=True)
    (pack / "config.json").write_text("{}")
    json_io.save_file(pack / "manifest.json", {"ok": ok, "config_hash": cfg_hash, "created_ts": created,
                                               "files": {"config.json": _sha256(pack / "config.json")}})
    return pack


def test_check_live_pack_accepts_only_fresh_passing_intact_pack_for_this_hash(tmp_path: Path,
                                                                             clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    state = tmp_path / "state"
    ok, reason = check_live_pack(cfg, state, 24)
    assert not ok and "mmctl rehearsal" in reason
    now = time.time()
    pack = _fake_pack(state, cfg_hash_sanitized(cfg), ok=True, created=now - 3600)
    assert check_live_pack(cfg, state, 24)[0]
    assert not check_live_pack(cfg, state, 0.5)[0]  # older than the allowed age
    (pack / "config.json").write_text('{"tampered": true}')
    ok, reason = check_live_pack(cfg, state, 24)
    assert not ok and "checksum" in reason
    other = load_config(env=clean_env, overrides=[f"state_dir={state}", "strategy.levels=3"])
    assert not check_live_pack(other, state, 24)[0]


def test_check_live_pack_rejects_failed_pack(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg = _cfg(tmp_path, clean_env)
    _fake_pack(tmp_path / "state", cfg_hash_sanitized(cfg), ok=False, created=time.time())
    ok, reason = check_live_pack(cfg, tmp_path / "state", 24)
    assert not ok and "pack failed" in reason
