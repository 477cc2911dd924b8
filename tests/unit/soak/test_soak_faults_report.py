from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from soak_series import series, with_ws_drop

from mmctl.ops.soak.faults import FAULT_KINDS, build_schedule
from mmctl.ops.soak.gate import Thresholds, evaluate
from mmctl.ops.soak.report import write_report


def test_schedule_is_deterministic_spaced_and_inside_the_window() -> None:
    a = build_schedule(3600, 30, seed=7, start_after_s=300, min_gap_s=60, end_margin_s=120)
    assert a == build_schedule(3600, 30, seed=7, start_after_s=300, min_gap_s=60, end_margin_s=120)
    assert a != build_schedule(3600, 30, seed=8, start_after_s=300, min_gap_s=60, end_margin_s=120)
    times = [e.at_s for e in a]
    assert all(300 < t < 3480 for t in times)
    assert all(b - x >= 60 for x, b in itertools.pairwise(times))
    assert 10 <= len(a) <= 50
    assert [e.kind for e in a[:4]] == list(FAULT_KINDS)


def test_schedule_rate_zero_is_empty_and_unknown_kind_rejected() -> None:
    assert build_schedule(3600, 0) == []
    with pytest.raises(ValueError, match="unknown fault"):
        build_schedule(3600, 10, kinds=("meteor",))


def test_report_is_self_contained_with_verdict_on_top(tmp_path: Path) -> None:
    samples = with_ws_drop(series(minutes=20), 700.0)
    faults = [{"elapsed_s": 700.0, "kind": "drop_ws", "ok": True, "detail": "HTTP 200"}]
    verdict = evaluate(samples, {"duration_s": 1200, "faults": faults, "orphan_orders": 0},
                       Thresholds(warmup_s=300, min_samples_after_warmup=5))
    out = write_report(tmp_path / "report.html", verdict=verdict,
                       meta={"wall_s": 1200, "market_s": 12000, "speed": 10, "config_hash": "abc"},
                       samples=samples, faults=faults)
    text = out.read_text()
    assert text.index("Soak gate: PASS") < text.index("<h2>Run</h2>")
    assert text.count("data:image/png;base64,") >= 6
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "3.333 h" in text  # market time 12000 s stated beside wall time
    assert sorted(p.name for p in (tmp_path / "charts").iterdir())[:2] == ["disk.png", "fds_tasks.png"]
