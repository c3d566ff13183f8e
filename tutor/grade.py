"""Judging answers: tolerance, shapes, follow-through and scores. Shared by practice and check.

A step is
  correct         within tolerance of the exact value — or of the value recomputed from the
                  student's own earlier answers when those were all correct (rounding carried);
  follow_through  wrong, but right given the student's own earlier (wrong) answers;
  wrong / missing / invalid (does not parse, or the wrong shape).
One extra solve with every answer as an override gives every step's follow-through value:
a step's value is recomputed by its own rule from the overridden inputs (for a gradient, the
sum of the terms its consumers sent; for an update, θ − η·g with the student's θ and g).

Numbas issue #368 guard ("all zeros" means within the exercise's tolerance of all zeros, so
1e-9 everywhere is zeros too):
  a trivial guess — a wrong answer that is all zeros where the true value is not, and that is
  not right given the student's own earlier answers — earns nothing, and neither does any
  later step (zeros propagate into trivially "consistent" zeros and ±1s downstream);
  a nearly-zero wrong answer (within ten times the tolerance of 0 — δ3 = 0.00015) blocks
  the later steps as zeros do, and a zero that is right given the student's answers only
  after rounding (their δ3 · h2ᵀ = 0.00009) earns nothing either;
  an all-zero answer that *is* right given the student's earlier answers (h2 = relu of a
  wrong, negative z2: exactly 0) is method, not a guess: it earns follow-through and blocks
  nothing;
  unless the student's numbers leave nothing to learn — their own value of the first
  backward step (δ3 = ŷ − y with ŷ = y) is all zeros where the true one is not: then every
  all-zero follow-through value earns nothing, as if guessed.

Score of a step: weight · (1 if correct, ft_credit if follow_through, else 0).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Mapping

import sympy as sp

from tutor.equivalence import equivalent, is_symbolic
from tutor.compare import (Reason, Tolerance, Verdict, ZeroMiss, decimal_comma, is_trivial,
                           parse_for, same_shape)

def grade(worked, answers: Mapping[str, Any], diagnose: bool = True,
          memo: dict | None = None) -> list[Verdict]:
    """Judge every step of ``worked`` (tutor.worked.Worked) against a student's ``answers``.

    ``answers`` maps step id → the answer as text (a number may also be given as int,
    Decimal or Fraction; it is read through its text, exactly). ``memo``: a dict kept across
    calls for the same ``worked`` (a class of sheets): each distinct (step, text) is parsed
    and compared once, each distinct set of answers solved once.
    """
    from tutor.budget import ANSWER_SECONDS, FOLLOW_SECONDS, within
    from tutor.solve import solve

    memo = {} if memo is None else memo
    if any(s.phase == "formulas" for s in worked.steps):  # the recipe asked as formulas:
        from tutor.recipe import judge                       # each judged on its own
        rest = grade(replace(worked, steps=[s for s in worked.steps if s.phase != "formulas"]),
                     answers, diagnose, memo)                # (tutor.recipe), never carried
        by_id = {v.step_id: v for v in rest}                 # forward as a number
        for s in worked.steps:
            if s.phase == "formulas":
                text = answers.get(s.id)
                mkey = ("formula", s.id, None if text is None else str(text))
                if mkey not in memo:
                    memo[mkey] = judge(worked, s, text)
                by_id[s.id] = memo[mkey]
        return [by_id[s.id] for s in worked.steps]
    steps, tol = worked.steps, worked.tolerance
    parsed: dict[str, Any] = {}
    first: dict[str, Verdict] = {}
    for s in steps:
        text = answers.get(s.id)
        mkey = (s.id, None if text is None else str(text))
        v = memo.get(mkey)
        if v is None:
            with within(ANSWER_SECONDS) as budget:
                v = _first_verdict(s, text, tol, worked)
            if budget.exceeded:
                v = Verdict(s.id, "invalid", str(text), expected=s.value,
                            reason=Reason("over_budget", what="reading this answer",
                                          seconds=budget.seconds))
            memo[mkey] = v
        first[s.id] = v
        if v.value is not None:
            parsed[s.id] = v.value
    if all(v.status in ("correct", "missing") for v in first.values()):
        return [first[s.id] for s in steps]

    fkey = ("follow",) + tuple(sorted((i, first[i].answer) for i in parsed))
    if fkey in memo:
        follow = memo[fkey]
    else:
        overrides = {s.key: parsed[s.id] for s in steps if s.id in parsed}
        follow = None  # when the student's values break a rule (ŷ = 10 into BCE's ln(1 − ŷ),
        with within(FOLLOW_SECONDS):  # a wrong shape) or take too long: no follow-through
            try:                       # values, the sheet is still graded
                follow = solve(worked.graph, overrides=overrides)
            except Exception:
                follow = None
        memo[fkey] = follow
    degenerate = _leaves_nothing_to_learn(worked, follow, tol)
    near = nearly_zero(tol)
    out, earlier_bad, zeroed = [], None, None
    for s in steps:
        v = first[s.id]
        if v.status == "wrong":
            try:
                fv = recomputed(follow, s.key)
            except Exception:  # the rule refuses the student's own values (ln of a negative)
                fv = None
            consistent = fv is not None and same_shape(fv, s.value) and tol.ok(v.value, fv)
            if consistent and is_trivial(v.value, tol) and not is_trivial(s.value, tol) \
                    and not is_trivial(fv):
                v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv,
                            Reason("rounded_zero", value=fv), earlier_bad)
            elif consistent and is_trivial(fv, tol) and not is_trivial(s.value, tol) \
                    and degenerate is not None:
                v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv,
                            Reason("nothing_left", step=degenerate), earlier_bad)
            elif consistent and earlier_bad is None:
                v = Verdict(s.id, "correct", v.answer, v.value, s.value, fv,
                            Reason("rounded_chain"))
            elif consistent and zeroed is not None:
                v = Verdict(s.id, "wrong", v.answer, v.value, s.value, fv,
                            Reason("after_zeroed", step=zeroed[0], all_zeros=zeroed[1]),
                            earlier_bad)
            elif consistent:
                v = Verdict(s.id, "follow_through", v.answer, v.value, s.value, fv,
                            Reason("follow_through", step=earlier_bad), earlier_bad)
            else:
                v = replace(v, follow_value=fv)
        if v.status == "wrong" and zeroed is None and v.value is not None \
                and is_trivial(v.value, near) and not is_trivial(s.value, near):
            zeroed = (s.id, is_trivial(v.value, tol))  # (step, all zeros — else nearly 0)
        if v.status in ("wrong", "invalid") and earlier_bad is None:
            earlier_bad = s.id
        out.append(v)
    by_id = {s.id: s for s in steps}
    out = [_with_entries(v, by_id[v.step_id], tol) if v.status == "wrong" else v for v in out]
    if diagnose:  # each step's own bug, then a bug made throughout (from the right steps)
        from tutor.misconceptions import annotate, throughout

        out = throughout(worked, annotate(worked, out))
    return out


def _with_entries(v: Verdict, step, tol: Tolerance) -> Verdict:
    """A wrong verdict with the entries that are off (right neither against the exact value
    nor given the student's own earlier answers) and, for an entry that should be 0, why it
    is 0 — the causes the solver recorded (``Step.causes``), not recomputed here."""

    from tutor.rules import entries, is_zero

    value, exact, fv = v.value, step.value, v.follow_value
    if value is None:
        return v
    if not isinstance(exact, sp.MatrixBase) or exact.shape == (1, 1):
        a = value[0, 0] if isinstance(value, sp.MatrixBase) else value
        if step.causes and is_trivial(exact) and not tol.entry_ok(a, 0):
            c = next(iter(step.causes.values()))
            return replace(v, zero_misses=(ZeroMiss(((),), (a,), None, c),))
        return v
    shape = exact.shape
    fv = fv if isinstance(fv, sp.MatrixBase) and fv.shape == shape else None
    bad, zeros = [], {}
    for idx, x in entries(exact):
        a = value[idx]
        if tol.entry_ok(a, x) or (fv is not None and tol.entry_ok(a, fv[idx])):
            continue
        bad.append(idx)
        if idx in step.causes and is_zero(x):
            c = step.causes[idx]  # entries with one cause (the same value) are told together
            zeros.setdefault(c, []).append((idx, a))
    misses = tuple(ZeroMiss(tuple(i for i, _ in group), tuple(a for _, a in group), shape, c)
                   for c, group in zeros.items())
    return replace(v, wrong_entries=tuple(bad), zero_misses=misses)


def nearly_zero(tol: Tolerance) -> Tolerance:
    """"Nearly 0" for the guard: within ten times the tolerance of 0 (with 4 decimals,
    |x| ≤ 0.001). A wrong answer that small, where the true value is not, makes every later
    value small enough to pass as 0: guessing 0.00015 for δ3 is guessing 0."""
    return Tolerance(10 * tol.abs, sp.Integer(0), "abs_rel")


def _leaves_nothing_to_learn(worked, follow, tol: Tolerance) -> str | None:
    """The first backward step's id when the student's own numbers make it all zeros where
    the true value is not (ŷ typed as y: δ3 = ŷ − y = 0, so every gradient and update after
    it is trivially "consistent"), else None."""
    first_back = next((s for s in worked.steps if s.phase == "backward"), None)
    if first_back is None or follow is None or is_trivial(first_back.value, tol):
        return None
    try:
        fv = recomputed(follow, first_back.key)
    except Exception:
        return None
    if fv is not None and same_shape(fv, first_back.value) and is_trivial(fv, tol):
        return first_back.id
    return None


def _first_verdict(s, text, tol, worked=None) -> Verdict:
    """The verdict on one answer alone, against the exact value (an expression answer to a
    symbolic step: the same function of the symbols, tutor.equivalence; when it is not, the
    reason carries a point where the two differ)."""
    names = worked.answer_names() if worked is not None else {}
    value, err = parse_for(s, text, names)
    if err is not None and err.kind == "missing":
        return Verdict(s.id, "missing", None, expected=s.value, reason=Reason("no_answer"))
    if value is None:
        return Verdict(s.id, "invalid", str(text), expected=s.value,
                       reason=Reason("unread", err), comma=decimal_comma(s, str(text)))
    if is_symbolic(s.value) or is_symbolic(value):
        judged = equivalent(value, s.value)
        ok, why = judged.same, Reason("differs", what=s.meaning.lhs, value=judged)
    else:
        ok, why = tol.ok(value, s.value), Reason("does_not_match")
    return Verdict(s.id, "correct" if ok else "wrong", str(text), value, s.value,
                   reason=None if ok else why,
                   comma=None if ok else decimal_comma(s, str(text)))


def recomputed(follow, key) -> Any:
    """The value at ``key`` recomputed by its own rule from the (overridden) values before it.

    ``follow`` is a Solution solved with the student's answers as overrides; an overridden
    quantity holds the student's value, so the rule is applied again here:
      forward   rules.evaluate(node, the parent values of that iteration)
      gradient  Σ of the terms the consumers sent (or 1 for the loss itself)
      update    θ − η·g from the formula's operands (the student's θ and g)
    """
    from tutor.rules import RULES, evaluate

    if follow is None:
        return None
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
        return evaluate(node, values, graph)
    if kind == "grad":
        if name == graph.loss or not q.terms:
            return q.value
        return RULES["accumulate"](list(q.terms))
    ops = q.formula.operands() if q.formula is not None else ()  # θ, η, ∂L/∂θ
    if len(ops) == 3:
        return RULES["sgd"](ops[0].value, ops[2].value, ops[1].value)
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
