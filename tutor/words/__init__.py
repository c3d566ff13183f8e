"""Words: where the program's English is made (the start of issue 11's words package).

Small pieces every front end uses — a list said in English, a text clipped to a width, the
names of phases and skills — live here once, so that practice, check, solve and show say
the same thing the same way. The engine returns values; this module makes sentences.
"""
from __future__ import annotations

from typing import Any

PHASE_TITLES = {"forward": "Forward pass", "backward": "Backward pass",
                "inputs": "Gradients of the inputs", "update": "SGD update"}

SKILLS = {  # a step's skill (tutor.steps.Step.skill) → its name
    "forward": "forward pass",
    "loss": "loss value",
    "loss_gradient": "loss gradient",
    "delta": "error signal δ",
    "activation_derivative": "activation derivative",
    "weight_grad": "weight gradient",
    "bias_grad": "bias gradient",
    "pass_back": "pass-back",
    "chain_rule": "chain rule at a node",
    "param_grad": "parameter gradient",
    "update": "SGD update",
}


ACT_PARAM = {  # an activation's own number α (tutor.rules.Activation.param) → its name
    "leaky_relu": "leaky ReLU slope",
    "elu": "ELU α",
}


def listing(items: list[str], both: bool = False) -> str:
    """'a', 'a and b' ('both a and b' with ``both``), 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2 and both:
        return f"both {items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def clip(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def variant(worked) -> str | None:
    """Which numbers these are: "variant 7" (an author's variants: block), "fresh numbers,
    seed 7" (tutor.fresh), None (the base values)."""
    seed = getattr(worked, "seed", None)
    if seed is None:
        return None
    return f"fresh numbers, seed {seed}" if worked.exercise.fresh else f"variant {seed}"


def source(worked) -> str | None:
    """The source line; with fresh numbers it says the numbers are not the source's."""
    src = worked.exercise.spec.source
    if src and getattr(worked, "seed", None) is not None and worked.exercise.fresh:
        return f"New numbers for: {src}"
    return src


def comma_advice(comma: str) -> str:
    """The advice for a number typed with a decimal comma ("-0,3654")."""
    return (f"The decimal point is '.': type {comma.replace(',', '.')}, not {comma} (a comma "
            f"separates entries).")


def comma_question(comma: str) -> str:
    """The question for "0,6" where a vector is asked: a number, or two entries?"""
    point = comma.replace(",", ".")
    return (f"is {comma} the number {point}, or the entries {comma.replace(',', ' ')}? The "
            f"decimal point is '.': type {point} for the number; separate entries with "
            f"spaces or ', '.")


def phase_title(phase: str, iteration: int = 1, iterations: int = 1) -> str:
    """'Backward pass', or 'Backward pass — iteration 2' when there are several."""
    return PHASE_TITLES[phase] + (f" — iteration {iteration}" if iterations > 1 else "")


# ─── why an entry is zero (tutor.cause) ───────────────────────────────────────────────
def _entry(c, name: Any = None) -> str:
    """The cause's entry of its subject (z2[2]), or of another quantity of the same shape
    (``name``: the h2[2] a zero gradient reaches, the y[2] a prediction equals)."""
    from tutor.render import entry_name
    from tutor.words.notation import pretty

    return entry_name(pretty(c.subject if name is None else name), c.entry, c.shape)


_AT_ENTRY = ("reaches", "target")  # fields that name a quantity at the cause's own entry


def _formula(c) -> str:
    """A cause's formula as written: a SymPy partial (2·v), or a node's Formula in symbols."""
    from tutor.formula import Formula
    from tutor.words.notation import pretty, text

    f = c.get("formula")
    return text(f) if isinstance(f, Formula) else pretty(f)


def _numbers(c) -> str:
    """A cause's Formula with the numbers in their places: 2 + (-2)."""
    from tutor.words.notation import text

    return text(c.get("formula"), numbers=True)


def _num(x) -> str:
    from tutor.render import fmt

    return fmt(x)


def _with(text: str, c) -> str:
    """'what (why)': a cause followed by the one it comes from, when there is one."""
    why = say(c.because) if c.because is not None else ""
    return f"{text} ({why})" if why else text


def zeros(q) -> dict[tuple, str]:
    """entry → why it is 0, in words: ``say`` of each cause of a step or quantity."""
    return {idx: say(c) for idx, c in q.causes.items()}


def say(c) -> str:
    """A zero's cause in words, with the causes it comes from in brackets."""
    from tutor.cause import Kind, Over

    k, e = c.kind, _entry(c)
    if k is Kind.DEAD_RELU:
        return f"dead ReLU: {e} = {_num(c.value)} < 0" + (
            ", so ReLU′ = 0" if c.get("derivative") else "")
    if k is Kind.RELU_BOUNDARY:
        if c.get("derivative"):
            return (f"{e} = 0 exactly: the boundary, where ReLU′(0) = {c.value} by this "
                    f"exercise's convention")
        return f"ReLU at the boundary: {e} = 0"
    if k is Kind.ZERO_DERIVATIVE:
        return f"{c.get('symbol')}({e}) = 0"
    if k is Kind.ZERO_VALUE:
        return _with(f"{e} = 0", c)
    if k is Kind.ZERO_FACTOR:
        return _with(f"the factor {e} = 0", c)
    if k is Kind.ZERO_PRODUCTS:
        return f"every product {c.get('weights')}·{c.get('inputs')} and the bias are 0"
    if k is Kind.ZERO_INPUT:
        return _with(f"zero {c.get('source')} feeds this weight: {e} = 0", c)
    if k is Kind.NO_ERROR_SIGNAL:
        return _with(f"no error signal reaches unit {c.get('unit')}: {e} = 0", c)
    if k is Kind.ZERO_UPSTREAM:
        reaches = c.get("reaches")
        head = f"no gradient reaches {_entry(c, reaches)}: {e} = 0" if reaches else f"{e} = 0"
        return _with(head, c)
    if k is Kind.ZERO_EVERYWHERE:
        return f"{e} = 0 everywhere"
    if k is Kind.ZERO_WEIGHTS:
        return f"every weight out of it is 0 ({c.get('weights')})"
    if k is Kind.SILENT_UNITS:
        return _with(f"its weights lead only to units with zero error signal, e.g. {e} = 0", c)
    if k is Kind.ZERO_PARTIAL:
        partial, formula = c.get("partial"), _formula(c)
        if c.because is not None:  # ∂v/∂w = r = 0 (dead ReLU: …)
            return _with(f"{partial} = {formula} = 0", c)
        if c.parts:
            return f"{partial} = {formula} = 0 here: " + "; ".join(say(p) for p in c.parts)
        return f"{partial} = {formula} = 0 at these values"
    if k is Kind.ZERO_TERMS:
        if c.parts:
            return "every term is 0: " + "; ".join(say(p) for p in c.parts)
        return f"every term is 0: {_formula(c)} = {_numbers(c)}"
    if k is Kind.ZERO_FORMULA:
        return f"{_formula(c)} = {_numbers(c)} = 0"
    if k is Kind.EXACT_PREDICTION:
        return f"the prediction is exact: {e} = {_entry(c, c.get('target'))}"
    if k is Kind.CANCELLATION:
        over = c.get("over")
        if over is Over.PRODUCTS_AND_BIAS:
            parts = " + ".join(_num(t) for t in c.get("terms")).replace("+ -", "− ")
            return f"the products and the bias cancel: {parts} = 0"
        if over is Over.BATCH:
            return "the contributions over the batch cancel"
        if over is Over.BATCH_SIGNALS:
            return "the batch's error signals cancel"
        if over is Over.PASS_BACK:
            return f"the contributions {c.get('weights')}ᵀ·{c.subject} cancel"
        if over is Over.SOFTMAX_JACOBIAN:
            return "the softmax Jacobian cancels it"
        if over is Over.TERMS:
            return f"the terms cancel: {_formula(c)} = {_numbers(c)}"
        parts = " + ".join(_num(t) for t in c.get("terms"))
        return f"a true cancellation: the contributions {parts} sum to 0"
    if k is Kind.SEVERAL:  # 'g1 = 0 and g2 = 0 (both: X)' when they share the reason X
        heads = list(c.parts)
        plain = all(p.kind in (Kind.ZERO_UPSTREAM, Kind.ZERO_VALUE) and not p.get("reaches")
                    and p.because is not None and " " not in _entry(p) for p in heads)
        if len(heads) > 1 and plain and len({say(p.because) for p in heads}) == 1:
            word = "both" if len(heads) == 2 else "all"
            return (" and ".join(f"{_entry(p)} = 0" for p in heads)
                    + f" ({word}: {say(heads[0].because)})")
        return "; ".join(say(p) for p in heads)
    raise ValueError(f"no words for the cause {k}")  # a new kind needs its words here


def point(c) -> str:
    """The same cause as a hint that points at it without giving the value away: what a
    wrong answer is told before the answer is shown. One rendering per kind."""
    from tutor.cause import Kind

    k, e = c.kind, _entry(c)
    if k is Kind.DEAD_RELU:
        return f"check whether this ReLU is active: {e} = {_num(c.value)}"
    if k is Kind.RELU_BOUNDARY:
        if c.get("derivative"):
            return f"{e} = 0 exactly: check this exercise's ReLU′(0) convention"
        return f"check the ReLU at its boundary: {e} = 0 exactly"
    if k is Kind.ZERO_DERIVATIVE:
        return f"look at the derivative {c.get('symbol')}′ at {e}"
    if k is Kind.NO_ERROR_SIGNAL:
        return f"look at the error signal {e} of unit {c.get('unit')}"
    if k is Kind.ZERO_INPUT:
        return f"look at the {c.get('source')} {e} this weight multiplies"
    if k is Kind.ZERO_UPSTREAM and c.get("reaches"):
        return f"look at the gradient {e} that reaches {_entry(c, c.get('reaches'))}"
    if k is Kind.ZERO_FACTOR:
        return f"look at the factor {e}"
    if k in (Kind.CANCELLATION, Kind.ZERO_TERMS):
        return "work out every term exactly: they may cancel"
    if k is Kind.ZERO_PARTIAL:
        return f"look at the local derivative {c.get('partial')} = {_formula(c)}"
    if k is Kind.ZERO_PRODUCTS:
        return f"look at the products {c.get('weights')}·{c.get('inputs')} and the bias"
    if k is Kind.ZERO_WEIGHTS:
        return f"look at the weights {c.get('weights')} out of it"
    if k is Kind.SILENT_UNITS:
        return f"look at the error signals of the units its weights lead to, e.g. {e}"
    if k is Kind.EXACT_PREDICTION:
        return f"compare the prediction {e} with the target"
    if k is Kind.ZERO_FORMULA:
        return f"work out {_formula(c)} with these numbers"
    if k is Kind.SEVERAL:
        return point(c.parts[0])
    return f"look at {e}"  # ZERO_VALUE, ZERO_UPSTREAM, ZERO_EVERYWHERE


def record(c) -> dict:
    """A cause as JSON data: {"kind", "subject", "entry", "value", "because"} (+ its
    kind-specific fields). ``subject`` and ``formula`` as written (``numbers``: the formula
    with its numbers, when it has operands); ``entry`` 1-based, as every message names
    entries; ``value`` a string of the exact number (None when there is none)."""
    from enum import Enum

    from tutor.formula import Formula
    from tutor.render import exact_text
    from tutor.words.notation import pretty

    rec: dict = {"kind": c.kind.value, "subject": pretty(c.subject),
                 "entry": _one_based(c.entry, c.shape),
                 "value": None if c.value is None else exact_text(c.value),
                 "because": record(c.because) if c.because else None}
    for k, v in c.detail:
        if k == "formula":
            rec[k] = _formula(c)
            if isinstance(v, Formula):
                rec["numbers"] = _numbers(c)
        elif k in _AT_ENTRY:
            rec[k] = _entry(c, v)
        elif isinstance(v, Enum):
            rec[k] = v.value
        elif isinstance(v, (int, str, bool, type(None))):
            rec[k] = v
        elif isinstance(v, tuple):
            rec[k] = [exact_text(x) for x in v]
        else:
            rec[k] = exact_text(v)
    if c.parts:
        rec["parts"] = [record(p) for p in c.parts]
    return rec


def _one_based(entry: tuple, shape: tuple | None) -> list[int] | None:
    """[2] for z2[2], [1, 2] for W2[1,2], None for a scalar (as tutor.render.entry_name)."""
    if not entry or shape is None or tuple(shape) == (1, 1):
        return None
    i, j = entry
    if shape[1] == 1:
        return [i + 1]
    if shape[0] == 1:
        return [j + 1]
    return [i + 1, j + 1]
