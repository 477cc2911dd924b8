"""The one config loader: defaults < TOML file < MM_* environment < --set a.b=c."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.base import AppConfig
from bot.config.secrets import load_secrets, secrets_env_names
from bot.config.validation import validate_invariants
from bot.errors import ConfigError

__all__ = ["ENV_PREFIX", "load_config", "parse_value", "read_toml"]

ENV_PREFIX = "MM_"
# MM_* variables that are not config keys.
_NOT_CONFIG = secrets_env_names() | {"MM_CONFIG", "MM_TEST_HOOKS"}


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file with floats as Decimal (money stays exact)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}", problems=[(str(path), "not found")]) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}",
                          problems=[(str(path), "unreadable")]) from None
    try:
        return tomllib.loads(raw.decode("utf-8"), parse_float=Decimal)
    except UnicodeDecodeError:
        raise ConfigError(f"config file is not UTF-8: {path}", problems=[(str(path), "not UTF-8")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML in {path}: {exc}", problems=[(str(path), str(exc))]) from None


def parse_value(text: str) -> Any:
    """A TOML literal when it parses as one (10, true, 0.5 -> Decimal, [..]); otherwise the raw string."""
    try:
        return tomllib.loads(f"v = {text}", parse_float=Decimal)["v"]
    except tomllib.TOMLDecodeError:
        return text


def _set_path(data: dict[str, Any], keys: list[str], value: Any, origin: str, origins: dict[str, str]) -> None:
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{origin}: {'.'.join(keys[: i + 1])} is not a table",
                              problems=[(".".join(keys), f"{origin}: parent is not a table")])
        node = child
    node[keys[-1]] = value
    origins[".".join(keys)] = origin


def _env_layer(env: Mapping[str, str], data: dict[str, Any], origins: dict[str, str]) -> None:
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in _NOT_CONFIG:
            continue
        keys = [k for k in name[len(ENV_PREFIX):].lower().split("__")]
        if not all(keys):
            raise ConfigError(f"malformed config variable {name}", problems=[(name, "empty key segment")])
        _set_path(data, keys, parse_value(env[name]), f"env {name}", origins)


def _override_layer(overrides: Iterable[str], data: dict[str, Any], origins: dict[str, str]) -> None:
    for item in overrides:
        key, sep, value = item.partition("=")
        keys = key.strip().split(".")
        if not sep or not all(k.strip() for k in keys):
            raise ConfigError(f"--set expects key.path=value, got {item!r}", problems=[("--set", item)])
        _set_path(data, [k.strip() for k in keys], parse_value(value.strip()), f"--set {key.strip()}", origins)


def _problems(exc: ValidationError, origins: dict[str, str]) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        origin = origins.get(path)
        out.append((path, f"{msg} (from {origin})" if origin else msg))
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
    require_secrets: bool | None = None,
) -> AppConfig:
    """Build the frozen AppConfig from every layer and load its secrets.

    Raises:
        ConfigError: with every problem as (key path, message); nothing is written anywhere.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if path is not None:
        file_path = Path(path)
        data = read_toml(file_path)
        origins.update({k: f"file {file_path}" for k in _leaf_paths(data)})
    _env_layer(env, data, origins)
    _override_layer(overrides, data, origins)
    try:
        cfg = AppConfig.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc, origins)
        raise ConfigError(f"invalid configuration ({len(problems)} problem(s))", problems=problems) from None
    problems = validate_invariants(cfg)
    if problems:
        raise ConfigError(f"inconsistent configuration ({len(problems)} problem(s))", problems=problems)
    needs_keys = cfg.venue != "sim" if require_secrets is None else require_secrets
    secrets = load_secrets(env, require_keys=needs_keys, secrets_dir=cfg.secrets_dir,
                           why=f"venue {cfg.venue}")
    # Every loaded secret is masked by every log handler from here on (SEC-003).
    from bot.observability.logging import register_secrets

    register_secrets(secrets.values())
    return cfg.model_copy(update={"secrets": secrets})


def _leaf_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        out.extend(_leaf_paths(value, path) if isinstance(value, Mapping) else [path])
    return out
