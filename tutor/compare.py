"""Judging one answer on its own: parse it into the step's shape, compare it with a value.

    parse_for(step, "0.6 0.1")   → (Matrix([[3/5], [1/10]]), "")  or (None, "expected …")
    Tolerance.ok(answer, exact)  → entry by entry |a − v| ≤ abs + rel·|v|
    Verdict                      → what a grader says of one step (tutor.grade fills it in)

Nothing here solves or diagnoses; tutor.grade (follow-through, scores) and
tutor.misconceptions (which bug gives this answer) build on it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
import re
from typing import Any

import sympy as sp

from tutor.expr import Parsed, try_parse_answer
from tutor.render import fmt

STATUSES = ("correct", "follow_through", "wrong", "missing", "invalid")


@dataclass(frozen=True)
class Tolerance:
    """Accept an entry a when |a − v| ≤ abs + rel·|v| (the abs part lets zero gradients pass)."""

    abs: Any = sp.Rational(1, 10**4)
    rel: Any = sp.Integer(0)
    label: str = "4 decimals (|error| ≤ 0.0001)"

    @classmethod
    def from_spec(cls, spec) -> "Tolerance":
        """decimals d: abs 10⁻ᵈ · sig n: rel 5·10⁻ⁿ · rel/abs as given · default: 4 decimals."""
        from tutor.exercise import number

        if spec is None:
            return cls()
        if spec.decimals is not None:
            d = spec.decimals
            return cls(sp.Rational(1, 10**d), sp.Integer(0), f"{d} decimals (|error| ≤ 1e-{d})")
        if spec.sig is not None:
            n = spec.sig
            return cls(sp.Rational(1, 10**12), sp.Rational(5, 10**n), f"{n} significant digits")
        a = number(spec.abs) if spec.abs is not None else sp.Integer(0)
        r = number(spec.rel) if spec.rel is not None else sp.Integer(0)
        return cls(a, r, f"abs {fmt(a, 8)}, rel {fmt(r, 8)}")

    def entry_ok(self, a: Any, v: Any) -> bool:
        """Exact for rational values; irrational ones are compared at 40 significant digits."""
        if _rational(a) and _rational(v):
            fa, fv = Fraction(int(a.p), int(a.q)), Fraction(int(v.p), int(v.q))
            return abs(fa - fv) <= _fraction(self.abs) + _fraction(self.rel) * abs(fv)
        ma, mv = _mpf(a), _mpf(v)  # any magnitude (e^(−10¹⁰) from a follow-through)
        if ma is None or mv is None:
            return False
        import mpmath

        with mpmath.workdps(60):
            return abs(ma - mv) <= _mpf(self.abs) + _mpf(self.rel) * abs(mv)

    def ok(self, answer: Any, exact: Any) -> bool:
        if isinstance(exact, sp.MatrixBase):
            return all(self.entry_ok(a, v) for a, v in zip(answer, exact))
        return self.entry_ok(answer, exact)


def _rational(x: Any) -> bool:
    return getattr(x, "is_Rational", False) is True


@lru_cache(maxsize=65536)
def _mpf(x: Any):
    """x as a 45-digit certified mpmath number (exact for a bounded rational)."""
    from tutor.numeric import to_mpf

    return to_mpf(x, 45)


@lru_cache(maxsize=65536)
def _fraction(x: Any) -> Fraction | None:
    """x as a Fraction: exact when rational, else from 40 certified digits."""
    from tutor.numeric import as_fraction

    return as_fraction(x, 40)


def coerce(parsed: Any, like: Any) -> tuple[Any, str]:
    """A parsed answer in the shape of ``like`` (the exact value), or (None, what is wrong).

    Vectors may be typed either way round; a 1×1 quantity may be typed as a plain number.
    The message names both shapes: "expected a 3×2 matrix, got a vector of 2".
    """
    want = f"expected {_wanted(like)}, got {_describe(parsed)}"
    if not isinstance(like, sp.MatrixBase):
        if isinstance(parsed, tuple):
            flat = _flat(parsed)
            if len(flat) == 1:
                return flat[0], ""
            return None, want
        return parsed, ""
    r, c = like.shape
    if r == c == 1:
        flat = _flat(parsed) if isinstance(parsed, tuple) else [parsed]
        if len(flat) == 1:
            return sp.Matrix([[flat[0]]]), ""
        return None, want
    if not isinstance(parsed, tuple):
        return None, want
    if r == 1 or c == 1:
        flat = _flat(parsed)
        is_vec = not isinstance(parsed[0], tuple) or len(parsed) == 1 or all(
            len(row) == 1 for row in parsed)
        if is_vec and len(flat) == r * c:
            return sp.Matrix(r, c, flat), ""
        return None, want
    if isinstance(parsed[0], tuple) and (len(parsed), len(parsed[0])) == (r, c):
        return sp.Matrix([list(row) for row in parsed]), ""
    return None, want


def _flat(parsed) -> list:
    out = []
    for e in parsed:
        out.extend(e if isinstance(e, tuple) else [e])
    return out


def _wanted(like) -> str:
    """The shape of an exact value in words: a single number, a vector of 2, a 3×2 matrix."""
    if not isinstance(like, sp.MatrixBase) or like.shape == (1, 1):
        return "a single number"
    r, c = like.shape
    if r == 1 or c == 1:
        return f"a vector of {r * c}"
    return f"a {r}×{c} matrix"


def _describe(parsed) -> str:
    """The shape of what was typed, in the same words."""
    if not isinstance(parsed, tuple):
        return "a single number"
    if isinstance(parsed[0], tuple):
        if all(len(row) == 1 for row in parsed) and len(parsed) > 1:
            return f"a vector of {len(parsed)}"
        return f"a {len(parsed)}×{len(parsed[0])} matrix"
    if len(parsed) == 1:
        return "a single number in brackets"
    return f"a vector of {len(parsed)}"


def is_trivial(v: Any, tol: "Tolerance | None" = None) -> bool:
    """All zeros (Numbas issue #368): every entry exactly 0 — or, given the exercise's
    tolerance, every entry within it of 0 (an answer of 1e-9 everywhere is as trivial as
    0 everywhere: it is accepted wherever 0 would be)."""
    vals = list(v) if isinstance(v, sp.MatrixBase) else [v]
    if tol is not None:
        return all(tol.entry_ok(x, sp.Integer(0)) for x in vals)
    return all(sp.sympify(x, strict=True) == 0 for x in vals)


@dataclass(frozen=True)
class Verdict:
    step_id: str
    status: str  # one of STATUSES
    answer: str | None = None  # what the student wrote
    value: Any = None  # the answer, parsed and shaped
    expected: Any = None  # the exact value
    follow_value: Any = None  # the value given the student's own earlier answers
    message: str = ""
    first_wrong: str | None = None  # for follow_through: the first wrong step before it
    misconceptions: tuple = field(default_factory=tuple)  # catalogue ids (tutor.misconceptions)
    wrong_entries: tuple = ()  # for a wrong matrix/vector: the entries off ("dW2[2,1]", …)
    zero_causes: tuple = ()  # "dW2[2,1], dW2[2,2] should be 0, not …: <why it is 0>"
    zero_data: tuple = ()  # the same as data: ((entries, tutor.cause.Cause), …)
    # for a named misconception: the buggy rule beside the correct one, with the numbers
    # (tutor.misconceptions.annotate / throughout: a grader's report, which reveals answers)
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


def parse_for(step, text: Any) -> tuple[Any, str]:
    """(value shaped like the step's answer, "") or (None, message)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, "missing"
    r = try_parse_answer(str(text))
    if not isinstance(r, Parsed):
        where = f" (at character {r.offset + 1})" if r.offset is not None else ""
        return None, r.message + where
    return coerce(r.value, step.value)


def same_shape(a: Any, b: Any) -> bool:
    sa = a.shape if isinstance(a, sp.MatrixBase) else None
    sb = b.shape if isinstance(b, sp.MatrixBase) else None
    return sa == sb
