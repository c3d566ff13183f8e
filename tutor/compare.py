"""Judging one answer on its own: parse it into the step's shape, compare it with a value.

    parse_for(step, "0.6 0.1")   → (Matrix([[3/5], [1/10]]), None)  or (None, Unread(…))
    Tolerance.ok(answer, exact)  → entry by entry |a − v| ≤ abs + rel·|v|
    Verdict                      → what a grader says of one step (tutor.grade fills it in)

Nothing here solves or diagnoses; tutor.grade (follow-through, scores) and
tutor.misconceptions (which bug gives this answer) build on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any

import sympy as sp

from tutor.expr import Parsed, try_parse_answer
from tutor.equivalence import is_symbolic
from tutor.tolerance import Tolerance  # noqa: F401  (judging's names for it, re-exported)

STATUSES = ("correct", "follow_through", "wrong", "missing", "invalid")


@dataclass(frozen=True)
class Unread:
    """Why an answer could not be read as the step's value, as data (its words:
    tutor.words.unread — "expected a 3×2 matrix, got a vector of 2").

    kind "missing": nothing typed · "syntax": the parser's own ``message`` (tutor.expr, the
    input layer's words for what it refused) at ``offset`` · "shape": ``want`` the step's
    shape, ``got`` what was typed, each ("number",), ("bracketed",) — one number in
    brackets —, ("vector", n) or ("matrix", rows, cols)."""

    kind: str
    message: str = ""
    offset: int | None = None
    want: tuple = ()
    got: tuple = ()


def coerce(parsed: Any, like: Any) -> tuple[Any, Unread | None]:
    """A parsed answer in the shape of ``like`` (the exact value), or (None, the shapes).

    Vectors may be typed either way round; a 1×1 quantity may be typed as a plain number.
    """
    want = Unread("shape", want=_wanted(like), got=_described(parsed))
    if not isinstance(like, sp.MatrixBase):
        if isinstance(parsed, tuple):
            flat = _flat(parsed)
            if len(flat) == 1:
                return flat[0], None
            return None, want
        return parsed, None
    r, c = like.shape
    if r == c == 1:
        flat = _flat(parsed) if isinstance(parsed, tuple) else [parsed]
        if len(flat) == 1:
            return sp.Matrix([[flat[0]]]), None
        return None, want
    if not isinstance(parsed, tuple):
        return None, want
    if r == 1 or c == 1:
        flat = _flat(parsed)
        is_vec = not isinstance(parsed[0], tuple) or len(parsed) == 1 or all(
            len(row) == 1 for row in parsed)
        if is_vec and len(flat) == r * c:
            return sp.Matrix(r, c, flat), None
        return None, want
    if isinstance(parsed[0], tuple) and (len(parsed), len(parsed[0])) == (r, c):
        return sp.Matrix([list(row) for row in parsed]), None
    return None, want


def _flat(parsed) -> list:
    out = []
    for e in parsed:
        out.extend(e if isinstance(e, tuple) else [e])
    return out


def _wanted(like) -> tuple:
    """The shape of an exact value: ("number",), ("vector", 2), ("matrix", 3, 2)."""
    if not isinstance(like, sp.MatrixBase) or like.shape == (1, 1):
        return ("number",)
    r, c = like.shape
    if r == 1 or c == 1:
        return ("vector", r * c)
    return ("matrix", r, c)


def _described(parsed) -> tuple:
    """The shape of what was typed, the same way (("bracketed",): one number in brackets)."""
    if not isinstance(parsed, tuple):
        return ("number",)
    if isinstance(parsed[0], tuple):
        if all(len(row) == 1 for row in parsed) and len(parsed) > 1:
            return ("vector", len(parsed))
        return ("matrix", len(parsed), len(parsed[0]))
    if len(parsed) == 1:
        return ("bracketed",)
    return ("vector", len(parsed))


def is_trivial(v: Any, tol: "Tolerance | None" = None) -> bool:
    """All zeros (Numbas issue #368): every entry exactly 0 — or, given the exercise's
    tolerance, every entry within it of 0 (an answer of 1e-9 everywhere is as trivial as
    0 everywhere: it is accepted wherever 0 would be)."""
    vals = list(v) if isinstance(v, sp.MatrixBase) else [v]
    if any(is_symbolic(x) for x in vals):  # an expression: 0 only when it is 0 as built
        return all(sp.sympify(x, strict=True) == 0 for x in vals)
    if tol is not None:
        return all(tol.entry_ok(x, sp.Integer(0)) for x in vals)
    return all(sp.sympify(x, strict=True) == 0 for x in vals)


@dataclass(frozen=True)
class Reason:
    """Why a step's verdict is what it is, as data (its words: tutor.words.verdict_text).

    ==============  ================================================================
    kind            fields
    ==============  ================================================================
    no_answer
    unread          unread: the Unread
    given           text: a reason in the input layer's own words (an answer sheet's
                    line that could not be read, tutor.sheets)
    over_budget     what ("reading this answer"), seconds
    does_not_match
    differs         an expression answer that is another function: what (the quantity's
                    name, ∂L/∂x), value (the tutor.equivalence.Judged, with a point)
    rounded_chain   (accepted: consistent with the student's rounded earlier answers)
    follow_through  step: the first wrong step before it
    rounded_zero    value: the step's value given the earlier answers (0 only rounded)
    nothing_left    step: the backward step the earlier answers make all zeros
    after_zeroed    step: the earlier answer that is all zeros (all_zeros) or nearly 0
    ==============  ================================================================
    """

    kind: str
    unread: Unread | None = None
    text: str = ""
    what: str = ""
    seconds: float | None = None
    step: str | None = None
    value: Any = None
    all_zeros: bool = False


@dataclass(frozen=True)
class ZeroMiss:
    """Entries written as non-zero that are 0, with the one cause they share."""

    entries: tuple  # 0-based (row, col) of each, in the step's shape; ((),) for a scalar
    written: tuple  # what the student wrote there, entry by entry
    shape: tuple | None  # the step's shape (None: a scalar)
    cause: Any  # the tutor.cause.Cause the solver recorded


@dataclass(frozen=True)
class Verdict:
    step_id: str
    status: str  # one of STATUSES
    answer: str | None = None  # what the student wrote
    value: Any = None  # the answer, parsed and shaped
    expected: Any = None  # the exact value
    follow_value: Any = None  # the value given the student's own earlier answers
    reason: "Reason | None" = None  # why, as data (its words: tutor.words.verdict_text)
    first_wrong: str | None = None  # for follow_through: the first wrong step before it
    misconceptions: tuple = field(default_factory=tuple)  # catalogue ids (tutor.misconceptions)
    wrong_entries: tuple = ()  # for a wrong matrix/vector: the 0-based entries off ((1, 0), …)
    # for a wrong entry that should be 0: its ZeroMiss (entries, what was written, the
    # Cause the solver recorded), one per cause — "dW2[2,1], dW2[2,2] should be 0, not …"
    zero_misses: tuple = ()
    # for a named misconception: the first one's Diagnosis (tutor.misconceptions.annotate /
    # throughout), as data; and its words, the buggy rule beside the correct one with the
    # numbers (tutor.words.misconceptions.explain: a grader's report, which reveals answers),
    # put in by the front end that reports it (tutor.check)
    diagnosis: Any = None
    explanation: str = ""
    comma: str | None = None  # the answer's first number with a decimal comma ("-0,3654")

    @property
    def code(self) -> str:
        """A stable answer-note code a teacher can count: ``delta2.no-relu-mask``."""
        if self.misconceptions:
            return f"{self.step_id}.{self.misconceptions[0]}"
        return f"{self.step_id}.{self.status.replace('_', '-')}"


def decimal_comma(step, text: str) -> str | None:
    """The student's first number written with a decimal comma ('0,552' in '0,552'; '0,6'
    in '0,6 0,1'), when reading its commas as decimal points gives an answer — else None.
    In brackets a comma between digits is a decimal comma only where the entries are
    otherwise set apart by ', ' or spaces ('[0,6, 0,1]', '[0,6 0,1]'), never in a list typed
    without spaces ('[1,2]', '[[1,2],[3]]'), and only if the decimal reading has the step's
    shape."""
    m = re.search(r"(?<![\d.])\d+,\d+", text)
    if m is None:
        return None
    if "[" in text:
        groups = [g for g in re.findall(r"\[([^\[\]]*)\]", text) if re.search(r"\d,\d", g)]
        if not groups or any(not re.search(r"\s", g.strip()) for g in groups):
            return None
    r = try_parse_answer(re.sub(r"(?<=\d),(?=\d)", ".", text))
    if not isinstance(r, Parsed):
        return None
    if "[" in text and coerce(r.value, step.value)[0] is None:
        return None
    return m.group(0)


def parse_for(step, text: Any, names: dict | None = None) -> tuple[Any, Unread | None]:
    """(value shaped like the step's answer, None) or (None, why it could not be read).

    A symbolic step (its value an expression in symbols) takes an expression answer in the
    exercise's ``names`` (Worked.answer_names: leaves and nodes), read by
    tutor.expr.parse_symbolic; every other step a number, vector or matrix."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, Unread("missing")
    if is_symbolic(step.value):
        from tutor.errors import ExprError
        from tutor.expr import parse_symbolic

        try:
            return parse_symbolic(str(text), names or {}), None
        except ExprError as err:
            return None, Unread("syntax", err.message, err.offset)
    r = try_parse_answer(str(text))
    if not isinstance(r, Parsed):
        return None, Unread("syntax", r.message, r.offset)
    return coerce(r.value, step.value)


def same_shape(a: Any, b: Any) -> bool:
    sa = a.shape if isinstance(a, sp.MatrixBase) else None
    sb = b.shape if isinstance(b, sp.MatrixBase) else None
    return sa == sb
