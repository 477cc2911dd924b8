from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import AppConfig, cfg_hash_sanitized, diff_runtime_safe, load_config
from bot.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "bot.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_defaults_load_without_file(clean_env: dict[str, str]) -> None:
    cfg = load_config(env=clean_env)
    assert isinstance(cfg, AppConfig)
    assert cfg.venue == "sim"


def test_precedence_defaults_file_env_set(tmp_path: Path, clean_env: dict[str, str]) -> None:
    f = write(tmp_path, "[risk]\nmax_open_orders = 11\nmax_order_notional = 400\n[strategy]\nlevels = 3\n")
    cfg = load_config(f, env=clean_env)
    assert (cfg.risk.max_open_orders, cfg.strategy.levels) == (11, 3)
    env = {**clean_env, "MM_RISK__MAX_OPEN_ORDERS": "12"}
    cfg = load_config(f, env=env)
    assert cfg.risk.max_open_orders == 12
    assert cfg.risk.max_order_notional == Decimal("400")  # file value survives an unrelated env key
    cfg = load_config(f, env=env, overrides=["risk.max_open_orders=13"])
    assert cfg.risk.max_open_orders == 13
    assert cfg.strategy.levels == 3


def test_money_from_toml_is_exact_decimal(tmp_path: Path, clean_env: dict[str, str]) -> None:
    cfg = load_config(write(tmp_path, "[strategy]\norder_notional = 100.10\n"), env=clean_env)
    assert cfg.strategy.order_notional == Decimal("100.10")
    assert isinstance(cfg.strategy.order_notional, Decimal)


def test_unknown_key_is_rejected_with_its_path(tmp_path: Path, clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, "[risk]\nmax_open_ordrs = 5\n"), env=clean_env)
    assert ("risk.max_open_ordrs", f"unknown key (from file {tmp_path / 'bot.toml'})") in exc.value.problems


def test_unknown_env_key_names_the_variable(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env={**clean_env, "MM_STRATEGY__LEVLES": "2"})
    [(path, msg)] = exc.value.problems
    assert path == "strategy.levles" and "MM_STRATEGY__LEVLES" in msg


def test_wrong_type_reports_path(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env=clean_env, overrides=["strategy.levels=many"])
    assert exc.value.problems[0][0] == "strategy.levels"


def test_malformed_toml_is_a_config_error(tmp_path: Path, clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(write(tmp_path, "[risk\nx = 1\n"), env=clean_env)


def test_missing_file_is_a_config_error(tmp_path: Path, clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env=clean_env)


def test_config_is_frozen(clean_env: dict[str, str]) -> None:
    cfg = load_config(env=clean_env)
    with pytest.raises(Exception):
        cfg.risk.max_open_orders = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        (["strategy.order_notional=600"], "strategy.order_notional"),  # above max_order_notional 500
        (["strategy.levels=11"], "strategy.levels"),  # 22 orders > max_open_orders 20
        (["rollout.max_drawdown=1000"], "rollout.max_drawdown"),
        (["strategy.order_notional=300", "risk.max_position_notional=300"], "strategy.order_notional"),
        (["strategy.obligations.min_quote_notional=600"], "strategy.obligations.min_quote_notional"),
    ],
)
def test_invariants_are_checked(overrides: list[str], path: str, clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env=clean_env, overrides=overrides)
    assert path in [p for p, _ in exc.value.problems]


def test_spread_floor_must_be_positive(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(env=clean_env, overrides=["strategy.min_half_spread_ticks=0"])
    assert exc.value.problems[0][0] == "strategy.min_half_spread_ticks"


def test_diff_runtime_safe_splits_live_and_restart(clean_env: dict[str, str]) -> None:
    old = load_config(env=clean_env)
    new = load_config(env=clean_env, overrides=[
        "strategy.levels=3", "risk.max_open_orders=30", "exchange.recv_window_ms=7000", "symbols=['BTCUSDT']",
    ])
    d = diff_runtime_safe(old, new)
    assert set(d.safe) == {"strategy.levels", "risk.max_open_orders"}
    assert set(d.unsafe) == {"exchange.recv_window_ms", "symbols"}
    assert diff_runtime_safe(old, old).changed == ()


def test_hash_is_stable_and_ignores_secrets(tmp_path: Path, clean_env: dict[str, str]) -> None:
    a = load_config(env=clean_env)
    b = load_config(env={**clean_env, "BYBIT_API_KEY": "k-canary-1234567", "BYBIT_API_SECRET": "s-canary-7654321"})
    assert cfg_hash_sanitized(a) == cfg_hash_sanitized(b)
    c = load_config(env=clean_env, overrides=["strategy.levels=3"])
    assert cfg_hash_sanitized(a) != cfg_hash_sanitized(c)
    # key order in the file does not matter
    f1 = write(tmp_path, "[risk]\nmax_open_orders = 11\nmax_order_notional = 400\n", "a.toml")
    f2 = write(tmp_path, "[risk]\nmax_order_notional = 400\nmax_open_orders = 11\n", "b.toml")
    assert cfg_hash_sanitized(load_config(f1, env=clean_env)) == cfg_hash_sanitized(load_config(f2, env=clean_env))
    assert len(cfg_hash_sanitized(a)) == 64


def test_real_venue_urls_come_from_the_venue(clean_env: dict[str, str]) -> None:
    env = {**clean_env, "BYBIT_API_KEY": "abcdefgh12345678", "BYBIT_API_SECRET": "secretsecret123456"}
    cfg = load_config(env=env, overrides=["venue='testnet'"])
    assert cfg.urls()[0] == "https://api-testnet.bybit.com"
    cfg = load_config(env=env, overrides=["venue='testnet'", "exchange.rest_url='http://127.0.0.1:9'"])
    assert cfg.urls()[0] == "http://127.0.0.1:9"
