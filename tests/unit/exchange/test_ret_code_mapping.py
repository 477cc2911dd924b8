"""retCode and HTTP status map to typed errors; order-state-unknown codes on writes reconcile."""

from __future__ import annotations

import pytest

from bot.errors import AuthError, ExchangeRejected, ExchangeUnavailable, OrderStateUnknown
from bot.exchange.bybit.errors import error_for_http_status, error_for_ret_code


@pytest.mark.parametrize("code", [10003, 10004, 10005, 10007, 10010])
def test_auth_codes_are_fatal_auth_errors(code: int) -> None:
    assert type(error_for_ret_code(code, "x", write=False)) is AuthError
    assert type(error_for_ret_code(code, "x", write=True)) is AuthError


@pytest.mark.parametrize("code", [10000, 10006, 10016, 429, 10429, 20003])
def test_overload_codes_on_writes_are_order_state_unknown(code: int) -> None:
    err = error_for_ret_code(code, "busy", write=True, endpoint="create", order_link_id="mm-1")
    assert type(err) is OrderStateUnknown
    assert err.ret_code == code and err.context["order_link_id"] == "mm-1"


@pytest.mark.parametrize("code", [10000, 10006, 10016, 10002])
def test_overload_codes_on_reads_are_unavailable(code: int) -> None:
    assert type(error_for_ret_code(code, "busy", write=False)) is ExchangeUnavailable


@pytest.mark.parametrize("code", [10001, 110001, 110003, 110007, 110072, 110094, 170213, 999999])
def test_business_refusals_are_rejected(code: int) -> None:
    assert type(error_for_ret_code(code, "no", write=True)) is ExchangeRejected


@pytest.mark.parametrize(("status", "write", "cls"), [
    (401, False, AuthError), (403, True, ExchangeUnavailable), (403, False, ExchangeUnavailable),
    (500, True, OrderStateUnknown), (502, False, ExchangeUnavailable), (429, True, OrderStateUnknown),
    (404, False, ExchangeRejected), (400, True, ExchangeRejected),
])
def test_http_status_mapping(status: int, write: bool, cls: type) -> None:
    assert type(error_for_http_status(status, write=write, endpoint="e")) is cls
