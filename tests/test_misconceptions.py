"""Misconception diagnosis: a student who makes exactly one catalogued mistake is named.

Each case plays that student through a bundled exercise where the mistake shows: every step
right (or right from their own answers) except the one where the buggy rule is used. The
diagnosis must name it in `tutor practice`, in `tutor check` and in tutor.grade.grade; a correct
sheet and sheets of random wrong numbers must get none.
"""
from __future__ import annotations

import json

import pytest
import sympy as sp
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tutor.cli import app
from tutor.core import work, work_exercise
from tutor.grade import grade
from tutor.misconceptions import (CATALOGUE, RULES, Diagnosis, annotate, buggy_rules, diagnose,
                                  indistinguishable, local)
from tutor.render import fmt
from tutor.solve import solve
from tutor.words import SKILLS
from tutor.words.misconceptions import explain, hint, text as rule_text

LAB9 = "lab9-relu-sigmoid-bce"
# misconception → (exercise where it shows, step, variant, what the bug gives there)
CASES = {
    "no-regularisation": ("branch-merge-l2", "da", 0, "0.3499"),
    "no-sum-at-merge": ("merge-sum", "dy", 0, "16"),
    "outer-product-order": (LAB9, "dW2", 0, "[[-0.1315, 0], [-0.0219, 0]]"),
    "no-transpose-pass-back": (LAB9, "dh1", 0, "[-0.0877, 0.1096]"),
    "phi-prime-at-activation": ("sigmoid-batch-mse", "delta1", 0,
                                "[[-0.2525, 0.1415], [0.2129, -0.1463]]"),
    "no-relu-mask": (LAB9, "delta2", 0, "[-0.2192, 0.1462]"),
    "relu-prime-zero-one": ("diagonal-flip-4-3-4", "delta1", 0, "[-0.0975, 0, 0.44]"),
    "sigmoid-prime-after-bce": (LAB9, "delta3", 0, "-0.0847"),
    "loss-sign-flip": (LAB9, "delta3", 0, "0.3654"),
    "mse-no-mean": ("diagonal-flip-4-3-4", "dyhat", 0, "[-1.8, -2.2, -0.1, -2.5]"),
    "mse-no-two": ("diagonal-flip-4-3-4", "dyhat", 0, "[-0.225, -0.275, -0.0125, -0.3125]"),
    "bias-no-batch-sum": ("sigmoid-batch-mse", "db2", 1, "-1.0466"),
    "broadcast-sum-wrong-axis": ("sigmoid-batch-mse", "db1", 0, "[-0.1726, -0.0093]"),
    "update-plus-eta": (LAB9, "b3_new", 0, "0.2635"),  # 0.3 + 0.1·(−0.3654), not 0.3365
    "pass-back-updated-weights": (LAB9, "dh2", 0, "[-0.2248, 0.1462]"),
    "weight-grad-wrong-activation": (LAB9, "dW2", 0, "[[-0.0921, 0], [0, 0]]"),
    # the modules of tensor graphs (issue 13)
    "softmax-diagonal-jacobian": ("batch-softmax-ce", "dlogits", 0,
                                  "[[-0.1329, 0, 0, 0], [0, -0.066, 0, -0.2205], [0, 0, -0.1602, 0]]"),
    "maxpool-spread": ("conv2d-maxpool", "dr", 0, "[[0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5], "
                                                  "[-1, -1, 0.5, 0.5], [-1, -1, 0.5, 0.5]]"),
    "attention-no-scale": ("attention-2-tokens", "dK", 0, "[[-0.0249, -0.0498], [0.0249, 0.0498]]"),
    "conv-no-flip": ("conv1d-relu", "dx", 0, "[0, 2.5, -2.5, 3.75, -2.5, 1.25]"),
    "batchnorm-no-stat-paths": ("batchnorm-fused", "dh", 0,
                                "[[-1, 1, 0, -1], [0.3333, 0.1111, -0.3333, 0]]"),
}
_WORKED: dict = {}


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


def buggy_value(mid: str):
    ex, sid, variant, _ = CASES[mid]
    w = worked(ex)
    value, applies = local(w.graph, buggy_rules(mid, variant), w.step(sid).key,
                           w.solution.quantities)
    assert applies
    return value


def student(mid: str) -> dict[str, str]:
    """The sheet of a student who makes exactly this mistake at its step and works every
    other step right from their own answers."""
    ex, sid, _, _ = CASES[mid]
    w = worked(ex)
    key = w.step(sid).key
    own = solve(w.graph, overrides={key: buggy_value(mid)}).quantities
    return {s.id: text(own[s.key].value) for s in w.steps}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


# ─── the catalogue ────────────────────────────────────────────────────────────────────
def test_the_catalogue_has_every_mistake_the_issue_lists():
    assert set(CASES) == set(CATALOGUE)
    for m in CATALOGUE.values():
        assert m.skill in SKILLS
        assert m.name and m.description and m.correct and m.buggy and m.correct != m.buggy


@pytest.mark.parametrize("mid", sorted(CATALOGUE))
def test_each_misconception_is_a_swap_of_entries_of_the_rules_table(mid):
    table = buggy_rules(mid)
    assert set(table) == set(RULES)
    swapped = [k for k in RULES if table[k] is not RULES[k]]
    assert 1 <= len(swapped) <= 7, swapped  # the sign flip swaps every loss gradient


@pytest.mark.parametrize("mid", sorted(CASES))
def test_the_buggy_rule_gives_the_students_number(mid):
    assert fmt(buggy_value(mid)) == CASES[mid][3]


# ─── the student who makes the mistake: grade, check, practice ──────────────────────
@pytest.mark.parametrize("mid", sorted(CASES))
def test_grade_names_the_mistake_at_its_step_and_nowhere_else(mid):
    ex, sid, _, _ = CASES[mid]
    verdicts = {v.step_id: v for v in grade(worked(ex), student(mid))}
    v = verdicts[sid]
    assert v.status == "wrong"
    assert mid in v.misconceptions
    assert v.code == f"{sid}.{v.misconceptions[0]}"
    named = {i for i, u in verdicts.items() if u.misconceptions}
    assert named == {sid}


def test_one_name_when_a_specific_bug_and_a_general_one_give_the_same_number():
    """Forgetting the penalty path *is* keeping one consumer of a merge: the more specific
    misconception is named alone (``subsumes``), in grade/check and in practice."""
    assert CATALOGUE["no-regularisation"].subsumes == ("no-sum-at-merge",)
    w = worked("branch-merge-l2")
    v = {v.step_id: v for v in grade(w, student("no-regularisation"))}
    assert v["da"].misconceptions == ("no-regularisation",)
    assert v["da"].code == "da.no-regularisation"
    assert [d.misconception.id for d in diagnose(w, "da", sp.Rational(3499, 10000))] == [
        "no-regularisation"]
    # it2.da = 0: x = 0 cuts the data path; keeping it alone is still "no regularisation"
    answers = {s.id: text(s.value) for s in w.steps}
    answers["it2.da"] = "0"
    v = {v.step_id: v for v in grade(w, answers)}
    assert v["it2.da"].misconceptions == ("no-regularisation",)
    # the general one is still named where it is the only one: merge-sum dy = 16
    assert [d.misconception.id for d in diagnose(worked("merge-sum"), "dy", sp.Integer(16))] \
        == ["no-sum-at-merge"]


@pytest.mark.parametrize("mid", sorted(CASES))
def test_check_puts_the_code_in_the_answer_note(mid, tmp_path):
    ex, sid, _, _ = CASES[mid]
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(yaml.safe_dump({"exercise": ex, "student": "s1", "answers": student(mid)},
                                    allow_unicode=True))
    r = CliRunner().invoke(app, ["check", ex, str(sheet), "--format", "json"])
    assert r.exit_code == 1, r.output
    steps = {s["id"]: s for s in json.loads(r.stdout)["sheets"][0]["steps"]}
    assert steps[sid]["verdict"] == "wrong"
    first = "no-regularisation" if mid == "no-regularisation" else mid  # see the test below
    assert steps[sid]["misconception"] == first
    assert [i for i, s in steps.items() if s["misconception"]] == [sid]


def test_check_counts_a_misconception_across_a_class(tmp_path):
    for i in range(3):
        (tmp_path / f"mask{i}.yaml").write_text(yaml.safe_dump(
            {"exercise": LAB9, "student": f"m{i}", "answers": student("no-relu-mask")}))
    (tmp_path / "flip.yaml").write_text(yaml.safe_dump(
        {"exercise": LAB9, "student": "f", "answers": student("loss-sign-flip")}))
    r = CliRunner().invoke(app, ["check", LAB9, str(tmp_path), "--format", "json"])
    codes = {c["code"]: c["students"] for c in json.loads(r.stdout)["summary"]["codes"]}
    assert codes["delta2.no-relu-mask"] == 3
    assert codes["delta3.loss-sign-flip"] == 1


@pytest.mark.parametrize("mid", sorted(CASES))
def test_practice_names_the_mistake(mid):
    ex, sid, _, _ = CASES[mid]
    w = worked(ex)
    answers = student(mid)
    lines = []
    for s in w.steps:
        lines.append(answers[s.id])
        if s.id == sid:
            break
    r = CliRunner().invoke(app, ["practice", ex, "--plain"], input="\n".join(lines + ["quit"]) + "\n")
    assert f"This looks like: {CATALOGUE[mid].name}" in r.output, r.output[-2000:]


# ─── the answer of another shape ─────────────────────────────────────────────────────
def test_x_g_transpose_of_the_wrong_shape_is_still_named():
    w = worked("affine-relu-layer")  # W1 is 2×3: x δᵀ is 3×2
    truth = w.step("dW1").value
    answers = {s.id: text(s.value) for s in w.steps}
    answers["dW1"] = text(truth.T)
    v = {v.step_id: v for v in grade(w, answers)}["dW1"]
    assert v.status == "invalid"
    assert v.misconceptions == ("outer-product-order",)


def test_an_unsummed_bias_gradient_is_named():
    w = worked("sigmoid-batch-mse")
    answers = {s.id: text(s.value) for s in w.steps}
    answers["db1"] = text(w.step("delta1").value)  # δ1 of both examples, 2×2
    v = {v.step_id: v for v in grade(w, answers)}["db1"]
    assert v.status == "invalid" and v.misconceptions == ("bias-no-batch-sum",)


# ─── from the student's own earlier answers ──────────────────────────────────────────
def test_a_second_bug_on_top_of_a_first_is_found_from_the_students_own_answers():
    w = worked(LAB9)
    flip = solve(w.graph, buggy_rules("loss-sign-flip")).quantities
    both = solve(w.graph, {**buggy_rules("loss-sign-flip"), "relu": buggy_rules("no-relu-mask")["relu"]}
                 ).quantities
    own = {s.id: flip[s.key].value for s in w.steps}
    d2 = both[w.step("delta2").key].value
    assert list(d2) == [-x for x in w.step("dh2").value]  # [0.2192, -0.1462]: flipped, unmasked
    ds = diagnose(w, "delta2", d2, own)
    assert [(d.misconception.id, d.from_own) for d in ds] == [("no-relu-mask", True)]
    assert "gives [0.2192, -0.1462] (from your own earlier answers)" in explain(w, ds[0])
    assert explain(w, ds[0]).endswith("gives [0.2192, 0].")
    assert diagnose(w, "delta2", d2) == []  # from the correct values, no bug gives it


def test_a_consistent_student_is_named_at_every_layer_where_it_shows():
    w = worked(LAB9)
    q = solve(w.graph, buggy_rules("pass-back-updated-weights")).quantities
    v = {v.step_id: v for v in grade(w, {s.id: text(q[s.key].value) for s in w.steps})}
    assert v["dh2"].misconceptions == ("pass-back-updated-weights",)
    assert v["dh1"].status == "wrong" and v["dh1"].misconceptions == ("pass-back-updated-weights",)
    assert v["delta2"].status == "follow_through" and v["delta2"].misconceptions == ()


def test_update_plus_eta_on_every_parameter_of_lab9():
    w = worked(LAB9)
    q = solve(w.graph, buggy_rules("update-plus-eta")).quantities
    v = grade(w, {s.id: text(q[s.key].value) for s in w.steps})
    assert {x.code for x in v if x.status != "correct"} == {
        f"{p}_new.update-plus-eta" for p in ("W1", "b1", "W2", "b2", "W3", "b3")}


# ─── what the tutor says ─────────────────────────────────────────────────────────────
def test_explain_shows_the_buggy_rule_beside_the_correct_one_with_numbers():
    w = worked(LAB9)
    (d,) = diagnose(w, "delta2", buggy_value("no-relu-mask"))
    assert isinstance(d, Diagnosis) and not d.from_own
    assert explain(w, d) == (
        "no ReLU mask at delta2: the gradient goes through ReLU unmasked, even where z2 ≤ 0. "
        "Your rule δ = ∂L/∂h gives [-0.2192, 0.1462] (from the correct inputs); the correct "
        "rule δ = ∂L/∂h ⊙ ReLU′(z), ReLU′(z) = 1[z > 0] gives [-0.2192, 0].")


def test_explain_without_reveal_gives_the_rule_but_not_the_value():
    w = worked(LAB9)
    (d,) = diagnose(w, "delta2", buggy_value("no-relu-mask"))
    assert explain(w, d, reveal=False) == (
        "no ReLU mask at delta2: the gradient goes through ReLU unmasked, even where z2 ≤ 0. "
        "Your rule δ = ∂L/∂h gives [-0.2192, 0.1462] (from the correct inputs); the correct "
        "rule is δ = ∂L/∂h ⊙ ReLU′(z), ReLU′(z) = 1[z > 0].")


def test_rule_texts_speak_of_the_steps_own_node():
    w = worked("merge-sum")  # x is a parameter here: a rule "∂L/∂x = …" at dy would mislead
    (d,) = [d for d in diagnose(w, "dy", sp.Integer(16))]
    assert (d.misconception.id, d.step_id, d.buggy_value, d.correct_value) == (
        "no-sum-at-merge", "dy", 16, 64)  # the diagnosis is data; its words below
    assert explain(w, d) == (
        "forgot to sum at a merge at dy: a quantity used twice gets the gradient of one path "
        "only. Your rule ∂L/∂y = the contribution of one consumer gives 16 (from the correct "
        "inputs); the correct rule ∂L/∂y = Σ over y's consumers of their contributions "
        "gives 64.")
    (u,) = diagnose(worked(LAB9), "b3_new", sp.Rational(2635, 10000))
    assert "Your rule b3′ = b3 + η ∂L/∂b3 gives 0.2635" in explain(worked(LAB9), u)
    m = CATALOGUE["no-sum-at-merge"]
    assert rule_text(m, "correct") == "∂L/∂v = Σ over v's consumers of their contributions"


HINTS = {  # what the hint aimed at each bug says at the step where it shows
    "no-sum-at-merge": "y feeds both u and v: add one term per consumer, "
                       "∂L/∂y = ∂L/∂u·∂u/∂y + ∂L/∂v·∂v/∂y",
    "no-relu-mask": "z2 = [0.42, -0.17], so ReLU′(z2) = [1, 0]: multiply ∂L/∂h2 by "
                    "ReLU′(z2) entry by entry: 0 wherever z2 ≤ 0",
    "outer-product-order": "∂L/∂W2 has the shape of W2: entry [i, j] is δ2[i]·h1[j] (row i: "
                           "output unit i, column j: input j), so ∂L/∂W2 = δ2 · h1ᵀ",
    "no-transpose-pass-back": "entry j of ∂L/∂h1 gathers what h1[j] fed: Σᵢ W2[i, j]·δ2[i], "
                              "down column j of W2: W2ᵀ · δ2",
    "mse-no-mean": "MSE is a mean: divide by the number of entries averaged, n = 4",
    "pass-back-updated-weights": "pass back through W3 as it was in the forward pass, not "
                                 "the updated W3′",
}


@pytest.mark.parametrize("mid", sorted(CASES))
def test_each_misconception_has_a_one_line_hint_in_the_steps_names(mid):
    ex, sid, _, _ = CASES[mid]
    w = worked(ex)
    text = hint(w, sid, mid)
    assert text and "\n" not in text and "{" not in text and len(text) < 200
    assert mid in [d.misconception.id for d in diagnose(w, sid, buggy_value(mid))]
    if mid in HINTS:
        assert text == HINTS[mid]


# ─── distinguishability ──────────────────────────────────────────────────────────────
def test_an_all_positive_layer_hides_a_missing_mask():
    assert indistinguishable(worked(LAB9)) == [("delta1", "no-relu-mask")]


def test_a_dead_branch_hides_a_forgotten_sum_and_x_zero_hides_the_data_path():
    assert indistinguishable(worked("dag-two-relu-gates")) == [
        ("dz1", "no-relu-mask"), ("dx1", "no-sum-at-merge"), ("dx2", "no-sum-at-merge")]
    assert indistinguishable(worked("branch-merge-l2")) == [
        ("it2.da", "no-sum-at-merge"), ("it2.dc", "no-sum-at-merge")]


def test_a_symmetric_W_hides_a_transpose():
    from tutor.exercise import load_text

    src = (worked(LAB9).exercise.file and open(worked(LAB9).exercise.file).read())
    src = src.replace("[[0.4, -0.2], [-0.5, 0.3]]", "[[0.4, -0.2], [-0.2, 0.3]]")
    src = src.replace("id: lab9-relu-sigmoid-bce", "id: lab9-symmetric")
    w = work_exercise(load_text(src, "lab9-symmetric.yaml"))
    assert ("dh1", "no-transpose-pass-back") in indistinguishable(w)
    assert ("dh1", "no-transpose-pass-back") not in indistinguishable(worked(LAB9))


def test_the_new_exercise_hides_nothing():
    assert indistinguishable(worked("sigmoid-batch-mse")) == []


# ─── no false diagnosis ──────────────────────────────────────────────────────────────
EXERCISES = [LAB9, "branch-merge-l2", "dag-two-relu-gates", "diagonal-flip-4-3-4",
             "sigmoid-batch-mse", "merge-sum", "affine-relu-layer", "residual-block",
             "softmax-cross-entropy", "practice-two-paths"]


@pytest.mark.parametrize("ex", EXERCISES)
def test_a_correct_sheet_gets_no_diagnosis(ex):
    w = worked(ex)
    for places in (4, 10):
        sheet = {s.id: text(s.value, places) for s in w.steps}
        assert all(not v.misconceptions for v in grade(w, sheet))
    for s in w.steps:
        assert diagnose(w, s.id, s.value) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ex=st.sampled_from(EXERCISES), data=st.data())
def test_random_wrong_numbers_get_no_diagnosis(ex, data):
    w = worked(ex)
    sheet = {s.id: text(s.value, 4) for s in w.steps}
    ids = data.draw(st.lists(st.sampled_from([s.id for s in w.steps]), min_size=1, max_size=4,
                             unique=True))
    # distinct numbers of magnitude ≥ 0.001: an all-zero answer, or a copy of another answer,
    # is no random number (0 at it2.da is exactly what forgetting the regulariser gives; dy
    # copied from dv is exactly what forgetting a path gives)
    n = sum(len(w.step(i).value) if isinstance(w.step(i).value, sp.MatrixBase) else 1
            for i in ids)
    pool = data.draw(st.lists(st.integers(10, 30000), min_size=n, max_size=n, unique=True))
    sgn = data.draw(st.lists(st.sampled_from([1, -1]), min_size=n, max_size=n))
    nums = iter(sp.Rational(k * s, 10000) for k, s in zip(pool, sgn))
    for sid in ids:
        like = w.step(sid).value
        v = (sp.Matrix(*like.shape, [next(nums) for _ in range(len(like))])
             if isinstance(like, sp.MatrixBase) else next(nums))
        sheet[sid] = text(v, 4)
    for v in grade(w, sheet):
        assert v.misconceptions == (), (v.step_id, v.answer, v.misconceptions)


def test_annotate_leaves_correct_and_missing_steps_alone():
    w = worked(LAB9)
    sheet = {"delta2": text(buggy_value("no-relu-mask"))}
    verdicts = grade(w, sheet, diagnose=False)
    out = annotate(w, verdicts)
    assert [v.step_id for v in out if v.misconceptions] == ["delta2"]
    assert all(v.status == "missing" for v in out if v.step_id != "delta2")


# ─── graph exercises: the same catalogue on expression nodes ─────────────────────────
GATES = """
id: gates
title: "a sigmoid gate and a ReLU at its kink"
kind: graph
inputs: {x: 1}
params: {w: 2, c: -1}
constants: {t: 1}
nodes:
  z: w*x + c
  h: sigmoid(z)
  r: relu(z - 1)
  L: (h + r - t)**2
loss: L
ask: [forward, backward]
"""


def test_graph_nodes_use_the_same_swaps():
    from tutor.exercise import load_text

    w = work_exercise(load_text(GATES, "gates.yaml"))  # z = 1: σ′(1), and ReLU′(0) at r
    dz = w.step("dz").value
    assert round(float(dz), 5) == -0.10575
    for mid, printed in (("phi-prime-at-activation", -0.11799), ("relu-prime-zero-one", -0.64364)):
        b = solve(w.graph, buggy_rules(mid)).quantities[w.step("dz").key].value
        assert round(float(b), 5) == printed
        assert mid in [d.misconception.id for d in diagnose(w, "dz", b)]
    d = worked("dag-two-relu-gates")
    b = solve(d.graph, buggy_rules("no-relu-mask")).quantities[d.step("dz2").key].value
    assert b == -2 and [x.misconception.id for x in diagnose(d, "dz2", b)] == ["no-relu-mask"]


def test_a_bug_value_blurred_into_zero_is_not_a_diagnosis(tmp_path):
    """σ(10): δ1 = -4.54e-5. The wrong-activation bug gives dW1 = δ1·h1 = -4.54e-5, within
    the tolerance of 0, while the truth δ1·x = -0.0005 is not: a student's plain 0 (a guess,
    or the ReLU habit) must not be "explained" as that bug."""
    from tutor.core import work

    f = tmp_path / "sat.yaml"
    f.write_text("id: sat\nkind: network\ninput: [10]\ntarget: 1\nlayers:\n"
                 "  - {W: [[1]], b: [0], activation: sigmoid}\nloss: bce\nask: [forward, backward]\n")
    w = work(str(f))
    assert diagnose(w, "dW1", sp.Integer(0)) == []


def test_check_names_one_slip_once(tmp_path):
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(yaml.safe_dump({"exercise": "branch-merge-l2", "student": "s1",
                                     "answers": student("no-regularisation")},
                                    allow_unicode=True))
    r = CliRunner().invoke(app, ["check", "branch-merge-l2", str(sheet)])
    assert "forgot the regularisation path" in r.output
    assert "forgot to sum at a merge" not in r.output, r.output


def test_unshaped_reads_an_answer_of_any_shape():
    from tutor.misconceptions import unshaped

    assert unshaped("[[1, 0], [0.5, 0], [1, 0]]") == ((1, 0), (sp.Rational(1, 2), 0), (1, 0))
    assert unshaped("[1, 2") is None and unshaped("  ") is None


# ─── no false diagnosis: a bug explains nothing below a step the student got right ────
# A misconception swaps one node-local rule; its effect starts at the steps that rule
# produces (its home: delta3 for the sign flip, dyhat for the MSE bugs) and flows down.
# Where the student wrote the truth at the home (or at a step between it and a later one),
# the bug cannot explain that later step (issue "no false diagnosis").
FLIP4 = "diagonal-flip-4-3-4"


def sheet(ex: str, changed: dict | None = None, blank=()) -> dict[str, str]:
    """Every answer right, except ``changed`` (step id → value) and the ``blank`` steps."""
    w = worked(ex)
    out = {s.id: text(s.value) for s in w.steps}
    out.update({sid: text(v) for sid, v in (changed or {}).items()})
    return {k: v for k, v in out.items() if k not in blank}


def buggy(ex: str, mid: str, *sids: str) -> dict:
    """The values the bug made throughout gives at these steps."""
    w = worked(ex)
    q = solve(w.graph, buggy_rules(mid)).quantities
    return {sid: q[w.step(sid).key].value for sid in sids}


def check_doc(ex: str, answers: dict, tmp_path) -> dict:
    p = tmp_path / "sheet.yaml"
    p.write_text(yaml.safe_dump({"exercise": ex, "student": "s1", "answers": answers},
                                allow_unicode=True))
    r = CliRunner().invoke(app, ["check", ex, str(p), "--format", "json"])
    assert r.exit_code == 1, r.output
    return json.loads(r.stdout)


@pytest.mark.parametrize("sid", ["dW3", "dW2", "db2", "dh1", "delta1", "dW1", "db1"])
def test_a_lone_negated_step_below_a_right_delta3_is_no_sign_flip(sid):
    w = worked(LAB9)
    v = {x.step_id: x for x in grade(w, sheet(LAB9, {sid: -w.step(sid).value}))}
    assert v[sid].status == "wrong" and v[sid].misconceptions == ()
    assert v[sid].code == f"{sid}.wrong"
    assert [x.code for x in v.values() if x.misconceptions] == []


def test_check_and_practice_agree_that_a_negated_dW2_is_no_sign_flip(tmp_path):
    w = worked(LAB9)
    dw2 = -w.step("dW2").value
    assert dw2 == buggy(LAB9, "loss-sign-flip", "dW2")["dW2"]  # what the flip would give
    doc = check_doc(LAB9, sheet(LAB9, {"dW2": dw2}), tmp_path)
    steps = {s["id"]: s for s in doc["sheets"][0]["steps"]}
    assert steps["delta3"]["verdict"] == "correct"
    assert steps["dW2"]["verdict"] == "wrong" and steps["dW2"]["code"] == "dW2.wrong"
    assert steps["dW2"]["misconception"] is None
    assert "sign flip" not in steps["dW2"]["message"]
    assert doc["summary"]["misconceptions"] == []
    # practice, given the same dW2 after right answers, names nothing either
    right = sheet(LAB9)
    lines = [right[s.id] for s in w.steps[:[s.id for s in w.steps].index("dW2")]]
    r = CliRunner().invoke(app, ["practice", LAB9, "--plain"],
                           input="\n".join(lines + [text(dw2), "quit"]) + "\n")
    assert "dW2 = " in r.output and "is not right" in r.output, r.output[-2000:]
    assert "This looks like" not in r.output


def test_a_sign_flip_made_at_delta3_and_carried_through_is_still_named(tmp_path):
    w = worked(LAB9)
    below = [s.id for s in w.steps if s.phase != "forward"]
    flipped = buggy(LAB9, "loss-sign-flip", *below)
    # written at delta3 and carried through: named at delta3, every later step earns
    # follow-through, and the class summary counts the student under the sign flip
    doc = check_doc(LAB9, sheet(LAB9, flipped), tmp_path)
    steps = {s["id"]: s for s in doc["sheets"][0]["steps"]}
    assert steps["delta3"]["code"] == "delta3.loss-sign-flip"
    assert {steps[i]["verdict"] for i in below if i != "delta3"} == {"follow_through"}
    assert [(m["id"], m["students"]) for m in doc["summary"]["misconceptions"]] == [
        ("loss-sign-flip", 1)]
    # delta3 left blank: the flip is named at the later steps it reaches first …
    v = grade(w, sheet(LAB9, flipped, blank=("delta3",)))
    assert [x.code for x in v if x.misconceptions] == [
        "dW3.loss-sign-flip", "db3.loss-sign-flip", "dh2.loss-sign-flip"]
    # … and at dW2 when nothing between delta3 and dW2 was answered
    v = {x.step_id: x for x in grade(w, sheet(LAB9, {"dW2": flipped["dW2"]},
                                              blank=("delta3", "dh2", "delta2")))}
    assert v["dW2"].code == "dW2.loss-sign-flip"
    d = v["dW2"].diagnosis  # as data: the bug made throughout, the student's value
    assert (d.misconception.id, d.step_id, d.throughout) == ("loss-sign-flip", "dW2", True)
    said = explain(w, d)
    assert said.startswith("sign flip (y − ŷ) at dW2: ")
    assert "Made at every step from the steps you got right" in said
    assert said.endswith(f"gives {fmt(w.step('dW2').value)}.")
    # but a right delta2 on the way down rules it out at dW2, even with delta3 blank
    v = {x.step_id: x for x in grade(w, sheet(LAB9, {"dW2": flipped["dW2"]},
                                              blank=("delta3",)))}
    assert v["dW2"].code == "dW2.wrong"


def test_a_lone_scaled_step_below_a_right_dyhat_is_no_mse_bug(tmp_path):
    w = worked(FLIP4)
    dw2 = 4 * w.step("dW2").value
    assert dw2 == buggy(FLIP4, "mse-no-mean", "dW2")["dW2"]  # n = 4
    doc = check_doc(FLIP4, sheet(FLIP4, {"dW2": dw2}), tmp_path)
    steps = {s["id"]: s for s in doc["sheets"][0]["steps"]}
    assert steps["dyhat"]["verdict"] == "correct"
    assert steps["dW2"]["code"] == "dW2.wrong" and steps["dW2"]["misconception"] is None
    assert doc["summary"]["misconceptions"] == []
    db1 = w.step("db1").value / 2
    assert db1 == buggy(FLIP4, "mse-no-two", "db1")["db1"]
    v = {x.step_id: x for x in grade(w, sheet(FLIP4, {"db1": db1}))}
    assert v["db1"].code == "db1.wrong"
    # dyhat (and delta2) left blank: the missing 1/n still explains dW2
    v = {x.step_id: x for x in grade(w, sheet(FLIP4, {"dW2": dw2}, blank=("dyhat", "delta2")))}
    assert v["dW2"].code == "dW2.mse-no-mean"
    # made at dyhat, where it is named, while delta2 is right: not at dW2
    v = {x.step_id: x for x in grade(w, sheet(FLIP4, {"dyhat": 4 * w.step("dyhat").value,
                                                       "dW2": dw2}))}
    assert v["dyhat"].code == "dyhat.mse-no-mean" and v["dW2"].code == "dW2.wrong"


def test_one_step_scaled_names_a_bug_only_at_its_home():
    """The sweep: every step of Lab 9 and of diagonal-flip negated, doubled, ×4 or halved,
    everything else right. Only the loss-gradient steps themselves are named, where the
    scaled value *is* the bug's: δ3 = y − ŷ, ∂L/∂ŷ = −2(ŷ − y)/n, 2(ŷ − y), (ŷ − y)/n, and
    L = Σ(ŷ − y)² (×4, n = 4)."""
    named, sheets = set(), 0
    for ex in (LAB9, FLIP4):
        w = worked(ex)
        for s in w.steps:
            for f in (-1, 2, 4, sp.Rational(1, 2)):
                if w.tolerance.ok(s.value * f, s.value):
                    continue  # all zeros: nothing changes
                sheets += 1
                for v in grade(w, sheet(ex, {s.id: s.value * f})):
                    if v.misconceptions:
                        named.add((ex, s.id, str(f), v.code))
    assert sheets > 140
    assert named == {(LAB9, "delta3", "-1", "delta3.loss-sign-flip"),
                     (FLIP4, "L", "4", "L.mse-no-mean"),
                     (FLIP4, "dyhat", "-1", "dyhat.loss-sign-flip"),
                     (FLIP4, "dyhat", "4", "dyhat.mse-no-mean"),
                     (FLIP4, "dyhat", "1/2", "dyhat.mse-no-two")}


def test_throughout_holds_the_steps_the_student_got_right():
    """tutor.misconceptions.throughout, on verdicts from grade without diagnosis."""
    from tutor.misconceptions import throughout

    w = worked(LAB9)
    dw2 = -w.step("dW2").value
    v = throughout(w, grade(w, sheet(LAB9, {"dW2": dw2}), diagnose=False))
    assert [x.code for x in v if x.status != "correct"] == ["dW2.wrong"]
    v = throughout(w, grade(w, sheet(LAB9, {"dW2": dw2}, blank=("delta3", "dh2", "delta2")),
                            diagnose=False))
    assert [x.code for x in v if x.status == "wrong"] == ["dW2.loss-sign-flip"]
