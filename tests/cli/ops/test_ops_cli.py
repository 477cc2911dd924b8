"""mmctl lint/validate/logs/audit as real subprocesses: exit codes 0/6/1/3, JSON output, no tracebacks."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.common import json_io

REPO = Path(__file__).resolve().parents[3]


def mmctl(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmctl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False, env=_env())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    env["PYTHONPATH"] = str(REPO)
    return env


def test_lint_ascii_exit_codes_and_paths(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ci.yml").write_text("x: 1\n")
    assert mmctl(["lint", "ascii", "."], tmp_path).returncode == 0
    (tmp_path / ".github" / "ci.yml").write_bytes("x: '\u00e9'\n".encode())
    r = mmctl(["lint", "ascii", "."], tmp_path)
    assert r.returncode == 6
    assert ".github/ci.yml:1:5: non_ascii" in r.stdout
    r = mmctl(["--json", "lint", "ascii", "."], tmp_path)
    doc = json_io.loads(r.stdout)
    assert doc["status"] == "findings" and doc["findings"][0]["path"] == ".github/ci.yml"
    r = mmctl(["lint", "ascii", "missing-dir"], tmp_path)
    assert r.returncode == 1 and "no such file" in r.stdout and "Traceback" not in r.stderr


def test_lint_bad_config_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "l.toml").write_text("[ascii_lint]\nbogus = 1\n")
    r = mmctl(["lint", "ascii", "--lint-config", "l.toml", "."], tmp_path)
    assert r.returncode == 3 and "bogus" in r.stderr and "Traceback" not in r.stderr


def _steps(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "validate.toml"
    p.write_text('[retention]\nkeep_runs = 5\nmax_total_size = "1M"\n' + body)
    return p


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (6, 6), (2, 1)])
def test_validate_exit_code_follows_worst_step(tmp_path: Path, code: int, expected: int) -> None:
    _steps(tmp_path, '[[steps]]\nname = "fine"\nrun = ["{python}", "-c", ""]\n'
                     f'[[steps]]\nname = "probe"\nrun = ["{{python}}", "-c", "import sys; sys.exit({code})"]\n')
    r = mmctl(["validate", "--steps-file", "validate.toml", "--artifacts", "out/ci"], tmp_path)
    assert r.returncode == expected, r.stdout + r.stderr
    assert "probe" in r.stdout
    summary = json_io.load_file(tmp_path / "out" / "ci" / "summary.json")
    assert [s["name"] for s in summary["steps"]] == ["fine", "probe"]


def test_validate_steps_selection_and_json(tmp_path: Path) -> None:
    _steps(tmp_path, '[[steps]]\nname = "a"\nrun = ["{python}", "-c", ""]\n'
                     '[[steps]]\nname = "b"\nrun = ["{python}", "-c", "import sys; sys.exit(6)"]\n')
    r = mmctl(["--json", "validate", "--steps-file", "validate.toml", "--artifacts", "ci", "--steps", "a"], tmp_path)
    assert r.returncode == 0
    assert [s["name"] for s in json_io.loads(r.stdout)["steps"]] == ["a"]


def test_validate_config_problems_are_exit_3(tmp_path: Path) -> None:
    _steps(tmp_path, '[[steps]]\nname = "a"\ncheck = "no_such_check"\n')
    r = mmctl(["validate", "--steps-file", "validate.toml"], tmp_path)
    assert r.returncode == 3 and "no_such_check" in r.stderr and "Traceback" not in r.stderr
    _steps(tmp_path, '[[steps]]\nname = "a"\nrun = ["{python}", "-c", ""]\n')
    r = mmctl(["validate", "--steps-file", "validate.toml", "--steps", "zzz"], tmp_path)
    assert r.returncode == 3 and "zzz" in r.stderr


def test_logs_rotate_and_prune(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "bot.log").write_text("hello\n")
    r = mmctl(["--json", "logs", "rotate", "logs", "--keep", "3", "--settle", "0"], tmp_path)
    assert r.returncode == 0, r.stderr
    [res] = json_io.loads(r.stdout)
    assert res["result"] == "rotated" and gzip.decompress((tmp_path / res["rotated_to"]).read_bytes()) == b"hello\n"
    old = logs / "bot.log.20200101T000000000000Z.gz"
    old.write_bytes(gzip.compress(b"old\n"))
    os.utime(old, (1_577_836_800, 1_577_836_800))
    r = mmctl(["logs", "prune", "logs", "--keep", "1", "--max-size", "1M"], tmp_path)
    assert r.returncode == 0 and not old.exists()
    assert [p.name for p in logs.glob("*.gz")] == [Path(res["rotated_to"]).name]  # the newest stays
    r = mmctl(["logs", "prune", "logs", "--max-size", "lots"], tmp_path)
    assert r.returncode == 2
    r = mmctl(["logs", "prune", "nope"], tmp_path)
    assert r.returncode == 3


def test_audit_missing_tools_skipped_exit_0_and_strict_exit_1(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = mmctl(["--json", "audit", "--tool-path", "empty", "--out", "reports"], tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json_io.loads(r.stdout)
    assert {t["status"] for t in doc["tools"]} == {"skipped"} and doc["gate"] == "pass"
    for name in ("pip-audit.json", "bandit.json", "cargo-audit.json", "audit.json"):
        assert (tmp_path / "reports" / name).exists()
    r = mmctl(["audit", "--tool-path", "empty", "--strict", "--out", "reports"], tmp_path)
    assert r.returncode == 1 and "skipped" in r.stdout


def test_audit_planted_bandit_finding_exit_6_at_medium(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "x.py").write_text("def f(s: str) -> object:\n    return eval(s)\n")
    venv_bin = str(Path(sys.executable).parent)
    r = mmctl(["audit", "-t", "bandit", "--fail-on", "medium", "--tool-path", venv_bin], tmp_path)
    assert r.returncode == 6, r.stdout + r.stderr
    assert "B307" in r.stdout
    r = mmctl(["audit", "-t", "bandit", "--fail-on", "high", "--tool-path", venv_bin], tmp_path)
    assert r.returncode == 0


def test_audit_usage_and_config_errors(tmp_path: Path) -> None:
    assert mmctl(["audit", "--fail-on", "severe"], tmp_path).returncode == 2
    (tmp_path / "ignore.toml").write_text('[[ignore]]\nid = "X"\n')
    r = mmctl(["audit", "--ignore-file", "ignore.toml", "--tool-path", "nowhere"], tmp_path)
    assert r.returncode == 3 and "reason" in r.stderr
    r = mmctl(["audit", "-t", "safety"], tmp_path)
    assert r.returncode == 3 and "unknown tool" in r.stderr


def test_logs_commands_default_to_the_configured_directories(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "bot.log").write_text("line\n")
    r = mmctl(["--json", "logs", "rotate", "--settle", "0"], tmp_path)  # monitoring.log_dir = "logs"
    assert r.returncode == 0, r.stderr
    assert json_io.loads(r.stdout)[0]["result"] == "rotated"
    r = mmctl(["--json", "logs", "prune", "--max-size", "1M"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert [d["directory"] for d in json_io.loads(r.stdout)] == ["logs"]  # recordings/ does not exist here
