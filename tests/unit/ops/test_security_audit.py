"""mmctl audit logic: real bandit, real pip-audit against a loopback OSV server, recorded cargo-audit output."""

from __future__ import annotations

import datetime as dt
import stat
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.common import json_io
from mmctl.ops.audit import AuditOptions, run_audit
from mmctl.ops.severity import cvss3_base_score, load_ignore_list, severity_from_cvss

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = str(Path(sys.executable).parent)
TODAY = dt.date(2026, 11, 27)


def _opts(tmp_path: Path, **kw: object) -> AuditOptions:
    base: dict[str, object] = {"root": tmp_path, "out_dir": tmp_path / "out", "ignore_file": None,
                               "tool_path": VENV_BIN, "tool_timeout_s": 90.0, "today": TODAY}
    base.update(kw)
    return AuditOptions(**base)  # type: ignore[arg-type]


# ---- bandit ---------------------------------------------------------------------------------------

def _planted(root: Path) -> None:
    (root / "bot").mkdir()
    (root / "bot" / "planted.py").write_text("def run(expr: str) -> object:\n    return eval(expr)\n")


def test_planted_bandit_finding_fails_the_gate_at_medium(tmp_path: Path) -> None:
    _planted(tmp_path)
    report = run_audit(_opts(tmp_path, tools=("bandit",), fail_on="medium", bandit_targets=("bot",)))
    [tool] = report.tools
    assert tool.status == "findings"
    [finding] = tool.findings
    assert (finding.id, finding.severity, finding.location) == ("B307", "medium", "bot/planted.py:2")
    assert report.gate == "findings"
    doc = json_io.load_file(tmp_path / "out" / "audit.json")
    assert doc["gate"] == "findings" and doc["tools"][0]["findings"][0]["id"] == "B307"
    assert (tmp_path / "out" / "bandit.json").exists() and (tmp_path / "out" / "bandit.raw.json").exists()


def test_planted_medium_finding_does_not_gate_at_high(tmp_path: Path) -> None:
    _planted(tmp_path)
    report = run_audit(_opts(tmp_path, tools=("bandit",), fail_on="high", bandit_targets=("bot",)))
    assert report.tools[0].status == "findings" and report.gate == "pass"


def test_project_code_is_bandit_clean_at_every_severity(tmp_path: Path) -> None:
    """The project's own audit is clean: findings are fixed or justified inline (nosec + reason)."""
    report = run_audit(AuditOptions(root=REPO, out_dir=tmp_path, tools=("bandit",),
                                    fail_on="low", bandit_targets=("bot", "mmctl"), tool_path=VENV_BIN,
                                    ignore_file=None))
    assert report.tools[0].status == "ok", [(f.id, f.location) for f in report.tools[0].findings]


# ---- pip-audit against a loopback OSV-compatible server -------------------------------------------

VULN = {
    "id": "GHSA-test-0001", "aliases": ["CVE-2099-0001"], "summary": "planted test advisory",
    "affected": [{"package": {"name": "requests", "ecosystem": "PyPI"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}],
}


class _Osv(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json_io.loads(self.rfile.read(int(self.headers["Content-Length"])))
        hit = body["package"]["name"] == "requests" and body["version"] == "2.19.0"
        data = json_io.dumps({"vulns": [VULN]} if hit else {})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Osv)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lockfile(tmp_path: Path) -> Path:
    req = tmp_path / "requirements.lock"
    req.write_text("requests==2.19.0\nidna==3.7\n")
    return req


@pytest.mark.timeout(120)
def test_pip_audit_findings_from_loopback_osv_are_high_and_gate(tmp_path: Path, osv_url: str,
                                                                 lockfile: Path) -> None:
    report = run_audit(_opts(tmp_path, tools=("pip-audit",), requirements=(lockfile,), osv_url=osv_url,
                             pip_audit_cache_dir=tmp_path / "cache"))
    [tool] = report.tools
    assert tool.status == "findings", tool.reason
    [f] = tool.findings
    assert (f.severity, f.location, f.fix) == ("high", "requests==2.19.0", "2.20.0")
    assert {f.id, *f.aliases} == {"GHSA-test-0001", "CVE-2099-0001"}  # pip-audit picks which id leads
    assert report.gate == "findings"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("expires", "gate"), [("2027-01-31", "pass"), ("2026-11-01", "findings")])
def test_pip_audit_dated_ignore_list(tmp_path: Path, osv_url: str, lockfile: Path, expires: str, gate: str) -> None:
    ignore = tmp_path / "audit-ignore.toml"
    ignore.write_text(f'[[ignore]]\nid = "CVE-2099-0001"\ntool = "pip-audit"\nreason = "test"\nexpires = {expires}\n')
    report = run_audit(_opts(tmp_path, tools=("pip-audit",), requirements=(lockfile,), osv_url=osv_url,
                             ignore_file=ignore, pip_audit_cache_dir=tmp_path / "cache"))
    assert report.gate == gate
    if gate == "findings":
        assert any("expired" in n for n in report.tools[0].notes)
    else:
        assert report.tools[0].findings[0].ignored.startswith("ignored until 2027-01-31")


@pytest.mark.timeout(120)
def test_pip_audit_with_unreachable_database_is_unavailable_never_a_pass(tmp_path: Path, lockfile: Path) -> None:
    opts = _opts(tmp_path, tools=("pip-audit",), requirements=(lockfile,), osv_url="http://127.0.0.1:9/v1/query",
                 http_timeout_s=2, pip_audit_cache_dir=tmp_path / "cache")
    report = run_audit(opts)
    assert report.tools[0].status == "unavailable", report.tools[0].reason
    assert report.gate == "pass"  # not strict: reported, not failed
    strict = run_audit(_opts(tmp_path, tools=("pip-audit",), requirements=(lockfile,), strict=True,
                             osv_url="http://127.0.0.1:9/v1/query", http_timeout_s=2))
    assert strict.gate == "failure"


# ---- missing tools --------------------------------------------------------------------------------

def test_missing_tools_are_skipped_and_strict_fails(tmp_path: Path) -> None:
    _planted(tmp_path)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    report = run_audit(_opts(tmp_path, tool_path=str(empty)))
    assert [(t.tool, t.status) for t in report.tools] == [
        ("pip-audit", "skipped"), ("bandit", "skipped"), ("cargo-audit", "skipped")]
    assert all("not installed" in t.reason for t in report.tools)
    assert report.gate == "pass"
    assert run_audit(_opts(tmp_path, tool_path=str(empty), strict=True)).gate == "failure"


# ---- cargo-audit from a recorded report ------------------------------------------------------------

RECORDED = {
    "database": {"advisory-count": 900},
    "vulnerabilities": {"found": True, "count": 2, "list": [
        {"advisory": {"id": "RUSTSEC-2099-0001", "title": "crit", "aliases": ["CVE-2099-1"],
                      "cvss": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
         "versions": {"patched": [">=1.2.3"]}, "package": {"name": "foo", "version": "1.0.0"}},
        {"advisory": {"id": "RUSTSEC-2099-0002", "title": "no score", "cvss": None},
         "versions": {"patched": []}, "package": {"name": "bar", "version": "0.1.0"}},
    ]},
    "warnings": {"unmaintained": [{"kind": "unmaintained", "package": {"name": "baz", "version": "0.3.0"},
                                   "advisory": {"id": "RUSTSEC-2099-0003", "title": "gone"}}]},
}


def _fake_cargo_audit(bindir: Path, *, stdout: str, stderr: str = "", code: int = 1) -> None:
    bindir.mkdir(exist_ok=True)
    exe = bindir / "cargo-audit"
    exe.write_text(f"#!{sys.executable}\nimport sys\nsys.stdout.write({stdout!r})\nsys.stderr.write({stderr!r})\n"
                   f"sys.exit({code})\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)


def test_cargo_audit_recorded_report_severities_from_cvss(tmp_path: Path) -> None:
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.lock").write_text("# lock\n")
    _fake_cargo_audit(tmp_path / "bin", stdout=json_io.dumps_str(RECORDED))
    report = run_audit(_opts(tmp_path, tools=("cargo-audit",), tool_path=str(tmp_path / "bin"), fail_on="critical"))
    [tool] = report.tools
    assert [(f.id, f.severity) for f in tool.findings] == [
        ("RUSTSEC-2099-0001", "critical"), ("RUSTSEC-2099-0002", "high"), ("RUSTSEC-2099-0003", "low")]
    assert report.gate == "findings" and len(report.gating()) == 1


def test_cargo_audit_without_reachable_database_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.lock").write_text("# lock\n")
    _fake_cargo_audit(tmp_path / "bin", stdout="", stderr="error: couldn't fetch advisory database: git error\n")
    report = run_audit(_opts(tmp_path, tools=("cargo-audit",), tool_path=str(tmp_path / "bin")))
    assert report.tools[0].status == "unavailable"
    missing_db = run_audit(_opts(tmp_path, tools=("cargo-audit",), tool_path=str(tmp_path / "bin"),
                                 cargo_db=tmp_path / "no-db", strict=True))
    assert missing_db.tools[0].status == "unavailable" and missing_db.gate == "failure"


def test_a_crashing_tool_is_a_failure_not_findings(tmp_path: Path) -> None:
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.lock").write_text("# lock\n")
    _fake_cargo_audit(tmp_path / "bin", stdout="", stderr="thread 'main' panicked\n", code=101)
    report = run_audit(_opts(tmp_path, tools=("cargo-audit",), tool_path=str(tmp_path / "bin")))
    assert report.tools[0].status == "failed" and report.gate == "failure"


# ---- severities and the ignore list -----------------------------------------------------------------

@pytest.mark.parametrize(("vector", "score"), [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
    ("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss3_base_scores_match_the_spec_calculator(vector: str, score: float) -> None:
    assert cvss3_base_score(vector) == score


def test_unscorable_vectors_default_to_high() -> None:
    assert severity_from_cvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N") == "high"
    assert severity_from_cvss(None) == "high"


@pytest.mark.parametrize("entry", ['id = "X"\nexpires = 2027-01-01\n', 'id = "X"\nreason = "r"\n',
                                   'id = "X"\nreason = "r"\nexpires = "soon"\n',
                                   'id = "X"\nreason = "r"\nexpires = 2027-01-01\nwhy = 1\n'])
def test_ignore_entries_need_id_reason_and_a_date(tmp_path: Path, entry: str) -> None:
    p = tmp_path / "i.toml"
    p.write_text("[[ignore]]\n" + entry)
    with pytest.raises(ValueError):
        load_ignore_list(p)


def test_the_repository_ignore_list_loads() -> None:
    assert load_ignore_list(REPO / "ci" / "audit-ignore.toml") == []


_ADVISORY = '''```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "demo-crate"
date = "2099-01-01"
url = "https://example.invalid/advisory"
categories = ["memory-corruption"]
cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"

[versions]
patched = [">= 99.0.0"]
```

# Planted test advisory

Test-only advisory for the offline (--cargo-db, --no-fetch) path.
'''

_LOCK = '''version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["demo-crate"]

[[package]]
name = "demo-crate"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "0000000000000000000000000000000000000000000000000000000000000000"
'''


def _real_cargo_audit() -> str | None:
    import shutil

    return shutil.which("cargo-audit") or shutil.which("cargo-audit", path=str(Path.home() / ".cargo" / "bin"))


@pytest.mark.skipif(_real_cargo_audit() is None, reason="cargo-audit not installed")
@pytest.mark.timeout(120)
def test_real_cargo_audit_with_local_advisory_db_finds_planted_advisory(tmp_path: Path) -> None:
    exe = _real_cargo_audit()
    assert exe is not None
    db = tmp_path / "advisory-db"
    (db / "crates" / "demo-crate").mkdir(parents=True)
    (db / "crates" / "demo-crate" / "RUSTSEC-2099-0001.md").write_text(_ADVISORY)
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.lock").write_text(_LOCK)
    report = run_audit(_opts(tmp_path, tools=("cargo-audit",), tool_path=str(Path(exe).parent), cargo_db=db))
    [tool] = report.tools
    assert tool.status == "findings", tool.reason
    assert [(f.id, f.severity, f.location) for f in tool.findings] == [
        ("RUSTSEC-2099-0001", "critical", "demo-crate==1.0.0")]
    assert "--no-fetch" in tool.command


@pytest.mark.timeout(180)
def test_pip_audit_installed_environment_mode_audits_packages(tmp_path: Path, osv_url: str) -> None:
    report = run_audit(_opts(tmp_path, tools=("pip-audit",), osv_url=osv_url, pip_audit_cache_dir=tmp_path / "c"))
    [tool] = report.tools
    assert tool.status == "ok", tool.reason  # the loopback OSV knows no advisory for installed versions
    assert "--local" in tool.command and "--skip-editable" in tool.command
    audited = int(tool.reason.split()[0])
    assert audited > 10  # typer, rich, orjson, pytest, ... were really looked up
