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
PHASES = ("forward", "backward", "inputs", "update")
MAX_EXPONENT = 100  # a file number such as 1e999999999 is refused, not expanded


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

    decimals: Optional[whole(ge=0, le=30)] = None
    sig: Optional[whole(ge=1, le=30)] = None
    rel: Optional[Num] = Field(None, json_schema_extra={"minimum": 0},
                               description="relative tolerance (≥ 0): |error| ≤ rel·|exact|")
    abs: Optional[Num] = Field(None, json_schema_extra={"minimum": 0},
                               description="absolute tolerance (≥ 0), added to rel·|exact|")


class Conventions(_Model):
    relu_prime_at_zero: Annotated[Literal[0, 1], BeforeValidator(_whole)] = Field(
        0, description="ReLU′(0): 0 (the usual choice; SymPy's Heaviside(0) = ½ is never used) or 1")


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
    activation: Literal[ACTIVATIONS] = "identity"
    slope: Optional[Num] = Field(None, description="leaky_relu slope α (default 0.01)")
    alpha: Optional[Num] = Field(None, description="elu's α: ELU(z) = α (e^z − 1) for z ≤ 0 "
                                 "(default 1)")


class NetworkIteration(_Model):
    input: Optional[Union[NVector, NMatrix]] = None
    target: Optional[Union[Num, NVector, NMatrix]] = None


class Draw(_Model):
    """How one value of a variant is drawn: ``{choice: […]}`` (one of the listed values, which
    may be vectors or matrices) or ``{range: [lo, hi], step: s}`` (lo, lo + s, …, up to hi;
    default step 1), optionally with ``exclude: […]``. Every value is exact."""

    # the same rule as _one_kind, in the JSON Schema (editors, `tutor schema`)
    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["choice"]}, {"required": ["range"]}],
        "if": {"required": ["choice"]},
        "then": {"properties": {"step": {"type": "null"}, "exclude": {"maxItems": 0}}}})

    choice: Optional[list[Union[Num, Vector, Matrix]]] = Field(None, min_length=1, max_length=1000)
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

    draw: dict[str, Draw] = Field(min_length=1, max_length=200)
    require: Require = Require()
    tries: whole(ge=1, le=5000) = 200


class _Common(_Model):
    format_version: whole(ge=1, le=FORMAT_VERSION) = 1
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    title: str = ""
    source: Optional[str] = None
    notes: Optional[str] = None
    learning_rate: Optional[Num] = Field(
        None, json_schema_extra={"minimum": 0},
        description="the SGD step size η (> 0; 0 is a warning: the update changes nothing)")
    ask: list[Literal["forward", "backward", "inputs", "update"]] = Field(
        ["backward"], json_schema_extra={"minItems": 1},
        description="the phases asked (at least one)")
    tolerance: Optional[ToleranceSpec] = None
    conventions: Conventions = Conventions()
    variants: Optional[Variants] = Field(None, description="randomized variants per student")

    @field_validator("title", "source", "notes")
    @classmethod
    def _shown(cls, v: Optional[str], info) -> Optional[str]:
        """An author's text is shown on terminals and written into sheets: its control and
        bidirectional characters become visible escapes here, once (notes keep their lines)."""
        if v is None:
            return None
        return visible(v, lines=True) if info.field_name == "notes" else visible(v.strip("\n"))


class NetworkSpec(_Common):
    kind: Literal["network"]
    layout: Literal["column", "row"] = "column"
    input: Union[NVector, NMatrix] = Field(
        description="a vector, or a batch: one example per column (row layout: per row)")
    target: Union[Num, NVector, NMatrix]
    layers: list[Layer] = Field(min_length=1, max_length=12)
    loss: Literal["mse", "sse", "half_sse", "bce", "ce"]
    iterations: Optional[list[NetworkIteration]] = Field(None, max_length=10)


class GraphSpec(_Common):
    kind: Literal["graph"]
    inputs: dict[str, Num] = {}
    params: dict[str, Num] = Field(min_length=1)
    constants: dict[str, Num] = {}
    nodes: dict[str, Union[str, int, Decimal]] = Field(min_length=1, max_length=200)
    loss: str
    iterations: Optional[list[dict[str, Num]]] = Field(None, max_length=10)


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

    def error(self, message: str, path: tuple = (), cls=ExerciseError, code="E100") -> InputError:
        """An error located at ``path`` inside this file."""
        m = self.doc.mark(path) if self.doc is not None else None
        return cls(message, self.file, m.line if m else None, m.col if m else None, code=code)


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
                f"not {shown(err['input'])}")
    own = _OWN_WORDS.get(err["type"])
    if own is not None:
        return (f"{name}: {own.format(**err.get('ctx', {}))}, not {shown(err.get('input'))}"
                f"{_hint(err.get('input'))}")
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


def _hint(value: Any) -> str:
    """Why a value that looks like a number is not one (strict models, as the schema)."""
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
    return f"{name}: expected {text}, got {shown(got)}{_hint(got) if isinstance(got, bool) else ''}"


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
    text_sha = hashlib.sha256(text.encode()).hexdigest()[:16] if text else ""
    math = {k: v for k, v in doc.data.items() if k not in PRESENTATION} \
        if isinstance(doc.data, dict) else doc.data
    math_sha = content_hash(math) if text else ""
    return Exercise(spec=spec, file=file, doc=doc, sha=sha, text_sha=text_sha,
                    math_sha=math_sha)


# keys that change what is said, not what is asked or its answers (math_sha leaves them out)
PRESENTATION = ("title", "source", "notes", "tolerance", "misconceptions")


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
        return ExerciseError(msg, file, m.line if m else 1, m.col if m else 1, code=code)

    if not isinstance(data, dict):
        return [err("an exercise file is a YAML mapping (key: value lines)", (), "E001")]
    version = data.get("format_version", 1)
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        return [err(f"this exercise is format_version {version}; this tutor reads format_version "
                    f"{FORMAT_VERSION} and older. Upgrade tutor (pip install -U tutor).",
                    ("format_version",), "E002")]
    kind = data.get("kind")
    if kind not in ("network", "graph"):
        return [err(f"kind must be 'network' or 'graph', not {kind!r}" if kind is not None
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
            groups.setdefault(_pretty_loc(e["loc"], data), []).append(e)
        for loc, errs in groups.items():
            e = errs[0]
            m = doc.key_marks.get(loc) if e["type"] == "extra_forbidden" else None
            m = m or where(loc)
            code = {"extra_forbidden": "E010", "missing": "E011"}.get(e["type"], "E012")
            if loc[:1] == ("tolerance",) and e["type"] in _RANGE:
                code = "E014"  # decimals/sig out of range: a tolerance out of range
            msg = _message(e, cls, data) if len(errs) == 1 else _union_message(loc, errs)
            out.append(ExerciseError(msg, file, m.line if m else 1, m.col if m else 1,
                                     code=code))
        return out_of_range + out
    return out_of_range


_RANGE = ("greater_than_equal", "less_than_equal", "greater_than", "less_than")


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
        out.append(ExerciseError(msg, file, m.line if m else 1, m.col if m else 1, code=code))

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
    else:
        has_relu = any(re.search(r"(?<![A-Za-z0-9_])relu\s*\(", str(e))
                       for e in spec.nodes.values())
    if stated and not has_relu:
        where = "layer" if spec.kind == "network" else "node"
        add("W308", f"conventions.relu_prime_at_zero does not apply: no {where} uses relu "
            "(ReLU′(0) is never needed; leaky_relu′(0) is its slope)",
            ("conventions", "relu_prime_at_zero"), key=True)
    return sorted(out, key=lambda e: (e.line or 0, e.col or 0))


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


def _size_errors(spec, doc, file: str) -> list[InputError]:
    """E211: a network larger than anything computed by hand. First a side longer than
    MAX_SIDE (the first one in the file), else parameters × examples × iterations over
    MAX_NETWORK. Shapes that do not chain are the compiler's (E205/E206)."""

    def located(msg, path, key=False):
        m = (doc.key_marks.get(path) if key else None) or doc.mark(path)
        return [ExerciseError(msg, file, m.line if m else 1, m.col if m else 1, code="E211")]

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
    from tutor.yamlio import load_yaml

    return from_document(load_yaml(text, file), file, text)


def load(path: str | Path) -> Exercise:
    """Read and validate an exercise file (raises InputError with file:line:col)."""
    from tutor.yamlio import read_text

    text = read_text(Path(path))  # missing, a folder, not UTF-8, too large: exit 2
    return load_text(text, str(path))


def json_schema() -> dict:
    """The JSON Schema of the exercise format, from the same models the loader uses."""
    schema = SPEC.json_schema()
    mapping = schema.pop("discriminator")["mapping"]
    schema.pop("oneOf")
    # if/then/else on `kind` rather than oneOf: an editor then points at the bad key itself,
    # not at "not valid under any of the given schemas"
    schema.update({"type": "object",
                   "if": {"properties": {"kind": {"const": "graph"}}, "required": ["kind"]},
                   "then": {"$ref": mapping["graph"]}, "else": {"$ref": mapping["network"]}})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "tutor exercise",
            **schema}
