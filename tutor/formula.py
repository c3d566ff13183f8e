"""A step's formula as a tree over named operands, and the rule behind it as a value.

The engine says *how* a value was computed with a small expression tree whose leaves are
``Operand(name, value)``; words are made from it elsewhere (tutor.words.notation: plain
text with symbols, the same with the numbers in their places, TeX). For example the weight
gradient of a column-layout layer is

    Op("dot", (Operand("δ2", d), Op("T", (Operand("h1", h),))))      # δ2 · h1ᵀ

and a sum at a merge is ``Op("add", (t1, t2))``: trees combine without renumbering holes.
A graph node keeps its author's spelling (``Written``) and a partial worked out by SymPy
stays a SymPy expression (``Sym``), its symbols the operands.

The rule a step used (ReLU′(z) = 1 if z > 0 else 0, ∂v/∂u = 2·c·u + 1, "BCE + sigmoid") is a
``Note``: its kind and fields, never a sentence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterator


@dataclass(frozen=True)
class Operand:
    """A named quantity and its value: ``δ2`` = [-0.2192, 0]. A derivative mask is named by
    the activation's symbol and what it is taken at: ``Operand("z2", m, deriv="ReLU′")``
    reads ReLU′(z2)."""

    name: str
    value: Any = field(compare=False, default=None)
    deriv: str = ""  # φ′'s symbol when the operand is φ′(name)

    @property
    def label(self) -> str:
        return f"{self.deriv}({self.name})" if self.deriv else self.name


@dataclass(frozen=True)
class Const:
    """A number written into a formula: the 2 of 2(ŷ − y), a batch size, ½."""

    value: Any


@dataclass(frozen=True)
class Op:
    """An operation over sub-formulas. ``kind`` is one of OPS; ``fn`` names a call."""

    kind: str
    args: tuple
    fn: str = ""

    def __post_init__(self):
        if self.kind not in OPS:
            raise ValueError(f"unknown formula operation {self.kind!r}")


OPS = {
    "add": "a + b + …",
    "sub": "a − b",
    "neg": "−a",
    "dot": "a · b (a product written with a dot: δ · xᵀ, ∂L/∂v · ∂v/∂u)",
    "juxt": "a b (a product written side by side: W x, y ln ŷ, 2(ŷ − y))",
    "hadamard": "a ⊙ b",
    "div": "a / b",
    "frac": "a/b (tight: −y/ŷ)",
    "square": "(a)²",
    "T": "aᵀ",
    "call": "fn(a, …)",
    "ln": "ln a",
    "sum": "Σ a",
    "batch_sum": "Σ over the batch of a",
    "axis_sum": "sum(a, axis=fn): a summed down each column (0), along each row (1), or all",
    "brackets": "[a]",
}


@dataclass(frozen=True)
class Sym:
    """A SymPy expression whose symbols are operands (2·v − 2·t): a partial SymPy worked out."""

    expr: Any
    operands: tuple[Operand, ...]  # one per symbol, by the symbol's name


@dataclass(frozen=True)
class Written:
    """An author's expression as written (w21*x1 + w22*x2 + b2): text with operands in it."""

    parts: tuple  # str (the author's characters) | Operand


class NoteKind(str, Enum):
    ACTIVATION = "activation"  # φ′ of an activation (fn; alpha: its own α, if any)
    FORWARD = "forward"  # the activation itself: ReLU(z) = max(0, z) (fn; alpha)
    LOSS = "loss"  # the loss's definition (fn)
    LOSS_GRADIENT = "loss_gradient"  # ∂L/∂ŷ of the loss (fn)
    FUSED = "fused"  # sigmoid + bce, softmax + ce: ∂L/∂z = ŷ − y (fn)
    PARTIAL = "partial"  # a node's local partial ∂n/∂p = expr (partial, expr)
    NO_GRADIENT = "no_gradient"  # a parameter no gradient reaches (param)


@dataclass(frozen=True)
class Note:
    kind: NoteKind
    fields: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: NoteKind, **fields: Any) -> "Note":
        return cls(kind, tuple(sorted(fields.items())))

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.fields).get(name, default)


@dataclass(frozen=True)
class Formula:
    """How a value was computed (``tree``) and the rules it used (``notes``)."""

    tree: Any = None  # Operand | Const | Op | Sym | Written; None: no formula to show
    notes: tuple[Note, ...] = ()

    def operands(self) -> tuple[Operand, ...]:
        """The operands in the order they are written."""
        return tuple(walk_operands(self.tree))

    def with_notes(self, *notes: Note) -> "Formula":
        return Formula(self.tree, self.notes + tuple(n for n in notes if n is not None))


def walk_operands(t: Any) -> Iterator[Operand]:
    if isinstance(t, Operand):
        yield t
    elif isinstance(t, Op):
        for a in t.args:
            yield from walk_operands(a)
    elif isinstance(t, Written):
        for p in t.parts:
            if isinstance(p, Operand):
                yield p
    elif isinstance(t, Sym):
        yield from t.operands


# ─── building ───────────────────────────────────────────────────────────────────────────
def op(kind: str, *args: Any, fn: str = "") -> Op:
    return Op(kind, tuple(args), fn)


def combine(formulas: list[Formula]) -> Formula:
    """The formula of a sum at a merge: t₁ + t₂ + …, every term's rules kept."""
    if len(formulas) == 1:
        return formulas[0]
    return Formula(op("add", *(f.tree for f in formulas)),
                   tuple(n for f in formulas for n in f.notes))


# ─── the recipe as a student types it (a formula question's answer, tutor.recipe) ───────
# φ′ by its symbol (tutor.rules.Activation.symbol) → its call in the answer grammar
DERIV_CALLS = {"ReLU′": "relu'", "σ′": "sigmoid'", "tanh′": "tanh'", "softplus′": "softplus'"}
_CALLS = ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "softplus")
_PRODUCT = {"dot": "@", "hadamard": "*", "div": "/", "frac": "/"}  # juxt: @, or * by a number


class Untypable(ValueError):
    """A formula with no spelling in the answer grammar (softmax's Jacobian, LeakyReLU′)."""


def typed(tree: Any, names: "dict[str, str]", batch_axis: int = 1) -> str:
    """The formula in the answer grammar of formula questions, each operand by the name a
    student types for it (``names``: operand name → answer name, δ2 → delta2, ∂L/∂h2 → dh2):

        hadamard(∂L/∂h2, ReLU′(z2))   →  dh2 * relu'(z2)
        dot(δ2, T(h1))                 →  delta2 @ h1.T
        batch_sum(δ1)                  →  sum(delta1, axis=1)     (``batch_axis``)

    ``@`` the matrix product, ``.T`` the transpose, ``*`` elementwise; a product of another
    kind inside a product is bracketed, so the text reads one way only. The spelling of a
    tree, as tutor.functions.sstr spells SymPy: no words. Raises Untypable."""
    return _typed(tree, names, batch_axis)


def _kind(t: Any) -> str:
    if isinstance(t, Op):
        if t.kind == "juxt":
            return "*" if any(isinstance(a, Const) for a in t.args) else "@"
        return {"add": "+", "sub": "+", "neg": "-"}.get(t.kind, _PRODUCT.get(t.kind, "atom"))
    return "atom"


def _typed(t: Any, names: dict, axis: int) -> str:
    def sub(x, parent: str, right: bool = False) -> str:
        k = _kind(x)
        text = _typed(x, names, axis)
        if k == "atom":
            return text
        if parent in ("@", "*", "/"):  # (a + b) * c, (W.T @ d) * m, a / (b * c)
            if k in ("+", "-") or right or k != parent:
                return f"({text})"
            return text
        if parent == "+" and right and k == "+":  # a - (b + c)
            return f"({text})"
        if parent in ("-", "T"):
            return f"({text})"
        return text

    if isinstance(t, Operand):
        if t.name not in names:
            raise Untypable(t.name)
        if t.deriv:
            if t.deriv not in DERIV_CALLS:
                raise Untypable(t.deriv)
            return f"{DERIV_CALLS[t.deriv]}({names[t.name]})"
        return names[t.name]
    if isinstance(t, Const):
        return "1/2" if t.value == "½" else str(t.value)
    if not isinstance(t, Op):
        raise Untypable(type(t).__name__)
    k, a = t.kind, t.args
    if k == "add":
        return " + ".join(sub(x, "+", i > 0) if _kind(x) != "+" else _typed(x, names, axis)
                          for i, x in enumerate(a))
    if k == "sub":
        return f"{sub(a[0], '+')} - {sub(a[1], '+', True)}"
    if k == "neg":
        return f"-{sub(a[0], '-')}"
    if k in _PRODUCT or k == "juxt":
        sym = _kind(t)
        return f" {sym} ".join(sub(x, sym, i > 0) for i, x in enumerate(a))
    if k == "T":
        return f"{sub(a[0], 'T')}.T"
    if k == "square":
        return f"{sub(a[0], 'T')}**2"
    if k == "brackets":
        return f"({_typed(a[0], names, axis)})"
    if k == "ln":
        return f"log({_typed(a[0], names, axis)})"
    if k == "batch_sum":
        return f"sum({_typed(a[0], names, axis)}, axis={axis})"
    if k == "axis_sum":
        inner = _typed(a[0], names, axis)
        return f"sum({inner}, axis={t.fn})" if t.fn else f"sum({inner})"
    if k == "sum":
        return f"sum({_typed(a[0], names, axis)})"
    if k == "call" and t.fn in _CALLS:
        return f"{t.fn}({', '.join(_typed(x, names, axis) for x in a)})"
    raise Untypable(t.fn or k)
