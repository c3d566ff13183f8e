"""The tensor expression grammar: a graph node over vectors and matrices, read into a tree.

A graph exercise whose inputs, params or constants include a vector or a matrix (issue 13)
writes its nodes in this grammar; a scalar-only graph keeps tutor.expr's. The text goes
through Python's ``ast`` and an allow-list, as in tutor.expr (never ``eval``):

    names        the exercise's own (inputs, params, constants, nodes)
    numbers      exact decimals: ``0.5`` is 1/2
    operators    ``@`` (matrix product), ``+ - * /`` elementwise with broadcasting (a column
                 (n, 1) or a row (1, n) or a number is repeated to the other side's shape),
                 ``**`` / ``^`` by a number, unary ``-``; ``x.T`` (transpose)
    calls        ``sum(x)``, ``sum(x, axis=0|1)``, ``mean(…)`` likewise, ``softmax(z)`` and
                 ``log_softmax(z)`` (over each column: ``axis=0``, the default, or each row),
                 ``cross_entropy(z, y)`` (softmax + cross-entropy of logits z against one-hot
                 columns y, averaged over the columns), ``batchnorm(x, gamma, beta, eps)``
                 (each row of x normalised over the batch, its columns), and the elementwise
                 functions of
                 tutor.functions with one argument (relu, sigmoid, tanh, exp, log, …)
    indexing     ``x[i]`` (row i; entry i of a column vector), ``x[i, j]``: 0-based, as in
                 NumPy and PyTorch

The result is a :class:`TExpr` tree; shapes are checked and values computed by
tutor.tensors (the engine), which reports a shape error at the node's character offset.
"""
from __future__ import annotations

import ast
import difflib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from tutor.errors import ExprError, clip
from tutor.expr import (MAX_POWER_EXPONENT, TOO_LARGE, UNKNOWN_NAME, _DECIMAL, _normalise,
                        _quote, _Source, read_tree)
from tutor.functions import FUNCTIONS

# the calls of the grammar beyond the elementwise functions: name → (min, max) positional
# arguments; each may take axis=
REDUCTIONS = {"sum": (1, 1), "mean": (1, 1)}
MODULES = {"softmax": (1, 1), "log_softmax": (1, 1), "cross_entropy": (2, 2),
           "batchnorm": (4, 4), "layernorm": (4, 4), "attention": (3, 3),
           "causal_attention": (3, 3), "conv1d": (2, 2), "conv2d": (2, 2), "maxpool": (1, 1),
           "embedding": (2, 2), "onehot": (2, 2)}
MAX_ONEHOT = 64  # classes of onehot(ids, n)
ELEMENTWISE = tuple(n for n, (lo, _, _) in FUNCTIONS.items() if lo == 1)
CALLS = (*REDUCTIONS, *MODULES, *ELEMENTWISE)
_ARITH = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
          ast.MatMult: "matmul", ast.Pow: "pow"}


@dataclass(frozen=True)
class TExpr:
    """One node of a tensor expression. ``op`` is ``name`` (``arg``: the name), ``num``
    (``arg``: an exact number), an operator (add sub mul div matmul pow neg T), a call
    (``arg``: its axis, or None) or ``index`` (``arg``: a tuple of 0-based indices). ``at``
    is its 0-based character offset in the node's text, ``text`` what it is there."""

    op: str
    args: tuple["TExpr", ...] = ()
    arg: Any = None
    at: int = 0
    text: str = ""

    def ops(self) -> set[str]:
        """Every operation in the tree (``relu``, ``matmul``, …)."""
        out, stack = set(), [self]
        while stack:
            t = stack.pop()
            out.add(t.op)
            stack.extend(t.args)
        return out

    def names(self) -> Iterable[str]:
        """The names it uses, in the order they are written (each once)."""
        seen: dict[str, None] = {}
        stack = [self]
        while stack:
            t = stack.pop()
            if t.op == "name":
                seen.setdefault(t.arg)
            stack.extend(reversed(t.args))
        return list(seen)


def parse_tensor(text: str, names: Iterable[str]) -> TExpr:
    """``text`` as a TExpr over ``names``, or an ExprError with the offset of the problem."""
    s = _normalise(text)
    src, tree, _ = read_tree(s, 0, len(s), extra="@[]=", brackets=("([", ")]"))
    return _Reader(src, set(names)).read(tree.body)


class _Reader:
    def __init__(self, src: _Source, names: set[str]):
        self.src, self.names = src, names

    def fail(self, message: str, node: ast.AST, code: str = "E231") -> ExprError:
        return ExprError(message, self.src.at(node), code=code)

    def node(self, op: str, node: ast.AST, args=(), arg=None) -> TExpr:
        return TExpr(op, tuple(args), arg, self.src.at(node), self.src.segment(node))

    def read(self, node: ast.AST) -> TExpr:
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            kind = _ARITH[type(node.op)]
            left, right = self.read(node.left), self.read(node.right)
            if kind == "pow":
                k = _number(right)
                if k is None:
                    raise self.fail("a power's exponent must be a number (x**2, x**0.5)",
                                    node.right)
                if abs(k) > MAX_POWER_EXPONENT:
                    raise self.fail(f"exponent too large (at most {MAX_POWER_EXPONENT})",
                                    node.right, code=TOO_LARGE)
                return self.node("pow", node, (left,), k)
            return self.node(kind, node, (left, right))
        if isinstance(node, ast.BinOp):
            raise self.fail(f"unexpected {_quote(_op_text(node.op))}", node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.read(node.operand)
            if isinstance(node.op, ast.UAdd):
                return inner
            if inner.op == "num":
                return TExpr("num", (), -inner.arg, self.src.at(node), self.src.segment(node))
            return self.node("neg", node, (inner,))
        if isinstance(node, ast.Constant):
            v = node.value
            lit = self.src.segment(node)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not _DECIMAL.fullmatch(lit):
                raise self.fail(f"only decimal numbers are allowed, not {_quote(lit)}", node)
            f = Fraction(lit.replace("_", ""))
            return self.node("num", node, (), f)
        if isinstance(node, ast.Name):
            name = self.src.name(node)
            if name in self.names:
                return self.node("name", node, (), name)
            if name in CALLS:
                raise self.fail(f"'{name}' is a function: write {name}(...)", node)
            close = difflib.get_close_matches(name, sorted(self.names), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.fail(f"unknown name '{clip(name, 30)}'{hint}", node, code=UNKNOWN_NAME)
        if isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.fail(f"unexpected '.{clip(node.attr, 20)}' (only .T, the "
                                "transpose)", node)
            return self.node("T", node, (self.read(node.value),))
        if isinstance(node, ast.Subscript):
            return self.node("index", node, (self.read(node.value),), self.indices(node))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(f"unexpected {_quote(self.src.segment(node) or type(node).__name__)}",
                        node)

    def indices(self, node: ast.Subscript) -> tuple[int, ...]:
        sl = node.slice
        parts = sl.elts if isinstance(sl, ast.Tuple) else [sl]
        if not 1 <= len(parts) <= 2:
            raise self.fail("an index is x[i] or x[i, j]", node)
        out = []
        for p in parts:
            if not (isinstance(p, ast.Constant) and type(p.value) is int and p.value >= 0):
                raise self.fail("an index is a whole number from 0 (x[0] is the first "
                                "entry)", p if hasattr(p, "col_offset") else node)
            out.append(p.value)
        return tuple(out)

    def call(self, node: ast.Call) -> TExpr:
        func = node.func
        if not isinstance(func, ast.Name):
            raise self.fail("only the grammar's functions can be called", node)
        name = self.src.name(func)
        if name not in CALLS:
            close = difflib.get_close_matches(name, CALLS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(CALLS)}"
            raise self.fail(f"unknown function '{clip(name, 30)}' ({hint})", func)
        lo, hi = {**REDUCTIONS, **MODULES}.get(name, (1, 1))
        if not lo <= len(node.args) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise self.fail(f"{name}() takes {want} argument{'s' if hi > 1 else ''}, "
                            f"got {len(node.args)}", node)
        axis = None  # the call's option: its axis, a conv's stride, onehot's classes
        for kw in node.keywords:
            v = kw.value
            if kw.arg == "axis" and name in (*REDUCTIONS, "softmax", "log_softmax"):
                if not (isinstance(v, ast.Constant) and type(v.value) is int
                        and v.value in (0, 1)):
                    raise self.fail("axis is 0 (down each column) or 1 (along each row)", v)
            elif kw.arg == "stride" and name in ("conv1d", "conv2d"):
                if not (isinstance(v, ast.Constant) and type(v.value) is int
                        and 1 <= v.value <= 8):
                    raise self.fail("stride is a whole number from 1 to 8", v)
            else:
                raise self.fail(f"{name}() takes no argument '{kw.arg}'" if kw.arg else
                                "unexpected '**'", v)
            axis = v.value
        if name in ("softmax", "log_softmax") and axis is None:
            axis = 0  # each column is one example's scores (the column layout)
        if name == "onehot":  # onehot(ids, n): n classes, a whole number
            n = node.args[1]
            if not (isinstance(n, ast.Constant) and type(n.value) is int
                    and 2 <= n.value <= MAX_ONEHOT):
                raise self.fail(f"onehot(ids, n) takes the number of classes n, a whole "
                                f"number from 2 to {MAX_ONEHOT}", n)
            return self.node(name, node, [self.read(node.args[0])], n.value)
        args = [self.read(a) for a in node.args]
        return self.node(name, node, args, axis)


def _number(t: TExpr) -> Fraction | None:
    return t.arg if t.op == "num" else None


def _op_text(op: ast.AST) -> str:
    return {ast.FloorDiv: "//", ast.Mod: "%", ast.BitXor: "^", ast.BitAnd: "&",
            ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>"}.get(type(op), "?")
