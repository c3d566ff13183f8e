"""What the engine says about each step, beyond its value: the formula of every forward step
with its numbers, the mask as its values, and a cause in words for every zero (seed 000's
dead branch, seed 002's cancelling pre-activation, residual-block's dead second iteration)."""
from __future__ import annotations

import json

import sympy as sp
from typer.testing import CliRunner

from tutor.cli import app
from tutor.core import work
from tutor.render import exact_text
from tutor.words import notation, zeros
from tutor.words.notation import pretty


def q(ex, kind, name, it=1):
    return work(ex).solution.get(kind, name, it)


# ─── forward steps carry their formula with the numbers ────────────────────────────────
def test_lab9_forward_formulas_show_the_numbers():
    z1 = q("lab9-relu-sigmoid-bce", "value", "z1").formula
    assert notation.text(z1) == "W1 x + b1"
    assert notation.text(z1, numbers=True) == "[[0.5, -0.3], [0.2, 0.7]] [1, 0] + [0.1, -0.1]"
    h2 = q("lab9-relu-sigmoid-bce", "value", "h2").formula
    assert (notation.text(h2), notation.text(h2, numbers=True)) == ("relu(z2)", "relu([0.42, -0.17])")
    # the loss written out, so −ln(0.6346) = 0.45476 is visible (the seed's slip: 0.4546)
    L = q("lab9-relu-sigmoid-bce", "value", "L").formula
    assert notation.text(L) == "−[y ln ŷ + (1 − y) ln(1 − ŷ)]"
    assert notation.text(L, numbers=True) == "−[1 ln 0.6346 + (1 − 1) ln(1 − 0.6346)]"


def test_graph_forward_formulas_are_the_authors_expression_with_numbers():
    z2 = q("dag-two-relu-gates", "value", "z2").formula
    assert (notation.text(z2), notation.text(z2, numbers=True)) == ("w21·x1 + w22·x2 + b2", "1·1 + (-1)·2 + 0")
    h2 = q("dag-two-relu-gates", "value", "h2").formula
    assert notation.text(h2, numbers=True) == "relu(-1)"  # no double brackets
    R = q("branch-merge-l2", "value", "R").formula
    assert (notation.text(R), notation.text(R, numbers=True)) == ("λ/2·(a^2 + c^2)", "0.1/2·(1^2 + 1^2)")


def test_the_mask_is_shown_as_its_values_not_as_relu_prime_of_the_mask():
    f = q("lab9-relu-sigmoid-bce", "grad", "z2").formula
    assert notation.text(f) == "∂L/∂h2 ⊙ ReLU′(z2)"
    assert notation.text(f, numbers=True) == "[-0.2192, 0.1462] ⊙ [1, 0]"


# ─── every zero has a cause, and the cause is not circular ─────────────────────────────
def test_a_dead_relu_in_a_graph_is_named_in_the_forward_pass():
    assert zeros(q("dag-two-relu-gates", "value", "h2")) == {(): "dead ReLU: z2 = -1 < 0"}


def test_a_zero_factor_says_why_it_is_zero():
    assert zeros(q("residual-block", "value", "r", 2)) == {(): "dead ReLU: w1·x = -2.05 < 0"}
    assert zeros(q("residual-block", "grad", "w2", 2)) == {
        (): "∂f/∂w2 = r = 0 (dead ReLU: w1·x = -2.05 < 0)"}
    why = zeros(q("dag-two-relu-gates", "grad", "v2"))[()]
    assert why == "∂yhat/∂v2 = h2 = 0 (dead ReLU: z2 = -1 < 0)"


def test_a_pre_activation_that_cancels_to_zero_says_so():
    # seed 002: z1[1] = 0.2 + 0 + 0.1 − 0.4 + 0.1 = 0 exactly
    assert zeros(q("diagonal-flip-4-3-4", "value", "z1")) == {
        (0, 0): "the products and the bias cancel: 0.2 + 0 + 0.1 − 0.4 + 0.1 = 0"}


def graph(inputs: str, params: str, nodes: str):
    """A small graph exercise, solved."""
    from tutor.core import work_exercise
    from tutor.exercise import load_text

    text = (f"id: g\nkind: graph\ninputs: {{{inputs}}}\nparams: {{{params}}}\n"
            f"nodes: {{{nodes}}}\nloss: L\n")
    return work_exercise(load_text(text, "g.yaml"))


def test_a_graph_node_whose_terms_cancel_says_so_and_so_does_what_it_feeds():
    w = graph("x: 2", "a: 1", "u: a*x, w: -(a*x), s: u + w, L: s**2")
    assert zeros(w.solution.quantities[(1, "value", "s")]) == {
        (): "the terms cancel: u + w = 2 + (-2)"}
    assert zeros(w.solution.quantities[(1, "value", "L")]) == {
        (): "s = 0 (the terms cancel: u + w = 2 + (-2))"}
    # a merge whose contributions share their reason says it once; no "∂L/∂s = 0 (∂L/∂s = …"
    assert zeros(w.step("du")) == {(): "∂L/∂s = 2·s = 0 here: s = 0 (the terms cancel: u + w = "
                                      "2 + (-2))"}
    assert zeros(w.solution.quantities[(1, "grad", "a")]) == {
        (): "∂L/∂w = 0 and ∂L/∂u = 0 (both: ∂L/∂s = 2·s = 0 here: s = 0 (the terms cancel: "
            "u + w = 2 + (-2)))"}


def test_a_sum_of_zeros_is_not_called_a_cancellation():
    w = graph("x: 0", "a: 1, b: 2", "u: a*x, v: b*x, w: u + v, L: (w-1)**2")
    assert zeros(w.solution.quantities[(1, "value", "w")]) == {
        (): "every term is 0: u = 0 (the factor x = 0); v = 0 (the factor x = 0)"}


def test_every_zero_of_every_bundled_exercise_has_a_cause():
    from tutor.catalog import bundled
    from tutor.rules import entries, is_zero

    for entry in bundled():
        w = work(entry.id)
        for s in w.all_steps:
            for idx, v in entries(s.value):
                if is_zero(v):
                    assert zeros(s).get(idx), (entry.id, s.id, idx)


# ─── display forms a student can type back ─────────────────────────────────────────────
def test_exact_text_is_in_the_answer_grammar():
    from tutor.expr import parse_answer

    assert exact_text(2 * sp.E) == "2*exp(1)"
    assert exact_text(sp.Matrix([sp.E, 1])) == "[exp(1), 1]"
    for v in (2 * sp.E, sp.exp(2) + sp.log(3)):
        assert sp.simplify(parse_answer(exact_text(v)) - v) == 0  # a student can type it back


def test_pretty_uses_the_grammars_and_the_seeds_spellings():
    a, b, lam = sp.symbols("a b lambda")
    assert pretty(sp.Max(a, b)) == "max(a, b)"
    assert pretty(sp.diff(sp.Max(a, b), a)) == "1[a - b > 0]"
    assert pretty(a * lam) == "a·λ"


def test_the_loss_partial_is_written_out_not_circular():
    # merge-sum: L = v², so ∂L/∂v = 2·v = 2·8, not "∂L/∂L · ∂L/∂v"
    f = q("merge-sum", "grad", "v").formula
    assert (notation.text(f), notation.text(f, numbers=True)) == ("2·v", "2·8")
    f = q("dag-two-relu-gates", "grad", "yhat").formula
    assert (notation.text(f), notation.text(f, numbers=True)) == ("2·yhat - 2·target", "2·2 - 2·3")


def test_the_non_fused_bce_formula_reads_as_math_in_every_rendering(tmp_path):
    """Issue 11 item 6: the private marker ', / n' leaked into the non-fused BCE gradient's
    formula (ŷ from an identity output, two outputs: the mean divides by 2)."""
    f = tmp_path / "bce2.yaml"
    f.write_text("id: b\nkind: network\ninput: [1]\ntarget: [1, 0]\nlayers:\n"
                 "  - {W: [[0.3], [0.5]], b: [0, 0], activation: identity}\n"
                 "loss: bce\nask: [forward, backward]\n")
    r = CliRunner().invoke(app, ["solve", str(f), "--format", "json"])
    step = {s["id"]: s for s in json.loads(r.stdout)["steps"]}["dyhat"]
    assert step["formula"] == "(−y/ŷ + (1 − y)/(1 − ŷ)) / 2"
    assert step["numbers"] == "(−[1, 0]/[0.3, 0.5] + (1 − [1, 0])/(1 − [0.3, 0.5])) / 2"
    md = CliRunner().invoke(app, ["solve", str(f), "--format", "markdown"]).stdout
    assert r"(-{y}/{\hat{y}} + (1 - {y})/(1 - {\hat{y}})) / 2" in md
    for text in (r.stdout, md, CliRunner().invoke(app, ["solve", str(f)]).stdout):
        assert ", / " not in text


def test_shown_arithmetic_that_does_not_add_up_with_the_rounded_numbers_says_approx():
    """Issue 14: ∂J/∂v = 12/343 is shown as 0.035, and 0.035 + 0.035 · 4 = 0.175, not the
    0.1749 shown for ∂J/∂u = 60/343: that line says ≈. Lab 9's δ3 = 0.6346 − 1 = -0.3654
    adds up as shown and keeps =."""
    from tutor.words.notation import adds_up

    w = work("branch-merge-l2")
    assert not adds_up(w, w.step("du"))
    rich = CliRunner().invoke(app, ["solve", "branch-merge-l2"], env={"COLUMNS": "120"}).output
    assert "≈ 0.035 + 0.035 · 4" in rich and "= 0.035 + 0.035 · 4" not in rich
    md = CliRunner().invoke(app, ["solve", "branch-merge-l2", "-f", "markdown"]).output
    assert r"\approx {0.035} + {0.035} \cdot {4} \approx 0.1749$$" in md
    lab9 = work("lab9-relu-sigmoid-bce")
    assert adds_up(lab9, lab9.step("delta3")) and adds_up(lab9, lab9.step("b3_new"))
    assert not adds_up(lab9, lab9.step("W3_new"))  # 0.6 − 0.1 · (-0.1535) = 0.61535 → 0.6154
    bad = [s.id for s in lab9.all_steps if not adds_up(lab9, s)]
    assert bad == ["W3_new"]
