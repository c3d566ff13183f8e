"""The named functions of the expression grammar, as SymPy functions.

``relu``, ``leaky_relu``, ``elu`` and ``sigmoid`` are our own SymPy ``Function`` classes so that
(1) a value keeps its exact form (``sigmoid(69/125)`` evaluates to ``1/(1+exp(-69/125))``)
and (2) their derivatives never pass through SymPy's ``Heaviside``, whose value at 0 is ½.
The derivative of ``relu`` at exactly 0 is left as ``relu_step(0)``; the engine replaces it
with the exercise's ReLU′(0) convention (default 0).
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

LEAKY_DEFAULT_SLOPE = sp.Rational(1, 100)


def sign(z) -> int:
    """Exact sign of a real number given as a SymPy expression: -1, 0 or 1 (certified:
    tutor.numeric)."""
    from tutor.numeric import sign as certified

    return certified(z)


def is_zero(x) -> bool:
    """Exactly 0. A carried decimal is certified (tutor.numeric.carried: 0 only when the
    value is 0), so a tiny one — 9.5e−290 — is not 0. A number's sign is certified
    (``sign``: its structure, then intervals), never SymPy's assumptions, which evaluate a
    nested exact form again at every level."""
    x = sp.sympify(x, strict=True)
    if x.is_Float:
        return x.is_zero is True
    if x.is_number:
        return sign(x) == 0
    return x.is_zero is True


class relu_step(sp.Function):
    """ReLU′(z) = 1[z > 0]; left unevaluated at z = 0, where a convention decides."""

    @classmethod
    def eval(cls, z):
        if z.is_number:
            s = sign(z)
            if s:
                return sp.Integer(1 if s > 0 else 0)


class relu(sp.Function):
    """ReLU(z) = max(0, z)."""

    @classmethod
    def eval(cls, z):
        if z.is_number:
            return z if sign(z) > 0 else sp.Integer(0)

    def fdiff(self, argindex=1):
        return relu_step(self.args[0])


class leaky_step(sp.Function):
    """LeakyReLU′(z; α) = 1 if z > 0 else α; unevaluated at 0 (the convention decides)."""

    @classmethod
    def eval(cls, z, slope):
        if z.is_number:
            s = sign(z)
            if s:
                return sp.Integer(1) if s > 0 else slope


class leaky_relu(sp.Function):
    """LeakyReLU(z; α) = z if z > 0 else α z.  ``leaky_relu(z)`` uses α = 1/100."""

    @classmethod
    def eval(cls, z, slope=None):
        if slope is None:
            return leaky_relu(z, LEAKY_DEFAULT_SLOPE)
        if z.is_number:
            return z if sign(z) > 0 else slope * z

    def fdiff(self, argindex=1):
        z = self.args[0]
        if argindex == 2:  # ∂/∂α (α z if z ≤ 0) = z for z ≤ 0, 0 for z > 0: min(z, 0)
            return z - relu(z)
        return leaky_step(z, self.args[1])


ELU_DEFAULT_ALPHA = sp.Integer(1)


class elu_step(sp.Function):
    """ELU′(z; α) = 1 if z > 0 else α e^z — so ELU′(0) = α (PyTorch's convention; for the
    default α = 1 both sides agree and ELU is smooth there)."""

    @classmethod
    def eval(cls, z, alpha):
        if z.is_number:
            return sp.Integer(1) if sign(z) > 0 else alpha * sp.exp(z)


class elu(sp.Function):
    """ELU(z; α) = z if z > 0 else α (e^z − 1).  ``elu(z)`` uses α = 1."""

    @classmethod
    def eval(cls, z, alpha=None):
        if alpha is None:
            return elu(z, ELU_DEFAULT_ALPHA)
        if z.is_number:
            return z if sign(z) > 0 else alpha * (sp.exp(z) - 1)

    def fdiff(self, argindex=1):
        z, alpha = self.args
        if argindex == 2:  # ∂/∂α = e^z − 1 for z ≤ 0, 0 for z > 0: min(e^z − 1, 0)
            return sp.exp(z) - 1 - relu(sp.exp(z) - 1)
        return elu_step(z, alpha)


def softplus(z):
    """softplus(z) = log(1 + e^z), written out: its value keeps that exact form, and its
    derivative e^z / (1 + e^z) = σ(z) comes from the rules of exp and log."""
    return sp.log(1 + sp.exp(z))


class sigmoid(sp.Function):
    """σ(z) = 1/(1 + e^(−z));  σ′(z) = σ(z)(1 − σ(z))."""

    @classmethod
    def eval(cls, z):
        if z.is_number:
            base = 1 + sp.exp(-z)
            if base.is_Number or base.has(sp.I, sp.oo, -sp.oo, sp.zoo, sp.nan):
                return 1 / base
            # the form 1/base would evaluate to, built without SymPy's assumption queries
            # (Add._eval_power asks whether a term is infinite, which evaluates a nested
            # σ(σ(…)) numerically at every level: 1.5 s at depth 12)
            return sp.Pow(base, -1, evaluate=False)

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)


class tie_share(sp.Function):
    """∂max(a₁, …, a_k)/∂a_i at the current values: 1/m if a_i is one of the m arguments
    that tie for the maximum (``top = 1``; the minimum for ``top = −1``), else 0 — so the
    shares always sum to 1 (SymPy's Heaviside form gives ½ to each of three tied arguments)."""

    @classmethod
    def eval(cls, i, top, *args):
        if all(a.is_number for a in args):
            best = sp.Max(*args) if top > 0 else sp.Min(*args)
            tied = [j for j, a in enumerate(args) if sign(a - best) == 0]
            return sp.Rational(1, len(tied)) if int(i) in tied else sp.Integer(0)


class tie_max(sp.Function):
    """max, differentiated with ties split evenly (see ``tie_share``)."""

    @classmethod
    def eval(cls, *args):
        if all(a.is_number for a in args):
            return sp.Max(*args)

    def fdiff(self, argindex=1):
        return tie_share(sp.Integer(argindex - 1), sp.Integer(1), *self.args)


class tie_min(sp.Function):
    """min, differentiated with ties split evenly (see ``tie_share``)."""

    @classmethod
    def eval(cls, *args):
        if all(a.is_number for a in args):
            return sp.Min(*args)

    def fdiff(self, argindex=1):
        return tie_share(sp.Integer(argindex - 1), sp.Integer(-1), *self.args)


def tie_split(expr):
    """``expr`` with max/min differentiable the tutor's way: a k-way tie gives 1/k each."""
    if not isinstance(expr, sp.Basic) or not expr.has(sp.Max, sp.Min):
        return expr
    return expr.replace(sp.Max, lambda *a: tie_max(*a)).replace(sp.Min, lambda *a: tie_min(*a))


def resolve_steps(expr, relu_prime_at_zero=0):
    """Replace ReLU′(0) (and LeakyReLU′(0)) by the exercise's convention."""
    if not isinstance(expr, sp.Basic) or not expr.has(relu_step, leaky_step):
        return expr
    c = sp.sympify(relu_prime_at_zero, strict=True)
    expr = expr.replace(relu_step, lambda z: relu_step(z) if z.free_symbols else c)
    return expr.replace(
        leaky_step, lambda z, a: leaky_step(z, a) if z.free_symbols else (1 if c == 1 else a))


# name -> (min args, max args, builder).  The whole function vocabulary of the grammar.
FUNCTIONS = {
    "relu": (1, 1, relu),
    "leaky_relu": (1, 2, leaky_relu),
    "sigmoid": (1, 1, sigmoid),
    "softplus": (1, 1, softplus),
    "elu": (1, 2, elu),
    "tanh": (1, 1, sp.tanh),
    "exp": (1, 1, sp.exp),
    "log": (1, 1, sp.log),
    "sqrt": (1, 1, sp.sqrt),
    "max": (2, 8, sp.Max),
    "min": (2, 8, sp.Min),
}


# ─── the grammar's spelling of SymPy (what exact_text and the formulas print) ─────────────
class _Printer(StrPrinter):
    def _print_Exp1(self, expr):
        return "exp(1)"

    def _print_Max(self, expr):
        return "max(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_Min(self, expr):
        return "min(%s)" % ", ".join(self._print(a) for a in expr.args)

    def _print_relu_step(self, expr):  # ReLU′, as an expression answer writes it
        return "relu'(%s)" % self._print(expr.args[0])


_PRINTER = _Printer()


def sstr(e) -> str:
    """sympy.sstr with the grammar's spellings: exp(1) for E, max/min for Max/Min."""
    return _PRINTER.doprint(e)
