from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.config import Secret, check_secrets, load_config
from bot.config.secrets import read_secret
from bot.errors import ConfigError


def secret_file(tmp_path: Path, name: str, value: str, mode: int = 0o600) -> Path:
    p = tmp_path / name
    p.write_text(value + "\n")
    os.chmod(p, mode)
    return p


def test_file_wins_and_trailing_newline_is_stripped(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = secret_file(tmp_path, "bybit_api_key", "file-key-123456")
    s = read_secret("BYBIT_API_KEY", {**clean_env, "BYBIT_API_KEY_FILE": str(f)})
    assert s is not None and s.reveal() == "file-key-123456" and s.source == f"file:{f}"


def test_plain_env_is_the_dev_fallback(clean_env: dict[str, str]) -> None:
    s = read_secret("BYBIT_API_KEY", {**clean_env, "BYBIT_API_KEY": "env-key-123456"})
    assert s is not None and s.reveal() == "env-key-123456"


def test_same_value_in_both_is_accepted(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = secret_file(tmp_path, "k", "same-value-1234")
    s = read_secret("BYBIT_API_KEY", {**clean_env, "BYBIT_API_KEY_FILE": str(f), "BYBIT_API_KEY": "same-value-1234"})
    assert s is not None and s.reveal() == "same-value-1234"


def test_conflicting_values_are_an_error(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = secret_file(tmp_path, "k", "from-file-1234")
    with pytest.raises(ConfigError, match="both BYBIT_API_KEY_FILE and BYBIT_API_KEY") as exc:
        read_secret("BYBIT_API_KEY", {**clean_env, "BYBIT_API_KEY_FILE": str(f), "BYBIT_API_KEY": "from-env-1234"})
    assert "from-file-1234" not in str(exc.value) and "from-env-1234" not in str(exc.value)


def test_unreadable_file_names_variable_and_path(tmp_path: Path, clean_env: dict[str, str]) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(ConfigError, match="BYBIT_API_SECRET_FILE") as exc:
        read_secret("BYBIT_API_SECRET", {**clean_env, "BYBIT_API_SECRET_FILE": str(missing)})
    assert str(missing) in str(exc.value)


def test_empty_file_is_an_error(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = tmp_path / "empty"
    f.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_secret("MM_ADMIN_TOKEN", {**clean_env, "MM_ADMIN_TOKEN_FILE": str(f)})


def test_missing_required_keys_name_both_ways(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env=clean_env, overrides=["venue='testnet'"])
    text = " ".join(m for _, m in exc.value.problems)
    assert {p for p, _ in exc.value.problems} == {"BYBIT_API_KEY", "BYBIT_API_SECRET"}
    assert "BYBIT_API_KEY_FILE" in text and "in the environment" in text


def test_sim_venue_needs_no_keys(clean_env: dict[str, str]) -> None:
    assert load_config(env=clean_env).secrets.bybit_api_key is None


def test_group_readable_file_warns(tmp_path: Path, clean_env: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    f = secret_file(tmp_path, "k", "loose-perm-1234", mode=0o644)
    with caplog.at_level(logging.WARNING):
        read_secret("BYBIT_API_KEY", {**clean_env, "BYBIT_API_KEY_FILE": str(f)})
    assert any(r.getMessage() == "secret_file_permissions_unsafe" for r in caplog.records)
    statuses = check_secrets({**clean_env, "BYBIT_API_KEY_FILE": str(f)}, None)
    [status] = [s for s in statuses if s.name == "BYBIT_API_KEY"]
    assert status.state == "unsafe_permissions"


def test_secrets_dir_fallback(tmp_path: Path, clean_env: dict[str, str]) -> None:
    secret_file(tmp_path, "mm_admin_token", "dir-token-123456")
    s = read_secret("MM_ADMIN_TOKEN", clean_env, str(tmp_path))
    assert s is not None and s.reveal() == "dir-token-123456"


def test_secret_never_renders(clean_env: dict[str, str]) -> None:
    s = Secret("canary-value-XYZ-12345")
    rendered = [repr(s), str(s), f"{s}", f"{s!r}", "%s" % (s,)]
    assert all("canary" not in r for r in rendered)
    cfg = load_config(env={**clean_env, "BYBIT_API_SECRET": "canary-value-XYZ-12345"})
    assert "canary" not in repr(cfg) and "canary" not in str(cfg.model_dump())


def test_check_reports_states_without_values(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = secret_file(tmp_path, "k", "present-value-123")
    statuses = {s.name: s for s in check_secrets({**clean_env, "BYBIT_API_KEY_FILE": str(f)}, None)}
    assert statuses["BYBIT_API_KEY"].state == "present"
    assert statuses["BYBIT_API_SECRET"].state == "missing"
    assert "present-value-123" not in repr(statuses)
