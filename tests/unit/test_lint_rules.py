"""Project lint rules that CI enforces: no print() in library code, no stdlib json outside json_io."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_no_print_in_bot() -> None:
    r = _ruff("--select", "T20", "bot")
    assert r.returncode == 0, r.stdout


def test_no_stdlib_json_outside_json_io() -> None:
    r = _ruff("--select", "TID251", "bot", "mmctl", "ci")
    assert r.returncode == 0, r.stdout


def test_the_rules_catch_a_planted_violation(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("import json\nprint(json.dumps({}))\n")
    r = _ruff("--select", "T20,TID251", "--config", str(ROOT / "pyproject.toml"), str(planted))
    assert r.returncode == 1
    assert "T201" in r.stdout and "TID251" in r.stdout
