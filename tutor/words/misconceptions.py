"""The words of the misconception catalogue (tutor.misconceptions): a diagnosis explained,
a hint aimed at one bug, each with the step's own names and numbers put in.

The catalogue's entries carry their templates (``correct``, ``buggy``, ``description``,
``hint``: "∂{L}/∂{v} = Σ over {v}'s consumers of their contributions"); judging finds which
bug gives a student's number and returns a ``Diagnosis`` (misconception, step, the bug's
value, the correct one) — values. Here a diagnosis becomes a sentence:

    explain(worked, d)  → "no ReLU mask at delta2: the gradient goes through ReLU unmasked,
                           even where z2 ≤ 0. Your rule δ = ∂L/∂h gives [0.4, 0.2] (from the
                           correct inputs); the correct rule … gives [0.4, 0]."
    hint(worked, "delta2", "no-relu-mask") → "z2 = [0.42, -0.17], so ReLU′(z2) = [1, 0]: …"
"""
from __future__ import annotations

import re
from typing import Mapping

import sympy as sp

from tutor.functions import relu_step, resolve_steps
from tutor.render import fmt
from tutor.words import listing
from tutor.words.notation import pretty


def text(m, which: str, names: Mapping[str, str] | None = None) -> str:
    """Misconception ``m``'s ``description``, ``correct``, ``buggy`` or ``hint`` with the
    step's names put in (neutral names — ∂L/∂v for a node v — where none are given)."""
    return fill(getattr(m, which), names)


NEUTRAL = {"v": "v", "L": "L", "dv": "∂L/∂v", "consumers": "more than one node",
           "terms": "Σ over the consumers c of ∂L/∂c·∂c/∂v", "z": "z", "h": "h",
           "x": "the layer's input", "W": "W", "dz": "δ", "dh": "∂L/∂h", "mask": "",
           "conv": "0", "n": "n", "outer": "δ[i]·x[j] (δ xᵀ, not x δᵀ)",
           "passback": "Σᵢ W[i, j]·δ[i], down column j of W: Wᵀ δ",
           # no-relu-mask, in a layer's names; a graph step gets its own (names())
           "mask_buggy": "δ = ∂L/∂h", "mask_correct": "δ = ∂L/∂h ⊙ ReLU′(z), ReLU′(z) = 1[z > 0]",
           "mask_hint": "multiply {dh} by ReLU′({z}) entry by entry: 0 wherever {z} ≤ 0",
           # bias-no-batch-sum in a tensor graph: which axis the batch is
           "batch_axis": "",
           # broadcast-sum-wrong-axis, in a step's own names (names(): _axis_names)
           "axis_desc": "a broadcast value's gradient is summed along the axis it was not "
                        "repeated along",
           "axis_correct": "∂L/∂b = Σ along the axis b was repeated along (a column bias: "
                           "along each row, over the batch)",
           "axis_buggy": "∂L/∂b = Σ along the other axis (a column bias: down each column)",
           "axis_hint": "sum along the axis the value was repeated along in the forward pass: "
                        "a column is repeated along each row"}


def fill(template: str, names: Mapping[str, str] | None = None) -> str:
    """``{key}`` → names[key] (else the neutral name); other braces are left alone. A name
    may itself use names (``mask_hint`` uses ``{dh}``, ``{z}``): filled up to three deep."""
    names = {**NEUTRAL, **(names or {})}
    for _ in range(3):
        new = re.sub(r"\{(\w+)\}", lambda m: names.get(m.group(1), m.group(0)), template)
        if new == template:
            break
        template = new
    return template


def explain(worked, d, reveal: bool = True) -> str:
    """Names the misconception of a Diagnosis; the buggy rule beside the correct one, with
    the numbers.

    ``reveal=False``: the correct rule only, without the value it gives (a tutor that has not
    shown the answer yet must not give it away here). A diagnosis found by ``throughout``
    (the bug made at every step) says so."""
    m, step = d.misconception, worked.step(d.step_id)
    ns = names(worked, step)
    if d.throughout:
        return (f"{m.name} at {step.id}: {text(m, 'description', ns)}. Made at every step "
                f"from the steps you got right, the rule {text(m, 'buggy', ns)} gives your "
                f"{step.id} = {fmt(d.buggy_value)}; the correct rule {text(m, 'correct', ns)} "
                f"gives {fmt(d.correct_value)}.")
    src = "from your own earlier answers" if d.from_own else "from the correct inputs"
    out = (f"{m.name} at {d.step_id}: {text(m, 'description', ns)}. "
           f"Your rule {text(m, 'buggy', ns)} gives {fmt(d.buggy_value)} ({src}); "
           f"the correct rule ")
    if not reveal:
        return out + f"is {text(m, 'correct', ns)}."
    out += text(m, "correct", ns)
    if d.correct_value is not None:
        out += f" gives {fmt(d.correct_value)}"
    return out + "."


def hint(worked, step_id: str, mid: str) -> str:
    """The hint aimed at misconception ``mid`` at this step, with the step's names."""
    from tutor.misconceptions import CATALOGUE

    return text(CATALOGUE[mid], "hint", names(worked, worked.step(step_id)))


def _mask(worked, z: str, it: int, fn: str) -> str:
    """'z2 = [0.42, -0.17], so ReLU′(z2) = [1, 0]: ' (ReLU only: the mask is 0/1)."""
    q = worked.solution.quantities.get((it, "value", z))
    if q is None or fn != "relu":
        return ""
    return f"{z} = {fmt(q.value)}, so ReLU′({z}) = {fmt(_relu_prime(worked, q.value))}: "


def _relu_prime(worked, v):
    """ReLU′ at a value (entry by entry), by the engine's own rule: relu_step, with ReLU′(0)
    the exercise's convention (tutor.functions.resolve_steps)."""
    conv = worked.graph.relu_prime_at_zero
    if isinstance(v, sp.MatrixBase):
        return v.applyfunc(lambda e: resolve_steps(relu_step(e), conv))
    return resolve_steps(relu_step(v), conv)


def _relu_inside(worked, e, v: str, c: str, it: int, gs) -> dict[str, str]:
    """The no-relu-mask names for a ReLU inside a graph node's expression: at ∂L/∂w1 with
    r = relu(w1·x), "∂L/∂w1 without the ReLU′(w1·x) factor" ({} when v is under no ReLU)."""
    from tutor.functions import leaky_relu, relu

    sv = sp.Symbol(v)
    atoms = sorted((a for a in e.atoms(relu, leaky_relu) if sv in a.args[0].free_symbols),
                   key=sp.default_sort_key)
    if not atoms:
        return {}
    a = atoms[0]
    prime = "ReLU′" if isinstance(a, relu) else "LeakyReLU′"
    zt = pretty(a.args[0])
    sol, g = worked.solution, worked.graph
    sub = {sp.Symbol(p): sol.value(p, it) for p in g.nodes[c].parents
           if (it, "value", p) in sol.quantities}
    zv = a.args[0].xreplace(sub)
    mask = ""
    if isinstance(a, relu) and zv.is_number:
        mask = f"{zt} = {fmt(zv)}, so {prime}({zt}) = {fmt(_relu_prime(worked, zv))}: "
    local, d = pretty(sp.diff(e, sv)), f"∂{c}/∂{v}"
    return {"z": zt, "h": c, "dz": gs(v), "dh": gs(c), "mask": mask,
            "mask_buggy": f"{gs(v)} without the {prime}({zt}) factor",
            "mask_correct": f"{gs(v)} = {gs(c)} · {d} with {d} = {local}, ReLU′(z) = 1[z > 0]",
            "mask_hint": f"keep the factor {prime}({zt}) in {d} = {local}: it is 0 unless "
                         f"{zt} > 0"}


def names(worked, step) -> dict[str, str]:
    """The step's own names for the templates: {v} its node, {L} the loss, and — from the
    node's consumers — {consumers}, {terms}, {z}, {h}, {dz}, {dh}, {W}, {x}, {mask} …"""
    g = worked.graph
    it, kind, v = step.key
    L = g.loss
    node = g.nodes.get(v)

    def gs(n: str) -> str:
        nd = g.nodes.get(n)
        return nd.grad_symbol if nd is not None else f"∂{L}/∂{n}"

    out = {"v": v, "L": L, "dv": gs(v), "conv": fmt(sp.sympify(g.relu_prime_at_zero, strict=True))}
    if kind == "new" or node is None:
        return out
    if kind == "value":
        if node.op == "loss" and node.parents:
            p = worked.solution.quantities.get((it, "value", node.parents[0]))
            if p is not None and isinstance(p.value, sp.MatrixBase):
                out["n"] = str(p.value.rows * p.value.cols)
        return out
    qs = worked.solution.quantities
    cons = [c for c in g.consumers(v) if (it, "grad", c) in qs]
    if cons:
        out["consumers"] = listing(cons, both=True)
        out["terms"] = " + ".join(f"{gs(c)}·∂{c}/∂{v}" for c in cons)
    for c in cons:
        cn = g.nodes[c]
        fn = ""
        if cn.op == "act":
            fn = cn.attrs.get("fn", "")
        elif cn.op == "expr":
            e = cn.attrs.get("expr")
            if getattr(e, "args", None) == (sp.Symbol(v),):
                fn = getattr(e.func, "__name__", "")
            elif g.kind == "graph":
                inner = _relu_inside(worked, e, v, c, it, gs)
                if inner:
                    out.update(inner)
                    break
        if fn in ("relu", "leaky_relu", "sigmoid", "tanh"):
            out.update(z=v, h=c, dz=gs(v), dh=gs(c), mask=_mask(worked, v, it, fn))
            if g.kind == "graph" and fn in ("relu", "leaky_relu"):  # no δ, no h: its own names
                prime = "ReLU′" if fn == "relu" else "LeakyReLU′"
                out.update(mask_buggy=f"{gs(v)} = {gs(c)}",
                           mask_correct=f"{gs(v)} = {gs(c)} · {prime}({v}), ReLU′(z) = 1[z > 0]",
                           mask_hint=f"multiply {gs(c)} by {prime}({v}): it is 0 unless {v} > 0")
            break
        if cn.op == "tensor":
            inner = _tensor_names(worked, v, c, it, gs)
            if inner:
                out.update(inner)
                break
            continue
        if cn.op == "affine":
            W, x = cn.parents[0], cn.parents[1]
            dz = gs(c)
            out.update(W=W, x=x, z=c, dz=dz)
            d = qs.get((it, "grad", c))
            if v == cn.parents[2] and d is not None and isinstance(d.value, sp.MatrixBase):
                out.update(_affine_axis_names(v, gs(v), dz, d.value.shape, g.layout))
            if g.layout == "column":
                out["outer"] = (f"{dz}[i]·{x}[j] (row i: output unit i, column j: input j), "
                                f"so ∂{L}/∂{W} = {dz} · {x}ᵀ")
                out["passback"] = f"Σᵢ {W}[i, j]·{dz}[i], down column j of {W}: {W}ᵀ · {dz}"
            else:
                out["outer"] = (f"{x}[i]·{dz}[j] (row i: input i, column j: output unit j), "
                                f"so ∂{L}/∂{W} = {x}ᵀ · {dz}")
                out["passback"] = f"Σₖ {W}[j, k]·{dz}[k], along row j of {W}: {dz} · {W}ᵀ"
            break
        if cn.op == "loss":
            p = qs.get((it, "value", v))
            if p is not None and isinstance(p.value, sp.MatrixBase):
                out["n"] = str(p.value.rows * p.value.cols)
    return out


# ─── a broadcast summed back, and a reduction sent back: which axis ──────────────────
_ALONG = {1: "along each row", 0: "down each column"}  # the axis a sum runs along


def _affine_axis_names(v: str, dv: str, dz: str, shape: tuple, layout: str) -> dict[str, str]:
    """broadcast-sum-wrong-axis at a layer's bias: δ is units × batch (row layout: batch ×
    units), so the batch sum runs along each row (down each column)."""
    right = 1 if layout == "column" else 0
    wrong = 1 - right
    return {
        "axis_desc": f"{dz} is summed {_ALONG[wrong]} (over the units), not {_ALONG[right]} "
                     "(over the examples of the batch)",
        "axis_correct": f"{dv} = {dz} summed {_ALONG[right]}: over the batch, one entry per unit",
        "axis_buggy": f"{dv} = {dz} summed {_ALONG[wrong]}: over the units, one entry per "
                      "example",
        "axis_hint": f"{v} has one entry per unit and every example of the batch uses it: sum "
                     f"{dz} {_ALONG[right]}, over the batch"}


def _walk(t, G: str, L: str):
    """Each sub-expression of a tensor node's tree with the name of the gradient arriving
    at it: the node's own ∂L/∂n at the top, passed on unchanged through + (and −'s left
    side, negated on its right), else ∂L/∂(the sub-expression)."""
    yield t, G
    for k, a in enumerate(t.args):
        if t.op == "add" or (t.op == "sub" and k == 0):
            here = G
        elif t.op == "sub" and not G.startswith("−"):
            here = f"−{G}"
        else:
            here = f"∂{L}/∂({a.text})"
        yield from _walk(a, here, L)


def _tensor_names(worked, v: str, c: str, it: int, gs) -> dict[str, str]:
    """The names at ∂L/∂v when tensor node c broadcasts v (``W @ X + b``: b, a column, is
    repeated along each row) or reduces it along an axis (``mean(h, axis=1)``): the gradient
    summed back, its axis, and the gradient arriving at that operation ({} for neither)."""
    from tutor.rules import tensor_parts
    from tutor.tensors import said, shape_of

    g, sol = worked.graph, worked.solution
    node = g.nodes[c]
    try:
        memo = tensor_parts(node, {p: sol.value(p, it) for p in node.parents}, g)
    except Exception:  # a value the probe cannot recompute: the neutral names
        return {}
    for t, here in _walk(node.attrs["tree"], gs(c), g.loss):  # G arriving at t
        if t.op in ("add", "sub", "mul", "div"):
            for k, a in enumerate(t.args):
                if a.op != "name" or a.arg != v:
                    continue
                s, so = shape_of(memo[id(a)]), shape_of(memo[id(t)])
                if not s or not so or s == so:
                    continue
                return _broadcast_names(v, gs(v), _summand(t, k, here), s, so, said)
        if t.op in ("sum", "mean") and t.arg is not None and t.args[0].op == "name" \
                and t.args[0].arg == v:
            return _reduce_names(v, gs(v), t, here, shape_of(memo[id(t.args[0])]))
    return {}


def _summand(t, k: int, G: str) -> str:
    """What the broadcast argument k of t gets from each entry before the sum."""
    other = t.args[1 - k].text
    if t.op == "add" or (t.op == "sub" and k == 0):
        return G
    if t.op == "sub":
        return f"−{G}"
    if t.op == "mul":
        return f"{G} ⊙ {other}"
    if k == 0:
        return f"{G} / {other}"
    return f"−{G} ⊙ {other} / {t.args[1].text}²"


def _broadcast_names(v, dv, summand, s, so, said) -> dict[str, str]:
    rows, cols = s[0] == 1 and so[0] > 1, s[1] == 1 and so[1] > 1
    if rows and cols:  # repeated to every entry: one sum, no axis to confuse
        return {"dz": summand, "batch_axis": f", over every entry: sum({summand})"}
    right = 1 if cols else 0
    wrong = 1 - right
    shape = "a column" if right == 1 else "a row"
    return {
        "dz": summand,
        "batch_axis": f" axis, {_ALONG[right]}: sum({summand}, axis={right})",
        "axis_desc": f"{v} ({shape}, {said(s)}) is repeated {_ALONG[right]} to {said(so)} in "
                     f"the forward pass, but its gradient is summed {_ALONG[wrong]}",
        "axis_correct": f"{dv} = sum({summand}, axis={right}), {_ALONG[right]}: the axis {v} "
                        "was repeated along",
        "axis_buggy": f"{dv} = sum({summand}, axis={wrong}), {_ALONG[wrong]}",
        "axis_hint": f"{v} is {said(s)}, repeated {_ALONG[right]} to {said(so)}: sum "
                     f"{summand} {_ALONG[right]}, sum(·, axis={right})"}


def _reduce_names(v, dv, t, G, s) -> dict[str, str]:
    k = t.arg
    other = 1 - k
    at = "[i]" if k == 1 else "[j]"  # the entry of G that v[i, j] fed
    wrong_at = "[j]" if k == 1 else "[i]"
    n = f"/{s[k]}" if t.op == "mean" and s else ""
    wrong_n = f"/{s[other]}" if t.op == "mean" and s else ""
    return {
        "axis_desc": f"{t.text} runs {_ALONG[k]} of {v}, but its gradient is sent back as if "
                     f"it ran {_ALONG[other]}",
        "axis_correct": f"{dv}[i, j] = {G}{at}{n} from {t.text}: {v}[i, j] feeds entry "
                        f"{at[1]} of it only",
        "axis_buggy": f"{dv}[i, j] = {G}{wrong_at}{wrong_n} from {t.text} (the other axis)",
        "axis_hint": f"{t.text} runs {_ALONG[k]} (axis={k}): {v}[i, j] feeds only entry "
                     f"{at[1]} of it, so it gets {G}{at}{n}"}
