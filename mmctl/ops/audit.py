"""Security audit (SEC-002): pip-audit, bandit and cargo-audit, normalised severities, one gate.

Severity ratings:
- bandit: its own issue_severity (LOW/MEDIUM/HIGH -> low/medium/high).
- cargo-audit: the advisory's CVSS 3 base score rated per the CVSS spec; no vector -> high;
  informational warnings (unmaintained, unsound, yanked) -> low.
- pip-audit: its JSON has no severity, so every finding is rated high unless a dated entry in
  the ignore list (ci/audit-ignore.toml) accepts it; an expired entry gates again.
A tool that is missing is `skipped`, one that cannot reach its database is `unavailable`; neither
is ever a pass, and `strict` makes both a failure.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess  # nosec B404 # runs the audit tools with argv lists, never through a shell
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.common import json_io
from mmctl.ops.severity import IgnoreEntry, Severity, load_ignore_list, rank, severity_from_cvss

__all__ = ["TOOLS", "AuditFinding", "AuditOptions", "AuditReport", "ToolReport", "run_audit"]

log = logging.getLogger(__name__)

TOOLS = ("pip-audit", "bandit", "cargo-audit")
ToolStatus = Literal["ok", "findings", "skipped", "unavailable", "failed"]
Gate = Literal["pass", "findings", "failure"]
# Text in a tool's stderr meaning "could not reach the vulnerability database".
_OFFLINE = re.compile(r"(?i)connection ?error|max retries exceeded|failed to establish|name or service not known|"
                      r"temporary failure in name resolution|could not connect|network is unreachable|"
                      r"couldn't fetch|failed to fetch|error fetching|timed out|could not resolve host")


@dataclass(frozen=True, slots=True)
class AuditFinding:
    tool: str
    id: str
    severity: Severity
    title: str
    location: str  # package==version, or path:line
    fix: str = ""
    aliases: tuple[str, ...] = ()
    ignored: str = ""  # why it does not gate (ignore-list reason), empty if it gates


@dataclass
class ToolReport:
    tool: str
    status: ToolStatus
    reason: str = ""
    findings: list[AuditFinding] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    exit_code: int | None = None
    duration_s: float = 0.0
    raw_report: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "status": self.status, "reason": self.reason, "command": self.command,
                "exit_code": self.exit_code, "duration_s": self.duration_s, "raw_report": self.raw_report,
                "notes": self.notes, "findings": [asdict(f) for f in self.findings]}


@dataclass
class AuditReport:
    tools: list[ToolReport]
    fail_on: Severity
    strict: bool

    def gating(self) -> list[AuditFinding]:
        return [f for t in self.tools for f in t.findings if not f.ignored and rank(f.severity) >= rank(self.fail_on)]

    @property
    def gate(self) -> Gate:
        if any(t.status == "failed" for t in self.tools):
            return "failure"
        if self.strict and any(t.status in ("skipped", "unavailable") for t in self.tools):
            return "failure"
        return "findings" if self.gating() else "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "fail_on": self.fail_on, "strict": self.strict,
                "gating_findings": len(self.gating()), "tools": [t.to_dict() for t in self.tools]}


@dataclass(frozen=True)
class AuditOptions:
    root: Path
    out_dir: Path
    tools: tuple[str, ...] = TOOLS
    fail_on: Severity = "high"
    strict: bool = False
    requirements: tuple[Path, ...] = ()  # fully pinned lock files; empty = the installed environment
    osv_url: str | None = None
    pip_audit_cache_dir: Path | None = None
    http_timeout_s: int = 15
    bandit_targets: tuple[str, ...] = ("bot", "mmctl")
    bandit_config: Path | None = Path("pyproject.toml")
    cargo_lock: Path = Path("rust/Cargo.lock")
    cargo_db: Path | None = None
    ignore_file: Path | None = Path("ci/audit-ignore.toml")
    tool_timeout_s: float = 600.0
    # Where to look for the tool executables; None = beside this interpreter, then $PATH.
    tool_path: str | None = None
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())


def _find_tool(name: str, search: str | None) -> str | None:
    if search is None:
        search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def _run(argv: list[str], cwd: Path, timeout_s: float) -> tuple[int | None, str, str]:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True,  # nosec B603 # argv, no shell
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {timeout_s:g} s"
    return proc.returncode, proc.stdout, proc.stderr


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _apply_ignores(findings: list[AuditFinding], ignores: list[IgnoreEntry], today: dt.date,
                   notes: list[str]) -> list[AuditFinding]:
    out = []
    for f in findings:
        package = f.location.split("==")[0] if "==" in f.location else None
        match = next((e for e in ignores if e.matches(f.tool, [f.id, *f.aliases], package)), None)
        if match is None:
            out.append(f)
        elif match.expires < today:
            notes.append(f"ignore entry {match.id} expired on {match.expires.isoformat()}: gating again")
            out.append(f)
        else:
            out.append(AuditFinding(f.tool, f.id, f.severity, f.title, f.location, f.fix, f.aliases,
                                    f"ignored until {match.expires.isoformat()}: {match.reason}"))
    return out


# ---- pip-audit ---------------------------------------------------------------------------------

def _pip_audit(opts: AuditOptions, exe: str, ignores: list[IgnoreEntry]) -> ToolReport:
    raw = opts.out_dir / "pip-audit.raw.json"
    raw.unlink(missing_ok=True)
    argv = [exe, "--format", "json", "--output", str(raw), "--progress-spinner", "off",
            "--timeout", str(opts.http_timeout_s), "--vulnerability-service", "osv"]
    if opts.osv_url:
        argv += ["--osv-url", opts.osv_url]
    if opts.pip_audit_cache_dir is not None:
        argv += ["--cache-dir", str(opts.pip_audit_cache_dir)]
    if opts.requirements:
        for req in opts.requirements:
            argv += ["--requirement", str(req)]
        argv += ["--no-deps", "--disable-pip"]  # lock files are fully pinned: no resolver, no network to PyPI
    else:
        argv += ["--local", "--skip-editable"]  # the installed environment, minus our own editable install
    report = ToolReport("pip-audit", "failed", command=argv)
    code, _out, err = _run(argv, opts.root, opts.tool_timeout_s)
    report.exit_code = code
    try:
        doc = json_io.load_file(raw)
    except (OSError, ValueError):
        doc = None
    if not isinstance(doc, dict):
        if code is None:
            report.status, report.reason = "unavailable", f"pip-audit {err}"
        elif m := _OFFLINE.search(err):
            report.status = "unavailable"
            report.reason = f"vulnerability service unreachable ({m.group(0)}); --osv-url points at a mirror"
        else:
            report.reason = f"pip-audit exited {code} without a report: {_last_line(err)}"
        return report
    report.raw_report = str(raw)
    deps = doc.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    for d in skipped[:20]:
        report.notes.append(f"skipped {d.get('name')}: {d.get('skip_reason')}")
    if skipped and not audited:
        # Offline, pip-audit skips every package and still says "No known vulnerabilities found".
        report.status = "unavailable"
        report.reason = f"all {len(skipped)} dependencies skipped (database unreachable?): {skipped[0]['skip_reason']}"
        return report
    findings = [
        AuditFinding("pip-audit", v["id"], "high", (v.get("description") or "")[:200],
                     f"{d['name']}=={d.get('version', '?')}", ", ".join(v.get("fix_versions", [])),
                     tuple(v.get("aliases", [])))
        for d in audited for v in d.get("vulns", [])
    ]
    report.findings = _apply_ignores(findings, ignores, opts.today, report.notes)
    report.status = "findings" if report.findings else "ok"
    report.reason = f"{len(audited)} audited, {len(skipped)} skipped"
    return report


# ---- bandit --------------------------------------------------------------------------------------

def _bandit(opts: AuditOptions, exe: str) -> ToolReport:
    raw = opts.out_dir / "bandit.raw.json"
    raw.unlink(missing_ok=True)
    targets = [t for t in opts.bandit_targets if (opts.root / t).exists()]
    argv = [exe, "-r", *targets, "-f", "json", "-o", str(raw), "-q"]
    if opts.bandit_config is not None and (opts.root / opts.bandit_config).exists():
        argv[1:1] = ["-c", str(opts.bandit_config)]  # [tool.bandit] is read only with -c
    report = ToolReport("bandit", "failed", command=argv)
    if not targets:
        report.status, report.reason = "skipped", f"no scan targets: {', '.join(opts.bandit_targets)}"
        return report
    code, _out, err = _run(argv, opts.root, opts.tool_timeout_s)
    report.exit_code = code
    try:
        doc = json_io.load_file(raw)
    except (OSError, ValueError):
        report.reason = f"bandit exited {code} without a report: {_last_line(err)}"
        return report
    report.raw_report = str(raw)
    errors = doc.get("errors", [])
    if errors:
        first = errors[0]
        report.reason = f"bandit could not scan {len(errors)} file(s): {first.get('filename')}: {first.get('reason')}"
        return report
    report.findings = [
        AuditFinding("bandit", r["test_id"], r["issue_severity"].lower(),
                     f"{r['issue_text']} (confidence {r['issue_confidence'].lower()})",
                     f"{os.path.relpath(r['filename'], opts.root) if os.path.isabs(r['filename']) else r['filename']}"
                     f":{r['line_number']}")
        for r in doc.get("results", [])
    ]
    report.status = "findings" if report.findings else "ok"
    report.reason = f"{len(targets)} target(s) scanned"
    return report


# ---- cargo-audit ----------------------------------------------------------------------------------

def _cargo_audit(opts: AuditOptions, exe: str, ignores: list[IgnoreEntry]) -> ToolReport:
    lock = opts.root / opts.cargo_lock
    argv = [exe, "audit", "--json", "--file", str(opts.cargo_lock)]
    if opts.cargo_db is not None:
        argv += ["--db", str(opts.cargo_db), "--no-fetch"]
    report = ToolReport("cargo-audit", "failed", command=argv)
    if not lock.exists():
        report.status, report.reason = "skipped", f"{opts.cargo_lock} not found"
        return report
    if opts.cargo_db is not None and not opts.cargo_db.exists():
        report.status, report.reason = "unavailable", f"advisory database {opts.cargo_db} not found"
        return report
    code, out, err = _run(argv, opts.root, opts.tool_timeout_s)
    report.exit_code = code
    try:
        doc = json_io.loads(out) if out.strip() else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        if code is None or _OFFLINE.search(err) or "advisory database" in err.lower():
            report.status = "unavailable"
            report.reason = f"advisory database unavailable (offline? use --cargo-db): {_last_line(err)}"
        else:
            report.reason = f"cargo-audit exited {code} without a report: {_last_line(err)}"
        return report
    raw = opts.out_dir / "cargo-audit.raw.json"
    json_io.save_file(raw, doc)
    report.raw_report = str(raw)
    findings: list[AuditFinding] = []
    for v in (doc.get("vulnerabilities") or {}).get("list", []):
        adv, pkg = v.get("advisory", {}), v.get("package", {})
        findings.append(AuditFinding(
            "cargo-audit", adv.get("id", "?"), severity_from_cvss(adv.get("cvss")), adv.get("title", ""),
            f"{pkg.get('name')}=={pkg.get('version')}", ", ".join((v.get("versions") or {}).get("patched", [])),
            tuple(adv.get("aliases", []))))
    for kind, items in (doc.get("warnings") or {}).items():
        for w in items:
            adv, pkg = w.get("advisory") or {}, w.get("package", {})
            findings.append(AuditFinding("cargo-audit", adv.get("id", kind), "low", f"{kind}: {adv.get('title', '')}",
                                         f"{pkg.get('name')}=={pkg.get('version')}"))
    report.findings = _apply_ignores(findings, ignores, opts.today, report.notes)
    report.status = "findings" if report.findings else "ok"
    return report


def run_audit(opts: AuditOptions) -> AuditReport:
    """Run the selected tools; writes <tool>.json, the tools' raw output and audit.json to out_dir.

    Raises:
        ValueError: an unknown tool name or a malformed ignore list.
    """
    unknown = [t for t in opts.tools if t not in TOOLS]
    if unknown:
        raise ValueError(f"unknown tool(s): {', '.join(unknown)} (known: {', '.join(TOOLS)})")
    ignores = load_ignore_list(opts.ignore_file if opts.ignore_file is None or opts.ignore_file.is_absolute()
                               else opts.root / opts.ignore_file)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    reports: list[ToolReport] = []
    for tool in opts.tools:
        exe = _find_tool(tool, opts.tool_path)
        started = time.monotonic()
        if exe is None:
            rep = ToolReport(tool, "skipped", f"{tool} not installed (looked in {opts.tool_path or 'venv bin, PATH'})")
        elif tool == "pip-audit":
            rep = _pip_audit(opts, exe, ignores)
        elif tool == "bandit":
            rep = _bandit(opts, exe)
        else:
            rep = _cargo_audit(opts, exe, ignores)
        rep.duration_s = round(time.monotonic() - started, 3)
        log.info("audit_tool_done tool=%s status=%s findings=%d", tool, rep.status, len(rep.findings))
        json_io.save_file(opts.out_dir / f"{tool}.json", rep.to_dict())
        reports.append(rep)
    report = AuditReport(reports, opts.fail_on, opts.strict)
    json_io.save_file(opts.out_dir / "audit.json", report.to_dict())
    return report


def tool_names(selection: Sequence[str]) -> tuple[str, ...]:
    """'pip-audit,bandit' style selections -> a tuple in canonical order."""
    wanted = {s.strip() for item in selection for s in item.split(",") if s.strip()}
    return tuple(t for t in TOOLS if t in wanted) + tuple(sorted(wanted - set(TOOLS)))
