"""Formula questions for networks (issue 12, item 5): the backward recipe asked as formulas.

A network exercise with ``ask: [formulas]`` asks, for each backward step, its formula in
the network's names (tutor.steps.FormulaStep): "δ2 = ?" answered ``(W3.T @ delta3) *
relu'(z2)`` or ``dh2 * 1[z2 > 0]``, "∂L/∂W2 = ?" answered ``delta2 @ h1.T``.

    read_formula(text, step)   → the answer as a tree (tutor.tensorexpr.TExpr), or ExprError
    judge(worked, step, text)  → a Verdict (tutor.compare), with the misconceptions it shows

The answer grammar is the tensor grammar's (``@`` the matrix product, ``.T`` or ``ᵀ`` the
transpose, ``*`` or ``⊙`` elementwise with broadcasting, ``·`` the product as the tutor
writes it, δ2 · h1ᵀ) with the derivative notation of symbolic answers (``relu'(z)``,
``1[z > 0]``, ``sigmoid'(z)``, ``tanh'(z)``, ``softplus'(z)``) and ``sum(a, axis=1)``. The
text goes through tutor.expr's front half (its characters, brackets, size) and Python's
``ast`` with an allow-list here: never ``eval``.

How it is judged (docs/symbolic.md): the names stand for the network's quantities, so an
answer is right when it is the same function of the network's data as the step's value.
The exercise's data — its input, weights, biases and target — are replaced by random exact
rationals of the same shapes (``POINTS`` draws, seeded by the exercise, so every answer to
an exercise meets the same draws), the engine solves the network at each (tutor.solve: the
recipe is the engine's own, never written again here), and the answer is evaluated with
each name given its value there. It is right when it has the step's shape and equals the
step's value at every draw, entry by entry (exactly, or to 30 digits where a value is
irrational). A wrong answer is compared with each catalogued buggy rule at the same draws
(tutor.misconceptions: the rule at this step from the correct values, and the bug made at
every step): one it equals at every draw, in its own shape, is named — ``h1 @ delta2.T``
the transposed outer product, ``W3 @ delta3`` the missing transpose.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

import sympy as sp

from tutor.compare import Reason, Unread, Verdict
from tutor.errors import ExprError, clip
from tutor.expr import _DECIMAL, _derivative_notation, _normalise, _quote, read_tree
from tutor.tensorexpr import TExpr

POINTS = 6  # draws of the network's data per exercise
MAX_DRAWS = 40  # draws tried to see every ReLU input on both sides (and never exactly 0)
GRID = 64  # a datum is k/16 with 1 ≤ |k| ≤ GRID: 128 values (target of bce: k/16 in (0, 1))

# calls of the answer grammar: elementwise functions, derivatives (after the derivative
# notation: relu'( → relu_(, 1[z > 0] → _(z - 0)), and the sums over an axis
FUNCTIONS = ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "softplus")
DERIVATIVES = {"_": "relu_step", "relu_": "relu_step", "sigmoid_": "sigmoid_prime",
               "tanh_": "tanh_prime", "softplus_": "sigmoid"}
SUMS = ("sum", "mean")
_ARITH = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
          ast.MatMult: "matmul", ast.Pow: "pow"}
_SPELLED = {"ᵀ": ".T", "⊙": "*", "∘": "*", "·": "@", "⋅": "@"}  # as typed → the grammar's


# ─── reading ──────────────────────────────────────────────────────────────────────────
def _spelled(text: str) -> tuple[str, list[int]]:
    """The text with ᵀ as .T, ⊙ as *, · as @ — and, for each character, where it was typed."""
    out, where = [], []
    for i, c in enumerate(text):
        new = _SPELLED.get(c, c)
        out.append(new)
        where += [i] * len(new)
    where.append(len(text))
    return "".join(out), where


def alias(name: str) -> str:
    """A name as the tutor writes it, as the grammar spells it: δ2 → delta2, ŷ → yhat."""
    if name.startswith("δ"):
        return "delta" + name[1:]
    return {"ŷ": "yhat", "y\u0302": "yhat"}.get(name, name)


def read_formula(text: str, step) -> TExpr:
    """The answer to a formula step as a tree over the names it may use (``step.names``);
    an ExprError at the offset (in the text as typed) of what is refused."""
    if not isinstance(text, str):
        raise ExprError(f"expected text, got {type(text).__name__}")
    s, where = _spelled(text)
    try:
        s = _derivative_notation(_normalise(s))
        src, tree, _ = read_tree(s, 0, len(s), "empty answer", extra="@=")
        return _Reader(src, step).read(tree.body)
    except ExprError as err:
        at = None if err.offset is None else where[min(max(err.offset, 0), len(where) - 1)]
        raise ExprError(err.message, at, code=err.code) from None


class _Reader:
    def __init__(self, src, step):
        self.src = src
        self.names = [n for n, _ in step.names]
        self.allowed = set(self.names)
        self.own = step.of.id
        self.later = set(getattr(step, "later", ())) | {self.own}

    def fail(self, message: str, node: ast.AST) -> ExprError:
        return ExprError(message, self.src.at(node))

    def node(self, op: str, node: ast.AST, args=(), arg=None) -> TExpr:
        return TExpr(op, tuple(args), arg, self.src.at(node), self.src.segment(node))

    def read(self, node: ast.AST) -> TExpr:
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            kind = _ARITH[type(node.op)]
            left, right = self.read(node.left), self.read(node.right)
            if kind == "pow":
                if right.op != "num":
                    raise self.fail("a power's exponent must be a number (h**2)", node.right)
                if abs(right.arg) > 64:
                    raise self.fail("exponent too large (at most 64)", node.right)
                return self.node("pow", node, (left,), right.arg)
            return self.node(kind, node, (left, right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.read(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            if inner.op == "num":
                return TExpr("num", (), -inner.arg, self.src.at(node), self.src.segment(node))
            return self.node("neg", node, (inner,))
        if isinstance(node, ast.Constant):
            lit = self.src.segment(node)
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)) \
                    or not _DECIMAL.fullmatch(lit):
                raise self.fail(f"only decimal numbers are allowed, not {_quote(lit)}", node)
            return self.node("num", node, (), Fraction(lit.replace("_", "")))
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(f"unexpected '.{clip(node.attr, 20)}' (only .T, the "
                                "transpose)", node)
            return self.node("T", node, (self.read(node.value),))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(f"unexpected {_quote(self.src.segment(node) or type(node).__name__)}",
                        node)

    def name(self, node: ast.Name) -> TExpr:
        typed = self.src.name(node)
        name = alias(typed)
        if name in self.allowed:
            return self.node("name", node, (), name)
        if name in FUNCTIONS or name in SUMS:
            raise self.fail(f"'{name}' is a function: write {name}(...)", node)
        if name == self.own:
            raise self.fail(f"{name} is what this step asks: write it in terms of the "
                            f"quantities before it", node)
        if name in self.later:
            raise self.fail(f"{name} comes after this step: write {self.own} in terms of "
                            f"the quantities before it", node)
        close = difflib.get_close_matches(name, sorted(self.allowed), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ExprError(f"unknown name '{clip(typed, 30)}'{hint}", self.src.at(node),
                        code="E232")

    def call(self, node: ast.Call) -> TExpr:
        if not isinstance(node.func, ast.Name):
            raise self.fail("only the grammar's functions can be called", node)
        fn = self.src.name(node.func)
        if fn not in FUNCTIONS and fn not in DERIVATIVES and fn not in SUMS:
            allowed = (*FUNCTIONS, "relu'", "sigmoid'", "tanh'", "softplus'", *SUMS)
            close = difflib.get_close_matches(fn, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
            raise self.fail(f"unknown function '{clip(fn, 30)}' ({hint})", node.func)
        shown = "1[…]" if fn == "_" else fn.replace("_", "'")
        if len(node.args) != 1:
            raise self.fail(f"{shown}() takes 1 argument, got {len(node.args)}", node)
        axis = None
        for kw in node.keywords:
            v = kw.value
            if kw.arg != "axis" or fn not in SUMS:
                raise self.fail(f"{shown}() takes no argument '{kw.arg}'" if kw.arg else
                                "unexpected '**'", v)
            if not (isinstance(v, ast.Constant) and type(v.value) is int and v.value in (0, 1)):
                raise self.fail("axis is 0 (down each column) or 1 (along each row)", v)
            axis = v.value
        arg = self.read(node.args[0])
        return self.node(fn, node, (arg,), axis)


# ─── shapes ───────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Clash:
    """Two shapes an operation cannot take, as data (its words: tutor.words.formula_clash):
    ``op`` (matmul, add, sub, mul, div), each side's text and shape; or (``op`` "result")
    the answer's shape ``left`` against the step's ``right``."""

    op: str
    left_text: str
    left: tuple
    right_text: str = ""
    right: tuple = ()


class ShapeError(Exception):
    def __init__(self, clash: Clash):
        super().__init__(clash.op)
        self.clash = clash


def shape(t: TExpr, shapes: Mapping[str, tuple]) -> tuple:
    """The shape of an answer's tree: () a number, (rows, cols) a matrix; ShapeError where
    an operation does not fit (h1 @ delta2 with h1 3×1, delta2 2×1)."""
    if t.op == "name":
        return shapes[t.arg]
    if t.op == "num":
        return ()
    args = [shape(a, shapes) for a in t.args]
    if t.op == "matmul":
        a, b = args
        if a == () or b == ():  # a number times a matrix, as the tutor writes 2 · (ŷ − y)
            return b if a == () else a
        if a[1] != b[0]:
            l, r = t.args
            raise ShapeError(Clash("matmul", l.text, a, r.text, b))
        return (a[0], b[1])
    if t.op in ("add", "sub", "mul", "div"):
        return _broadcast(t, *args)
    if t.op == "T":
        return () if args[0] == () else (args[0][1], args[0][0])
    if t.op in SUMS:
        a = args[0]
        if t.arg is None or a == ():
            return ()
        return (1, a[1]) if t.arg == 0 else (a[0], 1)
    return args[0]  # elementwise: neg, pow, functions, derivatives


def _broadcast(t: TExpr, a: tuple, b: tuple) -> tuple:
    if a == () or a == (1, 1):
        return b if b != () else a
    if b == () or b == (1, 1) or a == b:
        return a
    out = []
    for k in range(2):
        if a[k] == b[k] or b[k] == 1:
            out.append(a[k])
        elif a[k] == 1:
            out.append(b[k])
        else:
            l, r = t.args
            raise ShapeError(Clash(t.op, l.text, a, r.text, b))
    return tuple(out)


# ─── values ───────────────────────────────────────────────────────────────────────────
def _entrywise(f, *vs):
    ms = [v for v in vs if isinstance(v, sp.MatrixBase) and v.shape != (1, 1)]
    if not ms:
        flat = [v[0, 0] if isinstance(v, sp.MatrixBase) else v for v in vs]
        r = f(*flat)
        return sp.Matrix([[r]]) if any(isinstance(v, sp.MatrixBase) for v in vs) else r
    rows = max(m.rows for m in ms)
    cols = max(m.cols for m in ms)

    def at(v, i, j):
        if not isinstance(v, sp.MatrixBase):
            return v
        return v[i if v.rows > 1 else 0, j if v.cols > 1 else 0]
    return sp.Matrix(rows, cols, lambda i, j: f(*(at(v, i, j) for v in vs)))


def evaluate(t: TExpr, env: Mapping[str, Any], conv: int) -> Any:
    """The answer's value with each name given its value in ``env`` (shapes checked first)."""
    from tutor.functions import FUNCTIONS as F, relu_step, resolve_steps, sigmoid

    if t.op == "name":
        return env[t.arg]
    if t.op == "num":
        return sp.Rational(t.arg.numerator, t.arg.denominator)
    args = [evaluate(a, env, conv) for a in t.args]
    if t.op == "matmul":  # (a number: scaled, as shape() allows)
        return args[0] * args[1]
    binary = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
              "mul": lambda x, y: x * y, "div": lambda x, y: x / y}
    if t.op in binary:
        return _entrywise(binary[t.op], *args)
    (a,) = args
    if t.op == "T":
        return a.T if isinstance(a, sp.MatrixBase) else a
    if t.op == "neg":
        return -a
    if t.op == "pow":
        k = sp.Rational(t.arg.numerator, t.arg.denominator)
        return _entrywise(lambda x: x ** k, a)
    if t.op in SUMS:
        if not isinstance(a, sp.MatrixBase):
            return a
        n = {None: a.rows * a.cols, 0: a.rows, 1: a.cols}[t.arg] if t.op == "mean" else 1
        if t.arg is None:
            return sum(a, sp.Integer(0)) / n
        if t.arg == 0:
            return sp.Matrix(1, a.cols, lambda i, j: sum(a[:, j], sp.Integer(0)) / n)
        return sp.Matrix(a.rows, 1, lambda i, j: sum(a[i, :], sp.Integer(0)) / n)
    if t.op in F:
        f = F[t.op][2]
        return _entrywise(lambda x: resolve_steps(f(x), conv), a)
    d = DERIVATIVES[t.op]
    if d == "relu_step":
        return _entrywise(lambda x: resolve_steps(relu_step(x), conv), a)
    if d == "sigmoid":
        return _entrywise(sigmoid, a)
    if d == "sigmoid_prime":
        return _entrywise(lambda x: sigmoid(x) * (1 - sigmoid(x)), a)
    return _entrywise(lambda x: 1 - sp.tanh(x) ** 2, a)  # tanh_prime


def _as_matrix(v: Any) -> sp.Matrix:
    return v if isinstance(v, sp.MatrixBase) else sp.Matrix([[v]])


def same(a: Any, b: Any) -> bool:
    """Two values of one shape equal entry by entry (tutor.equivalence.same_number)."""
    from tutor.equivalence import same_number

    a, b = _as_matrix(a), _as_matrix(b)
    if a.shape != b.shape:
        return False
    return all(same_number(x, y) for x, y in zip(a, b))


def first_difference(a: Any, b: Any) -> tuple | None:
    """The first entry (0-based (row, col)) where two values of one shape differ."""
    from tutor.equivalence import same_number

    a, b = _as_matrix(a), _as_matrix(b)
    for i in range(a.rows):
        for j in range(a.cols):
            if not same_number(a[i, j], b[i, j]):
                return (i, j)
    return None


# ─── the draws ────────────────────────────────────────────────────────────────────────
def _datum(rng: random.Random, bounded: bool = False) -> sp.Rational:
    if bounded:  # a target of bce: a probability, strictly between 0 and 1
        return sp.Rational(rng.randint(1, 15), 16)
    return sp.Rational(rng.choice((1, -1)) * rng.randint(1, GRID), 16)


def _data(rng: random.Random, graph) -> dict:
    """New values of the network's data (input, every W and b, the target), same shapes."""
    fn = graph.nodes["L"].attrs["fn"]
    out = {}
    for n, node in graph.nodes.items():
        v = graph.init.get(n)
        if not isinstance(v, sp.MatrixBase) or node.op not in ("input", "param", "const"):
            continue
        if n == "y" and fn == "ce":  # each example's targets: a distribution
            col = graph.layout == "column"
            m = v if col else v.T
            ws = sp.Matrix(m.rows, m.cols, lambda i, j: rng.randint(1, 8))
            for j in range(ws.cols):
                total = sum(ws[:, j])
                for i in range(ws.rows):
                    ws[i, j] = sp.Rational(ws[i, j], total)
            out[n] = ws if col else ws.T
        else:
            out[n] = sp.Matrix(v.rows, v.cols, lambda i, j: _datum(rng, n == "y" and fn == "bce"))
    return out


def _relu_inputs(graph) -> list[str]:
    return [node.parents[0] for node in graph.nodes.values()
            if node.op == "act" and node.attrs.get("fn") in ("relu", "leaky_relu")]


def draws(worked) -> list[tuple[dict, Mapping]]:
    """The exercise's draws: (data, the Solution's quantities there), ``POINTS`` of them,
    seeded by the exercise (its id and variant), with every entry of every ReLU input seen
    positive at one draw and negative at another where ``MAX_DRAWS`` draws find it, and
    never exactly 0 (ReLU′(0) is a convention, not the recipe). Kept in ``worked.cache``."""
    if "recipe-draws" in worked.cache:
        return worked.cache["recipe-draws"]
    from tutor.solve import solve
    from tutor.numeric import sign

    graph = worked.graph
    seed = hashlib.sha256(f"{worked.id}/{worked.seed}".encode()).digest()
    rng = random.Random(int.from_bytes(seed[:8], "big"))
    kinks = _relu_inputs(graph)
    out, seen = [], set()
    for _ in range(MAX_DRAWS):
        data = _data(rng, graph)
        try:
            q = solve(graph, overrides={(1, "value", n): v for n, v in data.items()}).quantities
        except Exception:  # a draw the network refuses (an overflow): draw again
            continue
        sides = {(z, idx, sign(v)) for z in kinks for idx, v in enumerate(q[(1, "value", z)].value)}
        if any(s == 0 for _, _, s in sides):
            continue
        new = sides - seen
        if len(out) < POINTS or new:
            out.append((data, q))
            seen |= sides
        if len(out) >= POINTS and all((z, i, -s) in seen for z, i, s in seen):
            break
    worked.cache["recipe-draws"] = out
    return out


def _env(step, q: Mapping) -> dict:
    return {n: q[k].value for n, k in step.names if k in q}


# ─── judging ──────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Differs:
    """Where a formula answer is not the step's: at draw ``draw`` (0-based), entry
    ``entry`` (0-based (row, col); None for a number) is ``yours`` where the step's value is
    ``truth`` (its words: tutor.words.formula_differs)."""

    draw: int
    entry: tuple | None
    yours: Any
    truth: Any
    shape: tuple = ()


def judge(worked, step, text: Any) -> Verdict:
    """The verdict on one answer to a formula step. ``value`` stays None (a formula is no
    number to carry forward); ``misconceptions`` and ``diagnosis`` name the catalogued bug
    the answer equals at every draw."""
    from tutor.budget import ANSWER_SECONDS, within

    with within(ANSWER_SECONDS) as budget:
        v = _judge(worked, step, text)
    if budget.exceeded:
        return Verdict(step.id, "invalid", str(text), expected=step.value,
                       reason=Reason("over_budget", what="reading this answer",
                                     seconds=budget.seconds))
    return v


def _judge(worked, step, text: Any) -> Verdict:
    if text is None or not str(text).strip():
        return Verdict(step.id, "missing", None, expected=step.value, reason=Reason("no_answer"))
    text = str(text)
    try:
        t = read_formula(text, step)
    except ExprError as err:
        return Verdict(step.id, "invalid", text, expected=step.value,
                       reason=Reason("unread", Unread("syntax", err.message, err.offset)))
    what = step.meaning.lhs or step.of.id
    try:
        got = shape(t, dict(step.shapes))
    except ShapeError as err:
        return Verdict(step.id, "wrong", text, expected=step.value,
                       reason=Reason("formula_shape", what=what, value=err.clash))
    truth_shape = step.shape
    conv = worked.graph.relu_prime_at_zero
    points = draws(worked)
    yours = []
    for data, q in points:
        try:
            yours.append(evaluate(t, _env(step, q), conv))
        except (ArithmeticError, TypeError, ValueError):
            yours.append(None)  # (a division by zero at this draw)
    why = None
    if not _fits(got, truth_shape):
        why = Reason("formula_shape", what=what,
                     value=Clash("result", text, got, step.of.id, truth_shape))
    else:
        for k, ((data, q), a) in enumerate(zip(points, yours)):
            truth = q[step.of.key].value
            if a is None or not same(a, truth):
                ta = _as_matrix(truth)
                entry = None if a is None else first_difference(a, truth)
                e = entry or (0, 0)
                why = Reason("formula_differs", what=what, value=Differs(
                    k, None if ta.shape == (1, 1) else entry,
                    None if a is None else _as_matrix(a)[e], ta[e], ta.shape))
                break
    if why is None:
        return Verdict(step.id, "correct", text, expected=step.value)
    ids = _named(worked, step, yours, points)
    diagnosis = None
    if ids:
        from tutor.misconceptions import CATALOGUE, Diagnosis
        from tutor.steps import TypedFormula

        diagnosis = Diagnosis(CATALOGUE[ids[0]], step.id, TypedFormula(text), False,
                              step.value)
    return Verdict(step.id, "wrong", text, expected=step.value, reason=why,
                   misconceptions=ids, diagnosis=diagnosis)


def _fits(got: tuple, want: tuple) -> bool:
    return got == want or {got, want} <= {(), (1, 1)}


def _named(worked, step, yours: list, points: list) -> tuple[str, ...]:
    """The catalogued bugs the answer equals at every draw, in the bug's own shape, where
    the bug gives something else than the truth at one draw at least: the buggy rule at this
    step from the correct values (misconceptions.local), or the bug made at every step."""
    if any(a is None for a in yours) or not points:
        return ()
    from tutor.misconceptions import CATALOGUE, buggy_rules, local, most_specific
    from tutor.solve import solve

    graph, key = worked.graph, step.of.key
    store = worked.cache.setdefault("recipe-bugs", {})
    found = []
    for mid in CATALOGUE:
        for k in range(8):
            try:
                table = buggy_rules(mid, k)
            except IndexError:
                break
            ok, differs = True, False
            for n, ((data, q), a) in enumerate(zip(points, yours)):
                skey = (mid, k, key, n)
                if skey not in store:
                    vals = []
                    b, applies = local(graph, table, key, q)
                    if applies and b is not None:
                        vals.append(b)
                    try:
                        whole = solve(graph, table, overrides={
                            (1, "value", d): v for d, v in data.items()}).quantities
                        if key in whole:
                            vals.append(whole[key].value)
                    except Exception:  # the bug breaks the network at this draw
                        pass
                    store[skey] = tuple(vals)
                truth = q[key].value
                hit = [b for b in store[skey] if same(a, b)]
                if not hit:
                    ok = False
                    break
                differs |= any(not same(b, truth) for b in hit)
            if ok and differs:
                found.append(mid)
                break
    return most_specific(found)
