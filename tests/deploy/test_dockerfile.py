"""The image: multi-stage maturin build, non-root, init, health probe without curl, graceful stop."""

from __future__ import annotations

import fnmatch
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from deploy_support import DEPLOY, ROOT

from bot.common import json_io

DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [ln for ln in DOCKERFILE.read_text(encoding="utf-8").splitlines() if not ln.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (word, _) in enumerate(ins) if word == "FROM")
    return ins[last_from:]


def test_build_is_multi_stage_with_maturin() -> None:
    ins = instructions()
    assert sum(1 for w, _ in ins if w == "FROM") >= 2
    assert any(w == "RUN" and "maturin build" in a for w, a in ins)
    assert not any(w == "RUN" and ("maturin" in a or "cargo" in a) for w, a in final_stage()), (
        "the runtime stage must not carry the build toolchain")
    assert any(w == "COPY" and "--from=build" in a for w, a in final_stage())


def test_runtime_runs_as_non_root() -> None:
    users = [a for w, a in final_stage() if w == "USER"]
    assert users, "no USER in the runtime stage"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_entrypoint_is_mmctl_run_under_tini_with_sigterm() -> None:
    stage = dict(final_stage())
    entry = json_io.loads(stage["ENTRYPOINT"])
    assert entry[:3] == ["tini", "--", "mmctl"] and entry[-1] == "run", entry
    assert all(arg.startswith("--") or arg == "json" for arg in entry[3:-1]), "only global options before run"
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert any(w == "RUN" and "install" in a and "tini" in a for w, a in final_stage())


def test_healthcheck_probes_healthz_with_python_not_curl() -> None:
    stage = dict(final_stage())
    check = stage["HEALTHCHECK"]
    assert "healthcheck.py" in check and "curl" not in check
    assert "/healthz" in (DEPLOY / "healthcheck.py").read_text(encoding="utf-8")


def test_web_server_binds_all_interfaces_in_the_container() -> None:
    env = " ".join(a for w, a in final_stage() if w == "ENV")
    assert "MM_MONITORING__WEB_HOST=0.0.0.0" in env


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore semantics, enough for our file: last matching pattern wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a/b/c: a, a/b, a/b/c
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatch(c, pat) for c in candidates):
            ignored = not neg
    return ignored


def test_build_context_sends_sources_but_never_secrets_or_state() -> None:
    patterns = [ln.strip() for ln in (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
                if ln.strip() and not ln.startswith("#")]
    for word, args in instructions():
        if word == "COPY" and "--from" not in args:
            for src in args.split()[:-1]:
                probe = src.rstrip("/") + ("/x.py" if src.endswith("/") else "")
                assert not _ignored(probe, patterns), f"COPY {src} is excluded by the dockerignore"
    for private in ("secrets/bybit_api_key", "state/run.json", ".venv/bin/python", "bot/book/_native.abi3.so",
                    "rust/target/release/build/out.rs", ".git/config", "logs/bot.log"):
        assert _ignored(private, patterns), f"{private} would be sent to the build context"


# ---- the health probe and the admin client, against a loopback server ---------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self) -> None:
        self.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        body = b'{"ok": true}'
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"status": 200, "seen": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", handler
    finally:
        srv.shutdown()
        srv.server_close()


def _script(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MM_", "BYBIT_"))}
    return subprocess.run([sys.executable, str(DEPLOY / name), *args], env={**base, **env},
                          capture_output=True, text=True, timeout=30, check=False, cwd=ROOT)


def test_healthcheck_exits_0_on_healthz_200_and_1_otherwise(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    assert _script("healthcheck.py", {"MM_HEALTHCHECK_URL": f"{url}/healthz"}).returncode == 0
    assert handler.seen[-1][:2] == ("GET", "/healthz")
    handler.status = 503
    assert _script("healthcheck.py", {"MM_HEALTHCHECK_URL": f"{url}/healthz"}).returncode == 1


def test_healthcheck_default_url_uses_the_configured_port(server: tuple[str, type[_Handler]]) -> None:
    url, handler = server
    port = url.rsplit(":", 1)[1]
    assert _script("healthcheck.py", {"MM_MONITORING__WEB_PORT": port}).returncode == 0
    assert handler.seen[-1][1] == "/healthz"


def test_healthcheck_exits_1_when_nothing_listens() -> None:
    env = {"MM_HEALTHCHECK_URL": "http://127.0.0.1:9/healthz", "MM_HEALTHCHECK_TIMEOUT_S": "2"}
    res = _script("healthcheck.py", env)
    assert res.returncode == 1 and "healthcheck" in res.stderr


def test_admin_client_posts_with_the_token_from_the_secret_file(
    server: tuple[str, type[_Handler]], tmp_path: Path
) -> None:
    url, handler = server
    token = tmp_path / "mm_admin_token"
    token.write_text("tok-123\n", encoding="utf-8")
    env = {"MM_ADMIN_TOKEN_FILE": str(token), "MM_ADMIN_URL": url}
    res = _script("admin_client.py", env, "pause", "--reason", "alert test")
    assert res.returncode == 0, res.stderr
    assert handler.seen[-1] == ("POST", "/admin/pause?reason=alert+test", "Bearer tok-123")
    assert "tok-123" not in res.stdout + res.stderr
    handler.status = 409
    assert _script("admin_client.py", env, "cancel-all").returncode == 1


def test_admin_client_without_token_or_bot_says_so(tmp_path: Path) -> None:
    assert _script("admin_client.py", {}, "kill").returncode == 2
    token = tmp_path / "t"
    token.write_text("x", encoding="utf-8")
    res = _script("admin_client.py", {"MM_ADMIN_TOKEN_FILE": str(token), "MM_ADMIN_URL": "http://127.0.0.1:9"},
                  "resume", "--timeout", "2")
    assert res.returncode == 3 and "no answer" in res.stdout
