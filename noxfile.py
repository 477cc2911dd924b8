"""The one entry point for checks: nox -s tests | lint | typecheck | rust | stubtest | deploy | audit | bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "rust"]
nox.options.reuse_existing_virtualenvs = True
PY = "3.11"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    """The full test suite (what CI runs)."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session(python=PY)
def lint(session: nox.Session) -> None:
    """ruff, import contracts, ASCII lint and the full-stack validator's static steps."""
    _install(session)
    session.run("ruff", "check", "bot", "mmctl", "tests", "noxfile.py")
    session.run("lint-imports")
    session.run("mmctl", "lint", "ascii", "bot", "mmctl", "ci", ".github")


@nox.session(python=PY)
def typecheck(session: nox.Session) -> None:
    _install(session)
    session.run("mypy", "bot", "mmctl")


@nox.session(python=False)
def rust(session: nox.Session) -> None:
    session.run("cargo", "test", "--manifest-path", "rust/Cargo.toml", external=True)
    session.run("cargo", "clippy", "--manifest-path", "rust/Cargo.toml", "--all-targets", "--", "-D", "warnings",
                external=True)


@nox.session(python=PY)
def stubtest(session: nox.Session) -> None:
    """The hand-written bot/book/_native.pyi matches the compiled module."""
    _install(session)
    session.run("python", "-m", "mypy.stubtest", "bot.book._native")


@nox.session(python=PY)
def deploy(session: nox.Session) -> None:
    """Compose validation and promtool rule tests."""
    _install(session)
    session.run("pytest", "tests/deploy", *session.posargs)


@nox.session(python=PY)
def audit(session: nox.Session) -> None:
    """Security scans (SEC-002): pip-audit, bandit, cargo-audit."""
    _install(session)
    session.run("mmctl", "audit", *session.posargs)


@nox.session(python=PY)
def bench(session: nox.Session) -> None:
    """Benchmarks, on demand only (never in CI): nox -s bench -- bench/bench_json.py"""
    _install(session)
    scripts = session.posargs or ["bench/bench_json.py"]
    for script in scripts:
        session.run("python", script)


@nox.session(python=PY)
def soak_smoke(session: nox.Session) -> None:
    """A few minutes of soak against the emulator with the KPI gate."""
    _install(session)
    session.run("mmctl", "soak", "--hours", "0.05", *session.posargs)
