from __future__ import annotations

import io
import logging

import pytest

from bot.config import load_config
from bot.observability.logging import RedactingFormatter, configure, get_logger
from bot.observability.redact import Redactor

CANARY_KEY = "CANARYkey0123456789"
CANARY_SECRET = "CANARYsecretABCDEFGHIJ0123456789xyz"


@pytest.fixture
def captured(clean_env: dict[str, str]) -> io.StringIO:
    env = {**clean_env, "BYBIT_API_KEY": CANARY_KEY, "BYBIT_API_SECRET": CANARY_SECRET}
    load_config(env=env)  # registers the loaded secrets with the redactor
    buf = io.StringIO()
    configure(fmt="json", level="DEBUG", stream=buf)
    yield buf
    configure(fmt="console", level="WARNING")


def test_canary_never_reaches_output(captured: io.StringIO, clean_env: dict[str, str]) -> None:
    env = {**clean_env, "BYBIT_API_KEY": CANARY_KEY, "BYBIT_API_SECRET": CANARY_SECRET}
    cfg = load_config(env=env)
    log = logging.getLogger("test.canary")
    slog = get_logger("test.canary")
    log.info("config %r", cfg)
    log.info("secrets %s", cfg.secrets)
    log.info("raw arg %s", CANARY_SECRET)
    log.info("extra", extra={"payload": {"secret": CANARY_SECRET, "note": f"k={CANARY_KEY}"}})
    slog.info("struct_event", api_secret=CANARY_SECRET, frame=f'{{"op":"auth","args":["{CANARY_KEY}",1,"ab"]}}')
    slog.warning("truncated_frame", frame=CANARY_SECRET[3:20] + "...")
    try:
        raise RuntimeError(f"signature failed for {CANARY_SECRET}")
    except RuntimeError:
        log.exception("boom")
    out = captured.getvalue()
    assert out.count("\n") >= 7
    assert CANARY_KEY not in out and CANARY_SECRET not in out
    assert CANARY_SECRET[3:20] not in out  # a truncated piece of the secret is masked too
    assert "***" in out


@pytest.mark.parametrize(
    "text",
    [
        "X-BAPI-SIGN: 52a9e979df52647fc3c745552ae6378ec02a10a493bf32481e501ceeebd25ec0",
        "{'X-BAPI-SIGN': '52a9e979df52647fc3c745552ae6378ec02a10a493bf32481e501ceeebd25ec0'}",
        "GET /v5/x?sign=abcdef0123456789&x=1",
        "signature=abcdef0123456789",
        "Authorization: Bearer tok_ABCDEFGH12345678",
        '{"op": "auth", "args": ["somekey", 1700000001000, "6b8cb9853580ac5956"]}',
    ],
)
def test_secret_shapes_are_masked(text: str) -> None:
    out = Redactor().text(text)
    assert "***" in out
    for piece in ("52a9e979df5264", "abcdef0123456789", "tok_ABCDEFGH", "6b8cb98535"):
        assert piece not in out


def test_formatter_does_not_mutate_the_record() -> None:
    red = Redactor([CANARY_SECRET])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s count %d", (CANARY_SECRET, 7), None)
    formatted = RedactingFormatter("console", red).format(record)
    assert CANARY_SECRET not in formatted and "count 7" in formatted
    # the next handler still sees the original message and numeric args (the seed's formatter broke %d)
    assert record.args == (CANARY_SECRET, 7) and record.msg == "value %s count %d"
    assert record.getMessage() == f"value {CANARY_SECRET} count 7"


def test_bad_format_args_do_not_raise() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "needs %d", ("nan",), None)
    assert "bad log args" in RedactingFormatter("console", Redactor()).format(record)
