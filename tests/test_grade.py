"""Grading one set of answers: tolerance, shapes, follow-through, the Numbas #368 guard, scores.

The numbers are seed 003's (DS-GA 1003 Lab 9), typed as a student would.
"""
from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp

from tutor.words import verdict_text, wrong_entry_names, zero_misses, zeros
from tutor.core import work
from tutor.grade import Weights, grade, score
from tutor.render import fmt

_W: dict = {}

LAB9 = {
    "z1": "[0.6, 0.1]", "h1": "[0.6, 0.1]", "z2": "[0.42, -0.17]", "h2": "[0.42, 0]",
    "z3": "0.552", "yhat": "0.6346", "L": "0.4548", "delta3": "-0.3654",
    "dW3": "[-0.1535, 0]", "db3": "-0.3654", "dh2": "[-0.2192, 0.1462]",
    "delta2": "[-0.2192, 0]", "dW2": "[[-0.1315, -0.0219], [0, 0]]", "db2": "[-0.2192, 0]",
    "dh1": "[-0.0877, 0.0438]", "delta1": "[-0.0877, 0.0438]",
    "dW1": "[[-0.0877, 0], [0.0438, 0]]", "db1": "[-0.0877, 0.0438]",
    "W1_new": "[[0.5088, -0.3], [0.1956, 0.7]]", "b1_new": "[0.1088, -0.1044]",
    "W2_new": "[[0.4132, -0.1978], [-0.5, 0.3]]", "b2_new": "[0.2219, 0.1]",
    "W3_new": "[0.6153, -0.4]", "b3_new": "0.3365",
}
# delta2 without the ReLU mask, every later step consistent with it (rounded to 4 places).
NO_MASK = {**LAB9,
           "delta2": "[-0.2192, 0.1462]", "dW2": "[[-0.1315, -0.0219], [0.0877, 0.0146]]",
           "db2": "[-0.2192, 0.1462]", "dh1": "[-0.1608, 0.0877]",
           "delta1": "[-0.1608, 0.0877]", "dW1": "[[-0.1608, 0], [0.0877, 0]]",
           "db1": "[-0.1608, 0.0877]", "W1_new": "[[0.5161, -0.3], [0.1912, 0.7]]",
           "b1_new": "[0.1161, -0.1088]", "W2_new": "[[0.4132, -0.1978], [-0.5088, 0.2985]]",
           "b2_new": "[0.2219, 0.0854]"}
AFTER_DELTA2 = ["dW2", "db2", "dh1", "delta1", "dW1", "db1", "W1_new", "b1_new", "W2_new",
                "b2_new"]


def lab9():
    if "lab9" not in _W:
        _W["lab9"] = work("lab9-relu-sigmoid-bce")
    return _W["lab9"]


def by_id(verdicts):
    return {v.step_id: v for v in verdicts}


def test_the_seeds_answers_are_all_correct_and_score_full_marks():
    w = lab9()
    vs = grade(w, LAB9)
    assert [v.status for v in vs] == ["correct"] * 24
    s = score(w, vs)
    assert (s.total, s.max) == (24, 24)


def test_the_engines_own_rounded_answers_are_correct_on_every_bundled_exercise():
    from tutor.catalog import bundled

    for e in bundled():
        w = work(e.id)
        vs = grade(w, {s.id: fmt(s.value, 6) for s in w.steps})
        assert {v.status for v in vs} == {"correct"}, e.id


def test_the_seeds_loss_slip_is_wrong_and_its_fix_is_right():
    # Seed 003 prints L ≈ 0.4546; −ln(0.6346) = 0.4548, and the tolerance is 1e-4.
    v = by_id(grade(lab9(), {**LAB9, "L": "0.4546"}))["L"]
    assert v.status == "wrong" and v.code.startswith("L.")
    assert by_id(grade(lab9(), LAB9))["L"].status == "correct"


@pytest.mark.parametrize("step,text", [
    ("yhat", "1/(1+exp(-0.552))"), ("z2", "[21/50, -17/100]"), ("z2", "0.42; -0.17"),
    ("dW2", "-0.1315 -0.0219; 0 0"), ("z3", "5.52e-1"), ("z3", "[0.552]"), ("dW3", "[[-0.1535], [0]]"),
])
def test_every_answer_form_of_the_design_is_accepted(step, text):
    assert by_id(grade(lab9(), {**LAB9, step: text}))[step].status == "correct"


def test_a_wrong_shape_or_garbage_is_invalid_with_the_reason():
    vs = by_id(grade(lab9(), {**LAB9, "dW2": "[-0.1315, -0.0219]", "delta3": "minus 0.37"}))
    assert vs["dW2"].status == "invalid"
    assert "2×2" in verdict_text(vs["dW2"])
    assert vs["delta3"].status == "invalid"
    assert vs["dW2"].code == "dW2.invalid"


def test_blank_answers_are_missing():
    vs = by_id(grade(lab9(), {k: v for k, v in LAB9.items() if k != "dh1"}))
    assert vs["dh1"].status == "missing" and vs["dh1"].code == "dh1.missing"
    assert vs["delta1"].status == "correct"


def test_one_wrong_delta_then_consistent_steps_earn_follow_through_naming_the_first_wrong():
    vs = by_id(grade(lab9(), NO_MASK))
    assert vs["delta2"].status == "wrong"
    for sid in AFTER_DELTA2:
        assert vs[sid].status == "follow_through", sid
        assert vs[sid].first_wrong == "delta2"
        assert "delta2" in verdict_text(vs[sid])
    # dW2 given the student's δ2: δ2 h1ᵀ = [[-0.1315, -0.0219], [0.0877, 0.0146]]
    assert fmt(vs["dW2"].follow_value) == "[[-0.1315, -0.0219], [0.0877, 0.0146]]"
    assert fmt(vs["dW2"].expected) == "[[-0.1315, -0.0219], [0, 0]]"
    # steps that do not depend on δ2 are simply correct
    assert vs["W3_new"].status == vs["b3_new"].status == "correct"


def test_a_wrong_step_is_not_excused_by_its_own_value():
    """Regression: the override solve holds the student's own value at the step itself."""
    vs = by_id(grade(lab9(), {**LAB9, "delta2": "[-0.2192, 0.1462]"}))
    assert vs["delta2"].status == "wrong"
    assert fmt(vs["delta2"].follow_value) == "[-0.2192, 0]"
    # ... and the correct later steps stay correct
    assert all(vs[s].status == "correct" for s in AFTER_DELTA2)


def test_a_later_step_inconsistent_with_the_wrong_one_is_wrong():
    vs = by_id(grade(lab9(), {**NO_MASK, "dW2": "[[-0.1315, -0.0219], [0.0877, 0.9]]"}))
    assert vs["dW2"].status == "wrong"
    assert vs["db2"].status == "follow_through"


def test_numbas_368_all_zero_earlier_answers_earn_no_follow_through():
    # ŷ typed as 0: δ3 = ŷ − y = −1 "follows" from it, but earns nothing.
    vs = by_id(grade(lab9(), {**LAB9, "yhat": "0", "delta3": "-1", "db3": "-1"}))
    assert vs["yhat"].status == "wrong"
    assert vs["delta3"].status == "wrong"
    assert "all zeros" in verdict_text(vs["delta3"]) and "yhat" in verdict_text(vs["delta3"])
    assert vs["db3"].status == "wrong"
    # the same method from a non-trivial wrong ŷ does earn it
    vs = by_id(grade(lab9(), {**LAB9, "yhat": "0.7", "delta3": "-0.3", "db3": "-0.3"}))
    assert vs["delta3"].status == vs["db3"].status == "follow_through"


def test_all_zero_answers_never_follow_through():
    zeros = {"dh2": "[0, 0]", "delta2": "[0, 0]", "dW2": "[[0, 0], [0, 0]]", "db2": "[0, 0]",
             "dh1": "[0, 0]", "delta1": "[0, 0]", "dW1": "[[0, 0], [0, 0]]", "db1": "[0, 0]"}
    vs = grade(lab9(), {**LAB9, **zeros})
    assert not [v for v in vs if v.status == "follow_through"]


def test_scores_use_weights_by_step_and_phase_and_the_follow_through_credit():
    w = lab9()
    vs = grade(w, NO_MASK)
    s = score(w, vs)  # 13 correct, delta2 wrong, 10 follow-through at ½
    assert (s.total, s.max) == (18, 24)
    s = score(w, vs, Weights({"backward": 2, "dW2": 4}), ft_credit=Fraction(1))
    # forward 7 + update 6 + backward (10 steps at 2 + dW2 at 4) = 37; only delta2 (2) lost
    assert (s.total, s.max) == (35, 37)
    assert s.points["dW2"] == 4 and s.points["delta2"] == 0


def test_a_memo_gives_the_same_verdicts():
    memo: dict = {}
    for answers in (LAB9, NO_MASK, NO_MASK, LAB9):
        assert grade(lab9(), answers, memo=memo) == grade(lab9(), answers)


@pytest.mark.parametrize("step,text,message", [
    ("dW2", "0.5", "expected a 2×2 matrix, got a single number"),
    ("dW2", "[-0.1315, -0.0219]", "expected a 2×2 matrix, got a vector of 2"),
    ("dW2", "1 2 3; 4 5 6", "expected a 2×2 matrix, got a 2×3 matrix"),
    ("delta2", "[[1, 2], [3, 4]]", "expected a vector of 2, got a 2×2 matrix"),
    ("delta2", "[5]", "expected a vector of 2, got a single number in brackets"),
    ("delta2", "[[1], [2], [3]]", "expected a vector of 2, got a vector of 3"),
    ("z3", "[1, 2]", "expected a single number, got a vector of 2"),
])
def test_shape_messages_name_both_shapes_in_words(step, text, message):
    v = by_id(grade(lab9(), {**LAB9, step: text}))[step]
    assert v.status == "invalid" and verdict_text(v) == message


def test_a_wrong_matrix_lists_its_wrong_entries_and_why_a_zero_entry_is_zero():
    answers = {**LAB9, "dW2": "[[-0.1315, -0.0219], [0.0877, 0.0146]]"}  # δ2 right, no mask
    v = by_id(grade(lab9(), answers))["dW2"]
    assert v.status == "wrong"
    assert v.wrong_entries == ((1, 0), (1, 1))  # 0-based entries, as data
    (miss,) = v.zero_misses
    assert miss.entries == ((1, 0), (1, 1)) and miss.written == (sp.Rational(877, 10**4),
                                                                 sp.Rational(146, 10**4))
    # the cause is the solver's own record for that entry, not recomputed
    assert miss.cause is lab9().step("dW2").causes[(1, 0)]
    assert [c.kind.value for c in miss.cause.chain()] == ["no_error_signal", "dead_relu"]
    # the words (tutor.words, golden)
    assert wrong_entry_names(v) == ["dW2[2,1]", "dW2[2,2]"]
    assert zero_misses(v) == [
        "dW2[2,1], dW2[2,2] should be 0, not 0.0877, 0.0146: no error signal reaches unit 2: "
        "δ2[2] = 0 (dead ReLU: z2[2] = -0.17 < 0, so ReLU′ = 0)"]
    assert zeros(lab9().step("dW2"))[(1, 0)] in zero_misses(v)[0]
    one = by_id(grade(lab9(), {**LAB9, "dW2": "[[-0.1315, 0.5], [0, 0]]"}))["dW2"]
    assert wrong_entry_names(one) == ["dW2[1,2]"] and one.zero_misses == ()


def test_a_bug_is_not_named_below_its_home_answered_right():
    # delta2 is right (masked), but dW2, db2 and dh1 use the unmasked ∂L/∂h2: the mask's
    # home, delta2, was answered right, so the missing mask explains none of them
    unmasked = {"dW2": "[[-0.1315, -0.0219], [0.0877, 0.0146]]",
                "db2": "[-0.2192, 0.1462]", "dh1": "[-0.1608, 0.0877]"}
    vs = by_id(grade(lab9(), {**LAB9, **unmasked}))
    assert vs["delta2"].status == "correct"
    for sid in ("dW2", "db2", "dh1"):
        assert vs[sid].status == "wrong" and vs[sid].code == f"{sid}.wrong", sid
    # delta2 left blank: the mask dropped there, made throughout, still explains them
    vs = by_id(grade(lab9(), {**{k: v for k, v in LAB9.items() if k != "delta2"}, **unmasked}))
    for sid in ("dW2", "db2", "dh1"):
        assert vs[sid].status == "wrong" and vs[sid].code == f"{sid}.no-relu-mask", sid
    # and random wrong numbers are named by nothing
    vs = by_id(grade(lab9(), {**LAB9, "dW2": "[[0.3, 0.1], [0.2, 0.7]]"}))
    assert vs["dW2"].status == "wrong" and vs["dW2"].misconceptions == ()


def test_answers_the_engine_cannot_carry_forward_are_still_graded():
    vs = by_id(grade(lab9(), {**LAB9, "yhat": "10"}))  # BCE needs 0 < ŷ < 1
    assert vs["yhat"].status == "wrong" and vs["L"].status == "correct"


# ─── Numbas #368: zeros within tolerance, and zeros that are method ─────────────────────
GIVEN = {"W1_new": "[[0.5, -0.3], [0.2, 0.7]]", "b1_new": "[0.1, -0.1]",
         "W2_new": "[[0.4, -0.2], [-0.5, 0.3]]", "b2_new": "[0.2, 0.1]",
         "W3_new": "[0.6, -0.4]", "b3_new": "0.3"}
BACKWARD = ["delta3", "dW3", "db3", "dh2", "delta2", "dW2", "db2", "dh1", "delta1", "dW1", "db1"]


def _zero_sheet(zero: str) -> dict:
    """Forward right, every backward entry ``zero``, the updates the given W and b."""
    shapes = {s.id: s.value for s in lab9().steps}
    out = dict(LAB9)
    for sid in BACKWARD:
        v = shapes[sid]
        if getattr(v, "shape", (1, 1)) == (1, 1):
            out[sid] = zero
        elif 1 in v.shape:
            out[sid] = "[" + ", ".join([zero] * len(v)) + "]"
        else:
            out[sid] = "[" + ", ".join("[" + ", ".join([zero] * v.cols) + "]"
                                       for _ in range(v.rows)) + "]"
    return {**out, **GIVEN}


@pytest.mark.parametrize("zero", ["0", "1e-9", "-0.00004"])
def test_answers_within_tolerance_of_zero_are_as_trivial_as_zeros(zero):
    from tutor.grade import is_trivial

    vs = grade(lab9(), _zero_sheet(zero))
    assert not [v.step_id for v in vs if v.status == "follow_through"]
    assert score(lab9(), vs).total == 7  # the forward pass only, like the all-zeros sheet
    assert "an earlier answer (delta3) is all zeros" in verdict_text(by_id(vs)["W1_new"])
    tol = lab9().tolerance
    assert is_trivial(sp.Matrix([[sp.Rational(1, 10**9)]]), tol)
    assert not is_trivial(sp.Rational(1, 10**9))  # without a tolerance: exactly zero only
    assert not is_trivial(sp.Rational(2, 10**4), tol)


def test_a_nearly_zero_guess_scores_no_more_than_the_all_zero_sheet():
    """Issue 15: forward pass right, δ3 and db3 both 0.00015, every other gradient 0 and the
    given W, b copied as the updates scored 15/24 (δ3 · h2ᵀ rounds to 0, so each zero was
    "consistent"); the all-zero sheet scores 7."""
    att = {**_zero_sheet("0"), "delta3": "0.00015", "db3": "0.00015"}
    vs = by_id(grade(lab9(), att))
    assert score(lab9(), list(vs.values())).total <= score(lab9(), grade(lab9(), _zero_sheet("0"))).total == 7
    assert not [v for v in vs.values() if v.status == "follow_through"]
    assert (vs["db3"].reason.kind, vs["db3"].reason.step, vs["db3"].reason.all_zeros) == (
        "after_zeroed", "delta3", False)  # the guard's reason, as data
    assert "an earlier answer (delta3) is nearly 0" in verdict_text(vs["db3"])
    assert "an earlier answer (delta3) is nearly 0" in verdict_text(vs["W3_new"])
    # a zero that is right given the student's answers only after rounding earns nothing:
    # their h2 is tiny, so δ3 · h2ᵀ = 0.00004… passes as 0 — but it is not 0
    att = {**LAB9, "h2": "[0.0001, 0.0001]", "z3": "0.3", "dW3": "[0, 0]"}
    v = by_id(grade(lab9(), att))["dW3"]
    assert v.status == "wrong" and "0 only when rounded" in verdict_text(v)


# z2 slipped to [-0.42, -0.17]: both units dead, so h2 = 0 — honestly — and every later step
# computed from it (rounded to 4 places).
SLIP = {**LAB9, "z2": "[-0.42, -0.17]", "h2": "[0, 0]", "z3": "0.3", "yhat": "0.5744",
        "L": "0.5544", "delta3": "-0.4256", "dW3": "[0, 0]", "db3": "-0.4256",
        "dh2": "[-0.2554, 0.1702]", "delta2": "[0, 0]", "dW2": "[[0, 0], [0, 0]]",
        "db2": "[0, 0]", "dh1": "[0, 0]", "delta1": "[0, 0]", "dW1": "[[0, 0], [0, 0]]",
        "db1": "[0, 0]", **GIVEN, "W3_new": "[0.6, -0.4]", "b3_new": "0.3426"}


def test_zeros_that_follow_from_the_students_own_answers_earn_follow_through():
    vs = by_id(grade(lab9(), SLIP))
    assert vs["z2"].status == "wrong"
    assert vs["h2"].status == "follow_through"  # relu of their negative z2: method, no guess
    assert fmt(vs["h2"].follow_value) == "[0, 0]"
    later = [s.id for s in lab9().steps][4:]
    assert {vs[s].status for s in later} == {"follow_through"}, \
        {s: verdict_text(vs[s]) for s in later if vs[s].status != "follow_through"}
    assert vs["yhat"].first_wrong == "z2"
    assert score(lab9(), list(vs.values())).total == Fraction(25, 2)  # z1, h1 + 21 × ½


def test_a_wrong_answer_that_leaves_nothing_to_learn_earns_no_follow_through():
    # ŷ = y = 1: L = 0, δ3 = 0, every gradient 0, the updates the given values — all
    # "consistent", all free. Only the forward steps before ŷ count.
    att = {**_zero_sheet("0"), "yhat": "1", "L": "0"}
    vs = by_id(grade(lab9(), att))
    assert not [v for v in vs.values() if v.status == "follow_through"]
    assert score(lab9(), list(vs.values())).total == 5
    assert (vs["dW2"].reason.kind, vs["dW2"].reason.step) == ("nothing_left", "delta3")
    assert "make delta3 all zeros" in verdict_text(vs["dW2"])
