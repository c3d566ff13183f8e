"""Why an entry is zero, as a value (issue 11: meaning before words).

A backward or forward rule that produces a zero says why with a ``Cause``: its kind, the
quantity and entry it is about, the number that decides it, and the cause it comes from —
a zero weight gradient *because* δ is zero *because* the ReLU is dead:

    Cause(Kind.NO_ERROR_SIGNAL, "δ2", (1, 0), (2, 1), unit=2,
          because=Cause(Kind.DEAD_RELU, "z2", (1, 0), (2, 1), value=-17/100, derivative=True))

Words are made from it in one place (tutor.words.say: "no error signal reaches unit 2:
δ2[2] = 0 (dead ReLU: z2[2] = -0.17 < 0, so ReLU′ = 0)"; tutor.words.point: the same cause
as a hint that does not give the value away), and JSON carries it as data
(tutor.words.record: {"kind", "subject", "entry", "value", "because"}). Nothing reads a
cause back out of its words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Kind(str, Enum):
    DEAD_RELU = "dead_relu"  # z < 0 (subject z, value z)
    RELU_BOUNDARY = "relu_boundary"  # z = 0 exactly (value: the exercise's ReLU′(0), backward)
    ZERO_DERIVATIVE = "zero_derivative"  # φ′(z) = 0 for another activation (symbol)
    ZERO_VALUE = "zero_value"  # the subject is 0 (an input, a node's value)
    ZERO_FACTOR = "zero_factor"  # a factor of a product is 0
    ZERO_PRODUCTS = "zero_products"  # every product W·x and the bias are 0 (weights, inputs)
    ZERO_INPUT = "zero_input"  # a zero input or activation feeds this weight (source)
    NO_ERROR_SIGNAL = "no_error_signal"  # the unit's δ is 0 over the batch (unit)
    ZERO_UPSTREAM = "zero_upstream"  # the gradient arriving is 0 (reaches: the name of what it
    # reaches, at the same entry)
    ZERO_EVERYWHERE = "zero_everywhere"  # the whole upstream gradient is 0
    ZERO_WEIGHTS = "zero_weights"  # every weight out of an input is 0 (weights)
    SILENT_UNITS = "silent_units"  # weights lead only to units with zero error signal
    ZERO_PARTIAL = "zero_partial"  # a local derivative ∂n/∂p is 0 here (partial, formula)
    ZERO_TERMS = "zero_terms"  # every term of a sum is 0 (parts; or formula, numbers)
    ZERO_FORMULA = "zero_formula"  # the node's formula evaluates to 0 (formula, numbers)
    EXACT_PREDICTION = "exact_prediction"  # ŷ = y: the loss gradient is 0 (target: its name,
    # at the same entry)
    CANCELLATION = "cancellation"  # non-zero parts cancel (over: what cancels)
    UNUSED_ENTRY = "unused_entry"  # a node takes other entries only (used: what it takes)
    POOL_LOSER = "pool_loser"  # not the max of its pooling window (value; winner, best)
    MASKED = "masked"  # the first token attends to itself only: a softmax of one entry
    # (token), whose derivative is 0
    SEVERAL = "several"  # a sum of contributions, each 0 for its own reason (parts)


class Over(str, Enum):
    """What cancels, for ``Kind.CANCELLATION``."""

    PRODUCTS_AND_BIAS = "products_and_bias"  # z = Σ W·x + b (terms: the numbers)
    BATCH = "batch"  # ∂L/∂W over the examples of a batch
    BATCH_SIGNALS = "batch_signals"  # ∂L/∂b = Σ δ over the batch
    PASS_BACK = "pass_back"  # Wᵀ δ (weights)
    SOFTMAX_JACOBIAN = "softmax_jacobian"
    TERMS = "terms"  # a node's sum u + w (formula, numbers)
    CONTRIBUTIONS = "contributions"  # at a merge: the gradients that meet (terms)


@dataclass(frozen=True)
class Cause:
    kind: Kind
    subject: Any = ""  # the quantity it is about: a name ("z2", "δ3", "x") or, inside a
    # graph node, a SymPy expression (the w1*x of relu(w1*x))
    entry: tuple = ()  # 0-based (row, col) in the subject; () for a scalar
    shape: tuple | None = None  # the subject's shape, to name the entry (z2[2])
    value: Any = None  # the number that decides it: z2[2] = −0.17; ReLU′(0)'s convention
    because: "Cause | None" = None  # the cause this one comes from
    parts: tuple["Cause", ...] = ()  # SEVERAL / ZERO_TERMS: the causes that meet
    detail: tuple[tuple[str, Any], ...] = field(default=())  # kind-specific, see Kind

    @classmethod
    def of(cls, kind: Kind, subject: str = "", entry: tuple = (), shape: tuple | None = None,
           value: Any = None, because: "Cause | None" = None, parts: tuple = (),
           **detail: Any) -> "Cause":
        """A cause with its kind-specific fields as keywords: ``unit=2``, ``over=Over.BATCH``."""
        return cls(kind, subject, tuple(entry), shape, value, because, tuple(parts),
                   tuple(sorted(detail.items())))

    def get(self, name: str, default: Any = None) -> Any:
        return dict(self.detail).get(name, default)

    def chain(self) -> list["Cause"]:
        """This cause and the ones it comes from, nearest first."""
        out, c = [], self
        while c is not None:
            out.append(c)
            c = c.because
        return out


def entry_name(name: str, idx: tuple, shape: tuple | None) -> str:
    """'z2[2]' for vectors (1-based), 'W2[1,2]' for matrices, 'u' for scalars."""
    if not idx or shape is None or shape == (1, 1):
        return name
    i, j = idx
    if shape[1] == 1:
        return f"{name}[{i + 1}]"
    if shape[0] == 1:
        return f"{name}[{j + 1}]"
    return f"{name}[{i + 1},{j + 1}]"
