"""Bybit V5 request signing (REST and WS auth); pure, no clock or I/O."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["rest_sign_payload", "sign_rest", "sign_ws_auth", "verify"]

DEFAULT_RECV_WINDOW_MS = 5000


def rest_sign_payload(timestamp_ms: int | str, api_key: str, recv_window_ms: int | str, payload: str | bytes) -> bytes:
    """timestamp + apiKey + recvWindow + (raw query string | raw JSON body), as bytes."""
    head = f"{timestamp_ms}{api_key}{recv_window_ms}".encode()
    return head + (payload if isinstance(payload, bytes) else payload.encode())


def sign_rest(
    secret: str, timestamp_ms: int | str, api_key: str, recv_window_ms: int | str, payload: str | bytes
) -> str:
    """X-BAPI-SIGN for HMAC keys: lowercase hex HMAC-SHA256."""
    msg = rest_sign_payload(timestamp_ms, api_key, recv_window_ms, payload)
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign_ws_auth(secret: str, expires_ms: int | str) -> str:
    """Signature for the WS `auth` op: HMAC-SHA256 of "GET/realtime" + expires."""
    return hmac.new(secret.encode(), f"GET/realtime{expires_ms}".encode(), hashlib.sha256).hexdigest()


def verify(expected_hex: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected_hex.encode(), given.encode())
