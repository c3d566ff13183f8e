"""Compile an Exercise (either kind) to one Graph: a DAG of nodes, each an operation.

    network:  x ─▶ z1 = affine(W1, x, b1) ─▶ h1 = act(z1) ─▶ … ─▶ yhat ─▶ L = loss(…, y)
    graph:    every named node is an ``expr`` over the names it mentions

Values are exact SymPy objects. Tensors are SymPy matrices:
column layout  x (n, B), W (out, in), b (out, 1), z = W x + b · 1ᵀ   — (out, B)
row layout     x (B, n), W (in, out), b (1, out), z = x W + 1 · b    — (B, out)
A single example is a batch of one (B = 1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from tutor.errors import ExprError, InputError
from tutor.exercise import Exercise, GraphSpec, NetworkSpec, number


@dataclass(frozen=True)
class Node:
    name: str  # also its step id for forward values: "z2", "u"
    op: str  # input | param | const | affine | act | loss | expr
    parents: tuple[str, ...] = ()
    attrs: dict = field(default_factory=dict)  # op details: activation, expression, layer …
    path: tuple = ()  # where it is defined in the exercise file

    @property
    def is_leaf(self) -> bool:
        return self.op in ("input", "param", "const")

    @property
    def grad_symbol(self) -> str:
        """How the tutor writes ∂loss/∂(this node): δ for pre-activations."""
        return self.attrs.get("grad_symbol", f"∂L/∂{self.name}")


@dataclass(frozen=True)
class Graph:
    kind: str  # network | graph
    nodes: dict[str, Node]  # in topological order
    loss: str
    params: tuple[str, ...]
    inputs: tuple[str, ...]
    init: dict[str, Any]  # leaf values at the start (iteration 1)
    iterations: tuple[dict[str, Any], ...]  # leaf data per iteration (params excluded)
    learning_rate: Any = None
    relu_prime_at_zero: int = 0
    layout: str = "column"
    n_layers: int = 0

    def consumers(self, name: str) -> list[str]:
        return [n.name for n in self.nodes.values() if name in n.parents]

    def reaches_loss(self) -> set[str]:
        """Names of nodes with a path to the loss (the only ones with a gradient)."""
        live = {self.loss}
        for node in reversed(list(self.nodes.values())):
            if node.name in live:
                live.update(node.parents)
        return live


def compile_exercise(ex: Exercise) -> Graph:
    """The one entry point: Exercise → Graph, or an ExerciseError at file:line:col."""
    spec = ex.spec
    try:
        if isinstance(spec, NetworkSpec):
            return _network(ex, spec)
        return _graph(ex, spec)
    except InputError as err:
        raise err.located(ex.file) from None


# ─── network ──────────────────────────────────────────────────────────────────────────
def _num(ex: Exercise, value, path) -> Any:
    try:
        return number(value)
    except InputError as err:
        m = ex.doc.mark(path) if ex.doc else None
        raise err.located(ex.file, m.line if m else None, m.col if m else None) from None


def _matrix(ex: Exercise, rows, path) -> sp.Matrix:
    if not rows or not isinstance(rows[0], list):
        return sp.Matrix([[_num(ex, v, path + (i,)) for i, v in enumerate(rows)]])
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ex.error(f"rows have different lengths: {sorted(widths)}", path, code="E201")
    return sp.Matrix([[_num(ex, v, path + (i, j)) for j, v in enumerate(r)]
                      for i, r in enumerate(rows)])


def _vec(ex: Exercise, value, path, layout: str) -> sp.Matrix:
    """A vector from the file, oriented for the layout: column (n, 1) or row (1, n)."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        raise ex.error("expected a vector, got a matrix", path, code="E202")
    row = _matrix(ex, value if isinstance(value, list) else [value], path)
    return row.T if layout == "column" else row


def _examples(ex: Exercise, value, path, layout: str) -> sp.Matrix:
    """Input data: a vector is one example; a matrix is a batch as written."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return _matrix(ex, value, path)
    return _vec(ex, value, path, layout)


def _target(ex: Exercise, value, path, layout: str, out: int, batch: int, loss: str) -> sp.Matrix:
    shape = (out, batch) if layout == "column" else (batch, out)
    if loss == "ce" and isinstance(value, int) and out > 1:  # a class index → one-hot
        if not 0 <= value < out:
            raise ex.error(f"class index {value} is out of range 0…{out - 1}", path, code="E203")
        onehot = [1 if k == value else 0 for k in range(out)]
        return _vec(ex, onehot, path, layout)
    if isinstance(value, list) and value and isinstance(value[0], list):
        t = _matrix(ex, value, path)
    elif isinstance(value, list) and out == 1 and batch > 1:  # one target per example
        t = _vec(ex, value, path, "row" if layout == "column" else "column")
    else:
        t = _vec(ex, value if isinstance(value, list) else [value], path, layout)
    if t.shape != shape:
        raise ex.error(f"target has shape {t.shape[0]}×{t.shape[1]} but the output is "
                       f"{shape[0]}×{shape[1]}", path, code="E204")
    return t


def _network(ex: Exercise, spec: NetworkSpec) -> Graph:
    lay = spec.layout
    x = _examples(ex, spec.input, ("input",), lay)
    n_in, batch = (x.rows, x.cols) if lay == "column" else (x.cols, x.rows)
    nodes: dict[str, Node] = {"x": Node("x", "input", path=("input",))}
    init: dict[str, Any] = {"x": x}
    params: list[str] = []
    prev, width = "x", n_in
    n = len(spec.layers)
    for i, layer in enumerate(spec.layers, start=1):
        path = ("layers", i - 1)
        W = _matrix(ex, layer.W, path + ("W",))
        out_, in_ = W.shape if lay == "column" else (W.cols, W.rows)
        if in_ != width:
            raise ex.error(
                f"layer {i}: W is {W.rows}×{W.cols}, so it takes {in_} inputs, but "
                f"{'the input' if i == 1 else f'layer {i - 1}'} gives {width}"
                + (" (column layout: W is outputs × inputs)" if lay == "column"
                   else " (row layout: W is inputs × outputs)"), path + ("W",), code="E205")
        b = _vec(ex, layer.b, path + ("b",), lay)
        if max(b.shape) != out_:
            raise ex.error(f"layer {i}: b has {max(b.shape)} entries but W has {out_} outputs",
                           path + ("b",), code="E206")
        if layer.activation == "softmax" and out_ < 2:
            raise ex.error(f"layer {i}: softmax needs at least 2 units", path, code="E207")
        h = "yhat" if i == n else f"h{i}"
        nodes[f"W{i}"] = Node(f"W{i}", "param", attrs={"layer": i}, path=path + ("W",))
        nodes[f"b{i}"] = Node(f"b{i}", "param", attrs={"layer": i}, path=path + ("b",))
        nodes[f"z{i}"] = Node(f"z{i}", "affine", (f"W{i}", prev, f"b{i}"),
                              {"layer": i, "grad_symbol": f"δ{i}"}, path)
        slope = _num(ex, layer.slope, path + ("slope",)) if layer.slope is not None else None
        nodes[h] = Node(h, "act", (f"z{i}",),
                        {"layer": i, "fn": layer.activation, "slope": slope}, path)
        init[f"W{i}"], init[f"b{i}"] = W, b
        params += [f"W{i}", f"b{i}"]
        prev, width = h, out_
    last = spec.layers[-1].activation
    if spec.loss == "ce" and last != "softmax":
        raise ex.error("loss ce is softmax + cross-entropy: the last layer's activation must "
                       f"be softmax, not {last}", ("loss",), code="E208")
    y = _target(ex, spec.target, ("target",), lay, width, batch, spec.loss)
    fused = (spec.loss, last) in (("bce", "sigmoid"), ("ce", "softmax"))
    nodes["y"] = Node("y", "const", path=("target",))
    init["y"] = y
    nodes["L"] = Node("L", "loss", (f"z{n}" if fused else "yhat", "y"),
                      {"fn": spec.loss, "fused": fused, "out_fn": last}, ("loss",))
    iters = []
    for k, it in enumerate(spec.iterations or [{}]):
        data = {}
        if getattr(it, "input", None) is not None:
            data["x"] = _examples(ex, it.input, ("iterations", k, "input"), lay)
            if data["x"].shape != x.shape:
                raise ex.error("an iteration's input must have the same shape as `input`",
                               ("iterations", k, "input"), code="E209")
        if getattr(it, "target", None) is not None:
            data["y"] = _target(ex, it.target, ("iterations", k, "target"), lay, width, batch,
                                spec.loss)
        iters.append(data)
    return Graph("network", nodes, "L", tuple(params), ("x",), init, tuple(iters),
                 _lr(ex, spec), spec.conventions.relu_prime_at_zero, lay, n)


def _lr(ex: Exercise, spec) -> Any:
    if spec.learning_rate is None:
        if "update" in spec.ask or (spec.iterations and len(spec.iterations) > 1):
            raise ex.error("asking for updates (or several iterations) needs a learning_rate",
                           ("ask",), code="E210")
        return None
    return _num(ex, spec.learning_rate, ("learning_rate",))


# ─── computation graph ────────────────────────────────────────────────────────────────
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _graph(ex: Exercise, spec: GraphSpec) -> Graph:
    from tutor.expr import parse_expression

    sections = {"inputs": spec.inputs, "params": spec.params, "constants": spec.constants,
                "nodes": spec.nodes}
    owner: dict[str, str] = {}
    for sec, names in sections.items():
        for name in names:
            if not _NAME.fullmatch(str(name)):
                raise ex.error(f"'{name}' is not a valid name (letters, digits, _)",
                               (sec, name), code="E220")
            if name in owner:
                raise ex.error(f"'{name}' is defined twice: in {owner[name]} and in {sec}",
                               (sec, name), code="E221")
            owner[name] = sec
    symbols = {name: sp.Symbol(name) for name in owner}
    nodes: dict[str, Node] = {}
    init: dict[str, Any] = {}
    for sec, op in (("inputs", "input"), ("params", "param"), ("constants", "const")):
        for name, value in sections[sec].items():
            nodes[name] = Node(name, op, path=(sec, name))
            init[name] = _num(ex, value, (sec, name))
    exprs: dict[str, tuple[sp.Expr, tuple[str, ...]]] = {}
    for name, text in spec.nodes.items():
        path = ("nodes", name)
        src = text if isinstance(text, str) else str(text)
        try:
            e = parse_expression(src, symbols)
        except ExprError as err:
            m = ex.doc.mark(path)
            raise err.located(ex.file, m.line if m else None, m.col if m else None) from None
        used = {s.name for s in e.free_symbols}
        order = [t for t in dict.fromkeys(_NAME.findall(src)) if t in used]
        if name in used:
            raise ex.error(f"node '{name}' uses itself", path, code="E222")
        exprs[name] = (e, tuple(order))
    order = _toposort(ex, {n: deps for n, (_, deps) in exprs.items()})
    for name in order:
        e, deps = exprs[name]
        nodes[name] = Node(name, "expr", deps, {"expr": e, "grad_symbol": f"∂{spec.loss}/∂{name}"},
                           ("nodes", name))
    for name in owner:
        if name in nodes:
            nodes[name] = Node(**{**nodes[name].__dict__,
                                  "attrs": {**nodes[name].attrs,
                                            "grad_symbol": f"∂{spec.loss}/∂{name}"}})
    if spec.loss not in exprs:
        hint = "" if spec.loss not in owner else f" ('{spec.loss}' is in {owner[spec.loss]})"
        raise ex.error(f"loss '{spec.loss}' must be one of the nodes{hint}", ("loss",),
                       code="E223")
    iters = []
    for k, data in enumerate(spec.iterations or [{}]):
        row = {}
        for name, value in data.items():
            if owner.get(name) not in ("inputs", "constants"):
                what = f"a {owner[name][:-1]}" if name in owner else "not defined"
                raise ex.error(f"iterations may set inputs and constants; '{name}' is {what}",
                               ("iterations", k, name), code="E224")
            row[name] = _num(ex, value, ("iterations", k, name))
        iters.append(row)
    return Graph("graph", nodes, spec.loss, tuple(spec.params), tuple(spec.inputs), init,
                 tuple(iters), _lr(ex, spec), spec.conventions.relu_prime_at_zero)


def _toposort(ex: Exercise, deps: dict[str, tuple[str, ...]]) -> list[str]:
    """Kahn's algorithm over node→node dependencies; a cycle is reported with its path."""
    inner = {n: [d for d in ds if d in deps] for n, ds in deps.items()}
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, stack: list[str]):
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = stack[stack.index(n):] + [n]
            raise ex.error("the nodes form a cycle: " + " → ".join(cyc), ("nodes", n),
                           code="E225")
        state[n] = 1
        for d in inner[n]:
            visit(d, stack + [n])
        state[n] = 2
        done.append(n)

    for n in deps:  # file order, so ties keep the author's order
        visit(n, [])
    return done
