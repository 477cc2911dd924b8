"""ASCII lint: chunk edges, long lines, invalid UTF-8, dotfile paths, the default log-call mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmctl.ops.ascii_lint import LintOptions, lint_paths


def _lint(paths: list[str], **kw: object) -> list[tuple[str, int, int, str]]:
    report = lint_paths(paths, LintOptions(**kw))  # type: ignore[arg-type]
    assert not report.errors
    return [(f.path, f.line, f.col, f.kind) for f in report.findings]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dotfile_paths_keep_their_leading_dot(in_tmp: Path) -> None:
    (in_tmp / ".github" / "workflows").mkdir(parents=True)
    (in_tmp / ".github" / "workflows" / "ci.yml").write_bytes("name: caf\u00e9\n".encode())
    (in_tmp / ".hidden.toml").write_bytes("a = '\u00fc'\n".encode())
    found = _lint(["."])
    assert ("./.github/workflows/ci.yml", 1, 10, "non_ascii") not in found
    assert (".github/workflows/ci.yml", 1, 10, "non_ascii") in found
    assert (".hidden.toml", 1, 6, "non_ascii") in found
    assert _lint([".github"]) == [(".github/workflows/ci.yml", 1, 10, "non_ascii")]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_multibyte_char_split_across_chunk_boundary_is_one_valid_char(in_tmp: Path, split: int) -> None:
    chunk = 64
    ch = "\u20ac\U0001f600"[0 if split < 3 else 1].encode()  # 3-byte euro, 4-byte emoji
    prefix = b"x" * (chunk - split)  # the char starts `split` bytes before the chunk edge
    (in_tmp / "a.txt").write_bytes(prefix + ch + b" tail\nok\n")
    report = lint_paths(["a.txt"], LintOptions(all_lines=True, chunk_size=chunk, max_line_bytes=10_000))
    assert [(f.line, f.col, f.kind) for f in report.findings] == [(1, chunk - split + 1, "non_ascii")]
    assert "invalid" not in report.findings[0].message


def test_line_over_limit_is_reported_and_scan_continues_to_next_finding(in_tmp: Path) -> None:
    (in_tmp / "big.txt").write_bytes(b"a" * 5000 + b"\nplain\nsecond caf\xc3\xa9\n")
    found = _lint(["big.txt"], all_lines=True, chunk_size=256, max_line_bytes=1000)
    assert found == [("big.txt", 1, 1001, "long_line"), ("big.txt", 3, 11, "non_ascii")]


def test_long_line_with_non_ascii_far_inside_reports_true_column(in_tmp: Path) -> None:
    (in_tmp / "x.txt").write_bytes("\u00e9".encode() + b"b" * 3000 + "\u00fc".encode() + b"\n")
    report = lint_paths(["x.txt"], LintOptions(all_lines=True, chunk_size=128, max_line_bytes=100_000))
    assert [(f.line, f.col) for f in report.findings] == [(1, 1)]  # one finding per line and kind
    (in_tmp / "y.txt").write_bytes(b"b" * 3000 + "\u00fc".encode() + b"\n")
    report = lint_paths(["y.txt"], LintOptions(all_lines=True, chunk_size=128, max_line_bytes=100_000))
    assert [(f.line, f.col) for f in report.findings] == [(1, 3001)]


def test_invalid_utf8_is_reported_not_replaced(in_tmp: Path) -> None:
    (in_tmp / "bad.cfg").write_bytes(b"ok = 1\nname = \xff\xfe x\ntrunc = \xe2\x82\n")
    report = lint_paths(["bad.cfg"], LintOptions())
    kinds = [(f.line, f.col, f.kind) for f in report.findings]
    assert kinds == [(2, 8, "invalid_utf8"), (3, 9, "invalid_utf8")]
    assert "0xff" in report.findings[0].message and "\\xff" in report.findings[0].excerpt
    assert report.status == "findings"


def test_truncated_sequence_at_eof_is_invalid(in_tmp: Path) -> None:
    (in_tmp / "eof.txt").write_bytes(b"abc\xe2\x82")
    assert _lint(["eof.txt"], all_lines=True) == [("eof.txt", 1, 4, "invalid_utf8")]


def test_invalid_utf8_in_python_reported_in_default_mode(in_tmp: Path) -> None:
    (in_tmp / "m.py").write_bytes(b"# \xff comment\nx = 1\n")
    found = _lint(["m.py"])
    assert ("m.py", 1, 3, "invalid_utf8") in found


def test_default_mode_flags_only_log_and_print_calls_in_python(in_tmp: Path) -> None:
    src = (
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        "GREETING = 'gr\u00fc\u00df'  # not a log call\n"
        "log.info('caf\u00e9 %s', GREETING)\n"
        "logging.getLogger('x').warning(\n"
        "    'multi \u2713 line')\n"
        "print('\u00e9')\n"
        "self_logger = log\n"
        "self_logger.error('\u00e9')\n"
        "console.print('\u00e9')\n"
    )
    (in_tmp / "mod.py").write_text(src, encoding="utf-8")
    found = _lint(["mod.py"])
    assert [(line, col) for _, line, col, _ in found] == [(4, 14), (6, 12), (7, 8), (9, 20), (10, 16)]
    assert len(_lint(["mod.py"], all_lines=True)) == 6


def test_python_over_parse_cap_falls_back_to_all_lines_and_says_so(in_tmp: Path) -> None:
    (in_tmp / "huge.py").write_bytes(b"x = 1\n" * 100 + "y = '\u00e9'\n".encode())
    report = lint_paths(["huge.py"], LintOptions(python_parse_cap_bytes=100))
    assert [(f.line, f.kind) for f in report.findings] == [(101, "non_ascii")]
    assert report.notes and "every line" in report.notes[0].message


def test_skips_git_venvs_build_dirs_and_binaries(in_tmp: Path) -> None:
    bad = "k = '\u00e9'\n".encode()
    for d in (".git", ".venv", "venv", "dist", "build", "target", "node_modules", "myenv"):
        (in_tmp / d).mkdir()
        (in_tmp / d / "c.toml").write_bytes(bad)
    (in_tmp / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    (in_tmp / "blob.toml").write_bytes(b"\x00\x01" + bad)  # NUL in the first block: binary
    (in_tmp / "keep.toml").write_bytes(bad)
    report = lint_paths(["."], LintOptions())
    assert [f.path for f in report.findings] == ["keep.toml"]
    assert report.files_skipped >= 1


def test_missing_path_is_an_error_not_clean(in_tmp: Path) -> None:
    report = lint_paths(["nope"], LintOptions())
    assert report.status == "failed"


def test_findings_per_file_are_capped_and_counted(in_tmp: Path) -> None:
    (in_tmp / "many.txt").write_bytes("\u00e9\n".encode() * 500)
    report = lint_paths(["many.txt"], LintOptions(all_lines=True, max_findings_per_file=10))
    assert len(report.findings) == 10 and report.truncated == ["many.txt"] and report.status == "findings"


@settings(max_examples=60, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(["a", "\n", "\u00e9", "\u20ac", "\U0001f600"]), max_size=300),
       chunk=st.integers(min_value=16, max_value=40))
def test_chunked_scan_matches_whole_file_reference(tmp_path_factory: pytest.TempPathFactory, text: str,
                                                   chunk: int) -> None:
    path = tmp_path_factory.mktemp("h") / "f.txt"
    path.write_bytes(text.encode())
    report = lint_paths([str(path)], LintOptions(all_lines=True, chunk_size=chunk, max_line_bytes=10**6))
    expected = []
    for n, line in enumerate(text.split("\n"), start=1):
        col = next((i + 1 for i, c in enumerate(line) if not c.isascii()), None)
        if col is not None:
            expected.append((n, col))
    assert [(f.line, f.col) for f in report.findings] == expected
    assert all(f.kind == "non_ascii" for f in report.findings)


def test_lint_is_clean_on_the_ops_code_itself() -> None:
    root = Path(__file__).resolve().parents[3]
    cwd = os.getcwd()
    os.chdir(root)
    try:
        report = lint_paths(["mmctl/ops/ascii_lint.py", "mmctl/ops/retention.py", "mmctl/ops/validator.py",
                             "mmctl/ops/audit.py", "mmctl/ops/checks.py", "mmctl/ops/severity.py", "ci",
                             "bot/observability/logrotate.py"], LintOptions())
    finally:
        os.chdir(cwd)
    assert report.status == "clean", [f.render() for f in report.findings]


@pytest.mark.parametrize(("raw", "expected"), [
    ("\u00e9".encode() + b"\xff", [(1, "non_ascii"), (2, "invalid_utf8")]),
    (b"\xff" + "\u00e9".encode(), [(1, "invalid_utf8"), (2, "non_ascii")]),
    (b"a\x80b", [(2, "invalid_utf8")]),
])
def test_valid_and_invalid_bytes_in_one_run_are_both_reported(in_tmp: Path, raw: bytes,
                                                             expected: list[tuple[int, str]]) -> None:
    (in_tmp / "r.txt").write_bytes(raw + b"\n")
    report = lint_paths(["r.txt"], LintOptions(all_lines=True))
    assert sorted((f.col, f.kind) for f in report.findings) == expected


@settings(max_examples=80, deadline=None)
@given(raw=st.lists(st.sampled_from([b"a", b"\n", "\u00e9".encode(), "\u20ac".encode(), b"\xff", b"\x80",
                                     b"\xe2\x82", "\U0001f600".encode()]), max_size=200).map(b"".join),
       chunk=st.integers(min_value=16, max_value=40))
def test_invalid_utf8_reported_exactly_on_lines_that_do_not_decode(tmp_path_factory: pytest.TempPathFactory,
                                                                   raw: bytes, chunk: int) -> None:
    path = tmp_path_factory.mktemp("h") / "f.txt"
    path.write_bytes(raw)
    report = lint_paths([str(path)], LintOptions(all_lines=True, chunk_size=chunk, max_line_bytes=10**6,
                                                 max_findings_per_file=10**6))
    got = sorted(f.line for f in report.findings if f.kind == "invalid_utf8")
    expected = []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            expected.append(n)
    assert got == expected
