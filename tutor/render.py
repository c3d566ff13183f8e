"""Values as text: decimals for people, exact forms for machines. Display only — no math.

``fmt`` rounds to a few decimals (``-0.3654``, ``[-0.2192, 0]``, ``[[-0.1315, -0.0219], [0, 0]]``);
``exact_text`` prints the SymPy form (``-73/200``, ``1/(1 + exp(-69/125))``);
``to_json`` gives floats / lists / lists of lists.
"""
from __future__ import annotations

from typing import Any, Callable

from tutor import cause as _cause
from tutor.numeric import PLACES, decimal_text as scalar_text  # noqa: F401 (one number)

entry_name = _cause.entry_name  # z2[2]: how every message names an entry (tutor.cause)



EXACT_SHORT = 60  # an exact form longer than this is left out of keys and feedback
EXACT_LINES = 160  # … and out of the practice screen's feedback (about two lines)


def is_matrix(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "tolist")


def _rows(v: Any) -> list[list[Any]]:
    return v.tolist()


def vector_entries(v: Any) -> list[Any] | None:
    """The entries of a vector-shaped matrix (n×1 or 1×n), else None."""
    if is_matrix(v) and (v.cols == 1 or v.rows == 1):
        return list(v)
    return None


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
    """A scalar, vector or matrix rounded for display; an expression in symbols in the answer
    grammar, factored where that is shorter (2*x*(x + y)*(2*x + y))."""
    return bracketed(v, lambda x: symbolic_text(x) if _symbolic(x) else scalar_text(x, places))


def _symbolic(x: Any) -> bool:
    return bool(getattr(x, "free_symbols", None))


def symbolic_text(e: Any) -> str:
    """An expression in symbols as a student may type it back: the grammar's spelling
    (relu'(z) for ReLU′, exp(1) for e), a polynomial factored when the factored form is
    shorter (bounded: small polynomials only)."""
    return sstr(compact(e))


def compact(e: Any) -> Any:
    """A small polynomial (at most 60 operations, no functions) factored when its factored
    form prints shorter; else ``e`` as it is. Display only: the value is the same."""
    import sympy as sp

    try:
        if not e.atoms(sp.Function) and sp.count_ops(e) <= 60:
            f = sp.factor(e)
            if len(sstr(f)) < len(sstr(e)):
                return f
    except (sp.PolynomialError, TypeError, ValueError):
        pass
    return e


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

    return shaped(v, lambda x: symbolic_text(x) if _symbolic(x) else float(approx(x, 30)))


def shape_text(v: Any) -> str:
    if is_matrix(v):
        if v.rows == 1 and v.cols == 1:
            return "scalar"
        if v.cols == 1 or v.rows == 1:
            return f"vector of {max(v.shape)}"
        return f"{v.rows}×{v.cols}"
    return "scalar"

