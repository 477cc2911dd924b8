"""Container health probe: exit 0 when the bot's /healthz answers 200, 1 otherwise (stdlib only).

The runtime image has no curl; Docker's HEALTHCHECK runs this with the image's Python.
The port comes from MM_MONITORING__WEB_PORT (the same variable the bot's config reads).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request


def probe(url: str, timeout_s: float) -> tuple[bool, str]:
    """GET `url`; healthy means HTTP 200 within `timeout_s`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310  # fixed http URL
            return resp.status == 200, f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def main() -> int:
    port = os.environ.get("MM_MONITORING__WEB_PORT", "8080").strip() or "8080"
    url = os.environ.get("MM_HEALTHCHECK_URL", f"http://127.0.0.1:{port}/healthz")
    ok, detail = probe(url, float(os.environ.get("MM_HEALTHCHECK_TIMEOUT_S", "3")))
    sys.stderr.write(f"healthcheck {url}: {detail}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
