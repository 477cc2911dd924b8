"""Severities shared by the audit tools: ranks, CVSS 3.x base scores, and the dated ignore list."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SEVERITIES",
    "IgnoreEntry",
    "Severity",
    "cvss3_base_score",
    "load_ignore_list",
    "rank",
    "rating_from_score",
    "severity_from_cvss",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)  # ValueError for an unknown name


def rating_from_score(score: float) -> Severity:
    """CVSS v3 qualitative rating (0.0 'none' counts as low: a listed advisory is never nothing)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low"


def _roundup(value: float) -> float:
    # CVSS v3.1 spec, Appendix A: round up to one decimal without float artefacts.
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}


def cvss3_base_score(vector: str) -> float:
    """Base score of a `CVSS:3.x/AV:..` vector.

    Raises:
        ValueError: not a CVSS 3 vector or a metric is missing.
    """
    head, _, rest = vector.partition("/")
    if not head.startswith("CVSS:3"):
        raise ValueError(f"not a CVSS 3 vector: {vector!r}")
    try:
        m = dict(part.split(":", 1) for part in rest.split("/") if part)
        changed = m["S"] == "C"
        iss = 1 - (1 - _CIA[m["C"]]) * (1 - _CIA[m["I"]]) * (1 - _CIA[m["A"]])
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[m["PR"]]
        exploitability = 8.22 * _AV[m["AV"]] * _AC[m["AC"]] * pr * _UI[m["UI"]]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"incomplete CVSS 3 vector: {vector!r}") from exc
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    if changed:
        return _roundup(min(1.08 * (impact + exploitability), 10.0))
    return _roundup(min(impact + exploitability, 10.0))


def severity_from_cvss(vector: str | None, *, default: Severity = "high") -> Severity:
    """Rating from a CVSS 3 vector; `default` when absent or not computable (e.g. CVSS 4)."""
    if not vector:
        return default
    try:
        return rating_from_score(cvss3_base_score(vector))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class IgnoreEntry:
    id: str
    tool: str | None
    package: str | None
    reason: str
    expires: dt.date

    def matches(self, tool: str, ids: list[str], package: str | None) -> bool:
        return (self.id in ids and (self.tool is None or self.tool == tool)
                and (self.package is None or package is None or self.package.lower() == package.lower()))


def load_ignore_list(path: Path | None) -> list[IgnoreEntry]:
    """Read `[[ignore]]` entries (id, reason and an expiry date are required).

    Raises:
        ValueError: malformed file or entry.
    """
    if path is None or not path.exists():
        return []
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    entries = []
    for i, raw in enumerate(doc.get("ignore", [])):
        where = f"{path}: ignore[{i}]"
        if not isinstance(raw.get("id"), str) or not raw["id"]:
            raise ValueError(f"{where}: 'id' is required")
        if not isinstance(raw.get("reason"), str) or not raw["reason"].strip():
            raise ValueError(f"{where} ({raw['id']}): 'reason' is required")
        expires = raw.get("expires")
        if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
            raise ValueError(f"{where} ({raw['id']}): 'expires' must be a date like 2027-01-31")
        unknown = set(raw) - {"id", "tool", "package", "reason", "expires"}
        if unknown:
            raise ValueError(f"{where} ({raw['id']}): unknown keys {sorted(unknown)}")
        entries.append(IgnoreEntry(raw["id"], raw.get("tool"), raw.get("package"), raw["reason"], expires))
    return entries
