"""Every failure a user can cause, as a message and an exit status.

The messages *are* the user interface: the CLI prints ``str(error)`` and exits with
``error.exit_code``; no traceback reaches a user unless they ask for ``--traceback``.
"""
from __future__ import annotations

import os
import re
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # wrong answers, invalid exercises
    USAGE = 2  # bad command line, unreadable or malformed input
    INTERNAL = 3  # a bug in tutor (said as one line; --traceback shows it)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it)


class TutorError(Exception):
    """Base of every error whose message is meant for the user."""

    exit_code: ExitCode = ExitCode.USAGE


class InputError(TutorError):
    """Untrusted input (an exercise file, an answer sheet) that cannot be read.

    ``file:line:col: message`` when the position is known. ``line``/``col`` are 1-based.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 col: int | None = None, code: str = "E000"):
        file = getattr(line, "file", None) or file  # a line of a base file (extends:) says so
        self.message, self.file, self.line, self.col, self.code = message, file, line, col, code
        super().__init__(self.where() + message)

    def where(self) -> str:
        parts = [p for p in (path_text(self.file) if self.file is not None else None, self.line,
                             self.col) if p is not None]
        return ":".join(str(p) for p in parts) + ": " if parts else ""

    def located(self, file: str | None = None, line: int | None = None,
                col: int | None = None) -> "InputError":
        """The same error with its position filled in where it was unknown."""
        return type(self)(self.message, self.file or file, self.line or line,
                          self.col or col, self.code)


class ExprError(InputError):
    """An expression that is not in the grammar, too large, or names something unknown.

    ``offset`` is the 0-based character offset in the expression text, when known.
    """

    def __init__(self, message: str, offset: int | None = None, **kw):
        self.offset = offset
        super().__init__(message, **kw)

    def located(self, file=None, line=None, col=None):
        # Point inside the expression when we know where it starts.
        if self.offset is not None and line is not None and col is not None and self.line is None:
            col = col + self.offset
        err = ExprError(self.message, self.offset, file=self.file or file,
                        line=self.line or line, col=self.col or col, code=self.code)
        return err


class ExerciseError(InputError):
    """An exercise that parses as YAML but does not make sense (cycle, shapes, names)."""


class SolveError(ExerciseError):
    """A value the engine refuses (log(0), a number with thousands of digits, BCE at ŷ = 1),
    found while solving; ``path`` is where in the file (the node), for core to locate."""

    def __init__(self, message: str, path: tuple = (), code: str = "E240"):
        self.path = path
        super().__init__(message, code=code)


class UsageError(TutorError):
    """A bad command line: unknown exercise id, conflicting options."""


# ─── text from outside, made safe to show ─────────────────────────────────────────────
# C0/C1 controls, bidirectional marks and overrides, the line/paragraph separators a terminal
# may break on, U+FFFE/U+FFFF (not characters: XML 1.0 refuses them), and lone surrogates
# (a file name's undecodable bytes under surrogateescape: not UTF-8, so no JSON, CSV or XML)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069\ud800-\udfff\ufffe\uffff]")


def _escape(m: re.Match) -> str:
    c = ord(m.group())
    if 0xDC80 <= c <= 0xDCFF:  # the byte os.fsdecode could not decode: shown as that byte
        return f"\\x{c - 0xDC00:02x}"
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clip(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def visible(text: Any, lines: bool = False) -> str:
    """Outside text made safe to show on a terminal, or to write as JSON, CSV or XML: every
    control character — ESC, BEL, CR, C1 codes, the bidirectional overrides that reorder what
    is seen — becomes a visible escape (``\\x1b``, ``\\u202e``), and a file name's bytes
    that are not UTF-8 become ``\\xff``, so a student's answer, name or file name cannot
    retitle the window, clear the screen, recolour the report or make an export invalid.
    Everything that displays sheet text or a file name goes through this. ``lines`` keeps
    newlines and tabs (an author's multi-line notes)."""
    t = "" if text is None else str(text)
    if lines:
        return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else _escape(m), t)
    return _CONTROL.sub(_escape, t)


def path_text(path: "str | os.PathLike") -> str:
    """A file name as shown in a message or an export: :func:`visible` of its text."""
    return visible(os.fspath(path) if not isinstance(path, str) else path)
