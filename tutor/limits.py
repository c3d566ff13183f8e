"""How large a value an exercise may have, checked before SymPy computes it.

tutor.expr bounds each expression on its own (``9**9**9**9`` is refused there). Values can
still grow across nodes — ``u = a**1000``, ``v = u**1000`` — or leave the real numbers —
``log(0)``, ``sqrt(-1)``, BCE at ŷ = 1. The solver asks ``trouble`` before it evaluates a
node and again of every value it keeps; an answer is a reason in words, which the solver
turns into one ``file:line:col`` error (exit 2) at the node.

The estimate walks the expression with Python floats (for the magnitude) and a count of bits
(for the size of exact rationals), so a value that would take SymPy minutes to build is
refused in microseconds. The limits are far beyond anything computed by hand.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

MAX_BITS = 4000  # an exact rational of at most ~1,200 digits in numerator and denominator
MAX_MAGNITUDE = 1e300  # |value| beyond this is not an exercise (and not a float)


class Trouble(Exception):
    """A value the engine refuses; ``str`` is the reason, for the user; ``path`` where in
    the file the cause lies, when that is not the node being computed (e.g. the target)."""

    def __init__(self, reason: str, path: tuple = ()):
        super().__init__(reason)
        self.path = path


def trouble(e: Any, env: Mapping[Any, Any] | None = None) -> str | None:
    """Why ``e`` (with its symbols bound by ``env``) must not be computed, or None."""
    try:
        _check(e, env or {})
    except Trouble as t:
        return str(t)
    return None


def _check(e: Any, env: Mapping[Any, Any]) -> tuple[float, int]:
    import sympy as sp

    if isinstance(e, sp.MatrixBase):
        for x in e:
            _check(x, env)
        return 0.0, 0
    e = sp.sympify(e, strict=True)
    if e.is_Symbol and e in env:
        return _check(env[e], {})
    if e.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise Trouble("not a finite number (a division by zero or a log of 0)")
    if e.has(sp.I):
        raise Trouble("not a real number (a square root or log of a negative number)")
    if e.is_Rational:
        bits = int(e.p).bit_length() + int(e.q).bit_length()
        if bits > MAX_BITS:
            raise Trouble(f"an exact number of about {int(bits * 0.30103):,} digits; "
                          f"at most about {int(MAX_BITS * 0.30103):,} are allowed")
        return _magnitude(float(e) if bits < 2000 else math.inf), bits
    if e.is_Float:
        return _magnitude(float(e)), 0
    if e in (sp.E, sp.pi):
        return float(e), 0
    if e.is_Symbol:  # unbound (a symbolic formula): nothing to estimate
        return 1.0, 0
    kids = [_check(a, env) for a in e.args]
    vals, bits = [v for v, _ in kids], [b for _, b in kids]
    try:
        if e.is_Add:
            return _magnitude(math.fsum(vals)), _size(sum(bits))
        if e.is_Mul:
            return _magnitude(math.prod(vals)), _size(sum(bits))
        if e.is_Pow:
            base, ex = e.args
            (b, bb), (x, _) = kids
            if b == 0 and x < 0:
                raise Trouble("a division by zero")
            if b < 0 and not ex.is_Integer:
                raise Trouble("not a real number (a root of a negative number)")
            grow = abs(int(ex)) if ex.is_Integer else 1
            return _magnitude(b ** x), _size(bb * grow)
        name = type(e).__name__
        if name in ("log",):
            if vals[0] <= 0:
                raise Trouble("the log of 0 or of a negative number")
            return math.log(vals[0]), _size(sum(bits))
        if name == "exp":
            return _magnitude(math.exp(vals[0])), _size(sum(bits))
    except OverflowError:
        raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size") from None
    except ZeroDivisionError:
        raise Trouble("a division by zero") from None
    # other functions (tanh, sigmoid, relu, max, …) are bounded by their arguments
    try:
        v = float(e.func(*[sp.Float(x) for x in vals]).evalf(15)) if e.args else 0.0
    except (TypeError, ValueError, OverflowError):
        v = max((abs(x) for x in vals), default=0.0)
    return _magnitude(v), _size(sum(bits))


def _magnitude(v: float) -> float:
    if math.isnan(v):
        raise Trouble("not a finite number")
    if not abs(v) <= MAX_MAGNITUDE:
        raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size")
    return v


def _size(bits: int) -> int:
    if bits > MAX_BITS:
        raise Trouble(f"an exact number of about {int(bits * 0.30103):,} digits; "
                      f"at most about {int(MAX_BITS * 0.30103):,} are allowed")
    return bits
