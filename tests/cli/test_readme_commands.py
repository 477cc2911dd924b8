"""Every `mmctl ...` line in the README's and deploy docs' shell blocks names a real command and real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from mmctl.app import _COMMANDS, app

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", ROOT / "bot" / "sim" / "README.md"]
_GLOBAL_WITH_VALUE = {"--set", "-c", "--config", "--log-format", "--log-level"}
_GLOBAL_FLAGS = {"--json", "--help"}
_STOP = {"<", ">", "|", "&&", ";", "2>&1"}


def _mmctl_lines(path: Path) -> list[str]:
    lines: list[str] = []
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            m = re.search(r"(?:^|\s|/)mmctl\s(.*)$", line)
            if m and not line.lstrip().startswith("#"):
                lines.append(m.group(1).split(" #", 1)[0])
    return lines


def problems_in(line: str) -> list[str]:
    tokens = shlex.split(line)
    group = typer.main.get_command(app)
    i = 0
    while i < len(tokens) and tokens[i].startswith("-"):
        name = tokens[i].split("=", 1)[0]
        if name in _GLOBAL_WITH_VALUE:
            i += 1 if "=" in tokens[i] else 2
        elif name in _GLOBAL_FLAGS:
            i += 1
        else:
            return [f"unknown global option {name!r}"]
    if i >= len(tokens) or tokens[i] not in _COMMANDS:
        return [f"unknown command {tokens[i] if i < len(tokens) else ''!r}"]
    cmd = group.get_command(None, tokens[i])  # type: ignore[attr-defined]
    i += 1
    while i < len(tokens) and tokens[i] in (getattr(cmd, "commands", None) or {}):
        cmd = cmd.commands[tokens[i]]
        i += 1
    known = {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)} | {"--help"}
    out = []
    for tok in tokens[i:]:
        if tok in _STOP or tok.startswith((">", "<")):
            break
        if tok.startswith("-") and tok.split("=", 1)[0] not in known:
            out.append(f"{cmd.name}: unknown option {tok.split('=', 1)[0]!r}")
    return out


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_mmctl_invocations_exist(path: Path) -> None:
    lines = _mmctl_lines(path)
    assert lines or path != DOCS[0], "no mmctl examples found in the README"
    bad = {line: p for line in lines if (p := problems_in(line))}
    assert not bad, bad


def test_the_check_catches_a_wrong_command_and_option() -> None:
    assert problems_in("run --duration 5") == []
    assert problems_in("--json soak gate DIR --threshold a=1") == []
    assert problems_in("runn") and problems_in("run --durations 5") and problems_in("logs rotate --keepp 1")
