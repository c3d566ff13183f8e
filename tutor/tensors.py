"""Tensor operations of graph nodes: each one entry, its shape rule, forward and backward
side by side (issue 13).

A node such as ``z: W @ x + b`` is a tree of these operations (tutor.tensorexpr). Its
forward is the tree evaluated bottom-up; its backward runs the tree top-down with the
upstream gradient G = ∂L/∂(node), each operation sending each argument its share — the
vector-Jacobian product — with the formula that gives it and, for every entry that is 0,
why (a dead ReLU at z[2], a zero input feeding a weight, …):

    a + b        ∂a = Σ_broadcast G          ∂b = Σ_broadcast G   (a broadcast is a sum back)
    a * b        ∂a = Σ_broadcast G ⊙ b      (elementwise)
    A @ B        ∂A = G Bᵀ                   ∂B = Aᵀ G            # A (m, k)  B (k, n)  G (m, n)
    aᵀ           ∂a = Gᵀ
    sum(a)       ∂a = G · 1                  (every entry gets G)
    φ(a)         ∂a = G ⊙ φ′(a)              (ReLU′(0) by the exercise's convention)
    softmax(z)   ∂z = s ⊙ (G − Σ_column G ⊙ s)
    cross_entropy(z, y) = −(1/B) Σ y ⊙ log softmax(z)      ∂z = G (softmax(z) − y) / B

Shapes: ``()`` is a number, ``(rows, cols)`` a matrix; a vector in a file is a column
(n, 1). Broadcasting as in NumPy, over two axes: a (n, 1) column, a (1, m) row or a number
is repeated to the other side's shape. Values are exact SymPy (a Matrix, or a number).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sympy as sp

from tutor.cause import Cause, Kind, Over
from tutor.errors import ExprError
from tutor.formula import Const, Formula, Operand, Sym, op
from tutor.functions import FUNCTIONS, is_zero, resolve_steps, sign
from tutor.numeric import tame
from tutor.tensorexpr import TExpr

Shape = tuple  # () a number; (rows, cols) a matrix
MAX_ENTRIES = 4_096  # entries of any value inside a node (64 × 64)


# ─── values ────────────────────────────────────────────────────────────────────────────
def shape_of(v: Any) -> Shape:
    return tuple(v.shape) if isinstance(v, sp.MatrixBase) else ()


def said(s: Shape) -> str:
    return "a number" if s == () else f"{s[0]}×{s[1]}"


def full(v: Any, s: Shape) -> Any:
    """``v`` repeated to shape ``s`` (a number, a column or a row broadcast)."""
    if s == () or shape_of(v) == s:
        return v
    if not isinstance(v, sp.MatrixBase):
        return sp.Matrix(s[0], s[1], lambda i, j: v)
    r, c = v.shape
    return sp.Matrix(s[0], s[1], lambda i, j: v[i if r > 1 else 0, j if c > 1 else 0])


def entries(v: Any):
    if isinstance(v, sp.MatrixBase):
        for i in range(v.rows):
            for j in range(v.cols):
                yield (i, j), v[i, j]
    else:
        yield (), v


def _tamed(v: Any) -> Any:
    """A value inside a node, kept as ``tame`` keeps a node's value (the flag is the node's
    business: tutor.solve asks ``tame`` again of the node's own value). Rationals and
    decimals, what most values are, are kept as they are without a copy."""
    if isinstance(v, sp.MatrixBase):
        if all(isinstance(e, (sp.Rational, sp.Float)) for e in v):
            return v
    elif isinstance(v, (sp.Rational, sp.Float)):
        return v
    return tame(v)[0]


def at(v: Any, idx: tuple) -> Any:
    return v[idx] if idx else v


def _map(f: Callable, *vs, shape: Shape):
    if shape == ():
        return f(*vs)
    vs = [full(v, shape) for v in vs]
    return sp.Matrix(shape[0], shape[1], lambda i, j: f(*(v[i, j] for v in vs)))


_is_zero, _sign = is_zero, sign


# ─── what flows back: a gradient, its formula, why its zero entries are zero ───────────
@dataclass(frozen=True)
class Up:
    value: Any
    formula: Any  # a formula tree (tutor.formula)
    causes: Mapping[tuple, Cause] = field(default_factory=dict)
    scalar: bool = False  # the formula is a number broadcast to the value's shape (sum's G)


def _kind(g: Up, other: Any) -> str:
    """How G meets a local factor: ⊙ between two matrices, · when either is a number."""
    return "dot" if g.scalar or shape_of(g.value) == () or shape_of(other) == () else "hadamard"


def _label(t: TExpr) -> str:
    """How a sub-expression is named in a formula: a name, or its text (bracketed)."""
    if t.op in ("name", "num"):
        return t.text
    if t.op in ("T", "index") or t.op in FUNCTIONS or t.op in CALL_OPS:
        return t.text
    return f"({t.text})"


def operand(t: TExpr, value: Any, deriv: str = "") -> Any:
    if t.op == "num":
        return Const(t.arg)
    return Operand(_label(t), value, deriv)


def _times(kind: str, a, b):
    """a ⊙ b (or a · b, or a b), dropping a leading 1: the loss's own ∂L/∂L."""
    if isinstance(a, Const) and a.value == 1:
        return b
    return op(kind, a, b)


def _upstream_zero(g: Up, idx: tuple, env: "Env") -> Cause | None:
    """Why entry ``idx`` of a product with G is 0 when G itself is 0 there (a number G
    counts at every entry); None when G is not 0 there."""
    gs = shape_of(g.value)
    at_g = idx if gs else ()
    if not _is_zero(at(g.value, at_g)):
        return None
    return _upstream(g, at_g, gs, env.grad_name)


def _glabel(g: Up, env: "Env") -> str:
    """The name of the gradient arriving: the node's own ∂L/∂n, or how it was computed."""
    return g.formula.name if isinstance(g.formula, Operand) else env.grad_name


def _carry(g: Up, idx: tuple) -> Cause | None:
    return g.causes.get(idx)


def _upstream(g: Up, idx: tuple, shape: Shape, name: str) -> Cause:
    """Why ∂ at ``idx`` is 0 when the gradient arriving there is 0."""
    return _carry(g, idx) or Cause.of(Kind.ZERO_UPSTREAM, name, idx, shape or None)


# ─── broadcasting back: a broadcast in the forward pass is a sum in the backward pass ──
def unbroadcast(g: Up, s: Shape, name: str) -> Up:
    """G summed over the axes along which a value of shape ``s`` was repeated."""
    gs = shape_of(g.value)
    if gs == s:
        return g
    if s == ():
        total = sum((v for _, v in entries(g.value)), sp.Integer(0))
        f = op("axis_sum", g.formula, fn="")
        axes = [((), list(dict(entries(g.value))))]
    else:
        rows, cols = s
        v = sp.Matrix(rows, cols, lambda i, j: sum(
            (g.value[a, b] for a in range(gs[0]) for b in range(gs[1])
             if (rows == 1 or a == i) and (cols == 1 or b == j)), sp.Integer(0)))
        f = op("axis_sum", g.formula, fn="0" if rows == 1 and cols > 1 else
               "1" if cols == 1 and rows > 1 else "")
        axes = [((i, j), [(a, b) for a in range(gs[0]) for b in range(gs[1])
                          if (rows == 1 or a == i) and (cols == 1 or b == j)])
                for i in range(rows) for j in range(cols)]
        total = v
    causes = {}
    for idx, summed in axes:
        if not _is_zero(at(total, idx)):
            continue
        parts = [g.causes.get(k) for k in summed if _is_zero(at(g.value, k))]
        if len(parts) == len(summed) and all(parts):
            parts = list(dict.fromkeys(parts))
            causes[idx] = parts[0] if len(parts) == 1 else Cause.of(Kind.SEVERAL, parts=parts)
        elif len(parts) == len(summed):
            causes[idx] = Cause.of(Kind.ZERO_UPSTREAM, name, summed[0], gs or None)
        else:
            causes[idx] = Cause.of(Kind.CANCELLATION, over=Over.BATCH)
    return Up(total, f, causes)


# ─── the operations ───────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class TensorOp:
    shape: Callable[[TExpr, tuple], Shape]  # argument shapes → result shape (or ExprError)
    forward: Callable[[TExpr, tuple, "Env"], Any]
    backward: Callable[[TExpr, tuple, Any, Up, "Env"], tuple]  # one Up (or None) per argument


@dataclass(frozen=True)
class Env:
    relu_prime_at_zero: int = 0
    grad_name: str = "∂L/∂·"  # the node's own gradient symbol, for causes


def _broadcast_shape(t: TExpr, shapes: tuple) -> Shape:
    a, b = shapes
    if a == ():
        return b
    if b == () or a == b:
        return a
    out = []
    for k in range(2):
        if a[k] == b[k] or b[k] == 1:
            out.append(a[k])
        elif a[k] == 1:
            out.append(b[k])
        else:
            l, r = t.args
            raise ExprError(f"{l.text} is {said(a)}, {r.text} is {said(b)}: "
                            f"{_sym(t.op)} needs the same shape, or a 1 where they differ "
                            "(a column or a row is repeated)", t.at, code="E234")
    return tuple(out)


def _sym(kind: str) -> str:
    return {"add": "+", "sub": "−", "mul": "*", "div": "/"}.get(kind, kind)


def _add_back(t, args, out, g, env):
    a, b = t.args
    return (unbroadcast(g, shape_of(args[0]), env.grad_name),
            unbroadcast(g, shape_of(args[1]), env.grad_name))


def _sub_back(t, args, out, g, env):
    a, b = t.args
    neg = Up(-g.value, op("neg", g.formula), g.causes)
    return (unbroadcast(g, shape_of(args[0]), env.grad_name),
            unbroadcast(neg, shape_of(args[1]), env.grad_name))


def _factor(g: Up, other_t: TExpr, other, kind: str, value, env) -> Up:
    """G ⊙ other (then summed back to the argument's shape by the caller)."""
    s = shape_of(value)
    o = full(other, s) if s != () else other
    f = _times(_kind(g, other), g.formula, operand(other_t, other))
    causes = {}
    for idx, v in entries(value):
        if _is_zero(v):
            up = _upstream_zero(g, idx, env)
            if up is not None:
                causes[idx] = up
            elif _is_zero(at(o, idx) if s else o):
                oi = _source_index(idx, shape_of(other))
                causes[idx] = Cause.of(Kind.ZERO_FACTOR, _label(other_t), oi,
                                       shape_of(other) or None)
    return Up(value, f, causes)


def _source_index(idx: tuple, s: Shape) -> tuple:
    """The entry of a broadcast value that ``idx`` of the result came from."""
    if s == ():
        return ()
    return (idx[0] if s[0] > 1 else 0, idx[1] if s[1] > 1 else 0)


def _mul_back(t, args, out, g, env):
    a, b = args
    s = shape_of(out)
    ga = _factor(g, t.args[1], b, "hadamard", _map(lambda x, y: x * y, g.value, b, shape=s), env)
    gb = _factor(g, t.args[0], a, "hadamard", _map(lambda x, y: x * y, g.value, a, shape=s), env)
    return (unbroadcast(ga, shape_of(a), env.grad_name),
            unbroadcast(gb, shape_of(b), env.grad_name))


def _div_back(t, args, out, g, env):
    a, b = args
    s = shape_of(out)
    ga = Up(_map(lambda x, y: x / y, g.value, b, shape=s),
            op("div", g.formula, operand(t.args[1], b)), g.causes)
    gb_v = _map(lambda x, p, q: -x * p / q ** 2, g.value, a, b, shape=s)
    gb_f = op("neg", op("div", _times("hadamard", g.formula, operand(t.args[0], a)),
                        op("square", operand(t.args[1], b))))
    gb = Up(gb_v, gb_f, {i: c for i, c in g.causes.items()})
    return (unbroadcast(ga, shape_of(a), env.grad_name),
            unbroadcast(gb, shape_of(b), env.grad_name))


def _neg_back(t, args, out, g, env):
    return (Up(-g.value, op("neg", g.formula), g.causes),)


def _pow_back(t, args, out, g, env):
    (a,), k = args, sp.Rational(t.arg.numerator, t.arg.denominator)
    s = shape_of(a)
    local = _map(lambda x: k * x ** (k - 1), a, shape=s)
    value = _map(lambda x, y: x * y, g.value, local, shape=s)
    x = sp.Symbol(_label(t.args[0]))
    f = _times(_kind(g, a), g.formula, Sym(k * x ** (k - 1), (Operand(x.name, a),)))
    causes = {}
    for idx, v in entries(value):
        if _is_zero(v):
            causes[idx] = _upstream_zero(g, idx, env) or Cause.of(
                Kind.ZERO_VALUE, _label(t.args[0]), idx, s or None)
    return (Up(value, f, causes),)


def _pow_shape(t, shapes):
    return shapes[0]


def _matmul_shape(t: TExpr, shapes: tuple) -> Shape:
    a, b = shapes
    l, r = t.args
    for side, s in ((l, a), (r, b)):
        if s == ():
            raise ExprError(f"{side.text} is a number: @ multiplies matrices (for a number "
                            "write *)", side.at, code="E234")
    if a[1] != b[0]:
        raise ExprError(f"{l.text} is {said(a)}, {r.text} is {said(b)}: {l.text} @ {r.text} "
                        f"needs {a[1]} row{'s' if a[1] != 1 else ''} in {r.text}", t.at,
                        code="E234")
    return (a[0], b[1])


def _matmul_back(t, args, out, g, env):
    A, B = args
    G = g.value
    lt, rt = t.args
    gA = G * B.T  # (m, n)(n, k) → (m, k)
    gB = A.T * G  # (k, m)(m, n) → (k, n)
    fA = _times("dot", g.formula, op("T", operand(rt, B)))
    fB = op("juxt", op("T", operand(lt, A)), g.formula) if not (
        isinstance(g.formula, Const) and g.formula.value == 1) else op("T", operand(lt, A))
    cA, cB = {}, {}
    for (i, j), v in entries(gA):
        if not _is_zero(v):
            continue
        if all(_is_zero(G[i, k]) for k in range(G.cols)):  # row i of G: unit i's signal
            cA[(i, j)] = Cause.of(Kind.NO_ERROR_SIGNAL, _glabel(g, env), (i, 0), G.shape,
                                  unit=i + 1, because=_carry(g, (i, 0)))
        elif all(_is_zero(B[j, k]) for k in range(B.cols)):
            cA[(i, j)] = Cause.of(Kind.ZERO_INPUT, _label(rt), (j, 0), B.shape,
                                  source=_label(rt))
        else:
            cA[(i, j)] = Cause.of(Kind.CANCELLATION, over=Over.BATCH)
    for (i, j), v in entries(gB):
        if not _is_zero(v):
            continue
        if all(_is_zero(G[k, j]) for k in range(G.rows)):
            cB[(i, j)] = _upstream(g, (0, j), G.shape, env.grad_name)
        elif all(_is_zero(A[k, i]) for k in range(A.rows)):
            cB[(i, j)] = Cause.of(Kind.ZERO_WEIGHTS, weights=_label(lt))
        else:
            cB[(i, j)] = Cause.of(Kind.CANCELLATION, over=Over.PASS_BACK, weights=_label(lt),
                                  subject=env.grad_name)
    return Up(gA, fA, cA), Up(gB, fB, cB)


def _t_shape(t, shapes):
    s = shapes[0]
    return () if s == () else (s[1], s[0])


def _t_back(t, args, out, g, env):
    v = g.value.T if isinstance(g.value, sp.MatrixBase) else g.value
    return (Up(v, op("T", g.formula), {tuple(reversed(k)): c for k, c in g.causes.items()}),)


def _reduce_shape(t, shapes):
    s = shapes[0]
    if s == ():
        raise ExprError(f"{t.op}() of a number: it needs a vector or a matrix", t.at,
                        code="E234")
    return () if t.arg is None else (1, s[1]) if t.arg == 0 else (s[0], 1)


def _reduce_forward(t, args, env):
    (a,) = args
    if t.arg is None:
        v = sum(a, sp.Integer(0))
        n = a.rows * a.cols
    elif t.arg == 0:
        v = sp.Matrix(1, a.cols, lambda i, j: sum((a[k, j] for k in range(a.rows)), sp.Integer(0)))
        n = a.rows
    else:
        v = sp.Matrix(a.rows, 1, lambda i, j: sum((a[i, k] for k in range(a.cols)), sp.Integer(0)))
        n = a.cols
    return v / n if t.op == "mean" else v


def _reduce_back(t, args, out, g, env):
    (a,) = args
    s = shape_of(a)
    n = 1 if t.op == "sum" else (s[0] * s[1] if t.arg is None else s[t.arg])
    value = full(g.value, s) / n if n != 1 else full(g.value, s)
    f = g.formula if n == 1 else op("div", g.formula, Const(n))
    causes = {}
    for idx, v in entries(value):
        if _is_zero(v):
            src = _source_index(idx, shape_of(g.value))
            causes[idx] = _upstream(g, src, shape_of(g.value), env.grad_name)
    return (Up(value, f, causes, scalar=g.scalar or shape_of(g.value) == ()),)


def _index_shape(t, shapes):
    s = shapes[0]
    (inner,) = t.args
    if s == ():
        raise ExprError(f"{inner.text} is a number: it has no entries to index", t.at,
                        code="E234")
    idx = t.arg
    if len(idx) == 1 and s[1] == 1:  # entry i of a column vector
        if idx[0] >= s[0]:
            raise ExprError(f"{inner.text} has {s[0]} entries: it has no entry {idx[0]} "
                            f"(entries count from 0 to {s[0] - 1})", t.at, code="E234")
        return ()
    if len(idx) == 1:
        if idx[0] >= s[0]:
            raise ExprError(f"{inner.text} is {said(s)}: it has no row {idx[0]} (rows count "
                            f"from 0 to {s[0] - 1})", t.at, code="E234")
        return (1, s[1])
    if idx[0] >= s[0] or idx[1] >= s[1]:
        raise ExprError(f"{inner.text} is {said(s)}: it has no entry [{idx[0]}, {idx[1]}] "
                        f"(indices count from 0)", t.at, code="E234")
    return ()


def _index_of(t, s):
    idx = t.arg
    return (idx[0], 0) if len(idx) == 1 and s[1] == 1 else idx


def _index_forward(t, args, env):
    (a,) = args
    idx = _index_of(t, a.shape)
    return a[idx[0], :] if len(idx) == 1 else a[idx]


def _index_back(t, args, out, g, env):
    (a,) = args
    idx = _index_of(t, a.shape)
    rows = range(a.rows)
    v = sp.zeros(a.rows, a.cols)
    taken = [(idx[0], j) for j in range(a.cols)] if len(idx) == 1 else [idx]
    for k, (i, j) in enumerate(taken):
        v[i, j] = g.value[0, j] if len(idx) == 1 else g.value
    causes = {}
    for i in rows:
        for j in range(a.cols):
            if not _is_zero(v[i, j]):
                continue
            if (i, j) in taken:
                causes[(i, j)] = _upstream(g, (0, j) if len(idx) == 1 else (), shape_of(g.value),
                                           env.grad_name)
            else:
                causes[(i, j)] = Cause.of(Kind.UNUSED_ENTRY, _label(t.args[0]), (i, j), a.shape,
                                          used=t.text)
    return (Up(v, g.formula, causes),)


# elementwise functions: φ(a), ∂a = G ⊙ φ′(a)
_DERIV_SYMBOL = {"relu": "ReLU′", "sigmoid": "σ′", "tanh": "tanh′", "softplus": "softplus′",
                 "leaky_relu": "LeakyReLU′", "elu": "ELU′", "exp": "exp", "log": "log′",
                 "sqrt": "sqrt′"}


def _fn_forward(t, args, env):
    (a,) = args
    f = FUNCTIONS[t.op][2]
    return _map(lambda x: resolve_steps(f(x), env.relu_prime_at_zero), a, shape=shape_of(a))


def _fn_derivative(name: str, x, conv: int):
    z = sp.Symbol("z", real=True)
    d = sp.diff(FUNCTIONS[name][2](z), z)
    return resolve_steps(d.xreplace({z: x}), conv)


def _fn_back(t, args, out, g, env):
    (a,) = args
    s = shape_of(a)
    local = _map(lambda x: _fn_derivative(t.op, x, env.relu_prime_at_zero), a, shape=s)
    value = _map(lambda x, y: x * y, g.value, local, shape=s)
    inner = t.args[0]
    f = _times(_kind(g, a), g.formula,  # the operand's value is φ′(a), read "φ′(a)"
               Operand(_label(inner), local, _DERIV_SYMBOL.get(t.op, t.op + "′")))
    causes = {}
    for idx, v in entries(value):
        if not _is_zero(v):
            continue
        x = at(a, idx)  # the local reason first: the ReLU is dead whatever arrives
        if not _is_zero(at(local, idx)):
            causes[idx] = _upstream_zero(g, idx, env)
        elif t.op in ("relu", "leaky_relu") and _sign(x) < 0:
            causes[idx] = Cause.of(Kind.DEAD_RELU, _label(inner), idx, s or None, value=x,
                                   derivative=True)
        elif t.op in ("relu", "leaky_relu") and _sign(x) == 0:
            causes[idx] = Cause.of(Kind.RELU_BOUNDARY, _label(inner), idx, s or None,
                                   value=env.relu_prime_at_zero, derivative=True)
        else:
            causes[idx] = Cause.of(Kind.ZERO_DERIVATIVE, _label(inner), idx, s or None,
                                   symbol=_DERIV_SYMBOL.get(t.op, t.op + "′").rstrip("′"))
    return (Up(value, f, causes),)


# softmax over each column (axis 0) or row (axis 1), and what is built on it
def _lines(a, axis):
    """The columns (axis 0) or rows (axis 1) of ``a``, as lists of indices."""
    if axis == 0:
        return [[(i, j) for i in range(a.rows)] for j in range(a.cols)]
    return [[(i, j) for j in range(a.cols)] for i in range(a.rows)]


def _softmax(a, axis):
    out = sp.zeros(a.rows, a.cols)
    for line in _lines(a, axis):
        total = sum((sp.exp(a[k]) for k in line), sp.Integer(0))
        for k in line:
            out[k] = sp.exp(a[k]) / total
    return out


def _vector_shape(t, shapes):
    if shapes[0] == ():
        raise ExprError(f"{t.op}() of a number: it needs a vector or a matrix", t.at,
                        code="E234")
    return shapes[0]


def _softmax_forward(t, args, env):
    return _softmax(args[0], t.arg)


def _softmax_back(t, args, out, g, env):
    (a,), G = args, g.value
    v = sp.zeros(a.rows, a.cols)
    for line in _lines(a, t.arg):
        dot = sum((G[k] * out[k] for k in line), sp.Integer(0))
        for k in line:
            v[k] = out[k] * (G[k] - dot)
    s = Operand(f"softmax{t.text[len('softmax'):]}", out)
    f = op("hadamard", s, op("sub", g.formula, op("axis_sum", op("hadamard", g.formula, s),
                                                  fn=str(t.arg))))
    causes = {idx: Cause.of(Kind.CANCELLATION, over=Over.SOFTMAX_JACOBIAN)
              for idx, x in entries(v) if _is_zero(x)}
    return (Up(v, f, causes),)


def _log_softmax_forward(t, args, env):
    a = args[0]
    out = sp.zeros(a.rows, a.cols)
    for line in _lines(a, t.arg):
        lse = sp.log(sum((sp.exp(a[k]) for k in line), sp.Integer(0)))
        for k in line:
            out[k] = a[k] - lse
    return out


def _log_softmax_back(t, args, out, g, env):
    (a,), G = args, g.value
    s = _softmax(a, t.arg)
    v = sp.zeros(a.rows, a.cols)
    for line in _lines(a, t.arg):
        total = sum((G[k] for k in line), sp.Integer(0))
        for k in line:
            v[k] = G[k] - s[k] * total
    so = Operand(f"softmax({t.args[0].text})", s)
    f = op("sub", g.formula, op("hadamard", so, op("axis_sum", g.formula, fn=str(t.arg))))
    causes = {idx: Cause.of(Kind.CANCELLATION, over=Over.SOFTMAX_JACOBIAN)
              for idx, x in entries(v) if _is_zero(x)}
    return (Up(v, f, causes),)


def _ce_shape(t, shapes):
    z, y = shapes
    if z == () or z != y:
        l, r = t.args
        raise ExprError(f"cross_entropy(z, y) takes logits z and one-hot targets y of one "
                        f"shape: {l.text} is {said(z)}, {r.text} is {said(y)}", t.at,
                        code="E234")
    return ()


def _ce_forward(t, args, env):
    z, y = args
    ls = _log_softmax_forward(TExpr("log_softmax", arg=0), (z,), env)
    return -sum((y[k] * ls[k] for k in range(len(z))), sp.Integer(0)) / z.cols


def _ce_back(t, args, out, g, env):
    z, y = args
    B = z.cols
    s = _softmax(z, 0)
    gz = (s - y) * g.value / B
    gy = -_log_softmax_forward(TExpr("log_softmax", arg=0), (z,), env) * g.value / B
    lz, ly = t.args
    so = Operand(f"softmax({lz.text})", s)
    fz = op("sub", so, operand(ly, y))
    fz = _times("dot", g.formula, op("div", fz, Const(B)) if B > 1 else fz)
    fy = op("neg", op("call", operand(lz, z), fn="log_softmax"))
    fy = _times("dot", g.formula, op("div", fy, Const(B)) if B > 1 else fy)
    cz = {idx: (Cause.of(Kind.ZERO_UPSTREAM, env.grad_name) if _is_zero(g.value) else
                Cause.of(Kind.EXACT_PREDICTION, f"softmax({lz.text})", idx, z.shape,
                         target=_label(ly)))
          for idx, x in entries(gz) if _is_zero(x)}
    cy = {idx: Cause.of(Kind.ZERO_UPSTREAM, env.grad_name) for idx, x in entries(gy)
          if _is_zero(x)}
    return Up(gz, fz, cz), Up(gy, fy, cy)


# batch norm over the batch axis: each row is a feature, each column an example
def _bn_shape(t, shapes):
    x, gamma, beta, eps = shapes
    lx, lg, lb, le = t.args
    bn = t.op == "batchnorm"
    if x == () or x[1 if bn else 0] < 2:
        raise ExprError(
            f"batchnorm(x, gamma, beta, eps) normalises each row of x over a batch (its "
            f"columns): {lx.text} is {said(x)}" if bn else
            f"layernorm(x, gamma, beta, eps) normalises each column of x over its features "
            f"(its rows): {lx.text} is {said(x)}", t.at, code="E234")
    for side, s in ((lg, gamma), (lb, beta)):
        if s not in ((x[0], 1), ()):
            raise ExprError(f"{side.text} is {said(s)}: {t.op}'s gamma and beta are "
                            f"{x[0]}×1 (one per row of {lx.text}) or numbers", side.at,
                            code="E234")
    if eps != ():
        raise ExprError(f"{le.text} is {said(eps)}: {t.op}'s eps is a number", le.at,
                        code="E234")
    return x


def _bn_parts(x, eps, axis: int = 1):
    """(x̂, 1/σ per line, the lines): each row (``axis`` 1: batch norm, over the batch) or
    each column (``axis`` 0: layer norm, over the features) normalised — μ its mean, σ² the
    mean of (x − μ)² (biased, as training normalises), x̂ = (x − μ)/√(σ² + eps)."""
    xhat, istd = sp.zeros(x.rows, x.cols), []
    lines = _lines(x, 0 if axis == 0 else 1)
    for line in lines:
        n = len(line)
        mu = sum((x[k] for k in line), sp.Integer(0)) / n
        var = sum(((x[k] - mu) ** 2 for k in line), sp.Integer(0)) / n
        r = 1 / sp.sqrt(var + eps)
        istd.append(r)
        for k in line:
            xhat[k] = (x[k] - mu) * r
    return xhat, istd, lines


def _norm_axis(t) -> int:
    return 1 if t.op == "batchnorm" else 0


def _bn_forward(t, args, env):
    x, gamma, beta, eps = args
    xhat, _, _ = _bn_parts(x, eps, _norm_axis(t))
    g, b = full(gamma, x.shape), full(beta, x.shape)
    return sp.Matrix(x.rows, x.cols, lambda i, j: g[i, j] * xhat[i, j] + b[i, j])


def _bn_back(t, args, out, g, env):
    """∂x̂ = G ⊙ γ; ∂x = (1/(Bσ)) (B ∂x̂ − Σ_batch ∂x̂ − x̂ ⊙ Σ_batch ∂x̂ ⊙ x̂) per row;
    ∂γ = Σ_batch G ⊙ x̂; ∂β = Σ_batch G; ∂eps = Σ ∂x̂ ⊙ (x − μ) · (−½) σ⁻³."""
    x, gamma, beta, eps = args
    G = g.value
    n, B = x.shape
    xhat, istd, lines = _bn_parts(x, eps, _norm_axis(t))
    gm = full(gamma, x.shape)
    dxhat = sp.Matrix(n, B, lambda i, j: G[i, j] * gm[i, j])
    dx = sp.zeros(n, B)
    deps = sp.Integer(0)
    for r, line in zip(istd, lines):  # each normalised line: a row (batch), a column (layer)
        m = len(line)
        s1 = sum((dxhat[k] for k in line), sp.Integer(0))
        s2 = sum((dxhat[k] * xhat[k] for k in line), sp.Integer(0))
        for k in line:
            dx[k] = r / m * (m * dxhat[k] - s1 - xhat[k] * s2)
        deps += -s2 * r ** 2 / 2  # Σ ∂x̂ (x − μ)(−½)σ⁻³ = −½ σ⁻² Σ ∂x̂ x̂
    lx, lg, lb, le = t.args
    xh = Operand(f"x̂({lx.text})", xhat)
    fx = op("call", g.formula, operand(lg, gamma), operand(lx, x), fn=f"∂{t.op}/∂x")
    gam = Up(sp.Matrix(n, B, lambda i, j: G[i, j] * xhat[i, j]),
             _times("hadamard", g.formula, xh), {})
    gam = unbroadcast(gam, shape_of(gamma), env.grad_name)
    bet = unbroadcast(g, shape_of(beta), env.grad_name)
    zeros = {idx: Cause.of(Kind.CANCELLATION, over=Over.BATCH) for idx, v in entries(dx)
             if _is_zero(v)}
    return (Up(dx, fx, zeros), gam, bet,
            Up(deps, op("call", g.formula, operand(lx, x), fn=f"∂{t.op}/∂eps"), {}))


# attention: tokens are rows. S = Q Kᵀ/√d, P = softmax of each row of S, O = P V
def _attention_shape(t, shapes):
    q, k, v = shapes
    lq, lk, lv = t.args
    for side, s in zip(t.args, shapes):
        if s == ():
            raise ExprError(f"{side.text} is a number: {t.op}(Q, K, V) takes one row per "
                            "token", side.at, code="E234")
    if q[1] != k[1]:
        raise ExprError(f"{lq.text} is {said(q)}, {lk.text} is {said(k)}: Q and K need the "
                        "same width d (Q Kᵀ)", t.at, code="E234")
    if k[0] != v[0]:
        raise ExprError(f"{lk.text} is {said(k)}, {lv.text} is {said(v)}: K and V need one row "
                        "per token each", t.at, code="E234")
    if t.op == "causal_attention" and q[0] != k[0]:
        raise ExprError("causal_attention needs as many queries as keys (a token sees itself "
                        "and the ones before it)", t.at, code="E234")
    return (q[0], v[1])


def _attention_parts(t, Q, K):
    d = Q.cols
    scale = 1 / sp.sqrt(d)
    S = _tamed(Q * K.T * scale)  # kept as a node's value would be: S = Q Kᵀ/√d, then P
    P = sp.zeros(S.rows, S.cols)
    for i in range(S.rows):
        seen = [j for j in range(S.cols) if t.op != "causal_attention" or j <= i]
        e = {j: sp.exp(S[i, j]) for j in seen}
        total = sp.Add(*e.values())
        for j in seen:
            P[i, j] = e[j] / total
    return scale, S, _tamed(P)


def _attention_forward(t, args, env):
    Q, K, V = args
    return _attention_parts(t, Q, K)[2] * V


def _attention_back(t, args, out, g, env):
    """∂V = Pᵀ G; ∂P = G Vᵀ; ∂S = P ⊙ (∂P − Σ_row ∂P ⊙ P) (0 where masked);
    ∂Q = ∂S K / √d; ∂K = ∂Sᵀ Q / √d."""
    Q, K, V = args
    G = g.value
    scale, S, P = _attention_parts(t, Q, K)
    dP = G * V.T
    dS = sp.zeros(S.rows, S.cols)
    for i in range(S.rows):
        dot = sp.Add(*(dP[i, j] * P[i, j] for j in range(S.cols)))
        for j in range(S.cols):
            dS[i, j] = P[i, j] * (dP[i, j] - dot)
    dQ, dK, dV = dS * K * scale, dS.T * Q * scale, P.T * G
    lq, lk, lv = t.args
    Pn = Operand(f"P({t.text})", P)
    dSo = Operand("∂S", dS)
    fq = op("juxt", dSo, op("dot", operand(lk, K), Const(scale)))
    fk = op("juxt", op("T", dSo), op("dot", operand(lq, Q), Const(scale)))
    fv = op("T", Pn) if isinstance(g.formula, Const) and g.formula.value == 1 else \
        op("juxt", op("T", Pn), g.formula)

    def why(grad, masked_rows):
        causes = {}
        for idx, x in entries(grad):
            if not _is_zero(x):
                continue
            i = idx[0]
            if masked_rows is not None and masked_rows(i):
                causes[idx] = Cause.of(Kind.MASKED, "P", (i, 0), None, token=i + 1)
            else:
                causes[idx] = Cause.of(Kind.CANCELLATION, over=Over.SOFTMAX_JACOBIAN)
        return causes

    causal = t.op == "causal_attention"
    cq = why(dQ, (lambda i: i == 0) if causal else None)  # token 1 sees itself only
    return (Up(dQ, fq, cq), Up(dK, fk, why(dK, None)), Up(dV, fv, why(dV, None)))


# convolution (valid padding, cross-correlation as deep-learning frameworks compute it)
def _conv_shape(t, shapes):
    x, w = shapes
    lx, lw = t.args
    stride = t.arg or 1
    if x == () or w == ():
        raise ExprError(f"{t.op}(x, w) takes a {'vector' if t.op == 'conv1d' else 'matrix'} x "
                        "and a kernel w", t.at, code="E234")
    if t.op == "conv1d":
        if x[1] != 1 or w[1] != 1:
            raise ExprError(f"conv1d(x, w) takes column vectors: {lx.text} is {said(x)}, "
                            f"{lw.text} is {said(w)}", t.at, code="E234")
        if w[0] > x[0]:
            raise ExprError(f"the kernel {lw.text} ({w[0]} entries) is longer than "
                            f"{lx.text} ({x[0]})", t.at, code="E234")
        return ((x[0] - w[0]) // stride + 1, 1)
    if w[0] > x[0] or w[1] > x[1]:
        raise ExprError(f"the kernel {lw.text} ({said(w)}) is larger than {lx.text} "
                        f"({said(x)})", t.at, code="E234")
    return ((x[0] - w[0]) // stride + 1, (x[1] - w[1]) // stride + 1)


def _windows(t, xs, ws):
    """output index → [(x index, w index)] it sums over."""
    stride = t.arg or 1
    (H, W), (kh, kw) = xs, ws
    oh, ow = (H - kh) // stride + 1, (W - kw) // stride + 1
    return {(i, j): [((i * stride + a, j * stride + b), (a, b)) for a in range(kh)
                     for b in range(kw)] for i in range(oh) for j in range(ow)}


def _conv_forward(t, args, env):
    x, w = args
    win = _windows(t, x.shape, w.shape)
    rows = max(i for i, _ in win) + 1
    cols = max(j for _, j in win) + 1
    return sp.Matrix(rows, cols, lambda i, j: sum((x[a] * w[b] for a, b in win[(i, j)]),
                                                  sp.Integer(0)))


def _conv_back(t, args, out, g, env):
    """∂w[b] = Σ_o G[o] x[o·s + b] (x correlated with G); ∂x[a] = Σ_o G[o] w[a − o·s]
    (G convolved with the flipped kernel, in full)."""
    x, w = args
    G = g.value
    win = _windows(t, x.shape, w.shape)
    dx, dw = sp.zeros(*x.shape), sp.zeros(*w.shape)
    for o, pairs in win.items():
        for a, b in pairs:
            dx[a] += G[o] * w[b]
            dw[b] += G[o] * x[a]
    lx, lw = t.args
    fw = op("call", operand(lx, x), g.formula, fn=t.op)
    fx = op("call", g.formula, op("call", operand(lw, w), fn="flip"), fn=f"{t.op}_full")
    cx, cw = {}, {}
    for idx, v in entries(dx):
        if _is_zero(v):
            used = [o for o, pairs in win.items() if any(a == idx for a, _ in pairs)]
            if not used:
                cx[idx] = Cause.of(Kind.UNUSED_ENTRY, _label(lx), idx, x.shape, used=t.text)
            elif all(_is_zero(G[o]) for o in used):
                cx[idx] = _upstream(g, used[0], G.shape, env.grad_name)
            else:
                cx[idx] = Cause.of(Kind.CANCELLATION, over=Over.TERMS, formula=Formula(fx))
    for idx, v in entries(dw):
        if _is_zero(v):
            if all(_is_zero(G[o]) for o in win):
                cw[idx] = Cause.of(Kind.ZERO_EVERYWHERE, _glabel(g, env))
            else:
                cw[idx] = Cause.of(Kind.CANCELLATION, over=Over.TERMS, formula=Formula(fw))
    return Up(dx, fx, cx), Up(dw, fw, cw)


# max pool, 2 × 2 windows, stride 2: the gradient goes to each window's winner only
def _pool_shape(t, shapes):
    (x,) = shapes
    if x == () or x[0] % 2 or x[1] % 2:
        raise ExprError(f"maxpool(x) takes 2×2 windows of a matrix with an even number of "
                        f"rows and columns: {t.args[0].text} is {said(x)}", t.at, code="E234")
    return (x[0] // 2, x[1] // 2)


def _pool_winners(x):
    """output index → (the window's entries, its winner: the first largest, row by row, as
    PyTorch picks it)."""
    out = {}
    for i in range(x.rows // 2):
        for j in range(x.cols // 2):
            window = [(2 * i + a, 2 * j + b) for a in range(2) for b in range(2)]
            best = window[0]
            for k in window[1:]:
                if _sign(x[k] - x[best]) > 0:
                    best = k
            out[(i, j)] = (window, best)
    return out


def _pool_forward(t, args, env):
    (x,) = args
    win = _pool_winners(x)
    return sp.Matrix(x.rows // 2, x.cols // 2, lambda i, j: x[win[(i, j)][1]])


def _pool_back(t, args, out, g, env):
    (x,) = args
    G = g.value
    dx = sp.zeros(*x.shape)
    causes = {}
    for o, (window, best) in _pool_winners(x).items():
        dx[best] = G[o]
        for k in window:
            if k != best:
                causes[k] = Cause.of(Kind.POOL_LOSER, _label(t.args[0]), k, x.shape,
                                     value=x[k], winner=_entry_text(_label(t.args[0]), best,
                                                                    x.shape), best=x[best])
            elif _is_zero(G[o]):
                causes[k] = _upstream(g, o, G.shape, env.grad_name)
    f = op("call", g.formula, fn="unpool_to_max")  # each window's G to its max
    return (Up(dx, f, causes),)


def _entry_text(name, idx, shape):
    i, j = idx
    return f"{name}[{i + 1},{j + 1}]"


# embedding: row ids[i] of the table C for each id
def _embedding_shape(t, shapes):
    c, ids = shapes
    lc, li = t.args
    if c == () or ids == () or ids[1] != 1:
        raise ExprError(f"embedding(C, ids) takes a table C (one row per token) and a column "
                        f"of ids: {lc.text} is {said(c)}, {li.text} is {said(ids)}", t.at,
                        code="E234")
    return (ids[0], c[1])


def _ids(t, C, ids):
    from tutor.errors import SolveError

    out = []
    for k in range(ids.rows):
        v = ids[k]
        if not (v.is_Integer and 0 <= v < C.rows):
            raise SolveError(f"{t.args[1].text}[{k + 1}] = {v} is not a row of {t.args[0].text} "
                             f"(0 to {C.rows - 1})")
        out.append(int(v))
    return out


def _embedding_forward(t, args, env):
    C, ids = args
    rows = _ids(t, C, ids)
    return sp.Matrix(len(rows), C.cols, lambda i, j: C[rows[i], j])


def _embedding_back(t, args, out, g, env):
    """∂C[v] = Σ of G's rows i with ids[i] = v (a row used twice gets both); ids: none."""
    C, ids = args
    rows = _ids(t, C, ids)
    dC = sp.zeros(*C.shape)
    for i, v in enumerate(rows):
        for j in range(C.cols):
            dC[v, j] += g.value[i, j]
    causes = {}
    for idx, x in entries(dC):
        if _is_zero(x):
            causes[idx] = (Cause.of(Kind.UNUSED_ENTRY, _label(t.args[0]), idx, C.shape,
                                    used=t.text) if idx[0] not in rows else
                           Cause.of(Kind.CANCELLATION, over=Over.TERMS,
                                    formula=Formula(g.formula)))
    f = op("call", g.formula, operand(t.args[1], ids), fn="scatter_add")
    return (Up(dC, f, causes), None)


def _onehot_shape(t, shapes):
    (ids,) = shapes
    if ids == () or ids[1] != 1:
        raise ExprError(f"onehot(ids, n) takes a column of class ids: {t.args[0].text} is "
                        f"{said(ids)}", t.at, code="E234")
    return (t.arg, ids[0])


def _onehot_forward(t, args, env):
    from tutor.errors import SolveError

    (ids,) = args
    n = t.arg
    for k in range(ids.rows):
        if not (ids[k].is_Integer and 0 <= ids[k] < n):
            raise SolveError(f"{t.args[0].text}[{k + 1}] = {ids[k]} is not a class 0 to {n - 1}")
    return sp.Matrix(n, ids.rows, lambda i, j: 1 if ids[j] == i else 0)


def _elementwise_shape(t, shapes):
    return shapes[0]


OPS: dict[str, TensorOp] = {
    "add": TensorOp(_broadcast_shape, lambda t, a, e: _map(lambda x, y: x + y, *a,
                    shape=_bshape(a)), _add_back),
    "sub": TensorOp(_broadcast_shape, lambda t, a, e: _map(lambda x, y: x - y, *a,
                    shape=_bshape(a)), _sub_back),
    "mul": TensorOp(_broadcast_shape, lambda t, a, e: _map(lambda x, y: x * y, *a,
                    shape=_bshape(a)), _mul_back),
    "div": TensorOp(_broadcast_shape, lambda t, a, e: _map(lambda x, y: x / y, *a,
                    shape=_bshape(a)), _div_back),
    "neg": TensorOp(_elementwise_shape, lambda t, a, e: -a[0], _neg_back),
    "pow": TensorOp(_pow_shape, lambda t, a, e: _map(
        lambda x: x ** sp.Rational(t.arg.numerator, t.arg.denominator), a[0],
        shape=shape_of(a[0])), _pow_back),
    "matmul": TensorOp(_matmul_shape, lambda t, a, e: a[0] * a[1], _matmul_back),
    "T": TensorOp(_t_shape, lambda t, a, e: a[0].T if shape_of(a[0]) else a[0], _t_back),
    "sum": TensorOp(_reduce_shape, _reduce_forward, _reduce_back),
    "mean": TensorOp(_reduce_shape, _reduce_forward, _reduce_back),
    "index": TensorOp(_index_shape, _index_forward, _index_back),
    "softmax": TensorOp(_vector_shape, _softmax_forward, _softmax_back),
    "log_softmax": TensorOp(_vector_shape, _log_softmax_forward, _log_softmax_back),
    "cross_entropy": TensorOp(_ce_shape, _ce_forward, _ce_back),
    "batchnorm": TensorOp(_bn_shape, _bn_forward, _bn_back),
    "layernorm": TensorOp(_bn_shape, _bn_forward, _bn_back),
    "attention": TensorOp(_attention_shape, _attention_forward, _attention_back),
    "causal_attention": TensorOp(_attention_shape, _attention_forward, _attention_back),
    "conv1d": TensorOp(_conv_shape, _conv_forward, _conv_back),
    "conv2d": TensorOp(_conv_shape, _conv_forward, _conv_back),
    "maxpool": TensorOp(_pool_shape, _pool_forward, _pool_back),
    "embedding": TensorOp(_embedding_shape, _embedding_forward, _embedding_back),
    "onehot": TensorOp(_onehot_shape, _onehot_forward, lambda t, a, o, g, e: (None,)),
    **{name: TensorOp(_elementwise_shape, _fn_forward, _fn_back)
       for name, (lo, _, _) in FUNCTIONS.items() if lo == 1},
}
CALL_OPS = ("sum", "mean", "softmax", "log_softmax", "cross_entropy", "batchnorm", "layernorm",
            "attention", "causal_attention", "conv1d", "conv2d", "maxpool", "embedding", "onehot")


def _bshape(args) -> Shape:
    a, b = (shape_of(x) for x in args)
    if a == ():
        return b
    if b == ():
        return a
    return (max(a[0], b[0]), max(a[1], b[1]))


# ─── the tree: shapes, forward, backward ──────────────────────────────────────────────
def infer(t: TExpr, shapes: Mapping[str, Shape], ops: Mapping[str, TensorOp] = OPS) -> Shape:
    """The shape of ``t`` given its names' shapes; an ExprError (E234, at the operation's
    offset) when an operation does not fit its arguments."""
    if t.op == "name":
        return shapes[t.arg]
    if t.op == "num":
        return ()
    s = ops[t.op].shape(t, tuple(infer(a, shapes, ops) for a in t.args))
    if s != () and s[0] * s[1] > MAX_ENTRIES:
        raise ExprError(f"{t.text} would have {s[0] * s[1]:,} entries (at most "
                        f"{MAX_ENTRIES:,})", t.at, code="E233")
    return s


def forward(t: TExpr, env_values: Mapping[str, Any], env: Env,
            ops: Mapping[str, TensorOp] = OPS, memo: dict | None = None) -> Any:
    """The value of ``t``; ``memo`` keeps each sub-tree's value (id → value) for backward."""
    memo = {} if memo is None else memo
    if t.op == "name":
        v = env_values[t.arg]
    elif t.op == "num":
        v = sp.Rational(t.arg.numerator, t.arg.denominator)
    else:
        args = tuple(forward(a, env_values, env, ops, memo) for a in t.args)
        v = _tamed(ops[t.op].forward(t, args, env))  # kept as a node's value
    memo[id(t)] = v
    return v


def backward(t: TExpr, g: Up, memo: dict, env: Env,
             ops: Mapping[str, TensorOp] = OPS) -> dict[str, list[Up]]:
    """name → the gradients that reach it from ``t`` (one per use), given G at the top."""
    out: dict[str, list[Up]] = {}
    stack = [(t, g)]
    while stack:
        node, up = stack.pop()
        if node.op == "name":
            out.setdefault(node.arg, []).append(up)
            continue
        if node.op == "num":
            continue
        args = tuple(memo[id(a)] for a in node.args)
        sent = ops[node.op].backward(node, args, memo[id(node)], up, env)
        for a, s in zip(node.args, sent):
            if s is not None:
                stack.append((a, Up(_tamed(s.value), s.formula, s.causes, s.scalar)))
    return out


def gathered(ups: list[Up]) -> tuple[Any, Any, dict]:
    """A name used more than once in a node: its shares add up."""
    if len(ups) == 1:
        u = ups[0]
        return u.value, u.formula, dict(u.causes)
    total = ups[0].value
    for u in ups[1:]:
        total = total + u.value
    causes = {}
    for idx, v in entries(total):
        if _is_zero(v):
            cs = [u.causes.get(idx) for u in ups]
            causes[idx] = (cs[0] if all(cs) and len(set(cs)) == 1 else
                           Cause.of(Kind.SEVERAL, parts=tuple(dict.fromkeys(cs)))
                           if all(cs) else Cause.of(Kind.CANCELLATION, over=Over.TERMS,
                                                    formula=Formula(op("add", *(u.formula for u in ups)))))
    return total, op("add", *(u.formula for u in ups)), causes


def formula_of(ups) -> Formula:
    return Formula(gathered(ups)[1])
