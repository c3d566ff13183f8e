"""How close an answer must be: |a − v| ≤ abs + rel·|v|, entry by entry.

An exercise's ``tolerance:`` (decimals, significant digits, or abs/rel as given) becomes one
``Tolerance``; every step of the worked exercise carries it. Rational values are compared
exactly, others at 60 digits from certified digits (tutor.numeric). Its words are
``tutor.words.tolerance_label``.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy as sp


@dataclass(frozen=True)
class Tolerance:
    """Accept an entry a when |a − v| ≤ abs + rel·|v| (the abs part lets zero gradients pass)."""

    abs: Any = sp.Rational(1, 10**4)
    rel: Any = sp.Integer(0)
    # how the author said it, for the words (tutor.words.tolerance_label): "default",
    # "decimals" or "sig" (with ``digits``), "abs_rel" (abs and rel as given)
    said: str = "default"
    digits: int | None = None

    @classmethod
    def from_spec(cls, spec) -> "Tolerance":
        """decimals d: abs 10⁻ᵈ · sig n: rel 5·10⁻ⁿ · rel/abs as given · default: 4 decimals."""
        from tutor.exercise import number

        if spec is None:
            return cls()
        if spec.decimals is not None:
            d = spec.decimals
            return cls(sp.Rational(1, 10**d), sp.Integer(0), "decimals", d)
        if spec.sig is not None:
            n = spec.sig
            return cls(sp.Rational(1, 10**12), sp.Rational(5, 10**n), "sig", n)
        a = number(spec.abs) if spec.abs is not None else sp.Integer(0)
        r = number(spec.rel) if spec.rel is not None else sp.Integer(0)
        return cls(a, r, "abs_rel")

    def entry_ok(self, a: Any, v: Any) -> bool:
        """Exact for rational values; irrational ones are compared at 40 significant digits;
        an expression in symbols is the same function of them or not (tutor.equivalence)."""
        if _rational(a) and _rational(v):
            fa, fv = Fraction(int(a.p), int(a.q)), Fraction(int(v.p), int(v.q))
            return abs(fa - fv) <= _fraction(self.abs) + _fraction(self.rel) * abs(fv)
        if getattr(a, "free_symbols", None) or getattr(v, "free_symbols", None):
            from tutor.equivalence import equivalent

            return equivalent(a, v).same
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
