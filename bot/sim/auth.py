"""Bybit V5 request authentication as the venue checks it: raw bytes, lopsided window, codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.exchange.bybit.signing import sign_rest, sign_ws_auth, verify
from bot.sim.accounts import AccountState

__all__ = ["AuthFailure", "check_rest", "check_timestamp", "check_ws_auth"]


@dataclass(frozen=True, slots=True)
class AuthFailure(Exception):
    code: int
    msg: str


def check_timestamp(ts_raw: object, recv_window_raw: object, now_ms: int, *, future_ms: int = 1000,
                    default_window: int = 5000) -> None:
    """server_time - recv_window <= timestamp < server_time + 1000, else 10002 with Bybit's text.

    Raises:
        AuthFailure: 10002 outside the window, 10001 when unparseable.
    """
    try:
        ts = int(str(ts_raw))
        window = int(str(recv_window_raw)) if recv_window_raw not in (None, "") else default_window
    except ValueError as exc:
        raise AuthFailure(10001, "params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW invalid") from exc
    if not (now_ms - window <= ts < now_ms + future_ms):
        raise AuthFailure(
            10002,
            "invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{now_ms}],recv_window[{window}]",
        )


def check_rest(headers: Mapping[str, str], payload: bytes, now_ms: int, accounts: Mapping[str, AccountState],
               *, future_ms: int = 1000, default_window: int = 5000) -> AccountState:
    """Verify the four X-BAPI headers over the raw query string (GET) or raw body (POST).

    Raises:
        AuthFailure: 10001 missing headers, 10003 unknown key, 10002 timestamp, 10004 signature.
    """
    key = headers.get("X-BAPI-API-KEY", "")
    ts = headers.get("X-BAPI-TIMESTAMP", "")
    sign = headers.get("X-BAPI-SIGN", "")
    recv = headers.get("X-BAPI-RECV-WINDOW")
    if not key or not ts or not sign:
        raise AuthFailure(
            10001, f"empty value: apiTimestamp[{ts}] apiKey[{key}] apiSignature[{sign}]: openapi sign params error!"
        )
    acct = accounts.get(key)
    if acct is None:
        raise AuthFailure(10003, "API key is invalid.")
    check_timestamp(ts, recv, now_ms, future_ms=future_ms, default_window=default_window)
    # An omitted recv-window header: the client signed with whatever it meant; try the default
    # and the empty string (Bybit's exact rule is unconfirmed; every client reviewed sends it).
    candidates = [recv] if recv is not None else [str(default_window), ""]
    for rw in candidates:
        if verify(sign_rest(acct.cfg.api_secret, ts, key, rw, payload), sign):
            return acct
    origin = (ts + key + (recv if recv is not None else str(default_window))).encode() + payload
    raise AuthFailure(
        10004,
        "Error sign, please check your signature generation algorithm: origin_string["
        + origin.decode("utf-8", "replace") + "]",
    )


def check_ws_auth(args: object, now_ms: int, accounts: Mapping[str, AccountState]) -> AccountState:
    """The `auth` op: args = [apiKey, expires (int or str, ms), signature of "GET/realtime" + expires].

    Raises:
        AuthFailure: 10001 malformed args or expires in the past, 10003 unknown key, 10004 bad signature.
    """
    if not isinstance(args, list) or len(args) != 3:
        raise AuthFailure(10001, "Params Error")
    key, expires, sign = args
    if isinstance(expires, bool) or not isinstance(expires, (int, str)) or not isinstance(key, str) \
            or not isinstance(sign, str):
        raise AuthFailure(10001, "Params Error")
    try:
        exp = int(expires)
    except ValueError as exc:
        raise AuthFailure(10001, "Params Error") from exc
    if exp <= now_ms:
        raise AuthFailure(10001, "Params Error")
    acct = accounts.get(key)
    if acct is None:
        raise AuthFailure(10003, "API key is invalid.")
    if not verify(sign_ws_auth(acct.cfg.api_secret, expires), sign):
        raise AuthFailure(10004, "Invalid sign")
    return acct
