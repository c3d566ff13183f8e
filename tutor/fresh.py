"""Fresh numbers for any exercise (`tutor practice ID --new`), made from its own numbers.

An exercise without a ``variants:`` block gets one, built here from the base values and
then drawn by tutor.variants exactly as an author's block is (same seeds, same rejection
sampling, same record of the seed):

    a given number v ≠ 0   → {range} on v's own grid: step 10⁻ᵈ (d = v's decimals),
                             magnitudes step … max(2|v|, 10·step), an integer's 1 …
                             max(2|v|, 3); of v's sign where the exercise has a ReLU (the
                             side of 0 is the point there), of either sign elsewhere
    0                      → stays 0 (a zero input or a zero bias is often the point)
    kept as written        → targets, constants, the learning rate, an input of 0s and 1s
                             (an image, a one-hot), a value that does not terminate (1/3)

    require: keep_relu_signs  dead where the base is dead, 0 where it is 0, active where active
             keep_zeros       the same zero answer entries, no others (an exact prediction,
                              a cancellation, a zero input stay what the exercise is about)
             max_decimals     4, or the base values' own count where that is more (none
                              when a base answer does not terminate, 1/3)
             distinguishable  the misconceptions the base values tell from the truth

Trade-off said plainly: an exercise whose point is a coincidence (an exact cancellation)
keeps it only when a draw hits it again; when none of ``TRIES`` draws does, the refusal
says so (E045) and the student practises the base values.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

TRIES = 2000  # draws per seed (count-bounded: the same variant on every machine)


def _decimals(f: Fraction) -> int | None:
    """Decimals of a terminating fraction (0.05 → 2), None when it does not terminate."""
    import sympy as sp

    from tutor.variants import decimals_needed

    d = decimals_needed(sp.Rational(f.numerator, f.denominator))
    return None if d is None or d < 0 else d


def draw_of(value: Any, signed: bool = True) -> dict | None:
    """The range one given number is drawn from (None: it stays as written); ``signed``:
    of the number's own sign (else either sign, 0 excluded)."""
    from tutor.errors import TutorError
    from tutor.variants import _fraction, to_data

    try:
        f = _fraction(value, "a number")
    except (ValueError, TutorError):  # not an exact rational: it stays as written
        return None
    if f == 0:
        return None
    d = _decimals(f)
    if d is None:
        return None
    step = Fraction(1, 10**d)
    top = max(2 * abs(f), Fraction(3) if d == 0 else 10 * step)
    top = (top // step) * step
    lo, hi = (step, top) if f > 0 else (-top, -step)
    if not signed:
        lo, hi = -top, top
    out = {"range": [to_data(lo), to_data(hi)]}
    if d:
        out["step"] = to_data(step)
    if not signed:
        out["exclude"] = [0]
    return out


def _binary(v: Any) -> bool:
    if isinstance(v, list):
        return all(_binary(e) for e in v)
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool) and v in (0, 1)


def _scalars(v: Any, path: tuple):
    """(path, number) for every number of a scalar, vector or matrix."""
    if isinstance(v, list):
        for k, e in enumerate(v):
            yield from _scalars(e, path + (k,))
    else:
        yield path, v


def _key(path: tuple) -> str:
    """("layers", 0, "W", 1, 0) → "layers[0].W[1][0]"."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def draws(data: dict, signed: bool = True) -> dict[str, dict]:
    """The ``variants.draw`` block for an exercise's parsed YAML (``signed``: every number
    keeps its sign — where a ReLU is, which side of 0 it is on is what it is about)."""
    places: list[tuple[tuple, Any]] = []
    if data.get("kind") == "graph":
        for sec in ("params", "inputs"):
            for name, v in (data.get(sec) or {}).items():
                places += _scalars(v, (sec, name))
        for k, it in enumerate(data.get("iterations") or []):
            for name, v in (it or {}).items():
                if name in (data.get("inputs") or {}) or name in (data.get("params") or {}):
                    places += _scalars(v, ("iterations", k, name))
    else:
        if "input" in data and not _binary(data["input"]):
            places += _scalars(data["input"], ("input",))
        for k, layer in enumerate(data.get("layers") or []):
            for name in ("W", "b"):
                if name in (layer or {}):
                    places += _scalars(layer[name], ("layers", k, name))
    out = {}
    for path, v in places:
        d = draw_of(v, signed)
        if d is not None:
            out[_key(path)] = d
    return out


def fresh_exercise(ex):
    """``ex`` with a ``variants:`` block made from its own numbers (``ex`` itself when it
    has one already, or when none of its numbers can be drawn)."""
    import copy

    from tutor.variants import _VariantDoc, decimals_needed
    from tutor.worked import work_exercise

    if ex.spec.variants is not None:
        return ex
    from tutor.misconceptions import CATALOGUE, indistinguishable
    from tutor.rules import entries
    from tutor.variants import relu_inputs

    base = work_exercise(ex)
    data = copy.deepcopy(ex.doc.data)
    block = draws(data, signed=bool(relu_inputs(base)))
    if not block:
        return ex
    needed = [d for s in base.steps for _, v in entries(s.value)
              if (d := decimals_needed(v)) is not None]
    # a base answer that does not terminate (1/3): the variants' answers need not either
    most = None if -1 in needed else max([4, *needed])
    same = {m for _, m in indistinguishable(base)}
    told = sorted(set(CATALOGUE) - same)
    data["variants"] = {"draw": block, "tries": TRIES, "require": {
        # a tensor graph's zeros are mostly coincidences of its numbers (a centred entry
        # that is 0, a pooling window's losers): its ReLUs keep their signs, not each zero
        "keep_relu_signs": True, "keep_zeros": not ex.tensor, "max_decimals": most,
        "distinguishable": told or False}}
    from tutor.exercise import SPEC, Exercise

    spec = SPEC.validate_python(data)
    return Exercise(spec=spec, file=ex.file, doc=_VariantDoc(ex.doc, data), sha=ex.sha,
                    text_sha=ex.text_sha, math_sha=ex.math_sha, fresh=True)
