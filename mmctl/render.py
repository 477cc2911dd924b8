"""Output to stdout: rich tables for people, JSON for machines; no decisions here."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from bot.common import json_io

__all__ = ["console", "emit_json", "table"]


def console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=True)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json_io.dumps_str(obj, indent=True) + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*(str(c) for c in row))
    console().print(t)
