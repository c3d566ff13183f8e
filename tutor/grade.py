"""Judging answers: tolerance, shapes, and follow-through. Shared by practice and check.

A step is
  correct         within tolerance of the exact value — or of the value recomputed from the
                  student's own earlier answers when those were all correct (rounding carried);
  follow_through  wrong, but right given the student's own earlier (wrong) answers;
  wrong / missing / invalid (does not parse, or the wrong shape).
One extra solve with every answer as an override gives every step's follow-through value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy as sp

from tutor.expr import Parsed, try_parse_answer
from tutor.render import fmt, shape_text

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
        diff = a - v
        bound = self.abs + self.rel * abs(v)
        if diff.is_Rational and bound.is_Rational:
            return abs(diff) <= bound
        return bool(sp.N(abs(diff), 30) <= sp.N(bound, 30))

    def ok(self, answer: Any, exact: Any) -> bool:
        if isinstance(exact, sp.MatrixBase):
            return all(self.entry_ok(a, v) for a, v in zip(answer, exact))
        return self.entry_ok(answer, exact)


def coerce(parsed: Any, like: Any) -> tuple[Any, str]:
    """A parsed answer in the shape of ``like`` (the exact value), or (None, what is wrong).

    Vectors may be typed either way round; a 1×1 quantity may be typed as a plain number.
    """
    if not isinstance(like, sp.MatrixBase):
        if isinstance(parsed, tuple):
            flat = _flat(parsed)
            if len(flat) == 1:
                return flat[0], ""
            return None, f"expected a single number, got {_describe(parsed)}"
        return parsed, ""
    r, c = like.shape
    if r == c == 1:
        flat = _flat(parsed) if isinstance(parsed, tuple) else [parsed]
        if len(flat) == 1:
            return sp.Matrix([[flat[0]]]), ""
        return None, f"expected a single number, got {_describe(parsed)}"
    if not isinstance(parsed, tuple):
        return None, f"expected a {shape_text(like)}, got a single number"
    if r == 1 or c == 1:
        flat = _flat(parsed)
        is_vec = not isinstance(parsed[0], tuple) or len(parsed) == 1 or all(
            len(row) == 1 for row in parsed)
        if is_vec and len(flat) == r * c:
            return sp.Matrix(r, c, flat), ""
        return None, f"expected a vector of {r * c}, got {_describe(parsed)}"
    if isinstance(parsed[0], tuple) and (len(parsed), len(parsed[0])) == (r, c):
        return sp.Matrix([list(row) for row in parsed]), ""
    return None, f"expected a {r}×{c} matrix, got {_describe(parsed)}"


def _flat(parsed) -> list:
    out = []
    for e in parsed:
        out.extend(e if isinstance(e, tuple) else [e])
    return out


def _describe(parsed) -> str:
    if not isinstance(parsed, tuple):
        return "a single number"
    if isinstance(parsed[0], tuple):
        return f"a {len(parsed)}×{len(parsed[0])} matrix"
    return f"a vector of {len(parsed)}"


def is_trivial(v: Any) -> bool:
    """All zeros: an answer that must not earn follow-through (Numbas issue #368)."""
    vals = list(v) if isinstance(v, sp.MatrixBase) else [v]
    return all(sp.sympify(x) == 0 for x in vals)


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

    @property
    def code(self) -> str:
        """A stable answer-note code a teacher can count: ``delta2.no-relu-mask``."""
        if self.misconceptions:
            return f"{self.step_id}.{self.misconceptions[0]}"
        return f"{self.step_id}.{self.status.replace('_', '-')}"


def parse_for(step, text: Any) -> tuple[Any, str]:
    """(value shaped like the step's answer, "") or (None, message)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, "missing"
    r = try_parse_answer(str(text))
    if not isinstance(r, Parsed):
        where = f" (at character {r.offset + 1})" if r.offset is not None else ""
        return None, r.message + where
    return coerce(r.value, step.value)


def grade(worked, answers: Mapping[str, Any], diagnose: bool = True) -> list[Verdict]:
    """Judge every step of ``worked`` (tutor.core.Worked) against a student's ``answers``."""
    from tutor.solve import solve

    steps, tol = worked.steps, worked.tolerance
    parsed: dict[str, Any] = {}
    first: dict[str, Verdict] = {}
    for s in steps:
        text = answers.get(s.id)
        value, err = parse_for(s, text)
        if err == "missing":
            first[s.id] = Verdict(s.id, "missing", None, expected=s.value, message="no answer")
        elif value is None:
            first[s.id] = Verdict(s.id, "invalid", str(text), expected=s.value, message=err)
        else:
            parsed[s.id] = value
            ok = tol.ok(value, s.value)
            first[s.id] = Verdict(s.id, "correct" if ok else "wrong", str(text), value, s.value,
                                  message="" if ok else "does not match")
    if all(v.status in ("correct", "missing") for v in first.values()):
        return [first[s.id] for s in steps]

    overrides = {s.key: parsed[s.id] for s in steps if s.id in parsed}
    follow = solve(worked.graph, overrides=overrides).quantities
    out, earlier_bad = [], None
    for s in steps:
        v = first[s.id]
        if v.status == "wrong":
            fv = follow.get(s.key)
            fv = fv.value if fv is not None else None
            if fv is not None and tol.ok(v.value, fv) and not is_trivial(fv):
                if earlier_bad is None:
                    v = Verdict(s.id, "correct", v.answer, v.value, s.value, fv,
                                "accepted: consistent with your rounded earlier answers")
                elif not (is_trivial(v.value) and not is_trivial(s.value)):
                    v = Verdict(s.id, "follow_through", v.answer, v.value, s.value, fv,
                                f"right given your earlier answers (first wrong step: "
                                f"{earlier_bad})", earlier_bad)
            else:
                v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv, v.message)
        if v.status in ("wrong", "invalid") and earlier_bad is None:
            earlier_bad = s.id
        out.append(v)
    if diagnose:
        try:
            from tutor.misconceptions import annotate
        except ImportError:  # the catalogue is optional for the grader
            return out
        out = annotate(worked, out)
    return out
