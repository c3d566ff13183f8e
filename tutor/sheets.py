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
``file:line: message``. A YAML number is turned back into its exact decimal text (the YAML
layer gives a Decimal), so ``-0.3654`` is graded as −3654/10000, never as a binary float.
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
    warnings: tuple[str, ...] = ()  # "file:line: message"
    header_lines: dict[str, int] = field(default_factory=dict)  # header key → its line

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
        f"exercise: {ex.id}",
        f"sha: \"{ex.sha}\"  # the exercise's content hash: leave it as it is",
        f"student: {_yaml_str(student)}",
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
    from tutor.yamlio import load_yaml

    precheck(text, file)
    try:
        doc = load_yaml(text, file)
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
            warnings.append(f"{file}:{line_of(k) or 1}: unknown header key {str(k)!r} ignored "
                            f"(a sheet has {', '.join(HEADER_KEYS)})")
    if "answers" not in data:
        raise InputError("no 'answers:' section (run `tutor template EXERCISE` for a blank "
                         "sheet)", file, 1)
    raw = data["answers"]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("'answers:' must be a mapping, one `step: answer` per line",
                         file, line_of("answers"))

    exercise = _header_text(data, "exercise", file, line_of)
    sha = _header_text(data, "sha", file, line_of)
    student = _header_text(data, "student", file, line_of) or Path(file).stem
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InputError(f"seed must be a whole number, not {_short(seed)}", file,
                         line_of("seed"))

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
            answers[sid] = None
            invalid[sid] = str(exc)
    header = {k: line_of(k) for k in HEADER_KEYS if k in data and line_of(k)}
    return Sheet(file, exercise, sha, student, seed, answers, lines, invalid, tuple(warnings),
                 header)


def _header_text(data: dict, key: str, file: str, line_of) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, (dict, list)):
        raise InputError(f"{key} must be a single value, not a "
                         f"{'mapping' if isinstance(v, dict) else 'list'}", file, line_of(key))
    return answer_text(v) if not isinstance(v, str) else v


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) <= 40 else t[:37] + "..."


def answer_text(v: Any, budget: list | None = None) -> str | None:
    """A YAML value as the answer text a student typed; ValueError if it is no answer.

    Numbers come back as their exact decimal text (Decimal('-0.3654') → "-0.3654");
    a YAML list becomes "[a, b]" (nested: a matrix).
    """
    budget = budget if budget is not None else [MAX_ENTRIES]
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"  # not a number: the parser says so
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise ValueError(f"{v} is not a number you can grade")
        return format(v, "f")
    if isinstance(v, Fraction):
        return f"{v.numerator}/{v.denominator}"
    if isinstance(v, float):  # only if the YAML layer ever hands one over
        return answer_text(Decimal(repr(v)), budget)
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
    raise ValueError(f"not an answer: {_short(v)}")


def unknown_ids(sheet: Sheet, known: list[str]) -> list[str]:
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
        out.append(f"{sheet.where(sid)}: unknown step id {sid!r} ignored{hint}")
    return out
