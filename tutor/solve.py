"""The solver: backpropagation itself, written to be read.

    for each iteration:
        forward   every node in topological order: value = rules.evaluate(node, parent values)
        backward  ∂L/∂L = 1; every node in reverse topological order:
                      ∂L/∂node = Σ of the terms its consumers sent   (sum at merges)
                      send rule.backward(∂L/∂node) to each parent
        update    θ ← θ − η ∂L/∂θ                                    (if a learning rate is set)

Every quantity is kept exact (SymPy) with the formula that produced it. ``overrides`` replaces
any quantity by another value (a student's answer) before later quantities use it: one pass
then says what every step *should* be given the student's own earlier answers.
Values whose exact form grows past what a person can read (deep sigmoid stacks) are carried
as 40-significant-digit floats and marked ``exact=False``.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

import sympy as sp

from tutor.cause import Cause, Kind, Over
from tutor.errors import SolveError
from tutor.graph import Graph
from tutor.limits import MAX_BITS, TooLong, Trouble, check, shortened
from tutor.numeric import CARRIED_DIGITS
from tutor.formula import Const, Formula, Note, NoteKind, Operand, combine, op
from tutor.rules import RULES, Ctx, Term, entries, evaluate, is_zero
# what a kept value may be (exact and readable, else a certified decimal): the policy lives
# in tutor.tensors, which keeps every value *inside* a tensor node the same way
from tutor.numeric import tame as _tame

Key = tuple[int, str, str]  # (iteration, "value" | "grad" | "new", node name)
DIGITS = CARRIED_DIGITS  # a carried value's significant digits (tutor.numeric.carried)


@dataclass(frozen=True)
class Quantity:
    key: Key
    value: Any
    formula: Formula | None = None
    terms: tuple[Term, ...] = ()  # for gradients: one per consumer
    causes: Mapping[tuple, Cause] = field(default_factory=dict)  # entry → why it is 0
    exact: bool = True

    @property
    def node(self) -> str:
        return self.key[2]


@dataclass(frozen=True)
class Solution:
    graph: Graph
    quantities: dict[Key, Quantity]

    @property
    def n_iterations(self) -> int:
        return len(self.graph.iterations)

    def get(self, kind: str, node: str, it: int = 1) -> Quantity:
        return self.quantities[(it, kind, node)]

    def value(self, node: str, it: int = 1) -> Any:
        return self.quantities[(it, "value", node)].value

    def grad(self, node: str, it: int = 1) -> Any:
        return self.quantities[(it, "grad", node)].value


def _plain(v: Any) -> Any:
    """``v`` as ``_kept`` keeps it, when that is plain to see: a rational, or a matrix of
    rationals, each of at most MAX_BITS bits and below 2^990 < 1e300 in size (what
    tutor.limits.check passes and ``_tame`` keeps as it is) — else None (ask them)."""
    if isinstance(v, sp.Rational):
        return v if _small(v) else None
    if type(v) is sp.MutableDenseMatrix:
        for e in v:
            if not (isinstance(e, sp.Rational) and _small(e)):
                return None
        return v.copy()  # a new matrix, as applyfunc gives
    return None


def _small(r) -> bool:
    p, q = int(r.p).bit_length(), int(r.q).bit_length()
    return p + q <= MAX_BITS and p - q < 990


def _kept(v: Any, what: str, path: tuple) -> tuple[Any, bool]:
    """``_tame``d, after tutor.limits says the value is a finite real of a sane size. An
    exact rational too long to keep (0.25 as a 2,000-bit fraction, after a few SGD steps) is
    not refused: it is carried as a certified decimal, like any exact form too long to read."""
    plain = _plain(v)
    if plain is not None:
        return plain, True
    why = check(v)
    if isinstance(why, TooLong):
        v = shortened(v)
        why = check(v)
    if why:
        raise SolveError(f"{what}: {why}", path)
    return _tame(v)


def _at(it: int) -> str:
    return f" (iteration {it})" if it > 1 else ""


def _merge_zeros(terms: list[Term], total: Any) -> dict:
    out = {}
    for idx, v in entries(total):
        if not is_zero(v):
            continue
        causes = [t.causes.get(idx) for t in terms]
        if all(causes):
            causes = list(dict.fromkeys(causes))  # the same cause from two consumers: once
            out[idx] = causes[0] if len(causes) == 1 else Cause.of(Kind.SEVERAL, parts=causes)
        else:
            out[idx] = Cause.of(Kind.CANCELLATION, over=Over.CONTRIBUTIONS,
                                terms=tuple(t.value[idx] if idx else t.value for t in terms))
    return out


def solve(graph: Graph, rules: Mapping[str, Any] = RULES,
          overrides: Mapping[Key, Any] | None = None) -> Solution:
    overrides = overrides or {}
    q: dict[Key, Quantity] = {}
    params = {p: graph.init[p] for p in graph.params}
    live = graph.reaches_loss()
    for it, data in enumerate(graph.iterations, start=1):
        leaves = {**graph.init, **data, **params}
        values: dict[str, Any] = {}
        causes: dict[tuple, Mapping] = {}

        def ctx(node, out=None):
            return Ctx(node, tuple(values[p] for p in node.parents), out, graph, rules,
                       values, causes)

        # forward ─ topological order
        for node in graph.nodes.values():
            key = (it, "value", node.name)
            zeros: Mapping = {}
            f = None
            if key in overrides:  # the student's own value: not computed, not judged here
                out, exact = overrides[key], True
                f = None if node.is_leaf else rules[node.op].forward_formula(ctx(node))
            elif node.is_leaf:
                out, exact = leaves[node.name], True
            else:
                rule = rules[node.op]
                try:
                    out = evaluate(node, values, graph, rules, causes)
                except Trouble as t:  # refused before it was computed
                    raise SolveError(f"{node.name}{_at(it)}: {t}", t.path or node.path) from None
                out, exact = _kept(out, f"the value of {node.name}{_at(it)}", node.path)
                zeros, f = rule.forward_zeros(ctx(node), out), rule.forward_formula(ctx(node))
            values[node.name] = out
            causes[("value", node.name)] = zeros
            q[key] = Quantity(key, out, f, causes=zeros, exact=exact)

        # backward ─ reverse topological order, summing at merges
        inbox: dict[str, list[Term]] = defaultdict(list)
        grads: dict[str, Any] = {}
        for node in reversed(graph.nodes.values()):
            if node.name not in live:
                continue
            key = (it, "grad", node.name)
            if node.name == graph.loss:
                g, f, terms, zeros, exact = sp.Integer(1), Formula(Const(1)), (), {}, True
            else:
                terms = tuple(inbox.get(node.name, ()))
                if not terms:
                    continue  # a target or constant: nothing to learn
                f = combine([t.formula for t in terms])
            if key in overrides:  # the student's own value (follow-through), the loss's too
                g, zeros, exact = overrides[key], {}, True
            elif node.name != graph.loss:  # ∂L/∂n = Σ over n's consumers
                g, exact = _kept(rules["accumulate"](list(terms)),
                                 f"∂{graph.loss}/∂{node.name}{_at(it)}", node.path)
                zeros = _merge_zeros(list(terms), g)
            grads[node.name] = g
            causes[("grad", node.name)] = zeros
            q[key] = Quantity(key, g, f, terms, zeros, exact)
            if not node.is_leaf:
                sent = rules[node.op].backward(ctx(node, values[node.name]), g)
                for parent, term in zip(node.parents, sent):
                    if term is not None:
                        inbox[parent].append(term)

        # update ─ θ ← θ − η ∂L/∂θ
        if graph.learning_rate is not None:
            lr = graph.learning_rate
            for p in graph.params:
                key = (it, "new", p)
                if p not in grads:
                    new = params[p]
                    f = Formula(Operand(p, new), (Note.of(NoteKind.NO_GRADIENT, param=p),))
                else:  # θ − η · ∂L/∂θ
                    new = rules["sgd"](params[p], grads[p], lr)
                    f = Formula(op("sub", Operand(p, params[p]), op(
                        "dot", Operand("η", lr), Operand(graph.nodes[p].grad_symbol, grads[p]))))
                if key in overrides:
                    new, exact = overrides[key], True
                else:
                    new, exact = _kept(new, f"the update of {p}{_at(it)}", graph.nodes[p].path)
                q[key] = Quantity(key, new, f, exact=exact)
                params[p] = new
    return Solution(graph, q)
