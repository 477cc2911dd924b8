"""The one JSON module (PERF-002): orjson encode/decode and crash-safe atomic file writes."""

from __future__ import annotations

import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

__all__ = ["JSONDecodeError", "dumps", "dumps_str", "load_file", "loads", "save_file"]

JSONDecodeError = orjson.JSONDecodeError

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    # Decimal must stay exact on the wire: Bybit sends money as strings, so do we.
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def dumps(obj: Any, *, indent: bool = False, sort_keys: bool = False) -> bytes:
    """Encode to compact UTF-8 JSON bytes (Decimal as string)."""
    opts = _OPTS
    if indent:
        opts |= orjson.OPT_INDENT_2
    if sort_keys:
        opts |= orjson.OPT_SORT_KEYS
    return orjson.dumps(obj, default=_default, option=opts)


def dumps_str(obj: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    return dumps(obj, indent=indent, sort_keys=sort_keys).decode()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Decode JSON; raises JSONDecodeError (a ValueError) on malformed input."""
    return orjson.loads(data)


def load_file(path: str | os.PathLike[str]) -> Any:
    with open(path, "rb") as fh:
        return orjson.loads(fh.read())


def save_file(path: str | os.PathLike[str], obj: Any, *, indent: bool = True, mode: int = 0o644) -> None:
    """Write JSON atomically: unique temp file in the same directory, fsync, rename, fsync dir.

    A crash at any point leaves either the old file or the new one, never a torn mix;
    concurrent writers never share a temp name.
    """
    target = Path(path)
    data = dumps(obj, indent=indent)
    if indent:
        data += b"\n"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
