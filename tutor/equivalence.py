"""Is a student's expression the step's expression? Exact where the class allows, else at
many exact points — never an unbounded ``simplify`` of a student's text.

    equivalent(2*x*(x + y)*(2*x + y), 2*x**2*(x + y) + 2*x*(x + y)**2)  → Judged(True, "exact")
    equivalent(2*x*(x + y), …)  → Judged(False, "exact", at=((x, 1), (y, 2)), yours=6, truth=60)

How each pair is decided (docs/answers.md says it for students and authors):

* **identical** — the same SymPy expression once built (SymPy's automatic canonical form:
  ``x*y`` and ``y*x``, ``2*(x + 1)`` and ``2*x + 2`` are not identical, but a sum's order is).
* **exact** — both sides are rational functions of the symbols (no relu, exp, log, σ …):
  the difference is put over one denominator and cancelled (``sp.cancel``); it is 0 exactly
  when the two are the same function. The sizes are bounded first (``MAX_OPS`` operations,
  total degree ``MAX_DEGREE`` as written), so a huge answer never reaches the algebra: it is
  judged at points instead.
* **points** — otherwise (functions, kinks): both sides are evaluated at ``POINTS`` exact
  rational points (drawn from a grid by a generator seeded by the step's own expression, so
  the same step always uses the same points), at 40 certified digits where a value is
  irrational (tutor.numeric), and must agree to 30 digits at every one. Every kink — the
  argument of a relu, ReLU′, leaky ReLU, max or min — is seen on both of its sides: points
  are added until each such argument is positive at one point and negative at another (if
  that can be found in ``MAX_DRAWS`` draws). A point where a side is not a finite real (a
  pole, the log of a negative) is skipped; with fewer than ``SMALL`` points left to
  compare, the two are not called the same.

  The bound: two different analytic expressions agree on a set of measure zero, so a random
  real point tells them apart with probability 1; on the grid of ``GRID`` values per symbol,
  two different polynomials of total degree d agree at a random point with probability at
  most d/GRID (Schwartz–Zippel), so at ``POINTS`` independent points at most (d/GRID)^POINTS
  — for d = 10, 10^-17. The piecewise answers are judged on each side of each kink.

A point where the two differ is returned with both values, for the words: "at x = 1, y = 2
yours is 18; ∂L/∂x is 60".
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy as sp

POINTS = 12  # evaluation points per comparison (kinks may add some)
SMALL = 3  # of which the first are small integers (the point a student is shown)
MAX_DRAWS = 200  # draws to find both sides of every kink
GRID = 1000  # values per symbol: k/8 for |k| ≤ GRID/2 (non-zero), signs by assumption
MAX_OPS = 4000  # operations in either side before "exact" algebra is tried
MAX_DEGREE = 40  # total degree (as written) up to which the difference is cancelled
DIGITS = 40  # certified digits of an irrational value
AGREE = sp.Rational(1, 10**30)  # relative agreement of two irrational values


@dataclass(frozen=True)
class Judged:
    """The decision: ``same``; ``how`` ("identical" | "exact" | "points"); for a difference,
    a point ``at`` (((symbol, value), …), in name order) with ``yours`` and ``truth`` there."""

    same: bool
    how: str
    points: int = 0
    at: tuple = ()
    yours: Any = None
    truth: Any = None


def is_symbolic(v: Any) -> bool:
    """A value with symbols in it (a symbolic step, or an expression answer)."""
    if isinstance(v, sp.MatrixBase):
        return any(is_symbolic(e) for e in v)
    if getattr(v, "is_Number", False):  # most values: no walk for their symbols
        return False
    return bool(getattr(v, "free_symbols", None))


def equivalent(yours: Any, truth: Any) -> Judged:
    """Whether two scalar expressions are the same function of their symbols (see above)."""
    yours, truth = sp.sympify(yours, strict=True), sp.sympify(truth, strict=True)
    if yours == truth:
        return Judged(True, "identical")
    syms = tuple(sorted(yours.free_symbols | truth.free_symbols, key=lambda s: s.name))
    if _rational(yours, syms) and _rational(truth, syms) and \
            sp.count_ops(yours) + sp.count_ops(truth) <= MAX_OPS and \
            max(_degree(yours), _degree(truth)) <= MAX_DEGREE:
        diff = sp.cancel(sp.together(yours - truth))
        if diff == 0:
            return Judged(True, "exact")
        for point in _points(truth, yours, syms):
            a, t = _at(yours, point), _at(truth, point)
            if a is not None and t is not None and a != t:
                return Judged(False, "exact", 0, point, a, t)
        return Judged(False, "exact")  # different, but no point found off the poles
    n = 0
    for point in _points(truth, yours, syms):
        a, t = _at(yours, point), _at(truth, point)
        if a is None or t is None:
            continue
        n += 1
        if not _agree(a, t):
            return Judged(False, "points", n, point, a, t)
    return Judged(n >= SMALL, "points", n)  # too few points to say: not the same


def same_number(a: Any, t: Any) -> bool:
    """Two numbers (no symbols) equal: exactly when both are rational, else to 30 digits at
    ``DIGITS`` certified digits (tutor.numeric); False where either is not a finite real.
    A formula answer's entries at one draw are compared so (tutor.recipe)."""
    a, t = sp.sympify(a, strict=True), sp.sympify(t, strict=True)
    if a == t:
        return True
    va, vt = _at(a, ()), _at(t, ())
    return va is not None and vt is not None and _agree(va, vt)


def _degree(e: sp.Expr) -> int:
    """An upper bound of the total degree of a rational function as written, without
    expanding it: (x + y)**999 is 999 (its expansion has 1,000 terms — points decide it)."""
    if e.is_Symbol:
        return 1
    if e.is_Add:
        return max((_degree(a) for a in e.args), default=0)
    if e.is_Mul:
        return sum(_degree(a) for a in e.args)
    if e.is_Pow and e.exp.is_Integer:
        return abs(int(e.exp)) * _degree(e.base)
    return 0 if e.is_number else MAX_DEGREE + 1


def _rational(e: sp.Expr, syms) -> bool:
    return not e.atoms(sp.Function) and (not syms or e.is_rational_function(*syms))


def _kinks(*exprs) -> list[sp.Expr]:
    """The arguments whose sign changes the rule: relu, ReLU′, leaky ReLU, max, min, abs."""
    from tutor.functions import leaky_relu, leaky_step, relu, relu_step

    out = []
    for e in exprs:
        for a in e.atoms(relu, relu_step, leaky_relu, leaky_step):
            out.append(a.args[0])
        for a in e.atoms(sp.Max, sp.Min):
            out += [x - y for i, x in enumerate(a.args) for y in a.args[i + 1:]]
        for a in e.atoms(sp.Abs):
            out.append(a.args[0])
    return [k for k in dict.fromkeys(out) if k.free_symbols]


def _value(rng: random.Random, s: sp.Symbol, small: int = 0) -> sp.Rational:
    """A non-zero value for ``s`` with its assumption's sign: k/8 on the grid, or (``small``)
    an integer 1…small, so that a point shown to a student reads easily (x = 1, y = 2)."""
    k = rng.randint(1, small) if small else rng.randint(1, GRID // 2)
    if s.is_positive:
        sgn = 1
    elif s.is_negative:
        sgn = -1
    else:
        sgn = rng.choice((1, -1))
    return sp.Rational(sgn * k, 1 if small else 8)


@lru_cache(maxsize=4096)
def _points(truth: sp.Expr, yours: sp.Expr, syms: tuple) -> tuple:
    """The points for this pair: seeded by the step's expression (the same step, the same
    points), with every kink of either side seen on both sides where a draw finds it."""
    seed = int.from_bytes(hashlib.sha256(sp.srepr(truth).encode()).digest()[:8], "big")
    rng = random.Random(seed)
    small = [tuple((s, _value(rng, s, 3)) for s in syms) for _ in range(SMALL)]
    pts = list(dict.fromkeys(small)) + [tuple((s, _value(rng, s)) for s in syms)
                                        for _ in range(POINTS - SMALL)]
    for k in _kinks(truth, yours):
        sides = {_side(k, p) for p in pts}
        for _ in range(MAX_DRAWS):
            if {1, -1} <= sides:
                break
            p = tuple((s, _value(rng, s)) for s in syms)
            side = _side(k, p)
            if side not in sides and side != 0:
                pts.append(p)
                sides.add(side)
    return tuple(pts)


def _side(k: sp.Expr, point) -> int:
    from tutor.numeric import sign

    v = k.xreplace(dict(point))
    return sign(v) if v.is_number else 0


def _at(e: sp.Expr, point) -> Any:
    """The value at a point: exact when rational, else DIGITS certified digits; None where
    it is not a finite real number (a pole, a log of a negative)."""
    from tutor.functions import resolve_steps
    from tutor.limits import check
    from tutor.numeric import approx

    try:
        v = resolve_steps(e.xreplace(dict(point)), 0)
        if v.has(sp.zoo, sp.oo, -sp.oo, sp.nan, sp.I) or not v.is_number:
            return None
        if v.is_Rational:
            return v
        if check(v) is not None:  # too large to evaluate (e^(e^62)), or not a real number
            return None
        a = approx(v, DIGITS)
        return a if a.is_Number else None
    except (ArithmeticError, TypeError, ValueError):
        return None


def _agree(a, t) -> bool:
    if a.is_Rational and t.is_Rational:
        return a == t
    scale = max(abs(sp.Rational(t)), sp.Integer(1)) if t.is_Rational else max(abs(t), 1)
    return bool(abs(a - t) <= AGREE * scale)
