"""Exit codes shared by every mmctl command; a finding never shares a code with a crash."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1  # unexpected exception: a bug (traceback printed)
    USAGE = 2  # Click's usage errors
    CONFIG = 3  # bad or missing config or secret
    EXCHANGE = 4  # venue unavailable after retries, rejected, auth error
    RISK = 5  # refused by risk, kill switch engaged
    FINDINGS = 6  # a check ran fine and found problems
    INTERRUPTED = 130
