"""Issue 13 item 4: the shape misconceptions of tensor graphs, and item 3's max-pool tie.

A broadcast in the forward pass is a sum in the backward pass. A student who forgets the sum
writes ∂L/∂b as the whole n × B gradient (the wrong shape: named `bias-no-batch-sum`, no
credit); one who sums along the other axis writes a 1 × B row, or — where the shapes happen
to match — a vector of the right length with the wrong numbers (`broadcast-sum-wrong-axis`).
Both are swaps of the rules table's `tensor:add`/`sub`/`mul`/`div` (and `affine:db`,
`tensor:sum`/`mean` for the wrong axis), so `tutor check` and the practice prompt name them
the way they name every other catalogued mistake. A 2×2 max-pool window whose max ties is a
`tutor validate` warning (W309), at the maxpool in the node's text.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sympy as sp
import yaml
from typer.testing import CliRunner

from tutor.cli import app
from tutor.core import work
from tutor.grade import grade, score
from tutor.misconceptions import CATALOGUE, buggy_rules, diagnose, local
from tutor.practice import Session
from tutor.render import fmt
from tutor.rules import RULES
from tutor.validate import validate_file, validate_text
from tutor.words.misconceptions import hint

DATA = Path(__file__).parent / "data"
DOCS = Path(__file__).resolve().parents[1] / "docs"
SQUARE = str(DATA / "square-batch.yaml")
TIE = DATA / "maxpool-tie.yaml"
UNSUMMED, WRONG_AXIS = "bias-no-batch-sum", "broadcast-sum-wrong-axis"
_WORKED: dict = {}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


def worked(ex: str):
    if ex not in _WORKED:
        _WORKED[ex] = work(ex)
    return _WORKED[ex]


def text(v, places: int = 10) -> str:
    """An answer as a student types it: decimals, [a, b] or [[a, b], [c, d]]."""
    def one(x):
        return f"{float(sp.N(x, 30)):.{places}f}"

    if isinstance(v, sp.MatrixBase):
        if v.rows == 1 or v.cols == 1:
            return "[" + ", ".join(one(x) for x in v) + "]"
        return "[" + ", ".join("[" + ", ".join(one(x) for x in v.row(i)) + "]"
                               for i in range(v.rows)) + "]"
    return one(v)


def correct_sheet(ex: str) -> dict[str, str]:
    return {s.id: text(s.value) for s in worked(ex).steps}


def summed(m, axis: int):
    """The engine-free reference: m summed down each column (0) or along each row (1)."""
    if axis == 0:
        return sp.Matrix([[sum(m.col(j)) for j in range(m.cols)]])
    return sp.Matrix([[sum(m.row(i))] for i in range(m.rows)])


def buggy(ex: str, sid: str, mid: str, variant: int = 0):
    w = worked(ex)
    value, applies = local(w.graph, buggy_rules(mid, variant), w.step(sid).key,
                           w.solution.quantities)
    assert applies, (ex, sid, mid)
    return value


# The unsummed broadcast gradient: (exercise, bias step, the gradient summed into it).
UNSUMMED_CASES = [("batch-softmax-ce", "db", "dlogits"), ("batchnorm-ninja", "db2", "dlogits"),
                  ("sigmoid-batch-mse", "db1", "delta1"), (SQUARE, "db", "dz")]
# The wrong axis: (exercise, step, the value, the verdict its shape gets).
def wrong_axis_cases():
    bn, sq = worked("batchnorm-ninja"), worked(SQUARE)
    return [
        # a layer's bias: δ1 (2 units × 2 examples) summed over the units — 2 entries, as b1
        ("sigmoid-batch-mse", "db1", summed(worked("sigmoid-batch-mse").step("delta1").value, 0),
         "wrong"),
        # a column broadcast summed down each column: 1 × 4 for a 2 × 1 (the wrong shape)
        ("batchnorm-ninja", "dbeta", summed(bn.step("dy").value, 0), "invalid"),
        ("batchnorm-ninja", "dmu", summed(-bn.step("dhc").value, 0), "invalid"),
        # square: the wrong sum has the right length, so it is a plain wrong answer
        (SQUARE, "db", summed(sq.step("dz").value, 0), "wrong"),
        # sum(q, axis=1) sent back as if it ran down each column: ∂q[i, j] = ∂L/∂s[j]
        (SQUARE, "dq", sp.Matrix(2, 2, lambda i, j: sq.step("ds").value[j]), "wrong"),
    ]


# ─── the rules ────────────────────────────────────────────────────────────────────────
def test_the_wrong_axis_is_a_catalogued_swap_of_the_broadcast_and_reduction_rules():
    m = CATALOGUE[WRONG_AXIS]
    assert m.name == "summed over the wrong axis" and m.skill == "bias_grad"
    table = buggy_rules(WRONG_AXIS)
    assert {k for k in RULES if table[k] is not RULES[k]} == {
        "affine:db", "tensor:add", "tensor:sub", "tensor:mul", "tensor:div", "tensor:sum",
        "tensor:mean"}
    unsummed = buggy_rules(UNSUMMED, 0)  # the unsummed form is the first variant's
    assert {k for k in RULES if unsummed[k] is not RULES[k]} == {
        "affine:db", "tensor:add", "tensor:sub", "tensor:mul", "tensor:div"}


@pytest.mark.parametrize("ex, sid, src", UNSUMMED_CASES, ids=lambda v: Path(str(v)).stem)
def test_the_unsummed_rule_gives_the_gradient_before_its_sum(ex, sid, src):
    w = worked(ex)
    before = w.step(src).value
    assert buggy(ex, sid, UNSUMMED) == before  # n × B
    off = summed(before, 1) - w.step(sid).value  # the truth is its sum over the batch
    assert all(abs(sp.N(x, 40)) < 1e-30 for x in off)


def test_the_wrong_axis_rule_gives_the_other_sum():
    for ex, sid, value, _ in wrong_axis_cases():
        got = buggy(ex, sid, WRONG_AXIS)
        assert len(got) == len(value), (ex, sid)
        assert all(abs(sp.N(a - b, 40)) < 1e-30 for a, b in zip(got, value)), (ex, sid)


def test_a_wrong_sum_that_is_all_zeros_is_no_evidence():
    """softmax + cross-entropy: every column of ∂L/∂logits sums to 0, so the wrong-axis sum
    of the last bias is all zeros — a guess, not a diagnosis (Numbas #368)."""
    w = worked("batch-softmax-ce")
    assert all(abs(sp.N(x, 40)) < 1e-30 for x in summed(w.step("dlogits").value, 0))
    _, applies = local(w.graph, buggy_rules(WRONG_AXIS), w.step("db").key, w.solution.quantities)
    assert not applies
    assert diagnose(w, "db", (0, 0, 0, 0)) == []


# ─── tutor check ──────────────────────────────────────────────────────────────────────
def check_json(ex: str, answers: dict, tmp_path) -> dict:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(yaml.safe_dump({"exercise": worked(ex).exercise.id, "student": "s1",
                                     "answers": answers}, allow_unicode=True))
    r = CliRunner().invoke(app, ["check", ex, str(sheet), "--format", "json"])
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.stdout)["sheets"][0]


@pytest.mark.parametrize("ex, sid, src", UNSUMMED_CASES, ids=lambda v: Path(str(v)).stem)
def test_check_names_an_unsummed_bias_gradient_and_gives_it_no_credit(ex, sid, src, tmp_path):
    answers = correct_sheet(ex)
    answers[sid] = text(worked(ex).step(src).value)  # n × B: the whole upstream gradient
    sheet = check_json(ex, answers, tmp_path)
    steps = {s["id"]: s for s in sheet["steps"]}
    assert steps[sid]["misconception"] == UNSUMMED
    assert steps[sid]["code"] == f"{sid}.{UNSUMMED}"
    assert steps[sid]["verdict"] != "correct" and steps[sid]["points"] == 0
    assert [i for i, s in steps.items() if s["misconception"]] == [sid]
    assert sheet["score"] == sheet["max"] - 1


def test_check_says_what_to_do_with_the_tensor_bias(tmp_path):
    ex = "batch-softmax-ce"
    answers = correct_sheet(ex)
    answers["db"] = text(worked(ex).step("dlogits").value)
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(yaml.safe_dump({"exercise": ex, "student": "s1", "answers": answers}))
    r = CliRunner().invoke(app, ["check", ex, str(sheet)])
    assert r.exit_code == 1
    said = " ".join(r.output.split())
    assert "db.bias-no-batch-sum: no batch sum for the bias at db" in said
    assert hint(worked(ex), "db", UNSUMMED) == (
        "b is shared by every example of the batch: sum ∂L/∂logits over the batch axis, "
        "along each row: sum(∂L/∂logits, axis=1)")


def test_grade_names_the_unsummed_answer_in_the_grader_as_well():
    w = worked(SQUARE)
    answers = correct_sheet(SQUARE)
    answers["db"] = text(w.step("dz").value)
    verdicts = grade(w, answers)
    v = {u.step_id: u for u in verdicts}["db"]
    assert v.misconceptions == (UNSUMMED,) and v.diagnosis.buggy_value == w.step("dz").value
    assert score(w, verdicts).points["db"] == 0


@pytest.mark.parametrize("case", range(5))
def test_check_names_a_sum_over_the_wrong_axis(case, tmp_path):
    ex, sid, value, verdict = wrong_axis_cases()[case]
    answers = correct_sheet(ex)
    answers[sid] = text(value)
    steps = {s["id"]: s for s in check_json(ex, answers, tmp_path)["steps"]}
    assert steps[sid]["verdict"] == verdict and steps[sid]["points"] == 0
    assert steps[sid]["misconception"] == WRONG_AXIS
    assert [i for i, s in steps.items() if s["misconception"]] == [sid]


def test_the_transposed_wrong_sum_is_named_however_it_is_typed():
    """db1's wrong sum is a row (one entry per example); typed as a column, a row or a
    bracketed matrix it is the same mistake."""
    w = worked("sigmoid-batch-mse")
    row = summed(w.step("delta1").value, 0)
    for typed in (text(row), "[" + text(row) + "]", text(row.T)):
        answers = correct_sheet("sigmoid-batch-mse")
        answers["db1"] = typed
        v = {u.step_id: u for u in grade(w, answers)}["db1"]
        assert v.misconceptions == (WRONG_AXIS,), typed


@pytest.mark.parametrize("ex", ["batch-softmax-ce", "batchnorm-ninja", "batchnorm-fused",
                                "sigmoid-batch-mse", "affine-relu-vector", "residual-vector",
                                SQUARE], ids=lambda v: Path(v).stem)
def test_a_correct_sheet_never_names_them(ex, tmp_path):
    w = worked(ex)
    for places in (4, 10):
        sheet = {s.id: text(s.value, places) for s in w.steps}
        assert all(not v.misconceptions for v in grade(w, sheet))
    for s in w.steps:
        assert diagnose(w, s.id, s.value) == []
    steps = check_json(ex, correct_sheet(ex), tmp_path)["steps"]
    assert not any(s["misconception"] for s in steps)


def test_explain_says_the_axis_in_the_steps_own_names():
    from tutor.words.misconceptions import explain

    w = worked("batchnorm-ninja")
    (d,) = diagnose(w, "dbeta", tuple(summed(w.step("dy").value, 0)))
    assert d.misconception.id == WRONG_AXIS
    said = explain(w, d, reveal=False)
    assert said.startswith("summed over the wrong axis at dbeta: beta (a column, 2×1) is "
                           "repeated along each row to 2×4 in the forward pass, but its "
                           "gradient is summed down each column.")
    assert "the correct rule is ∂L/∂beta = sum(∂L/∂y, axis=1)" in said
    assert hint(w, "dbeta", WRONG_AXIS) == ("beta is 2×1, repeated along each row to 2×4: "
                                            "sum ∂L/∂y along each row, sum(·, axis=1)")
    assert hint(worked("sigmoid-batch-mse"), "db1", WRONG_AXIS) == (
        "b1 has one entry per unit and every example of the batch uses it: sum δ1 along each "
        "row, over the batch")
    assert hint(worked(SQUARE), "dq", WRONG_AXIS) == (
        "sum(q, axis=1) runs along each row (axis=1): q[i, j] feeds only entry i of it, so it "
        "gets ∂L/∂s[i]")


# ─── the practice prompt ──────────────────────────────────────────────────────────────
def _to(ex: str, sid: str) -> Session:
    """A session of ``ex`` with every step before ``sid`` answered right."""
    s = Session(worked(ex))
    while s.current.id != sid:
        assert s.submit(fmt(s.current.value, 8)).kind == "correct"
    return s


def test_practice_names_an_unsummed_tensor_bias_and_aims_the_next_hint_at_it():
    s = _to("batch-softmax-ce", "db")
    fb = s.submit(text(worked("batch-softmax-ce").step("dlogits").value, 6))
    assert fb.misconceptions == (UNSUMMED,) and fb.kind != "correct"
    said = " ".join(fb.lines)
    assert "This looks like: no batch sum for the bias at db" in said
    assert s.current.id == "db"  # not accepted
    assert s.hint().lines[0] == (
        "Hint (no batch sum for the bias): b is shared by every example of the batch: sum "
        "∂L/∂logits over the batch axis, along each row: sum(∂L/∂logits, axis=1)")


@pytest.mark.parametrize("case", range(5))
def test_practice_names_a_sum_over_the_wrong_axis(case):
    ex, sid, value, verdict = wrong_axis_cases()[case]
    s = _to(ex, sid)
    fb = s.submit(text(value, 6))
    assert fb.misconceptions == (WRONG_AXIS,)
    assert fb.kind == verdict
    assert "This looks like: summed over the wrong axis at " + sid in " ".join(fb.lines)
    assert s.current.id == sid


def test_practice_cli_names_the_unsummed_bias():
    w = worked("batch-softmax-ce")
    lines = []
    for st in w.steps:
        if st.id == "db":
            lines.append(text(w.step("dlogits").value, 6))
            break
        lines.append(text(st.value))
    r = CliRunner().invoke(app, ["practice", "batch-softmax-ce", "--plain"],
                           input="\n".join(lines + ["quit"]) + "\n")
    assert "This looks like: no batch sum for the bias" in r.output, r.output[-2000:]


# ─── tutor validate: a max-pool tie ───────────────────────────────────────────────────
def test_validate_warns_of_a_max_pool_tie_at_the_maxpool():
    found = [p for p in validate_file(TIE) if p.code == "W309"]
    assert [(p.line, p.col) for p in found] == [(14, 6)]
    assert found[0].is_warning
    assert found[0].message == (
        "maxpool(r): window [1,1] ties for its max at 1.5: r[1,2] and r[2,1]; which entry gets "
        "the window's gradient is a convention — tutor gives it to the first, r[1,2], row by "
        "row (as PyTorch does); change a value so one entry wins")
    r = CliRunner().invoke(app, ["validate", str(TIE), "--format", "json"])
    assert "W309" in r.stdout and r.exit_code == 1


def test_the_warning_points_inside_the_node_and_is_quiet_without_a_tie():
    src = TIE.read_text(encoding="utf-8")
    nested = src.replace("p: maxpool(r)", "p: 2 * maxpool(a * X)")
    (p,) = [p for p in validate_text(nested, "t.yaml") if p.code == "W309"]
    assert (p.line, p.col) == (14, 10) and p.message.startswith("maxpool(a * X): window [1,1]")
    assert "(a * X)[1,2] and (a * X)[2,1]" in p.message
    untied = src.replace("[[1, 3, 0, 1], [3, 2,", "[[1, 3, 0, 1], [2.5, 2,")
    assert [p for p in validate_text(untied, "t.yaml") if p.code == "W309"] == []


def test_the_bundled_conv2d_maxpool_states_its_tie_convention_and_so_is_clean():
    """Window [2,1] of p = maxpool(r) is four dead ReLUs, all 0: ∂L/∂p[2,1] = -1 goes to
    r[3,1] by the convention (dr[3,1] = -1, asked), where any of the four would do. With
    ReLU before a 2×2 pool that tie is what lets the missing ReLU mask show (a window's
    winner below 0 is always four zeros), so the exercise keeps it and says so:
    ``conventions: {maxpool_tie: first}`` — validate is clean, and the drawing states the
    convention, as it states ReLU′(0)."""
    from io import StringIO

    from rich.console import Console

    from tutor.core import work_exercise
    from tutor.draw import drawing
    from tutor.exercise import load_text

    def drawn(w) -> str:
        out = StringIO()
        Console(file=out, width=80, no_color=True).print(drawing(w))
        return out.getvalue()

    w = worked("conv2d-maxpool")
    r = w.solution.value("r")
    assert [r[i, j] for i in (2, 3) for j in (0, 1)] == [0, 0, 0, 0]
    assert w.step("dr").value[2, 0] == -1
    assert [p for p in validate_file(w.exercise.file) if p.code.startswith("W")] == []
    text = drawn(w)
    assert "tie in a max pool: the first largest entry, row by row, gets the gradient" in text
    # without the convention it is the warning
    src = Path(w.exercise.file).read_text(encoding="utf-8")
    unstated = "\n".join(line for line in src.splitlines() if "maxpool_tie" not in line)
    found = [p for p in validate_text(unstated, "c.yaml") if p.code.startswith("W")]
    assert [(p.code, p.line, p.col) for p in found] == [("W309", 23, 6)]
    assert "window [2,1] ties for its max at 0: r[3,1], r[3,2], r[4,1] and r[4,2]" \
        in found[0].message
    assert "the first, r[3,1]" in found[0].message
    assert "tie in a max pool" not in drawn(work_exercise(load_text(unstated, "c.yaml")))


# ─── the documentation ────────────────────────────────────────────────────────────────
def test_every_misconception_is_in_the_catalogue_docs():
    doc = (DOCS / "misconceptions.md").read_text(encoding="utf-8")
    assert [m for m in CATALOGUE if f"| `{m}` |" not in doc] == []
    tensors = (DOCS / "tensors.md").read_text(encoding="utf-8")
    assert f"`{WRONG_AXIS}`" in tensors and "W309" in tensors
    assert "| W309 |" in (DOCS / "authoring.md").read_text(encoding="utf-8")
