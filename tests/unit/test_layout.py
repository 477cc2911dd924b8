"""Structure rules: module sizes (ARCH-001, CONFIG-001) and no import cycles in the config package."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lines(p: Path) -> int:
    return p.read_text(encoding="utf-8").count("\n")


def test_config_modules_under_300_lines() -> None:
    big = {p.name: _lines(p) for p in (ROOT / "bot/config").glob("*.py") if _lines(p) >= 300}
    assert not big


def test_every_module_under_500_lines() -> None:
    big = {str(p.relative_to(ROOT)): _lines(p) for d in ("bot", "mmctl") for p in (ROOT / d).rglob("*.py")
           if _lines(p) >= 500}
    assert not big


def test_run_entry_point_under_200_lines() -> None:
    """ARCH-001: `mmctl run` stays a thin entry point; the runtime lives in bot/runtime."""
    assert _lines(ROOT / "mmctl/commands/run.py") < 200


def _imports(module: Path, package: str) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith(package))
    return out


def test_config_package_has_no_import_cycles() -> None:
    pkg = ROOT / "bot/config"
    graph = {f"bot.config.{p.stem}": _imports(p, "bot.config") - {"bot.config"}
             for p in pkg.glob("*.py") if p.stem != "__init__"}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph.get(node, ()):
            assert state.get(dep) != 1, f"import cycle: {' -> '.join([*stack, node, dep])}"
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for n in graph:
        if n not in state:
            visit(n, [])
    assert len(graph) >= 9


def test_bot_never_imports_mmctl() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "bot").rglob("*.py") if _imports(p, "mmctl")]
    assert not offenders
