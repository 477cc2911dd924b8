"""Secrets (SEC-001): NAME_FILE (Docker/Swarm secrets) wins, plain NAME is the dev fallback."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.errors import ConfigError

__all__ = [
    "SECRET_NAMES",
    "Secret",
    "SecretStatus",
    "Secrets",
    "check_secrets",
    "load_secrets",
    "read_secret",
]

log = logging.getLogger(__name__)

SECRET_NAMES = ("BYBIT_API_KEY", "BYBIT_API_SECRET", "MM_ADMIN_TOKEN")


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value that never reaches a repr, str, format or log line."""

    _value: str = field(repr=False)
    source: str = ""

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Secret values are not picklable")


@dataclass(frozen=True, slots=True)
class Secrets:
    bybit_api_key: Secret | None = None
    bybit_api_secret: Secret | None = None
    admin_token: Secret | None = None

    def values(self) -> list[str]:
        """Every loaded secret value, for the log redactor."""
        return [s.reveal() for s in (self.bybit_api_key, self.bybit_api_secret, self.admin_token) if s]


@dataclass(frozen=True, slots=True)
class SecretStatus:
    name: str
    state: Literal["present", "missing", "unsafe_permissions", "conflict", "unreadable"]
    source: str
    detail: str = ""


def _read_file(var: str, path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read secret file for {var}: {path} ({exc.strerror or exc.__class__.__name__})",
            problems=[(var, f"unreadable file {path}")],
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"secret file for {var} is not UTF-8: {path}", problems=[(var, "not UTF-8")]) from None
    # Docker's own images strip trailing newlines; `echo x > file` adds one.
    value = text.rstrip("\r\n")
    if not value.strip():
        raise ConfigError(f"secret file for {var} is empty: {path}", problems=[(var, f"empty file {path}")])
    return value


def _unsafe_mode(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def read_secret(name: str, env: Mapping[str, str], secrets_dir: str | None = None) -> Secret | None:
    """Resolve one secret: NAME_FILE, else NAME, else <secrets_dir>/<name lowercase>; None if absent.

    Raises:
        ConfigError: both NAME_FILE and NAME set to different values, or the file is unreadable/empty.
    """
    file_var = f"{name}_FILE"
    file_path = env.get(file_var, "").strip()
    plain = env.get(name)
    if file_path:
        path = Path(file_path)
        value = _read_file(file_var, path)
        if _unsafe_mode(path):
            log.warning("secret_file_permissions_unsafe", extra={"secret": name, "path": str(path)})
        if plain is not None and plain != "" and plain != value:
            raise ConfigError(
                f"both {file_var} and {name} are set, with different values; unset one of them",
                problems=[(name, f"conflicts with {file_var}")],
            )
        return Secret(value, source=f"file:{path}")
    if plain:
        return Secret(plain, source=f"env:{name}")
    if secrets_dir:
        path = Path(secrets_dir) / name.lower()
        if path.is_file():
            if _unsafe_mode(path):
                log.warning("secret_file_permissions_unsafe", extra={"secret": name, "path": str(path)})
            return Secret(_read_file(str(path), path), source=f"file:{path}")
    return None


def _missing(name: str, why: str) -> tuple[str, str]:
    return (name, f"required ({why}): set {name}_FILE to a secrets file (e.g. /run/secrets/{name.lower()}) "
                  f"or {name} in the environment")


def load_secrets(env: Mapping[str, str], *, require_keys: bool, secrets_dir: str | None, why: str = "") -> Secrets:
    """Load every secret; `require_keys` makes missing Bybit keys an error naming both ways to set them."""
    secrets = Secrets(
        bybit_api_key=read_secret("BYBIT_API_KEY", env, secrets_dir),
        bybit_api_secret=read_secret("BYBIT_API_SECRET", env, secrets_dir),
        admin_token=read_secret("MM_ADMIN_TOKEN", env, secrets_dir),
    )
    if require_keys:
        problems = [
            _missing(name, why)
            for name, value in (("BYBIT_API_KEY", secrets.bybit_api_key),
                                ("BYBIT_API_SECRET", secrets.bybit_api_secret))
            if value is None
        ]
        if problems:
            names = " and ".join(p[0] for p in problems)
            raise ConfigError(f"missing secret {names}", problems=problems)
    return secrets


def check_secrets(env: Mapping[str, str], secrets_dir: str | None) -> list[SecretStatus]:
    """Report each secret as present / missing / unsafe / conflict / unreadable, never its value."""
    out: list[SecretStatus] = []
    for name in SECRET_NAMES:
        try:
            secret = read_secret(name, env, secrets_dir)
        except ConfigError as exc:
            state: Literal["conflict", "unreadable"] = "conflict" if "both" in exc.message else "unreadable"
            out.append(SecretStatus(name, state, "", exc.message))
            continue
        if secret is None:
            out.append(SecretStatus(name, "missing", "", f"set {name}_FILE or {name}"))
            continue
        source = secret.source
        if source.startswith("file:") and _unsafe_mode(Path(source[5:])):
            out.append(SecretStatus(name, "unsafe_permissions", source, "readable by group/others; chmod 600"))
        else:
            out.append(SecretStatus(name, "present", source))
    return out


def secrets_env_names() -> frozenset[str]:
    return frozenset(SECRET_NAMES) | frozenset(f"{n}_FILE" for n in SECRET_NAMES)


def default_env() -> Mapping[str, str]:
    return os.environ
