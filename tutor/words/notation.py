"""Formulas and names as the student reads them: plain text (symbols, or the numbers in
their places) and TeX in the seeds' notation, all rendered from the engine's formula trees
(tutor.formula). Nothing here computes a value; nothing elsewhere writes a formula.

    text(f)                 'δ2 · h1ᵀ'
    text(f, numbers=True)   '[-0.2192, 0] · [0.6, 0.1]ᵀ'
    tex(f, network=True)    '{\\delta^{(2)}} \\cdot {h^{(1)}}^\\top'
    note_text(f)            'ReLU′(z) = 1[z > 0]'   (the rules the step used, in words)
"""
from __future__ import annotations

import re
from typing import Any, Callable

from tutor.formula import Const, Formula, NoteKind, Op, Operand, Sym, Written
from tutor.render import fmt, sstr

# ─── names: Greek letters, ^ and ·, ReLU′ ──────────────────────────────────────────────
GREEK = {"lambda": "λ", "alpha": "α", "beta": "β", "gamma": "γ", "eta": "η", "mu": "μ",
         "theta": "θ", "sigma": "σ", "tau": "τ", "omega": "ω", "rho": "ρ", "epsilon": "ε"}
_GREEK = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(GREEK) + r")(?![A-Za-z0-9_(])")


def display(text: str) -> str:
    """An author's name or expression in display form: ^ for **, · for *, λ for lambda."""
    text = " ".join(text.split()).replace("**", "^").replace("*", "·")
    return _GREEK.sub(lambda m: GREEK[m.group()], text)


def pretty(e: Any) -> str:
    """A SymPy expression as the student reads it: ^ and ·, ReLU′(z), and 1[a - b > 0] for
    ∂max/∂a."""
    import sympy as sp

    if isinstance(e, str):
        return display(e)
    if isinstance(e, sp.Basic) and e.has(sp.Heaviside):
        e = e.replace(sp.Heaviside, lambda u, *_: sp.Symbol(f"1[{sstr(u)} > 0]"))
    text = _GREEK.sub(lambda m: GREEK[m.group()], sstr(e).replace("**", "^").replace("*", "·"))
    for name, shown in (("relu_step(", "ReLU′("), ("relu'(", "ReLU′("),
                        ("leaky_step(", "LeakyReLU′(")):  # as the grammar and the seeds spell them
        text = text.replace(name, shown)
    return text


def written(node) -> str:
    """A graph node's expression as its author wrote it, in display form (^, ·, λ)."""
    return display(node.attrs.get("text") or sstr(node.attrs["expr"]))


# ─── the rules a step used ─────────────────────────────────────────────────────────────
ACTIVATION_RULES = {  # φ′ of each activation (tutor.rules.ACTIVATIONS), for hints
    "identity": "φ′(z) = 1",
    "relu": "ReLU′(z) = 1[z > 0]",
    "leaky_relu": "LeakyReLU′(z) = 1 if z > 0 else α",
    "elu": "ELU′(z) = 1 if z > 0 else α·e^z",
    "softplus": "softplus′(z) = σ(z) = 1 / (1 + e^(−z))",
    "sigmoid": "σ′(z) = σ(z)(1 − σ(z))",
    "tanh": "tanh′(z) = 1 − tanh²(z)",
}
FORWARD_RULES = {"relu": "ReLU(z) = max(0, z)",
                 "leaky_relu": "LeakyReLU(z) = z if z > 0 else α·z",
                 "elu": "ELU(z) = z if z > 0 else α·(e^z − 1)",
                 "softplus": "softplus(z) = log(1 + e^z)",
                 "sigmoid": "σ(z) = 1 / (1 + e^(−z))",
                 "tanh": "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))",
                 "softmax": "softmax(z)_i = e^(z_i) / Σ_j e^(z_j)"}
LOSS_RULES = {"mse": "MSE = mean of (ŷ − y)² over every entry", "sse": "SSE = Σ (ŷ − y)²",
              "half_sse": "½ Σ (ŷ − y)²",
              "bce": "BCE = −mean of [y ln ŷ + (1 − y) ln(1 − ŷ)]",
              "ce": "cross-entropy = −mean over the batch of Σ y ln ŷ"}
LOSS_GRADIENTS = {"mse": "∂L/∂ŷ = 2(ŷ − y)/n", "sse": "∂L/∂ŷ = 2(ŷ − y)", "half_sse": "∂L/∂ŷ = ŷ − y",
                  "bce": "∂L/∂ŷ = (−y/ŷ + (1 − y)/(1 − ŷ))/n", "ce": "∂L/∂z = (ŷ − y)/B"}
FUSED_RULES = {"bce": "BCE + sigmoid: ∂L/∂z = ŷ − y",
               "ce": "softmax + cross-entropy: ∂L/∂z = ŷ − y"}


def _alpha(note) -> str:
    a = note.get("alpha")
    return "" if a is None else f", α = {fmt(a)}"


def one_note(n) -> str:
    k = n.kind
    if k is NoteKind.ACTIVATION:
        return ACTIVATION_RULES[n.get("fn")] + _alpha(n)
    if k is NoteKind.FORWARD:
        return FORWARD_RULES[n.get("fn")] + _alpha(n)
    if k is NoteKind.LOSS:
        return LOSS_RULES[n.get("fn")]
    if k is NoteKind.LOSS_GRADIENT:
        return LOSS_GRADIENTS[n.get("fn")]
    if k is NoteKind.FUSED:
        return FUSED_RULES[n.get("fn")]
    if k is NoteKind.PARTIAL:
        return f"{display(n.get('partial'))} = {pretty(n.get('expr'))}"
    if k is NoteKind.NO_GRADIENT:
        return f"{display(n.get('param'))} gets no gradient"
    raise ValueError(f"no words for the rule {k}")  # a new kind needs its words here


def note_text(f: Formula | None) -> str:
    """The rules a step used, in words ('' when none): 'ReLU′(z) = 1[z > 0], α = 0.01'."""
    return "" if f is None else "; ".join(one_note(n) for n in f.notes)


def names(f: Formula) -> list[str]:
    """The operands' names as written, in order: ['δ2', 'h1'], ['∂L/∂h', 'ReLU′(z)']."""
    return [display(o.name) if not o.deriv else f"{o.deriv}({display(o.name)})"
            for o in f.operands()]


def meaning_text(m) -> str:
    """A step's meaning (tutor.steps.Meaning) as written: 'z1 = W1 x + b1', '∂L/∂W2'."""
    if m.definition is None:
        return display(m.lhs)
    d = text(m.definition)
    return f"{display(m.lhs)} = {d}" if m.lhs else d


def restates(step) -> bool:
    """Whether the step's formula only repeats its meaning (u = x·y, not u = x·y = x·y): the
    same tree, operands compared by name."""
    f = step.formula
    return f is not None and f.tree is not None and f.tree == step.meaning.definition


def only_the_value(f: Formula | None, value: Any) -> bool:
    """Whether the formula with its numbers would only print the value again: a lone
    operand or constant equal to it (∂L/∂b1 = δ1 = [-0.0877, 0.0438] for one example)."""
    t = f.tree if f is not None else None
    return isinstance(t, (Operand, Const)) and t.value is not None and bool(t.value == value)


# ─── plain text ────────────────────────────────────────────────────────────────────────
OPERATORS = set("+-−·*/^⊙×")
_PREC = {"add": 1, "sub": 1, "neg": 2, "dot": 3, "juxt": 3, "hadamard": 3, "div": 3, "frac": 3,
         "sum": 0, "batch_sum": 0, "axis_sum": 9, "square": 5, "T": 5, "call": 9, "ln": 9, "brackets": 9}
_PREFIX = ("sum", "batch_sum", "neg")  # they extend to the right: ½ Σ …, −Σ […]
_INFIX = {"add": " + ", "sub": " − ", "dot": " · ", "hadamard": " ⊙ ", "div": " / ", "frac": "/"}
_INFIX_TEX = {"add": " + ", "sub": " - ", "dot": r" \cdot ", "hadamard": r" \odot ", "div": " / ",
              "frac": "/"}


def _prec(t) -> int:
    return _PREC[t.kind] if isinstance(t, Op) else 9


def text(f: Formula | Any, numbers: bool = False, show: Callable[[Any], str] = fmt) -> str:
    """The formula with its operands' names, or (``numbers``) their values in their places.
    A negative number after an operator gets brackets: 2 − 0.1 · (-0.5), but relu(-1) and
    -1 + 2 stay as they are."""
    tree = f.tree if isinstance(f, Formula) else f
    return "" if tree is None else _Text(numbers, show).run(tree, False)


class _Text:
    def __init__(self, numbers: bool, show: Callable[[Any], str], tex: bool = False,
                 network: bool = False):
        self.numbers, self.show, self.tex, self.network = numbers, show, tex, network

    def operand(self, o: Operand, after_op: bool) -> str:
        if self.tex:
            x = (tex_value(o.value) if self.numbers
                 else tex_name(display(o.name), self.network, o.deriv))
            if self.numbers and x.startswith("-"):
                x = f"({x})"  # 0.3 - 0.1 \cdot (-0.3654)
            return "{" + x + "}"
        if not self.numbers:
            return display(o.name) if not o.deriv else f"{o.deriv}({display(o.name)})"
        t = self.show(o.value)
        return f"({t})" if after_op and t.startswith("-") else t

    def wrapped(self, t, after_op: bool, parens: bool) -> str:
        parens = parens or self.compound(t)  # x·(x + y), (x*(x + y))^2
        return f"({self.run(t, False)})" if parens else self.run(t, after_op)

    def compound(self, t) -> bool:
        """An operand whose value, in its place, is an expression in symbols with an operator
        at its top (a sum, a product, a power): it gets brackets next to another operator."""
        v = getattr(t, "value", None) if isinstance(t, Operand) and self.numbers else None
        return bool(getattr(v, "free_symbols", None)) and (v.is_Add or v.is_Mul or v.is_Pow)

    def run(self, t, after_op: bool) -> str:
        if isinstance(t, Operand):
            return self.operand(t, after_op)
        if isinstance(t, Const):
            return _const_tex(t.value) if self.tex else str(t.value)
        if isinstance(t, (Sym, Written)):
            return self.template(t, after_op)
        k, a, p = t.kind, t.args, _PREC[t.kind]
        if k in _INFIX:
            parts = []
            for i, x in enumerate(a):
                if k == "add":
                    parens = False  # a sum of terms, each as it is written
                    parts.append(self.run(x, after_op if i == 0 else True))
                    continue
                elif k == "frac":  # tight: (1 − y)/(1 − ŷ), y/ŷ
                    parens = isinstance(x, Op) and _prec(x) < 9
                else:  # a − (b + c), but a − b · c
                    parens = _prec(x) < p or (i > 0 and k == "sub" and _prec(x) == p)
                parts.append(self.wrapped(x, after_op if i == 0 else True, parens))
            return (_INFIX_TEX if self.tex else _INFIX)[k].join(parts)
        if k == "juxt":
            left, right = a
            lp = _prec(left) < p
            rp = _prec(right) < p and right.kind not in _PREFIX
            sep = "" if rp else " "
            return self.wrapped(left, after_op, lp) + sep + self.wrapped(right, False, rp)
        if k == "neg":
            (x,) = a
            return ("-" if self.tex else "−") + self.wrapped(x, True, _prec(x) < 2
                                                             and x.kind not in _PREFIX)
        if k == "T":  # a negative base is bracketed: (-0.3654)ᵀ, (-0.0175)²
            (x,) = a
            return self.wrapped(x, True, _prec(x) < p) + (r"^\top" if self.tex else "ᵀ")
        if k == "square":
            (x,) = a
            return self.wrapped(x, True, _prec(x) < p) + ("^2" if self.tex else "²")
        if k == "call":
            inner = ", ".join(self.run(x, False) for x in a)
            if self.tex:  # tall brackets around a matrix: ReLU\left([…]\right)
                return _FN_TEX.get(t.fn, t.fn) + r"\left(" + inner + r"\right)"
            return f"{t.fn}({inner})"
        if k == "ln":
            (x,) = a
            ln = r"\ln" if self.tex else "ln"
            return f"{ln}({self.run(x, False)})" if isinstance(x, Op) else f"{ln} {self.run(x, False)}"
        if k == "sum":
            return (r"\sum " if self.tex else "Σ ") + self.run(a[0], False)
        if k == "batch_sum":
            return (r"\sum_{\text{batch}} " if self.tex else "Σ over the batch of ") + \
                self.run(a[0], False)
        if k == "axis_sum":  # sum(G, axis=1): a broadcast in the forward pass, summed back
            inner = self.run(a[0], False)
            if self.tex:
                sub = {"0": r"_{\text{rows}}", "1": r"_{\text{cols}}"}.get(t.fn, "")
                return rf"\textstyle\sum{sub}\left({inner}\right)"
            return f"sum({inner}, axis={t.fn})" if t.fn else f"sum({inner})"
        if k == "brackets":
            inner = self.run(a[0], False)
            return rf"\left[{inner}\right]" if self.tex else f"[{inner}]"
        raise ValueError(f"no rendering for the formula operation {k}")

    # An author's expression (Written) or a SymPy one (Sym): its printed text with holes.
    def template(self, t, after_op: bool) -> str:
        if isinstance(t, Written):
            ops, raw = [], []
            for part in t.parts:
                if isinstance(part, Operand):
                    raw.append("{%d}" % len(ops))
                    ops.append(part)
                else:
                    raw.append(part.replace("{", "{{").replace("}", "}}"))
            tmpl = display("".join(raw))
        else:
            import sympy as sp

            ops = list(t.operands)
            holes = {sp.Symbol(o.name): sp.Symbol("{%d}" % i) for i, o in enumerate(ops)}
            tmpl = pretty(t.expr.xreplace(holes))
        return self.fill(tmpl, ops, after_op)

    def fill(self, tmpl: str, ops: list[Operand], after_op: bool) -> str:
        if self.tex:
            tmpl = re.sub(rf"({_DERIV_ALT})′\(\{{(\d+)\}}\)", r"{\2:\1}", tmpl)
            out = []
            pieces = re.split(r"(\{\d+(?::\w+|:σ)?\})", tmpl)
            for k, part in enumerate(pieces):
                if k % 2 == 0:
                    for a, b in _LITERAL:
                        part = part.replace(a, b)
                    out.append(_CALL_TEX.sub(lambda m: _FN_TEX[m[1]] + "(", part))
                    continue
                idx, _, act = part[1:-1].partition(":")
                x = self.operand(ops[int(idx)], True)
                near = (pieces[k - 1].rstrip()[-1:] if k else "") + \
                    (pieces[k + 1].lstrip()[:1] if k + 1 < len(pieces) else "")
                if self.compound(ops[int(idx)]) and set(near) & OPERATORS:
                    x = r"{\left(" + x[1:-1] + r"\right)}"
                if act and not self.numbers:
                    x = "{" + _DERIV[act].format(x[1:-1]) + "}"
                out.append(x)
            return "".join(out)

        def shown(m):  # each occurrence on its own: 2·(-1) − relu(-1)
            if m.group(1) is None:
                return m.group()[0]  # {{ and }}, as str.format reads them
            before = tmpl[:m.start()].rstrip()
            op_before = before[-1:] in OPERATORS if before else after_op
            after = tmpl[m.end():].lstrip()[:1]
            base = after == "^"  # (-0.0175)^2, not -0.0175^2
            o = ops[int(m.group(1))]
            if (op_before or after in OPERATORS or base) and self.compound(o):
                return f"({self.operand(o, False)})"
            return self.operand(o, op_before or base)
        return re.sub(r"\{\{|\}\}|\{(\d+)\}", shown, tmpl)


# ─── TeX in the notation of the seeds ──────────────────────────────────────────────────
_LAYERED = re.compile(r"(δ|W|b|z|h)(\d+)")
_DERIV = {"ReLU": (r"\mathbf{{1}}[{0} > 0]"), "σ": r"\sigma'({0})", "tanh": r"\tanh'({0})",
          "LeakyReLU": r"\mathrm{{LeakyReLU}}'({0})", "ELU": r"\mathrm{{ELU}}'({0})",
          "softplus": r"\mathrm{{softplus}}'({0})"}  # φ′ by its symbol (rules.Activation)
_DERIV_ALT = "|".join(sorted(map(re.escape, _DERIV), key=len, reverse=True))
_FN_TEX = {"J_softmax": r"J_{\text{softmax}}", "leaky_relu": r"\mathrm{LeakyReLU}",
           "elu": r"\mathrm{ELU}", "softplus": r"\mathrm{softplus}", "relu": r"\mathrm{ReLU}",
           "sigmoid": r"\sigma", "tanh": r"\tanh", "exp": r"\exp", "log": r"\log",
           "sqrt": r"\mathrm{sqrt}", "max": r"\max", "min": r"\min",
           "softmax": r"\mathrm{softmax}"}
LOSS_TEX = {"mse": r"\frac{1}{n}\sum (\hat{y} - y)^2", "sse": r"\sum (\hat{y} - y)^2",
            "half_sse": r"\tfrac{1}{2}\sum (\hat{y} - y)^2",
            "bce": r"-\frac{1}{n}\sum \left[y \ln \hat{y} + (1 - y)\ln(1 - \hat{y})\right]",
            "ce": r"-\frac{1}{B}\sum y \ln \hat{y}"}  # each loss as the seeds define it
_LITERAL = (("Σ over the batch of ", r"\sum_{\text{batch}} "), ("J_softmax", r"J_{\text{softmax}}"),
            ("·", r"\cdot"), ("ᵀ", r"^\top"), ("⊙", r"\odot"), ("−", "-"), ("ŷ", r"\hat{y}"),
            ("Σ ", r"\sum "), ("½ ", r"\tfrac{1}{2} "), ("²", "^2"), (" ln ", r" \ln "), ("ln(", r"\ln("),
            ("[", r"\left["), ("]", r"\right]"),
            (" @ ", r"\,"), ("@", r"\,"), (".T", r"^\top"))  # a tensor node: W @ x, x.T
# a call by its whole name: relu( is ReLU, not r + ELU
_CALL_TEX = re.compile(r"(?<![A-Za-z_\\])(" + "|".join(f for f in _FN_TEX if f != "J_softmax")
                       + r")\(")
_GREEK_TEX = {g: "\\" + word for word, g in GREEK.items()}


def _const_tex(v) -> str:
    return r"\tfrac{1}{2}" if v == "½" else str(v)


def tex(f: Formula, network: bool, numbers: bool = False) -> str:
    """The formula in TeX: operand symbols (or their values) in their places."""
    return "" if f.tree is None else _Text(numbers, fmt, tex=True, network=network).run(f.tree,
                                                                                         False)


def tex_name(name: str, network: bool, deriv: str = "") -> str:
    """'W2' → W^{(2)}, 'δ2' → \\delta^{(2)}, '∂L/∂h1' → \\frac{∂ℒ}{∂h^{(1)}}, 'w11' → w_{11};
    with ``deriv`` 'ReLU′': \\mathbf{1}[z^{(2)} > 0]."""
    import sympy as sp

    if deriv:
        key = deriv.removesuffix("′")
        if key not in _DERIV:  # a tensor node's φ′ with no TeX of its own: exp′(a), log′(a)
            return rf"\operatorname{{{key}}}'\left({tex_name(name, network)}\right)"
        return _DERIV[key].format(tex_name(name, network))
    if name in ("ŷ", "yhat"):
        return r"\hat{y}"
    if name == "η":
        return r"\eta"
    if name in _GREEK_TEX:  # λ → \lambda (display wrote it in Greek)
        return _GREEK_TEX[name]
    if name.startswith("∂") and "/∂" in name:
        top, bottom = name[1:].split("/∂", 1)
        return rf"\frac{{\partial {tex_name(top, network)}}}{{\partial {tex_name(bottom, network)}}}"
    if network:
        m = _LAYERED.fullmatch(name)
        if m:
            return (r"\delta" if m[1] == "δ" else m[1]) + f"^{{({m[2]})}}"
        return r"\mathcal{L}" if name == "L" else name
    return sp.latex(sp.Symbol(name))


def tex_new_name(name: str, network: bool) -> str:
    """θ after the update: W^{(2)}_{\\text{new}}, and w_{1} → w_{1,\\text{new}} (one subscript)."""
    t = tex_name(name, network)
    return (t[:-1] + r",\text{new}}" if re.search(r"_\{[^{}]*\}$", t)
            else t + r"_{\text{new}}")


def tex_value(v: Any) -> str:
    """A number, or a bmatrix of numbers (columns stay columns), rounded as in fmt; an
    expression in symbols as TeX in the seeds' notation (tex_symbolic)."""
    from tutor.render import is_matrix, scalar_text

    def one(e):
        return tex_symbolic(e) if getattr(e, "free_symbols", None) else scalar_text(e)

    if is_matrix(v):
        if v.shape == (1, 1):
            return one(v[0, 0])
        rows = [" & ".join(one(e) for e in r) for r in v.tolist()]
        return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"
    return one(v)


def tex_symbolic(e: Any) -> str:
    """An expression in symbols as TeX: ReLU′ as 1[z > 0], σ, ReLU, factored where shorter
    (the form tutor.render.symbolic_text shows)."""
    from sympy.printing.latex import LatexPrinter

    from tutor.render import compact

    class _Tex(LatexPrinter):
        def _print_relu_step(self, x):
            return r"\mathbf{1}[%s > 0]" % self._print(x.args[0])

        def _print_relu(self, x):
            return r"\mathrm{ReLU}\left(%s\right)" % self._print(x.args[0])

        def _print_sigmoid(self, x):
            return r"\sigma\left(%s\right)" % self._print(x.args[0])

        def _print_softplus(self, x):
            return r"\mathrm{softplus}\left(%s\right)" % self._print(x.args[0])

    return _Tex().doprint(compact(e))


def adds_up(worked, step) -> bool:
    """"=" or "≈" between a formula with numbers and its value: whether the step's formula,
    worked with its numbers as they are shown (rounded: ∂J/∂v = 12/343 shown as 0.035),
    gives its value as shown — 0.035 + 0.035 · 4 is 0.175, not
    the 0.1749 shown for 60/343, so that step's numbers are written with "≈". Every quantity
    is replaced by its shown number and the step recomputed by its own rule (one solve per
    worked exercise, kept in its cache)."""
    from tutor.budget import FOLLOW_SECONDS, within
    from tutor.grade import recomputed
    from tutor.limits import Trouble
    from tutor.render import shown
    from tutor.solve import solve

    failed = (Trouble, ArithmeticError, ValueError, TypeError)  # e.g. ŷ shown as 1: ln 0
    if "shown" not in worked.cache:
        sol = worked.solution
        worked.cache["shown"] = None  # what stays when the numbers cannot be worked
        with within(FOLLOW_SECONDS) as budget:  # as bounded as any follow-through solve
            try:
                again = solve(sol.graph, overrides={
                    k: shown(q.value) for k, q in sol.quantities.items()})
            except failed:
                again = None
        if not budget.exceeded:
            worked.cache["shown"] = again
    if worked.cache["shown"] is None:
        return False
    try:
        got = recomputed(worked.cache["shown"], step.key)
        return got is not None and bool(shown(got) == shown(step.value))
    except failed:  # the shown numbers are not a number here (ln(1 − 1)): say ≈
        return False
