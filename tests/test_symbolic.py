"""Symbolic exercises (issue 12): symbols in graph exercises, expression answers, equivalence
decided exactly or at many exact points, the point where a wrong answer differs, and the
misconception catalogue on expressions — in practice and in `tutor check`."""
from __future__ import annotations

import json
import time

import pytest
import sympy as sp
import yaml
from hypothesis import HealthCheck, assume, given, settings
from typer.testing import CliRunner

from oracle import graph_oracle
from test_oracle import random_graph
from tutor.catalog import bundled
from tutor.cli import app
from tutor.core import work, work_exercise
from tutor.equivalence import equivalent
from tutor.errors import ExprError
from tutor.exercise import load, load_text
from tutor.expr import parse_symbolic
from tutor.functions import relu_step, resolve_steps, sigmoid
from tutor.grade import grade
from tutor.words import verdict_text

runner = CliRunner()
x, y, z, g, w, b = sp.symbols("x y z g w b", real=True)


# ─── the answer grammar for expressions ─────────────────────────────────────────────────
@pytest.mark.parametrize("text, value", [
    ("2*x*(x+y)*(2*x+y)", 2 * x * (x + y) * (2 * x + y)),
    ("2*x*a", 2 * x * (x + y)),  # a node stands for its definition
    ("relu'(z)*x", x * relu_step(z)),
    ("relu′(z)", relu_step(z)),  # the prime as the tutor prints it
    ("1[z > 0]*x", x * relu_step(z)),
    ("1[z >= 0]", relu_step(z)),
    ("sigmoid'(z)", sigmoid(z) * (1 - sigmoid(z))),
    ("tanh'(x)", 1 - sp.tanh(x) ** 2),
    ("ln(x) + e", sp.log(x) + sp.E),
    ("x^2", x ** 2),
])
def test_expression_answers_are_read_with_the_exercises_names(text, value):
    assert parse_symbolic(text, {"x": x, "y": y, "z": z, "a": x + y}) == value


@pytest.mark.parametrize("text, words, offset", [
    ("q*2", "unknown name 'q'", 0),
    ("x +* 2", "", None),
    ("(x+y)**99999", "", None),
])
def test_a_bad_expression_answer_is_refused_with_where(text, words, offset):
    with pytest.raises(ExprError) as e:
        parse_symbolic(text, {"x": x, "y": y})
    assert words in e.value.message
    if offset is not None:
        assert e.value.offset == offset


@pytest.mark.parametrize("bomb", ["(x+y)**99999", "exp(exp(exp(exp(exp(exp(x))))))",
                                  " + ".join(f"x**{k}" for k in range(10_000)),
                                  "(x+y)**999 - (y+x)**999"])
def test_bombs_are_refused_or_judged_in_under_a_second(bomb):
    w_ = work("two-paths-symbolic")
    t = time.process_time()
    (v,) = [v for v in grade(w_, {"dx": bomb}) if v.step_id == "dx"]
    assert time.process_time() - t < 1.0
    assert v.status in ("invalid", "wrong") and verdict_text(v)


# ─── equivalence ─────────────────────────────────────────────────────────────────────
TRUTH = 2 * x ** 2 * (x + y) + 2 * x * (x + y) ** 2  # ∂L/∂x of seed 001's easy problem


@pytest.mark.parametrize("form", [
    2 * x * (x + y) * (2 * x + y),  # factored
    4 * x ** 3 + 6 * x ** 2 * y + 2 * x * y ** 2,  # expanded
    (2 * x * (x + y) * (2 * x + y) * (x - y)) / (x - y),  # a removable factor
])
def test_equivalent_forms_of_a_rational_function_are_decided_exactly(form):
    j = equivalent(form, TRUTH)
    assert j.same and j.how in ("exact", "identical")


def test_a_different_expression_comes_with_a_point_where_it_differs():
    j = equivalent(2 * x * (x + y) ** 2, TRUTH)  # x's path through a only
    assert not j.same and j.how == "exact"
    point = dict(j.at)
    assert all(v.is_Integer and 1 <= abs(v) <= 3 for v in point.values())  # easy to read
    assert j.yours == (2 * x * (x + y) ** 2).subs(point) and j.truth == TRUTH.subs(point)
    assert j.yours != j.truth


def test_an_answer_that_agrees_at_the_small_points_only_is_still_caught():
    # vanishes at every small integer point the judge tries first (±1, ±2, ±3)
    trap = TRUTH + (x ** 2 - 1) * (x ** 2 - 4) * (x ** 2 - 9) * (y ** 2 - 1) * (y ** 2 - 4) \
        * (y ** 2 - 9)
    assert not equivalent(trap, TRUTH).same


def test_functions_and_kinks_are_judged_at_points_on_both_sides_of_every_kink():
    truth = g * x * relu_step(w * x + b)
    assert equivalent(x * g * relu_step(b + w * x), truth).same
    j = equivalent(g * x, truth)  # the mask forgotten: differs only where w·x + b < 0
    assert not j.same and j.how == "points"
    at = dict(j.at)
    assert (w * x + b).subs(at) < 0 and j.truth == 0  # shown where the ReLU is dead
    s = sigmoid(z)
    assert equivalent(s * (1 - s), sp.exp(-z) / (1 + sp.exp(-z)) ** 2).same  # at 40 digits
    assert not equivalent(s * (1 - s) + sp.Rational(1, 10**20), s * (1 - s)).same


def test_assumptions_choose_the_points():
    p = sp.Symbol("p", positive=True)
    assert equivalent(sp.sqrt(p ** 2), p).same  # true for p > 0 only
    assert not equivalent(sp.Abs(x), x).same  # x is any real: x < 0 is tried


# ─── bundled symbolic exercises ───────────────────────────────────────────────────────
def test_seed_001_easy_problem_in_symbols():
    w_ = work("two-paths-symbolic")
    X, Y = sp.Symbol("x", real=True), sp.Symbol("y", real=True)
    assert sp.factor(w_.step("dx").value) == 2 * X * (X + Y) * (2 * X + Y)  # seed 001
    assert sp.factor(w_.step("dy").value) == 2 * X ** 2 * (X + Y)
    assert w_.symbolic and set(w_.answer_names()) == {"x", "y", "a", "b", "L"}


def test_seed_001_medium_problem_gives_the_recipe_for_one_unit():
    w_ = work("affine-relu-symbolic")
    Z = w * x + b
    assert w_.step("dz").value == g * relu_step(Z)  # δ = g ⊙ 1[z > 0]
    assert equivalent(w_.step("dw").value, g * relu_step(Z) * x).same  # δ xᵀ
    assert w_.step("db").value == g * relu_step(Z)  # δ
    assert equivalent(w_.step("dx").value, w * g * relu_step(Z)).same  # Wᵀ δ


# ─── sheets ─────────────────────────────────────────────────────────────────────────
EQUIVALENT = {"a": "y + x", "b": "x^2 + x*y", "L": "b^2", "db": "2*b", "da": "2*b*x",
              "dx": "2*b*a + 2*b*x", "dy": "2*x**2*(x + y)"}


def _sheet(tmp_path, answers, name="ann"):
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump({"exercise": "two-paths-symbolic", "student": name,
                                 "sha": work("two-paths-symbolic").exercise.math_sha,
                                 "answers": answers}, allow_unicode=True))
    return f


def test_a_sheet_of_equivalent_forms_scores_full_marks(tmp_path):
    r = runner.invoke(app, ["check", "two-paths-symbolic", str(_sheet(tmp_path, EQUIVALENT)),
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    sheet = json.loads(r.output)["sheets"][0]
    assert sheet["score"] == 7 and sheet["max"] == 7


def test_a_forgotten_path_is_named_and_shown_where_it_differs(tmp_path):
    answers = {**EQUIVALENT, "dx": "2*b*a"}  # only the path through a
    r = runner.invoke(app, ["check", "two-paths-symbolic", str(_sheet(tmp_path, answers)),
                            "--format", "json"])
    assert r.exit_code == 1
    dx = {s["id"]: s for s in json.loads(r.output)["sheets"][0]["steps"]}["dx"]
    assert dx["verdict"] == "wrong" and dx["misconception"] == "no-sum-at-merge"
    assert dx["message"].startswith("at x = ") and "yours is" in dx["message"]
    assert "; ∂L/∂x is " in dx["message"]


def test_a_later_step_right_from_the_students_own_expression_earns_follow_through(tmp_path):
    answers = {**EQUIVALENT, "db": "4*b", "da": "4*b*x", "dx": "4*b*a + 4*b*x",
               "dy": "4*b*x"}  # ∂L/∂b doubled, then each step right from it
    r = runner.invoke(app, ["check", "two-paths-symbolic", str(_sheet(tmp_path, answers)),
                            "--format", "json"])
    steps = {s["id"]: s["verdict"] for s in json.loads(r.output)["sheets"][0]["steps"]}
    assert steps["db"] == "wrong"
    assert {steps[k] for k in ("da", "dx", "dy")} == {"follow_through"}


def test_the_mask_forgotten_in_symbols_is_named(tmp_path):
    f = tmp_path / "bo.yaml"
    f.write_text(yaml.safe_dump({"exercise": "affine-relu-symbolic", "student": "bo",
                                 "answers": {"dz": "g", "dw": "g*x"}}))
    r = runner.invoke(app, ["check", "affine-relu-symbolic", str(f), "--format", "json"])
    steps = {s["id"]: s for s in json.loads(r.output)["sheets"][0]["steps"]}
    assert steps["dz"]["misconception"] == "no-relu-mask"
    assert "yours is" in steps["dz"]["message"]


# ─── practice ───────────────────────────────────────────────────────────────────────
def test_a_practice_session_of_expressions_finishes_with_full_marks(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    typed = "\n".join(["x + y", "x*(x+y)", "b**2", "2*b", "2*b*x", "2*b*a",
                       "2*x*(x+y)*(2*x+y)", "2*x**2*(x+y)", "n"]) + "\n"
    r = runner.invoke(app, ["practice", "two-paths-symbolic", "--lines"], input=typed)
    assert r.exit_code == 0, r.output
    assert "Answers are expressions in x and y" in r.output
    assert "At x = " in r.output and "yours is" in r.output  # the one wrong try
    assert "forgot to sum at a merge" in r.output
    assert "Score: 7/7" in r.output


# ─── against the oracle: random graphs made symbolic ─────────────────────────────────
def _at(spec: dict, point: dict) -> dict:
    """The spec with its symbols given numbers: what the oracle and the numeric engine get."""
    out = json.loads(json.dumps(spec))
    for sec in ("params", "inputs"):
        for k in out.get(sec, {}):
            if k in point:
                out[sec][k] = str(point[k])
    return out


POINTS = [{"p0": sp.Rational(3, 7), "p1": sp.Rational(-5, 4), "p2": sp.Rational(2, 3),
           "x0": sp.Rational(-1, 3), "x1": sp.Rational(7, 5)},
          {"p0": sp.Rational(-9, 8), "p1": sp.Rational(1, 6), "p2": sp.Rational(-4, 3),
           "x0": sp.Rational(5, 2), "x1": sp.Rational(-2, 9)}]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_symbolic_graphs_match_sympy_diff_and_the_numeric_engine(spec):
    spec = {**spec, "iterations": None, "learning_rate": None}
    spec = {k: v for k, v in spec.items() if v is not None}
    sym = json.loads(json.dumps(spec))
    for k in sym["params"]:
        sym["params"][k] = "symbol"
    w_ = work_exercise(load_text(yaml.safe_dump(sym, sort_keys=False), "gen.yaml"))
    names = {s.name: s for s in w_.graph.init.values() if getattr(s, "free_symbols", None)}
    for point in POINTS:
        numeric = _at(spec, {k: v for k, v in point.items() if k in spec["params"]})
        (row,) = graph_oracle(numeric)
        assume(not row["tie"])
        sub = {names[k]: v for k, v in point.items() if k in names}
        for name, want in row["grads"].items():
            q = w_.solution.quantities.get((1, "grad", name))
            got = q.value if q is not None else sp.Integer(0)
            at = resolve_steps(got.xreplace(sub), 0)
            assume(at.is_number)  # a kink exactly at the point: no derivative to compare
            assert abs(sp.N(at - want, 50)) < sp.Float("1e-30"), (name, got, want)
        plain = work_exercise(load_text(yaml.safe_dump(numeric, sort_keys=False), "n.yaml"))
        for name in row["grads"]:
            q = plain.solution.quantities.get((1, "grad", name))
            sq = w_.solution.quantities.get((1, "grad", name))
            if q is not None and sq is not None:
                at = resolve_steps(sq.value.xreplace(sub), 0)
                assert abs(sp.N(at - q.value, 50)) < sp.Float("1e-30"), name


SYMBOLIC = [e for e in bundled() if load(e.path).symbolic]


@pytest.mark.parametrize("entry", SYMBOLIC, ids=[e.id for e in SYMBOLIC])
def test_bundled_symbolic_exercises_match_the_oracle_at_points(entry):
    """The engine's expressions, at points, equal sympy.diff of the composed loss there
    (tests/oracle.py, given the point's numbers instead of the symbols)."""
    spec = yaml.safe_load(entry.path.read_text())
    w_ = work(str(entry.path))
    syms = {s.name: s for s in w_.graph.init.values() if getattr(s, "free_symbols", None)}
    assert syms and SYMBOLIC
    for k, point in enumerate([{"x": sp.Rational(3, 2), "y": sp.Rational(-2, 5)},
                               {"x": sp.Rational(-7, 3), "y": sp.Rational(5, 4)}]):
        point = {n: point.get(n, sp.Rational(2 * k + 3, 4) * (-1) ** len(n)) for n in syms}
        numeric = json.loads(json.dumps(spec))
        for sec in ("params", "inputs", "constants"):
            for n in numeric.get(sec, {}):
                if n in point:
                    numeric[sec][n] = str(point[n])
        (row,) = graph_oracle(numeric)
        sub = {syms[n]: v for n, v in point.items()}
        for name, want in row["grads"].items():
            got = resolve_steps(w_.solution.grad(name).xreplace(sub), 0)
            assert abs(sp.N(got - want, 50)) < sp.Float("1e-30"), (entry.id, name, got, want)
        for name, want in row["values"].items():
            got = resolve_steps(w_.solution.value(name).xreplace(sub), 0)
            assert abs(sp.N(got - want, 50)) < sp.Float("1e-30"), (entry.id, name)


def test_a_long_expression_in_symbols_is_kept_not_carried_as_a_decimal():
    """Found by the random test above: ∂L/∂p0 past the size at which a number is carried as
    40 digits is an expression in p0, which has no decimal to carry; it is kept, and at a
    point it is the numeric engine's gradient."""
    spec = {"id": "gen", "title": "g", "kind": "graph", "params": {"p0": "symbol"},
            "inputs": {"x0": "1"},
            "nodes": {"n0": "relu(p0)", "n2": "p0 + n0", "n3": "max(p0, n2)",
                      "n4": "elu(p0, n3)", "L": "(n4 - 1)**2"},
            "loss": "L", "ask": ["forward", "backward", "inputs"]}
    w = work_exercise(load_text(yaml.safe_dump(spec, sort_keys=False), "gen.yaml"))
    g = w.solution.grad("p0")
    assert g.free_symbols and not g.has(sp.Float)
    numeric = work_exercise(load_text(yaml.safe_dump(
        {**spec, "params": {"p0": "3/7"}}, sort_keys=False), "n.yaml")).solution.grad("p0")
    from tutor.functions import resolve_steps

    p0 = next(iter(g.free_symbols))
    at = resolve_steps(g.xreplace({p0: sp.Rational(3, 7)}))
    assert abs(sp.N(at - numeric, 40)) < sp.Float("1e-30")
