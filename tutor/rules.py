"""The rules table: every operation's forward and its local backward rule, side by side.

A backward rule receives the upstream gradient g = ∂L/∂(node output) and returns, for each
parent, one chain-rule ``Term``: its value, the formula that produced it, and — for every entry
that is zero — the reason in words (dead ReLU, zero input, zero upstream gradient, …).

The solver (tutor.solve) only walks the graph and sums Terms at merges; all calculus lives
here. A misconception (tutor.misconceptions) is this table with one entry swapped.

Shapes (column layout; row layout is the transpose):  W (out, in)  x (in, B)  b (out, 1)
g and z (out, B).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sympy as sp

from tutor.cause import Cause, Kind, Over, entry_name
from tutor.formula import Const, Formula, Note, NoteKind, Operand, Sym, Written, op
from tutor.functions import (ELU_DEFAULT_ALPHA, elu, is_zero, leaky_relu, relu, resolve_steps,
                             sigmoid, sign, softplus, sstr, tie_split)
from tutor.limits import TooLong, Trouble, check, shortened
from tutor.numeric import decimal_text  # the numbers a refusal names (digits, not words)
from tutor.tensors import OPS as TENSOR_OPS


# ─── what a rule returns ───────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Term:
    """One chain-rule contribution to a parent's gradient."""

    value: Any
    formula: Formula
    causes: Mapping[tuple, Cause] = field(default_factory=dict)  # entry → why it is 0
    source: str = ""  # the node whose backward rule produced it


@dataclass(frozen=True)
class Ctx:
    """What a rule may look at: its node, its inputs, its output, and the rest of the pass."""

    node: Any  # tutor.graph.Node
    args: tuple  # parent values, in node.parents order
    out: Any  # this node's forward value (backward only)
    graph: Any  # tutor.graph.Graph
    rules: Mapping[str, Any]
    values: Mapping[str, Any]  # every forward value of this iteration
    causes: Mapping[tuple, Mapping[tuple, Cause]]  # ("value"|"grad", name) → entry → cause

    def cause(self, kind: str, name: str, idx: tuple) -> Cause | None:
        """Why that entry is 0, as the rule that made it recorded (None: it is not 0)."""
        return self.causes.get((kind, name), {}).get(idx)


@dataclass(frozen=True)
class Rule:
    forward: Callable[[Ctx], Any]
    backward: Callable[[Ctx, Any], tuple]  # one Term (or None) per parent
    forward_zeros: Callable[[Ctx, Any], dict] = lambda ctx, out: {}  # entry → Cause of its 0
    forward_formula: Callable[[Ctx], Formula | None] = lambda ctx: None  # how it was computed


# ─── small helpers ─────────────────────────────────────────────────────────────────────
def entries(m: Any):
    """(index, entry) of a matrix, or ((), x) of a scalar."""
    if isinstance(m, sp.MatrixBase):
        for i in range(m.rows):
            for j in range(m.cols):
                yield (i, j), m[i, j]
    else:
        yield (), m


def shape(m: Any):
    return m.shape if isinstance(m, sp.MatrixBase) else None


def _col(ctx: Ctx) -> bool:
    return ctx.graph.layout == "column"


# ─── affine: z = W x + b ───────────────────────────────────────────────────────────────
def affine_forward(ctx: Ctx):
    W, x, b = ctx.args
    if _col(ctx):  # (out, in)·(in, B) + (out, 1)·(1, B)
        return W * x + b * sp.ones(1, x.cols)
    return x * W + sp.ones(x.rows, 1) * b  # (B, in)·(in, out) + (B, 1)·(1, out)


def affine_forward_formula(ctx: Ctx) -> Formula:
    """z = W x + b   (row layout: z = x W + b), with the numbers."""
    (W, x, b), (wn, xn, bn) = ctx.args, ctx.node.parents
    W, x, b = Operand(wn, W), Operand(xn, x), Operand(bn, b)
    return Formula(op("add", op("juxt", W, x) if _col(ctx) else op("juxt", x, W), b))


def affine_forward_zeros(ctx: Ctx, out):
    """A pre-activation exactly 0: its products and bias cancel (or are all 0)."""
    (W, x, b), (wn, xn, _) = ctx.args, ctx.node.parents
    causes = {}
    for idx, v in entries(out):
        if not is_zero(v):
            continue
        i, k = idx if _col(ctx) else (idx[1], idx[0])  # (unit, example)
        n_in = W.cols if _col(ctx) else W.rows
        wx = [W[i, j] * x[j, k] if _col(ctx) else x[k, j] * W[j, i] for j in range(n_in)]
        bias = b[i] if _col(ctx) else b[0, i] if b.rows == 1 else b[i]
        if all(is_zero(t) for t in wx) and is_zero(bias):
            causes[idx] = Cause.of(Kind.ZERO_PRODUCTS, weights=wn, inputs=xn)
        else:
            causes[idx] = Cause.of(Kind.CANCELLATION, over=Over.PRODUCTS_AND_BIAS,
                                   terms=(*wx, bias))
    return causes


def affine_dW(ctx: Ctx, g):
    """∂L/∂W = δ xᵀ   (row layout: xᵀ δ)."""
    W, x, b = ctx.args
    return g * x.T if _col(ctx) else x.T * g


def affine_db(ctx: Ctx, g):
    """∂L/∂b = Σ over the batch of δ."""
    return g * sp.ones(g.cols, 1) if _col(ctx) else sp.ones(1, g.rows) * g


def affine_dx(ctx: Ctx, g):
    """∂L/∂x = Wᵀ δ   (row layout: δ Wᵀ)."""
    W, x, b = ctx.args
    return W.T * g if _col(ctx) else g * W.T


def affine_backward(ctx: Ctx, g):
    """∂L/∂W = δ xᵀ,  ∂L/∂b = Σ_batch δ,  ∂L/∂x = Wᵀ δ   (row layout: xᵀ δ, Σ δ, δ Wᵀ).

    The three outputs are the table's entries ``affine:dW``, ``affine:db``, ``affine:dx``.
    """
    W, x, b = ctx.args
    wn, xn, bn = ctx.node.parents
    d = ctx.node.attrs.get("grad_symbol", "δ")
    xs = f"{xn}" if xn != "x" else "x"
    batch = x.cols if _col(ctx) else x.rows
    dW, db, dx = (ctx.rules["affine:dW"](ctx, g), ctx.rules["affine:db"](ctx, g),
                  ctx.rules["affine:dx"](ctx, g))
    og, ox, oW = Operand(d, g), Operand(xs, x), Operand(wn, W)
    if _col(ctx):  # δ · xᵀ and Wᵀ · δ
        fW, fx = Formula(op("dot", og, op("T", ox))), Formula(op("dot", op("T", oW), og))
    else:  # xᵀ · δ and δ · Wᵀ
        fW, fx = Formula(op("dot", op("T", ox), og)), Formula(op("dot", og, op("T", oW)))
    fb = Formula(og if batch == 1 else op("batch_sum", og))
    zname = ctx.node.name

    def g_row(i):  # the upstream entries that feed output unit i (over the batch)
        return [(i, k) if _col(ctx) else (k, i) for k in range(batch)]

    def x_row(j):
        return [(j, k) if _col(ctx) else (k, j) for k in range(batch)]

    def why_dW(idx):
        i, j = idx if _col(ctx) else (idx[1], idx[0])  # (unit, input)
        gz = [e for e in g_row(i) if is_zero(g[e])]
        xz = [e for e in x_row(j) if is_zero(x[e])]
        if len(gz) == batch:
            e = gz[0]
            return Cause.of(Kind.NO_ERROR_SIGNAL, d, e, g.shape,
                            because=ctx.cause("grad", zname, e), unit=i + 1)
        if len(xz) == batch:
            e = xz[0]
            src = "input" if xn == "x" else "activation"
            return Cause.of(Kind.ZERO_INPUT, xn, e, x.shape, because=ctx.cause("value", xn, e),
                            source=src)
        return Cause.of(Kind.CANCELLATION, over=Over.BATCH)

    def why_db(idx):
        i = idx[0] if _col(ctx) else idx[1]
        gz = [e for e in g_row(i) if is_zero(g[e])]
        if len(gz) == batch:
            return Cause.of(Kind.ZERO_UPSTREAM, d, gz[0], g.shape,
                            because=ctx.cause("grad", zname, gz[0]))
        return Cause.of(Kind.CANCELLATION, over=Over.BATCH_SIGNALS)

    def why_dx(idx):
        j = idx[0] if _col(ctx) else idx[1]
        units = W.rows if _col(ctx) else W.cols
        if all(is_zero(v) for _, v in entries(g)):
            return Cause.of(Kind.ZERO_EVERYWHERE, d)
        live = [i for i in range(units) if not is_zero(W[i, j] if _col(ctx) else W[j, i])]
        if not live:
            return Cause.of(Kind.ZERO_WEIGHTS, weights=wn)
        if all(all(is_zero(g[e]) for e in g_row(i)) for i in live):
            i = live[0]
            e = g_row(i)[0]
            return Cause.of(Kind.SILENT_UNITS, d, e, g.shape, because=ctx.cause("grad", zname, e))
        return Cause.of(Kind.CANCELLATION, d, over=Over.PASS_BACK, weights=wn)

    def zeros(m, like, why):
        if shape(m) != shape(like):  # a misconception's value of another shape: no causes
            return {}
        return {i: why(i) for i, v in entries(m) if is_zero(v)}

    return (Term(dW, fW, zeros(dW, W, why_dW), zname),
            Term(dx, fx, zeros(dx, x, why_dx), zname),
            Term(db, fb, zeros(db, b, why_db), zname))


# ─── elementwise activations: h = φ(z) ─────────────────────────────────────────────────
@dataclass(frozen=True)
class Activation:
    f: Callable[[Any, Any], Any]  # (z, α) → φ(z); α is the layer's ``param`` (None: default)
    d: Callable[[Any, Any, Any], Any]  # (z, h, ctx) → φ′(z), using h = φ(z) where that is simpler
    symbol: str  # how φ′ is written
    param: str | None = None  # the layer option α comes from: "slope" (leaky_relu), "alpha" (elu)


def _relu_d(z, h, ctx):
    s = sign(z)
    return sp.Integer(1 if s > 0 else 0) if s else sp.Integer(ctx.graph.relu_prime_at_zero)


def _elu_d(z, h, ctx):  # ELU′(z) = 1 if z > 0 else α e^z (= h + α): ELU′(0) = α
    return sp.Integer(1) if sign(z) > 0 else alpha_of(ctx.node) * sp.exp(z)


def _leaky_d(z, h, ctx):
    slope = ctx.node.attrs.get("slope") or sp.Rational(1, 100)
    s = sign(z)
    if s == 0:
        return sp.Integer(1) if ctx.graph.relu_prime_at_zero == 1 else slope
    return sp.Integer(1) if s > 0 else slope


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(lambda z, a: z, lambda z, h, c: sp.Integer(1), "1"),
    "relu": Activation(lambda z, a: relu(z), _relu_d, "ReLU′"),
    "leaky_relu": Activation(lambda z, a: leaky_relu(z, a or sp.Rational(1, 100)), _leaky_d,
                             "LeakyReLU′", "slope"),
    "elu": Activation(lambda z, a: elu(z, a if a is not None else ELU_DEFAULT_ALPHA), _elu_d, "ELU′", "alpha"),
    "softplus": Activation(lambda z, a: softplus(z), lambda z, h, c: sigmoid(z), "softplus′"),
    "sigmoid": Activation(lambda z, a: sigmoid(z), lambda z, h, c: h * (1 - h), "σ′"),
    "tanh": Activation(lambda z, a: sp.tanh(z), lambda z, h, c: 1 - h**2, "tanh′"),
}


def softmax(z: sp.Matrix, column: bool) -> sp.Matrix:
    """Softmax of each example (each column in column layout, each row in row layout)."""
    m = z if column else z.T
    out = sp.zeros(*m.shape)
    for k in range(m.cols):
        exps = [sp.exp(m[i, k]) for i in range(m.rows)]
        total = sum(exps)
        for i in range(m.rows):
            out[i, k] = exps[i] / total
    return out if column else out.T


def act_forward(ctx: Ctx):
    (z,) = ctx.args
    fn = ctx.node.attrs["fn"]
    if fn == "softmax":
        return softmax(z, _col(ctx))
    act = ctx.rules[fn]
    a = ctx.node.attrs.get(act.param) if act.param else None  # a leaky slope, ELU's α
    return z.applyfunc(lambda v: act.f(v, a))


def act_forward_formula(ctx: Ctx) -> Formula:
    """h = φ(z), with z's numbers (and a leaky ReLU's own slope in its rule)."""
    fn = ctx.node.attrs["fn"]
    z = Operand(ctx.node.parents[0], ctx.args[0])
    if fn == "identity":
        return Formula(z)
    return Formula(op("call", z, fn=fn), (Note.of(NoteKind.FORWARD, fn=fn,
                                                   alpha=act_param(ctx.node)),))


def slope_of(node):
    """A leaky ReLU layer's slope α (default 1/100)."""
    return node.attrs.get("slope") or sp.Rational(1, 100)


def act_param(node):
    """The α of an activation node that has one — a leaky ReLU's slope, ELU's α — else None."""
    act = ACTIVATIONS.get(node.attrs.get("fn"))
    if node.op != "act" or act is None or act.param is None:
        return None
    return slope_of(node) if act.param == "slope" else alpha_of(node)


def alpha_of(node):
    """An ELU layer's α (default 1)."""
    a = node.attrs.get("alpha")
    return ELU_DEFAULT_ALPHA if a is None else a


def act_forward_zeros(ctx: Ctx, out):
    (z,) = ctx.args
    zname = ctx.node.parents[0]
    fn = ctx.node.attrs["fn"]
    causes = {}
    for idx, v in entries(out):
        if not is_zero(v):
            continue
        zi = z[idx]
        if fn == "relu" and sign(zi) < 0:
            causes[idx] = Cause.of(Kind.DEAD_RELU, zname, idx, z.shape, value=zi)
        elif fn == "relu":
            causes[idx] = Cause.of(Kind.RELU_BOUNDARY, zname, idx, z.shape)
        else:
            causes[idx] = Cause.of(Kind.ZERO_VALUE, zname, idx, z.shape)
    return causes


def act_backward(ctx: Ctx, g):
    """δ = ∂L/∂h ⊙ φ′(z)   (softmax: δ = J(z)ᵀ g, per example)."""
    (z,) = ctx.args
    h = ctx.out
    fn = ctx.node.attrs["fn"]
    zname, hname = ctx.node.parents[0], ctx.node.name
    gsym = ctx.node.grad_symbol
    if fn == "softmax":
        col = _col(ctx)
        p, gm = (h, g) if col else (h.T, g.T)
        dz = sp.zeros(*p.shape)
        for k in range(p.cols):
            dot = sum(gm[i, k] * p[i, k] for i in range(p.rows))
            for i in range(p.rows):
                dz[i, k] = p[i, k] * (gm[i, k] - dot)
        dz = dz if col else dz.T
        f = Formula(op("dot", op("T", op("call", Operand(zname, z), fn="J_softmax")),
                       Operand(gsym, g)))
        jac = Cause.of(Kind.CANCELLATION, over=Over.SOFTMAX_JACOBIAN)
        return (Term(dz, f, {i: jac for i, v in entries(dz) if is_zero(v)}, hname),)
    act = ctx.rules[fn]
    dphi = sp.Matrix(z.rows, z.cols, lambda i, j: act.d(z[i, j], h[i, j], ctx))
    dz = g.multiply_elementwise(dphi)
    # the mask is shown as its values: δ = ∂L/∂h ⊙ ReLU′(z) = [-0.2192, 0.1462] ⊙ [1, 0]
    f = (Formula(Operand(gsym, g)) if fn == "identity"
         else Formula(op("hadamard", Operand(gsym, g), Operand(zname, dphi, deriv=act.symbol)),
                      (Note.of(NoteKind.ACTIVATION, fn=fn, alpha=act_param(ctx.node)),)))

    def why(idx):
        if is_zero(dphi[idx]):
            zi = z[idx]
            if fn == "relu" and sign(zi) == 0:
                return Cause.of(Kind.RELU_BOUNDARY, zname, idx, z.shape,
                                value=ctx.graph.relu_prime_at_zero, derivative=True)
            if fn == "relu":
                return Cause.of(Kind.DEAD_RELU, zname, idx, z.shape, value=zi, derivative=True)
            return Cause.of(Kind.ZERO_DERIVATIVE, zname, idx, z.shape, symbol=act.symbol)
        return Cause.of(Kind.ZERO_UPSTREAM, gsym, idx, g.shape, because=ctx.cause("grad", hname, idx),
                        reaches=hname)

    return (Term(dz, f, {i: why(i) for i, v in entries(dz) if is_zero(v)}, hname),)


# ─── losses: L = ℓ(ŷ, y) ───────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Loss:
    """value(p, y, n) and gradient ∂L/∂ŷ(p, y, n); ``logit_grad`` when fused with the output
    activation (sigmoid + bce, softmax + ce): ∂L/∂z = (ŷ − y)/n."""

    value: Callable
    grad: Callable | None
    n: Callable[[sp.Matrix, bool], int]  # the normaliser: entries, batch size, or 1


def _sum(m):
    return sum(m, sp.Integer(0))


def _all(p, col):
    return p.rows * p.cols


def _one(p, col):
    return 1


def _batch(p, col):
    return p.cols if col else p.rows


LOSSES: dict[str, Loss] = {
    "mse": Loss(lambda p, y, n: _sum((p - y).applyfunc(lambda e: e**2)) / n,
                lambda p, y, n: 2 * (p - y) / n, _all),
    "sse": Loss(lambda p, y, n: _sum((p - y).applyfunc(lambda e: e**2)),
                lambda p, y, n: 2 * (p - y), _one),
    "half_sse": Loss(lambda p, y, n: _sum((p - y).applyfunc(lambda e: e**2)) / 2,
                     lambda p, y, n: p - y, _one),
    "bce": Loss(lambda p, y, n: -_sum(y.multiply_elementwise(p.applyfunc(sp.log))
                                      + (_ones_like(y) - y).multiply_elementwise(
                                          p.applyfunc(lambda e: sp.log(1 - e)))) / n,
                lambda p, y, n: (-y.multiply_elementwise(p.applyfunc(lambda e: 1 / e))
                                 + (_ones_like(y) - y).multiply_elementwise(
                                     p.applyfunc(lambda e: 1 / (1 - e)))) / n,
                _all),
    "ce": Loss(lambda p, y, n: -_sum(y.multiply_elementwise(p.applyfunc(sp.log))) / n,
               None, _batch),
}


def _ones_like(m):
    return sp.ones(*m.shape)


def loss_forward(ctx: Ctx):
    first, y = ctx.args
    a = ctx.node.attrs
    p = ctx.values["yhat"]
    _loss_domain(a["fn"], p, y, _col(ctx))
    loss = ctx.rules["loss:" + a["fn"]]
    return sp.sympify(loss.value(p, y, loss.n(p, _col(ctx))), strict=True)


def loss_forward_formula(ctx: Ctx) -> Formula:
    """L = ℓ(ŷ, y), written out: −[y ln ŷ + (1 − y) ln(1 − ŷ)] for BCE, with the numbers."""
    y = ctx.args[1]
    p = ctx.values["yhat"]
    fn = ctx.node.attrs["fn"]
    n = ctx.rules["loss:" + fn].n(p, _col(ctx))
    one = len(p) == 1
    if one:  # scalars: the numbers themselves, not 1×1 matrices
        p, y = p[0], y[0]
    P, Y = Operand("ŷ", p), Operand("y", y)

    def total(t):  # Σ over the entries, unless there is one
        return t if one else op("sum", t)

    sq = op("square", op("sub", P, Y))  # (ŷ − y)²
    body = {"mse": lambda: total(sq), "sse": lambda: total(sq),
            "half_sse": lambda: op("juxt", Const("½"), total(sq)),
            # −[y ln ŷ + (1 − y) ln(1 − ŷ)]
            "bce": lambda: op("neg", total(op("brackets", op(
                "add", op("juxt", Y, op("ln", P)),
                op("juxt", op("sub", Const(1), Y), op("ln", op("sub", Const(1), P))))))),
            "ce": lambda: op("neg", total(op("juxt", Y, op("ln", P))))}[fn]()
    if n != 1 and fn in ("mse", "bce", "ce"):
        body = op("div", body, Const(n))
    return Formula(body, (Note.of(NoteKind.LOSS, fn=fn),))


def _loss_domain(fn: str, p, y, col: bool) -> None:
    """BCE: targets in [0, 1] and 0 < ŷ < 1 (else ln 0); CE: each example's targets ≥ 0 and
    summing to 1 (the fused ∂L/∂z = ŷ − y needs Σy = 1)."""
    if fn == "bce":
        for idx, t in entries(y):
            if sign(t) < 0 or sign(1 - t) < 0:
                raise Trouble(f"bce needs targets between 0 and 1, not {decimal_text(t)}",
                              ("target",))
        for idx, v in entries(p):
            if sign(v) <= 0 or sign(1 - v) <= 0:
                raise Trouble(f"bce needs 0 < ŷ < 1 (ln 0 is not a number), but ŷ = {decimal_text(v)}: "
                              "give the output layer a sigmoid")
    if fn == "ce":
        cols = y if col else y.T
        for k in range(cols.cols):
            column = [cols[i, k] for i in range(cols.rows)]
            if any(sign(t) < 0 for t in column) or sign(sum(column) - 1) != 0:
                shown = ", ".join(decimal_text(t) for t in column)
                raise Trouble(f"ce needs each example's targets to be ≥ 0 and sum to 1 "
                              f"(one-hot or a distribution), not [{shown}]", ("target",))


def loss_backward(ctx: Ctx, g):
    """Fused (sigmoid+bce, softmax+ce): δ = (ŷ − y)/n at the logits; else ∂L/∂ŷ."""
    first, y = ctx.args
    a = ctx.node.attrs
    p = ctx.values["yhat"]
    loss = ctx.rules["loss:" + a["fn"]]
    n = loss.n(p, _col(ctx))
    P, Y = Operand("ŷ", p), Operand("y", y)
    if a["fused"]:  # ∂L/∂z = (ŷ − y)/n
        val = ctx.rules["logit_grad:" + a["fn"]](p, y, n)
        tree, note = op("sub", P, Y), Note.of(NoteKind.FUSED, fn=a["fn"])
    else:
        val = loss.grad(p, y, n)
        tree = {"mse": lambda: op("juxt", Const(2), op("sub", P, Y)),  # 2(ŷ − y)
                "sse": lambda: op("juxt", Const(2), op("sub", P, Y)),
                "half_sse": lambda: op("sub", P, Y),
                # −y/ŷ + (1 − y)/(1 − ŷ)
                "bce": lambda: op("add", op("neg", op("frac", Y, P)),
                                  op("frac", op("sub", Const(1), Y), op("sub", Const(1), P)))
                }[a["fn"]]()
        note = Note.of(NoteKind.LOSS_GRADIENT, fn=a["fn"])
    if n != 1 and (a["fused"] or a["fn"] in ("mse", "bce")):
        tree = op("div", tree, Const(n))
    f = Formula(tree, (note,))
    val = g * val
    zeros = {i: Cause.of(Kind.EXACT_PREDICTION, "ŷ", i, p.shape, target="y")
             for i, v in entries(val) if is_zero(v)}
    return (Term(val, f, zeros, ctx.node.name), None)


# ─── graph nodes: n = expression(parents) ──────────────────────────────────────────────
def expr_forward(ctx: Ctx):
    e = ctx.node.attrs["expr"]
    sub = {sp.Symbol(p): v for p, v in zip(ctx.node.parents, ctx.args)}
    why = check(e, sub)  # before SymPy builds it: u**1000 of a 1000-digit u, log(0)
    for bits in (64, 1):  # an exact result too long to keep: from carried parents instead
        if not isinstance(why, TooLong):
            break
        sub = {k: shortened(v, bits) for k, v in sub.items()}
        why = check(e, sub)
    if why:
        raise why
    return resolve_steps(e.xreplace(sub), ctx.graph.relu_prime_at_zero)


def expr_forward_formula(ctx: Ctx) -> Formula:
    """n = its expression as the author wrote it, with the parents' numbers in their places."""
    node = ctx.node
    value = dict(zip(node.parents, ctx.args))
    raw = node.attrs.get("text") or sstr(node.attrs["expr"])
    parts, at = [], 0
    for m in _NAME.finditer(raw):  # the author's characters, with the parents as operands
        if m.group() in value:
            parts += [raw[at:m.start()], Operand(m.group(), value[m.group()])]
            at = m.end()
    parts.append(raw[at:])
    return Formula(Written(tuple(x for x in parts if not isinstance(x, str) or x)))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?!\s*\()")  # a name, not a function's


def expr_forward_zeros(ctx: Ctx, out):
    """Why a node's value is 0: a dead ReLU inside it, or a factor that is 0."""
    if not is_zero(out):
        return {}
    node, e = ctx.node, ctx.node.attrs["expr"]
    sub = {sp.Symbol(p): v for p, v in zip(node.parents, ctx.args)}
    for atom in e.atoms(relu, leaky_relu):
        z = atom.args[0]
        zv = z.xreplace(sub)
        if sign(zv) < 0 and (e == atom or is_zero(e.xreplace({atom: 0}).xreplace(sub))):
            return {(): Cause.of(Kind.DEAD_RELU, z, value=zv)}
        if sign(zv) == 0 and e == atom:
            return {(): Cause.of(Kind.RELU_BOUNDARY, z)}
    if isinstance(e, sp.Mul):
        zero = [str(f) for f in e.args if isinstance(f, sp.Symbol) and is_zero(sub.get(f, 1))]
        if zero:
            p = zero[0]
            return {(): Cause.of(Kind.ZERO_FACTOR, p, because=ctx.cause("value", p, ()))}
    if isinstance(e, sp.Pow) and isinstance(e.base, sp.Symbol) and e.exp.is_positive \
            and is_zero(sub.get(e.base, 1)):  # s² with s = 0
        p = str(e.base)
        return {(): Cause.of(Kind.ZERO_VALUE, p, because=ctx.cause("value", p, ()))}
    f = expr_forward_formula(ctx)  # the author's expression with its numbers
    if isinstance(e, sp.Add) and all(is_zero(t.xreplace(sub)) for t in e.args):
        zs = sorted(str(n) for n in e.free_symbols if is_zero(sub.get(n, 1)))
        parts = tuple(Cause.of(Kind.ZERO_VALUE, n, because=ctx.cause("value", n, ()))
                      for n in zs)
        return {(): Cause.of(Kind.ZERO_TERMS, parts=parts, formula=f)}
    if isinstance(e, sp.Add):  # u + w = 2 + (-2)
        return {(): Cause.of(Kind.CANCELLATION, over=Over.TERMS, formula=f)}
    return {(): Cause.of(Kind.ZERO_FORMULA, formula=f)}


def expr_backward(ctx: Ctx, g):
    """∂L/∂p = ∂L/∂n · ∂n/∂p, with ∂n/∂p the node's own local partial at the current values."""
    node = ctx.node
    sub = {sp.Symbol(p): v for p, v in zip(node.parents, ctx.args)}
    terms = []
    for p in node.parents:
        local_sym, local = ctx.rules["expr:partial"](ctx, p, sub)
        local_name = f"∂{node.name}/∂{p}"
        if node.name == ctx.graph.loss and local_sym.free_symbols:
            # ∂L/∂p is the loss's own partial: written out with the numbers, not "∂L/∂L · ∂L/∂p"
            f = _with_numbers(local_sym, node.parents, ctx.args)
        else:  # ∂L/∂n · ∂n/∂p, the local partial's rule in the note
            up = Operand(node.grad_symbol, g)
            f = Formula(up if local_sym == 1 else op("dot", up, Operand(local_name, local)),
                        (Note.of(NoteKind.PARTIAL, partial=local_name, expr=local_sym),))
        value = g * local
        zeros = {}
        if is_zero(value):
            zeros[()] = _why_expr_zero(ctx, g, local, local_sym, local_name, sub)
        terms.append(Term(value, f, zeros, node.name))
    return tuple(terms)


def _with_numbers(e, names, values) -> Formula:
    """An expression as a Formula: its names are the operands (2·v − 2·t = 2·6 − 2·3)."""
    return Formula(Sym(e, tuple(Operand(n, v) for n, v in zip(names, values))))


def expr_partial(ctx: Ctx, p: str, sub: Mapping):
    """The local partial ∂n/∂p: symbolic, and its value at the current inputs (ReLU′(0) by
    the exercise's convention)."""
    e = ctx.node.attrs["expr"]
    local_sym = sp.diff(e, sp.Symbol(p))
    if e.has(sp.Max, sp.Min):  # the value with a k-way tie split 1/k each
        local = sp.diff(tie_split(e), sp.Symbol(p)).xreplace(sub)
    else:
        local = local_sym.xreplace(sub)
    return local_sym, resolve_steps(local, ctx.graph.relu_prime_at_zero)


def _why_expr_zero(ctx, g, local, local_sym, local_name, sub):
    if is_zero(g):
        why = ctx.cause("grad", ctx.node.name, ())
        if why is not None and why.kind is Kind.ZERO_PARTIAL and \
                why.get("partial") == ctx.node.grad_symbol:  # it already says ∂L/∂s = 2·s = 0 …
            return why
        return Cause.of(Kind.ZERO_UPSTREAM, ctx.node.grad_symbol, because=why)
    from tutor.functions import relu_step

    for step in local_sym.atoms(relu_step):
        z = step.args[0]
        zv = z.xreplace(sub)
        s = sign(zv)
        if s < 0:
            return Cause.of(Kind.DEAD_RELU, z, value=zv, derivative=True)
        if s == 0:
            return Cause.of(Kind.RELU_BOUNDARY, z, value=ctx.graph.relu_prime_at_zero,
                            derivative=True)
    zero_names = sorted(str(s) for s in local_sym.free_symbols if is_zero(sub.get(s, 1)))
    if isinstance(local_sym, sp.Symbol) and zero_names:  # ∂v/∂w = r = 0 (dead ReLU: …)
        return Cause.of(Kind.ZERO_PARTIAL, because=ctx.cause("value", zero_names[0], ()),
                        partial=local_name, formula=local_sym)
    if zero_names:
        parts = tuple(Cause.of(Kind.ZERO_VALUE, n, because=ctx.cause("value", n, ()))
                      for n in zero_names)
        return Cause.of(Kind.ZERO_PARTIAL, parts=parts, partial=local_name, formula=local_sym)
    return Cause.of(Kind.ZERO_PARTIAL, partial=local_name, formula=local_sym)


# ─── tensor graph nodes: n = a tree of tensor operations (tutor.tensors) ───────────────
def _tensor_env(ctx: Ctx):
    from tutor.tensors import Env

    return Env(ctx.graph.relu_prime_at_zero, ctx.node.grad_symbol)


def tensor_forward(ctx: Ctx):
    """The node's tree evaluated bottom-up, each operation by its entry of tutor.tensors.OPS
    (looked up through the rules table: ``tensor:<op>``, so a misconception can swap one)."""
    from tutor.tensors import forward

    node = ctx.node
    return forward(node.attrs["tree"], dict(zip(node.parents, ctx.args)), _tensor_env(ctx),
                   tensor_ops(ctx.rules))


def tensor_ops(rules: Mapping[str, Any]) -> dict:
    """The tensor operations of a rules table (a misconception swaps one: ``tensor:relu``)."""
    return {k: rules.get("tensor:" + k, v) for k, v in TENSOR_OPS.items()}


def tensor_parts(node, values: Mapping[str, Any], graph, rules: Mapping[str, Any] = None):
    """Every sub-expression's value inside a tensor node (TExpr id → value): what a ReLU
    inside it takes, for variant conditions. The node's own value is ``evaluate``'s."""
    from tutor.tensors import Env, forward

    memo: dict = {}
    forward(node.attrs["tree"], {p: values[p] for p in node.parents},
            Env(graph.relu_prime_at_zero, node.grad_symbol), tensor_ops(rules or RULES), memo)
    return memo


def tensor_backward(ctx: Ctx, g):
    """Each parent's share of G = ∂L/∂n: the tree run top-down, every operation sending its
    arguments their vector-Jacobian products (a name used twice: its shares add)."""
    from tutor.tensors import Up, backward, forward, gathered

    node = ctx.node
    ops, env, memo = tensor_ops(ctx.rules), _tensor_env(ctx), {}
    forward(node.attrs["tree"], dict(zip(node.parents, ctx.args)), env, ops, memo)
    top = Const(1) if node.name == ctx.graph.loss else Operand(node.grad_symbol, g)
    upstream = dict(ctx.causes.get(("grad", node.name), {}))
    got = backward(node.attrs["tree"], Up(g, top, upstream), memo, env, ops)
    terms = []
    for p in node.parents:
        if p not in got:  # reached by no differentiable path (embedding's ids)
            terms.append(None)
            continue
        value, tree, causes = gathered(got[p])
        terms.append(Term(value, Formula(tree), causes, node.name))
    return tuple(terms)


def tensor_forward_zeros(ctx: Ctx, out):
    """Why an entry of a node's value is 0: a dead ReLU (relu at the top of the node), a
    zero factor of a product, else the node's formula with its numbers."""
    from tutor.tensors import at, entries, forward, shape_of

    node, t = ctx.node, ctx.node.attrs["tree"]
    zeros = [idx for idx, v in entries(out) if is_zero(v)]
    if not zeros:
        return {}
    memo: dict = {}
    forward(t, dict(zip(node.parents, ctx.args)), _tensor_env(ctx), tensor_ops(ctx.rules), memo)
    s = shape_of(out) or None
    causes = {}
    for idx in zeros:
        if t.op in ("relu", "leaky_relu"):
            inner = t.args[0]
            z = at(memo[id(inner)], idx)
            label = inner.text if inner.op in ("name", "index", "T") else f"({inner.text})"
            causes[idx] = (Cause.of(Kind.DEAD_RELU, label, idx, s, value=z) if sign(z) < 0
                           else Cause.of(Kind.RELU_BOUNDARY, label, idx, s))
            continue
        if t.op == "mul":
            hit = None
            for a in t.args:
                v = memo[id(a)]
                src = () if not shape_of(v) else tuple(k if n > 1 else 0
                                                         for k, n in zip(idx, shape_of(v)))
                if is_zero(at(v, src)):
                    hit = Cause.of(Kind.ZERO_FACTOR, a.text if a.op == "name" else f"({a.text})",
                                   src, shape_of(v) or None,
                                   because=ctx.cause("value", a.arg, src) if a.op == "name" else None)
                    break
            if hit is not None:
                causes[idx] = hit
                continue
        if t.op in ("add", "sub"):  # this entry's own terms: h[2,1] − μ[2] = 0.5 − 0.5
            terms = []
            for a in t.args:
                v = memo[id(a)]
                src = () if not shape_of(v) else tuple(k if n > 1 else 0
                                                         for k, n in zip(idx, shape_of(v)))
                name = a.text if a.op in ("name", "num", "index") else f"({a.text})"
                terms.append(Operand(entry_name(name, src, shape_of(v) or None), at(v, src)))
            f = Formula(op(t.op, *terms))
            causes[idx] = Cause.of(Kind.CANCELLATION, over=Over.TERMS, formula=f)
            continue
        causes[idx] = Cause.of(Kind.ZERO_FORMULA, formula=expr_forward_formula(ctx))
    return causes



# ─── merges and updates ────────────────────────────────────────────────────────────────
def accumulate(terms: list[Term]):
    """At a merge the contributions add: ∂L/∂x = Σ over x's consumers."""
    total = terms[0].value
    for t in terms[1:]:
        total = total + t.value
    return total


def sgd(theta, grad, lr):
    """θ′ = θ − η ∂L/∂θ."""
    return theta - lr * grad


RULES: dict[str, Any] = {
    # operations of the graph
    "affine": Rule(affine_forward, affine_backward, affine_forward_zeros, affine_forward_formula),
    "act": Rule(act_forward, act_backward, act_forward_zeros, act_forward_formula),
    "loss": Rule(loss_forward, loss_backward, forward_formula=loss_forward_formula),
    "expr": Rule(expr_forward, expr_backward, expr_forward_zeros, expr_forward_formula),
    "tensor": Rule(tensor_forward, tensor_backward, tensor_forward_zeros, expr_forward_formula),
    # elementwise derivatives and losses the operations look up
    **ACTIVATIONS,
    **{"loss:" + k: v for k, v in LOSSES.items()},
    "logit_grad:bce": lambda p, y, n: (p - y) / n,  # fused sigmoid + bce: ∂L/∂z
    "logit_grad:ce": lambda p, y, n: (p - y) / n,  # fused softmax + ce: ∂L/∂z
    # the operations inside a tensor node (tutor.tensors), each its shape, forward, backward
    **{"tensor:" + k: v for k, v in TENSOR_OPS.items()},
    "affine:dW": affine_dW,
    "affine:db": affine_db,
    "affine:dx": affine_dx,
    "expr:partial": expr_partial,
    # the algorithm itself
    "accumulate": accumulate,
    "sgd": sgd,
}


def evaluate(node, values: Mapping[str, Any], graph, rules: Mapping[str, Any] = RULES,
             causes: Mapping | None = None):
    """The value of one node under a rules table, from its parents' ``values``: the one
    place a node is evaluated — the solver, grading from a student's own numbers, diagnosis
    under a swapped rule and variant drawing all call it."""
    ctx = Ctx(node, tuple(values[p] for p in node.parents), None, graph, rules, values,
              causes if causes is not None else {})
    return rules[node.op].forward(ctx)
