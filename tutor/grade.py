"""Judging answers: tolerance, shapes, follow-through and scores. Shared by practice and check.

A step is
  correct         within tolerance of the exact value — or of the value recomputed from the
                  student's own earlier answers when those were all correct (rounding carried);
  follow_through  wrong, but right given the student's own earlier (wrong) answers;
  wrong / missing / invalid (does not parse, or the wrong shape).
One extra solve with every answer as an override gives every step's follow-through value:
a step's value is recomputed by its own rule from the overridden inputs (for a gradient, the
sum of the terms its consumers sent; for an update, θ − η·g with the student's θ and g).

Numbas issue #368 guard: an answer that is all zeros where the true value is not earns no
follow-through, and neither does any later step (zeros propagate into trivially "consistent"
zeros and ±1s downstream).

Score of a step: weight · (1 if correct, ft_credit if follow_through, else 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
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
        """Exact for rational values; irrational ones are compared at 40 significant digits."""
        fa, fv = _fraction(a), _fraction(v)
        if fa is None or fv is None:
            return False
        return abs(fa - fv) <= _fraction(self.abs) + _fraction(self.rel) * abs(fv)

    def ok(self, answer: Any, exact: Any) -> bool:
        if isinstance(exact, sp.MatrixBase):
            return all(self.entry_ok(a, v) for a, v in zip(answer, exact))
        return self.entry_ok(answer, exact)


@lru_cache(maxsize=65536)
def _fraction(x: Any) -> Fraction | None:
    """x as a Fraction: exact when rational, else from its 40-digit decimal value."""
    try:
        if isinstance(x, (int, Fraction)):
            return Fraction(x)
        if getattr(x, "is_Rational", False):
            return Fraction(int(x.p), int(x.q))
        f = sp.N(x, 40)
        if not f.is_Float:  # complex, infinite or symbolic: no number to compare
            return None
        return Fraction(str(f))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None


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


def grade(worked, answers: Mapping[str, Any], diagnose: bool = True,
          memo: dict | None = None) -> list[Verdict]:
    """Judge every step of ``worked`` (tutor.core.Worked) against a student's ``answers``.

    ``answers`` maps step id → the answer as text (a number may also be given as int,
    Decimal or Fraction; it is read through its text, exactly). ``memo``: a dict kept across
    calls for the same ``worked`` (a class of sheets): each distinct (step, text) is parsed
    and compared once, each distinct set of answers solved once.
    """
    from tutor.solve import solve

    steps, tol = worked.steps, worked.tolerance
    memo = {} if memo is None else memo
    parsed: dict[str, Any] = {}
    first: dict[str, Verdict] = {}
    for s in steps:
        text = answers.get(s.id)
        mkey = (s.id, None if text is None else str(text))
        v = memo.get(mkey)
        if v is None:
            v = memo[mkey] = _first_verdict(s, text, tol)
        first[s.id] = v
        if v.value is not None:
            parsed[s.id] = v.value
    if all(v.status in ("correct", "missing") for v in first.values()):
        return [first[s.id] for s in steps]

    fkey = ("follow",) + tuple(sorted((i, first[i].answer) for i in parsed))
    follow = memo.get(fkey)
    if follow is None:
        overrides = {s.key: parsed[s.id] for s in steps if s.id in parsed}
        follow = memo[fkey] = solve(worked.graph, overrides=overrides)
    out, earlier_bad, zeroed = [], None, None
    for s in steps:
        v = first[s.id]
        if v.status == "wrong":
            fv = recomputed(follow, s.key)
            if fv is not None and _same_shape(fv, s.value) and tol.ok(v.value, fv) \
                    and not is_trivial(fv):
                if earlier_bad is None:
                    v = Verdict(s.id, "correct", v.answer, v.value, s.value, fv,
                                "accepted: consistent with your rounded earlier answers")
                elif zeroed is not None:
                    v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv,
                                f"no follow-through credit: an earlier answer ({zeroed}) is all "
                                f"zeros", earlier_bad)
                else:
                    v = Verdict(s.id, "follow_through", v.answer, v.value, s.value, fv,
                                f"right given your earlier answers (first wrong step: "
                                f"{earlier_bad})", earlier_bad)
            else:
                v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv, v.message)
        if v.status == "wrong" and zeroed is None and is_trivial(v.value) \
                and not is_trivial(s.value):
            zeroed = s.id
        if v.status in ("wrong", "invalid") and earlier_bad is None:
            earlier_bad = s.id
        out.append(v)
    if diagnose:
        from tutor.misconceptions import annotate

        out = annotate(worked, out)
    return out


def _first_verdict(s, text, tol) -> Verdict:
    """The verdict on one answer alone, against the exact value."""
    value, err = parse_for(s, text)
    if err == "missing":
        return Verdict(s.id, "missing", None, expected=s.value, message="no answer")
    if value is None:
        return Verdict(s.id, "invalid", str(text), expected=s.value, message=err)
    ok = tol.ok(value, s.value)
    return Verdict(s.id, "correct" if ok else "wrong", str(text), value, s.value,
                   message="" if ok else "does not match")


def _same_shape(a: Any, b: Any) -> bool:
    sa = a.shape if isinstance(a, sp.MatrixBase) else None
    sb = b.shape if isinstance(b, sp.MatrixBase) else None
    return sa == sb


def recomputed(follow, key) -> Any:
    """The value at ``key`` recomputed by its own rule from the (overridden) values before it.

    ``follow`` is a Solution solved with the student's answers as overrides; an overridden
    quantity holds the student's value, so the rule is applied again here:
      forward   rule.forward(parent values of that iteration)
      gradient  Σ of the terms the consumers sent (or 1 for the loss itself)
      update    θ − η·g from the formula's operands (the student's θ and g)
    """
    from tutor.rules import RULES, Ctx

    q = follow.quantities.get(key)
    if q is None:
        return None
    it, kind, name = key
    graph = follow.graph
    if kind == "value":
        node = graph.nodes[name]
        if node.is_leaf:
            return q.value
        values = {k[2]: v.value for k, v in follow.quantities.items()
                  if k[0] == it and k[1] == "value"}
        ctx = Ctx(node, tuple(values[p] for p in node.parents), None, graph, RULES, values, {})
        return RULES[node.op].forward(ctx)
    if kind == "grad":
        if name == graph.loss or not q.terms:
            return q.value
        return RULES["accumulate"](list(q.terms))
    ops = q.formula.operands if q.formula is not None else ()
    if len(ops) == 3:
        return RULES["sgd"](ops[0][1], ops[2][1], ops[1][1])
    return q.value


# ─── scores ────────────────────────────────────────────────────────────────────────────
FT_CREDIT = Fraction(1, 2)  # default share of a step's weight that follow-through earns


@dataclass(frozen=True)
class Weights:
    """Weight of each step: by step id, else by phase, else ``default``.

    ``by_key`` maps a step id (``dW2``, ``it2.da``) or a phase (forward, backward, inputs,
    update) to a non-negative number.
    """

    by_key: Mapping[str, Any] = field(default_factory=dict)
    default: Any = Fraction(1)

    def of(self, step) -> Fraction:
        w = self.by_key.get(step.id, self.by_key.get(step.phase, self.default))
        return Fraction(w)


@dataclass(frozen=True)
class Score:
    points: dict  # step id → points earned (Fraction)
    weights: dict  # step id → weight (Fraction)

    @property
    def total(self) -> Fraction:
        return sum(self.points.values(), Fraction(0))

    @property
    def max(self) -> Fraction:
        return sum(self.weights.values(), Fraction(0))


def score(worked, verdicts: list[Verdict], weights: Weights | None = None,
          ft_credit: Any = FT_CREDIT) -> Score:
    """points(step) = weight · (1 correct | ft_credit follow_through | 0 otherwise)."""
    weights = weights or Weights()
    ft = Fraction(ft_credit)
    by_id = {s.id: s for s in worked.steps}
    pts, ws = {}, {}
    for v in verdicts:
        w = weights.of(by_id[v.step_id])
        ws[v.step_id] = w
        share = 1 if v.status == "correct" else ft if v.status == "follow_through" else 0
        pts[v.step_id] = w * share
    return Score(pts, ws)
