"""Error types. Each maps to an exit code of the command line (architecture.md section 4)."""

from __future__ import annotations

import reprlib

MAX_MESSAGE_CHARS = 500  # an error is read on a terminal: one line, two at most with a hint


def abbreviate(value: object, limit: int = 60) -> str:
    """repr() of a value from a document, shortened so an error message stays readable."""
    r = reprlib.Repr()
    r.maxstring = r.maxother = r.maxlong = limit
    r.maxlist = r.maxtuple = r.maxdict = r.maxset = 6
    r.maxlevel = 3
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class HearpipeError(Exception):
    """Base of all errors a user can cause; the command line prints the message without a traceback."""

    exit_code = 1

    def __str__(self) -> str:  # bounded whatever a document put into the message
        lines = [" ".join(line.split()) for line in super().__str__().splitlines()]
        text = "\n".join(line for line in lines[:2] if line)
        return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."


class InvalidInput(HearpipeError):
    """A file, option, parameter or audio signal is not acceptable (exit code 2)."""

    exit_code = 2


class FormatMismatch(InvalidInput):
    """Two connected nodes disagree on the signal format."""


class OverBudget(HearpipeError):
    """A graph does not fit a device's memory, MIPS or latency limits (exit code 3)."""

    exit_code = 3
