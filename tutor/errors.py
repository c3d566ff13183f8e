"""Every failure a user can cause, as a message and an exit status.

The messages *are* the user interface: the CLI prints ``str(error)`` and exits with
``error.exit_code``; no traceback reaches a user unless they ask for ``--traceback``.
"""
from __future__ import annotations

from enum import IntEnum


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
        self.message, self.file, self.line, self.col, self.code = message, file, line, col, code
        super().__init__(self.where() + message)

    def where(self) -> str:
        parts = [p for p in (self.file, self.line, self.col) if p is not None]
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
