"""Source checks the validator runs in-process: JSON writers, metric names and labels, test collection."""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import subprocess  # nosec B404 # runs the configured test-collect command, argv only, no shell
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmctl.ops.ascii_lint import DEFAULT_SKIP_DIRS

__all__ = ["CheckResult", "json_writers", "metrics_labels", "python_files", "tests_collected"]


@dataclass
class CheckResult:
    """Findings are `path:line: message` strings; errors mean the check itself could not run."""

    findings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)


def python_files(root: Path, roots: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """(absolute path, path relative to root) of every .py file under `roots`, venvs skipped."""
    for top in roots:
        base = root / top
        if base.is_file():
            yield base, top
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d not in DEFAULT_SKIP_DIRS
                                 and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg")))
            for name in sorted(filenames):
                if name.endswith(".py"):
                    full = Path(dirpath) / name
                    yield full, full.relative_to(root).as_posix()


def _parse(path: Path, rel: str, result: CheckResult) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes(), filename=rel)
    except (SyntaxError, ValueError) as exc:
        result.findings.append(f"{rel}:{getattr(exc, 'lineno', 0) or 0}: cannot parse: {exc}")
    except OSError as exc:
        result.errors.append(f"{rel}: cannot read: {exc.strerror}")
    return None


# ---- JSON writers (PERF-002: all JSON through bot.common.json_io) ----------------------------

_JSON_MODULES = frozenset({"json", "simplejson", "ujson"})
_JSON_FUNCS = frozenset({"dump", "dumps", "load", "loads"})


def json_writers(root: Path, roots: Sequence[str], allow: Sequence[str]) -> CheckResult:
    """Flag `import json` (and simplejson/ujson) and json.dump(s)/load(s) outside the allowed files."""
    result = CheckResult()
    checked = 0
    for path, rel in python_files(root, roots):
        if rel in allow:
            continue
        tree = _parse(path, rel, result)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in _JSON_MODULES:
                        result.findings.append(f"{rel}:{node.lineno}: import {alias.name}: use bot.common.json_io")
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _JSON_MODULES:
                result.findings.append(f"{rel}:{node.lineno}: from {node.module} import: use bot.common.json_io")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in _JSON_FUNCS and isinstance(node.func.value, ast.Name)
                  and node.func.value.id in _JSON_MODULES):
                result.findings.append(
                    f"{rel}:{node.lineno}: {node.func.value.id}.{node.func.attr}(): use bot.common.json_io")
        checked += 1
    result.info.append(f"{checked} file(s) checked")
    return result


# ---- Prometheus metric names and labels -------------------------------------------------------

_METRIC_TYPES = frozenset({"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"})
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_NON_BASE_UNITS = ("ms", "milliseconds", "us", "microseconds", "ns", "nanoseconds", "minutes", "hours",
                   "days", "kb", "mb", "gb", "kilobytes", "megabytes", "gigabytes", "percent")
_RESERVED_SUFFIXES = ("_count", "_sum", "_bucket", "_created")
_RESERVED_LABELS = frozenset({"le", "quantile"})


@dataclass(frozen=True, slots=True)
class MetricRules:
    allowed_labels: frozenset[str]
    forbidden_labels: frozenset[str]
    unit_suffixes: tuple[str, ...]


def load_metric_rules(path: Path) -> MetricRules:
    """Read the label allowlist and unit suffixes (ci/metrics_labels.toml).

    Raises:
        ValueError: missing keys or wrong types.
    """
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    try:
        allowed = doc["labels"]["allowed"]
        forbidden = doc["labels"].get("forbidden", [])
        units = doc["units"]["suffixes"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: needs [labels].allowed and [units].suffixes") from exc
    for name, value in (("labels.allowed", allowed), ("labels.forbidden", forbidden), ("units.suffixes", units)):
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(f"{path}: {name} must be a list of strings")
    return MetricRules(frozenset(allowed), frozenset(forbidden), tuple(units))


def _metric_imports(tree: ast.Module) -> tuple[dict[str, str], set[str]]:
    """Names bound to prometheus_client metric classes, and aliases of the module itself."""
    names: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prometheus_client"):
            for alias in node.names:
                if alias.name in _METRIC_TYPES:
                    names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "prometheus_client":
                    modules.add(alias.asname or alias.name)
    return names, modules


def _str_list(node: ast.expr | None) -> list[str] | None:
    if node is None:
        return []
    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return [e.value for e in node.elts]  # type: ignore[attr-defined]  # checked just above
    return None


def _arg(call: ast.Call, index: int, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return call.args[index] if len(call.args) > index else None


def _check_metric(kind: str, call: ast.Call, where: str, rules: MetricRules, out: list[str]) -> None:
    name_node = _arg(call, 0, "name")
    if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
        out.append(f"{where}: {kind} name is not a string literal (cannot be checked)")
        return
    parts = []
    for prefix in ("namespace", "subsystem"):
        node = _arg(call, 99, prefix)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
            parts.append(node.value)
    name = "_".join([*parts, name_node.value])
    if not _SNAKE.match(name):
        out.append(f"{where}: {name}: not snake_case")
    tokens = name.split("_")
    for unit in _NON_BASE_UNITS:
        if unit in tokens[1:]:
            out.append(f"{where}: {name}: '{unit}' is not a base unit (use seconds, bytes or a ratio)")
    if name.endswith(_RESERVED_SUFFIXES):
        out.append(f"{where}: {name}: ends with a suffix Prometheus reserves for histograms/summaries")
    if kind == "Counter":
        pass  # prometheus_client exposes `<name>_total` whether or not the source spells it
    elif name.endswith("_total"):
        out.append(f"{where}: {name}: only counters end in _total")
    if kind in ("Histogram", "Summary") and not name.endswith(rules.unit_suffixes):
        out.append(f"{where}: {name}: {kind.lower()} needs a unit suffix ({', '.join(rules.unit_suffixes)})")
    labels = _str_list(_arg(call, 2, "labelnames"))
    if labels is None:
        out.append(f"{where}: {name}: labelnames are not a literal list (cannot be checked)")
        return
    for label in labels:
        if label in rules.forbidden_labels:
            out.append(f"{where}: {name}: label '{label}' has unbounded values")
        elif label in _RESERVED_LABELS or label.startswith("__"):
            out.append(f"{where}: {name}: label '{label}' is reserved")
        elif label not in rules.allowed_labels:
            out.append(f"{where}: {name}: label '{label}' is not in the bounded-label allowlist")


def metrics_labels(root: Path, roots: Sequence[str], rules: MetricRules) -> CheckResult:
    """Every prometheus_client metric defined under `roots` follows naming rules and bounded labels."""
    result = CheckResult()
    count = 0
    for path, rel in python_files(root, roots):
        tree = _parse(path, rel, result)
        if tree is None:
            continue
        names, modules = _metric_imports(tree)
        if not names and not modules:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            kind = None
            if isinstance(f, ast.Name) and f.id in names:
                kind = names[f.id]
            elif (isinstance(f, ast.Attribute) and f.attr in _METRIC_TYPES and isinstance(f.value, ast.Name)
                  and f.value.id in modules):
                kind = f.attr
            if kind is not None:
                count += 1
                _check_metric(kind, node, f"{rel}:{node.lineno}", rules, result.findings)
    result.info.append(f"{count} metric definition(s) checked")
    return result


# ---- every test file is collected by the CI test command --------------------------------------

_COLLECTED = re.compile(r"^([^\s:]+\.py)(?:::|: \d+$)", re.MULTILINE)


def tests_collected(root: Path, collect_argv: Sequence[str], pattern: str, *, timeout_s: float) -> CheckResult:
    """Run the collect-only command and list test files it did not collect."""
    result = CheckResult()
    expected = sorted(p.relative_to(root).as_posix() for p in root.glob(pattern)
                      if p.is_file() and not any(part in DEFAULT_SKIP_DIRS for part in p.relative_to(root).parts))
    try:
        proc = subprocess.run(list(collect_argv), cwd=root, capture_output=True, text=True,  # nosec B603 # argv only
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        result.errors.append(f"collect command failed: {exc}")
        return result
    # `-q` prints node ids (path::test); `-qq` prints "path: count"; accept both.
    collected = {m.group(1) for m in _COLLECTED.finditer(proc.stdout)}
    if proc.returncode not in (0, 5):  # 5: no tests collected, which the comparison below reports
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        result.errors.append(f"collect command exited {proc.returncode}:\n{tail}")
        return result
    for rel in expected:
        if rel not in collected and not fnmatch.fnmatch(rel, "*/conftest.py"):
            result.findings.append(f"{rel}: not collected by {' '.join(collect_argv)}")
    result.info.append(f"{len(expected)} test file(s) on disk, {len(collected)} collected")
    return result
