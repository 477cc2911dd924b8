"""Redaction of secret values and secret shapes in any text that reaches a log handler (SEC-003)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["MASK", "SENSITIVE_KEY", "Redactor"]

MASK = "***"
_WINDOW = 8  # a leaked piece this long of a known secret is redacted (websockets truncates frames)

SENSITIVE_KEY = re.compile(r"(secret|signature|sign|api[_-]?key|token|password|passphrase|authorization)", re.I)

_SHAPES = [
    # X-BAPI-SIGN / X-BAPI-API-KEY headers in any rendering: dict repr, JSON, HTTP dump
    re.compile(r"(?i)(x-bapi-(?:sign|api-key)['\"]?\s*[:=,]\s*\(?['\"]?)([^'\"\s,)}]+)"),
    # sign=..., signature=..., api_key=... query parameters and key=value pairs
    re.compile(r"(?i)\b((?:sign|signature|api_?key|api_?secret|secret|token)=)([^&\s'\"]+)"),
    # JSON/dict fields whose key names a secret
    re.compile(r"(?i)(['\"](?:sign|signature|api_?key|api_?secret|secret|token|password)['\"]\s*:\s*['\"])"
               r"([^'\"]+)"),
    re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # the WS auth frame: {"op": "auth", "args": [key, expires, signature]}
    re.compile(r"(?i)(['\"]op['\"]\s*:\s*['\"]auth['\"].*?['\"]args['\"]\s*:\s*)(\[[^\]]*\])"),
    re.compile(r"(?i)(['\"]args['\"]\s*:\s*)(\[[^\]]*\])(?=.*['\"]op['\"]\s*:\s*['\"]auth['\"])"),
]


class Redactor:
    """Masks the literal loaded secrets (and any 8+ character piece of them) and secret shapes."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._windows: dict[str, list[tuple[int, int]]] = {}
        self._window_re: re.Pattern[str] | None = None
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        windows: dict[str, list[tuple[int, int]]] = {}
        for idx, s in enumerate(self._secrets):
            if len(s) < _WINDOW:
                continue
            for off in range(len(s) - _WINDOW + 1):
                windows.setdefault(s[off: off + _WINDOW], []).append((idx, off))
        self._windows = windows
        self._window_re = re.compile("|".join(re.escape(w) for w in windows)) if windows else None

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self.set_secrets([*self._secrets, *secrets])

    def text(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, MASK)
        if self._window_re is not None:
            text = self._mask_windows(text)
        for pattern in _SHAPES:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text

    def _mask_windows(self, text: str) -> str:
        assert self._window_re is not None
        out: list[str] = []
        pos = 0
        for m in self._window_re.finditer(text):
            if m.start() < pos:
                continue
            end = m.end()
            for idx, off in self._windows[m.group()]:
                s = self._secrets[idx]
                j = end
                k = off + _WINDOW
                while j < len(text) and k < len(s) and text[j] == s[k]:
                    j += 1
                    k += 1
                end = max(end, j)
            out.append(text[pos: m.start()])
            out.append(MASK)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def value(self, key: str, value: Any) -> Any:
        """Redact one structured field: by its key name, then by content."""
        if SENSITIVE_KEY.search(key) and value not in (None, "", False):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        if isinstance(value, dict):
            return {str(k): self.value(str(k), v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(key, v) for v in value]
        return self.text(repr(value) if not isinstance(value, str) else value)
