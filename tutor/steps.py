"""Steps: the ordered questions a student is asked, each with a stable id (DESIGN.md §4).

    network, per iteration      forward   z1 h1 … zL yhat L
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

from tutor.exercise import PHASES as PHASE_ORDER  # forward, backward, inputs, update
from tutor.formula import Operand, op
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
    """The steps an exercise asks, in the order practice asks them (``everything``: all)."""
    phases = tuple(p for p in PHASE_ORDER if p in ask)
    out = []
    for it in range(1, sol.n_iterations + 1):
        for phase, key in _order(sol, it, phases, everything):
            out.append(Step(step_id(sol, key), key, phase, _skill(sol, key),
                            _meaning(sol, key), sol.quantities[key]))
    return out
