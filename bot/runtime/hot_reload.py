"""Hot reload: re-read the config through the one loader, keep the runtime-safe changes, name the rest."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot.config import AppConfig, cfg_hash_sanitized, diff_runtime_safe, load_config, validate_invariants
from bot.errors import ConfigError

__all__ = ["ReloadResult", "merge_safe", "plan_reload"]


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    applied: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    message: str = ""
    config_hash: str = ""
    problems: tuple[tuple[str, str], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "applied": list(self.applied), "refused": list(self.refused),
                "message": self.message, "config_hash": self.config_hash,
                "problems": [{"path": p, "problem": m} for p, m in self.problems]}


def _set_leaf(model: BaseModel, keys: list[str], value: Any) -> BaseModel:
    if len(keys) == 1:
        return model.model_copy(update={keys[0]: value})
    child = getattr(model, keys[0])
    return model.model_copy(update={keys[0]: _set_leaf(child, keys[1:], value)})


def _get_leaf(model: Any, keys: list[str]) -> Any:
    for k in keys:
        model = getattr(model, k)
    return model


def merge_safe(old: AppConfig, new: AppConfig, paths: Iterable[str]) -> AppConfig:
    """`old` with only the given leaf paths taken from `new` (secrets always stay `old`'s)."""
    merged: BaseModel = old
    for path in paths:
        keys = path.split(".")
        merged = _set_leaf(merged, keys, _get_leaf(new, keys))
    assert isinstance(merged, AppConfig)
    return merged


def plan_reload(current: AppConfig, config_path: str | Path | None, overrides: Iterable[str] = (),
                env: Mapping[str, str] | None = None) -> tuple[AppConfig | None, ReloadResult]:
    """Load the candidate config and decide: (config to apply or None, result for the operator)."""
    try:
        candidate = load_config(config_path, env=os.environ if env is None else env, overrides=tuple(overrides),
                                require_secrets=current.venue != "sim")
    except ConfigError as exc:
        return None, ReloadResult(False, message=f"reload refused: {exc.message}",
                                  config_hash=cfg_hash_sanitized(current), problems=tuple(exc.problems))
    diff = diff_runtime_safe(current, candidate)
    if not diff.changed:
        return None, ReloadResult(True, message="no changes", config_hash=cfg_hash_sanitized(current))
    merged = merge_safe(current, candidate, diff.safe)
    problems = validate_invariants(merged)
    if problems:
        return None, ReloadResult(False, refused=diff.changed,
                                  message="reload refused: the safe changes alone are inconsistent",
                                  config_hash=cfg_hash_sanitized(current), problems=tuple(problems))
    parts = []
    if diff.safe:
        parts.append(f"applied {', '.join(diff.safe)}")
    if diff.unsafe:
        parts.append(f"refused (restart required): {', '.join(diff.unsafe)}")
    return (merged if diff.safe else None), ReloadResult(
        ok=not diff.unsafe, applied=diff.safe, refused=diff.unsafe, message="; ".join(parts),
        config_hash=cfg_hash_sanitized(merged))
