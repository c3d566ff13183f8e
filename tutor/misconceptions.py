"""Misconceptions: named buggy rules, each a swap of entries in the rules table (DESIGN.md §6).

A misconception m is RULES with one rule swapped for the rule a student actually uses:

    buggy = {**RULES, entry: buggy_rule}

At a step s (a quantity q with parents p₁…pₖ), the bug *explains* a wrong answer a when

    b = buggy rule at s, applied to the correct values of p₁…pₖ    (alone, from correct values)
    b ≉ truth(s)   and   a ≈ b                                       (≈: the exercise's tolerance)

or, failing that, the same with the parents' values recomputed from the student's own earlier
answers (one solve with the answers as overrides) in place of the correct ones (``from_own``).
A bug *applies* at a step only where its rule is used there in a form that can differ (a merge
of two or more paths, a batch of two or more, z = 0 exactly …); where it applies and gives the
true answer, the exercise cannot tell it from the truth (``indistinguishable``).

A whole sheet (``throughout``) is also tried against each bug made at every step, from the
given values — but held at the truth wherever the student wrote the truth and the bug gives
something else: a bug's effect starts at the steps its rule produces (its home) and flows
downstream, so a right answer at the home rules the bug out below it.

Values of the buggy rules are cached per Worked exercise, lazily, one (variant, step) at a time.
"""
from __future__ import annotations

from contextvars import ContextVar

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

import sympy as sp

from tutor import rules as R
from tutor import tensors as T
from tutor.formula import Formula
from tutor.functions import leaky_step, relu_step, resolve_steps, sign
from tutor.limits import Trouble
from tutor.rules import ACTIVATIONS, LOSSES, RULES, Ctx


@dataclass(frozen=True)
class Misconception:
    """A named buggy rule. ``correct``, ``buggy`` and ``hint`` are templates: ``{v}`` is the
    step's own node, ``{L}`` the loss, and ``hint`` may use the names of ``names()`` too."""

    id: str  # "no-relu-mask": used in answer-note codes "delta2.no-relu-mask"
    name: str  # "no ReLU mask"
    description: str  # one line (a template too: "even where {z} ≤ 0")
    correct: str  # the correct rule
    buggy: str  # the buggy rule
    skill: str  # a key of tutor.words.SKILLS
    hint: str = ""  # one line aimed at this bug: the first hint after it was diagnosed
    # more general misconceptions this one is a special case of: when both give the
    # student's number at a step, only this one is named (forgetting the penalty path *is*
    # keeping one consumer of a merge, but the more specific name says which one)
    subsumes: tuple[str, ...] = ()



@dataclass(frozen=True)
class Diagnosis:
    misconception: Misconception
    step_id: str
    buggy_value: Any  # what the bug gives at this step
    from_own: bool  # reproduced from the student's own earlier answers
    correct_value: Any = None  # what the correct rule gives from the same inputs
    throughout: bool = False  # found by ``throughout``: the bug made at every step



# ─── the probe: which buggy rules were used, and for which parent ─────────────────────
_HITS: ContextVar[list | None] = ContextVar("buggy_rule_hits", default=None)


def _hit(parent: str | None = None) -> None:
    """Called by a buggy rule when it runs (for ``parent``, or for every parent): the probe
    of one ``local`` call, which tells whether the bug applies to the quantity asked."""
    hits = _HITS.get()
    if hits is not None:
        hits.append(parent)


def _col(ctx: Ctx) -> bool:
    return ctx.graph.layout == "column"


# ─── buggy rules ──────────────────────────────────────────────────────────────────────
# Where a bug cannot be made (W δ with W not square, no learning rate …) the rule is the
# correct one and does not count as applied: solve(graph, buggy_rules(m)) always works.
def _only(k: int) -> Callable:
    def accumulate(terms):
        if len(terms) > 1:
            _hit()
        return terms[k].value
    accumulate.one_term_is_the_sum = True  # with one term it gives what accumulate gives
    return accumulate


def _dW_swapped(ctx, g):  # x gᵀ for g xᵀ
    W, x, b = ctx.args
    if min(W.shape) > 1:  # a vector's transpose is the same answer: no mistake to see
        _hit(ctx.node.parents[0])
    return x * g.T if _col(ctx) else g.T * x


def _dW_own_output(ctx, g):  # δ hℓᵀ: the layer's own output instead of its input
    consumers = ctx.graph.consumers(ctx.node.name)
    if not consumers:
        return R.affine_dW(ctx, g)
    h = ctx.values[consumers[0]]
    _hit(ctx.node.parents[0])
    return g * h.T if _col(ctx) else h.T * g


def _dx_no_transpose(ctx, g):  # W δ for Wᵀ δ
    W = ctx.args[0]
    if W.rows != W.cols:  # W δ is not even defined: the student cannot make this mistake
        return R.affine_dx(ctx, g)
    if W.rows > 1:
        _hit(ctx.node.parents[1])
    return W * g if _col(ctx) else g * W


def _dx_updated(ctx, g):  # (W − η δ xᵀ)ᵀ δ: pass-back after the update
    lr = ctx.graph.learning_rate
    if lr is None:
        return R.affine_dx(ctx, g)
    W = ctx.args[0] - lr * R.affine_dW(ctx, g)
    _hit(ctx.node.parents[1])
    return W.T * g if _col(ctx) else g * W.T


def _db_unsummed(ctx, g):
    if (g.cols if _col(ctx) else g.rows) < 2:
        return R.affine_db(ctx, g)
    _hit(ctx.node.parents[2])
    return g


def _db_first(ctx, g):
    if (g.cols if _col(ctx) else g.rows) < 2:
        return R.affine_db(ctx, g)
    _hit(ctx.node.parents[2])
    return g[:, 0] if _col(ctx) else g[0, :]


def _d_no_mask(z, h, ctx):
    _hit()
    return sp.Integer(1)


def _d_zero_is_one(original):
    def d(z, h, ctx):
        if sign(z) == 0 and ctx.graph.relu_prime_at_zero != 1:
            _hit()
            return sp.Integer(1)
        return original(z, h, ctx)
    return d


def _d_at(fn: str, variant: str):
    """φ′ evaluated at the activation h (``at_h``), or the cached form h(1−h) fed z (``z_form``)."""
    def d(z, h, ctx):
        _hit()
        if fn == "sigmoid":
            s = R.sigmoid(h) if variant == "at_h" else z
            return s * (1 - s)
        return 1 - (sp.tanh(h) if variant == "at_h" else z) ** 2
    return d


# ─── buggy tensor operations (tutor.tensors): one TensorOp's backward replaced ────────
def _top(name: str, backward) -> Any:
    return replace(R.TENSOR_OPS[name], backward=backward)


def _hit_arg(t, *k: int) -> None:
    """The bug applies to the operation's argument(s) ``k``: to that graph name when the
    argument is one (W of W @ x), else to every parent of the node."""
    for i in k:
        a = t.args[i]
        _hit(a.arg if a.op == "name" else None)


def _t_no_mask(t, args, out, g, env):  # ∂a = G: the ReLU mask left out
    (a,) = args
    if any(sign(v) <= 0 for _, v in T.entries(a)):
        _hit_arg(t, 0)
    return (T.Up(g.value, g.formula, g.causes, g.scalar),)


def _t_zero_is_one(t, args, out, g, env):  # ReLU′(0) = 1 against the convention
    (a,) = args
    if env.relu_prime_at_zero != 1 and any(sign(v) == 0 for _, v in T.entries(a)):
        _hit_arg(t, 0)
    return R.TENSOR_OPS[t.op].backward(t, args, out, g, replace(env, relu_prime_at_zero=1))


def _t_at_activation(variant: str):
    """σ′/tanh′ at the output h (``at_h``), or h(1 − h) fed z (``z_form``)."""
    def backward(t, args, out, g, env):
        (a,) = args
        _hit_arg(t, 0)
        s = T.shape_of(a)

        def d(z, h):
            if t.op == "sigmoid":
                v = R.sigmoid(h) if variant == "at_h" else z
                return v * (1 - v)
            return 1 - (sp.tanh(h) if variant == "at_h" else z) ** 2

        local = T._map(d, a, out, shape=s)
        return (T.Up(T._map(lambda x, y: x * y, g.value, local, shape=s), g.formula),)
    return backward


def _t_matmul(which: str):
    """``no_transpose``: ∂B = A G (for Aᵀ G); ``outer``: ∂A = B Gᵀ (for G Bᵀ). Only where the
    shapes let a student write it (A square; ∂A's shape)."""
    def backward(t, args, out, g, env):
        right = R.TENSOR_OPS["matmul"].backward(t, args, out, g, env)
        A, B = args
        G = g.value
        if which == "no_transpose" and A.rows == A.cols > 1:
            _hit_arg(t, 1)
            return right[0], T.Up(A * G, g.formula)
        if which == "outer" and (B * G.T).shape == A.shape and min(A.shape) > 1:
            _hit_arg(t, 0)
            return T.Up(B * G.T, g.formula), right[1]
        return right
    return backward


def _t_first_column(t, args, out, g, env):  # a bias broadcast over the batch: one example's
    right = R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
    gs = T.shape_of(g.value)
    fixed = []
    for k, (arg, r) in enumerate(zip(args, right)):
        s = T.shape_of(arg)
        if s and gs and s[1] == 1 and gs[1] > 1 and s[0] == gs[0]:
            _hit_arg(t, k)
            sign_ = -1 if t.op == "sub" and arg is args[1] else 1
            fixed.append(T.Up(sign_ * g.value[:, 0], r.formula))
        else:
            fixed.append(r)
    return tuple(fixed)


def _summed(v, axis: int, like: tuple):
    """``v`` summed along ``axis`` (0: down each column, 1 × cols; 1: along each row, rows × 1),
    written in the shape ``like`` when it has as many entries (a vector either way round)."""
    if axis == 0:
        out = sp.Matrix(1, v.cols, lambda i, j: sum((v[k, j] for k in range(v.rows)), sp.Integer(0)))
    else:
        out = sp.Matrix(v.rows, 1, lambda i, j: sum((v[i, k] for k in range(v.cols)), sp.Integer(0)))
    if like and out.shape != tuple(like) and len(out) == like[0] * like[1]:
        out = out.reshape(*like)
    return out


def _db_wrong_axis(ctx, g):  # δ summed over the units (one entry per example), not the batch
    if g.rows < 2 or g.cols < 2:  # one unit or one example: there is no other axis to pick
        return R.affine_db(ctx, g)
    _hit(ctx.node.parents[2])
    return _summed(g, 0 if _col(ctx) else 1, ctx.args[2].shape)


def _repeated(s: tuple, so: tuple) -> tuple[int, ...] | None:
    """The axes along which a value of shape ``s`` was repeated to ``so`` by a broadcast
    (1: a column repeated along each row, 0: a row repeated down each column); None for a
    number or a value that was not broadcast."""
    if not s or not so or s == so:
        return None
    return tuple(k for k in range(2) if s[k] == 1 and so[k] > 1) or None


def _t_broadcast(mode: str):
    """The backward of ``+ − * /`` with a broadcast argument's gradient not summed back
    (``unsummed``: its gradient at the broadcast shape, one column per example) or summed
    along the other axis (``wrong_axis``: a column bias's gradient summed down each column,
    one entry per example, instead of along each row). The arguments broadcast to the
    output's shape first, so the correct rule itself gives the gradient before its sum."""
    def backward(t, args, out, g, env):
        right = R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
        so, wide, fixed = T.shape_of(out), None, list(right)
        for k, a in enumerate(args):
            s = T.shape_of(a)
            axes = _repeated(s, so)
            if axes is None or right[k] is None:
                continue
            if mode == "wrong_axis" and (len(axes) != 1 or so[1 - axes[0]] < 2):
                continue  # repeated both ways, or the other axis has one entry: no other sum
            if wide is None:
                full = tuple(T.full(x, so) if T.shape_of(x) else x for x in args)
                wide = R.TENSOR_OPS[t.op].backward(t, full, out, g, env)
            v = wide[k].value
            if mode == "wrong_axis":
                v = _summed(v, 1 - axes[0], s)
                if all(R.is_zero(x) for x in v):  # softmax + CE: each column sums to 0, and
                    continue                       # a 0 is no evidence (Numbas #368)
            _hit_arg(t, k)
            fixed[k] = T.Up(v, right[k].formula)
        return tuple(fixed)
    return backward


def _t_reduce_wrong_axis(t, args, out, g, env):
    """sum(a, axis=k) or mean(a, axis=k) sent back as if it ran along the other axis: G
    spread along the other axis (where a is square: otherwise G's shape only fits the right
    way) and, for a mean, divided by the other axis's length."""
    right = R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
    (a,) = args
    s = T.shape_of(a)
    if t.arg is None or not s or right[0] is None:
        return right
    k, flat = t.arg, list(g.value) if isinstance(g.value, sp.MatrixBase) else [g.value]
    if s[0] == s[1] and len(flat) == s[0]:
        spread = sp.Matrix(s[0], s[1], lambda i, j: flat[i] if k == 0 else flat[j])
    else:
        spread = T.full(g.value, s)
    v = spread / s[1 - k] if t.op == "mean" else spread
    if v == right[0].value:  # the shape leaves no room for the slip
        return right
    _hit_arg(t, 0)
    return (T.Up(v, right[0].formula),)


def _t_softmax_diagonal(t, args, out, g, env):  # ∂z = G ⊙ s(1 − s): the Jacobian's diagonal
    _hit_arg(t, 0)
    s = out
    return (T.Up(T._map(lambda x, p: x * p * (1 - p), g.value, s, shape=T.shape_of(s)),
                 g.formula),)


def _t_pool_spread(share: int):
    def backward(t, args, out, g, env):  # every entry of a window gets its G (or G/4)
        (x,) = args
        _hit_arg(t, 0)
        G = g.value
        return (T.Up(sp.Matrix(x.rows, x.cols, lambda i, j: G[i // 2, j // 2] / share),
                     g.formula),)
    return backward


def _t_attention_no_scale(t, args, out, g, env):  # ∂Q = ∂S K, ∂K = ∂Sᵀ Q: no 1/√d
    right = R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
    d = args[0].cols
    if d == 1:
        return right
    _hit_arg(t, 0, 1)
    root = sp.sqrt(d)
    return (T.Up(right[0].value * root, right[0].formula),
            T.Up(right[1].value * root, right[1].formula), right[2])


def _t_conv_no_flip(t, args, out, g, env):  # ∂x = G convolved with w itself, not flipped
    x, w = args
    flipped = sp.Matrix(w.rows, w.cols, lambda i, j: w[w.rows - 1 - i, w.cols - 1 - j])
    if flipped == w:
        return R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
    _hit_arg(t, 0)
    right = R.TENSOR_OPS[t.op].backward(t, (x, flipped), out, g, env)
    return right[0], R.TENSOR_OPS[t.op].backward(t, args, out, g, env)[1]


def _t_norm_no_stats(t, args, out, g, env):  # ∂x = G ⊙ γ / σ: the paths through μ, σ² left out
    right = R.TENSOR_OPS[t.op].backward(t, args, out, g, env)
    x, gamma, beta, eps = args
    _, istd, lines = T._bn_parts(x, eps, T._norm_axis(t))
    gm = T.full(gamma, x.shape)
    dx = sp.zeros(x.rows, x.cols)
    for r, line in zip(istd, lines):
        for k in line:
            dx[k] = g.value[k] * gm[k] * r
    _hit_arg(t, 0)
    return (T.Up(dx, right[0].formula),) + tuple(right[1:])


def _act(name: str, d) -> R.Activation:
    return replace(ACTIVATIONS[name], d=d)


def _is_regulariser(graph, name: str) -> bool:
    """An expression node fed by parameters but by no data input: a penalty such as λ/2‖θ‖²."""
    if not graph.inputs or name == graph.loss:
        return False
    seen, todo, params = set(), [name], False
    while todo:
        n = todo.pop()
        for p in graph.nodes[n].parents:
            if p in graph.inputs:
                return False
            params |= p in graph.params
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return params


def _partial(transform: Callable) -> Callable:
    """An ``expr:partial`` that changes the local partial where ``transform`` says so."""
    def partial(ctx, p, sub):
        local_sym, local = R.expr_partial(ctx, p, sub)
        changed = transform(ctx, p, sub, local_sym)
        if changed is None:
            return local_sym, local
        _hit(p)
        return local_sym, changed
    return partial


def _expr_no_mask(ctx, p, sub, local_sym):
    if not local_sym.has(relu_step, leaky_step):
        return None
    bare = local_sym.replace(relu_step, lambda z: sp.Integer(1)).replace(
        leaky_step, lambda z, a: sp.Integer(1))
    return bare.xreplace(sub)


def _expr_zero_is_one(ctx, p, sub, local_sym):
    if ctx.graph.relu_prime_at_zero == 1:
        return None
    at = local_sym.xreplace(sub)
    if not any(not a.args[0].free_symbols for a in at.atoms(relu_step, leaky_step)):
        return None  # relu_step evaluates itself away from 0: only z = 0 exactly is open
    return resolve_steps(at, 1)  # (in symbols, z is never 0 exactly: the bug does not apply)


def _expr_at_activation(variant: str):
    def transform(ctx, p, sub, local_sym):
        e = ctx.node.attrs["expr"]
        if not (isinstance(e, (R.sigmoid, sp.tanh)) and e.args[0] == sp.Symbol(p)):
            return None
        z = sub[sp.Symbol(p)]
        s = ctx.out if variant == "at_h" else z
        if isinstance(e, R.sigmoid):
            s = R.sigmoid(s) if variant == "at_h" else s
            return s * (1 - s)
        return 1 - (sp.tanh(s) if variant == "at_h" else s) ** 2
    return transform


def _expr_no_reg(ctx, p, sub, local_sym):
    return sp.Integer(0) if _is_regulariser(ctx.graph, ctx.node.name) else None


def _flip_grad(loss: R.Loss) -> R.Loss:
    def grad(p, y, n):
        _hit()
        return -loss.grad(p, y, n)
    return replace(loss, grad=grad)


def _flip_logit(p, y, n):
    _hit()
    return (y - p) / n


def _sigmoid_again(p, y, n):
    _hit()
    return (p - y).multiply_elementwise(p.applyfunc(lambda e: e * (1 - e))) / n


def _mse_no_mean(loss: R.Loss) -> R.Loss:
    def n(p, col):
        if p.rows * p.cols > 1:
            _hit()
        return 1
    return replace(loss, n=n)


def _no_two(loss: R.Loss) -> R.Loss:
    def grad(p, y, n):
        _hit()
        return loss.grad(p, y, n) / 2
    return replace(loss, grad=grad)


def _sgd_plus(theta, grad, lr):
    _hit()
    return theta + lr * grad


# ─── the catalogue ────────────────────────────────────────────────────────────────────
# id → (Misconception, variants); a variant is the swap {entry: buggy rule} of RULES.
_ENTRIES: list[tuple[Misconception, tuple[dict, ...]]] = [
    (Misconception("no-regularisation", "forgot the regularisation path",
                   "the penalty's gradient is left out of the parameter's gradient",
                   "∂{L}/∂{v} = (data path) + (regularisation path)",
                   "∂{L}/∂{v} = (data path) only", "param_grad",
                   "{v} reaches {L} twice, through the data and through the penalty: add the "
                   "penalty's own derivative to the data path's gradient",
                   subsumes=("no-sum-at-merge",)),
     ({"expr:partial": _partial(_expr_no_reg)},)),
    (Misconception("no-sum-at-merge", "forgot to sum at a merge",
                   "a quantity used twice gets the gradient of one path only",
                   "∂{L}/∂{v} = Σ over {v}'s consumers of their contributions",
                   "∂{L}/∂{v} = the contribution of one consumer", "chain_rule",
                   "{v} feeds {consumers}: add one term per consumer, ∂{L}/∂{v} = {terms}"),
     ({"accumulate": _only(0)}, {"accumulate": _only(-1)})),
    (Misconception("outer-product-order", "x gᵀ for g xᵀ",
                   "the weight gradient's outer product is taken the wrong way round",
                   "∂L/∂W = δ xᵀ (row layout: xᵀ δ)", "∂L/∂W = x δᵀ (row layout: δᵀ x)",
                   "weight_grad",
                   "∂{L}/∂{v} has the shape of {v}: entry [i, j] is {outer}"),
     ({"affine:dW": _dW_swapped, "tensor:matmul": _top("matmul", _t_matmul("outer"))},)),
    (Misconception("no-transpose-pass-back", "W δ for Wᵀ δ",
                   "the gradient is passed back through W without transposing it",
                   "∂L/∂h = Wᵀ δ (row layout: δ Wᵀ)", "∂L/∂h = W δ (row layout: δ W)",
                   "pass_back",
                   "entry j of ∂{L}/∂{v} gathers what {v}[j] fed: {passback}"),
     ({"affine:dx": _dx_no_transpose,
       "tensor:matmul": _top("matmul", _t_matmul("no_transpose"))},)),
    (Misconception("phi-prime-at-activation", "φ′ at the activation, not the pre-activation",
                   "the activation's derivative is evaluated at h = φ(z) instead of at z",
                   "δ = ∂L/∂h ⊙ φ′(z), e.g. σ′(z) = h(1 − h)",
                   "δ = ∂L/∂h ⊙ φ′(h) (or h(1 − h) with z put for h)",
                   "activation_derivative",
                   "φ′ is taken at the pre-activation {z}, not at {h} = φ({z}); for σ and "
                   "tanh it is easiest from {h} itself: σ′ = {h}(1 − {h}), tanh′ = 1 − {h}²"),
     tuple({"sigmoid": _act("sigmoid", _d_at("sigmoid", v)), "tanh": _act("tanh", _d_at("tanh", v)),
            "expr:partial": _partial(_expr_at_activation(v)),
            "tensor:sigmoid": _top("sigmoid", _t_at_activation(v)),
            "tensor:tanh": _top("tanh", _t_at_activation(v))} for v in ("at_h", "z_form"))),
    (Misconception("no-relu-mask", "no ReLU mask",
                   "the gradient goes through ReLU unmasked, even where {z} ≤ 0",
                   "{mask_correct}", "{mask_buggy}", "activation_derivative",
                   "{mask}{mask_hint}"),
     ({"relu": _act("relu", _d_no_mask), "leaky_relu": _act("leaky_relu", _d_no_mask),
       "expr:partial": _partial(_expr_no_mask), "tensor:relu": _top("relu", _t_no_mask),
       "tensor:leaky_relu": _top("leaky_relu", _t_no_mask)},)),
    (Misconception("relu-prime-zero-one", "ReLU′(0) = 1",
                   "at z = 0 exactly, ReLU′ is taken as 1 against the exercise's convention",
                   "ReLU′(0) = the exercise's convention (0 unless it says otherwise)",
                   "ReLU′(0) = 1", "activation_derivative",
                   "{mask}where {z} = 0 exactly, this exercise takes ReLU′(0) = {conv}"),
     ({"relu": _act("relu", _d_zero_is_one(ACTIVATIONS["relu"].d)),
       "leaky_relu": _act("leaky_relu", _d_zero_is_one(ACTIVATIONS["leaky_relu"].d)),
       "expr:partial": _partial(_expr_zero_is_one),
       "tensor:relu": _top("relu", _t_zero_is_one),
       "tensor:leaky_relu": _top("leaky_relu", _t_zero_is_one)},)),
    (Misconception("sigmoid-prime-after-bce", "σ′ applied again after BCE's ŷ − y",
                   "BCE + sigmoid already gives ∂L/∂z = ŷ − y; σ′(z) is multiplied in again",
                   "δ = (ŷ − y)/n", "δ = (ŷ − y) ⊙ ŷ(1 − ŷ)/n", "loss_gradient",
                   "with a sigmoid output and BCE, {dv} = (ŷ − y)/n already contains σ′: "
                   "do not multiply by ŷ(1 − ŷ) again"),
     ({"logit_grad:bce": _sigmoid_again},)),
    (Misconception("loss-sign-flip", "sign flip (y − ŷ)",
                   "the loss gradient has the wrong sign: y − ŷ instead of ŷ − y",
                   "∂L/∂ŷ ∝ ŷ − y", "∂L/∂ŷ ∝ y − ŷ", "loss_gradient",
                   "check the sign: a prediction above its target must get a positive "
                   "gradient (ŷ − y, not y − ŷ)"),
     ({**{"loss:" + k: _flip_grad(v) for k, v in LOSSES.items() if v.grad is not None},
       "logit_grad:bce": _flip_logit, "logit_grad:ce": _flip_logit},)),
    (Misconception("mse-no-mean", "MSE without the 1/n",
                   "the mean squared error is summed, not averaged over its n entries",
                   "L = Σ(ŷ − y)²/n, ∂L/∂ŷ = 2(ŷ − y)/n", "L = Σ(ŷ − y)², ∂L/∂ŷ = 2(ŷ − y)",
                   "loss_gradient",
                   "MSE is a mean: divide by the number of entries averaged, n = {n}"),
     ({"loss:mse": _mse_no_mean(LOSSES["mse"])},)),
    (Misconception("mse-no-two", "MSE gradient without the 2",
                   "the factor 2 from d(e²)/de = 2e is dropped",
                   "∂L/∂ŷ = 2(ŷ − y)/n", "∂L/∂ŷ = (ŷ − y)/n", "loss_gradient",
                   "d(e²)/de = 2e: keep the factor 2"),
     ({"loss:mse": _no_two(LOSSES["mse"]), "loss:sse": _no_two(LOSSES["sse"])},)),
    (Misconception("bias-no-batch-sum", "no batch sum for the bias",
                   "the bias gradient is not summed over the examples of the batch",
                   "∂L/∂b = Σ over the batch of δ", "∂L/∂b = δ (unsummed, or one example's)",
                   "bias_grad",
                   "{v} is shared by every example of the batch: sum {dz} over the batch{batch_axis}"),
     ({"affine:db": _db_unsummed, **{"tensor:" + o: _top(o, _t_broadcast("unsummed"))
                                     for o in ("add", "sub", "mul", "div")}},
      {"affine:db": _db_first, "tensor:add": _top("add", _t_first_column),
       "tensor:sub": _top("sub", _t_first_column)})),
    (Misconception("broadcast-sum-wrong-axis", "summed over the wrong axis",
                   "{axis_desc}", "{axis_correct}", "{axis_buggy}", "bias_grad", "{axis_hint}"),
     ({"affine:db": _db_wrong_axis,
       **{"tensor:" + o: _top(o, _t_broadcast("wrong_axis")) for o in ("add", "sub", "mul", "div")},
       "tensor:sum": _top("sum", _t_reduce_wrong_axis),
       "tensor:mean": _top("mean", _t_reduce_wrong_axis)},)),
    (Misconception("update-plus-eta", "+η in the update",
                   "the update climbs the gradient instead of descending it",
                   "{v}′ = {v} − η ∂{L}/∂{v}", "{v}′ = {v} + η ∂{L}/∂{v}", "update",
                   "gradient descent steps against the gradient: {v}′ = {v} − η·∂{L}/∂{v}"),
     ({"sgd": _sgd_plus},)),
    (Misconception("pass-back-updated-weights", "pass-back with already-updated weights",
                   "the gradient is passed back through W after W was updated",
                   "∂L/∂h = Wᵀ δ with the weights of the forward pass",
                   "∂L/∂h = (W − η δ xᵀ)ᵀ δ", "pass_back",
                   "pass back through {W} as it was in the forward pass, not the updated {W}′"),
     ({"affine:dx": _dx_updated},)),
    (Misconception("weight-grad-wrong-activation", "weight gradient with the wrong layer's activation",
                   "the outer product uses the layer's own output h instead of its input",
                   "∂L/∂Wℓ = δℓ hℓ₋₁ᵀ (the layer's input)", "∂L/∂Wℓ = δℓ hℓᵀ (its output)",
                   "weight_grad",
                   "∂{L}/∂{v} multiplies {dz} by the layer's input {x}, not by its output"),
     ({"affine:dW": _dW_own_output},)),
    # the modules of tensor graphs (tutor.tensors)
    (Misconception("softmax-diagonal-jacobian", "softmax Jacobian diagonal only",
                   "softmax's gradient takes only the diagonal of its Jacobian, s(1 − s), and "
                   "leaves out how each score moves the others",
                   "∂z = s ⊙ (G − Σ G ⊙ s) (J = diag(s) − s sᵀ)",
                   "∂z = G ⊙ s ⊙ (1 − s) (the diagonal of J only)", "chain_rule",
                   "every score of a softmax moves every output: ∂{L}/∂z = s ⊙ (G − Σ G ⊙ s), "
                   "not G ⊙ s(1 − s)"),
     ({"tensor:softmax": _top("softmax", _t_softmax_diagonal)},)),
    (Misconception("maxpool-spread", "max-pool gradient spread to every entry",
                   "the max pool's gradient is given to every entry of its window, not to the "
                   "window's max only",
                   "∂x = G at each window's max, 0 elsewhere",
                   "∂x = G (or G/4) at every entry of the window", "chain_rule",
                   "only the largest entry of each 2×2 window reached the output: the other "
                   "three get 0"),
     ({"tensor:maxpool": _top("maxpool", _t_pool_spread(1))},
      {"tensor:maxpool": _top("maxpool", _t_pool_spread(4))})),
    (Misconception("attention-no-scale", "attention backward without the 1/√d",
                   "the scores' scale 1/√d is left out of the backward pass to Q and K",
                   "∂Q = ∂S K / √d, ∂K = ∂Sᵀ Q / √d", "∂Q = ∂S K, ∂K = ∂Sᵀ Q", "chain_rule",
                   "S = Q Kᵀ/√d: the 1/√d multiplies the gradients of Q and K too"),
     ({"tensor:attention": _top("attention", _t_attention_no_scale),
       "tensor:causal_attention": _top("causal_attention", _t_attention_no_scale)},)),
    (Misconception("conv-no-flip", "convolution backward without flipping the kernel",
                   "∂x of a convolution is computed with the kernel as it is, not flipped",
                   "∂x = G convolved in full with the flipped kernel",
                   "∂x = G convolved with the kernel unflipped", "chain_rule",
                   "x[a] met w[a − i] in output i: ∂x[a] = Σᵢ G[i] w[a − i], the kernel read "
                   "backwards"),
     ({"tensor:conv1d": _top("conv1d", _t_conv_no_flip),
       "tensor:conv2d": _top("conv2d", _t_conv_no_flip)},)),
    (Misconception("batchnorm-no-stat-paths", "batch norm without the paths through μ and σ²",
                   "∂x of a normalisation keeps only the direct path, G ⊙ γ/σ, and drops x's "
                   "paths through the mean and the variance",
                   "∂x = (γ/(Bσ)) (B ∂x̂ − Σ ∂x̂ − x̂ Σ ∂x̂ ⊙ x̂)", "∂x = G ⊙ γ / σ", "chain_rule",
                   "x reaches the output three ways — directly, through μ and through σ²: add "
                   "all three"),
     ({"tensor:batchnorm": _top("batchnorm", _t_norm_no_stats),
       "tensor:layernorm": _top("layernorm", _t_norm_no_stats)},)),
]
CATALOGUE: dict[str, Misconception] = {m.id: m for m, _ in _ENTRIES}
_TABLES: dict[str, tuple[Mapping[str, Any], ...]] = {
    m.id: tuple({**RULES, **swap} for swap in swaps) for m, swaps in _ENTRIES}
_SWAPPED: dict[str, frozenset] = {
    m.id: frozenset(k for swap in swaps for k in swap) for m, swaps in _ENTRIES}
_AFFINE_PART = ("affine:dW", "affine:dx", "affine:db")  # by parent position: W, x, b


def _entries_used(graph, key) -> set[str]:
    """The rules-table entries the solver looks up to compute the quantity at ``key``."""
    it, kind, name = key
    if kind == "new":
        return {"sgd"}
    if kind == "value":
        node = graph.nodes[name]
        if node.op == "tensor":
            return {node.op} | {"tensor:" + o for o in node.attrs["tree"].ops()}
        return {node.op, "loss:" + node.attrs["fn"]} if node.op == "loss" else {node.op}
    used = {"accumulate"}
    for c in graph.consumers(name):
        node = graph.nodes[c]
        used.add(node.op)
        if node.op == "affine":
            used.update(_AFFINE_PART[i] for i, p in enumerate(node.parents) if p == name)
        elif node.op == "act":
            used.add(node.attrs["fn"])
        elif node.op == "loss":
            used.update({"loss:" + node.attrs["fn"], "logit_grad:" + node.attrs["fn"]})
        elif node.op == "expr":
            used.add("expr:partial")
        elif node.op == "tensor":
            used.update("tensor:" + o for o in node.attrs["tree"].ops())
    return used


# ─── one step, locally ────────────────────────────────────────────────────────────────
def local(graph, rules: Mapping[str, Any], key, q: Mapping) -> tuple[Any, bool]:
    """(value at ``key`` under ``rules`` from the parents' values in ``q``, applies?).

    Exactly what the solver does at that one quantity: forward rule, or the consumers'
    backward terms summed by ``accumulate``, or ``sgd``. ``q``: Solution.quantities.
    """
    it, kind, name = key
    values = {n: q[(it, "value", n)].value for n in graph.nodes if (it, "value", n) in q}

    def ctx(node, out=None):
        return Ctx(node, tuple(values[p] for p in node.parents), out, graph, rules, values, {})

    hits: list = []
    token = _HITS.set(hits)
    try:
        if kind == "value":
            node = graph.nodes[name]
            if node.is_leaf:
                return None, False
            out = R.evaluate(node, values, graph, rules)
        elif kind == "new":
            if (it, "grad", name) not in q or graph.learning_rate is None:
                return None, False
            out = rules["sgd"](values[name], q[(it, "grad", name)].value, graph.learning_rate)
        else:
            if name == graph.loss:
                return None, False
            terms = []
            for c in reversed(graph.consumers(name)):
                if (it, "grad", c) not in q:
                    continue
                node, g = graph.nodes[c], q[(it, "grad", c)].value
                if node.op == "affine":  # only the one output asked for, without zero causes
                    c_ctx = ctx(node, values[c])
                    terms += [R.Term(rules[_AFFINE_PART[i]](c_ctx, g), Formula())
                              for i, p in enumerate(node.parents) if p == name]
                    continue
                sent = rules[node.op].backward(ctx(node, values[c]), g)
                terms += [t for p, t in zip(node.parents, sent) if p == name and t is not None]
            if not terms:
                return None, False
            out = rules["accumulate"](terms)
    except (sp.ShapeError, ValueError, TypeError, IndexError, ZeroDivisionError, Trouble):
        return None, False  # the student's values leave the rule's domain (ŷ = 0 in BCE)
    finally:
        _HITS.reset(token)
    applies = any(h is None or h == name for h in hits)
    return out, applies


# ─── comparing answers ────────────────────────────────────────────────────────────────
def _flat(v: Any) -> tuple[tuple | None, list]:
    if isinstance(v, sp.MatrixBase):
        return v.shape, list(v)
    return None, [v]


def same(tol, a: Any, b: Any) -> bool:
    """a ≈ b within tolerance, as the grader compares (vectors either way round)."""
    if isinstance(a, tuple):  # an answer parsed but not yet shaped
        from tutor.compare import coerce

        a, err = coerce(a, b)
        if a is None:
            return False
    sa, ea = _flat(a)
    sb, eb = _flat(b)
    if len(ea) != len(eb):
        return False
    if sa != sb and sa is not None and sb is not None and not (1 in sa and 1 in sb):
        return False  # two matrices of different shapes (vectors may go either way round)
    try:
        return all(tol.entry_ok(sp.sympify(x, strict=True), sp.sympify(y, strict=True)) for x, y in zip(ea, eb))
    except (TypeError, ValueError):
        return False


def _trivial(tol, v: Any) -> bool:
    """All entries zero within tolerance (tutor.compare.is_trivial: the Numbas #368 guard)."""
    from tutor.compare import is_trivial

    return is_trivial(v, tol)


def _blurred(tol, v: Any) -> bool:
    """Within tolerance of zero without being zero (σ′ of a saturated sigmoid: -4.5e-5): a
    plain 0 from the student matches it, which is no evidence of the bug."""
    return _trivial(tol, v) and not all(R.is_zero(x) for x in _flat(v)[1])


# ─── the cache, per Worked ────────────────────────────────────────────────────────────
def _cache(worked) -> dict:
    return worked.cache.setdefault("misconceptions", {})


def _from_correct(worked, mid: str, key) -> list[tuple[Any, bool]]:
    store = _cache(worked)
    if (mid, key) not in store:
        q = worked.solution.quantities
        if "used" not in store:
            store["used"] = {}
        used = store["used"].get(key)
        if used is None:
            used = store["used"][key] = _entries_used(worked.graph, key)
        store[(mid, key)] = ([local(worked.graph, t, key, q) for t in _TABLES[mid]]
                             if used & _SWAPPED[mid] else [])
    return store[(mid, key)]


# ─── diagnosis ────────────────────────────────────────────────────────────────────────
def _own_quantities(worked, step, answers: Mapping[str, Any] | None):
    """The solution recomputed from the student's earlier answers, or None if they are right."""
    if not answers:
        return None
    from tutor.solve import solve

    tol, overrides = worked.tolerance, {}
    for s in worked.steps:
        if s.id == step.id:
            break
        a = answers.get(s.id)
        if a is not None and not isinstance(a, tuple):
            overrides[s.key] = a
    if all(same(tol, a, worked.solution.quantities[k].value) for k, a in overrides.items()):
        return None
    try:
        return solve(worked.graph, overrides=overrides).quantities
    except Exception:  # an answer the engine cannot carry forward (e.g. a wrong shape)
        return None


def _diagnose(worked, step, value, own) -> list[Diagnosis]:
    tol, truth = worked.tolerance, step.value
    if same(tol, value, truth):
        return []
    ref_own = None  # the correct rule applied to the student's own earlier values
    if own is not None and step.key in own:
        ref_own = local(worked.graph, RULES, step.key, own)[0]
    if ref_own is not None and same(tol, value, ref_own):
        return []  # right given the student's own earlier answers: nothing to name
    out = []
    for mid, m in CATALOGUE.items():
        found = None
        for b, applies in _from_correct(worked, mid, step.key):
            if applies and not same(tol, b, truth) and not _blurred(tol, b) \
                    and same(tol, value, b):
                found = Diagnosis(m, step.id, b, False, truth)
                break
        if found is None and ref_own is not None and _SWAPPED[mid] & _entries_used(
                worked.graph, step.key):
            for table in _TABLES[mid]:
                b, applies = local(worked.graph, table, step.key, own)
                if applies and not _trivial(tol, b) and not same(tol, b, ref_own) \
                        and same(tol, value, b):  # all zeros from own answers: no evidence
                    found = Diagnosis(m, step.id, b, True, ref_own)
                    break
        if found is not None:
            out.append(found)
    keep = most_specific([d.misconception.id for d in out])
    out = [d for d in out if d.misconception.id in keep]
    return out


def diagnose(worked, step_id: str, value, answers: Mapping[str, Any] | None = None
             ) -> list[Diagnosis]:
    """The catalogued bugs that reproduce ``value`` at ``step_id`` ([] when none does).

    ``value``: the answer parsed and shaped (tutor.compare.parse_for) — or parsed only (a tuple),
    for an answer of the wrong shape. ``answers``: the student's other answers, step id →
    shaped value, for the "from your own earlier answers" case.
    """
    step = worked.step(step_id)
    if value is None:
        return []
    return _diagnose(worked, step, value, _own_quantities(worked, step, answers))


def most_specific(ids: list[str]) -> tuple[str, ...]:
    """The misconception ids without those another one in the list is a special case of
    (``Misconception.subsumes``): forgetting the penalty path *is* keeping one consumer of a
    merge, and the specific name says which."""
    hidden = {s for m in ids if m in CATALOGUE for s in CATALOGUE[m].subsumes}
    return tuple(m for m in ids if m not in hidden)


def unshaped(text: Any) -> Any:
    """An answer parsed but not put in the step's shape (a tuple for a vector or matrix):
    what ``diagnose`` compares in each bug's own shape when the answer has the wrong shape
    (x δᵀ typed for a 2×3 ∂L/∂W). None when it does not parse."""
    from tutor.expr import Parsed, try_parse_answer

    if text is None or not str(text).strip():
        return None
    r = try_parse_answer(str(text))
    return r.value if isinstance(r, Parsed) else None


def annotate(worked, verdicts: list) -> list:
    """The verdicts with ``misconceptions`` filled (catalogue ids) for wrong, follow-through
    and wrong-shape answers, and ``explanation``: the first one's buggy rule beside the
    correct one, with the numbers and the correct value (Diagnosis.explain — for a grader's
    report, which reveals answers). One solve from all the student's answers serves every
    step."""
    from tutor.solve import solve

    todo = {i for i, v in enumerate(verdicts) if v.status in ("wrong", "follow_through", "invalid")}
    if not todo:
        return list(verdicts)
    shaped = {v.step_id: v.value for v in verdicts if v.value is not None}
    tol, sol = worked.tolerance, worked.solution.quantities
    overrides = {worked.step(i).key: a for i, a in shaped.items()}
    own = None
    if not all(same(tol, a, sol[k].value) for k, a in overrides.items()):
        try:
            own = solve(worked.graph, overrides=overrides).quantities
        except Exception:
            own = None
    out = []
    for i, v in enumerate(verdicts):
        if i in todo:
            value = v.value
            if value is None and v.answer:  # the wrong shape: compare with the bug's shape
                value = unshaped(v.answer)
            if value is not None:
                ds = _diagnose(worked, worked.step(v.step_id), value, own)
                if ds:
                    v = replace(v, misconceptions=tuple(d.misconception.id for d in ds),
                                diagnosis=ds[0])
        out.append(v)
    return out


# ─── the whole sheet: a bug made throughout ───────────────────────────────────────────
_MAX_CLEARED = 256  # override solves kept per Worked (one per distinct set of cleared steps)


def _whole(worked, mid: str) -> list[tuple[int, Mapping]]:
    """(variant, quantities): the whole exercise solved with misconception ``mid``'s swap,
    from the given values — a student who makes that mistake everywhere. Cached per Worked;
    [] where the exercise never looks the bug's rule up."""
    from tutor.solve import solve

    store = _cache(worked)
    if "whole-used" not in store:  # rules-table entries the exercise looks up anywhere
        try:
            store["whole-used"] = set().union(*(_entries_used(worked.graph, s.key)
                                                for s in worked.steps))
        except Exception:  # a step the probe cannot place: try every bug
            store["whole-used"] = None
    if ("whole", mid) not in store:
        used, out = store["whole-used"], []
        if used is None or used & _SWAPPED[mid]:
            fixed = _unreached(worked, mid)
            for k, table in enumerate(_TABLES[mid]):
                try:
                    out.append((k, solve(worked.graph, table, overrides=fixed).quantities))
                except Exception:  # the bug breaks the exercise: no value
                    continue
        store[("whole", mid)] = out
    return store[("whole", mid)]


def _unreached(worked, mid: str) -> dict:
    """The true value of every quantity misconception ``mid`` made throughout leaves as it
    is (outside ``_reach``): given to the buggy solve, which then computes only what the bug
    changes — the same values (a quantity outside the reach is computed only from others
    outside it, by the correct rules), for a fraction of the solve (a slip sheet, which is
    checked against every bug made throughout, took 80 ms: docs/performance.md)."""
    reach = _reach(worked, mid)
    if reach is None:
        return {}
    return {k: q.value for k, q in worked.solution.quantities.items() if k not in reach}


def _cleared(worked, q: Mapping, answers: Mapping[str, Any]) -> tuple:
    """The keys of the steps where the student's answer is the truth and the bug made
    throughout (``q``) gives something else: steps the bug has not reached in their work."""
    tol, out = worked.tolerance, []
    for s in worked.steps:
        a, b = answers.get(s.id), q.get(s.key)
        if a is None or isinstance(a, tuple) or b is None:
            continue
        if same(tol, a, s.value) and not same(tol, b.value, s.value) \
                and not same(tol, a, b.value):
            out.append(s.key)
    return tuple(out)


def _whole_from(worked, mid: str, k: int, q: Mapping, cleared: tuple) -> Mapping | None:
    """The bug made throughout with the cleared steps held at their true values: what a
    student with this bug gets downstream of the steps they got right (None: unsolvable)."""
    from tutor.solve import solve

    if not cleared:
        return q
    store = _cache(worked)
    key = ("whole-from", mid, k, cleared)
    if key in store:
        return store[key]
    sol = worked.solution.quantities
    try:
        out = solve(worked.graph, _TABLES[mid][k],
                    overrides={**_unreached(worked, mid),
                               **{c: sol[c].value for c in cleared}}).quantities
    except Exception:  # the bug breaks the exercise from there: no value
        out = None
    n = store.get("whole-from-n", 0)
    if n < _MAX_CLEARED:
        store[key], store["whole-from-n"] = out, n + 1
    return out


def _reach(worked, mid: str) -> frozenset | None:
    """The solution keys whose value the bug made throughout (``_whole``) may change: those
    whose own computation looks up an entry the bug swaps (``_entries_used``), and every
    quantity computed from one of them — a forward value from its parents (and a parameter
    from its last update), a gradient from its consumers' gradients and the iteration's
    forward values, an update from the gradient and the parameter. Everywhere else the
    buggy solve does exactly what the correct one does, so it gives the true value. None: it
    cannot be told (a swapped activation with a φ of its own would change the forward pass,
    which ``_entries_used`` does not follow); cached per Worked."""
    store = _cache(worked)
    if ("reach", mid) in store:
        return store[("reach", mid)]
    graph, swapped, tables = worked.graph, _SWAPPED[mid], _TABLES[mid]
    out: frozenset | None = None
    if not any(k in ACTIVATIONS and any(t[k].f is not RULES[k].f for t in tables)
               for k in swapped):
        live = graph.reaches_loss()
        one_term = "accumulate" in swapped and all(
            getattr(t["accumulate"], "one_term_is_the_sum", False) for t in tables)
        tainted: set = set()
        for key in worked.solution.quantities:  # in the order the solver made them
            it, kind, name = key
            try:
                own = _entries_used(graph, key) & swapped
            except Exception:  # a quantity the probe cannot place: it may change
                own = {"?"}
            if one_term and kind == "grad" and own == {"accumulate"}:
                terms = sum(graph.nodes[c].parents.count(name) for c in graph.consumers(name)
                            if c in live)
                own = set() if terms < 2 else own
            node = graph.nodes[name]
            if kind == "value":
                deps = [(it, "value", p) for p in node.parents]
                if node.is_leaf and name in graph.params and it > 1:
                    deps.append((it - 1, "new", name))
                hit = any(d in tainted for d in deps)
            elif kind == "grad":
                hit = any((it, "grad", c) in tainted for c in graph.consumers(name)) or any(
                    k[0] == it and k[1] == "value" for k in tainted)
            else:
                hit = (it, "grad", name) in tainted or (it, "value", name) in tainted
            if own or hit:
                tainted.add(key)
        out = frozenset(tainted)
    store[("reach", mid)] = out
    return out


def throughout(worked, verdicts: list) -> list:
    """The verdicts with ``misconceptions`` filled for a *wrong* answer that no single-step
    diagnosis (``annotate``) explains but the bug made at every step does.

    A student who left δ3 blank and wrote dW2 with the sign of y − ŷ is explained only by
    the flip made at δ3 and carried down: ``solve(graph, buggy_rules("loss-sign-flip"))``
    gives exactly their dW2. The bug's effect starts at the steps its rule produces (its
    home: δ3 for the sign flip, ∂L/∂ŷ for the MSE bugs, each δ for a missing mask) and flows
    downstream, so the bug is made throughout *from the steps the student got right*: every
    answered step whose answer is the truth where the bug gives something else is held at the
    truth (``_cleared``), and the bug is named at a later step only if its value there,
    so computed, still differs from the truth, is not all zeros (Numbas #368: zeros are no
    evidence) and is the student's answer. A correct δ3 therefore rules the sign flip out
    below it: a lone negated dW2 is a slip at dW2, not "sign flip (y − ŷ)"; a δ3 left
    blank, or flipped, leaves it standing."""
    todo = [i for i, v in enumerate(verdicts)
            if v.status == "wrong" and not v.misconceptions and v.value is not None]
    if not todo:
        return list(verdicts)
    from tutor.compare import same_shape

    answers = {v.step_id: v.value for v in verdicts if v.value is not None}
    out, tol = list(verdicts), worked.tolerance
    for i in todo:
        v = out[i]
        step = worked.step(v.step_id)
        found = []
        off = not same(tol, v.value, step.value)  # the answer is not the true value
        for mid in CATALOGUE:
            reach = _reach(worked, mid) if off else None
            if reach is not None and step.key not in reach:
                continue  # the bug gives the true value here, which is not the answer
            for k, q in _whole(worked, mid):
                b = q.get(step.key)
                if b is None or not same(tol, v.value, b.value):
                    continue  # the plain bug throughout does not give it: nothing to check
                q2 = _whole_from(worked, mid, k, q, _cleared(worked, q, answers))
                b = None if q2 is None else q2.get(step.key)
                if b is None or not same_shape(b.value, step.value):
                    continue
                b = b.value
                if not same(tol, b, step.value) and not _trivial(tol, b) \
                        and same(tol, v.value, b):
                    found.append(mid)
                    break
        if found:
            ids = most_specific(found)
            out[i] = replace(v, misconceptions=ids, diagnosis=Diagnosis(
                CATALOGUE[ids[0]], step.id, v.value, False, step.value, throughout=True))
    return out


def indistinguishable(worked, only=None, first: bool = False) -> list[tuple[str, str]]:
    """(step id, misconception id) where the bug applies but gives the true answer: an
    all-positive layer hides a missing mask, a symmetric W hides a transpose. ``only``: these
    misconception ids (default every one); ``first``: stop at the first pair found — all a
    variant condition needs to refuse a draw (most draws of lab9-variants are refused so)."""
    out = []
    for s in worked.steps:
        for mid in CATALOGUE:
            if only is not None and mid not in only:
                continue
            if any(applies and same(worked.tolerance, b, s.value)
                   for b, applies in _from_correct(worked, mid, s.key)):
                out.append((s.id, mid))
                if first:
                    return out
    return out


def buggy_rules(mid: str, variant: int = 0) -> Mapping[str, Any]:
    """RULES with misconception ``mid``'s swap: ``solve(graph, buggy_rules(mid))`` works the
    whole exercise as a student who makes that mistake everywhere."""
    return _TABLES[mid][variant]
