"""One log setup for the bot and every mmctl command: console or JSON, redacted on every handler."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.common import json_io
from bot.observability.redact import Redactor

__all__ = ["RedactingFormatter", "StructLogger", "configure", "get_logger", "redactor"]

# The attributes every LogRecord has; anything else came in through `extra`.
_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}

_REDACTOR = Redactor()


def redactor() -> Redactor:
    """The process-wide redactor; the config loader registers loaded secrets here."""
    return _REDACTOR


class RedactingFormatter(logging.Formatter):
    """Formats a record without touching it: other handlers still see the original record."""

    def __init__(self, fmt: str = "console", red: Redactor | None = None) -> None:
        super().__init__()
        self.fmt = fmt
        self.red = red or _REDACTOR

    def _fields(self, record: logging.LogRecord) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key, value in record.__dict__.items():
            if key in _STD_ATTRS or key.startswith("_"):
                continue
            if key == "fields" and isinstance(value, dict):
                for k, v in value.items():
                    fields[str(k)] = self.red.value(str(k), v)
            else:
                fields[key] = self.red.value(key, value)
        return fields

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!s} (bad log args)"
        message = self.red.text(message)
        fields = self._fields(record)
        exc_text = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_text = self.red.text(self.formatException(record.exc_info))
        elif record.exc_text:
            exc_text = self.red.text(record.exc_text)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        if self.fmt == "json":
            doc: dict[str, Any] = {"ts": ts, "level": record.levelname, "logger": record.name, "event": message}
            doc.update(fields)
            if exc_text:
                doc["exc"] = exc_text
            return json_io.dumps_str(doc)
        extras = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{ts} {record.levelname:<7} {record.name}: {message}" + (f" {extras}" if extras else "")
        return f"{line}\n{exc_text}" if exc_text else line


class StructLogger:
    """`log.info("event_name", key=value)`: events with fields, carried to the formatter via `extra`."""

    __slots__ = ("_log",)

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger

    def _emit(self, level: int, event: str, exc_info: Any, fields: dict[str, Any]) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, event, exc_info=exc_info, extra={"fields": fields}, stacklevel=3)

    def debug(self, event: str, *, exc_info: Any = None, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, exc_info, fields)

    def info(self, event: str, *, exc_info: Any = None, **fields: Any) -> None:
        self._emit(logging.INFO, event, exc_info, fields)

    def warning(self, event: str, *, exc_info: Any = None, **fields: Any) -> None:
        self._emit(logging.WARNING, event, exc_info, fields)

    def error(self, event: str, *, exc_info: Any = None, **fields: Any) -> None:
        self._emit(logging.ERROR, event, exc_info, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._emit(logging.ERROR, event, True, fields)

    def isEnabledFor(self, level: int) -> bool:
        return self._log.isEnabledFor(level)


def get_logger(name: str) -> StructLogger:
    return StructLogger(logging.getLogger(name))


def configure(
    *,
    fmt: str = "console",
    level: str = "INFO",
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    log_file: str | Path | None = None,
    max_bytes: int = 50 * 1024 * 1024,
    backups: int = 5,
) -> None:
    """(Re)configure the root logger: one redacting formatter on every handler, stderr by default."""
    _REDACTOR.add_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mm_owned", False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(_file_handler(Path(log_file), max_bytes, backups))
    for handler in handlers:
        handler.setFormatter(RedactingFormatter(fmt))
        handler._mm_owned = True  # type: ignore[attr-defined]  # marks handlers configure() may replace
        root.addHandler(handler)
    root.setLevel(level)
    # Libraries that log request lines or frames at DEBUG/INFO stay quiet unless asked for.
    for noisy in ("httpx", "httpcore", "websockets", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def _file_handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    try:
        from bot.observability.logrotate import CompressingRotatingFileHandler
    except ImportError:  # the compressing handler lands with the ops work
        from logging.handlers import RotatingFileHandler

        return RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    return CompressingRotatingFileHandler(path, max_bytes=max_bytes, backup_count=backups, encoding="utf-8")


def register_secrets(values: Iterable[str]) -> None:
    _REDACTOR.add_secrets(values)
