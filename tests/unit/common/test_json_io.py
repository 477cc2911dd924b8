from __future__ import annotations

import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from bot.common import json_io


def test_roundtrip_keeps_decimal_exact(tmp_path: Path) -> None:
    doc = {"price": Decimal("30000.10"), "qty": Decimal("0.001"), "n": 3, "s": "x"}
    assert json_io.loads(json_io.dumps(doc)) == {"price": "30000.10", "qty": "0.001", "n": 3, "s": "x"}
    json_io.save_file(tmp_path / "a.json", doc)
    assert json_io.load_file(tmp_path / "a.json")["price"] == "30000.10"


def test_malformed_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        json_io.loads(b"{not json")


def test_crash_between_write_and_rename_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "snap.json"
    json_io.save_file(target, {"v": "old"})
    # A real process dies (os._exit) at the moment it would rename the temp file into place.
    code = (
        "import os, sys\n"
        "from bot.common import json_io\n"
        "os.replace = lambda *a, **k: os._exit(9)\n"
        f"json_io.save_file({str(target)!r}, {{'v': 'new' * 1000}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == 9
    assert json_io.load_file(target) == {"v": "old"}


def test_failed_write_leaves_no_temp_and_old_file(tmp_path: Path) -> None:
    target = tmp_path / "snap.json"
    json_io.save_file(target, {"v": 1})
    with pytest.raises(TypeError):
        json_io.save_file(target, {"v": object()})
    assert json_io.load_file(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["snap.json"]


def test_concurrent_writers_never_tear_the_file(tmp_path: Path) -> None:
    target = tmp_path / "c.json"
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                json_io.save_file(target, {"writer": n, "i": i, "pad": "x" * 2000})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    doc = json_io.load_file(target)
    assert doc["i"] == 49 and len(doc["pad"]) == 2000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
