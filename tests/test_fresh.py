"""Fresh numbers for every exercise (tutor/fresh.py; `tutor practice ID --new`, issue 14).

100 draws of every bundled exercise keep what it is about (shapes, activations, nodes, the
sign of every ReLU input, the zero answer entries, short decimals, the misconceptions told
apart) and solve exactly (the independent oracle, tests/oracle.py, for a few of them); the
same seed gives the same numbers; a --new attempt resumes after a kill."""
from __future__ import annotations

import os
import re
import sys

import pytest
import sympy as sp
from typer.testing import CliRunner

from oracle import equal, graph_oracle, network_oracle, tensor_oracle
from tutor.catalog import bundled, resolve
from tutor.cli import app
from tutor.core import work
from tutor.exercise import load, load_text
from tutor.fresh import draw_of, draws, fresh_exercise
from tutor.misconceptions import indistinguishable
from tutor.render import fmt
from tutor.rules import entries, is_zero
from tutor.variants import baseline, realize, relu_inputs, unmet

PLAIN = [e.id for e in bundled() if load(e.path).spec.variants is None
         and not load(e.path).symbolic]  # symbols: no numbers to draw (test below)
N = 100


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def _plain(v):
    """Data (Decimal, int, lists) as plain comparable text."""
    return repr(v) if not isinstance(v, list) else "[" + ", ".join(map(_plain, v)) + "]"


def test_a_number_is_drawn_on_its_own_grid_with_its_sign_and_zeros_stay():
    from decimal import Decimal

    assert draw_of(Decimal("0.5")) == {"range": [Decimal("0.1"), 1], "step": Decimal("0.1")}
    assert draw_of(Decimal("-0.05")) == {"range": [Decimal("-0.1"), Decimal("-0.01")],
                                         "step": Decimal("0.01")}
    assert draw_of(2) == {"range": [1, 4]}
    assert draw_of(-1) == {"range": [-3, -1]}
    assert draw_of(0) is None and draw_of("1/3") is None
    assert draw_of(2, signed=False) == {"range": [-4, 4], "exclude": [0]}
    # targets, constants, the learning rate and a 0/1 input (an image) are kept
    ex = load(resolve("diagonal-flip-4-3-4"))
    keys = set(draws(ex.doc.data))
    assert not any(k.startswith(("input", "target")) for k in keys)
    assert "layers[1].W[0][2]" not in keys  # a zero weight stays zero
    assert len(keys) == 12 + 3 + 11 + 4
    g = load(resolve("branch-merge-l2")).doc.data
    assert set(draws(g)) == {"params.a", "params.c", "inputs.x", "iterations[0].x"}


@pytest.mark.parametrize("ex_id", PLAIN)
def test_100_fresh_draws_keep_what_the_exercise_is_about(ex_id):
    ex = load(resolve(ex_id))
    base = work(ex_id)
    fx = fresh_exercise(ex)
    assert fx.fresh and fx.spec.variants is not None
    req = fx.spec.variants.require
    assert req.keep_relu_signs and req.keep_zeros == (not load(resolve(ex_id)).tensor)
    want = baseline(base)
    signs = [(r.iteration, r.where, r.value) for r in relu_inputs(base)]
    seen = set()
    for seed in range(N):
        w = realize(fx, seed)
        assert w.seed == seed and w.exercise.fresh
        spec, bspec = w.exercise.spec, base.exercise.spec
        if spec.kind == "network":
            assert [(l.activation, len(l.W), len(l.W[0])) for l in spec.layers] == \
                [(l.activation, len(l.W), len(l.W[0])) for l in bspec.layers]
            assert spec.loss == bspec.loss and _plain(spec.target) == _plain(bspec.target)
        else:
            assert spec.nodes == bspec.nodes and spec.loss == bspec.loss
        assert [s.id for s in w.steps] == [s.id for s in base.steps]
        # the sign of every ReLU input, in every iteration, is the base values' own
        got = [(r.iteration, r.where, r.value) for r in relu_inputs(w)]
        assert [(i, lab, sp.sign(v)) for i, lab, v in got] == \
            [(i, lab, sp.sign(v)) for i, lab, v in signs]
        # the same zero entries, and no others (a tensor graph: its ReLUs' signs only, above;
        # its other zeros are coincidences of its numbers, docs/tensors.md)
        zeros = {(s.id, idx) for s in w.steps for idx, v in entries(s.value) if is_zero(v)}
        if not ex.tensor:
            assert zeros == {(s.id, idx) for s in base.steps for idx, v in entries(s.value)
                             if is_zero(v)}
        if req.max_decimals is not None:
            for s in w.steps:
                for _, v in entries(s.value):
                    if v.is_Rational:
                        assert (v * 10**req.max_decimals).is_Integer, (seed, s.id, v)
        told = set(req.distinguishable or ())
        assert not [p for p in indistinguishable(w) if p[1] in told], seed
        assert unmet(w, req, base=want) == []
        seen.add(_plain(w.exercise.doc.data))
    # fresh numbers: the 100 draws give at least 20 different exercises
    assert len(seen) >= 20, len(seen)


@pytest.mark.parametrize("ex_id", PLAIN)
def test_fresh_numbers_solve_exactly_by_the_oracle(ex_id):
    fx = fresh_exercise(load(resolve(ex_id)))
    for seed in (1, 2, 3):
        w = realize(fx, seed)
        spec = _oracle_spec(w.exercise.doc.data)
        if w.exercise.tensor:  # vectors and matrices: the NumPy oracle (tests/oracle.py)
            import numpy as np

            o = tensor_oracle(spec)
            for name, g in o["grads"].items():
                q = w.solution.quantities.get((1, "grad", name))
                want = sp.Matrix(g) if isinstance(g, np.ndarray) else g
                assert q is not None and equal(q.value, want), (seed, name)
            assert w.exercise.doc.data != load(resolve(ex_id)).doc.data or seed == 0
        elif spec["kind"] == "graph":
            for it, row in enumerate(graph_oracle(spec), start=1):
                for node, v in row["values"].items():
                    assert equal(w.solution.value(node, it), v), (seed, it, node)
                for name, g in row["grads"].items():
                    q = w.solution.quantities.get((it, "grad", name))
                    assert equal(q.value if q is not None else sp.Integer(0), g), (seed, name)
        else:
            o = network_oracle(spec)
            assert equal(w.solution.value("L"), o["L"])
            for i in range(1, len(spec["layers"]) + 1):
                assert equal(w.solution.grad(f"W{i}"), o["dW"][i - 1]), (seed, i)
                assert equal(w.solution.grad(f"b{i}"), o["db"][i - 1]), (seed, i)


def _oracle_spec(data):
    """The variant's data as the oracle reads YAML: plain numbers as text, no Decimals."""
    from decimal import Decimal

    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return str(v) if isinstance(v, Decimal) else v

    return plain({k: v for k, v in data.items() if k != "variants"})


def test_the_same_seed_gives_the_same_numbers_in_every_process():
    a = work("merge-sum", seed=12345, fresh=True)
    b = work("merge-sum", seed=12345, fresh=True)
    assert _plain(a.exercise.doc.data) == _plain(b.exercise.doc.data)
    assert [s.value for s in a.steps] == [s.value for s in b.steps]
    # pinned: random.Random(seed).randrange is stable across machines and Python versions
    assert a.exercise.spec.params == {"x": 5, "y": -4}
    # graded work never draws: a sheet's numbers are the ones handed out
    assert work("merge-sum", seed=12345, note=False).seed is None


KEEP = """
kind: graph
id: keep-test
params: {x: 2, y: 0, w: -1}
nodes:
  u: x*y
  r: relu(w*x)
  v: u + r + x
  L: v**2
loss: L
ask: [forward, backward]
variants:
  draw:
    x: {range: [1, 5]}
    y: {choice: [0, 1]}
    w: {range: [-2, 2]}
  require: {keep_zeros: true, keep_relu_signs: true}
  tries: 500
"""


def test_keep_zeros_and_keep_relu_signs_are_conditions_an_author_can_write():
    ex = load_text(KEEP, "keep.yaml")
    for seed in range(30):
        w = realize(ex, seed)
        assert w.exercise.spec.params["y"] == 0  # u = 0 in the base values: kept
        assert w.exercise.spec.params["w"] < 0  # relu(w·x) dead in the base: kept dead


def test_practice_new_draws_fresh_numbers_and_resumes_them(home):
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--new", "--lines"], input="quit\n")
    assert r.exit_code == 0, r.output
    seed = int(re.search(r"Your numbers: fresh numbers, seed (\d+)", r.output).group(1))
    assert "New numbers for: seed 001" in r.output
    assert f"tutor practice merge-sum --seed {seed}" in r.output
    w = work("merge-sum", seed=seed, fresh=True)
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--seed", str(seed), "--lines"],
                           input=fmt(w.steps[0].value) + "\nquit\n")
    assert f"✓ u = {fmt(w.steps[0].value)}" in r.output
    r = CliRunner().invoke(app, ["--traceback"], input="quit\n")  # bare `tutor`: where I was
    assert f"fresh numbers, seed {seed}" in r.output
    assert "Resuming: 1 of 7 steps already done." in r.output
    # the worked solution of those numbers
    r = CliRunner().invoke(app, ["solve", "merge-sum", "--seed", str(seed), "--format", "json"])
    assert r.exit_code == 0 and f'"seed": {seed}' in r.output.replace("\n", " ")


def test_new_with_seed_or_student_is_a_usage_error():
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--new", "--seed", "3"])
    assert r.exit_code == 2 and "give one of --new, --seed and --student" in r.output


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminal")
def test_a_new_attempt_resumes_after_the_terminal_is_killed(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "TUTOR_HOME": str(tmp_path), "TERM": "xterm", "NO_COLOR": "1"}

    def spawn(*args):
        return pexpect.spawn(sys.executable, ["-m", "tutor", "practice", "--lines", *args],
                             env=env, encoding="utf-8", timeout=60, dimensions=(40, 80))

    child = spawn("practice-two-paths", "--new")
    child.expect(r"fresh numbers, seed (\d+)")
    seed = int(child.match.group(1))
    w = work("practice-two-paths", seed=seed, fresh=True)
    child.expect(r"\r\na = $")
    child.sendline(fmt(w.steps[0].value))
    child.expect_exact(f"✓ a = {fmt(w.steps[0].value)}")
    child.expect(r"\r\nb = $")
    child.kill(9)  # the terminal dies: no goodbye, no Ctrl-C
    child.close()
    child = spawn()  # bare practice: the attempt left open
    child.expect_exact(f"fresh numbers, seed {seed}")
    child.expect_exact("Resuming: 1 of")
    child.expect(r"\r\nb = $")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_a_symbolic_exercise_has_nothing_to_draw_and_stays_as_it_is():
    """--new on an exercise in symbols keeps its symbols: its numbers are none to draw."""
    from tutor.core import work

    w = work("two-paths-symbolic", fresh=True, note=False)
    assert w.symbolic and w.seed is None
    assert w.step("dx").value == work("two-paths-symbolic").step("dx").value
