"""How long `mmctl --help` and `import mmctl.app` take (median of N fresh processes).

Run: python bench/bench_cli_startup.py [--n 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(argv: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    cases = {
        "python -c pass (floor)": [sys.executable, "-c", "pass"],
        "import mmctl.app": [sys.executable, "-c", "import mmctl.app"],
        "mmctl --help": [sys.executable, "-m", "mmctl", "--help"],
        "mmctl config --help": [sys.executable, "-m", "mmctl", "config", "--help"],
    }
    for name, argv in cases.items():
        runs = timed(argv, args.n)
        print(f"{name:28s} median {statistics.median(runs) * 1000:7.1f} ms   "
              f"p90 {sorted(runs)[int(0.9 * len(runs)) - 1] * 1000:7.1f} ms  (n={args.n})")


if __name__ == "__main__":
    main()
