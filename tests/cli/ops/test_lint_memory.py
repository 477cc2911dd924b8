"""SOAK-001 memory bound: `mmctl lint ascii` on a 100 MB one-line file stays under 64 MB peak RSS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.common import json_io

# Runs the real CLI entry point in a fresh interpreter and reports that process's own peak RSS.
# VmHWM belongs to the process's own address space; ru_maxrss would not do: Linux carries the
# pre-exec high-water mark over exec, so a child forked from a big pytest process reports the
# parent's size.
_PROBE = """
import sys
sys.argv = ["mmctl", *sys.argv[1:]]
from mmctl.app import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
with open("/proc/self/status") as fh:
    hwm = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
sys.stderr.write("PEAK_RSS_KB=%s\\n" % hwm)
sys.exit(code)
"""


def _peak_kb(stderr: str) -> int:
    return int(next(line for line in stderr.splitlines() if line.startswith("PEAK_RSS_KB=")).split("=")[1])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc for VmHWM")
@pytest.mark.parametrize("all_lines", [False, True])
def test_100mb_single_line_file_peak_rss_under_64mb(tmp_path: Path, all_lines: bool) -> None:
    big = tmp_path / "one_line.txt"
    block = b"a" * (1 << 20)
    with big.open("wb") as fh:
        for _ in range(100):
            fh.write(block)
        fh.write("caf\u00e9 ".encode() + b"\xff\n")  # a valid and an invalid finding after 100 MB
    args = ["--json", "lint", "ascii", str(big), *(["--all-lines"] if all_lines else [])]
    r = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 6, r.stderr
    doc = json_io.loads(r.stdout)
    kinds = [(f["line"], f["kind"]) for f in doc["findings"]]
    assert kinds == [(1, "long_line"), (1, "non_ascii"), (1, "invalid_utf8")]
    assert doc["findings"][1]["col"] == 100 * (1 << 20) + 4
    peak_mb = _peak_kb(r.stderr) / 1024
    assert peak_mb < 64, f"peak RSS {peak_mb:.1f} MB"
