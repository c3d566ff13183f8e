"""How large a value an exercise may have, decided before SymPy computes it and certified after.

tutor.expr bounds each expression on its own (``9**9**9**9`` is refused there). Values can
still grow across nodes — ``u = a**1000``, ``v = u**1000`` — or leave the real numbers —
``log(0)``, ``sqrt(-1)``, BCE at ŷ = 1. The solver asks ``trouble`` before it evaluates a
node and again of every value it keeps; an answer is a reason in words, which the solver
turns into one ``file:line:col`` error (exit 2) at the node.

Before: the expression is walked once. Rational parts are computed exactly (cheap, and
exact sizes: a sum of 100 quarters is 25, not a 2,800-bit estimate); a power's size is
bounded before it is raised. Irrational parts get a 64-bit ``mpmath`` estimate, which has no
overflow (e^800 is 10^347.4, not ``inf``); where a decision hangs on it — is a log's argument
positive, is a divisor 0, is a root's base negative — and the estimate is not clear by a wide
margin, the decision is made by certified arithmetic (tutor.numeric) on the exact number.

After: a kept value is refused only when it is not a finite real number, when its size is
beyond ``MAX_MAGNITUDE`` (certified), or when a *single* exact number in it has more than
``MAX_BITS`` bits. Intermediate values may be larger (σ(−800) = 1/(1 + e^800) is fine).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import mpmath

MAX_BITS = 4000  # one exact rational: at most ~1,200 digits in numerator and denominator
MAX_MAGNITUDE = 1e300  # |value| beyond this is not an exercise (and not a float)
MAX_LOG10 = 300
MAX_EXP_ARGUMENT = 10_000  # |z| in exp(z) (as in tutor.expr): e^−10000 ≈ 10^−4343 is certifiable
_MP = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
_CTX = mpmath.MPContext()
_CTX.prec = 64


class Trouble(Exception):
    """A value the engine refuses; ``str`` is the reason, for the user; ``path`` where in
    the file the cause lies, when that is not the node being computed (e.g. the target)."""

    def __init__(self, reason: str, path: tuple = ()):
        super().__init__(reason)
        self.path = path


class TooLong(Trouble):
    """An exact rational with too many digits to keep — not too large: the solver carries
    such a value as a certified decimal instead (tutor.solve), an answer is refused."""


def check(e: Any, env: Mapping[Any, Any] | None = None) -> Trouble | None:
    """What is wrong with ``e`` (its symbols bound by ``env``), or None."""
    try:
        _Walk(env or {}).value(e, top=True)
    except Trouble as t:
        return t
    return None


def trouble(e: Any, env: Mapping[Any, Any] | None = None) -> str | None:
    """Why ``e`` (with its symbols bound by ``env``) must not be computed or kept, or None."""
    t = check(e, env)
    return None if t is None else str(t)


def bit_size(r: Any) -> int:
    """The bits of a rational's numerator and denominator together."""
    return int(r.p).bit_length() + int(r.q).bit_length()


def shortened(v: Any, bits: int = 0) -> Any:
    """v with every rational entry of more than ``bits`` bits (default: tutor.limits'
    MAX_BITS) carried as a certified decimal; the rest as it is."""
    import sympy as sp

    from tutor.numeric import carried

    bits = bits or MAX_BITS
    if isinstance(v, sp.MatrixBase):
        return v.applyfunc(lambda e: shortened(e, bits))
    v = sp.sympify(v, strict=True)
    if v.is_Rational and bit_size(v) > bits:
        return carried(v)
    return v


def _too_long(bits: int) -> TooLong:
    return TooLong(f"an exact number of about {int(bits * 0.30103):,} digits; "
                   f"at most about {int(MAX_BITS * 0.30103):,} are allowed")


_WALKED: dict = {}  # subexpression (no free symbols bound) → (Rational or None, estimate)


class _Walk:
    """One walk: (exact Rational or None, mpf estimate) for every subexpression, each
    subexpression once (a nested form shares its parts: σ(σ(x)) walked as a tree would be
    walked again at every level). Walks without bound symbols share one memo."""

    def __init__(self, env: Mapping[Any, Any]):
        self.env = env
        if not env and len(_WALKED) > 100_000:
            _WALKED.clear()
        self.memo = _WALKED if not env else {}

    def value(self, e: Any, top: bool = False):
        import sympy as sp

        if isinstance(e, sp.MatrixBase):
            for x in e:
                self.value(x, top)
            return None, _CTX.mpf(0)
        e = sp.sympify(e, strict=True)
        if e.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            raise Trouble("not a finite number (a division by zero or a log of 0)")
        if e.has(sp.I):
            raise Trouble("not a real number (a square root or log of a negative number)")
        r, v = self._walk(e)
        if top:
            self._final(e, r, v)
        return r, v

    def _final(self, e, r, v) -> None:
        """The kept value: a finite real within MAX_MAGNITUDE, certified when close."""
        import sympy as sp

        if r is not None:
            bits = int(r.p).bit_length() + int(r.q).bit_length()
            if bits > MAX_BITS:
                raise _too_long(bits)
            if abs(v) > _BIG:
                raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size")
            return
        if abs(v) > _NEAR_BIG and not e.free_symbols:
            from tutor.numeric import log10_abs

            if log10_abs(e.xreplace({sp.Symbol(str(k)): x for k, x in self.env.items()})
                         if self.env else e) > MAX_LOG10:
                raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size")

    def _exact_sign(self, e) -> int:
        """The certified sign of a subexpression (its symbols bound)."""
        import sympy as sp
        from tutor.numeric import sign

        sub = {k if isinstance(k, sp.Symbol) else sp.Symbol(str(k)): x for k, x in self.env.items()}
        return sign(e.xreplace(sub))

    def _sign(self, e, r, v, scale) -> int:
        """The sign of a subexpression: exact if rational, from the estimate if it is clear
        by a wide margin (|v| > 2^−40 · scale), else certified."""
        if r is not None:
            return int(r.p > 0) - int(r.p < 0)
        if v != 0 and abs(v) > _CTX.ldexp(scale, -40):
            return 1 if v > 0 else -1
        return self._exact_sign(e)

    def _walk(self, e):
        got = self.memo.get(e)
        if got is None:
            got = self.memo[e] = self._walk_new(e)
        return got

    def _walk_new(self, e):
        import sympy as sp

        if e.is_Symbol and e in self.env:
            x = sp.sympify(self.env[e], strict=True)
            if isinstance(x, sp.MatrixBase):
                return None, _CTX.mpf(1)
            return _Walk({}).value(x)
        if e.is_Rational:
            bits = int(e.p).bit_length() + int(e.q).bit_length()
            if bits > 4 * MAX_BITS:
                raise _too_long(bits)
            return e, _CTX.mpf(int(e.p)) / int(e.q)
        if e.is_Float:
            return None, _CTX.mpf(e._mpf_) if hasattr(e, "_mpf_") else _CTX.mpf(str(e))
        if e is sp.E:
            return None, _CTX.e
        if e is sp.pi:
            return None, _CTX.pi
        if e.is_Symbol or not e.args:  # unbound (a symbolic formula): nothing to estimate
            return None, _CTX.mpf(1)
        kids = [self._walk(a) for a in e.args]
        vals = [v for _, v in kids]
        exact = [r for r, _ in kids]
        if e.is_Add:
            if all(r is not None for r in exact):
                s = sp.Add(*exact)
                return self._rational(s)
            return None, _CTX.fsum(vals)
        if e.is_Mul:
            if all(r is not None for r in exact):
                return self._rational(sp.Mul(*exact))
            return None, _CTX.fprod(vals)
        if e.is_Pow:
            return self._pow(e, kids)
        name = type(e).__name__
        if name == "log":
            arg = e.args[0]
            if self._sign(arg, kids[0][0], vals[0], _scale(arg, self)) <= 0:
                raise Trouble("the log of 0 or of a negative number")
            return None, _CTX.log(abs(vals[0])) if vals[0] != 0 else _CTX.mpf(-10**4)
        if name == "exp":
            if abs(vals[0]) > MAX_EXP_ARGUMENT:
                raise Trouble(f"e^z with |z| about {float(abs(vals[0])):.3g}: at most "
                              f"{MAX_EXP_ARGUMENT:,} can be computed exactly")
            return None, _CTX.exp(vals[0])
        if name == "sigmoid":
            z = vals[0]
            return None, 1 / (1 + _CTX.exp(-z)) if z > -MAX_EXP_ARGUMENT else _CTX.exp(z)
        if name == "tanh":
            return None, _CTX.tanh(vals[0])
        # other functions (relu, max, min, their steps …) are bounded by their arguments
        try:
            v = e.func(*[sp.Float(_CTX.nstr(x, 20)) if r is None else r
                         for r, x in kids]).evalf(15)
            return None, _CTX.mpf(str(v)) if v.is_Number else _CTX.mpf(max(
                (abs(x) for x in vals), default=0))
        except (TypeError, ValueError, OverflowError):
            return None, max((abs(x) for x in vals), default=_CTX.mpf(0))

    def _rational(self, r):
        bits = int(r.p).bit_length() + int(r.q).bit_length()
        if bits > 4 * MAX_BITS:
            raise _too_long(bits)
        return r, _CTX.mpf(int(r.p)) / int(r.q)

    def _pow(self, e, kids):
        base, ex = e.args
        (rb, b), (rx, x) = kids
        sb = self._sign(base, rb, b, _scale(base, self))
        if sb == 0 and (x < 0 or (rx is not None and rx < 0)):
            raise Trouble("a division by zero")
        if sb < 0 and not (rx is not None and rx.is_Integer):
            raise Trouble("not a real number (a root of a negative number)")
        if rb is not None and rx is not None and rx.is_Integer:
            bits = int(rb.p).bit_length() + int(rb.q).bit_length()
            if bits * abs(int(rx)) > 4 * MAX_BITS:
                if _log10(b) * int(rx) > MAX_LOG10:  # a huge value, not only a long one
                    raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size")
                raise _too_long(bits * abs(int(rx)))
            return self._rational(rb ** rx)
        if b == 0:
            return None, _CTX.mpf(0)
        lv = _CTX.log(abs(b)) * x
        if lv > 10**5 * math.log(10):
            raise Trouble(f"larger than {MAX_MAGNITUDE:.0e} in size")
        return None, _CTX.exp(lv) * (1 if sb > 0 else (-1) ** int(rx or 0))


def _scale(e, walk: _Walk):
    """The largest term of a sum (what a cancellation is measured against), else 1."""
    import sympy as sp

    if isinstance(e, sp.Add):
        return max((abs(walk._walk(a)[1]) for a in e.args), default=_CTX.mpf(1))
    return _CTX.mpf(1)


# |v| > 10^MAX_LOG10, and within a factor of 100 of it, as comparisons: taking log10 of every
# kept value's estimate was a third of this check's time in a class's grading
_BIG = _CTX.mpf(10) ** MAX_LOG10
_NEAR_BIG = _CTX.mpf(10) ** (MAX_LOG10 - 2)


def _log10(v) -> float:
    if v == 0:
        return -math.inf
    return float(_CTX.log10(abs(v)))
