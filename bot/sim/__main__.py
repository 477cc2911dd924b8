"""`python -m bot.sim`: run the emulator standalone (the benchmark and `mmctl sim` use the same serve())."""

from __future__ import annotations

import argparse
import sys

from bot.sim.config import DEFAULT_SYMBOLS, SimAccount, SimConfig
from bot.sim.server import SimServer, banner, serve


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bot.sim")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--symbols", default=",".join(DEFAULT_SYMBOLS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--api-secret", default=None)
    ap.add_argument("--no-rate-limits", action="store_true")
    a = ap.parse_args(argv)
    acct = SimAccount(**{k: v for k, v in (("api_key", a.api_key), ("api_secret", a.api_secret)) if v})
    cfg = SimConfig(host=a.host, port=a.port, symbols=tuple(s for s in a.symbols.split(",") if s), seed=a.seed,
                    speed=a.speed, accounts=(acct,), rate_limits=not a.no_rate_limits,
                    ip_limit_per_5s=0 if a.no_rate_limits else 600)

    def started(sim: SimServer) -> None:
        sys.stdout.write("".join(f"{k} {v}\n" for k, v in banner(sim).items()))
        sys.stdout.flush()

    serve(cfg, started)


if __name__ == "__main__":
    main()
