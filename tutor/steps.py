"""Steps: the ordered questions a student is asked, each with a stable id (DESIGN.md §4).

    network, per iteration      forward   z1 h1 … zL yhat L
                                formulas  [dyhat_formula] deltaL_formula dWL_formula …
                                          (iteration 1 only: the recipe, tutor.recipe)
                                backward  [dyhat] deltaL dWL dbL dh(L-1) … delta1 dW1 db1
                                inputs    dx
                                update    W1_new b1_new … WL_new bL_new
    graph, per iteration        forward   every node, topological order
                                backward  d<node> in reverse topological order, then d<param>
                                inputs    d<input>
                                update    <param>_new
    iteration k ≥ 2: the same ids behind "it<k>."

A Step only *reads* the Solution: its value, formula and zero causes are the engine's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import sympy as sp

from tutor.exercise import PHASES as PHASE_ORDER  # forward, formulas, backward, inputs, update
from tutor.formula import Operand, Untypable, op, typed, walk_operands
from tutor.rules import Formula
from tutor.solve import Key, Quantity, Solution


@dataclass(frozen=True)
class Meaning:
    """What a step asks for: ``lhs = definition`` (z1 = W1 x + b1, δ2 = ∂L/∂z2), the
    definition alone (W1 − η · ∂L/∂W1) or a name alone (∂L/∂W2). ``definition`` is a formula
    tree (tutor.formula); words are made from it in tutor.words.notation.meaning_text."""

    lhs: str = ""
    definition: Any = None


@dataclass(frozen=True)
class Step:
    id: str  # stable: "delta2", "it2.da"
    key: Key  # the Solution quantity it asks for
    phase: str  # forward | backward | inputs | update
    skill: str  # a key of tutor.words.SKILLS
    meaning: Meaning  # ∂L/∂W2; z1 = W1 x + b1
    quantity: Quantity = field(repr=False)

    @property
    def value(self) -> Any:
        return self.quantity.value

    @property
    def formula(self) -> Formula | None:
        return self.quantity.formula

    @property
    def causes(self) -> Mapping[tuple, Any]:
        """entry → the Cause of its zero (tutor.cause), as the rule that made it recorded."""
        return self.quantity.causes

    @property
    def iteration(self) -> int:
        return self.key[0]


class TypedFormula(sp.Symbol):
    """A formula step's value: a SymPy symbol named by the recipe as a student types it
    (``delta2 @ h1.T``), so that every front end shows it as it shows an expression answer
    (``fmt`` prints the text). Nothing computes with it or reads it back: tutor.recipe
    judges an answer from the step's formula tree (``FormulaStep.of``)."""

    def _latex(self, printer):  # the typed text, verbatim
        body = "".join("\\" + c if c in "#$%&_{}" else c for c in self.name)
        return r"\texttt{%s}" % body.replace("'", r"\textquotesingle{}")


@dataclass(frozen=True)
class FormulaStep(Step):
    """A formula question (``ask: [formulas]``, networks): the recipe of the backward step
    ``of`` (δ2 = ∂L/∂h2 ⊙ ReLU′(z2)), answered in the network's names (``dh2 * relu'(z2)``),
    judged by tutor.recipe; its skill is "recipe". Its key is ``(it, "formula",
    name)``: no Solution quantity, so no follow-through solve ever takes a formula for a
    number. ``text`` is the recipe as typed (the step's value shows it); ``names``: the
    names an answer may use, each with the Solution key of its value — every forward
    quantity and the backward steps before this one (``dh2 * relu'(z2)`` for δ2);
    ``shapes``: each name's shape."""

    of: Step | None = None
    text: str = ""
    names: tuple = ()  # ((answer name, Solution key), …)
    shapes: tuple = ()  # ((answer name, (rows, cols)), …)
    later: tuple = ()  # the backward steps from this one on: not yet known here
    uses: tuple = ()  # the names the recipe itself is written in (delta2, h1)

    @property
    def value(self) -> Any:
        return TypedFormula(self.text)

    @property
    def causes(self) -> Mapping[tuple, Any]:
        return {}

    @property
    def shape(self) -> tuple:
        """The shape of the quantity whose formula is asked."""
        v = self.quantity.value
        return tuple(v.shape) if isinstance(v, sp.MatrixBase) else ()


def step_id(sol: Solution, key: Key) -> str:
    it, kind, name = key
    prefix = f"it{it}." if it > 1 else ""
    if kind == "value":
        return prefix + name
    if kind == "new":
        return prefix + name + "_new"
    if sol.graph.kind == "network":
        node = sol.graph.nodes[name]
        if node.op == "affine":  # δl = ∂L/∂zl
            return prefix + f"delta{node.attrs['layer']}"
        if node.op == "input":
            return prefix + "dx"
    return prefix + "d" + name


def _meaning(sol: Solution, key: Key) -> Meaning:
    it, kind, name = key
    g = sol.graph
    node = g.nodes[name]
    if kind == "value":
        if node.op == "loss":  # L = bce(ŷ, y)
            return Meaning("L", op("call", Operand("ŷ"), Operand("y"), fn=node.attrs["fn"]))
        f = sol.quantities[key].formula
        if node.op in ("affine", "act", "expr") and f is not None and f.tree is not None:
            return Meaning(name, f.tree)  # the forward formula is the definition
        return Meaning(name)
    if kind == "new":  # θ − η · ∂L/∂θ
        return Meaning(definition=op("sub", Operand(name),
                                     op("dot", Operand("η"), Operand(node.grad_symbol))))
    if g.kind == "network" and node.op == "affine":
        return Meaning(f"δ{node.attrs['layer']}", Operand(f"∂L/∂{name}"))
    return Meaning(f"∂{g.loss}/∂{name}")


def _skill(sol: Solution, key: Key) -> str:
    it, kind, name = key
    g = sol.graph
    node = g.nodes[name]
    if kind == "new":
        return "update"
    if kind == "value":
        return "loss" if name == g.loss else "forward"
    if g.kind == "network":
        if node.op == "affine":
            fused = g.nodes["L"].attrs["fused"]
            return "loss_gradient" if node.attrs["layer"] == g.n_layers and fused else "delta"
        if name == "yhat":
            return "loss_gradient"
        role = node.attrs.get("role")  # a layer's W or b
        if role in ("weight", "bias"):
            return f"{role}_grad"
        return "pass_back"
    if name in g.params or name in g.inputs:
        return "param_grad"
    consumers = g.consumers(name)
    if consumers and all(g.nodes[c].op == "expr" and _is_activation(g.nodes[c]) for c in consumers):
        return "activation_derivative"
    return "chain_rule"


def _is_activation(node) -> bool:
    import sympy as sp

    from tutor.functions import elu, leaky_relu, relu, sigmoid

    e = node.attrs["expr"]
    return isinstance(e, (relu, leaky_relu, elu, sigmoid, sp.tanh)) and e.args[0].is_Symbol


def _order(sol: Solution, it: int, phases: tuple[str, ...], everything: bool) -> Iterator[tuple[str, Key]]:
    g = sol.graph
    nodes = list(g.nodes.values())
    have = sol.quantities

    def ok(key):
        return key in have

    if "forward" in phases or everything:
        for n in nodes:
            if not n.is_leaf and ok((it, "value", n.name)):
                yield "forward", (it, "value", n.name)
    if "backward" in phases or everything:
        if g.kind == "network":
            if ok((it, "grad", "yhat")):
                yield "backward", (it, "grad", "yhat")
            for l in range(g.n_layers, 0, -1):
                for name in (f"z{l}", f"W{l}", f"b{l}", f"h{l - 1}"):
                    if ok((it, "grad", name)):
                        yield "backward", (it, "grad", name)
        else:
            for n in reversed(nodes):
                if not n.is_leaf and n.name != g.loss and ok((it, "grad", n.name)):
                    yield "backward", (it, "grad", n.name)
            for p in g.params:
                if ok((it, "grad", p)):
                    yield "backward", (it, "grad", p)
    if "inputs" in phases or everything:
        for x in g.inputs:
            if ok((it, "grad", x)):
                yield "inputs", (it, "grad", x)
    if "update" in phases or everything:
        for p in g.params:
            if ok((it, "new", p)):
                yield "update", (it, "new", p)


def build_steps(sol: Solution, ask: tuple[str, ...] | list[str] = ("backward",),
                everything: bool = False) -> list[Step]:
    """The steps an exercise asks, in the order practice asks them (``everything``: all;
    formula questions only where they are asked)."""
    phases = tuple(p for p in PHASE_ORDER if p in ask)
    out = []
    for it in range(1, sol.n_iterations + 1):
        for phase, key in _order(sol, it, phases, everything):
            step = Step(step_id(sol, key), key, phase, _skill(sol, key), _meaning(sol, key),
                        sol.quantities[key])
            out.append(step)
    if "formulas" in phases and sol.graph.kind == "network":
        back = [Step(step_id(sol, key), key, "backward", _skill(sol, key), _meaning(sol, key),
                     sol.quantities[key]) for _, key in _order(sol, 1, ("backward",), False)]
        fs = formula_steps(sol, back)
        at = next((i for i, s in enumerate(out) if s.phase not in ("forward",)
                   or s.iteration > 1), len(out))
        out[at:at] = fs
    return out


def formula_steps(sol: Solution, back: list[Step]) -> list[FormulaStep]:
    """One formula question per backward step of iteration 1 whose recipe the answer grammar
    can spell (softmax's Jacobian and LeakyReLU′ it cannot: those are not asked): its id is
    the step's with ``_formula`` (``delta2_formula``), its answer the step's own formula
    tree with each operand by its typed name (tutor.formula.typed)."""
    g = sol.graph
    typed_names = {"ŷ": "yhat"}  # operand name → the name a student types
    names: list[tuple[str, Key]] = []
    for n, node in g.nodes.items():
        if (1, "value", n) in sol.quantities and n != g.loss:
            typed_names[n] = n
            names.append((n, (1, "value", n)))
    for s in back:
        typed_names[g.nodes[s.key[2]].grad_symbol] = s.id
    axis = 1 if g.layout == "column" else 0
    out, earlier = [], []
    for s in back:
        f = s.formula
        try:
            if f is None or f.tree is None:
                raise Untypable("no formula")
            text = typed(f.tree, {k: v for k, v in typed_names.items()
                                  if v in dict(names) or v in dict(earlier)}, axis)
        except Untypable:
            earlier.append((s.id, s.key))
            continue
        avail = tuple(names + earlier)
        shapes = tuple((n, tuple(sol.quantities[k].value.shape)
                        if isinstance(sol.quantities[k].value, sp.MatrixBase) else ())
                       for n, k in avail)
        it, _, name = s.key
        later = tuple(b.id for b in back if b.id not in dict(earlier))
        out.append(FormulaStep(f"{s.id}_formula", (it, "formula", name), "formulas", "recipe",
                               s.meaning, s.quantity, of=s, text=text, names=avail,
                               shapes=shapes, later=later,
                               uses=tuple(dict.fromkeys(typed_names[o.name]
                                                        for o in walk_operands(f.tree)))))
        earlier.append((s.id, s.key))
    return out
