"""Answer sheets: reading what comes back (the blank one is written by tutor.template).

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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


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
