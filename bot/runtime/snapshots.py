"""State snapshots (allocator, throttle, rollout): atomic JSON files with an envelope, validated on load."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from bot.common import json_io
from bot.observability.logging import get_logger

__all__ = ["SNAPSHOT_KINDS", "SnapshotStore", "Snapshottable"]

log = get_logger(__name__)

SNAPSHOT_KINDS = ("allocator", "throttle", "rollout")
_VERSION = 1


class Snapshottable(Protocol):
    def snapshot(self) -> Mapping[str, Any]: ...

    def restore(self, data: Mapping[str, Any]) -> None: ...


class SnapshotStore:
    """`state_dir/snapshots/<kind>.json` = {"kind", "version", "saved_at", "config_hash", "data"}."""

    def __init__(self, state_dir: str | Path, *, on_failure: Any = None) -> None:
        self.dir = Path(state_dir) / "snapshots"
        self._on_failure = on_failure

    def path(self, kind: str) -> Path:
        return self.dir / f"{kind}.json"

    def save(self, kind: str, data: Mapping[str, Any], *, config_hash: str = "") -> bool:
        """Write one snapshot atomically; False (logged, counted) on failure, never raises."""
        try:
            json_io.save_file(self.path(kind), {"kind": kind, "version": _VERSION, "saved_at": time.time(),
                                                "config_hash": config_hash, "data": dict(data)})
        except (OSError, TypeError, ValueError) as exc:
            log.error("snapshot_save_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")
            if self._on_failure is not None:
                self._on_failure(kind)
            return False
        return True

    def load(self, kind: str) -> dict[str, Any] | None:
        """The data of a valid snapshot, or None when absent or invalid (an invalid one is logged)."""
        path = self.path(kind)
        if not path.exists():
            return None
        try:
            doc = json_io.load_file(path)
        except (OSError, ValueError) as exc:
            log.warning("snapshot_unreadable", kind=kind, path=str(path), error=str(exc))
            return None
        problem = validate(doc, kind)
        if problem:
            log.warning("snapshot_invalid", kind=kind, path=str(path), problem=problem)
            return None
        data: dict[str, Any] = doc["data"]
        return data

    def save_all(self, items: Mapping[str, Snapshottable], *, config_hash: str = "") -> dict[str, bool]:
        out: dict[str, bool] = {}
        for kind, obj in items.items():
            try:
                data = obj.snapshot()
            except Exception as exc:  # one broken component must not stop the others being saved
                log.error("snapshot_build_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")
                if self._on_failure is not None:
                    self._on_failure(kind)
                out[kind] = False
                continue
            out[kind] = self.save(kind, data, config_hash=config_hash)
        return out

    def restore_all(self, items: Mapping[str, Snapshottable]) -> dict[str, bool]:
        """Restore each component from its snapshot; True where one was applied."""
        out: dict[str, bool] = {}
        for kind, obj in items.items():
            data = self.load(kind)
            if data is None:
                out[kind] = False
                continue
            try:
                obj.restore(data)
            except Exception as exc:  # a snapshot from an older schema: start fresh, say so
                log.warning("snapshot_restore_failed", kind=kind, error=f"{type(exc).__name__}: {exc}")
                out[kind] = False
                continue
            out[kind] = True
        return out


def validate(doc: Any, kind: str) -> str:
    """Empty when `doc` is a well-formed snapshot envelope of `kind`, else the problem."""
    if not isinstance(doc, dict):
        return "not an object"
    if doc.get("kind") != kind:
        return f"kind is {doc.get('kind')!r}"
    if doc.get("version") != _VERSION:
        return f"version {doc.get('version')!r} unsupported"
    if not isinstance(doc.get("data"), dict):
        return "data is not an object"
    if not isinstance(doc.get("saved_at"), (int, float)):
        return "saved_at missing"
    return ""
