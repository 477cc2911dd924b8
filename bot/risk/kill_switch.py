"""The kill switch: once engaged it stays engaged until an operator resets it."""

from __future__ import annotations

from typing import Any

from bot.risk.reasons import Reason

__all__ = ["KillSwitch"]


class KillSwitch:
    """Latched stop: `engage` is idempotent (the first reason wins); only `reset` clears it."""

    __slots__ = ("detail", "engaged_at_ns", "reason", "reset_by")

    def __init__(self) -> None:
        self.reason: Reason | None = None
        self.detail = ""
        self.engaged_at_ns: int | None = None
        self.reset_by: str | None = None

    @property
    def engaged(self) -> bool:
        return self.reason is not None

    def engage(self, reason: Reason, *, now_ns: int, detail: str = "") -> bool:
        """Engage; returns True when this call flipped it (for a single log/alert)."""
        if self.reason is not None:
            return False
        self.reason, self.detail, self.engaged_at_ns = reason, detail, now_ns
        return True

    def reset(self, *, operator: str) -> bool:
        """Operator reset; returns True when it was engaged."""
        was = self.reason is not None
        self.reason, self.detail, self.engaged_at_ns = None, "", None
        self.reset_by = operator if was else self.reset_by
        return was

    def snapshot(self) -> dict[str, Any]:
        return {"reason": self.reason.value if self.reason else None, "detail": self.detail,
                "engaged_at_ns": self.engaged_at_ns, "reset_by": self.reset_by}

    def restore(self, data: dict[str, Any]) -> None:
        r = data.get("reason")
        self.reason = Reason(r) if r else None
        self.detail = str(data.get("detail", ""))
        self.engaged_at_ns = data.get("engaged_at_ns")
        self.reset_by = data.get("reset_by")
