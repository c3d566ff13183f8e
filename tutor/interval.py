"""Fast certified signs and decimals: the structure first, interval arithmetic second.

tutor.numeric asks here before it asks SymPy's ``evalf``. SymPy's evaluation of a nested
exact form — σ(σ(σ(x))) written out, or a chain-rule product of such factors — re-evaluates
every subexpression each time a sum cancels and it raises its precision, so its cost grows
with the depth of the nesting (a 10-node sigmoid chain took a minute in zero tests). Here:

1. **Structure.** A sign that the form of the number decides: a rational or a float, e^z > 0,
   π > 0, a product or power of numbers of known sign, a sum whose terms all have one sign,
   tanh z has the sign of z, relu z ≥ 0. No arithmetic at all.
2. **Intervals.** Outward-rounded interval arithmetic (mpmath's ``libmpi``) at 64 bits, then
   256, 1,024, 4,096 and 17,000 (about 5,100 digits: tutor.numeric's ``MAX_DIGITS``). The
   true value lies inside each interval, so a sign or a decimal read from an interval whose
   width allows it is certified. Transcendental endpoints (exp, log, tanh, √, e, π) are
   widened outward by 16 units in the last place, more than mpmath's own error in them.
   Every subexpression's interval is kept (``_IV``) and reused by every later question
   about any number that contains it, at any precision up to the one it was computed at:
   the chain's values share their subexpressions, so each is evaluated once.
3. Only when neither decides — a value that is exactly 0 in a form SymPy did not simplify,
   or a function this module does not know — does the caller fall back to SymPy's strict
   ``evalf`` (tutor.numeric), as before.

A value narrower than 10^−4,990 around 0 at the last step is 0, which is tutor.numeric's
rule too (no non-zero value the grammar allows is that close to 0).

    sign(x)       −1, 0, 1, or None (undecided here: ask SymPy)
    approx(x, n)  an sp.Float with n correct significant digits, Integer(0), or None
"""
from __future__ import annotations

from typing import Any

import sympy as sp
from mpmath.libmp import (dps_to_prec, finf, fninf, fnan, from_int, fzero, mpf_abs, mpf_add,
                          mpf_div, mpf_e, mpf_exp, mpf_le, mpf_log, mpf_lt,
                          mpf_neg, mpf_pi, mpf_pos, mpf_sign, mpf_shift, mpf_sqrt, mpf_sub, mpf_tanh,
                          round_ceiling, round_floor, round_nearest)
from mpmath.libmp.libmpi import mpi_add, mpi_div, mpi_mul, mpi_neg, mpi_pow_int

LADDER = (64, 256, 1024, 4096, 17_000)  # bits; the last is about 5,100 decimal digits
_TINY = (0, 1, -16_576, 1)  # 2^−16,576 ≈ 10^−4,990: narrower than this around 0 is 0
_CACHE_MAX = 50_000  # entries in each cache before it is emptied

_IV: dict = {}  # expression → (bits, (lo, hi)): the tightest interval computed so far
_SIGN: dict = {}  # expression → its decided sign
_NO_STRUCT: set = set()  # expressions whose sign the structure does not decide


class _Unknown(Exception):
    """Not a real number this module can enclose (a symbol, an unknown function, log ≤ 0)."""


def clear() -> None:
    _IV.clear()
    _SIGN.clear()
    _NO_STRUCT.clear()


def _room() -> None:
    if len(_IV) > _CACHE_MAX or len(_SIGN) + len(_NO_STRUCT) > _CACHE_MAX:
        clear()


# ─── 1. structure ───────────────────────────────────────────────────────────────────────
def structural_sign(e: sp.Basic) -> int | None:
    """The sign of ``e`` when its form decides it (no arithmetic), else None."""
    s = _SIGN.get(e)
    if s is not None or e in _NO_STRUCT:
        return s
    s = _struct(e)
    if s is None:
        _NO_STRUCT.add(e)
    else:
        _SIGN[e] = s
    return s


def _struct(e) -> int | None:
    if e.is_Rational:
        return int(e.p > 0) - int(e.p < 0)
    if e.is_Float:
        return mpf_sign(e._mpf_)
    if e is sp.E or e is sp.pi:
        return 1
    if not e.args:
        return None
    name = type(e).__name__
    if name in ("exp", "sigmoid"):
        return 1
    if e.is_Mul:
        out = 1
        for a in e.args:
            s = structural_sign(a)
            if s == 0:
                return 0
            if s is None:
                return None
            out *= s
        return out
    if e.is_Pow:
        base, ex = e.args
        sb = structural_sign(base)
        if sb is None:
            return None
        if sb > 0:
            return 1
        if sb == 0:
            return 0 if structural_sign(ex) == 1 else None
        return (-1 if int(ex) % 2 else 1) if ex.is_Integer else None
    if e.is_Add:
        signs = set()
        for a in e.args:
            s = structural_sign(a)
            if s is None:
                return None
            signs.add(s)
        signs.discard(0)
        if not signs:
            return 0
        return signs.pop() if len(signs) == 1 else None
    if name == "tanh":
        return structural_sign(e.args[0])
    if name == "relu":
        s = structural_sign(e.args[0])
        return None if s is None else max(s, 0)
    if name == "log" and e.args[0].is_Rational and e.args[0].p > 0:
        p, q = int(e.args[0].p), int(e.args[0].q)
        return int(p > q) - int(p < q)
    return None


# ─── 2. intervals ───────────────────────────────────────────────────────────────────────
def _widen(iv, prec):
    """Outward by 16 ulps: room for the rounding error of a transcendental endpoint."""
    lo, hi = iv
    return (mpf_sub(lo, mpf_shift(mpf_abs(lo), 4 - prec), prec, round_floor)
            if lo not in (finf, fninf) else lo,
            mpf_add(hi, mpf_shift(mpf_abs(hi), 4 - prec), prec, round_ceiling)
            if hi not in (finf, fninf) else hi)


def _monotone(f, iv, prec):
    """f increasing, applied to both ends (rounded outward, then widened)."""
    lo, hi = iv
    return _widen((f(lo, prec, round_floor), f(hi, prec, round_ceiling)), prec)


def _rational(p: int, q: int, prec: int):
    if q == 1:
        x = from_int(p)
        return (x, x)
    a, b = from_int(p), from_int(q)
    return (mpf_div(a, b, prec, round_floor), mpf_div(a, b, prec, round_ceiling))


def _bad(iv) -> bool:
    return fnan in iv


def interval(e: sp.Basic, prec: int):
    """An interval (lo, hi) of raw mpf values that certainly contains ``e``; computed at
    ``prec`` bits or better. Raises _Unknown for what it cannot enclose."""
    got = _IV.get(e)
    if got is not None and got[0] >= prec:
        return got[1]
    iv = _eval(e, prec)
    if _bad(iv):
        raise _Unknown(e)
    _IV[e] = (prec, iv)
    return iv


def _eval(e, prec):
    if e.is_Rational:
        return _rational(int(e.p), int(e.q), prec)
    if e.is_Float:
        m = e._mpf_
        return (m, m)
    if e is sp.E:
        return _widen((mpf_e(prec, round_floor), mpf_e(prec, round_ceiling)), prec)
    if e is sp.pi:
        return _widen((mpf_pi(prec, round_floor), mpf_pi(prec, round_ceiling)), prec)
    if not e.args or not isinstance(e, sp.Expr):
        raise _Unknown(e)
    if e.is_Add:
        out = None
        for a in e.args:
            iv = interval(a, prec)
            out = iv if out is None else mpi_add(out, iv, prec)
        return out
    if e.is_Mul:
        out = None
        for a in e.args:
            iv = interval(a, prec)
            out = iv if out is None else mpi_mul(out, iv, prec)
        return out
    if e.is_Pow:
        return _pow(e, prec)
    name = type(e).__name__
    args = e.args
    if name == "exp":
        return _monotone(mpf_exp, interval(args[0], prec), prec)
    if name == "log":
        lo, hi = interval(args[0], prec)
        if not mpf_lt(fzero, hi):
            raise _Unknown(e)
        if not mpf_lt(fzero, lo):
            return (fninf, _monotone(mpf_log, (hi, hi), prec)[1])
        return _monotone(mpf_log, (lo, hi), prec)
    if name == "tanh":
        return _monotone(mpf_tanh, interval(args[0], prec), prec)
    if name == "sigmoid":  # 1 / (1 + e^(−z)): increasing, z used once
        ez = _monotone(mpf_exp, mpi_neg(interval(args[0], prec)), prec)
        return mpi_div((from_int(1),) * 2, mpi_add(ez, (from_int(1),) * 2, prec), prec)
    if name == "relu":
        lo, hi = interval(args[0], prec)
        return (_max(fzero, lo), _max(fzero, hi))
    if name == "leaky_relu" and len(args) == 2:
        lo, hi = interval(args[0], prec)
        a = interval(args[1], prec)
        if mpf_lt(a[0], fzero):
            raise _Unknown(e)
        if not mpf_lt(lo, fzero):
            return (lo, hi)
        neg = mpi_mul(a, (lo, _min(hi, fzero)), prec)
        return (neg[0], hi if mpf_lt(fzero, hi) else neg[1])
    if name in ("Max", "Min", "tie_max", "tie_min"):
        ivs = [interval(a, prec) for a in args]
        pick = _max if name in ("Max", "tie_max") else _min
        lo, hi = ivs[0]
        for a, b in ivs[1:]:
            lo, hi = pick(lo, a), pick(hi, b)
        return (lo, hi)
    if name == "Abs":
        lo, hi = interval(args[0], prec)
        if not mpf_lt(lo, fzero):
            return (lo, hi)
        if not mpf_lt(fzero, hi):
            return (mpf_neg(hi), mpf_neg(lo))
        return (fzero, _max(mpf_neg(lo), hi))
    raise _Unknown(e)


def _max(a, b):
    return b if mpf_lt(a, b) else a


def _min(a, b):
    return a if mpf_lt(a, b) else b


def _pow(e, prec):
    base, ex = e.args
    b = interval(base, prec)
    if ex.is_Integer:
        return mpi_pow_int(b, int(ex), prec)
    lo, hi = b
    if ex == sp.S.Half:
        if mpf_lt(lo, fzero):  # perhaps the root of a negative number: SymPy decides
            raise _Unknown(e)
        return _monotone(mpf_sqrt, (lo, hi), prec)
    if not mpf_lt(fzero, lo):  # a root of a base not certainly positive
        raise _Unknown(e)
    # b^x = e^(x ln b), b > 0
    lb = _monotone(mpf_log, b, prec)
    return _monotone(mpf_exp, mpi_mul(interval(ex, prec), lb, prec), prec)


# ─── the questions ──────────────────────────────────────────────────────────────────────
def _read_sign(iv) -> int | None:
    lo, hi = iv
    if mpf_lt(fzero, lo):
        return 1
    if mpf_lt(hi, fzero):
        return -1
    if lo == fzero and hi == fzero:
        return 0
    return None


def _narrow_zero(iv) -> bool:
    lo, hi = iv
    return (mpf_le(lo, fzero) and mpf_le(fzero, hi) and lo not in (fninf,)
            and hi not in (finf,) and mpf_lt(mpf_sub(hi, lo, 64, round_ceiling), _TINY))


def _real_number(x) -> bool:
    """What the rules above are for: a real number (no symbol, no i, no ∞)."""
    return (isinstance(x, sp.Expr) and not x.free_symbols
            and not x.has(sp.I, sp.oo, -sp.oo, sp.zoo, sp.nan))


def sign(x: Any) -> int | None:
    """The certified sign of a real number, or None where only SymPy can tell."""
    if not _real_number(x):
        return None
    try:
        s = structural_sign(x)
        if s is not None:
            return s
        for prec in LADDER:
            iv = interval(x, prec)
            s = _read_sign(iv)
            if s is None and prec == LADDER[-1] and _narrow_zero(iv):
                s = 0
            if s is not None:
                _SIGN[x] = s
                return s
    except (_Unknown, RecursionError, ValueError, ZeroDivisionError, TypeError):
        return None
    finally:
        _room()
    return None


def approx(x: Any, n: int) -> sp.Expr | None:
    """x with n correct significant digits (an sp.Float of n digits), Integer(0) for a
    certified 0, or None where only SymPy can tell."""
    if not _real_number(x):
        return None
    want = dps_to_prec(n)
    try:
        if structural_sign(x) == 0:
            return sp.Integer(0)
        prec = want + 20
        while True:
            iv = interval(x, prec)
            lo, hi = iv
            s = _read_sign(iv)
            if s == 0:
                return sp.Integer(0)
            if s is not None:
                width = mpf_sub(hi, lo, 64, round_ceiling)
                small = mpf_abs(lo) if s > 0 else mpf_abs(hi)
                if mpf_le(width, mpf_shift(small, -(want + 4))):
                    mid = mpf_shift(mpf_add(lo, hi, prec + 2), -1)
                    return sp.Float._new(mpf_pos(mid, want, round_nearest), want)
            if prec >= LADDER[-1]:
                return sp.Integer(0) if _narrow_zero(iv) else None
            prec = min(max(prec * 4, LADDER[1]), max(LADDER[-1], want + 20))
    except (_Unknown, RecursionError, ValueError, ZeroDivisionError, TypeError):
        return None
    finally:
        _room()
