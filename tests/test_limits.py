"""Values the engine refuses — not finite, not real, too large, or growing across nodes — each
answered with one `file:line:col: message` and exit status 2, before SymPy builds them."""
from __future__ import annotations

import json
import time

import pytest
import sympy as sp
from typer.testing import CliRunner

from tutor.cli import app
from tutor.limits import MAX_BITS, trouble

GRAPH = "id: t\nkind: graph\nparams: {{a: {a}}}\nnodes:\n{nodes}loss: L\nask: [forward, backward]\n"


def graph(a, *nodes):
    return GRAPH.format(a=a, nodes="".join(f"  {n}\n" for n in nodes))


NETWORK = """id: n
kind: network
input: [1]
target: {target}
layers:
  - {{W: [[{w}]], b: [0], activation: {act}}}
loss: {loss}
ask: [forward, backward]
"""

CASES = {
    "log-of-zero": (graph(0, "L: log(a)"), "5:6", "L: the log of 0 or of a negative number"),
    "division-by-zero": (graph(0, "L: 1/a"), "5:6", "L: a division by zero"),
    "root-of-negative": (graph(-1, "L: sqrt(a)"), "5:6", "L: not a real number"),
    "exp-tower": (graph(1, "L: exp(exp(exp(exp(exp(100*a)))))"), "5:6",
                  "L: e^z with |z| about 2.69e+43: at most 10,000 can be computed exactly"),
    "powers-across-nodes": (graph(2, "u: a**900", "v: u**1000", "w: v**1000", "L: w**1000"),
                            "6:6", "v: larger than 1e+300 in size"),
    "bce-at-one": (NETWORK.format(target=1, w=1, act="identity", loss="bce"), "7:7",
                   "L: bce needs 0 < ŷ < 1 (ln 0 is not a number), but ŷ = 1"),
    "bce-target-3": (NETWORK.format(target=3, w=1, act="sigmoid", loss="bce"), "4:9",
                     "L: bce needs targets between 0 and 1, not 3"),
}


@pytest.mark.parametrize("name", CASES)
def test_refused_with_its_position_and_exit_2(name, tmp_path):
    text, where, message = CASES[name]
    f = tmp_path / f"{name}.yaml"
    f.write_text(text)
    t = time.perf_counter()
    for fmt in ("rich", "json"):
        r = CliRunner().invoke(app, ["solve", str(f), "--format", fmt])
        assert r.exit_code == 2, r.output
        assert f"{f}:{where}: {message}" in r.output.replace("\n", "")
        assert "Traceback" not in r.output and "internal error" not in r.output
    assert time.perf_counter() - t < 10  # generous: refused, not computed (once: minutes)


def test_too_long_exact_numbers_are_carried_to_40_digits_not_refused(tmp_path):
    """(1/3)^(10^9) is a true value: its exact form is too long to keep (v already has 1.6
    million bits), so it is carried to 40 digits and shown, tiny exponent and all."""
    f = tmp_path / "tiny.yaml"
    f.write_text(graph('"1/3"', "u: a**1000", "v: u**1000", "L: v**1000"))
    t = time.perf_counter()
    r = CliRunner().invoke(app, ["solve", str(f), "--format", "json"])
    assert r.exit_code == 0, r.output
    steps = {s["id"]: s for s in json.loads(r.stdout)["steps"]}
    assert steps["u"]["exact_form"] and not steps["v"]["exact_form"]
    for node, power in (("v", 10**6), ("L", 10**9)):  # log10 of 3^(−p), from mpmath alone
        import mpmath
        with mpmath.workdps(60):
            want = -power * mpmath.log10(3)
            e = int(mpmath.floor(want))
            mant = mpmath.power(10, want - e)
            got_mant, got_e = steps[node]["exact"].split("e")  # the 40 carried digits
            assert int(got_e) == e
            assert abs(mpmath.mpf(got_mant) - mant) < mpmath.mpf(10) ** -30
    r = CliRunner().invoke(app, ["solve", str(f)], terminal_width=100)
    assert r.exit_code == 0 and "1.91e-477121255" in r.output
    assert time.perf_counter() - t < 20  # generous (measured: under 1 s)


def test_ce_targets_must_be_a_distribution(tmp_path):
    f = tmp_path / "ce.yaml"
    f.write_text("id: c\nkind: network\ninput: [1]\ntarget: [1, 1]\nlayers:\n"
                 "  - {W: [[1], [2]], b: [0, 0], activation: softmax}\nloss: ce\nask: [forward]\n")
    r = CliRunner().invoke(app, ["solve", str(f)])
    assert r.exit_code == 2
    assert "ce needs each example's targets to be ≥ 0 and sum to 1" in r.output


def test_json_never_has_infinity_and_values_below_the_limits_are_kept(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text(graph(2, "u: a**900", "L: u/2"))  # 2^899: 271 digits, within the limits
    r = CliRunner().invoke(app, ["solve", str(f), "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"JSON has {c}"))
    assert data["steps"][1]["exact"] == str(sp.Integer(2) ** 899)


def test_trouble_is_none_for_ordinary_values_and_names_the_problem_otherwise():
    a = sp.Symbol("a")
    assert trouble(sp.Rational(-17, 100)) is None
    assert trouble(1 / (1 + sp.exp(-sp.Rational(69, 125)))) is None
    assert trouble(sp.log(a), {a: 0}) == "the log of 0 or of a negative number"
    assert trouble(a ** 10, {a: sp.Rational(1, 3) ** 300}).startswith(
        "an exact number of about")  # tiny, but 4,760 digits in its denominator
    assert trouble(sp.Integer(2) ** (MAX_BITS + 10)).startswith("an exact number of about")
    assert trouble(sp.zoo).startswith("not a finite number")


def test_a_rounded_prediction_of_1_in_bce_is_followed_without_a_crash(tmp_path, monkeypatch):
    """σ(10) = 0.99995 rounds to 1 at 4 decimals: the student's ŷ = 1 is right, though ln(1 − ŷ)
    is then not a number; follow-through falls back to the exact values, practice goes on."""
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    f = tmp_path / "sat.yaml"
    f.write_text("id: sat\nkind: network\ninput: [10]\ntarget: 1\nlayers:\n"
                 "  - {W: [[1]], b: [0], activation: sigmoid}\nloss: bce\nask: [forward, backward]\n")
    r = CliRunner().invoke(app, ["practice", str(f), "--plain"],
                           input="10\n1\n0\n-0\n-0.0005\n0\nn\n")
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "✗" not in r.output
    assert "Score: 6/6" in r.output
    # and δ1 = -4.54e-5 ≈ 0 is not "explained" as a misconception when the student types 0
    assert "This looks like" not in r.output


# ─── tutor.numeric._survey: a small tree is within MAX_OPS without count_ops ────────────
def _nodes(e) -> int:
    return 1 + sum(_nodes(a) for a in e.args)


def _exprs():
    from hypothesis import strategies as st

    x, y = sp.symbols("x y")
    leaves = st.sampled_from([x, y, sp.E, sp.Integer(2), sp.Integer(-1), sp.Integer(-3),
                              sp.Rational(1, 3), sp.Rational(-2, 5), sp.Rational(7, 10)])

    def grow(kids):
        pair = st.tuples(kids, kids)
        return st.one_of(
            pair.map(lambda p: p[0] + p[1]), pair.map(lambda p: p[0] - p[1]),
            pair.map(lambda p: p[0] * p[1]), pair.map(lambda p: p[0] / p[1]),
            kids.map(lambda a: -a), kids.map(sp.exp), kids.map(sp.tanh), kids.map(sp.log),
            kids.map(sp.sqrt), kids.map(lambda a: a ** 2), kids.map(lambda a: a ** -2),
            kids.map(lambda a: 1 / (1 + sp.exp(-a))))

    return st.recursive(leaves, grow, max_leaves=12)


def test_count_ops_is_at_most_twice_the_tree_size_on_random_expressions():
    """The bound tutor.numeric.tame's tree size rests on: sp.count_ops(e) ≤ 2 · (nodes of e's tree).
    Every operation count_ops records is charged to a node of the tree, at most two to one
    (a rational leaf: NEG and DIV; any node: one from its parent's ADD, SUB or MUL and one
    of its own), checked here on random expressions of sums, products, quotients, powers,
    exponentials, logs, roots and sigmoids over symbols and signed fractions."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_exprs())
    def check(e):
        if isinstance(e, sp.Expr) and e.is_finite is not False and not e.has(sp.zoo, sp.nan):
            assert sp.count_ops(e) <= 2 * _nodes(e), e

    check()


def test_the_small_tree_rule_keeps_the_same_values_as_count_ops_on_every_bundled_exercise():
    """Every entry of every value and gradient of the bundled exercises: the bound holds,
    and the tree size (tutor.numeric._survey) keeps only where count_ops is within MAX_OPS;
    the survey's nesting is tutor.numeric.nesting."""
    from tutor.catalog import bundled
    from tutor.core import work
    from tutor.numeric import MAX_OPS, _survey, nesting

    seen = 0
    for entry in bundled():
        ex_id = entry.id
        w = work(ex_id)
        for q in w.solution.quantities.values():
            v = q.value
            for e in (v if isinstance(v, sp.MatrixBase) else [v]):
                e = sp.sympify(e)
                if e.is_Rational or e.is_Float or _nodes(e) > 400:
                    continue
                seen += 1
                ops = sp.count_ops(e)
                assert ops <= 2 * _nodes(e), (ex_id, e)
                _, _, depth, size = _survey(e)
                assert size == _nodes(e) and depth == nesting(e), (ex_id, e)
                if size <= MAX_OPS // 2:
                    assert ops <= MAX_OPS, (ex_id, e)
    assert seen > 200
