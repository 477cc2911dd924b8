"""Where non-ASCII sits inside log and print calls of a Python module (the ASCII lint's default mode)."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterator

__all__ = ["is_output_call", "output_call_non_ascii"]

# Method names that emit a log line or console output when called on a logger-ish object.
_LOG_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "fatal", "log"})
_OUTPUT_METHODS = frozenset({"print", "echo", "secho"})
_LOGGER_NAME = re.compile(r"(?i)^_*(log|logger|logging|[a-z0-9_]*_log|[a-z0-9_]*_logger)$")
_LOGGER_FACTORIES = frozenset({"getLogger", "get_logger"})
_NON_ASCII_RUN = re.compile(rb"[\x80-\xff]+")
_EXCERPT_BYTES = 24


def is_output_call(func: ast.expr) -> bool:
    """print(), x.print/echo(), and log methods on log/logger/*_logger names or getLogger(...)."""
    if isinstance(func, ast.Name):
        return func.id == "print"
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr in _OUTPUT_METHODS:
        return True
    if func.attr not in _LOG_METHODS:
        return False
    owner = func.value
    if isinstance(owner, ast.Name):
        return bool(_LOGGER_NAME.match(owner.id))
    if isinstance(owner, ast.Attribute):
        return bool(_LOGGER_NAME.match(owner.attr))
    if isinstance(owner, ast.Call):
        f = owner.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        return name in _LOGGER_FACTORIES
    return False


def output_call_non_ascii(data: bytes, tree: ast.AST) -> Iterator[tuple[int, int, str, int, int]]:
    """(line, char col, the character, excerpt start, excerpt stop as offsets into `data`) for the
    first non-ASCII character of each line inside an output call's source span, in line order.

    Only subtrees whose line span touches a non-ASCII line are visited, so a module that is
    almost all ASCII costs little beyond its parse.
    """
    lines = data.split(b"\n")
    starts = [0]
    for raw in lines[:-1]:
        starts.append(starts[-1] + len(raw) + 1)
    hot = [i + 1 for i, raw in enumerate(lines) if not raw.isascii()]
    if not hot:
        return

    def touches(node: ast.AST) -> bool:
        lo = getattr(node, "lineno", None)
        if lo is None:
            return True  # nodes without positions (arguments, comprehensions): look inside
        k = bisect.bisect_left(hot, lo)
        return k < len(hot) and hot[k] <= (getattr(node, "end_lineno", None) or lo)

    hits: dict[int, tuple[int, int, str, int, int]] = {}
    stack: list[ast.AST] = [tree]
    while stack:
        for child in ast.iter_child_nodes(stack.pop()):
            if not touches(child):
                continue
            if isinstance(child, ast.Call) and is_output_call(child.func):
                _span_hits(child, lines, starts, hits)
            else:
                stack.append(child)
    for line in sorted(hits):
        yield hits[line]


def _span_hits(node: ast.Call, lines: list[bytes], starts: list[int],
               hits: dict[int, tuple[int, int, str, int, int]]) -> None:
    end_line = node.end_lineno or node.lineno
    for lineno in range(node.lineno, min(end_line, len(lines)) + 1):
        raw = lines[lineno - 1]
        lo = node.col_offset if lineno == node.lineno else 0  # ast offsets are UTF-8 byte offsets
        hi = node.end_col_offset if lineno == end_line and node.end_col_offset is not None else len(raw)
        m = _NON_ASCII_RUN.search(raw, lo, hi)
        if m is None:
            continue
        pos = m.start()
        if lineno in hits and hits[lineno][1] <= len(raw[:pos].decode("utf-8", "replace")) + 1:
            continue
        col = len(raw[:pos].decode("utf-8", "replace")) + 1
        char = raw[pos:].decode("utf-8", "replace")[:1]
        start = max(0, pos - _EXCERPT_BYTES)
        while start < pos and 0x80 <= raw[start] < 0xC0:
            start += 1
        stop = min(len(raw), pos + _EXCERPT_BYTES)
        hits[lineno] = (lineno, col, char, starts[lineno - 1] + start, starts[lineno - 1] + stop)
