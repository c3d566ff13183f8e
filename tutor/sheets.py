"""Answer sheets: the blank template a teacher hands out, and reading what comes back.

A sheet is YAML (DESIGN.md §4):

    exercise: lab9-relu-sigmoid-bce
    sha: 2d8b18adce9e2495      # content hash of the exercise the sheet was made for
    student: ada
    seed: 17                   # only for exercises with variants
    answers:
      delta2: [-0.2192, 0]     # step id → the answer, as text
      dW2: -0.1315 -0.0219; 0 0

Sheets are untrusted. Nothing in one is evaluated: the YAML goes through tutor.yamlio (safe,
with positions) and every answer stays text until tutor.expr parses it. Before any parsing a
sheet is refused when it is larger than ``MAX_BYTES``, has a line longer than ``MAX_LINE``
characters, or nests brackets deeper than ``MAX_DEPTH`` — each in microseconds, with
``file:line: message``. Answers are never YAML-typed: each is its scalar's own source text
(tutor.yamlio.load_yaml_raw), so ``-0.3654`` is graded as −3654/10000 (never a binary float),
``1.2e-3`` is shown as typed, and YAML 1.1's ``0x10`` (16), ``1:30`` (90), ``yes`` (true) or
``.inf`` are not silently rewritten: the answer parser (tutor.expr) says why they are no
answer, and that one step is invalid — the rest of the sheet is graded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from tutor.errors import InputError

MAX_BYTES = 1_000_000  # a Lab 9 sheet is about 1 kB
MAX_LINE = 10_000  # characters; the expression parser's own limit
MAX_DEPTH = 16  # nested [ ] / { } in the YAML text
MAX_ENTRIES = 10_000  # numbers in one answer (also stops YAML alias expansion)
HEADER_KEYS = ("exercise", "sha", "student", "seed", "answers")
_BRACKETS = re.compile(r"[\[\]{}]")


@dataclass(frozen=True)
class SheetWarning:
    """Something flagged about a sheet that does not stop its grading: where, and what.
    ``str()`` is ``file:line: message``; :meth:`short` drops the file a row already gives."""

    file: str
    line: int | None  # None: about the whole sheet
    message: str
    stale: bool = False  # made for another version of the exercise

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else \
            f"{self.file}: {self.message}"

    def short(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass(frozen=True)
class Sheet:
    """One student's sheet, read but not graded."""

    file: str
    exercise: str | None
    sha: str | None
    student: str  # the header's student, else the file name without extension
    seed: int | None
    answers: dict[str, str | None]  # step id → answer text (None: left blank)
    lines: dict[str, int] = field(default_factory=dict)  # step id → line of its answer
    invalid: dict[str, str] = field(default_factory=dict)  # step id → why it is not an answer
    warnings: tuple["SheetWarning", ...] = ()
    header_lines: dict[str, int] = field(default_factory=dict)  # header key → its line
    named: bool = False  # the student's name is the header's, not the file name

    def where(self, step_id: str) -> str:
        line = self.lines.get(step_id)
        return f"{self.file}:{line}" if line else self.file


# ─── writing: the blank template ──────────────────────────────────────────────────────
def template(worked, student: str = "") -> str:
    """A blank answer sheet for ``worked``: every step id in order, each with its meaning."""
    ex = worked.exercise
    seed = getattr(worked, "seed", None)
    width = max((len(s.id) for s in worked.steps), default=0) + 2
    out = [
        f"# Answer sheet: {_one_line(ex.spec.title or ex.id)}",
        "# Write each answer after its colon. Numbers: -0.3654  -73/200  1.2e-3  1/(1+exp(-0.552))",
        "#   vectors: [-0.2192, 0]    matrices: [[-0.1315, -0.0219], [0, 0]]  or  -0.1315 -0.0219; 0 0",
        f"#   tolerance: {worked.tolerance.label}. Leave a step blank to skip it.",
        f"# Grade it: tutor check {ex.id} SHEET.yaml",
        *given_lines(worked),
        f"exercise: {ex.id}",
        f"sha: \"{ex.sha}\"  # the exercise's content hash: leave it as it is",
        f"student: {_yaml_str(student)}" + (
            "  # picks your variant: a named sheet is graded against this student's own"
            if seed is not None else ""),
    ]
    if seed is not None:
        out.append(f"seed: {seed}  # your variant: leave it as it is")
    out.append("answers:")
    phase = None
    for s in worked.steps:
        if s.phase != phase:
            phase = s.phase
            out.append(f"  # ── {phase} ──")
        label = f"{s.id}:".ljust(width)
        out.append(f"  {label}  # {_one_line(s.meaning)}, {s.shape}")
    return "\n".join(out) + "\n"


GIVEN_WIDTH = 100  # a given matrix longer than this is written one row per line


def given_lines(worked) -> list[str]:
    """The exercise's given numbers as comment lines (never an answer): every input,
    parameter, constant and target with its value at the start (the student's own variant's
    for an exercise with variants), the learning rate, and what later iterations change."""
    g = worked.graph
    first = {**g.init, **(g.iterations[0] if g.iterations else {})}
    seed = getattr(worked, "seed", None)
    head = "# Given" + (f" (your variant, seed {seed})" if seed is not None else "") + ":"
    rows: list[tuple[str, str, str]] = []  # (name, value text, note)
    for node in g.nodes.values():
        if not node.is_leaf or node.name not in first:
            continue
        rows.append((node.name, given_text(first[node.name]), _given_note(g, node)))
    from tutor.rules import act_param
    from tutor.words import ACT_PARAM

    for node in g.nodes.values():  # a leaky ReLU's slope, ELU's α: h depends on it
        a = act_param(node)
        if a is not None:
            rows.append((f"α{node.attrs.get('layer', '')}", given_text(a),
                         f"{ACT_PARAM[node.attrs['fn']]}, layer {node.attrs.get('layer')}"))
    if g.learning_rate is not None:
        rows.append(("η", given_text(g.learning_rate), "learning rate"))
    width = max((len(n) for n, _, _ in rows), default=0)
    col = max((len(t) for _, t, _ in rows if len(t) + width < GIVEN_WIDTH - 30), default=0)
    out = [head]
    for name, text, note in rows:
        lead = f"#   {name.ljust(width)} = "
        gap = " " * max(col - len(text), 0) if len(text) <= col else ""
        out += _wrapped(lead, text, f"{gap}  ({note})" if note else "")
    for k, data in enumerate(g.iterations[1:], start=2):
        if data:
            out.append(f"#   iteration {k}: " + ", ".join(
                f"{n} = {given_text(v)}" for n, v in data.items()))
    return out


def _given_note(g, node) -> str:
    if g.kind == "network":
        if node.op in ("input", "const"):
            what = "input" if node.op == "input" else "target"
            v = g.init.get(node.name)
            if getattr(v, "rows", 1) > 1 and getattr(v, "cols", 1) > 1:
                what += f", one example per {'column' if g.layout == 'column' else 'row'}"
            return what
        return f"layer {node.attrs.get('layer')}" if node.attrs.get("layer") else ""
    return {"input": "input", "param": "parameter", "const": "constant"}.get(node.op, "")


def _wrapped(lead: str, text: str, note: str) -> list[str]:
    """``lead + text + note``, or a matrix one row per line when that is too long."""
    if len(lead) + len(text) + len(note) <= GIVEN_WIDTH or not text.startswith("[["):
        return [lead + text + note]
    rows = text[1:-1].split("], [")
    rows = [("[" if i else "[[") + r.strip("[]") + ("]]" if i == len(rows) - 1 else "],")
            for i, r in enumerate(rows)]
    pad = "#" + " " * (len(lead) - 1)
    return [(lead if i == 0 else pad) + r + (note if i == len(rows) - 1 else "")
            for i, r in enumerate(rows)]


def given_text(v: Any) -> str:
    """A given value exactly: a decimal when it terminates (0.1, -0.25), else p/q; vectors
    as [a, b], matrices as [[a, b], [c, d]]."""
    from tutor.render import bracketed

    return bracketed(v, _exact)


def _exact(x: Any) -> str:
    """An exact number as short text: 3/5 → 0.6, 1/3 → 1/3, sqrt(2) as SymPy prints it."""
    if getattr(x, "is_Rational", False) or isinstance(x, (int, Fraction)):
        f = Fraction(int(x.p), int(x.q)) if hasattr(x, "p") else Fraction(x)
        d = f.denominator
        for p in (2, 5):
            while d % p == 0:
                d //= p
        if d != 1:
            return f"{f.numerator}/{f.denominator}"
        text = format(Decimal(f.numerator) / Decimal(f.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    from tutor.render import exact_text

    return exact_text(x)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _yaml_str(text: str) -> str:
    return '""' if not text else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ─── reading ──────────────────────────────────────────────────────────────────────────
def read_sheet(path: str | Path) -> Sheet:
    """Read one sheet file (never written to); InputError with ``file:line: message``."""
    from tutor.yamlio import read_text

    file = str(path)
    text = read_text(file, max_bytes=MAX_BYTES, kind="sheet")
    return parse_sheet(text, file)


def precheck(text: str, file: str) -> None:
    """Refuse what would be slow or deep to parse: long lines, deeply nested brackets."""
    if len(text) > MAX_BYTES:
        raise InputError(f"the sheet is {len(text):,} characters; a sheet is at most "
                         f"{MAX_BYTES:,}", file)
    for n, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE:
            raise InputError(f"line is {len(line):,} characters long; at most {MAX_LINE:,}",
                             file, n)
    depth = 0
    for m in _BRACKETS.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, m.start()) + 1
                raise InputError(f"brackets nested more than {MAX_DEPTH} deep", file, line)
        elif depth:
            depth -= 1


def parse_sheet(text: str, file: str = "<sheet>") -> Sheet:
    """A sheet from its text (see the module docstring for what is refused)."""
    from tutor.yamlio import load_yaml_raw

    precheck(text, file)
    try:
        doc = load_yaml_raw(text, file)
    except InputError as err:
        raise err.located(file) from None
    except RecursionError:
        raise InputError("nested too deeply", file) from None
    except Exception as exc:  # a YAML error the safe loader did not locate
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or _one_line(exc)
        raise InputError(f"not valid YAML: {problem}", file,
                         mark.line + 1 if mark else None, mark.column + 1 if mark else None
                         ) from None
    data = doc.data

    def line_of(*path) -> int | None:
        try:
            m = doc.mark(tuple(path))
        except Exception:
            m = None
        return getattr(m, "line", None)

    if not isinstance(data, dict):
        raise InputError("an answer sheet is a YAML mapping with an 'answers:' section "
                         "(run `tutor template EXERCISE` for a blank one)", file, 1)
    warnings = []
    for k in data:
        if k not in HEADER_KEYS:
            warnings.append(SheetWarning(file, line_of(k) or 1,
                                         f"unknown header key {str(k)!r} ignored (a sheet "
                                         f"has {', '.join(HEADER_KEYS)})"))
    if "answers" not in data:
        raise InputError("no 'answers:' section (run `tutor template EXERCISE` for a blank "
                         "sheet)", file, 1)
    raw = data["answers"]
    if _blank(raw):
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("'answers:' must be a mapping, one `step: answer` per line",
                         file, line_of("answers"))

    exercise = _header_text(data, "exercise", file, line_of)
    sha = _header_text(data, "sha", file, line_of)
    student = _header_text(data, "student", file, line_of)
    named = bool(student and student.strip())
    student = student if named else Path(file).stem
    seed = _header_text(data, "seed", file, line_of)
    if seed is not None:
        if not _SEED.fullmatch(seed.strip()):
            raise InputError(f"seed must be a whole number, not {_short(seed)}", file,
                             line_of("seed"))
        seed = int(seed)

    answers: dict[str, str | None] = {}
    lines: dict[str, int] = {}
    invalid: dict[str, str] = {}
    for k, v in raw.items():
        sid = str(k)
        line = line_of("answers", k)
        if line:
            lines[sid] = line
        try:
            answers[sid] = answer_text(v)
        except ValueError as exc:
            answers[sid] = _display(v)
            invalid[sid] = str(exc)
    header = {k: line_of(k) for k in HEADER_KEYS if k in data and line_of(k)}
    return Sheet(file, exercise, sha, student, seed, answers, lines, invalid, tuple(warnings),
                 header, named)


_SEED = re.compile(r"[-+]?[0-9]+")
_NULLS = ("", "~", "null", "Null", "NULL")
# What YAML 1.1 would have turned into a number, but an answer is not (the answer parser's
# own message would only say "unexpected '.'"/"unexpected ':'").
_INF_NAN = re.compile(r"[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)")
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def _blank(v: Any) -> bool:
    """Nothing written: an empty value (or YAML's own null, ``~``)."""
    from tutor.yamlio import Scalar

    if v is None:
        return True
    return isinstance(v, Scalar) and v.plain and v.text.strip() in _NULLS


def _header_text(data: dict, key: str, file: str, line_of) -> str | None:
    from tutor.yamlio import Scalar

    v = data.get(key)
    if _blank(v):
        return None
    if isinstance(v, (dict, list)):
        raise InputError(f"{key} must be a single value, not a "
                         f"{'mapping' if isinstance(v, dict) else 'list'}", file, line_of(key))
    return v.text if isinstance(v, Scalar) else str(v)


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) <= 40 else t[:37] + "..."


def answer_text(v: Any, budget: list | None = None) -> str | None:
    """A YAML value (tutor.yamlio.load_yaml_raw) as the answer text a student typed;
    ValueError if it is no answer. None when left blank.

    A scalar is its own text — a plain one exactly as typed (``1.2e-3``, ``0x10``), a quoted
    one its string value — and tutor.expr's answer parser decides later what it means. A YAML
    list becomes "[a, b]" (nested: a matrix) from its entries' texts.
    """
    from tutor.yamlio import Scalar

    budget = budget if budget is not None else [MAX_ENTRIES]
    if _blank(v):
        return None
    if isinstance(v, Scalar):
        return _scalar_answer(v.text)
    if isinstance(v, str):
        return _scalar_answer(v)
    if isinstance(v, (list, tuple)):
        budget[0] -= len(v)
        if budget[0] < 0:
            raise ValueError(f"too many numbers in one answer (at most {MAX_ENTRIES:,})")
        parts = []
        for e in v:
            t = answer_text(e, budget)
            if t is None:
                raise ValueError("an empty entry in a list")
            parts.append(t)
        return "[" + ", ".join(parts) + "]"
    if isinstance(v, dict):
        raise ValueError("a mapping is not an answer (write a number, [a, b] or "
                         "[[a, b], [c, d]])")
    if isinstance(v, bool) or not isinstance(v, (int, Decimal, Fraction)):
        raise ValueError(f"not an answer: {_short(v)}")
    if isinstance(v, Decimal) and not v.is_finite():
        raise ValueError(f"{v} is not a finite number")
    return str(v)


def _display(v: Any, budget: list | None = None) -> str | None:
    """What was written, for the report, when it is no answer (at most ~200 characters)."""
    from tutor.yamlio import Scalar

    budget = budget if budget is not None else [200]
    if budget[0] <= 0:
        return "…"
    if isinstance(v, Scalar):
        t = v.text
    elif isinstance(v, (list, tuple)):
        t = "[" + ", ".join(_display(e, budget) or "" for e in v[:50]) + \
            (", …]" if len(v) > 50 else "]")
    elif isinstance(v, dict):
        t = "{" + ", ".join(f"{k}: {_display(e, budget) or ''}"
                            for k, e in list(v.items())[:20]) + "}"
    else:
        t = "" if v is None else str(v)
    budget[0] -= len(t)
    return t


def _scalar_answer(text: str) -> str:
    t = text.strip()
    if _INF_NAN.fullmatch(t):
        what = "not a number" if "nan" in t.lower() else "infinite"
        raise ValueError(f"{t!r} is {what}: an answer is a finite number")
    if _SEXAGESIMAL.fullmatch(t):
        raise ValueError(f"{t!r} is not a number: ':' is not allowed in an answer (write "
                         "a decimal)")
    return text


def unknown_ids(sheet: Sheet, known: list[str]) -> list[SheetWarning]:
    """Warnings for step ids in the sheet that the exercise does not ask (with did-you-mean)."""
    import difflib

    ids = set(known)
    out = []
    for sid in sheet.answers:
        if sid in ids:
            continue
        near = [k for k in known if k.lower() == sid.lower()] or \
            difflib.get_close_matches(sid, known, n=1, cutoff=0.6)
        hint = f" (did you mean {near[0]}?)" if near else ""
        out.append(SheetWarning(sheet.file, sheet.lines.get(sid),
                                f"unknown step id {sid!r} ignored{hint}"))
    return out
