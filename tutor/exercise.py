"""Exercise files: the typed model (one definition for the loader *and* ``tutor schema``).

    YAML text ──yamlio (safe, positions)──▶ plain data ──pydantic──▶ Spec ──▶ Exercise

Numbers stay exact: YAML ``0.1`` arrives as ``Decimal('0.1')`` and becomes ``Rational(1, 10)``;
a quoted value such as ``"6 + log(1 + sqrt(2))"`` goes through our own parser (tutor.expr).
Every validation error is reported at the ``file:line:col`` of the offending value.

The models are *strict*, so the loader accepts exactly what the JSON Schema (``tutor schema``,
made from these same models) accepts: ``true`` is not the number 1, ``"1"`` is not the whole
number 1 (format_version, tries, decimals), ``"yes"`` is not a boolean.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter,
                      ValidationError, field_validator, model_validator)

from tutor import FORMAT_VERSION
from tutor.errors import ExerciseError, InputError, visible

# A number in a file: an integer, an exact decimal, or an expression in quotes ("1/3").
Num = Union[int, Decimal, str]
Vector = list[Num]
Matrix = list[list[Num]]
# A network's size (E211, author_errors): every vector or matrix of a network at most
# MAX_SIDE long each way (the schema says so too: editors flag a 65th entry), and its
# parameters × examples × iterations at most MAX_NETWORK — far beyond a hand computation
# (the bundled exercises have at most 35 parameters), and solved in about 3 s at worst.
MAX_SIDE = 64
MAX_NETWORK = 1_000
_SIDE = {"maxItems": MAX_SIDE}
NVector = Annotated[list[Num], Field(json_schema_extra=_SIDE)]
NMatrix = Annotated[list[NVector], Field(json_schema_extra=_SIDE)]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "elu", "softplus", "sigmoid", "tanh",
               "softmax")  # tutor.rules.ACTIVATIONS has each one's φ and φ′ (and softmax)
LOSSES = ("mse", "sse", "half_sse", "bce", "ce")
PHASES = ("forward", "formulas", "backward", "inputs", "update")  # formulas: networks only
MAX_EXPONENT = 100  # a file number such as 1e999999999 is refused, not expanded
# what YAML 1.1 would read as booleans and YAML 1.2 (tutor.yamlio, and editors) reads as text
YAML11_BOOLEANS = ("yes", "no", "on", "off")


class _Model(BaseModel):
    # strict: no coercion (true → 1, "1" → 1, "yes" → True), exactly as the JSON Schema says
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _whole(value: Any) -> Any:
    """A whole number as the JSON Schema's ``integer`` means it: ``4`` and ``4.0`` (an
    integral decimal), never ``true`` (pydantic's Literal[0, 1] takes True == 1 even when
    strict) nor ``"4"``. Out-of-range exponents never get here (spec_errors)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number, not {'true' if value else 'false'} "
                         "(true and false are not numbers)")
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


# a whole number in a file (format_version, decimals, tries …): see _whole


def whole(**bounds) -> Any:
    """A whole number within ``bounds`` (ge, le): the bounds before the validator, so the
    JSON Schema says minimum/maximum (after it, pydantic would write raw ge/le)."""
    return Annotated[int, Field(**bounds), BeforeValidator(_whole)]


Whole = whole()


def _given(*keys: str) -> dict:
    """JSON Schema: every one of ``keys`` is there and not null."""
    return {"required": list(keys), "properties": {k: {"not": {"type": "null"}} for k in keys}}


class ToleranceSpec(_Model):
    """How close an answer must be: one of ``decimals: d`` (|answer − exact| ≤ 10⁻ᵈ),
    ``sig: n`` (n significant digits) or ``abs``/``rel`` (|answer − exact| ≤ abs +
    rel·|exact|, both ≥ 0, not both 0). The rules the types cannot say are checked by
    :func:`author_errors` (E014–E016) and said here for editors."""

    model_config = ConfigDict(json_schema_extra={
        # E016: one kind of tolerance (decimals would silently win over sig, abs and rel)
        "not": {"anyOf": [_given("decimals", "sig"), _given("decimals", "abs"),
                          _given("decimals", "rel"), _given("sig", "abs"),
                          _given("sig", "rel")]},
        # E015: something other than exact equality (abs and rel both 0 accept nothing
        # but the exact value: every decimal answer of σ, exp or log would be wrong)
        "anyOf": [_given("decimals"), _given("sig"),
                  {"required": ["abs"], "properties": {"abs": {"not": {"enum": [0, None]}}}},
                  {"required": ["rel"], "properties": {"rel": {"not": {"enum": [0, None]}}}}]})

    decimals: Optional[whole(ge=0, le=30)] = Field(None, description=(
        "d decimals: |answer − exact| ≤ 10⁻ᵈ (4: within 0.0001)"))
    sig: Optional[whole(ge=1, le=30)] = Field(None, description=(
        "n significant digits: |answer − exact| ≤ 5·10⁻ⁿ·|exact|"))
    rel: Optional[Num] = Field(None, json_schema_extra={"minimum": 0},
                               description="relative tolerance (≥ 0): |error| ≤ rel·|exact|")
    abs: Optional[Num] = Field(None, json_schema_extra={"minimum": 0},
                               description="absolute tolerance (≥ 0), added to rel·|exact|")


class Conventions(_Model):
    relu_prime_at_zero: Annotated[Literal[0, 1], BeforeValidator(_whole)] = Field(
        0, description="ReLU′(0): 0 (the usual choice; SymPy's Heaviside(0) = ½ is never used) or 1")
    maxpool_tie: Optional[Literal["first"]] = Field(
        None, description="a 2×2 max-pool window whose largest entry is not alone gives its "
        "gradient to the first of them, row by row (as PyTorch does): `first` says so to the "
        "student (under the drawing) and acknowledges the tie, which `tutor validate` "
        "otherwise warns of (W309)")


class Layer(_Model):
    # E019: a slope only with activation leaky_relu, alpha only with elu (the default
    # activation is identity)
    model_config = ConfigDict(json_schema_extra={"allOf": [
        {"if": {"properties": {"activation": {"not": {"const": "leaky_relu"}}}},
         "then": {"properties": {"slope": {"type": "null"}}}},
        {"if": {"properties": {"activation": {"not": {"const": "elu"}}}},
         "then": {"properties": {"alpha": {"type": "null"}}}}]})

    W: NMatrix = Field(description="column layout: (out, in); row layout: (in, out)")
    b: Union[NVector, Num] = Field(description="one bias per output unit")
    activation: Literal[ACTIVATIONS] = Field("identity", description=(
        "φ in h = φ(z): identity (the default), relu, leaky_relu (slope), elu (alpha), "
        "softplus, sigmoid, tanh, softmax (over two or more units; loss ce needs a softmax "
        "output)"))
    slope: Optional[Num] = Field(None, description="leaky_relu slope α (default 0.01)")
    alpha: Optional[Num] = Field(None, description="elu's α: ELU(z) = α (e^z − 1) for z ≤ 0 "
                                 "(default 1)")


class NetworkIteration(_Model):
    input: Optional[Union[NVector, NMatrix]] = Field(None, description=(
        "this step's input (left out: the exercise's own), of the same shape"))
    target: Optional[Union[Num, NVector, NMatrix]] = Field(None, description=(
        "this step's target (left out: the exercise's own)"))


class Draw(_Model):
    """How one value of a variant is drawn: ``{choice: […]}`` (one of the listed values, which
    may be vectors or matrices) or ``{range: [lo, hi], step: s}`` (lo, lo + s, …, up to hi;
    default step 1), optionally with ``exclude: […]``. Every value is exact."""

    # the same rule as _one_kind, in the JSON Schema (editors, `tutor schema`)
    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["choice"]}, {"required": ["range"]}],
        "if": {"required": ["choice"]},
        "then": {"properties": {"step": {"type": "null"}, "exclude": {"maxItems": 0}}}})

    choice: Optional[list[Union[Num, Vector, Matrix]]] = Field(
        None, min_length=1, max_length=1000, description=(
            "the values to pick from (numbers, vectors or matrices of the replaced value's "
            "shape)"))
    range: Optional[list[Num]] = Field(None, min_length=2, max_length=2,
                                       description="[lo, hi], both included")
    step: Optional[Num] = Field(None, description="grid step of a range (default 1)")
    exclude: list[Num] = Field([], max_length=100, description="values a range never gives")

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.choice is None) == (self.range is None):
            raise ValueError("a draw is either {choice: [...]} or {range: [lo, hi], step: s}")
        if self.choice is not None and (self.step is not None or self.exclude):
            raise ValueError("step and exclude go with range, not choice")
        return self


class Require(_Model):
    """Conditions every variant must meet (rejection sampling)."""

    dead_relu: list[Union[Whole, str]] = Field(
        [], description="at least one dead ReLU (z < 0) in each listed layer (network, 1-based) "
                        "or node whose expression applies relu (graph)")
    no_relu_at_zero: bool = Field(False, description="no ReLU input exactly 0 (the convention "
                                                     "would decide the answer)")
    max_decimals: Optional[whole(ge=0, le=12)] = Field(None, description=(
        "every rational answer (entry) terminates within this many decimals; irrational "
        "answers (σ, log, exp) are exempt"))
    distinguishable: Union[bool, list[str]] = Field(False, description=(
        "true: every catalogued misconception gives a wrong answer somewhere it is caught; "
        "a list: only these misconception ids"))
    keep_relu_signs: bool = Field(False, description=(
        "every ReLU input has the sign it has with the base values (dead where the base is "
        "dead, exactly 0 where it is 0, active where it is active), in every iteration"))
    keep_zeros: bool = Field(False, description=(
        "the answer entries that are 0 with the base values are 0, and no others: a dead "
        "unit, a zero input or an exact prediction stays what the exercise is about"))


class Variants(_Model):
    """Randomized variants: ``draw`` maps a path (``layers[0].W[1][0]``, ``input``, a graph
    param name ``a``) to how its value is drawn; ``require`` the conditions; ``tries`` bounds
    the rejection sampling."""

    draw: dict[str, Draw] = Field(min_length=1, max_length=200, description=(
        "path → how its value is drawn: input, input[1], target, layers[0].W[1][0], "
        "layers[1].b, iterations[1].input; in a graph a parameter, input or constant name"))
    require: Require = Field(Require(), description="the conditions every variant meets "
                             "(draws that fail them are drawn again)")
    tries: whole(ge=1, le=5000) = Field(200, description=(
        "draws per seed before giving up (E045); a count, so a seed's variant is the same on "
        "every machine"))


# the verdicts a question test may expect (tutor.compare.STATUSES but missing), besides a
# misconception id (tutor validate checks the id against the catalogue: E050)
TEST_VERDICTS = ("correct", "wrong", "follow_through", "invalid")
Answer = Union[Num, NVector, NMatrix]  # as a student writes it: 0.25, "-3/8", [0.1, 0]


def _seed_value(value: Any) -> Any:
    """A test's seed: a whole number, all, or left out (one message for anything else)."""
    if value is None or value == "all":
        return value
    value = _whole(value)
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a whole number ≥ 0 or all, not {shown(value)}"
                         f"{close_word(value, ['all'])}")
    return value


class AnswerTest(_Model):
    """A question test (as STACK's): an answer to one step and the verdict tutor must give
    it, checked by ``tutor validate`` at the base values, at one variant (``seed: 3``) or at
    every variant validate draws (``seed: all``)."""

    step: str = Field(description=(
        "the step answered, by its id as `tutor template` lists it (z1, delta2, dW2, db1, "
        "W1_new, L …): one of the steps asked"))
    answer: Answer = Field(description=(
        'the answer as a student writes it: 0.25, "-3/8", "1/(1+exp(-2))", [0.1, 0] or '
        '[[0.5, 0], [0, 0]]'))
    expect: str = Field(json_schema_extra={"examples": list(TEST_VERDICTS)}, description=(
        "the verdict tutor must give: correct; wrong; follow_through (wrong, but right given "
        "the answers in given); invalid (does not parse, or the wrong shape); or a "
        "misconception id (no-relu-mask …): wrong, and diagnosed as that mistake"))
    seed: Annotated[Optional[Union[Annotated[int, Field(ge=0)], Literal["all"]]],
                    BeforeValidator(_seed_value)] = Field(None, description=(
        "which numbers: left out, the base values; a number, that variant (--seed N); all, "
        "the base values and every variant tutor validate draws (seed 0, or 0 … N−1 with "
        "--variants N)"))
    given: dict[str, Answer] = Field({}, max_length=100, description=(
        "the student's answers to other steps (step id → answer): follow-through is judged "
        "from them"))


class _Common(_Model):
    format_version: whole(ge=1, le=FORMAT_VERSION) = Field(1, description=(
        "the version of this format the file is written in (this tutor reads 1)"))
    extends: Optional[str] = Field(None, min_length=1, description=(
        "another exercise this one is made from: a file (base.yaml, relative to this file) or "
        "a bundled exercise id (lab9-relu-sigmoid-bce). Give only what changes, with your own "
        "id and the same kind: a mapping merges key by key (params, nodes, variants …), a "
        "list or a number replaces the base's, key: ~ removes the base's key; tolerance and "
        "each draw are replaced whole; title is not inherited"))
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80, description=(
        "the exercise id (letters, digits, '-', '_', '.'): what `tutor practice ID` and "
        "answer sheets name it by"))
    title: str = Field("", description="one line shown above the exercise (else its id)")
    source: Optional[str] = Field(None, description="where the exercise comes from (a "
                                  "course, a lab, a book), shown with the solution")
    notes: Optional[str] = Field(None, description="free text printed with the worked "
                                 "solution (tutor solve, the Markdown key)")
    learning_rate: Optional[Num] = Field(
        None, json_schema_extra={"minimum": 0},
        description="the SGD step size η (> 0; 0 is a warning: the update changes nothing)")
    ask: list[Literal["forward", "backward", "inputs", "update"]] = Field(
        ["backward"], json_schema_extra={"minItems": 1},
        description="the phases asked (at least one): forward (every value), backward (every "
                    "gradient), inputs (∂L/∂input), update (each parameter after one SGD "
                    "step); default [backward]")
    tolerance: Optional[ToleranceSpec] = Field(None, description=(
        "how close an answer must be: {decimals: d}, {sig: n}, or {abs: …, rel: …}; default "
        "4 decimals"))
    conventions: Conventions = Field(Conventions(), description=(
        "choices the mathematics leaves open (ReLU′ at 0)"))
    variants: Optional[Variants] = Field(None, description="randomized variants per student")
    tests: list[AnswerTest] = Field([], max_length=200, description=(
        "question tests: answers and the verdict tutor must give each, checked by tutor "
        "validate (at every variant with --variants N)"))

    @field_validator("title", "source", "notes")
    @classmethod
    def _shown(cls, v: Optional[str], info) -> Optional[str]:
        """An author's text is shown on terminals and written into sheets: its control and
        bidirectional characters become visible escapes here, once (notes keep their lines)."""
        if v is None:
            return None
        return visible(v, lines=True) if info.field_name == "notes" else visible(v.strip("\n"))


class NetworkSpec(_Common):
    kind: Literal["network"] = Field(description="network: layers of units (W, b, "
                                     "activation); graph: a computation graph of named nodes")
    layout: Literal["column", "row"] = Field("column", description=(
        "column: z = W x + b, W is outputs × inputs, a batch has one example per column; "
        "row: z = x W + b, W is inputs × outputs, one example per row"))
    input: Union[NVector, NMatrix] = Field(
        description="a vector, or a batch: one example per column (row layout: per row)")
    target: Union[Num, NVector, NMatrix] = Field(description=(
        "what the output should be, in the output's shape; with loss ce a single example's "
        "target may be a class index (0-based), a batch's is a one-hot matrix"))
    layers: list[Layer] = Field(min_length=1, max_length=12, description=(
        "the layers from the input to the output, each {W, b, activation}"))
    loss: Literal["mse", "sse", "half_sse", "bce", "ce"] = Field(description=(
        "mse (the mean of the squared errors), sse (their sum), half_sse (½·their sum), bce "
        "(binary cross-entropy, a sigmoid output), ce (cross-entropy, a softmax output)"))
    iterations: Optional[list[NetworkIteration]] = Field(None, max_length=10, description=(
        "successive SGD steps, each from the parameters the previous one left, with its "
        "own input and/or target (left out: the exercise's own)"))
    ask: list[Literal["forward", "formulas", "backward", "inputs", "update"]] = Field(
        ["backward"], json_schema_extra={"minItems": 1},
        description="the phases asked (at least one): forward (every value), formulas (the "
                    "backward recipe itself: each backward step's formula in the network's "
                    "names, δ2 = (W3.T @ delta3) * relu'(z2), ∂L/∂W2 = delta2 @ h1.T; "
                    "docs/symbolic.md), backward (every gradient), inputs (∂L/∂input), "
                    "update (each parameter after one SGD step); default [backward]")


ASSUMPTIONS = ("real", "positive", "negative", "nonzero")  # what a symbol may be said to be


class SymbolSpec(_Model):
    """A name left as a symbol, with what is known of it: ``{symbol: positive}``."""

    symbol: Literal[ASSUMPTIONS] = Field(
        description="what the symbol is known to be: real (the default), positive, negative "
                    "or nonzero")


# a leaf of a graph exercise: a number, or a symbol (``x: symbol`` — every value and gradient
# is then an exact expression in it; ``x: {symbol: positive}`` with an assumption)
Leaf = Union[Literal["symbol"], SymbolSpec, Num, NVector, NMatrix]  # a list: a tensor graph


class GraphSpec(_Common):
    kind: Literal["graph"] = Field(description="graph: a computation graph of named nodes; "
                                   "network: layers of units (W, b, activation)")
    inputs: dict[str, Leaf] = Field({}, description=(
        "name → value of the data, never updated (its gradient is asked with ask: [inputs]): "
        "a number, symbol, {symbol: positive}, a vector [1, 2] (a column) or a matrix [[1, 2], "
        "[3, 4]] (rows)"))
    params: dict[str, Leaf] = Field(min_length=1, description=(
        "name → value of each trainable parameter (its gradient is asked, it is updated): a "
        "number, symbol, {symbol: positive}, a vector (a column) or a matrix (rows)"))
    constants: dict[str, Leaf] = Field({}, description=(
        "name → value of each constant (λ, a target y …): neither asked nor updated; a "
        "number, symbol, {symbol: positive}, a vector (a column) or a matrix (rows)"))
    nodes: dict[str, Union[str, int, Decimal]] = Field(min_length=1, max_length=200,
                                                       description=(
        "name → expression in the inputs, params, constants and other nodes (+ - * / **, "
        "relu, sigmoid, tanh, exp, log, sqrt, max, min …), in any order; they form a DAG. With "
        "vectors or matrices: @, .T, x[i], x[i, j] (from 0), sum/mean(x, axis=0|1), softmax, "
        "log_softmax, cross_entropy(z, y), elementwise + - * / ** with broadcasting"))
    loss: str = Field(description="the node that is the loss (a scalar)")
    iterations: Optional[list[dict[str, Union[Num, NVector, NMatrix]]]] = Field(
        None, max_length=10, description=(
        "successive SGD steps, each from the parameters the previous one left: the inputs "
        "and constants each one sets (name → value)"))


Spec = Annotated[Union[NetworkSpec, GraphSpec], Field(discriminator="kind")]
SPEC = TypeAdapter(Spec)


@dataclass(frozen=True)
class Exercise:
    """A validated exercise: the typed spec, where it came from, and its positions."""

    spec: NetworkSpec | GraphSpec
    file: str
    doc: Any = field(repr=False)  # tutor.yamlio.Document: marks for file:line:col
    sha: str = ""  # content hash, recorded in answer sheets
    # the hash of the file's text, which sheets and saved attempts recorded before ``sha``
    # became a hash of the content: still this exercise (16 hex digits; "" when unknown)
    text_sha: str = ""
    # the variants drawn from this exercise, by seed (tutor.variants.realize): each drawn,
    # solved and checked once per loaded exercise
    drawn: dict = field(default_factory=dict, repr=False, compare=False)

    # the hash of what decides the answers (the content without title, source, notes,
    # tolerance and misconceptions): what a blank sheet records, so that editing the
    # tolerance or a title does not make every sheet "stale"
    math_sha: str = ""
    # its variants are fresh numbers made from its own (tutor.fresh), not an author's block
    fresh: bool = False

    def is_version(self, sha: str) -> bool:
        """Whether a recorded hash (a sheet's, a saved attempt's) names this exercise."""
        return bool(sha) and sha in (self.sha, self.text_sha, self.math_sha)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def symbolic(self) -> bool:
        """A graph exercise with a leaf left as a symbol (``x: symbol``): its values are
        expressions, its answers too (docs/symbolic.md); nothing in it can be drawn."""
        if self.spec.kind != "graph":
            return False
        leaves = [*self.spec.params.values(), *self.spec.inputs.values(),
                  *self.spec.constants.values()]
        return any(v == "symbol" or isinstance(v, SymbolSpec) for v in leaves)

    @property
    def tensor(self) -> bool:
        """A graph exercise with a vector or matrix among its leaves: its nodes are written
        in the tensor grammar (tutor.tensorexpr) and its values are matrices (issue 13)."""
        if self.spec.kind != "graph":
            return False
        leaves = [*self.spec.params.values(), *self.spec.inputs.values(),
                  *self.spec.constants.values()]
        return any(isinstance(v, list) for v in leaves)

    def error(self, message: str, path: tuple = (), cls=ExerciseError, code="E100") -> InputError:
        """An error located at ``path`` inside this file."""
        m = self.doc.mark(path) if self.doc is not None else None
        return cls(message, (m.file if m else None) or self.file, m.line if m else None,
                   m.col if m else None, code=code)


def number(value: Any, where: str = "") -> "Any":
    """A file number as an exact SymPy value: int/Decimal exactly, strings via our parser."""
    import sympy as sp

    if isinstance(value, bool):
        raise ExerciseError(f"{where}: expected a number, got {value!r}".lstrip(": "))
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value.adjusted()) > MAX_EXPONENT:
            raise ExerciseError(f"{where}: the number {value} is out of range "
                                f"(|exponent| ≤ {MAX_EXPONENT})".lstrip(": "), code="E013")
        f = Fraction(value)
        return sp.Rational(f.numerator, f.denominator)
    if isinstance(value, str):
        from tutor.expr import parse_expression

        return parse_expression(value, {})
    raise ExerciseError(f"expected a number, got {type(value).__name__}")


def _pretty_loc(loc: tuple, data: Any = None) -> tuple:
    """Drop pydantic's union/discriminator tags from an error location.

    With ``data``, a part is kept only where it names a key or index that is really there
    (so a draw path such as ``layers[0].W[1][0]`` is kept, a tag such as ``list[int]`` is
    not); the last part is always kept for a missing or unknown key."""
    if data is not None:
        out, cur = [], data
        for k, part in enumerate(loc):
            if isinstance(cur, dict) and part in cur:
                out.append(part)
                cur = cur[part]
            elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
                out.append(part)
                cur = cur[part]
            elif k == len(loc) - 1 and isinstance(part, str) and isinstance(cur, dict) and \
                    _NAMEISH.fullmatch(part):
                out.append(part)  # a missing key
        return tuple(out)
    out = []
    for part in loc:
        if isinstance(part, str) and (part in ("network", "graph") and not out) :
            continue
        if isinstance(part, str) and ("[" in part or part in ("int", "str", "decimal", "list")):
            continue
        out.append(part)
    return tuple(out)


_NAMEISH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ALL_KEYS: dict[str, str] = {}  # key → where it belongs (for "did you mean" across levels)


def _where_keys() -> dict[str, str]:
    if not _ALL_KEYS:
        for cls, where in ((NetworkSpec, "a network exercise (kind: network)"),
                           (GraphSpec, "a graph exercise (kind: graph)"),
                           (Layer, "a layer (under layers:)"),
                           (ToleranceSpec, "tolerance:"), (Conventions, "conventions:"),
                           (Variants, "variants:"), (Draw, "a draw (under variants.draw)"),
                           (Require, "variants.require:")):
            for k in cls.model_fields:
                _ALL_KEYS.setdefault(k, where)
    return _ALL_KEYS


SYNONYMS = {"alpha": "slope", "negative_slope": "slope", "lr": "learning_rate",
            "eta": "learning_rate", "act": "activation", "weights": "W", "weight": "W",
            "bias": "b", "biases": "b", "targets": "target", "y": "target", "x": "input",
            "inputs": "input", "epochs": "iterations", "steps": "iterations", "graph": "nodes"}


def did_you_mean(key: str, allowed: list[str]) -> str:
    """' (did you mean 'x'?)', a hint that the key belongs elsewhere, or the allowed keys."""
    low = {a.lower(): a for a in allowed}
    if SYNONYMS.get(key.lower()) in allowed:  # another tool's word for one of ours
        return f" (did you mean '{SYNONYMS[key.lower()]}'?)"
    if key.lower() in low:
        return f" (did you mean '{low[key.lower()]}'? keys are case-sensitive)"
    hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if not hint:
        near = difflib.get_close_matches(key.lower(), list(low), n=1, cutoff=0.6)
        hint = [low[near[0]]] if near else []
    elsewhere = _where_keys().get(key)
    if elsewhere:
        also = f"; did you mean '{hint[0]}'?" if hint else ""
        return f" ('{key}' belongs in {elsewhere}, not here{also})"
    if hint:
        return f" (did you mean '{hint[0]}'?)"
    return f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""


# other tools' words for one of our values (activation, loss, layout, ask): "did you mean"
WORD_SYNONYMS = {"linear": "identity", "none": "identity", "id": "identity",
                 "logistic": "sigmoid", "lrelu": "leaky_relu", "leakyrelu": "leaky_relu",
                 "prelu": "leaky_relu", "cross_entropy": "ce", "crossentropy": "ce",
                 "categorical_crossentropy": "ce", "categorical_cross_entropy": "ce",
                 "softmax_cross_entropy": "ce", "nll": "ce", "binary_cross_entropy": "bce",
                 "binary_crossentropy": "bce", "log_loss": "bce", "logloss": "bce",
                 "mean_squared_error": "mse", "squared_error": "sse",
                 "sum_squared_error": "sse", "l2": "half_sse", "columns": "column",
                 "col": "column", "rows": "row", "backwards": "backward",
                 "backprop": "backward", "forwards": "forward", "updates": "update",
                 "sgd": "update", "input": "inputs", "follow-through": "follow_through",
                 "followthrough": "follow_through", "right": "correct", "incorrect": "wrong"}


def close_word(value: Any, allowed: list[str]) -> str:
    """' (did you mean 'sigmoid'?)' for a misspelt word (difflib, then case, then another
    tool's word for it), or ''."""
    if not isinstance(value, str) or not allowed or value in allowed:
        return ""
    low = {a.lower(): a for a in allowed}
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    near = [low[key]] if key in low else difflib.get_close_matches(value, allowed, n=1,
                                                                   cutoff=0.6)
    if not near:
        near = [low[m] for m in difflib.get_close_matches(key, list(low), n=1, cutoff=0.6)]
    if not near and WORD_SYNONYMS.get(key) in allowed:
        near = [WORD_SYNONYMS[key]]
    return f" (did you mean '{near[0]}'?)" if near else ""


def _literal_hint(err: dict) -> str:
    """The did-you-mean of a word outside a ``Literal`` (pydantic's ctx lists the words)."""
    allowed = re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", "")))
    return close_word(err.get("input"), allowed)


def _message(err: dict, spec_cls, data: Any = None) -> str:
    loc = _pretty_loc(err["loc"], data)
    name = ".".join(str(p) for p in loc) or "file"
    if err["type"] == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        parent = _fields_at(spec_cls, loc[:-1])
        return f"unknown key '{key}'{did_you_mean(key, parent)}"
    if err["type"] == "missing":
        return f"missing required key '{loc[-1] if loc else name}'"
    if err["type"] == "literal_error":
        return (f"{name}: {err['msg'].replace('Input should be', 'must be')}, "
                f"not {shown(err['input'])}{_literal_hint(err)}")
    own = _OWN_WORDS.get(err["type"])
    if own is not None:
        return (f"{name}: {own.format(**err.get('ctx', {}))}, not {shown(err.get('input'))}"
                f"{_hint(err.get('input'), err['type'])}")
    msg = err["msg"].removeprefix("Value error, ")
    return f"{name}: {msg}"


# pydantic's messages in the project's own voice ("Input should be a valid string" …)
_OWN_WORDS = {"string_type": "must be text", "int_type": "must be a whole number",
              "int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
              "too_short": "must have at least {min_length} item(s)",
              "too_long": "must have at most {max_length} items",
              "greater_than_equal": "must be ≥ {ge}", "greater_than": "must be > {gt}",
              "less_than_equal": "must be ≤ {le}", "less_than": "must be < {lt}",
              "bool_type": "must be true or false", "list_type": "must be a list",
              "dict_type": "must be a mapping (key: value)"}


def shown(value: Any) -> str:
    """A value from the file as its author wrote it: 0.5, not Decimal('0.5'); true, not True."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, dict)) and len(repr(value)) > 40:
        return repr(value)[:37] + "..."
    return repr(value) if isinstance(value, str) else str(value)


def _hint(value: Any, kind: str = "") -> str:
    """Why a value that looks like a number (or a boolean, or text) is not one (strict
    models, as the schema); ``kind``: the pydantic error type."""
    if kind == "bool_type" and isinstance(value, str) and value.lower() in YAML11_BOOLEANS:
        return (" (yes, no, on and off are text in YAML 1.2, as editors read them: write true "
                "or false)")
    if isinstance(value, bool) and kind == "string_type":
        return f" (a bare {shown(value)} is a boolean: put text in quotes, '{shown(value)}')"
    if isinstance(value, bool):
        return " (true and false are not numbers: write 1 or 0)"
    if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+", value.strip()):
        return f" (in quotes it is text: write {value.strip()} without them)"
    return ""


_WANTS = {"int_type": "a number", "int_from_float": "a number", "decimal_type": "a number",
          "decimal_parsing": "a number", "is_instance_of": "a number",
          "string_type": "a number", "float_type": "a number",
          "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
          "model_attributes_type": "a mapping", "bool_type": "true or false",
          "literal_error": "one of the allowed words"}


def _union_message(loc: tuple, errs: list[dict]) -> str:
    """'layers.0.slope: expected a number (0.5, -2 or "1/3"), got [1]'."""
    name = ".".join(str(p) for p in loc) or "file"
    wants = list(dict.fromkeys(_WANTS.get(e["type"], "") for e in errs if e["type"] in _WANTS))
    if not wants:
        return f"{name}: {errs[0]['msg'].removeprefix('Value error, ')}"
    text = " or ".join(w.replace("a number", 'a number (0.5, -2 or "1/3")', 1) for w in wants)
    got = errs[0].get("input")
    words = next((_literal_hint(e) for e in errs if e["type"] == "literal_error"
                  and _literal_hint(e)), "") or next(
        (_hint(got, "bool_type") for e in errs if e["type"] == "bool_type"), "")
    return (f"{name}: expected {text}, got {shown(got)}"
            f"{_hint(got) if isinstance(got, bool) else words}")


def _fields_at(spec_cls, loc: tuple) -> list[str]:
    """Known keys of the model at ``loc`` (for did-you-mean)."""
    model = spec_cls
    skip = False
    for part in loc:
        if isinstance(part, int) or skip:
            skip = False
            continue
        f = getattr(model, "model_fields", {}).get(part)
        if f is None:
            return []
        skip = str(f.annotation).startswith("dict[")  # the next part is a free key
        ann = f.annotation
        found = None
        for cand in _models_in(ann):
            found = cand
        if found is None:
            return []
        model = found
    return list(getattr(model, "model_fields", {}))


def _models_in(ann):
    import typing

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        yield ann
    for a in typing.get_args(ann):
        yield from _models_in(a)


def from_document(doc, file: str, text: str = "") -> Exercise:
    """Validate a parsed YAML document into an Exercise, or raise one located error."""
    errors = spec_errors(doc, file)
    if errors:
        raise errors[0]
    spec = SPEC.validate_python(doc.data)
    errors = [e for e in author_errors(spec, doc, file) if not e.code.startswith("W")]
    if errors:  # a negative tolerance, ask: [], a slope on relu, a network too large …
        raise errors[0]
    sha = content_hash(doc.data) if text else ""
    # an exercise made with extends: is more than its own text: no text hash (only its content
    # hash, of the merged content, names it — an edit of a base makes its sheets stale)
    text_sha = hashlib.sha256(text.encode()).hexdigest()[:16] if text and not \
        getattr(doc, "bases", ()) else ""
    math = {k: v for k, v in doc.data.items() if k not in PRESENTATION} \
        if isinstance(doc.data, dict) else doc.data
    math_sha = content_hash(math) if text else ""
    return Exercise(spec=spec, file=file, doc=doc, sha=sha, text_sha=text_sha,
                    math_sha=math_sha)


# keys that change what is said, not what is asked or its answers (math_sha leaves them out)
PRESENTATION = ("title", "source", "notes", "tolerance", "misconceptions", "tests")


def content_hash(data) -> str:
    """16 hex digits of SHA-256 over what the file *says* — its keys and values as read, not
    its text: a comment, a blank line, quoting or key order changes nothing, so sheets and
    saved attempts stay valid; any changed value (0.1 → 0.2), key or title changes it."""
    import json

    def canon(v):
        if isinstance(v, dict):
            return {str(k): canon(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [canon(x) for x in v]
        if isinstance(v, (bool, int, str)) or v is None:
            return v
        return f"{type(v).__name__}:{v}"  # Decimal('0.1') → 'Decimal:0.1'

    text = json.dumps(canon(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def spec_errors(doc, file: str) -> list[InputError]:
    """Every schema problem of a document, each located (for ``tutor validate``)."""
    data = doc.data
    where = lambda path: doc.mark(path)  # noqa: E731

    def err(msg, path, code):
        m = where(path)
        return ExerciseError(msg, _file_of(m, file), m.line if m else 1, m.col if m else 1,
                             code=code)

    if not isinstance(data, dict):
        return [err("an exercise file is a YAML mapping (key: value lines)", (), "E001")]
    version = data.get("format_version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        return [err(f"this exercise is format_version {version}; this tutor reads format_version "
                    f"{FORMAT_VERSION} and older. Upgrade tutor (pip install -U tutor).",
                    ("format_version",), "E002")]
    kind = data.get("kind")
    if kind not in ("network", "graph"):
        return [err(f"kind must be 'network' or 'graph', not {shown(kind)}"
                    f"{close_word(kind, ['network', 'graph'])}" if kind is not None
                    else "missing required key 'kind' (network or graph)", ("kind",), "E003")]
    cls = NetworkSpec if kind == "network" else GraphSpec
    huge = list(_huge_numbers(data, ()))
    out_of_range = [err(f"the number {v} is out of range (|exponent| ≤ {MAX_EXPONENT})", path,
                        "E013") for path, v in huge]
    if huge:  # never hand such a number to pydantic: int(Decimal('1e+999999999')) hangs
        data = _replace_paths(data, [p for p, _ in huge])
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        out, groups = [], {}
        for e in exc.errors():
            # A union reports every alternative at one location: one message for them all.
            loc = _pretty_loc(e["loc"], data)
            if e["type"] != "missing" and loc and not _there(data, loc):
                loc = loc[:-1]  # a union's tag (int, str …) is not a missing key
            groups.setdefault(loc, []).append(e)
        # a mapping where a union allows one ({symbol: positiv}): the mapping's own problem
        # is meant, not "must be a number" from the other alternatives
        groups = {loc: errs for loc, errs in groups.items()
                  if not (isinstance(_value_at(data, loc), dict)
                          and all(e["type"] in _WANTS for e in errs)
                          and any(len(o) > len(loc) and o[:len(loc)] == loc for o in groups))}
        for loc, errs in groups.items():
            e = errs[0]
            m = doc.key_marks.get(loc) if e["type"] == "extra_forbidden" else None
            m = m or where(loc)
            code = {"extra_forbidden": "E010", "missing": "E011"}.get(e["type"], "E012")
            if loc[:1] == ("tolerance",) and e["type"] in _RANGE:
                code = "E014"  # decimals/sig out of range: a tolerance out of range
            msg = _message(e, cls, data) if len(errs) == 1 else _union_message(loc, errs)
            out.append(ExerciseError(msg, _file_of(m, file), m.line if m else 1,
                                     m.col if m else 1, code=code))
        return out_of_range + out
    return out_of_range


_RANGE = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")


def _there(data: Any, loc: tuple) -> bool:
    """Whether ``loc`` names a value in the data."""
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True


def _value_at(data: Any, loc: tuple) -> Any:
    """The value at ``loc`` in the data (None when it is not there)."""
    for part in loc:
        data = data[part] if _there(data, (part,)) else None
    return data


def author_errors(spec, doc, file: str) -> list[InputError]:
    """What a sound model may still get wrong, each located, in file order: values the
    types allow but no exercise means (E014–E019: a tolerance that grades every answer
    wrong, a negative learning rate, nothing asked, an option that does not apply), a
    network too large for hand computation (E211), and warnings (codes W…): a learning
    rate of 0 (W307), a convention stated where it cannot apply (W308). The loader raises
    the first error; ``tutor validate`` reports them all."""
    out: list[InputError] = []

    def add(code: str, msg: str, path: tuple, key: bool = False):
        m = (doc.key_marks.get(path) if key else None) or doc.mark(path)
        out.append(ExerciseError(msg, _file_of(m, file), m.line if m else 1, m.col if m else 1,
                                 code=code))

    t = spec.tolerance
    if t is not None:
        given = [k for k in ("decimals", "sig", "abs", "rel") if getattr(t, k) is not None]
        first = given[0] if given else None
        if first in ("decimals", "sig"):
            for k in given[1:]:
                add("E016", f"tolerance: {first} and {k} are both given; {first} would be used "
                    f"and {k} ignored. Give one kind: decimals: d (|error| ≤ 10⁻ᵈ), sig: n "
                    "(n significant digits), or abs/rel (|error| ≤ abs + rel·|exact|)",
                    ("tolerance", k), key=True)
        else:
            signs = {k: _sign(getattr(t, k)) for k in ("abs", "rel")
                     if getattr(t, k) is not None}
            for k, sg in signs.items():
                if sg is not None and sg < 0:
                    add("E014", f"tolerance.{k}: {shown(getattr(t, k))} is negative: no answer "
                        "would be within it, not even the exact one (a tolerance is ≥ 0)",
                        ("tolerance", k))
            if all(sg == 0 for sg in signs.values()):
                what = ("abs and rel are both 0" if len(signs) == 2 else
                        f"{next(iter(signs))} is 0 and {'rel' if 'abs' in signs else 'abs'} "
                        "is not given" if signs else "it gives no decimals, sig, abs or rel")
                add("E015", f"tolerance: {what}, so only the exact value is accepted: a decimal "
                    "answer of σ, exp or log (every irrational value) is graded wrong. Give "
                    "decimals: 4, sig: 3, or a positive abs or rel", ("tolerance",))
    if spec.learning_rate is not None:
        sg = _sign(spec.learning_rate)
        if sg is not None and sg < 0:
            add("E017", f"learning_rate: {shown(spec.learning_rate)} is negative: the update "
                "θ − η·∂L/∂θ would climb the loss (the learning rate is > 0)",
                ("learning_rate",))
        elif sg == 0:
            add("W307", "learning_rate: 0 makes every update θ − 0·∂L/∂θ = θ: the new "
                "parameters equal the old (a learning rate is > 0)", ("learning_rate",))
    if not spec.ask:
        add("E018", "ask: [] asks nothing: list at least one of forward, backward, inputs, "
            "update (or leave ask out: backward)", ("ask",))
    data = doc.data if isinstance(doc.data, dict) else {}
    conventions = data.get("conventions")
    stated = isinstance(conventions, dict) and "relu_prime_at_zero" in conventions
    if spec.kind == "network":
        for i, layer in enumerate(spec.layers):
            for option, fn in (("slope", "leaky_relu"), ("alpha", "elu")):
                if getattr(layer, option) is not None and layer.activation != fn:
                    add("E019", f"layer {i + 1}: {option} applies to activation {fn} only, and "
                        f"this layer's activation is {layer.activation}: remove {option} or "
                        f"write activation: {fn}", ("layers", i, option), key=True)
        has_relu = any(layer.activation == "relu" for layer in spec.layers)
        out += _size_errors(spec, doc, file)
        for path, target, given in _targets(spec):
            msg = class_index_message(spec, target, given)
            if msg:
                add("E204", msg, path)
    else:
        has_relu = any(re.search(r"(?<![A-Za-z0-9_])relu\s*\(", str(e))
                       for e in spec.nodes.values())
    if stated and not has_relu:
        where = "layer" if spec.kind == "network" else "node"
        add("W308", f"conventions.relu_prime_at_zero does not apply: no {where} uses relu "
            "(ReLU′(0) is never needed; leaky_relu′(0) is its slope)",
            ("conventions", "relu_prime_at_zero"), key=True)
    return sorted(out, key=lambda e: (e.file != file, e.line or 0, e.col or 0))


def _sign(value: Any) -> Optional[int]:
    """-1, 0 or 1 for a file number; None when it is not a number (reported elsewhere)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return (value > 0) - (value < 0)
    try:
        from tutor.functions import sign

        return sign(number(value))
    except Exception:  # an expression that does not parse or is no real number: E231/E240
        return None


def _targets(spec) -> list[tuple[tuple, Any, Any]]:
    """(path, target, the input it goes with) of a network: its own and each iteration's."""
    out = [(("target",), spec.target, spec.input)]
    for k, it in enumerate(spec.iterations or []):
        if it.target is not None:
            out.append((("iterations", k, "target"), it.target,
                        it.input if it.input is not None else spec.input))
    return out


def class_index_message(spec, target: Any, given: Any) -> str:
    """E204's words for a batch's target written as class indices (``target: [0, 2, 1]``
    with loss ce and 3 outputs): a batch's target is a one-hot matrix of the output's shape,
    and the message writes it out. '' when the target is not that."""
    column = spec.layout == "column"
    if spec.loss != "ce" or not isinstance(target, list) or len(target) < 2 or \
            not all(isinstance(t, int) and not isinstance(t, bool) for t in target):
        return ""
    if not (isinstance(given, list) and given and all(isinstance(r, list) and r for r in given)):
        return ""  # a single example: [0, 0, 1] is its one-hot target
    batch = len(given[0]) if column else len(given)
    W = spec.layers[-1].W
    if not (W and all(isinstance(r, list) and r for r in W)):
        return ""
    out = len(W) if column else len(W[0])
    if out < 2 or len(target) != batch:
        return ""
    shape = f"{out}×{batch}, one column per example" if column else \
        f"{batch}×{out}, one row per example"
    said = (f"target: {shown(target)} reads as class indices, one per example; with a batch, "
            f"loss ce takes the target as a one-hot matrix of the output's shape ({shape}, "
            "a 1 at the example's class)")
    bad = [t for t in target if not 0 <= t < out]
    if bad:
        return f"{said}; class {bad[0]} is out of range 0…{out - 1}"
    rows = [[int(t == r) for t in target] for r in range(out)] if column else \
        [[int(c == t) for c in range(out)] for t in target]
    return f"{said}: target: [{', '.join('[' + ', '.join(map(str, r)) + ']' for r in rows)}]"


def _size_errors(spec, doc, file: str) -> list[InputError]:
    """E211: a network larger than anything computed by hand. First a side longer than
    MAX_SIDE (the first one in the file), else parameters × examples × iterations over
    MAX_NETWORK. Shapes that do not chain are the compiler's (E205/E206)."""

    def located(msg, path, key=False):
        m = (doc.key_marks.get(path) if key else None) or doc.mark(path)
        return [ExerciseError(msg, _file_of(m, file), m.line if m else 1, m.col if m else 1,
                              code="E211")]

    def rows(v):
        return v if isinstance(v, list) and v and all(isinstance(r, list) for r in v) else None

    sides = [(("input",), spec.input), (("target",), spec.target)]
    for i, layer in enumerate(spec.layers):
        sides += [(("layers", i, "W"), layer.W), (("layers", i, "b"), layer.b)]
    for k, it in enumerate(spec.iterations or []):
        sides += [(("iterations", k, "input"), it.input), (("iterations", k, "target"), it.target)]
    for path, v in sides:
        if not isinstance(v, list):
            continue
        long = [len(v)] + [len(r) for r in v if isinstance(r, list)]
        if max(long) > MAX_SIDE:
            return located(f"{'.'.join(map(str, path))}: {max(long)} entries along one side; a "
                           f"network's vectors and matrices have at most {MAX_SIDE} (this is "
                           "far beyond a hand computation)", path)
    params = sum(len(layer.W) * max((len(r) for r in layer.W), default=0) +
                 (len(layer.b) if isinstance(layer.b, list) else 1) for layer in spec.layers)

    def examples(x):
        m = rows(x)
        if m is None:
            return 1
        return len(m) if spec.layout == "row" else max(len(r) for r in m)

    batch = max([examples(spec.input)] + [examples(it.input) for it in spec.iterations or []
                                          if it.input is not None])
    steps = max(1, len(spec.iterations or []))
    size = params * batch * steps
    if size > MAX_NETWORK:
        parts = [f"{params:,} parameters"] + ([f"{batch} examples"] if batch > 1 else []) + \
            ([f"{steps} iterations"] if steps > 1 else [])
        total = f" = {size:,}" if len(parts) > 1 else ""
        return located(f"the network is too large to work by hand: {' × '.join(parts)}{total}; "
                       f"at most {MAX_NETWORK:,} (parameters × examples × iterations) are "
                       "allowed", ("layers",), key=True)
    return []


def _huge_numbers(v: Any, path: tuple):
    """(path, value) of every decimal whose exponent is out of range."""
    if isinstance(v, Decimal):
        if not v.is_finite() or abs(v.adjusted()) > MAX_EXPONENT:
            yield path, v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from _huge_numbers(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from _huge_numbers(x, path + (i,))


def _replace_paths(data: Any, paths: list[tuple]) -> Any:
    import copy

    data = copy.deepcopy(data)
    for path in paths:
        cur = data
        for part in path[:-1]:
            cur = cur[part]
        cur[path[-1]] = 0
    return data


def load_text(text: str, file: str = "<string>") -> Exercise:
    return from_document(document(text, file), file, text)


def document(text: str, file: str = "<string>"):
    """The YAML of an exercise text with its ``extends:`` chain merged in (:func:`extend`):
    what every command (through :func:`load_text`) and ``tutor validate`` read."""
    from tutor.yamlio import load_yaml

    doc = load_yaml(text, file)
    return extend(doc, file, len(text.encode("utf-8")))


# ─── extends: one exercise made from another ─────────────────────────────────────────────
MAX_EXTENDS = 8  # extends: links a chain may follow (a extends b extends c: 2 links)
# an extending file without its own id or kind, with its base's id, or of another kind
EXTENDS_CODE = "E020"
# the mappings a child replaces whole: a tolerance (decimals, sig or abs/rel: one kind) and
# each draw (choice or range): merged key by key, the base's kind and the child's would mix
_WHOLE = (("tolerance",),)


def _replaced_whole(path: tuple) -> bool:
    return path in _WHOLE or (len(path) == 3 and path[:2] == ("variants", "draw"))


def _file_of(m, file: str) -> str:
    """The file a position is in: the base's for a value inherited through ``extends:``."""
    return (m.file if m is not None else None) or file


def extend(doc, file: str, size: int = 0, _chain: tuple = ()):
    """``doc`` with the exercise its ``extends:`` names merged under it
    (:func:`tutor.yamlio.merge`), recursively: at most :data:`MAX_EXTENDS` links,
    no cycle, every file at most ``yamlio.MAX_BYTES`` and all of them together too. A
    document without ``extends:`` is returned as it is. Every problem is one InputError at
    the ``extends:`` line (E000, exit 2, for a base that cannot be read, a cycle, a chain too
    long or too large), or the base file's own (bad YAML in the base is at its line)."""
    import os

    from tutor.yamlio import MAX_BYTES, Document, load_yaml, merge, read_text

    data = doc.data
    if not isinstance(data, dict) or data.get("extends") is None:
        return doc
    ref = data["extends"]
    at = doc.marks.get(("extends",)) or doc.mark(())

    def fail(message: str, code: str = "E000", m=None) -> InputError:
        m = m or at
        return InputError(message, file, m.line if m else None, m.col if m else None,
                          code=code)

    if not isinstance(ref, str) or not ref.strip():
        raise fail(f"extends: must be a file name (base.yaml, relative to this file) or the "
                   f"id of a bundled exercise, not {shown(ref)}", "E012")
    path = _base_file(ref, file, fail)
    here = ((os.path.realpath(file), file),)
    chain = _chain + here
    real = os.path.realpath(path)
    names = [shown_path for _, shown_path in chain]
    if real in [r for r, _ in chain]:
        loop = names[[r for r, _ in chain].index(real):] + [str(path)]
        raise fail(f"extends: a cycle: {' → '.join(map(visible, loop))} (an exercise cannot "
                   "extend itself, even through others)")
    if len(chain) > MAX_EXTENDS:
        raise fail(f"extends: a chain of more than {MAX_EXTENDS} links "
                   f"({' → '.join(map(visible, names))} → {visible(str(path))} …): an "
                   f"exercise is made from at most {MAX_EXTENDS} others, one extending the next")
    try:
        text = read_text(path)
    except InputError as err:  # missing, a folder, not UTF-8, too large: said at extends:
        raise fail(f"extends: {visible(ref)}: {err.message} ({visible(str(path))})",
                   err.code) from None
    size += len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise fail(f"extends: the files of this chain are together more than {MAX_BYTES:,} "
                   "bytes (each exercise, and all it extends, at most that)", "E005")
    base = extend(load_yaml(text, str(path)), str(path), size, chain)
    if not isinstance(base.data, dict):
        raise fail(f"extends: {visible(ref)} is not an exercise (not a YAML mapping of "
                   "key: value lines)", "E001")
    for key in ("id", "kind"):
        if data.get(key) is None:
            raise fail(f"an exercise that extends another gives its own {key}: add '{key}: …' "
                       f"(the base {visible(ref)} has {key} "
                       f"{shown(base.data.get(key))})", EXTENDS_CODE)
    m = doc.marks.get(("id",))
    if data["id"] == base.data.get("id"):
        raise fail(f"id: '{visible(data['id'])}' is the id of the exercise it extends "
                   f"({visible(ref)}); give this one its own id (practice, progress and answer "
                   "sheets tell exercises apart by it)", EXTENDS_CODE, m)
    if base.data.get("kind") is not None and base.data["kind"] != data["kind"]:
        raise fail(f"kind: {shown(data['kind'])}, but {visible(ref)} is a "
                   f"{shown(base.data['kind'])} exercise: an exercise extends one of its own "
                   "kind", EXTENDS_CODE, doc.marks.get(("kind",)))
    # the child without its extends:, the base without its title (never inherited)
    own = Document({k: v for k, v in data.items() if k != "extends"},
                   {p: v for p, v in doc.marks.items() if p[:1] != ("extends",)},
                   {p: v for p, v in doc.key_marks.items() if p[:1] != ("extends",)})
    base = Document({k: v for k, v in base.data.items() if k not in ("title", "extends")},
                    base.marks, base.key_marks, base.bases)
    return merge(base, own, str(path), whole=_replaced_whole)


def _base_file(ref: str, file: str, fail) -> Path:
    """What ``extends: ref`` names: a file (``.yaml``/``.yml``, or a path with ``/``)
    relative to the extending file, else the id of a bundled exercise."""
    text = ref.strip()
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        p = Path(text)
        if p.suffix not in (".yaml", ".yml"):
            raise fail(f"extends: {visible(ref)}: an exercise file ends in .yaml or .yml")
        return p if p.is_absolute() else Path(file).parent / p
    from tutor.catalog import bundled

    entries = {e.id: e.path for e in bundled()}
    if text in entries:
        return entries[text]
    near = [i for i in entries if i.startswith(text)][:1] or \
        difflib.get_close_matches(text, list(entries), n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise fail(f"extends: no bundled exercise '{visible(ref)}' (a file is named with its "
               f".yaml: extends: {visible(text)}.yaml).{hint} See `tutor list`.")


def load(path: str | Path) -> Exercise:
    """Read and validate an exercise file (raises InputError with file:line:col)."""
    from tutor.yamlio import read_text

    text = read_text(Path(path))  # missing, a folder, not UTF-8, too large: exit 2
    return load_text(text, str(path))


def json_schema(misconceptions: tuple[str, ...] = ()) -> dict:
    """The JSON Schema of the exercise format, from the same models the loader uses
    (``misconceptions``: the catalogue's ids, offered as completions; tutor.scaffold)."""
    schema = SPEC.json_schema()
    mapping = schema.pop("discriminator")["mapping"]
    schema.pop("oneOf")
    # if/then/else on `kind` rather than oneOf: an editor then points at the bad key itself,
    # not at "not valid under any of the given schemas"
    schema.update({"type": "object",
                   "if": {"properties": {"kind": {"const": "graph"}}, "required": ["kind"]},
                   "then": {"$ref": mapping["graph"]}, "else": {"$ref": mapping["network"]},
                   # both kinds at the top: an editor completes `kind: ` with either (the
                   # if/then/else alone offers only the branch it is in)
                   "properties": {"kind": {"enum": ["network", "graph"], "title": "Kind",
                                           "description": (
                       "network: layers of units (W, b, activation); graph: a computation "
                       "graph of named nodes")}},
                   "required": ["kind"]})
    _for_editors(schema)
    if misconceptions:  # completions for a misconception id (examples: any text is valid)
        defs = schema["$defs"]
        defs["AnswerTest"]["properties"]["expect"]["examples"] += list(misconceptions)
        listed = defs["Require"]["properties"]["distinguishable"]["anyOf"][1]
        listed["items"]["examples"] = list(misconceptions)
    _extends_branches(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "tutor exercise",
            **schema}


# the models whose mappings an extending file merges key by key (extends:): each gets an
# "…Overrides" copy in the schema, nothing required and every key nullable (~ removes it)
_MERGED = ("GraphSpec", "NetworkSpec", "Variants", "Require", "Conventions")
_REMOVES = "null: removes the base's value (extends:)"


def _extends_branches(schema: dict) -> None:
    """An extending file (``extends:`` given, a string) gives only what changes: it is
    checked against ``GraphSpecOverrides``/``NetworkSpecOverrides`` — the same keys, each
    of the same type or null (~ removes the base's key), only extends, id and kind required
    (tutor.exercise.extend asks for those two), and the mappings that merge key by key
    (variants, variants.require, conventions, params, nodes …) likewise partial. What is
    checked after merging (a key neither file gives) is tutor's, not the editor's."""
    import copy

    defs = schema["$defs"]

    def ref(name: str) -> str:
        return f"#/$defs/{name}"

    def nullable(prop: dict) -> None:
        if "const" in prop:
            return
        for r in [prop] + [b for b in prop.get("anyOf", []) if isinstance(b, dict)]:
            target = str(r.get("$ref", "")).rsplit("/", 1)[-1]
            if target in _MERGED:  # merged key by key: its partial copy
                r["$ref"] = ref(f"{target}Overrides")
        if "anyOf" in prop:
            nulls = [b for b in prop["anyOf"] if b.get("type") == "null"]
            for b in nulls:
                b["title"] = _REMOVES
            if not nulls:
                prop["anyOf"].append({"type": "null", "title": _REMOVES})
        elif "$ref" in prop:
            prop["anyOf"] = [{"$ref": prop.pop("$ref")}, {"type": "null", "title": _REMOVES}]
        elif "type" in prop:
            types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            if "null" not in types:
                prop["type"] = types + ["null"]
            if "enum" in prop and None not in prop["enum"]:
                prop["enum"] = prop["enum"] + [None]

    for name in _MERGED:
        d = copy.deepcopy(defs[name])
        d["title"] = f"{d.get('title', name)} (overrides)"
        d.pop("required", None)
        for key, prop in d.get("properties", {}).items():
            if key in ("extends", "id", "kind"):
                continue
            nullable(prop)
            if isinstance(prop.get("additionalProperties"), dict):
                nullable(prop["additionalProperties"])  # params, nodes, draw: name: ~ removes
        if name in ("GraphSpec", "NetworkSpec"):
            d["required"] = ["extends", "id", "kind"]
            d["description"] = ("an exercise made from another (extends:): only what changes, "
                                "with its own id and the same kind; key: ~ removes the base's "
                                "key")
            said = d["properties"]["extends"]
            d["properties"]["extends"] = {"type": "string", "minLength": 1, "title": "Extends",
                                          "description": said["description"]}
        defs[f"{name}Overrides"] = d
    given = {"required": ["extends"], "properties": {"extends": {"type": "string"}}}
    for branch, name in (("then", "GraphSpec"), ("else", "NetworkSpec")):
        schema[branch] = {"if": given, "then": {"$ref": ref(f"{name}Overrides")},
                          "else": {"$ref": ref(name)}}


def _for_editors(node: Any) -> None:
    """The schema as editors read it, meaning the same: an ``anyOf`` of bare types (a
    number is ``integer``, ``number`` or ``string``; ``Optional`` adds ``null``) becomes one
    ``type`` list. yaml-language-server shows an ``anyOf``'s every branch title on hover
    ("Learning Rate || Learning Rate || …"); with one ``type`` it shows the property's own
    title and description once."""
    if isinstance(node, list):
        for item in node:
            _for_editors(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _for_editors(value)
    branches = node.get("anyOf")
    if not isinstance(branches, list) or "type" in node:
        return
    bare = [b for b in branches if isinstance(b, dict) and set(b) == {"type"}
            and isinstance(b["type"], str)]
    if len(bare) >= 2 or len(bare) == len(branches):
        types = list(dict.fromkeys(b["type"] for b in bare))
        rest = [b for b in branches if b not in bare]
        merged = {"type": types[0] if len(types) == 1 else types}
        if not rest:
            del node["anyOf"]
            node.update(merged)
            return
        branches = node["anyOf"] = [merged] + rest
    # what is left is a real choice (a number, a vector or a matrix): each branch gets a
    # title, or yaml-language-server takes any untitled schema that matches for every branch
    # and shows "Target || Target || Target"
    own = f"{node['title']}: " if isinstance(node.get("title"), str) else ""
    for b in branches:
        if isinstance(b, dict) and "title" not in b and "$ref" not in b:
            b["title"] = own + _branch_title(b)


def _branch_title(b: dict) -> str:
    """A short name for one alternative of an ``anyOf`` (shown by editors)."""
    t = b.get("type")
    items = b.get("items") if isinstance(b.get("items"), dict) else {}
    if "const" in b:
        return str(b["const"])
    if "enum" in b:
        return "one of " + ", ".join(map(str, b["enum"][:4])) + (" …" if len(b["enum"]) > 4
                                                                   else "")
    if t == "array":
        inner = items.get("type")
        if inner == "array":
            return "a matrix (a list of rows)"
        if isinstance(inner, list) and "number" in inner:
            return "a vector (a list of numbers)"
        return "a list"
    if isinstance(t, list) and "number" in t:
        return 'a number (0.5, -2 or "1/3")' + (" or null" if "null" in t else "")
    return {"null": "null (left out)", "integer": "a whole number", "boolean": "true or false",
            "string": "text", "number": "a number", "object": "a mapping"}.get(str(t), str(t))
