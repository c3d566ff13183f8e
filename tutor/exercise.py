"""Exercise files: the typed model (one definition for the loader *and* ``tutor schema``).

    YAML text ──yamlio (safe, positions)──▶ plain data ──pydantic──▶ Spec ──▶ Exercise

Numbers stay exact: YAML ``0.1`` arrives as ``Decimal('0.1')`` and becomes ``Rational(1, 10)``;
a quoted value such as ``"6 + log(1 + sqrt(2))"`` goes through our own parser (tutor.expr).
Every validation error is reported at the ``file:line:col`` of the offending value.
"""
from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tutor import FORMAT_VERSION
from tutor.errors import ExerciseError, InputError

# A number in a file: an integer, an exact decimal, or an expression in quotes ("1/3").
Num = Union[int, Decimal, str]
Vector = list[Num]
Matrix = list[list[Num]]

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
LOSSES = ("mse", "sse", "half_sse", "bce", "ce")
PHASES = ("forward", "backward", "inputs", "update")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToleranceSpec(_Model):
    """How close an answer must be. ``decimals: 4`` accepts |answer − exact| ≤ 10⁻⁴."""

    decimals: Optional[int] = Field(None, ge=0, le=30)
    sig: Optional[int] = Field(None, ge=1, le=30)
    rel: Optional[Num] = None
    abs: Optional[Num] = None


class Conventions(_Model):
    relu_prime_at_zero: Literal[0, 1] = Field(
        0, description="ReLU′(0): 0 (the usual choice; SymPy's Heaviside(0) = ½ is never used) or 1")


class Layer(_Model):
    W: Matrix = Field(description="column layout: (out, in); row layout: (in, out)")
    b: Union[Vector, Num] = Field(description="one bias per output unit")
    activation: Literal["identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax"] = "identity"
    slope: Optional[Num] = Field(None, description="leaky_relu slope α (default 0.01)")


class NetworkIteration(_Model):
    input: Optional[Union[Vector, Matrix]] = None
    target: Optional[Union[Num, Vector, Matrix]] = None


class _Common(_Model):
    format_version: int = Field(1, ge=1)
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    title: str = ""
    source: Optional[str] = None
    notes: Optional[str] = None
    learning_rate: Optional[Num] = None
    ask: list[Literal["forward", "backward", "inputs", "update"]] = ["backward"]
    tolerance: Optional[ToleranceSpec] = None
    conventions: Conventions = Conventions()


class NetworkSpec(_Common):
    kind: Literal["network"]
    layout: Literal["column", "row"] = "column"
    input: Union[Vector, Matrix] = Field(
        description="a vector, or a batch: one example per column (row layout: per row)")
    target: Union[Num, Vector, Matrix]
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
        f = Fraction(value)
        return sp.Rational(f.numerator, f.denominator)
    if isinstance(value, str):
        from tutor.expr import parse_expression

        return parse_expression(value, {})
    raise ExerciseError(f"expected a number, got {type(value).__name__}")


def _pretty_loc(loc: tuple) -> tuple:
    """Drop pydantic's union/discriminator tags from an error location."""
    out = []
    for part in loc:
        if isinstance(part, str) and (part in ("network", "graph") and not out) :
            continue
        if isinstance(part, str) and ("[" in part or part in ("int", "str", "decimal", "list")):
            continue
        out.append(part)
    return tuple(out)


def _message(err: dict, spec_cls) -> str:
    loc = _pretty_loc(err["loc"])
    name = ".".join(str(p) for p in loc) or "file"
    if err["type"] == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        parent = _fields_at(spec_cls, loc[:-1])
        hint = difflib.get_close_matches(key, parent, n=1)
        did = f" (did you mean '{hint[0]}'?)" if hint else (
            f" (allowed: {', '.join(sorted(parent))})" if parent else "")
        return f"unknown key '{key}'{did}"
    if err["type"] == "missing":
        return f"missing required key '{loc[-1] if loc else name}'"
    if err["type"] == "literal_error":
        return f"{name}: {err['msg'].replace('Input should be', 'must be')}, not {err['input']!r}"
    return f"{name}: {err['msg']}"


def _fields_at(spec_cls, loc: tuple) -> list[str]:
    """Known keys of the model at ``loc`` (for did-you-mean)."""
    model = spec_cls
    for part in loc:
        if isinstance(part, int):
            continue
        f = getattr(model, "model_fields", {}).get(part)
        if f is None:
            return []
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
    sha = hashlib.sha256(text.encode()).hexdigest()[:16] if text else ""
    return Exercise(spec=spec, file=file, doc=doc, sha=sha)


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
    try:
        cls.model_validate(data)
    except ValidationError as exc:
        out, seen = [], set()
        for e in exc.errors():
            loc = _pretty_loc(e["loc"])
            # A union reports every alternative; keep the first message per location.
            if loc in seen:
                continue
            seen.add(loc)
            m = doc.key_marks.get(loc) if e["type"] == "extra_forbidden" else None
            m = m or where(loc)
            code = {"extra_forbidden": "E010", "missing": "E011"}.get(e["type"], "E012")
            out.append(ExerciseError(_message(e, cls), file, m.line if m else 1,
                                     m.col if m else 1, code=code))
        return out
    return []


def load_text(text: str, file: str = "<string>") -> Exercise:
    from tutor.yamlio import load_yaml

    return from_document(load_yaml(text, file), file, text)


def load(path: str | Path) -> Exercise:
    """Read and validate an exercise file (raises InputError with file:line:col)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"no such file: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {p}: {exc}") from None
    return load_text(text, str(path))


def json_schema() -> dict:
    """The JSON Schema of the exercise format, from the same models the loader uses."""
    schema = SPEC.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tutor exercise"
    return schema
