"""Benchmark `mmctl lint ascii` (SOAK-001): peak RSS and throughput next to grep -P on the same data.

Data sets (generated once under --data-dir):
  one_line.txt  100 MiB in a single line, a few non-ASCII characters near the end
  tree/         ~100 MiB of ordinary Python sources (~12,800 files of ~8 KiB in 100 directories),
                1 file in 100 has a non-ASCII character inside a log call, 1 in 100 in a comment

Each command runs under /usr/bin/time (%e wall seconds, %M peak RSS of the whole process, KiB);
the best of --repeat runs is reported after one warm-up, so both tools read from the page cache.

    .venv/bin/python bench/bench_ascii_lint.py [--data-dir /tmp/mmctl-bench] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20

_TEMPLATE = '''"""Module {n}: generated benchmark source."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class Widget{n}:
    """A small class with a few methods, like ordinary application code."""

    def __init__(self, size: int, name: str) -> None:
        self.size = size
        self.name = name
        self.items: list[int] = []

    def add(self, value: int) -> None:
        if value < 0:
            raise ValueError("negative value")
        self.items.append(value)
        log.debug("widget_add name=%s value=%d", self.name, value)

    def total(self) -> int:
        return sum(self.items)

'''


def _make_one_line(path: Path) -> None:
    block = b"abcdefghij" * (MIB // 10) + b"abcdef"
    with path.open("wb") as fh:
        for _ in range(100):
            fh.write(block[:MIB])
        fh.write("caf\u00e9 \u2713\n".encode())


def _make_tree(root: Path) -> None:
    method = "    def m{k}(self, x: int) -> int:\n        return x * {k} + self.size  # plain comment\n\n"
    for d in range(100):
        sub = root / f"pkg{d:03d}"
        sub.mkdir(parents=True)
        for f in range(128):
            n = d * 128 + f
            body = _TEMPLATE.format(n=n) + "".join(method.format(k=k) for k in range(90))
            if n % 100 == 7:
                body += '    def warn(self) -> None:\n        log.warning("caf\u00e9 overflow")\n'
            if n % 100 == 42:
                body += "# r\u00e9sum\u00e9 in a comment only\n"
            (sub / f"mod{f:03d}.py").write_text(body, encoding="utf-8")


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _timed(argv: list[str], cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS KiB, exit code) of one run under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%e %M", *argv], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        wall, rss = tf.read().split()[-2:]
    return float(wall), int(rss), proc.returncode


def _best(argv: list[str], cwd: Path, repeat: int) -> tuple[float, int, int]:
    _timed(argv, cwd)  # warm-up: page cache, .pyc files
    runs = [_timed(argv, cwd) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "mmctl-bench")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep-data", action="store_true", help="Do not delete the generated data.")
    args = ap.parse_args()
    if not Path("/usr/bin/time").exists() or shutil.which("grep") is None:
        print("needs /usr/bin/time and grep", file=sys.stderr)
        return 1
    data: Path = args.data_dir
    data.mkdir(parents=True, exist_ok=True)
    one_line, tree = data / "one_line.txt", data / "tree"
    if not one_line.exists():
        _make_one_line(one_line)
    if not tree.exists():
        _make_tree(tree)
    mmctl = [sys.executable, "-m", "mmctl", "lint", "ascii"]
    cases = [
        ("100 MiB one line", one_line, [
            ("mmctl lint ascii", [*mmctl, str(one_line)]),
            ("mmctl lint ascii --all-lines", [*mmctl, "--all-lines", str(one_line)]),
            ("grep -P '[^\\x00-\\x7F]'", ["grep", "-cP", r"[^\x00-\x7F]", str(one_line)]),
        ]),
        ("100 MiB source tree", tree, [
            ("mmctl lint ascii", [*mmctl, str(tree)]),
            ("mmctl lint ascii --all-lines", [*mmctl, "--all-lines", str(tree)]),
            ("grep -rP '[^\\x00-\\x7F]'", ["grep", "-rcP", r"[^\x00-\x7F]", str(tree)]),
        ]),
    ]
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    print(f"# mmctl lint ascii benchmark ({env_note}); best of {args.repeat} after a warm-up")
    print(f"{'data':<22} {'command':<32} {'wall s':>8} {'MiB/s':>8} {'peak RSS MiB':>13} {'exit':>5}")
    for label, target, commands in cases:
        size = _size(target)
        for name, argv in commands:
            wall, rss_kib, code = _best(argv, ROOT, args.repeat)
            print(f"{label:<22} {name:<32} {wall:>8.2f} {size / MIB / max(wall, 0.01):>8.0f} "
                  f"{rss_kib / 1024:>13.1f} {code:>5}")
    if not args.keep_data:
        shutil.rmtree(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
