"""Values as text: decimals for people, exact forms for machines. Display only — no math.

``fmt`` rounds to a few decimals (``-0.3654``, ``[-0.2192, 0]``, ``[[-0.1315, -0.0219], [0, 0]]``);
``exact_text`` prints the SymPy form (``-73/200``, ``1/(1 + exp(-69/125))``);
``to_json`` gives floats / lists / lists of lists.
"""
from __future__ import annotations

import math
from typing import Any, Callable

PLACES = 4


def is_matrix(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "tolist")


def _rows(v: Any) -> list[list[Any]]:
    return v.tolist()


def vector_entries(v: Any) -> list[Any] | None:
    """The entries of a vector-shaped matrix (n×1 or 1×n), else None."""
    if is_matrix(v) and (v.cols == 1 or v.rows == 1):
        return list(v)
    return None


def scalar_text(x: Any, places: int = PLACES) -> str:
    """One number, rounded: 2 → '2', 0.63459… → '0.6346', 3.1e-7 → '3.1e-7'."""
    import sympy as sp

    x = sp.sympify(x, strict=True)
    if x.is_Integer:
        return str(x)
    from tutor.numeric import approx, rounded

    from tutor.numeric import log10_abs

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

        from tutor.numeric import to_mpf

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


def shaped(v: Any, each: Callable[[Any], Any]) -> Any:
    """``each`` applied to every entry, in the value's shape: a scalar (a 1×1 matrix too),
    a list for a vector (n×1 or 1×n), a list of rows for a matrix."""
    if is_matrix(v):
        if v.rows == 1 and v.cols == 1:
            return each(v[0, 0])
        vec = vector_entries(v)
        if vec is not None:
            return [each(e) for e in vec]
        return [[each(e) for e in r] for r in _rows(v)]
    return each(v)


def bracketed(v: Any, each: Callable[[Any], str]) -> str:
    """The value as text in the answer grammar's brackets: 2, [a, b], [[a, b], [c, d]]."""
    def text(x):
        return "[" + ", ".join(text(e) for e in x) + "]" if isinstance(x, list) else x
    return text(shaped(v, each))


def fmt(v: Any, places: int = PLACES) -> str:
    """A scalar, vector or matrix rounded for display."""
    return bracketed(v, lambda x: scalar_text(x, places))


def shown(v: Any, places: int = PLACES) -> Any:
    """The number(s) ``fmt`` shows, exactly, in the value's own form (12/343 → 7/200 for
    0.035, 3.14e-7 → 31/10⁸ for 3.1e-7); a symbolic entry stays as it is."""
    import sympy as sp

    def one(x):
        x = sp.sympify(x, strict=True)
        if x.is_Rational and (x * 10 ** places).is_Integer:
            return x
        text = scalar_text(x, places)
        if "e" in text or not any(c.isdigit() for c in text):
            return x  # 1.91e-477121255: shown by its digits, not rounded to a decimal place
        try:
            return sp.Rational(text)  # the decimal just written, read as the number it is
        except (TypeError, ValueError):
            return x
    return v.applyfunc(one) if is_matrix(v) else one(v)


def exact_text(v: Any) -> str:
    """The exact SymPy form as text (matrices as nested lists), in the answer grammar: what it
    prints, a student can type back (e is exp(1), never SymPy's E)."""
    return bracketed(v, sstr)


def sstr(e: Any) -> str:
    """sympy.sstr with the grammar's spellings (tutor.functions.sstr; imported late, so that
    `tutor --help` does not load SymPy)."""
    from tutor.functions import sstr as spelled

    return spelled(e)


def to_json(v: Any) -> Any:
    """Decimal value(s) as JSON numbers: a float, a list, or a list of lists. Each is the
    double nearest the exact value (evaluated at 30 digits, then rounded once): -17/100 is
    -0.17, not the -0.16999999999999998 a 15-digit evaluation gives."""
    from tutor.numeric import approx

    return shaped(v, lambda x: float(approx(x, 30)))


def shape_text(v: Any) -> str:
    if is_matrix(v):
        if v.rows == 1 and v.cols == 1:
            return "scalar"
        if v.cols == 1 or v.rows == 1:
            return f"vector of {max(v.shape)}"
        return f"{v.rows}×{v.cols}"
    return "scalar"


def entry_name(name: str, idx: tuple, shape: tuple | None) -> str:
    """'z2[2]' for vectors (1-based), 'W2[1,2]' for matrices, 'u' for scalars."""
    if not idx or shape is None or shape == (1, 1):
        return name
    i, j = idx
    if shape[1] == 1:
        return f"{name}[{i + 1}]"
    if shape[0] == 1:
        return f"{name}[{j + 1}]"
    return f"{name}[{i + 1},{j + 1}]"
