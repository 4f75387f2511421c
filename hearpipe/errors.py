"""Error types. Each maps to an exit code of the command line (architecture.md section 4)."""

from __future__ import annotations


class HearpipeError(Exception):
    """Base of all errors a user can cause; the command line prints the message without a traceback."""

    exit_code = 1


class InvalidInput(HearpipeError):
    """A file, option, parameter or audio signal is not acceptable (exit code 2)."""

    exit_code = 2


class FormatMismatch(InvalidInput):
    """Two connected nodes disagree on the signal format."""


class OverBudget(HearpipeError):
    """A graph does not fit a device's memory, MIPS or latency limits (exit code 3)."""

    exit_code = 3
