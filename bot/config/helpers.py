"""Config hash (stable, secret-free) and the build's git sha."""

from __future__ import annotations

import hashlib
import shutil
import subprocess  # nosec B404: fixed argv, no shell
from functools import lru_cache
from pathlib import Path

from bot.common import json_io
from bot.config.base import AppConfig

__all__ = ["cfg_hash_sanitized", "git_sha", "sanitized_dict"]


def sanitized_dict(cfg: AppConfig) -> dict[str, object]:
    """The config as plain data, secrets excluded (they are never part of the model dump)."""
    return cfg.model_dump(mode="json", exclude={"secrets"})


def cfg_hash_sanitized(cfg: AppConfig) -> str:
    """sha256 of the canonical JSON of the config without secrets: stable across runs and key order."""
    return hashlib.sha256(json_io.dumps(sanitized_dict(cfg), sort_keys=True)).hexdigest()


@lru_cache(maxsize=1)
def git_sha(repo: str | None = None) -> str:
    """The current commit of the source tree, or 'unknown' outside a checkout."""
    root = Path(repo) if repo else Path(__file__).resolve().parents[2]
    git = shutil.which("git")
    if git is None or not (root / ".git").exists():
        return "unknown"
    try:
        out = subprocess.run(  # nosec B603: fixed argv
            [git, "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"
