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
           "mask_hint": "multiply {dh} by ReLU′({z}) entry by entry: 0 wherever {z} ≤ 0"}


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
        if cn.op == "affine":
            W, x = cn.parents[0], cn.parents[1]
            dz = gs(c)
            out.update(W=W, x=x, z=c, dz=dz)
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
