"""Fuzzing the three readers of untrusted text (issue 10): the answer grammar, the sheet
reader and the exercise reader. Whatever the input: no traceback, no internal error, the
right exit code, and under a second of CPU per input (CPU time, so that a loaded machine
does not make the test flaky; wall time is bounded by tutor.budget on top).

Inputs are built from the grammar's own pieces — numbers of every form (huge, tiny, long
decimals, exponents), operators, the functions, brackets — so that most are well formed and
reach the engine, where the slow cases live; the rest are broken in every way a student
breaks them. Examples are drawn the same way on every run (derandomize) so that CI is
reproducible; `python bench/run.py fuzz` runs a larger random corpus and reports its worst.
"""
from __future__ import annotations

import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tutor.catalog import resolve
from tutor.cli import app
from tutor.core import work
from tutor.grade import grade
from tutor.words import verdict_text

CPU_LIMIT = 1.0
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# ─── the answer grammar, as a strategy ────────────────────────────────────────────────
digits = st.text("0123456789", min_size=1, max_size=12)
number = st.one_of(
    digits,
    st.builds(lambda a, b: f"{a}.{b}", digits, digits),
    st.builds(lambda a, s, e: f"{a}e{s}{e}", digits, st.sampled_from(["", "-", "+"]),
              st.integers(0, 400).map(str)),
    st.sampled_from(["0", "1", "0.5", "1e-300", "9.5e-290", "1e10", "-1e10", "37", "800",
                     "0.092", "0.1234567", "1/3", "2/7", "10^50", "1e-20"]),
)
FUNCS = ["exp", "log", "ln", "sqrt", "sigmoid", "tanh", "relu", "abs", "max", "min"]


def _expr(children):
    return st.one_of(
        st.builds(lambda a, op, b: f"{a}{op}{b}", children,
                  st.sampled_from(["+", "-", "*", "/", "^", "**", " ", "−", "×"]), children),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(FUNCS), children),
        st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(["max", "min"]),
                  children, children),
        st.builds(lambda a: f"({a})", children),
        st.builds(lambda a: f"-{a}", children),
        st.builds(lambda a, b: f"[{a}, {b}]", children, children),
    )


answer = st.recursive(number, _expr, max_leaves=12)
garbage = st.lists(st.sampled_from(list("0123456789.eE+-*/^()[],; _xj−×\t{}:'\"#&|\\") +
                                   ["exp", "log", "\x1b[2J", "\u202e", "\x00", "nan", "inf"]),
                   max_size=60).map("".join)
any_answer = st.one_of(answer, answer, answer, garbage)

_LAB9 = {}


def lab9():
    if not _LAB9:
        _LAB9["w"] = work("lab9-relu-sigmoid-bce")
    return _LAB9["w"]


@FUZZ
@given(st.dictionaries(st.sampled_from(["z3", "yhat", "L", "delta3", "db3", "z1", "dW2"]),
                       any_answer, min_size=1, max_size=4))
def test_any_answers_are_graded_in_bounds(answers):
    """Parse, compare, follow through from the student's own values, diagnose: < 1 s CPU."""
    w = lab9()
    t = time.process_time()
    verdicts = grade(w, answers)
    took = time.process_time() - t
    assert took < CPU_LIMIT, (answers, took)
    assert {v.status for v in verdicts} <= {"correct", "wrong", "invalid", "missing",
                                            "follow_through"}
    for v in verdicts:
        if v.step_id in answers and v.status == "invalid":
            assert verdict_text(v) and "internal" not in verdict_text(v) \
                and "Traceback" not in verdict_text(v)


# ─── the sheet reader, through `tutor check` as a teacher runs it ─────────────────────
header = st.sampled_from([
    "exercise: lab9-relu-sigmoid-bce\n", "exercise: merge-sum\n", "", "exercise: [1, 2]\n",
    "exercise: lab9-relu-sigmoid-bce\nseed: 12\n", "exercise: lab9-relu-sigmoid-bce\nseed: x\n",
    "exercise: lab9-relu-sigmoid-bce\nstudent: \"\\e[31mbob\"\n", "%YAML 1.1\n---\n",
    "exercise: lab9-relu-sigmoid-bce\nsha: \"0000\"\n", "&a [*a]\n",
])
key = st.sampled_from(["z1", "h1", "z3", "yhat", "L", "delta2", "dW1", "nope", "z3 ", "1",
                       "&x z3", "? z3", "<<"])
value = st.one_of(any_answer, any_answer.map(lambda a: f'"{a}"'),
                  st.sampled_from(["", "null", "~", "[]", "{}", "*x", "|\n    1", "!!python/object:os.system ls",
                                   "[1, [2, [3, [4]]]]", "0x10", "1_000", ".inf", "yes"]))
sheet = st.builds(
    lambda h, body, tail: h + "answers:\n" + "".join(f"  {k}: {v}\n" for k, v in body) + tail,
    header, st.lists(st.tuples(key, value), max_size=6),
    st.sampled_from(["", "  bad indent:\n", "\t\n", "answers: again\n", "\x00", "\ufeff"]))


@FUZZ
@given(st.lists(sheet, min_size=1, max_size=3))
def test_any_sheets_check_with_the_right_exit_code(tmp_path_factory, sheets):
    folder = tmp_path_factory.mktemp("class")
    for i, text in enumerate(sheets):
        (folder / f"s{i}.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
    t = time.process_time()
    r = CliRunner().invoke(app, ["check", "lab9-relu-sigmoid-bce", str(folder),
                                 "--format", "json", "-j", "1"])
    took = time.process_time() - t
    assert took < CPU_LIMIT * len(sheets), (sheets, took)
    assert r.exit_code in (0, 1, 2), (sheets, r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    import json

    doc = json.loads(r.stdout)
    assert doc["summary"]["sheets"] == len(sheets)
    unreadable = [s for s in doc["sheets"] if "error" in s]
    assert (r.exit_code == 2) == bool(unreadable)


# ─── the exercise reader: a bundled exercise with its numbers and lines changed ───────
BASES = {e: Path(resolve(e)).read_text() for e in
         ("merge-sum", "lab9-relu-sigmoid-bce", "softmax-cross-entropy", "residual-block")}


@st.composite
def exercise(draw):
    import re

    text = BASES[draw(st.sampled_from(sorted(BASES)))]
    spots = [m for m in re.finditer(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", text)]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["number", "number", "number", "line", "dup", "garbage"]))
        lines = text.split("\n")
        if kind == "number" and spots:
            m = draw(st.sampled_from(spots))
            text = text[:m.start()] + draw(number) + text[m.end():]
            spots = [s for s in re.finditer(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", text)]
        elif kind == "line" and len(lines) > 2:
            del lines[draw(st.integers(0, len(lines) - 1))]
            text = "\n".join(lines)
        elif kind == "dup" and len(lines) > 2:
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        else:
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(garbage) + text[i:]
    return text


@FUZZ
@given(exercise())
def test_any_exercise_validates_to_located_problems_in_bounds(tmp_path_factory, text):
    f = tmp_path_factory.mktemp("ex") / "ex.yaml"
    f.write_text(text, encoding="utf-8", errors="surrogateescape")
    t = time.process_time()
    r = CliRunner().invoke(app, ["validate", str(f)])
    took = time.process_time() - t
    assert took < CPU_LIMIT, (text, took)
    assert r.exit_code in (0, 1, 2), (text, r.exit_code, r.output)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output and "E999" not in r.output, (text, r.output)
    if r.exit_code:
        first = r.stdout.strip().splitlines()[0]
        assert first.startswith(f"{f}:"), first  # file:line:col: code message
