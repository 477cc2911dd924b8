"""mmctl as a real subprocess: exit codes, messages without tracebacks, secrets never echoed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.common import json_io


def mmctl(args: list[str], env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mmctl", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=60, check=False)


@pytest.fixture
def env(clean_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**clean_env, "HOME": str(tmp_path)}


def test_help_lists_commands(env: dict[str, str]) -> None:
    r = mmctl(["--help"], env)
    assert r.returncode == 0
    assert "config" in r.stdout and "secrets" in r.stdout
    from mmctl.app import _COMMANDS

    listed = {line.split()[0] for line in r.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(_COMMANDS)


def test_subcommands_resolve_without_completion_options() -> None:
    import typer

    from mmctl.app import _COMMANDS, app

    group = typer.main.get_command(app)
    for name in _COMMANDS:
        cmd = group.get_command(None, name)  # type: ignore[attr-defined]
        assert cmd is not None and cmd.name == name
        params = {p.name for p in cmd.params}
        assert not params & {"install_completion", "show_completion"}, name


def _all_params(cmd: object, path: str) -> list[tuple[str, object]]:
    out = [(path, p) for p in getattr(cmd, "params", [])]
    for sub_name, sub in (getattr(cmd, "commands", None) or {}).items():
        out += _all_params(sub, f"{path} {sub_name}")
    return out


def test_help_texts_survive_rich_markup() -> None:
    """`[word]` in a help text is rich markup: Typer's help would silently drop it."""
    import re

    import typer

    from mmctl.app import _COMMANDS, app

    group = typer.main.get_command(app)
    eaten = re.compile(r"\[[A-Za-z_.]+\]")
    bad = [f"{path} --{p.name}: {p.help}"  # type: ignore[attr-defined]
           for name in _COMMANDS
           for path, p in _all_params(group.get_command(None, name), name)  # type: ignore[attr-defined]
           if eaten.search(getattr(p, "help", None) or "")]
    assert not bad, bad


def test_config_show_json_masks_secrets(env: dict[str, str]) -> None:
    r = mmctl(["--json", "config", "show"], {**env, "BYBIT_API_SECRET": "CANARY-show-secret-123"})
    assert r.returncode == 0, r.stderr
    doc = json_io.loads(r.stdout)
    assert doc["venue"] == "sim" and doc["secrets"]["BYBIT_API_SECRET"] == "present"
    assert "CANARY-show-secret-123" not in r.stdout + r.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("[risk\n", "malformed TOML"),
        ("[risk]\nmax_open_orderz = 3\n", "risk.max_open_orderz: unknown key"),
        ("[strategy]\nlevels = 'x'\n", "strategy.levels"),
    ],
)
def test_config_check_errors_exit_3_without_traceback(tmp_path: Path, env: dict[str, str], content: str,
                                                      needle: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(content)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = mmctl(["config", "check", str(f)], env)
    assert r.returncode == 3
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_config_check_ok(tmp_path: Path, env: dict[str, str]) -> None:
    f = tmp_path / "ok.toml"
    f.write_text("[strategy]\nlevels = 3\n")
    r = mmctl(["--json", "config", "check", str(f)], env)
    assert r.returncode == 0 and json_io.loads(r.stdout)["ok"] is True


def test_missing_secret_for_real_venue_exit_3(env: dict[str, str]) -> None:
    r = mmctl(["--set", "venue='testnet'", "config", "show"], env)
    assert r.returncode == 3
    assert "BYBIT_API_KEY_FILE" in r.stderr and "Traceback" not in r.stderr


def test_unreadable_secret_file_exit_3(tmp_path: Path, env: dict[str, str]) -> None:
    r = mmctl(["config", "show"], {**env, "MM_ADMIN_TOKEN_FILE": str(tmp_path / "missing")})
    assert r.returncode == 3 and "MM_ADMIN_TOKEN_FILE" in r.stderr


def test_usage_error_exit_2(env: dict[str, str]) -> None:
    assert mmctl(["config", "nosuch"], env).returncode == 2
    assert mmctl(["--log-format", "xml", "config", "show"], env).returncode == 2


def test_config_diff_marks_live_and_restart(tmp_path: Path, env: dict[str, str]) -> None:
    a = tmp_path / "a.toml"
    b = tmp_path / "b.toml"
    a.write_text("[strategy]\nlevels = 2\n")
    b.write_text("symbols = ['BTCUSDT']\n[strategy]\nlevels = 3\n")
    r = mmctl(["--json", "config", "diff", str(a), str(b)], env)
    assert r.returncode == 0, r.stderr
    doc = json_io.loads(r.stdout)
    assert doc["runtime_safe"] == ["strategy.levels"] and doc["restart_required"] == ["symbols"]


def test_secrets_provision_from_stdin_writes_0600(tmp_path: Path, env: dict[str, str]) -> None:
    d = tmp_path / "secrets"
    r = mmctl(["secrets", "provision", "BYBIT_API_KEY", "--dir", str(d)], env, stdin="CANARY-prov-key-1\n")
    assert r.returncode == 0, r.stderr
    f = d / "bybit_api_key"
    assert f.read_text() == "CANARY-prov-key-1"
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert "CANARY-prov-key-1" not in r.stdout + r.stderr
    # and the loader finds it through secrets_dir
    r = mmctl(["--json", "--set", f"secrets_dir='{d}'", "secrets", "check"], env)
    states = {s["name"]: s["state"] for s in json_io.loads(r.stdout)["secrets"]}
    assert states["BYBIT_API_KEY"] == "present"


def test_secrets_provision_rejects_unknown_name_and_empty(tmp_path: Path, env: dict[str, str]) -> None:
    assert mmctl(["secrets", "provision", "NOPE", "--dir", str(tmp_path)], env, stdin="x").returncode == 2
    r = mmctl(["secrets", "provision", "BYBIT_API_KEY", "--dir", str(tmp_path / "s")], env, stdin="\n")
    assert r.returncode == 2 and not (tmp_path / "s" / "bybit_api_key").exists()


def test_secrets_check_findings_exit_6_for_real_venue(env: dict[str, str]) -> None:
    r = mmctl(["--json", "--set", "venue='testnet'", "secrets", "check"], env)
    assert r.returncode == 6
    doc = json_io.loads(r.stdout)
    assert not doc["ok"]
