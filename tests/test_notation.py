"""Formulas are trees (tutor/formula.py) and tutor.words.notation renders them: plain text,
the same with the numbers in their places, and TeX — three renderings of one value. The
goldens are the seeds' own notation (Lab 9: δ3 · h2ᵀ, 0.3 − 0.1 · (-0.3654))."""
from __future__ import annotations

import re

import sympy as sp

from tutor.catalog import bundled
from tutor.cause import Cause, Kind
from tutor.core import work
from tutor.formula import Const, Formula, Note, NoteKind, Op, Operand, Sym, Written, combine, op
from tutor.words import record
from tutor.words.notation import names, note_text, one_note, tex, text

R = sp.Rational


def q(ex, kind, name, it=1):
    return work(ex).solution.get(kind, name, it).formula


# ─── hand-built trees: precedence, brackets, negative numbers ──────────────────────────
def test_a_product_of_a_sum_is_bracketed_and_a_sum_of_products_is_not():
    a, b, c = Operand("a", 1), Operand("b", 2), Operand("c", 3)
    assert text(Formula(op("dot", op("add", a, b), c))) == "(a + b) · c"
    assert text(Formula(op("add", op("dot", a, b), c))) == "a · b + c"
    assert text(Formula(op("sub", a, op("sub", b, c)))) == "a − (b − c)"
    assert text(Formula(op("sub", a, op("dot", b, c)))) == "a − b · c"
    assert text(Formula(op("T", op("dot", a, b)))) == "(a · b)ᵀ"


def test_a_negative_number_after_an_operator_is_bracketed_and_nowhere_else():
    theta, eta, g = Operand("b3", R(3, 10)), Operand("η", R(1, 10)), Operand("∂L/∂b3", R(-3654, 10000))
    f = Formula(op("sub", theta, op("dot", eta, g)))
    assert text(f) == "b3 − η · ∂L/∂b3"
    assert text(f, numbers=True) == "0.3 − 0.1 · (-0.3654)"
    first = Formula(op("add", Operand("u", -1), Operand("v", 2)))
    assert text(first, numbers=True) == "-1 + 2"  # the first term needs no brackets
    assert text(Formula(op("call", Operand("z", -1), fn="relu")), numbers=True) == "relu(-1)"


def test_the_same_tree_in_tex_uses_the_seeds_layer_notation():
    f = Formula(op("dot", Operand("δ2"), op("T", Operand("h1"))))
    assert text(f) == "δ2 · h1ᵀ"
    assert tex(f, network=True) == r"{\delta^{(2)}} \cdot {h^{(1)}}^\top"
    mask = Formula(op("hadamard", Operand("∂L/∂h2"), Operand("z2", deriv="ReLU′")))
    assert text(mask) == "∂L/∂h2 ⊙ ReLU′(z2)"
    assert tex(mask, network=True) == (r"{\frac{\partial \mathcal{L}}{\partial h^{(2)}}} \odot "
                                       r"{\mathbf{1}[z^{(2)} > 0]}")
    assert names(mask) == ["∂L/∂h2", "ReLU′(z2)"]


def test_half_sse_and_a_constant_in_front():
    yh, y = Operand("ŷ", R(1, 2)), Operand("y", 1)
    f = Formula(op("juxt", Const("½"), op("sum", op("square", op("sub", yh, y)))))
    assert text(f) == "½ Σ (ŷ − y)²"
    assert text(f, numbers=True) == "½ Σ (0.5 − 1)²"
    assert tex(f, network=True) == r"\tfrac{1}{2} \sum ({\hat{y}} - {y})^2"


def test_an_authors_expression_and_a_sympy_partial_keep_their_spelling():
    w, x = Operand("w1", 2), Operand("x", -3)
    f = Formula(Written(("relu(", w, "*", x, ")")))
    assert (text(f), text(f, numbers=True)) == ("relu(w1·x)", "relu(2·(-3))")
    v, t = sp.symbols("v t")
    s = Formula(Sym(2 * v - 2 * t, (Operand("v", 8), Operand("t", 1))))
    assert (text(s), text(s, numbers=True)) == ("2·v - 2·t", "2·8 - 2·1")


def test_combine_adds_the_terms_of_a_merge_and_keeps_every_rule():
    a = Formula(Operand("p"), (Note.of(NoteKind.ACTIVATION, fn="relu"),))
    b = Formula(Operand("q"), (Note.of(NoteKind.ACTIVATION, fn="tanh"),))
    f = combine([a, b])
    assert text(f) == "p + q"
    assert note_text(f) == "ReLU′(z) = 1[z > 0]; tanh′(z) = 1 − tanh²(z)"
    assert combine([a]) is a


def test_every_note_kind_has_words():
    examples = {
        NoteKind.ACTIVATION: Note.of(NoteKind.ACTIVATION, fn="leaky_relu", alpha=R(1, 100)),
        NoteKind.FORWARD: Note.of(NoteKind.FORWARD, fn="elu", alpha=1),
        NoteKind.LOSS: Note.of(NoteKind.LOSS, fn="bce"),
        NoteKind.LOSS_GRADIENT: Note.of(NoteKind.LOSS_GRADIENT, fn="half_sse"),
        NoteKind.FUSED: Note.of(NoteKind.FUSED, fn="ce"),
        NoteKind.PARTIAL: Note.of(NoteKind.PARTIAL, partial="∂v/∂u", expr=2 * sp.Symbol("u")),
        NoteKind.NO_GRADIENT: Note.of(NoteKind.NO_GRADIENT, param="lambda"),
    }
    assert set(examples) == set(NoteKind)
    said = {k: one_note(n) for k, n in examples.items()}
    assert said[NoteKind.ACTIVATION] == "LeakyReLU′(z) = 1 if z > 0 else α, α = 0.01"
    assert said[NoteKind.FORWARD] == "ELU(z) = z if z > 0 else α·(e^z − 1), α = 1"
    assert said[NoteKind.LOSS_GRADIENT] == "∂L/∂ŷ = ŷ − y"
    assert said[NoteKind.FUSED] == "softmax + cross-entropy: ∂L/∂z = ŷ − y"
    assert said[NoteKind.PARTIAL] == "∂v/∂u = 2·u"
    assert said[NoteKind.NO_GRADIENT] == "λ gets no gradient"


def test_an_unknown_operation_is_refused_when_the_tree_is_built():
    try:
        Op("matmul?", ())
    except ValueError as e:
        assert "matmul?" in str(e)
    else:
        raise AssertionError("an unknown formula operation was accepted")


# ─── the engine's own trees, as the seeds print them ───────────────────────────────────
def test_lab9s_backward_pass_reads_as_in_seed_003():
    ex = "lab9-relu-sigmoid-bce"
    dz3 = q(ex, "grad", "z3")
    assert (text(dz3), text(dz3, numbers=True)) == ("ŷ − y", "0.6346 − 1")
    assert note_text(dz3) == "BCE + sigmoid: ∂L/∂z = ŷ − y"
    dW3 = q(ex, "grad", "W3")
    assert (text(dW3), text(dW3, numbers=True)) == ("δ3 · h2ᵀ", "-0.3654 · [0.42, 0]ᵀ")
    dh2 = q(ex, "grad", "h2")
    assert text(dh2, numbers=True) == "[0.6, -0.4]ᵀ · (-0.3654)"
    b3 = q(ex, "new", "b3")
    assert (text(b3), text(b3, numbers=True)) == ("b3 − η · ∂L/∂b3", "0.3 − 0.1 · (-0.3654)")
    assert tex(b3, network=True) == (r"{b^{(3)}} - {\eta} \cdot "
                                     r"{\frac{\partial \mathcal{L}}{\partial b^{(3)}}}")
    # the update step's operands carry the exact values grading uses
    assert b3.operands()[1].value == R(1, 10)


def test_a_row_layout_writes_the_products_the_other_way_round():
    ex = "diagonal-flip-4-3-4"
    assert text(q(ex, "value", "z1")) == "x W1 + b1"
    assert text(q(ex, "grad", "W1")) == "xᵀ · δ1"
    assert text(q(ex, "grad", "x")) == "δ1 · W1ᵀ"
    L = q(ex, "value", "L")
    assert text(L) == "(Σ (ŷ − y)²) / 4"
    assert note_text(L) == "MSE = mean of (ŷ − y)² over every entry"


def test_a_batch_bias_gradient_is_a_sum_over_the_batch():
    db1 = q("sigmoid-batch-mse", "grad", "b1")
    assert text(db1) == "Σ over the batch of δ1"
    assert tex(db1, network=True) == r"\sum_{\text{batch}} {\delta^{(1)}}"


def test_softmax_cross_entropy_forward_and_fused_backward():
    ex = "softmax-cross-entropy"
    assert text(q(ex, "value", "L")) == "−Σ y ln ŷ"
    assert text(q(ex, "grad", "z1"), numbers=True) == "[0.2447, 0.6652, 0.09] − [0, 1, 0]"


def test_every_formula_of_every_bundled_exercise_renders_three_ways():
    count = 0
    for ex in (e.id for e in bundled()):
        for key, quantity in work(ex).solution.quantities.items():
            f = quantity.formula
            if f is None or f.tree is None:
                continue
            network = work(ex).graph.kind == "network"
            for shown in (text(f), text(f, numbers=True)):
                assert shown and not re.search(r"\{\d+\}", shown), (ex, key, shown)  # no hole
            for shown in (tex(f, network=network), tex(f, network=network, numbers=True)):
                assert shown.count("{") == shown.count("}") and "None" not in shown, (ex, key)
                assert not re.search(r"[A-Za-z]\\mathrm", shown), (ex, key, shown)  # r\mathrm{ELU}
            note_text(f)
            count += 1
    assert count >= 200  # 221 today


# ─── a cause's formula as data ─────────────────────────────────────────────────────────
def test_the_record_of_a_cancelling_sum_carries_its_formula_and_numbers():
    f = Formula(op("add", Operand("a", 2), Operand("b", -2)))
    c = Cause.of(Kind.CANCELLATION, subject=sp.Symbol("lambda") * sp.Symbol("a"), formula=f)
    rec = record(c)
    assert rec["kind"] == "cancellation"
    assert rec["subject"] == "a·λ"  # SymPy's order, Greek as written
    assert rec["formula"] == "a + b"
    assert rec["numbers"] == "2 + (-2)"


def test_every_activation_and_loss_in_the_rules_table_has_its_words():
    """Adding an activation is one entry in tutor.rules plus its words in notation."""
    from tutor import rules
    from tutor.words.notation import ACTIVATION_RULES, FORWARD_RULES, LOSS_GRADIENTS, LOSS_RULES

    assert set(rules.ACTIVATIONS) == set(ACTIVATION_RULES)
    assert set(rules.ACTIVATIONS) - {"identity"} <= set(FORWARD_RULES)
    assert set(rules.LOSSES) == set(LOSS_RULES) == set(LOSS_GRADIENTS)


def test_a_negative_base_is_bracketed_so_the_shown_numbers_read_back_as_the_value():
    """branch-merge-l2, it2.h = u^2 with u = -6/343 ≈ -0.0175: shown as (-0.0175)^2, which
    the answer parser reads as +0.00030625 (-0.0175^2 would be read as -0.00030625)."""
    from tutor.expr import parse_answer

    w = work("branch-merge-l2")
    f = w.solution.get("value", "h", 2).formula
    assert text(f, numbers=True) == "(-0.0175)^2"
    assert tex(f, network=False, numbers=True) == "{(-0.0175)}^2"
    u = w.solution.get("value", "u", 2).value
    assert u == R(-6, 343)
    assert parse_answer(text(f, numbers=True)) == R(49, 160000)  # positive, ≈ u² to 4 decimals
    assert abs(R(49, 160000) - u ** 2) < R(1, 10 ** 6)
    sq = Formula(op("square", Operand("u", R(-1, 2))))
    assert text(sq, numbers=True) == "(-0.5)²"
    assert text(Formula(op("T", Operand("g", -3))), numbers=True) == "(-3)ᵀ"
