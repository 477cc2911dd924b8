"""POST one admin action to the bot in this container: pause, resume, cancel-all, kill, reload, shutdown.

    docker exec <container> python /usr/local/lib/mm/admin_client.py pause --reason "maintenance"

Stdlib only (the runtime image has no curl). The token is read from MM_ADMIN_TOKEN_FILE (as the
bot reads it), so it never appears on a command line; the answer (JSON) goes to stdout.
Exit codes: 0 ok, 1 the bot refused or failed (HTTP 4xx/5xx), 2 usage or no token, 3 no answer.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

ACTIONS = ("pause", "resume", "cancel-all", "kill", "reset-kill", "reload", "shutdown")


def read_token(env: dict[str, str]) -> str | None:
    path = env.get("MM_ADMIN_TOKEN_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().rstrip("\r\n") or None
        except OSError:
            return None
    return env.get("MM_ADMIN_TOKEN") or None


def post(base_url: str, action: str, token: str, reason: str, timeout_s: float) -> tuple[int, str]:
    """(HTTP status, body); status 0 when the bot did not answer."""
    url = f"{base_url}/admin/{action}?{urllib.parse.urlencode({'reason': reason})}"
    req = urllib.request.Request(url, method="POST", data=b"",  # noqa: S310  # fixed http URL
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        return 0, f"no answer from {base_url}: {getattr(exc, 'reason', exc)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("--reason", default="operator")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (cancel-all waits for the venue)")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    token = read_token(env)
    if token is None:
        sys.stderr.write("error: no admin token: set MM_ADMIN_TOKEN_FILE (or MM_ADMIN_TOKEN)\n")
        return 2
    port = env.get("MM_MONITORING__WEB_PORT", "8080").strip() or "8080"
    base = env.get("MM_ADMIN_URL", f"http://127.0.0.1:{port}").rstrip("/")
    status, body = post(base, args.action, token, args.reason, args.timeout)
    sys.stdout.write(body.rstrip("\n") + "\n")
    if status == 0:
        return 3
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
