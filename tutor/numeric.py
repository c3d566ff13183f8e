"""Certified numerics: the decimal value, sign and size of an exact number, never a guess.

SymPy's ``evalf`` raises its working precision until the result is accurate — but by default
it gives up silently at 100 digits and returns whatever it has: ``N(1/(1 + e^(−800)) − 1)`` is
``0.e-125`` (the true value is −3.67…e−348), and a 15-digit ``float`` of ``1 − σ(37)`` is 0.
Here every evaluation is ``strict``: it either has the digits asked for or raises, and we
retry with a larger budget, up to ``MAX_DIGITS`` — far below anything the grammar lets a value
reach (|z| ≤ 10,000 in exp, so no non-zero value is closer to 0 than about 10^−4,400 …
except by the cancellation of such terms, which ``MAX_DIGITS`` also covers).

    approx(x, n)   x to n correct significant digits (an ``sp.Float``), or 0 if x is 0
    sign(x)        −1, 0 or 1, exactly
    log10_abs(x)   log₁₀|x| to a few digits (no overflow: 10^5000 is 5000.0)
    rounded(x, k)  x rounded half-up to k decimals, once, from enough digits to be right
"""
from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy.core.evalf import PrecisionExhausted

from tutor.interval import approx as fast_approx, sign as fast_sign

MAX_DIGITS = 5_000  # the most digits any certified evaluation may use
_TRIES = (100, 600, MAX_DIGITS)  # maxn budgets, cheapest first


def _strict(x: sp.Expr, n: int) -> sp.Expr | None:
    """``x.evalf(n)`` with every digit certified, or None when x could not be told from 0
    within the largest budget (then x is 0: see the module docstring)."""
    for maxn in _TRIES:
        try:
            return x.evalf(n, maxn=max(maxn, n + 20), strict=True)
        except PrecisionExhausted:
            continue
        except (ValueError, TypeError, ZeroDivisionError):
            return x.evalf(n)
    return None


def approx(x: Any, n: int = 30) -> sp.Expr:
    """x with n correct significant digits: a Rational stays exact, an irrational becomes
    an ``sp.Float`` of n digits, a true zero is ``Integer(0)``; a non-number is returned as
    it is (``is_Float`` tells)."""
    x = sp.sympify(x, strict=True)
    if x.is_Rational or x.is_Float:
        return x
    v = fast_approx(x, n)  # certified by interval arithmetic (tutor.interval), or None
    if v is not None:
        return v
    v = _strict(x, n)
    if v is None:
        return sp.Integer(0)
    return v


def sign(x: Any) -> int:
    """The exact sign of a real number: −1, 0 or 1."""
    x = sp.sympify(x, strict=True)
    if x.is_Rational:
        return int(x.p > 0) - int(x.p < 0)
    if x.is_Float:  # (SymPy's comparisons give BooleanTrue, which int() refuses)
        return int(bool(x > 0)) - int(bool(x < 0))
    s = fast_sign(x)  # the structure, then intervals (tutor.interval); None: ask SymPy
    if s is not None:
        return s
    if x.is_zero:
        return 0
    v = _strict(x, 15)
    if v is None or not v.is_Number or v == 0:
        return 0
    return 1 if v > 0 else -1


def is_zero(x: Any) -> bool:
    return sign(x) == 0


def log10_abs(x: Any) -> float:
    """log₁₀|x| (−inf for 0), without overflow or underflow."""
    x = sp.sympify(x, strict=True)
    if x.is_Rational:
        if x.p == 0:
            return -math.inf
        return _log10_int(abs(int(x.p))) - _log10_int(int(x.q))
    v = approx(x, 15)
    if not v.is_Number or v == 0:
        return -math.inf
    m, e = sp.Float(abs(v), 15)._mpf_[1:3]  # |v| = m · 2^e
    return _log10_int(int(m)) + e * math.log10(2)


def _log10_int(k: int) -> float:
    b = k.bit_length()
    if b < 1000:
        return math.log10(k)
    shift = b - 60
    return math.log10(k >> shift) + shift * math.log10(2)


def as_fraction(x: Any, n: int = 40) -> Fraction | None:
    """x as a Fraction: exact when rational, else from its n certified digits; None when x
    is not a real number."""
    try:
        if isinstance(x, (int, Fraction)):
            return Fraction(x)
        x = sp.sympify(x, strict=True)
        if x.is_Rational:
            return Fraction(int(x.p), int(x.q))
        v = approx(x, n)
        if v.is_Rational:
            return Fraction(int(v.p), int(v.q))
        if not v.is_Float:
            return None
        return Fraction(*_mpf_ratio(v))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None


def _mpf_ratio(v: sp.Float) -> tuple[int, int]:
    s, m, e, _ = v._mpf_
    m = -int(m) if s else int(m)
    return (m * 2**e, 1) if e >= 0 else (m, 2**-e)


def rounded(x: Any, places: int) -> Decimal:
    """x rounded half-up to ``places`` decimals, once: exactly for a rational (717/800 →
    0.8963, 0.12344999…9 → 0.1234), from certified digits with guard digits otherwise."""
    x = sp.sympify(x, strict=True)
    q = Decimal(1).scaleb(-places)
    if x.is_Rational:
        f = Fraction(int(x.p), int(x.q))
        scaled = f * 10**places
        whole = abs(scaled.numerator) * 2 + abs(scaled.denominator)  # ⌊|s| + ½⌋ as 2|s|+1 …
        r = whole // (2 * abs(scaled.denominator))
        r = -r if f < 0 else r
        return Decimal(r).scaleb(-places)
    mag = log10_abs(x)
    if mag > 1000:  # no decimals to round: 30 significant digits
        return Decimal(str(approx(x, 30)))
    digits = max(int(mag) + places + 25, 25) if mag != -math.inf else 25
    v = approx(x, digits)
    with localcontext() as ctx:
        ctx.prec = digits + places + 10
        return Decimal(str(v)).quantize(q, ROUND_HALF_UP)


def to_mpf(x: Any, n: int = 45):
    """x as an ``mpmath.mpf`` with n certified digits (any magnitude: e^(−10¹⁰) is fine),
    or None when x is not a real number."""
    import mpmath

    try:
        x = sp.sympify(x, strict=True)
        if x.is_Rational:
            return mpmath.mpf(int(x.p)) / int(x.q)
        v = approx(x, n)
        if not (v.is_Float or v.is_Rational):
            return None
        return mpmath.mpf(v._mpf_) if v.is_Float else mpmath.mpf(int(v.p)) / int(v.q)
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        return None


CARRIED_DIGITS = 40  # significant digits of a value carried as a decimal (tutor.solve)


def carried(v: Any) -> sp.Float:
    """v to CARRIED_DIGITS significant digits, with guard digits where it is close to ±1 (a
    saturated σ, tanh or softmax: σ(90) = 1 − 8.2e−40 keeps 40 more, so that 1 − ŷ still
    has 40), certified."""
    a = approx(v, CARRIED_DIGITS)
    if a == 0:
        return sp.Float(0, CARRIED_DIGITS)
    guard = 0
    near = log10_abs(abs(a) - 1) if abs(abs(a) - 1) < sp.Rational(1, 10) else 0
    if near < -1:
        guard = min(int(-near) + 2, 4000)
    return sp.Float(approx(v, CARRIED_DIGITS + guard), CARRIED_DIGITS + guard)


PLACES = 4  # decimals shown by default


def decimal_text(x: Any, places: int = PLACES) -> str:
    """One number as decimal digits, rounded half-up once from its exact value: 2 → '2',
    0.63459… → '0.6346', 3.1e-7 → '3.1e-7'. Digits, not words: tutor.render builds vectors
    and matrices from it, and a refusal that names a number (tutor.rules) uses it."""
    x = sp.sympify(x, strict=True)
    if x.is_Integer:
        return str(x)
    try:
        a = approx(x, 30)
        if not a.is_Number:
            return str(x)
        if a == 0:
            return "0"
        mag = log10_abs(a)
    except TypeError:
        return str(x)
    if mag < -places - 0.30103 or mag >= 12:  # below half a unit of the last place, or huge
        m = places - 2 if places > 4 else 2
        if -300 < mag < 300:
            f = float(a)
            return f"{f:.{m}e}".replace("e-0", "e-").replace("e+0", "e")
        e = math.floor(mag)  # beyond a double's range: the mantissa from the exact digits
        import mpmath

        with mpmath.workdps(m + 25):  # 10^e as a binary float: e may be −4.8e8 (3^(−10⁹))
            mant = to_mpf(a, m + 25) / mpmath.mpf(10) ** e
        mant = rounded(sp.Float(mant, m + 20), m)
        if abs(mant) >= 10:
            mant, e = mant / 10, e + 1
        return f"{mant}e{e}".replace("e-0", "e-")
    # rounded half-up once, from the exact value: 717/800 = 0.89625 → 0.8963
    d = rounded(x, places)
    s = f"{d:f}".rstrip("0").rstrip(".") if "." in f"{d:f}" else f"{d:f}"
    return "0" if s in ("-0", "") else s


# ─── what a value may be: exact and readable, else a certified decimal ────────────────
MAX_OPS = 60  # an exact entry with more operations than this is carried as a float
MAX_NESTING = 3  # … or with functions nested deeper than this: exp(−1/(exp(−1/(e^(−x) + 1)) + 1))


def tame(v: Any) -> tuple[Any, bool]:
    """Keep exact forms a person can read; carry larger ones as certified decimals.

    The solver keeps every node's value this way (tutor.solve), and every operation's value
    *inside* a tensor node is kept the same way (tutor.tensors ``_tamed``): without it an exact result
    grows within one node — the second of two attention layers is a softmax of exponentials
    of exponentials — and SymPy's arithmetic on it is the cost (issue 13).

    A carried value has ``CARRIED_DIGITS`` correct significant digits plus guard digits for
    what is computed from it next: σ(90) = 1 − 8.2e−40 keeps 40 more, so that 1 − ŷ and
    ln(1 − ŷ) still have 40. The flag is False for a carried value and for anything computed
    from one.
    """
    if isinstance(v, sp.MatrixBase):
        got = [tame(e) for e in v]
        ok = all(flag for _, flag in got)
        if all(e2 is e for (e2, _), e in zip(got, v)):  # each kept as it is, the usual case:
            return v.copy(), ok  # a copy, not a matrix built again entry by entry
        return type(v)(v.rows, v.cols, [e2 for e2, _ in got]), ok
    v = sp.sympify(v, strict=True)
    if v.is_Rational:
        return v, True
    if v.is_Float:
        return v, False
    named, floats, depth, size = _survey(v)
    if named and v.free_symbols:  # an expression in symbols (x: symbol): no decimal to carry
        return v, not floats
    if floats:  # computed from a carried value: exact in form only, so carried too
        return carried(v), False
    if depth <= MAX_NESTING and (size <= MAX_OPS // 2 or _count_ops(v) <= MAX_OPS):
        return v, True
    return carried(v), False


def _survey(e: Any) -> tuple[bool, bool, int, int]:
    """What ``tame`` asks of an expression, in one walk over its parts (each once):
    (a leaf that is not a number — a symbol, maybe —, a decimal in it, ``nesting``, the
    nodes of its tree, each shared part counted where it occurs). The tree size decides
    without SymPy's ``count_ops``: it counts at most two operations a node (−1/3 is NEG and
    DIV; an n-term sum, n − 1 ADDs for n + 1 nodes), so a tree of at most MAX_OPS/2 nodes is
    within MAX_OPS — where ``count_ops`` rebuilds negated terms and fractions (it was an
    eighth of grading a class: docs/performance.md). tests/test_limits.py checks the bound
    on random expressions and on every value of every bundled exercise."""
    memo: dict = {}

    def go(x):
        got = memo.get(x)
        if got is None:
            if not x.args:
                got = (not (x.is_Number or x.is_NumberSymbol), x.is_Float, 0, 1)
            else:
                kids = [go(a) for a in x.args]
                own = isinstance(x, sp.Function) or (x.is_Pow and not x.exp.is_Integer)
                got = (any(k[0] for k in kids), any(k[1] for k in kids),
                       max(k[2] for k in kids) + own, 1 + sum(k[3] for k in kids))
            memo[x] = got
        return got

    return go(e)


def nesting(e: Any) -> int:
    """How deep functions (exp, log, tanh, roots) nest in ``e``: σ(σ(x)) written out,
    ``1/(exp(-1/(exp(-x) + 1)) + 1)``, is 2. Each subexpression once (a DAG walk): SymPy's
    own arithmetic evaluates a nested form again at every level of it, so a deep one is
    slow to compute with long before it is long to read."""
    memo: dict = {}

    def depth(x) -> int:
        got = memo.get(x)
        if got is None:
            inner = max((depth(a) for a in x.args), default=0)
            own = isinstance(x, sp.Function) or (x.is_Pow and not x.exp.is_Integer)
            got = memo[x] = inner + own
        return got

    return depth(e)


_OPS: dict = {}  # expression → sp.count_ops(expression): a value's entries recur (a bug
# made throughout, the student's own numbers, a merge) and count_ops is most of ``tame``


def _count_ops(e) -> int:
    got = _OPS.get(e)
    if got is None:
        if len(_OPS) > 10_000:
            _OPS.clear()
        got = _OPS[e] = sp.count_ops(e)
    return got
