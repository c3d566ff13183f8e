"""Formula questions for networks (issue 12, item 5): the backward recipe asked as formulas,
judged by drawing the network's data at random (tutor.recipe)."""
from __future__ import annotations

import json
import time

import pytest
import yaml
from typer.testing import CliRunner

from tutor.cli import app
from tutor.core import work, work_exercise
from tutor.exercise import load_text
from tutor.grade import grade, score
from tutor.practice import Session
from tutor.recipe import draws, judge

runner = CliRunner()
EX = "backprop-recipe"

# every step of the bundled recipe exercise, each in a form other than the tutor's own
EQUIVALENT = {
    "dyhat_formula": "-(y - yhat)",
    "delta3_formula": "dyhat * yhat * (1 - yhat)",
    "dW3_formula": "δ3 · h2ᵀ",
    "db3_formula": "delta3",
    "dh2_formula": "W3.T @ delta3",
    "delta2_formula": "(W3.T @ delta3) * relu'(z2)",
    "dW2_formula": "delta2 @ h1.T",
    "db2_formula": "(dh2 * 1[z2 > 0])",
    "dh1_formula": "W2ᵀ @ δ2",
    "delta1_formula": "dh1 ⊙ 1[z1 > 0]",
    "dW1_formula": "(dh1 * relu'(W1 @ x + b1)) @ x.T",
    "db1_formula": "(W2.T @ delta2) * 1[h1 > 0]",
}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def _sheet(tmp_path, answers, name="ann"):
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump({"exercise": EX, "student": name, "answers": answers},
                                allow_unicode=True), encoding="utf-8")
    return f


def _check(tmp_path, answers) -> tuple[int, dict]:
    r = runner.invoke(app, ["check", EX, str(_sheet(tmp_path, answers)), "--format", "json"])
    assert "Traceback" not in r.output, r.output
    sheet = json.loads(r.output)["sheets"][0]
    return r.exit_code, sheet


def _steps(sheet) -> dict:
    return {s["id"]: s for s in sheet["steps"]}


# ─── the steps ─────────────────────────────────────────────────────────────────────────
def test_each_backward_step_asks_for_its_formula_in_the_networks_names():
    w = work(EX)
    assert [s.id for s in w.steps] == list(EQUIVALENT)
    assert {s.phase for s in w.steps} == {"formulas"}
    shown = {s.id: s.text for s in w.steps}
    assert shown["delta2_formula"] == "dh2 * relu'(z2)"
    assert shown["dW2_formula"] == "delta2 @ h1.T"
    assert shown["dh2_formula"] == "W3.T @ delta3"
    assert shown["delta3_formula"] == "dyhat * sigmoid'(z3)"


def test_the_tutors_own_formulas_score_full_marks():
    w = work(EX)
    vs = grade(w, {s.id: s.text for s in w.steps})
    assert {v.status for v in vs} == {"correct"}
    s = score(w, vs)
    assert s.total == s.max == len(w.steps)


def test_a_sheet_of_equivalent_formulas_in_other_forms_scores_full_marks(tmp_path):
    code, sheet = _check(tmp_path, EQUIVALENT)
    assert code == 0, sheet
    assert sheet["score"] == sheet["max"] == len(EQUIVALENT)


# ─── wrong formulas, named ─────────────────────────────────────────────────────────────
def test_the_transposed_outer_product_and_the_missing_transpose_are_wrong_and_named(tmp_path):
    answers = {**EQUIVALENT, "dW2_formula": "h1 @ delta2.T", "dh2_formula": "W3 @ delta3",
               "delta2_formula": "(W3 @ delta3) * relu'(z2)"}
    code, sheet = _check(tmp_path, answers)
    assert code == 1
    steps = _steps(sheet)
    dW2, dh2, d2 = steps["dW2_formula"], steps["dh2_formula"], steps["delta2_formula"]
    assert dW2["verdict"] == "wrong" and dW2["misconception"] == "outer-product-order"
    assert "yours is 3×2; ∂L/∂W2 is 2×3" in dW2["message"]
    assert dh2["verdict"] == "wrong" and dh2["misconception"] == "no-transpose-pass-back"
    assert d2["verdict"] == "wrong" and d2["misconception"] == "no-transpose-pass-back"
    assert sheet["score"] == len(EQUIVALENT) - 3
    r = runner.invoke(app, ["check", EX, str(_sheet(tmp_path, answers))])
    assert "x gᵀ for g xᵀ" in r.output and "W δ for Wᵀ δ" in r.output


@pytest.mark.parametrize("step,answer,mid", [
    ("delta2_formula", "dh2", "no-relu-mask"),
    ("dyhat_formula", "y - yhat", "loss-sign-flip"),
    ("dW1_formula", "delta1 @ h1.T", "weight-grad-wrong-activation"),  # δℓ hℓᵀ, 2×3
    ("delta3_formula", "dyhat * sigmoid'(yhat)", "phi-prime-at-activation"),
    ("delta1_formula", "dh1 * relu'(z1) + 0 * x[0]", None),  # not read: no indexing
])
def test_other_buggy_recipes_are_named(step, answer, mid):
    w = work(EX)
    v = judge(w, w.step(step), answer)
    if "[" in answer:
        assert v.status == "invalid"
        return
    assert v.status == "wrong"
    assert (v.misconceptions[0] if v.misconceptions else None) == mid


def test_a_formula_that_agrees_at_the_given_numbers_only_is_wrong():
    # x = [1, -0.5]: x + (x − 1)(x + 0.5) is x at both entries, and only there
    w = work(EX)
    tricky = "delta1 @ (x + (x - 1) * (x + 0.5)).T"
    assert grade(w, {"dW1_formula": tricky})[-2].status == "wrong"
    v = judge(w, w.step("dW1_formula"), tricky)
    assert v.status == "wrong" and v.reason.kind == "formula_differs"
    assert judge(w, w.step("db1_formula"), "delta1 * 1[z1 > 0]").status == "correct"


def test_a_shape_that_does_not_fit_says_which_and_why():
    t = load_text(open("exercises/lab9-relu-sigmoid-bce.yaml", encoding="utf-8").read()
                  .replace("ask: [forward, backward, update]", "ask: [formulas]")
                  .replace("id: lab9-relu-sigmoid-bce", "id: lab9-formulas"), "lab9.yaml")
    w = work_exercise(t)
    v = judge(w, w.step("dh2_formula"), "W3 @ delta3")  # W3 is 1×2: not even defined
    from tutor.words import reason_text

    assert v.status == "wrong"
    assert reason_text(v.reason).startswith("W3 is 1×2, delta3 is a number: W3 @ delta3 "
                                            "needs 2 rows in delta3")
    assert judge(w, w.step("dh2_formula"), "W3.T @ delta3").status == "correct"
    assert judge(w, w.step("dW2_formula"), "h1 @ delta2.T").misconceptions == (
        "outer-product-order",)  # a square W2: the right shape, the wrong values


# ─── refused: garbage and bombs ────────────────────────────────────────────────────────
@pytest.mark.parametrize("answer,message", [
    ("delta2 @@ h1", "unexpected"),
    ("__import__('os').system('echo hi')", "unexpected"),
    ("__import__(delta2)", "unknown function"),
    ("delta2 @ h1.T; rm -rf /", "unexpected"),
    ("(delta2 @ h1.T)**99999", "exponent too large"),
    ("+".join(["delta2 @ h1.T"] * 3000), "too long"),
    ("dW2", "is what this step asks"),
    ("dW1", "comes after this step"),
    ("delta2 @ h1.X", "only .T"),
    ("eval(delta2)", "unknown function"),
    ("", "no answer"),
])
def test_garbage_and_bombs_are_refused_with_a_clear_message(tmp_path, answer, message):
    from tutor.words import reason_text

    w = work(EX)
    t0 = time.monotonic()
    v = judge(w, w.step("dW2_formula"), answer)
    assert time.monotonic() - t0 < 1.0
    assert v.status in ("invalid", "missing")
    assert message in reason_text(v.reason)
    code, sheet = _check(tmp_path, {**EQUIVALENT, "dW2_formula": answer})
    assert code == 1
    assert _steps(sheet)["dW2_formula"]["verdict"] in ("invalid", "missing")


def test_a_nested_exp_bomb_is_judged_quickly_and_wrong():
    w = work(EX)
    t0 = time.monotonic()
    v = judge(w, w.step("delta1_formula"), "exp(exp(exp(exp(exp(exp(z1)))))) * dh1")
    assert time.monotonic() - t0 < 1.5
    assert v.status == "wrong"


def test_formulas_are_for_network_exercises_only():
    from tutor.errors import TutorError

    text = ("id: g\nkind: graph\ninputs: {x: 2}\nparams: {a: 1}\nnodes: {L: a*x}\nloss: L\n"
            "ask: [formulas]\n")
    with pytest.raises(TutorError):
        load_text(text, "g.yaml")


# ─── judging ───────────────────────────────────────────────────────────────────────────
def test_the_draws_are_the_same_for_every_answer_and_see_both_sides_of_every_relu():
    w1, w2 = work(EX), work(EX)
    d1, d2 = draws(w1), draws(w2)
    assert [d for d, _ in d1] == [d for d, _ in d2]  # deterministic by exercise
    sides = {}
    for _, q in d1:
        for z in ("z1", "z2"):
            for i, v in enumerate(q[(1, "value", z)].value):
                sides.setdefault((z, i), set()).add(v > 0)
    assert all(s == {True, False} for s in sides.values())


def test_judging_one_formula_is_fast():
    w = work(EX)
    draws(w)
    t0 = time.monotonic()
    for a in ("(W3.T @ delta3) * relu'(z2)", "dh2 * 1[z2 > 0]"):
        assert judge(w, w.step("delta2_formula"), a).status == "correct"
    assert (time.monotonic() - t0) / 2 < 0.05


# ─── practice ──────────────────────────────────────────────────────────────────────────
def test_practice_accepts_a_right_formula_and_explains_a_wrong_one():
    s = Session(work(EX))
    fb = s.submit("-(y - yhat)")
    assert fb.kind == "correct" and "typed: yhat - y" in "\n".join(fb.lines)
    s.submit("dyhat * sigmoid'(z3)")
    s.submit("delta3 @ h2.T")
    s.submit("delta3")
    fb = s.submit("W3 @ delta3")
    text = "\n".join(fb.lines)
    assert fb.kind == "wrong" and "no-transpose-pass-back" in fb.misconceptions
    assert "Not the same function of the network's data" in text
    print(text)
    assert "W δ for Wᵀ δ" in text and "Type ? for a hint aimed at this mistake." in text
    hint = s.hint()
    assert hint.kind == "hint" and "gathers" in hint.lines[0]
    ladder = s.hint().lines[0]
    assert ladder.startswith("Shape: ∂L/∂h2 is 2×1")
    assert s.hint().lines[0].startswith("It is made of W3 (2×2) and delta3 (2×1)")
    assert s.hint().lines[0] == "Rule: ∂L/∂h2 = W3ᵀ · δ3"
    fb = s.submit("garbage $")
    assert fb.kind == "invalid" and "No try used" in fb.lines[0]
    fb = s.submit("W3ᵀ @ δ3")
    assert fb.kind == "correct"
    assert s.position[0] == 6


def test_a_practice_session_of_formulas_on_standard_input_finishes_with_full_marks():
    typed = "\n".join(list(EQUIVALENT.values()) + ["n"]) + "\n"
    r = runner.invoke(app, ["practice", EX, "--lines"], input=typed)
    assert r.exit_code == 0, r.output
    assert f"{len(EQUIVALENT)}/{len(EQUIVALENT)}" in r.output
    assert "@ product · .T or ᵀ transpose" in r.output  # the formula syntax is said


# ─── solve ─────────────────────────────────────────────────────────────────────────────
def test_solve_shows_the_formulas_as_the_answers():
    r = runner.invoke(app, ["solve", EX])
    assert r.exit_code == 0
    assert "delta2 @ h1.T" in r.output and "δ2 · h1ᵀ" in r.output
    r = runner.invoke(app, ["solve", EX, "--format", "markdown"])
    assert r.exit_code == 0
    assert (r"\frac{\partial \mathcal{L}}{\partial W^{(2)}} = {\delta^{(2)}} \cdot "
            r"{h^{(1)}}^\top$$") in r.output
    assert "typed: `delta2 @ h1.T`" in r.output
    r = runner.invoke(app, ["solve", EX, "--format", "json"])
    steps = {s["id"]: s for s in json.loads(r.output)["steps"]}
    assert steps["dW2_formula"]["value"] == "delta2 @ h1.T"
    assert steps["dW2_formula"]["phase"] == "formulas"


# ─── formulas beside numbers ───────────────────────────────────────────────────────────
def _lab9(ask: str):
    text = (open("exercises/lab9-relu-sigmoid-bce.yaml", encoding="utf-8").read()
            .replace("ask: [forward, backward, update]", f"ask: {ask}")
            .replace("id: lab9-relu-sigmoid-bce", "id: lab9-both"))
    return work_exercise(load_text(text, "lab9-both.yaml"))


def test_formulas_then_numbers_each_judged_as_its_kind_with_follow_through_intact():
    from tutor.render import fmt

    w = _lab9("[backward, formulas]")
    ids = [s.id for s in w.steps]
    assert ids[0] == "delta3_formula" and ids.index("dW1_formula") < ids.index("delta3")
    answers = {s.id: (s.text if s.phase == "formulas" else fmt(s.value, 6)) for s in w.steps}
    assert {v.status for v in grade(w, answers)} == {"correct"}
    # δ3 off by 0.1, and ∂L/∂b3 right given it: follow-through, as without
    # formulas; a formula's verdict does not move
    wrong = {**answers, "delta3": "-0.2654", "db3": "-0.2654"}  # ∂L/∂b3 = δ3: theirs
    own = grade(w, wrong)
    by = {v.step_id: v for v in own}
    assert by["delta3"].status == "wrong" and by["delta3_formula"].status == "correct"
    assert by["db3"].status == "follow_through"
    # a practice session restores formula steps and judges the numbers after them
    s = Session(w)
    for step in w.steps[:3]:
        assert s.submit(step.text).kind == "correct"
    from tutor.progress import Answer

    done = {sid: a for sid, a in s.results.items()}
    again = Session(w, done=done)
    assert again.current is w.steps[3] and "delta2" not in again.own
    for step in w.steps:
        if step.phase == "backward":
            break
        again.submit(step.text)
    assert again.current.id == "delta3"
    assert again.submit(fmt(again.current.value, 6)).kind == "correct"
    assert isinstance(next(iter(done.values())), Answer)


def test_only_the_first_iteration_asks_the_formulas():
    text = (open("exercises/branch-merge-l2.yaml", encoding="utf-8").read())
    assert "iterations" in text  # (a graph: formulas are for networks)
    w = _lab9("[formulas, update]")
    assert all(s.iteration == 1 for s in w.steps if s.phase == "formulas")
