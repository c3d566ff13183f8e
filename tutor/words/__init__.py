"""Words: where the program's English is made (the start of issue 11's words package).

Small pieces every front end uses — a list said in English, a tolerance, the names of
phases and skills — live here once, so that practice, check, solve and show say
the same thing the same way. The engine returns values; this module makes sentences.
"""
from __future__ import annotations

from typing import Any


PHASE_TITLES = {"forward": "Forward pass", "backward": "Backward pass",
                "inputs": "Gradients of the inputs", "update": "SGD update",
                "formulas": "The backward recipe, as formulas"}

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
    "recipe": "backward recipe (formulas)",  # formula questions (tutor.recipe)
}


ACT_PARAM = {  # an activation's own number α (tutor.rules.Activation.param) → its name
    "leaky_relu": "leaky ReLU slope",
    "elu": "ELU α",
}


def tolerance_label(tol, symbolic: bool = False) -> str:
    """How close an answer must be, as the author said it (tutor.tolerance.Tolerance); for
    a symbolic exercise (Worked.symbolic), that an answer is an equal expression."""
    from tutor.render import fmt

    if symbolic:
        return "equivalence (any equal expression)"

    if tol.said == "decimals":
        return f"{tol.digits} decimals (|error| ≤ 1e-{tol.digits})"
    if tol.said == "sig":
        return f"{tol.digits} significant digits"
    if tol.said == "abs_rel":
        return f"abs {fmt(tol.abs, 8)}, rel {fmt(tol.rel, 8)}"
    return "4 decimals (|error| ≤ 0.0001)"


def listing(items: list[str], both: bool = False) -> str:
    """'a', 'a and b' ('both a and b' with ``both``), 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2 and both:
        return f"both {items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"


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


def entry_of(x) -> str:
    """The entry a Cause (or anything with subject, entry, shape: a variants.ReluInput) is
    about: z2[2], or w1·x inside a graph node."""
    return _entry(x)


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
    from tutor.words.notation import pretty

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
    if k is Kind.UNUSED_ENTRY:
        return f"{e} is not used: {c.get('used')} takes other entries of {pretty(c.subject)}"
    if k is Kind.POOL_LOSER:
        return (f"{e} = {_num(c.value)} is not the max of its window ({c.get('winner')} = "
                f"{_num(c.get('best'))} is): max pool passes the gradient to the max only")
    if k is Kind.MASKED:
        return (f"token {c.get('token')} attends to itself only (the causal mask hides the "
                "rest): a softmax over one score is 1 whatever the score")
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
    from tutor.words.notation import pretty

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
    if k is Kind.UNUSED_ENTRY:
        return f"look at which entries of {pretty(c.subject)} {c.get('used')} takes"
    if k is Kind.POOL_LOSER:
        return f"look at which entry of {e}'s pooling window is the largest"
    if k is Kind.MASKED:
        return f"look at what the causal mask lets token {c.get('token')} see"
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


# ─── a variant condition a draw fails (tutor.variants.Unmet) ─────────────────────────────
_SIGN = {-1: "negative (dead)", 0: "0", 1: "positive"}


def unmet(u) -> str:
    """"dead_relu: layer 2 has no dead ReLU" — the condition, then how the draw fails it."""
    return f"{u.condition}: {unmet_detail(u)}"


def unmet_detail(u) -> str:
    from tutor.render import entry_name

    c = u.condition
    if c == "dead_relu":
        what, owner = u.subject
        return f"{what} {owner} has no dead ReLU"
    if c == "no_relu_at_zero":
        return f"{entry_of(u.subject)} = 0"
    if c == "keep_relu_signs":
        r = u.subject
        at = f" in iteration {r.iteration}" if r.iteration > 1 else ""
        return f"{entry_of(r)}{at} is {_SIGN[u.got]}, not {_SIGN[u.want]} as in the base values"
    if c == "keep_zeros":
        where = entry_name(*u.subject)
        return f"{where} is " + ("0, unlike the base values" if u.got
                                 else "not 0 as in the base values")
    if c == "max_decimals":
        return f"{u.subject} needs {'infinitely many' if u.got < 0 else u.got} decimals"
    if c == "distinguishable":
        return f"at {u.subject} misconception {u.got} gives the true answer"
    return c


# ─── why a verdict is what it is (tutor.compare.Reason, Unread, ZeroMiss) ────────────────
def over(seconds: float, what: str) -> str:
    """The words for an exceeded time budget: what took too long, the limit, what to do."""
    return (f"{what} took longer than {seconds:g} s (the limit for it) and was "
            f"stopped; write the answers more simply, e.g. as decimals")


def _shape(s: tuple) -> str:
    if s[0] == "number":
        return "a single number"
    if s[0] == "bracketed":
        return "a single number in brackets"
    if s[0] == "vector":
        return f"a vector of {s[1]}"
    return f"a {s[1]}×{s[2]} matrix"


def unread(u) -> str:
    """Why an answer was not read: "expected a 3×2 matrix, got a vector of 2", the parser's
    own message with where ("unknown name 'q' (at character 9)"), "missing"."""
    if u.kind == "shape":
        return f"expected {_shape(u.want)}, got {_shape(u.got)}"
    if u.kind == "syntax":
        return u.message + (f" (at character {u.offset + 1})" if u.offset is not None else "")
    return "missing"


def reason_text(r) -> str:
    """A verdict's Reason in words ("" for none)."""
    if r is None:
        return ""
    k = r.kind
    if k == "no_answer":
        return "no answer"
    if k == "unread":
        return unread(r.unread)
    if k == "given":
        return r.text
    if k == "over_budget":
        return over(r.seconds, r.what)
    if k == "does_not_match":
        return "does not match"
    if k == "differs":
        return differs(r.value, r.what)
    if k == "formula_shape":
        return formula_clash(r.value, r.what)
    if k == "formula_differs":
        return formula_differs(r.value, r.what)
    if k == "rounded_chain":
        return "accepted: consistent with your rounded earlier answers"
    if k == "follow_through":
        return f"right given your earlier answers (first wrong step: {r.step})"
    if k == "rounded_zero":
        from tutor.render import fmt

        return (f"no follow-through credit: given your earlier answers this is {fmt(r.value)}, "
                "0 only when rounded (an earlier answer is nearly 0)")
    if k == "nothing_left":
        return (f"no follow-through credit: your earlier answers make {r.step} all zeros "
                "(nothing left to learn)")
    if k == "after_zeroed":
        return (f"no follow-through credit: an earlier answer ({r.step}) is "
                + ("all zeros" if r.all_zeros else "nearly 0"))
    return k


def expression_syntax(worked) -> str:
    """How to write an answer to a symbolic exercise (tutor.expr.parse_symbolic), in its own
    names: "Answers are expressions in x, y (nodes a, b, L stand for their definitions):
    2*x*(x + y) · x^2 · relu'(z) or 1[z > 0] · sigmoid'(z) · exp, ln, e"."""
    g = worked.graph
    leaves = [n for n, v in g.init.items() if getattr(v, "free_symbols", None)]
    nodes = [n for n, nd in g.nodes.items() if not nd.is_leaf]
    return (f"Answers are expressions in {listing(leaves)}"
            + (f" (nodes {', '.join(nodes)} stand for their definitions)" if nodes else "")
            + ":\n  2*x*(x + y) · x^2 · relu'(z) or 1[z > 0] · sigmoid'(z) · tanh'(z) · "
              "exp, ln, e")


def differs(judged, what: str) -> str:
    """Where an expression answer is not the step's expression (tutor.equivalence.Judged):
    "at x = 1, y = 2 yours is 18; ∂L/∂x is 60"."""
    from tutor.render import fmt

    if not judged.at:
        return f"not the same expression as {what}"
    where = ", ".join(f"{s} = {fmt(v)}" for s, v in judged.at)
    return f"at {where} yours is {fmt(judged.yours)}; {what} is {fmt(judged.truth)}"


def verdict_text(v) -> str:
    """What a verdict says of its step, in words: its Reason."""
    return reason_text(v.reason)


def entry_names(step_id: str, entries: tuple, shape: tuple | None) -> list[str]:
    """dW2[2,1], dW2[2,2] — the 0-based entries of a step named as a student reads them."""
    from tutor.render import entry_name

    return [entry_name(step_id, idx, shape) for idx in entries]


def wrong_entry_names(v) -> list[str]:
    """The entries a wrong verdict has off, named (dW2[2,1], …)."""
    shape = getattr(v.expected, "shape", None)
    return entry_names(v.step_id, v.wrong_entries, shape)


def zero_miss(step_id: str, m) -> str:
    """"dW2[2,1], dW2[2,2] should be 0, not 0.1, -0.2: <why it is 0>" (tutor.compare.ZeroMiss)."""
    from tutor.render import fmt

    names = ", ".join(entry_names(step_id, m.entries, m.shape))
    return f"{names} should be 0, not {', '.join(fmt(a) for a in m.written)}: {say(m.cause)}"


def zero_misses(v) -> list[str]:
    """Each ZeroMiss of a verdict in words."""
    return [zero_miss(v.step_id, m) for m in v.zero_misses]


# ─── formula questions (tutor.recipe) ───────────────────────────────────────────────────
def _dims(s: tuple) -> str:
    return "a number" if s in ((), (1, 1)) else f"{s[0]}×{s[1]}"


def formula_clash(c, what: str) -> str:
    """A formula answer whose shapes do not fit (tutor.recipe.Clash): "W3 is 1×2, delta3 is
    1×1: W3 @ delta3 needs 2 rows in delta3"; "yours is 3×2; ∂L/∂W2 is 2×3"."""
    if c.op == "result":
        return f"yours is {_dims(c.left)}; {what} is {_dims(c.right)}"
    if c.op == "matmul":
        return (f"{c.left_text} is {_dims(c.left)}, {c.right_text} is {_dims(c.right)}: "
                f"{c.left_text} @ {c.right_text} needs {c.left[1]} row"
                f"{'s' if c.left[1] != 1 else ''} in {c.right_text} (a transpose missing?)")
    sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}.get(c.op, c.op)
    return (f"{c.left_text} is {_dims(c.left)}, {c.right_text} is {_dims(c.right)}: {sym} "
            "needs the same shape, or a 1 where they differ")


def formula_differs(d, what: str) -> str:
    """Where a formula answer is not the step's (tutor.recipe.Differs): "with the network's
    data drawn at random (draw 1), entry [2] of yours is 0.4; of δ2, 0"."""
    from tutor.render import entry_name, fmt

    if d.yours is None:
        return (f"with the network's data drawn at random (draw {d.draw + 1}) yours is not "
                f"a number (a division by 0?)")
    where = "yours" if d.entry is None else f"entry {entry_name('', d.entry, d.shape)} of yours"
    return (f"not the same function of the network's data: at one random draw of its "
            f"input, weights, biases and target (draw {d.draw + 1}), {where} is "
            f"{fmt(d.yours)} where {what} is {fmt(d.truth)}")


def formula_syntax(worked) -> str:
    """How to write a formula answer, in the exercise's own names (lines within 80 columns)."""
    steps = [s for s in worked.steps if s.phase == "formulas"]
    names = [n for n, k in steps[0].names if k[1] == "value"] if steps else []
    shown = names if len(names) <= 7 else names[:3] + ["…"] + names[-3:]
    before = [st.id.removesuffix("_formula") for st in steps[:2]]
    return ("Formulas: in the names " + ", ".join(shown) + "\n"
            "  and of the steps before (" + ", ".join(before) + ", …)\n"
            "  @ product · .T or ᵀ transpose · * or ⊙ elementwise · relu'(z) or 1[z > 0]\n"
            "  sigmoid'(z) · tanh'(z) · sum(d, axis=1)")


def formula_hints(step) -> list[str]:
    """The hint ladder of a formula step (tutor.steps.FormulaStep): the shapes, then the
    quantities it is made of, then the rule in symbols."""
    from tutor.words.notation import meaning_text, text

    shapes = dict(step.shapes)
    used = [n for n in step.uses if n in shapes]
    out = [f"Shape: {meaning_text(step.meaning)} is {_dims(step.shape)}"
           + (f", the shape of {step.of.key[2]}" if step.of.key[2] in shapes
              and shapes[step.of.key[2]] == step.shape else "")]
    if used:
        out.append("It is made of " + listing([f"{n} ({_dims(shapes[n])})" for n in used]))
    out.append(f"Rule: {meaning_text(step.meaning)} = {text(step.of.formula)}")
    return out



def formula_explained(step) -> list[str]:
    """A formula step's answer explained: the recipe in symbols, as typed, and its rule."""
    from tutor.words.notation import meaning_text, note_text, text

    out = [f"  {meaning_text(step.meaning)} = {text(step.of.formula)}   (typed: {step.text})"]
    if note_text(step.of.formula):
        out.append(f"  rule: {note_text(step.of.formula)}")
    return out


def asked_shape(step) -> str:
    """What a step's answer is, for its prompt: "vector of 2", "2×3", "a formula, 2×3"."""
    from tutor.render import shape_text

    if step.phase == "formulas":
        return f"a formula, {_dims(step.shape)}"
    return shape_text(step.value)
