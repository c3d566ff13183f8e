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

from tutor.errors import ExerciseError, ExprError, InputError
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
    maxpool_tie: str | None = None  # conventions.maxpool_tie, as stated (said under the drawing)

    def consumers(self, name: str) -> list[str]:
        return [n.name for n in self.nodes.values() if name in n.parents]

    def reaches_loss(self) -> set[str]:
        """Names of nodes with a path to the loss (the only ones with a gradient)."""
        live = {self.loss}
        for node in reversed(list(self.nodes.values())):
            if node.name in live:
                live.update(node.parents)
        return live


def compile_exercise(ex: Exercise, step_ids: bool = True) -> Graph:
    """The one entry point: Exercise → Graph, or an ExerciseError at file:line:col (the
    first problem, in the order the file is read; ``compile_errors`` gives them all).

    A graph whose names collide with step ids (E230, :func:`step_id_collisions`) is refused
    first, so no command lists a step twice. ``step_ids=False`` skips that check, for
    ``tutor validate``, which reports the collisions itself and still solves the exercise
    for its warnings."""
    if step_ids:
        clashes = step_id_collisions(ex)
        if clashes:
            raise clashes[0]
    graph = _compile(ex, _Sink(collect=False))
    if graph is None:  # cannot happen: without collect the first problem is raised
        raise ex.error("the exercise cannot be compiled", code="E299")
    return graph


def compile_errors(ex: Exercise) -> list[InputError]:
    """Every independent problem the compiler finds, each located (``[]``: it compiles).

    It does not stop at the first: each layer's shapes are checked against the previous
    layer's *declared* width, every node expression is parsed, every cycle (one per
    strongly connected component) is reported, and the target, the loss, the iterations
    and the learning rate are checked on their own. A check that needs a part that failed
    (the target's shape when a W does not parse) is skipped, never guessed."""
    sink = _Sink(collect=True)
    _compile(ex, sink)
    return sink.errors


def step_id_collisions(ex: Exercise) -> list[InputError]:
    """E230, each located at the name: a graph name that is also the id of another step —
    ``d<name>`` is the step ∂loss/∂name of an input, parameter or node (a node ``du``
    beside ``u``; a constant has no such step), ``<param>_new`` the
    update of a parameter (a node ``a_new`` beside param ``a``). Networks name their own
    nodes (z1, h1, W1 …), so only graphs can collide."""
    spec = ex.spec
    if not isinstance(spec, GraphSpec):
        return []
    names: dict[str, str] = {}
    for sec in ("inputs", "params", "constants", "nodes"):
        for n in getattr(spec, sec):
            names.setdefault(n, sec)
    out = []
    for name, sec in names.items():
        clash = None
        if name.startswith("d") and names.get(name[1:]) in ("inputs", "params", "nodes") \
                and name[1:] != spec.loss:  # a constant has no gradient step: dt beside t is fine
            clash = f"'{name}' is also the step id of ∂{spec.loss}/∂{name[1:]}"
        elif name.endswith("_new") and names.get(name[:-4]) == "params":
            clash = f"'{name}' is also the step id of the update of {name[:-4]}"
        if clash:
            m = ex.doc.key_marks.get((sec, name)) or ex.doc.mark((sec, name))
            out.append(ExerciseError(f"{clash}; rename one of them so every step id is "
                                     "unique", ex.file, m.line if m else None,
                                     m.col if m else None, code="E230"))
    return out


class _Sink:
    """Where compile problems go: raised at once (``collect=False``), or gathered."""

    def __init__(self, collect: bool):
        self.collect, self.errors = collect, []

    def add(self, err: InputError) -> None:
        if not self.collect:
            raise err
        self.errors.append(err)

    def attempt(self, fn, *args):
        """``fn(*args)``, or None after recording the InputError it raised."""
        try:
            return fn(*args)
        except InputError as err:
            if not self.collect:
                raise
            self.errors.append(err)
            return None


def _compile(ex: Exercise, sink: _Sink) -> Graph | None:
    spec = ex.spec
    try:
        if isinstance(spec, NetworkSpec):
            graph = _network(ex, spec, sink)
        else:
            graph = _graph(ex, spec, sink)
    except InputError as err:
        if not sink.collect:
            raise err.located(ex.file) from None
        sink.errors.append(err)  # a check that could not go on: what was found so far
        graph = None
    sink.errors = [e.located(ex.file) for e in sink.errors]
    return None if sink.errors else graph


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


def _network(ex: Exercise, spec: NetworkSpec, sink: _Sink) -> Graph | None:
    lay = spec.layout
    x = sink.attempt(_examples, ex, spec.input, ("input",), lay)
    n_in, batch = (None, None) if x is None else (x.rows, x.cols) if lay == "column" \
        else (x.cols, x.rows)
    nodes: dict[str, Node] = {"x": Node("x", "input", path=("input",))}
    init: dict[str, Any] = {"x": x}
    params: list[str] = []
    prev, width = "x", n_in  # width None: unknown (the part that gives it failed)
    n = len(spec.layers)
    for i, layer in enumerate(spec.layers, start=1):
        path = ("layers", i - 1)
        W = sink.attempt(_matrix, ex, layer.W, path + ("W",))
        out_ = None
        if W is not None:
            out_, in_ = W.shape if lay == "column" else (W.cols, W.rows)
            if width is not None and in_ != width:
                sink.add(ex.error(
                    f"layer {i}: W is {W.rows}×{W.cols}, so it takes {in_} inputs, but "
                    f"{'the input' if i == 1 else f'layer {i - 1}'} gives {width}"
                    + (" (column layout: W is outputs × inputs)" if lay == "column"
                       else " (row layout: W is inputs × outputs)"), path + ("W",),
                    code="E205"))
        b = sink.attempt(_vec, ex, layer.b, path + ("b",), lay)
        if b is not None and out_ is not None and max(b.shape) != out_:
            sink.add(ex.error(f"layer {i}: b has {max(b.shape)} entries but W has {out_} "
                              "outputs", path + ("b",), code="E206"))
        if layer.activation == "softmax" and out_ is not None and out_ < 2:
            sink.add(ex.error(f"layer {i}: softmax needs at least 2 units", path, code="E207"))
        h = "yhat" if i == n else f"h{i}"
        nodes[f"W{i}"] = Node(f"W{i}", "param", attrs={"layer": i, "role": "weight"},
                              path=path + ("W",))
        nodes[f"b{i}"] = Node(f"b{i}", "param", attrs={"layer": i, "role": "bias"},
                              path=path + ("b",))
        nodes[f"z{i}"] = Node(f"z{i}", "affine", (f"W{i}", prev, f"b{i}"),
                              {"layer": i, "grad_symbol": f"δ{i}"}, path)
        slope, alpha = ((sink.attempt(_num, ex, v, path + (k,)) if v is not None else None)
                        for k, v in (("slope", layer.slope), ("alpha", layer.alpha)))
        nodes[h] = Node(h, "act", (f"z{i}",),
                        {"layer": i, "fn": layer.activation, "slope": slope, "alpha": alpha},
                        path)
        init[f"W{i}"], init[f"b{i}"] = W, b
        params += [f"W{i}", f"b{i}"]
        prev, width = h, out_  # the next layer is checked against this layer's own outputs
    last = spec.layers[-1].activation
    if spec.loss == "ce" and last != "softmax":
        sink.add(ex.error("loss ce is softmax + cross-entropy: the last layer's activation "
                          f"must be softmax, not {last}", ("loss",), code="E208"))
    known = width is not None and batch is not None
    y = (sink.attempt(_target, ex, spec.target, ("target",), lay, width, batch, spec.loss)
         if known else None)
    fused = (spec.loss, last) in (("bce", "sigmoid"), ("ce", "softmax"))
    nodes["y"] = Node("y", "const", path=("target",))
    init["y"] = y
    nodes["L"] = Node("L", "loss", (f"z{n}" if fused else "yhat", "y"),
                      {"fn": spec.loss, "fused": fused, "out_fn": last}, ("loss",))
    iters = []
    for k, it in enumerate(spec.iterations or [{}]):
        data = {}
        if getattr(it, "input", None) is not None:
            at = ("iterations", k, "input")
            data["x"] = sink.attempt(_examples, ex, it.input, at, lay)
            if data["x"] is not None and x is not None and data["x"].shape != x.shape:
                sink.add(ex.error("an iteration's input must have the same shape as `input`",
                                  at, code="E209"))
        if getattr(it, "target", None) is not None and known:
            data["y"] = sink.attempt(_target, ex, it.target, ("iterations", k, "target"), lay,
                                     width, batch, spec.loss)
        iters.append(data)
    lr = sink.attempt(_lr, ex, spec)
    if sink.errors:
        return None
    return Graph("network", nodes, "L", tuple(params), ("x",), init, tuple(iters),
                 lr, spec.conventions.relu_prime_at_zero, lay, n)


def _lr(ex: Exercise, spec) -> Any:
    if spec.learning_rate is None:
        if "update" in spec.ask or (spec.iterations and len(spec.iterations) > 1):
            raise ex.error("asking for updates (or several iterations) needs a learning_rate",
                           ("ask",), code="E210")
        return None
    return _num(ex, spec.learning_rate, ("learning_rate",))


# ─── computation graph ────────────────────────────────────────────────────────────────
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _owners(ex: Exercise, spec: GraphSpec, sink: _Sink) -> tuple[dict, dict[str, str]]:
    """(section → its names, name → the section that defines it): E220 for an invalid
    name, E221 for one defined twice."""
    sections = {"inputs": spec.inputs, "params": spec.params, "constants": spec.constants,
                "nodes": spec.nodes}
    owner: dict[str, str] = {}
    for sec, names in sections.items():
        for name in names:
            if not _NAME.fullmatch(str(name)):
                sink.add(ex.error(f"'{name}' is not a valid name (letters, digits, _)",
                                  (sec, name), code="E220"))
            elif name in owner:
                sink.add(ex.error(f"'{name}' is defined twice: in {owner[name]} and in {sec}",
                                  (sec, name), code="E221"))
            else:
                owner[name] = sec
    return sections, owner


def _loss_is_a_node(ex: Exercise, spec: GraphSpec, owner: dict, sink: _Sink) -> bool:
    """E223 unless the loss names a node; False when it was reported."""
    if spec.loss in spec.nodes:
        return True
    hint = "" if spec.loss not in owner else f" ('{spec.loss}' is in {owner[spec.loss]})"
    sink.add(ex.error(f"loss '{spec.loss}' must be one of the nodes{hint}", ("loss",),
                      code="E223"))
    return False


def _iterations(ex: Exercise, spec: GraphSpec, owner: dict, sink: _Sink, read) -> list[dict]:
    """Each iteration's inputs and constants, each value read by ``read`` (a number, or a
    tensor graph's leaf); E224 for anything else it sets."""
    iters = []
    for k, data in enumerate(spec.iterations or [{}]):
        row = {}
        for name, value in data.items():
            if owner.get(name) not in ("inputs", "constants"):
                what = f"a {owner[name][:-1]}" if name in owner else "not defined"
                sink.add(ex.error(f"iterations may set inputs and constants; '{name}' is "
                                  f"{what}", ("iterations", k, name), code="E224"))
                continue
            row[name] = sink.attempt(read, ex, value, ("iterations", k, name))
        iters.append(row)
    return iters


def _finished(spec: GraphSpec, owner: dict, nodes: dict, init: dict, iters: list, lr) -> Graph:
    """The Graph, every name's gradient symbol ∂loss/∂name set."""
    for name in owner:
        if name in nodes:
            nodes[name] = Node(**{**nodes[name].__dict__,
                                  "attrs": {**nodes[name].attrs,
                                            "grad_symbol": f"∂{spec.loss}/∂{name}"}})
    return Graph("graph", nodes, spec.loss, tuple(spec.params), tuple(spec.inputs), init,
                 tuple(iters), lr, spec.conventions.relu_prime_at_zero,
                 maxpool_tie=spec.conventions.maxpool_tie)


def _graph(ex: Exercise, spec: GraphSpec, sink: _Sink) -> Graph | None:
    from tutor.expr import parse_expression

    if ex.tensor:
        return _tensor_graph(ex, spec, sink)

    sections, owner = _owners(ex, spec, sink)
    symbols = {name: sp.Symbol(name) for name in owner}
    nodes: dict[str, Node] = {}
    init: dict[str, Any] = {}
    for sec, op in (("inputs", "input"), ("params", "param"), ("constants", "const")):
        for name, value in sections[sec].items():
            nodes[name] = Node(name, op, path=(sec, name))
            sym = _symbol(name, value)
            init[name] = sym if sym is not None else sink.attempt(_num, ex, value, (sec, name))
    exprs: dict[str, tuple[sp.Expr, tuple[str, ...]]] = {}
    deps: dict[str, tuple[str, ...]] = {}  # what each node uses, for the cycle check
    for name, text in spec.nodes.items():
        path = ("nodes", name)
        src = text if isinstance(text, str) else str(text)
        try:
            e = parse_expression(src, symbols)
        except ExprError as err:
            m = ex.doc.mark(path)
            sink.add(err.located(ex.file, m.line if m else None, m.col if m else None))
            used = _names_despite_unknown(src, symbols, err)
            if used is not None:  # only a name is unknown: the rest still counts
                deps[name] = tuple(t for t in dict.fromkeys(_NAME.findall(src))
                                   if t in used and t != name)
            continue
        used = {s.name for s in e.free_symbols}
        order = [t for t in dict.fromkeys(_NAME.findall(src)) if t in used]
        if name in used:
            sink.add(ex.error(f"node '{name}' uses itself", path, code="E222"))
            order = [t for t in order if t != name]
        exprs[name] = (e, tuple(order))
        deps[name] = tuple(order)
    order = _toposort(ex, {n: ds for n, ds in deps.items() if n in spec.nodes}, sink)
    _loss_is_a_node(ex, spec, owner, sink)
    iters = _iterations(ex, spec, owner, sink, _num)
    lr = sink.attempt(_lr, ex, spec)
    if sink.errors:
        return None
    for name in order:
        e, ds = exprs[name]
        nodes[name] = Node(name, "expr", ds, {"expr": e, "text": str(spec.nodes[name]),
                                              "grad_symbol": f"∂{spec.loss}/∂{name}"},
                           ("nodes", name))
    return _finished(spec, owner, nodes, init, iters, lr)


def _leaf(ex: Exercise, value, path) -> Any:
    """A leaf of a tensor graph: a number, a vector (a column, n × 1) or a matrix (rows)."""
    if isinstance(value, list):
        if value and isinstance(value[0], list):
            return _matrix(ex, value, path)
        if any(isinstance(v, list) for v in value):
            raise ex.error("a vector's entries are numbers; a matrix is a list of rows",
                           path, code="E202")
        return _vec(ex, value, path, "column")
    if value == "symbol" or not isinstance(value, (int, str)) and _symbol("x", value):
        raise ex.error("a graph with vectors or matrices has numbers only (symbols in tensor "
                       "graphs are not supported yet)", path, code="E226")
    return _num(ex, value, path)


def _tensor_graph(ex: Exercise, spec: GraphSpec, sink: _Sink) -> Graph | None:
    """A graph whose leaves include vectors or matrices: every node a tree of tensor
    operations (tutor.tensorexpr, tutor.tensors), its shape checked from its parents'."""
    from tutor.tensorexpr import parse_tensor
    from tutor.tensors import infer, shape_of

    sections, owner = _owners(ex, spec, sink)
    nodes: dict[str, Node] = {}
    init: dict[str, Any] = {}
    shapes: dict[str, tuple | None] = {}
    for sec, op in (("inputs", "input"), ("params", "param"), ("constants", "const")):
        for name, value in sections[sec].items():
            nodes[name] = Node(name, op, path=(sec, name))
            init[name] = sink.attempt(_leaf, ex, value, (sec, name))
            shapes[name] = None if init[name] is None else shape_of(init[name])
    trees, deps = {}, {}
    for name, text in spec.nodes.items():
        path = ("nodes", name)
        try:
            t = parse_tensor(text if isinstance(text, str) else str(text), owner)
        except ExprError as err:
            m = ex.doc.mark(path)
            sink.add(err.located(ex.file, m.line if m else None, m.col if m else None))
            continue
        used = [n for n in t.names()]
        if name in used:
            sink.add(ex.error(f"node '{name}' uses itself", path, code="E222"))
            used = [n for n in used if n != name]
        trees[name], deps[name] = t, tuple(used)
    order = _toposort(ex, {n: ds for n, ds in deps.items() if n in spec.nodes}, sink)
    for name in order:  # shapes, parents first
        if name not in trees or any(shapes.get(d) is None for d in deps[name]):
            continue  # a part it needs failed: not guessed
        m = ex.doc.mark(("nodes", name))
        try:
            shapes[name] = infer(trees[name], shapes)
        except ExprError as err:
            sink.add(err.located(ex.file, m.line if m else None, m.col if m else None))
    if _loss_is_a_node(ex, spec, owner, sink) and shapes.get(spec.loss) not in (None, ()):
        r, c = shapes[spec.loss]
        sink.add(ex.error(f"the loss must be a number, but {spec.loss} is {r}×{c}: sum it "
                          f"(sum(...)) or take its mean (mean(...))", ("nodes", spec.loss),
                          code="E227"))
    iters = _iterations(ex, spec, owner, sink, _leaf)
    for k, row in enumerate(iters):
        for name, v in row.items():
            if v is not None and shapes.get(name) is not None and shape_of(v) != shapes[name]:
                sink.add(ex.error(f"an iteration's {name} must have the shape of {name}",
                                  ("iterations", k, name), code="E209"))
    lr = sink.attempt(_lr, ex, spec)
    if sink.errors:
        return None
    for name in order:
        nodes[name] = Node(name, "tensor", deps[name],
                           {"tree": trees[name], "text": str(spec.nodes[name]),
                            "shape": shapes[name], "grad_symbol": f"∂{spec.loss}/∂{name}"},
                           ("nodes", name))
    return _finished(spec, owner, nodes, init, iters, lr)


def _symbol(name: str, value) -> sp.Symbol | None:
    """A leaf given as ``symbol`` or ``{symbol: positive}``: a real SymPy symbol (with the
    assumption), else None (a number). Every symbol is real: gradients of real functions."""
    from tutor.exercise import SymbolSpec

    if value == "symbol":
        return sp.Symbol(name, real=True)
    if isinstance(value, SymbolSpec):
        said = value.symbol
        return sp.Symbol(name, real=True, **({} if said == "real" else {said: True}))
    return None


def _names_despite_unknown(src: str, symbols: dict, err: ExprError) -> set[str] | None:
    """The known names an expression uses when its only fault is an unknown name (parsed
    again with every identifier allowed); None when it does not parse at all."""
    from tutor.expr import UNKNOWN_NAME, parse_expression
    from tutor.functions import FUNCTIONS

    if err.code != UNKNOWN_NAME:
        return None
    relaxed = {**{t: sp.Symbol(t) for t in _NAME.findall(src) if t not in FUNCTIONS},
               **symbols}
    try:
        e = parse_expression(src, relaxed)
    except ExprError:
        return None
    return {s.name for s in e.free_symbols} & set(symbols)


def _toposort(ex: Exercise, deps: dict[str, tuple[str, ...]], sink: _Sink) -> list[str]:
    """Depth-first order over node→node dependencies (file order, so ties keep the
    author's order). Every cycle is reported once per strongly connected component, as a
    path from its first node in file order back to it."""
    inner = {n: [d for d in ds if d in deps] for n, ds in deps.items()}
    for comp in _cycles(inner):
        start = comp[0]
        sink.add(ex.error("the nodes form a cycle: " + " → ".join(_cycle_path(inner, comp)),
                          ("nodes", start), code="E225"))
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str):
        if state.get(n):
            return
        state[n] = 1
        for d in inner[n]:
            visit(d)
        done.append(n)

    for n in deps:
        visit(n)
    return done


def _cycles(inner: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative),
    each in file order, ordered by their first node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    comps: list[list[str]] = []
    pos = {n: k for k, n in enumerate(inner)}
    counter = 0
    for root in inner:
        if root in index:
            continue
        work = [(root, iter(inner[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(inner[w])))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        comps.append(sorted(comp, key=pos.__getitem__))
    return sorted(comps, key=lambda c: pos[c[0]])


def _cycle_path(inner: dict[str, list[str]], comp: list[str]) -> list[str]:
    """A cycle through the component's first node: start → … → start (shortest, BFS)."""
    start, members = comp[0], set(comp)
    prev: dict[str, str] = {}
    queue = [start]
    for v in queue:
        for w in inner[v]:
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1] + [start]
            if w in members and w not in prev and w != start:
                prev[w] = v
                queue.append(w)
    return comp + [start]  # unreachable: a component always has a cycle through start
