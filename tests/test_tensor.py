"""Tensor-valued graph exercises (issue 13): vectors and matrices in params, inputs and
constants; nodes with @, .T, broadcasting, sum/mean over an axis, indexing, softmax and
cross-entropy. Every gradient entry equals ``sympy.diff`` of the composed scalar loss
(tests/oracle.py: NumPy object arrays, no code of the engine)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from oracle import equal, tensor_oracle
from tutor.catalog import bundled, resolve
from tutor.cli import app
from tutor.core import work, work_exercise
from tutor.exercise import load, load_text

TENSOR = [e for e in bundled() if load(e.path).tensor]
runner = CliRunner()


def check_tensor(w, spec):
    o = tensor_oracle(spec)
    sol = w.solution
    for node, v in o["values"].items():
        got = sol.value(node)
        assert equal(got, sp.Matrix(v) if isinstance(v, np.ndarray) else v), (node, got, v)
    for name, g in o["grads"].items():
        q = sol.quantities.get((1, "grad", name))
        assert q is not None, name
        assert equal(q.value, sp.Matrix(g) if isinstance(g, np.ndarray) else g), (name, q.value, g)


def test_the_bundled_tensor_exercises_are_there():
    assert {e.id for e in TENSOR} >= {"affine-relu-vector", "residual-vector", "batch-softmax-ce",
                                      "batchnorm-ninja", "attention-2-tokens", "conv1d-relu",
                                      "conv2d-maxpool"}


@pytest.mark.parametrize("entry", TENSOR, ids=[e.id for e in TENSOR])
def test_bundled_tensor_exercise_matches_the_oracle(entry):
    spec = yaml.safe_load(entry.path.read_text())
    check_tensor(work(str(entry.path)), spec)


def test_the_vector_layer_gives_the_network_layers_numbers():
    """affine-relu-vector is affine-relu-layer written as tensors: the same exact answers."""
    net, vec = work("affine-relu-layer").solution, work("affine-relu-vector").solution
    assert vec.value("z") == net.value("z1")
    assert vec.grad("W") == net.grad("W1") == sp.Matrix([[1, sp.Rational(1, 2), 1], [0, 0, 0]])
    assert vec.grad("b") == net.grad("b1")
    assert vec.grad("x") == net.grad("x") == sp.Matrix([sp.Rational(1, 2), -1, sp.Rational(1, 4)])


def test_residual_vector_seed_numbers_and_causes():
    w = work("residual-vector")
    sol = w.solution
    assert sol.value("u") == sp.Matrix([sp.Rational(1, 2), -2])
    # ∂L/∂x = ∂L/∂h (the identity) + W1ᵀ ∂L/∂u (through F): the merge adds both
    assert sol.grad("x") == sp.Matrix([-sp.Rational(1, 8), -sp.Rational(11, 16)])
    dW1 = w.step("dW1")
    assert dW1.value.row(1) == sp.Matrix([[0, 0]])
    cause = dW1.causes[(1, 0)]
    assert cause.kind.value == "no_error_signal" and cause.because.kind.value == "dead_relu"
    assert cause.because.value == -2


def test_a_broadcast_bias_is_summed_over_the_batch():
    """b (3 × 1) is added to every column of W @ X (3 × 4): ∂L/∂b = Σ over the batch."""
    w = work("batch-softmax-ce")
    sol = w.solution
    dlogits = sol.grad("logits")
    assert dlogits.shape == (3, 4)
    db = sol.grad("b")
    assert db.shape == (3, 1)
    for i in range(3):
        assert equal(db[i], sum(dlogits[i, j] for j in range(4)))
    from tutor.words.notation import text

    assert text(w.step("db").formula) == "sum(∂L/∂logits, axis=1)"
    # fused softmax + cross-entropy: (softmax(logits) − Y) / 4, each column summing to 0
    for j in range(4):
        assert equal(sum(dlogits[i, j] for i in range(3)), 0)


def test_fused_and_unfused_cross_entropy_agree_exactly():
    base = (resolve("batch-softmax-ce")).read_text()
    atomic = "  p: softmax(logits)\n  L: -sum(Y * log(p)) / 4"
    assert atomic in base
    softmax = work_exercise(load_text(base, "softmax.yaml")).solution
    fused = work_exercise(load_text(base.replace(atomic, "  L: cross_entropy(logits, Y)"),
                                    "fused.yaml")).solution
    unfused = work_exercise(load_text(base.replace(
        atomic, "  L: -sum(Y * log_softmax(logits)) / 4"), "unfused.yaml")).solution
    assert equal(fused.value("L"), unfused.value("L"))
    for p in ("W", "b"):
        assert equal(fused.grad(p), unfused.grad(p))
        assert equal(fused.grad(p), softmax.grad(p))


def test_formulas_are_the_vector_rules():
    from tutor.words.notation import text

    w = work("affine-relu-vector")
    assert text(w.step("dW").formula) == "∂L/∂z · xᵀ"
    assert text(w.step("dz").formula) == "∂L/∂a ⊙ ReLU′(z)"
    assert text(w.step("dx").formula) == "Wᵀ ∂L/∂z"
    assert text(w.step("dz").formula, numbers=True) == "[0.5, -1] ⊙ [1, 0]"


# ─── the modules: each against the oracle, fused against atomic ───────────────────────
MODULES = """\
id: modules
title: every module
kind: graph
inputs:
  X: [[1, 0, -1, 2], [0, 3, 1, -1], [2, 1, 0, 1], [1, -1, 2, 0.5]]
params:
  k: [[1, -1], [0.5, 2]]
  C: [[1, 0.5], [0, -1], [2, 1]]
  w: [1, -0.5]
  Q: [[1, 0], [0, 1]]
  K: [[0.5, 0], [1, 1]]
  V: [[1, 2], [0, -1]]
constants:
  eps: 0.0625
  ids: [0, 2, 2]
nodes:
  c: conv2d(X, k)
  s: conv2d(X, k, stride=2)
  p: maxpool(X)
  e: embedding(C, ids)
  v: conv1d(e.T[0].T, w)
  o: causal_attention(Q, K, V)
  a: attention(Q, K, V)
  ln: layernorm(e.T, 1, 0, eps)
  bn: batchnorm(X, 1, 0.5, eps)
  L: sum(c**2) + sum(s) + sum(p * p) + sum(v) + sum(o * o) + sum(a) + sum(ln * ln * 2) + sum(e) + sum(bn * X)
loss: L
ask: [forward, backward]
"""


def test_every_module_matches_the_oracle():
    check_tensor(work_exercise(load_text(MODULES, "modules.yaml")), yaml.safe_load(MODULES))


NORM = """\
id: norm
title: fused and atomic
kind: graph
inputs:
  X: [[1, 0, -1, 2], [0, 1, 1, -1]]
params:
  W: [[1, 1], [1, 2]]
  gamma: [1, 0.5]
  beta: [0, 0.5]
constants:
  eps: 0.0625
  C: [[1, -1, 0.5, 2], [0, 1, -2, 1]]
nodes:
  h: W @ X
NODES
  L: sum(y * C) + sum(y**2) / 2
loss: L
ask: [forward, backward]
"""
ATOMIC = {
    "batchnorm": """\
  mu: mean(h, axis=1)
  hc: h - mu
  var: mean(hc**2, axis=1)
  istd: (var + eps)**-0.5
  y: gamma * (hc * istd) + beta""",
    "layernorm": """\
  mu: mean(h, axis=0)
  hc: h - mu
  var: mean(hc**2, axis=0)
  istd: (var + eps)**-0.5
  y: gamma * (hc * istd) + beta""",
}


@pytest.mark.parametrize("module", ["batchnorm", "layernorm"])
def test_fused_and_atomic_normalisation_give_identical_exact_gradients(module):
    """Batch norm (each row over the batch) and layer norm (each column over its features):
    the module's own backward and the chain through mean, centred, variance, inverse std."""
    fused = work_exercise(load_text(NORM.replace("NODES", f"  y: {module}(h, gamma, beta, eps)"),
                                    "f.yaml")).solution
    atomic = work_exercise(load_text(NORM.replace("NODES", ATOMIC[module]), "a.yaml")).solution
    assert equal(fused.value("y"), atomic.value("y"))
    for p in ("W", "gamma", "beta", "X"):
        assert equal(fused.grad(p), atomic.grad(p)), p
    if module == "batchnorm":  # each row's σ is rational here (1/2, 3/4): the very same numbers
        for p in ("W", "gamma", "beta", "X"):
            assert fused.grad(p) == atomic.grad(p), p
        assert all(v.is_Rational for v in fused.grad("W"))


def test_fused_and_atomic_attention_agree():
    base = yaml.safe_load(resolve("attention-2-tokens").read_text())
    for fused, atomic in (("attention(Q, K, V)", "softmax(Q @ K.T / sqrt(2), axis=1) @ V"),):
        a = dict(base, nodes={**base["nodes"], "O": fused})
        b = dict(base, nodes={**base["nodes"], "O": atomic})
        sa = work_exercise(load_text(yaml.safe_dump(a), "a.yaml")).solution
        sb = work_exercise(load_text(yaml.safe_dump(b), "b.yaml")).solution
        for p in ("Wq", "Wk", "Wv"):
            assert equal(sa.grad(p), sb.grad(p)), p


# two causal attention layers, d = 4, 4 tokens: bench/run.py times `tutor solve` of it (issue 13: < 2 s)
ATTENTION_4 = (Path(__file__).parent / "data" / "attention-4.yaml").read_text(encoding="utf-8")


def _attention_4_numpy(X, Wq, Wk, Wv, C):
    """L of ATTENTION_4 in float64, written out independently of the engine."""
    def layer(H):
        Q, K, V = H @ Wq, H @ Wk, H @ Wv
        S = Q @ K.T / np.sqrt(Q.shape[1])
        S = np.where(np.tril(np.ones_like(S)) > 0, S, -np.inf)
        P = np.exp(S - S.max(axis=1, keepdims=True))
        return (P / P.sum(axis=1, keepdims=True)) @ V
    return float(np.sum(layer(layer(X)) * C))


def test_two_attention_layers_keep_their_inner_values_tame():
    """Inside a node each operation's value is kept as the solver keeps a node's (numeric.tame):
    readable exact forms stay, larger ones are carried as certified decimals. Two causal
    attention layers took 11.6 s before (the second layer's softmax of exponentials of
    exponentials, exact). Every value inside O2 is tame, and the gradients agree with a
    float64 finite-difference check of the loss (the exact oracle takes minutes here)."""
    from tutor.rules import tensor_parts
    from tutor.numeric import MAX_NESTING, MAX_OPS, nesting

    w = work_exercise(load_text(ATTENTION_4, "attention-4.yaml"))
    sol = w.solution
    node = w.graph.nodes["O2"]
    values = {n: sol.value(n) for n in w.graph.nodes}
    for v in tensor_parts(node, values, w.graph).values():
        for e in (v if isinstance(v, sp.MatrixBase) else [v]):
            assert e.is_Rational or e.is_Float or (
                nesting(e) <= MAX_NESTING and sp.count_ops(e) <= MAX_OPS), e
    assert sol.get("value", "O1").exact and not sol.get("value", "O2").exact

    leaves = {k: np.array(sp.Matrix(sol.value(k)).tolist(), dtype=float)
              for k in ("X", "Wq", "Wk", "Wv", "C")}
    assert abs(float(sol.value("L")) - _attention_4_numpy(**leaves)) < 1e-12
    h = 1e-6
    for name in ("X", "Wq", "Wk", "Wv"):
        got = np.array(sp.Matrix(sol.grad(name)).tolist(), dtype=float)
        for idx in np.ndindex(got.shape):
            up, down = dict(leaves), dict(leaves)
            up[name], down[name] = leaves[name].copy(), leaves[name].copy()
            up[name][idx] += h
            down[name][idx] -= h
            fd = (_attention_4_numpy(**up) - _attention_4_numpy(**down)) / (2 * h)
            assert abs(got[idx] - fd) < 1e-7, (name, idx, got[idx], fd)


def test_causal_attention_masks_the_first_tokens_query():
    w = work("attention-2-tokens")
    dq = w.step("dQ")
    assert dq.value.row(0) == sp.Matrix([[0, 0]])
    assert dq.causes[(0, 0)].kind.value == "masked"
    from tutor.words import say

    assert "token 1 attends to itself only" in say(dq.causes[(0, 0)])


def test_max_pool_losers_are_said_with_their_window():
    from tutor.words import say

    w = work("conv2d-maxpool")
    dr = w.step("dr")
    losers = [c for c in dr.causes.values() if c.kind.value == "pool_loser"]
    assert len(losers) == 12  # 4 windows, 3 losers each
    assert all("is not the max of its window" in say(c) for c in losers)


def test_a_conv_kernel_larger_than_its_input_is_refused(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(resolve("conv1d-relu").read_text().replace("w: [0.5, -1, 1]",
                                                            "w: [0.5, -1, 1, 1, 1, 1, 1]"))
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 1 and "E234 the kernel w (7 entries) is longer than x (6)" in r.output


def test_an_embedding_id_out_of_range_is_one_clear_error(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(MODULES.replace("ids: [0, 2, 2]", "ids: [0, 2, 5]"))
    r = runner.invoke(app, ["solve", str(f)])
    assert r.exit_code == 2 and "ids[3] = 5 is not a row of C (0 to 2)" in r.output
    assert "Traceback" not in r.output


# ─── the command line, as an author and a student meet it ─────────────────────────────
def test_solve_json_carries_the_cause_of_each_zero_entry():
    r = runner.invoke(app, ["solve", "residual-vector", "--format", "json"])
    assert r.exit_code == 0, r.output
    steps = {s["id"]: s for s in json.loads(r.stdout)["steps"]}
    zero = steps["du"]["zeros"][0]["cause"]
    assert zero["kind"] == "dead_relu" and zero["subject"] == "u" and zero["entry"] == [2]
    assert zero["value"] == "-2"


BAD = """\
id: bad
title: bad shapes
kind: graph
inputs:
  x: [1, 2]
params:
  W: [[1, 2, 3], [4, 5, 6]]
  b: [1, 2, 3]
nodes:
  z: W @ x + b
  L: sum(z)
loss: L
"""


def test_a_shape_error_is_located_and_says_what_fits(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD)
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 1
    assert f"{f}:10:6: E234 W is 2×3, x is 2×1: W @ x needs 3 rows in x" in r.output
    r = runner.invoke(app, ["solve", str(f)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "W @ x needs 3 rows in x" in r.output


@pytest.mark.parametrize("node, message", [
    ("W @ x.T + b", "needs 3 rows"),
    ("W.T @ x + x", "W.T @ x is 3×1, x is 2×1: + needs the same shape"),
    ("sum(W @ b, axis=2)", "axis is 0"),
    ("W @ b + x[5]", "x has 2 entries: it has no entry 5"),
    ("W @ b + W[2]", "no row 2"),
    ("W @ b + W[0, 3]", "no entry [0, 3]"),
    ("W @ b + 2 @ x", "2 is a number"),
    ("W @ b + x.shape", "only .T"),
    ("W @ b + __import__('os')", "unexpected \"'\""),
    ("W @ b + open(x)", "unknown function 'open'"),
    ("W @ b + softmax(x, axis=3)", "axis is 0"),
])
def test_shape_and_grammar_errors_have_one_clear_message(tmp_path, node, message):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD.replace("z: W @ x + b", f"z: {node}"))
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert message in r.output, r.output


def test_a_loss_that_is_a_vector_is_refused(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(BAD.replace("x: [1, 2]", "x: [1, 2, 3]").replace("b: [1, 2, 3]", "b: [1, 2]")
                 .replace("L: sum(z)", "L: z * 2"))
    r = runner.invoke(app, ["validate", str(f)])
    assert r.exit_code == 1 and "E227 the loss must be a number, but L is 2×1" in r.output


def test_a_student_answers_a_matrix_step_in_check(tmp_path):
    w = work("affine-relu-vector")
    from tutor.render import fmt

    body = "".join(f"  {s.id}: {fmt(s.value, 6)}\n" for s in w.steps)
    wrong = body.replace(f"  dW: {fmt(w.step('dW').value, 6)}", "  dW: [[1, 0.5, 1], [1, 1, 1]]")
    (tmp_path / "right.yaml").write_text(f"exercise: affine-relu-vector\nanswers:\n{body}")
    (tmp_path / "wrong.yaml").write_text(f"exercise: affine-relu-vector\nanswers:\n{wrong}")
    r = runner.invoke(app, ["check", "affine-relu-vector", str(tmp_path), "--format", "json"])
    got = {s["file"].rsplit("/", 1)[-1]: s for s in json.loads(r.stdout)["sheets"]}
    n = len(w.steps)
    assert got["right.yaml"]["score"] == n
    assert got["wrong.yaml"]["score"] == n - 1
    (step,) = [s for s in got["wrong.yaml"]["steps"] if s["verdict"] != "correct"]
    assert step["id"] == "dW"


# ─── generated tensor graphs against the oracle ───────────────────────────────────────
VALUES = st.sampled_from(["-1", "-0.5", "0", "0.5", "1", "2", "1.5", "-2"])


@st.composite
def tensor_graph(draw):
    """A random chain over shapes up to 3 × 3: affine layers with the bias broadcast over a
    batch, elementwise functions, products and powers, transposes, reductions over an axis,
    indexing, softmax; then a scalar loss (sum of squares, mean, or cross-entropy)."""
    n, B = draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def mat(r, c):
        return [[draw(VALUES) for _ in range(c)] for _ in range(r)]

    inputs = {"x": mat(n, B)}
    params, nodes = {}, {}
    h, rows, k = "x", n, 0
    for _ in range(draw(st.integers(1, 3))):
        k += 1
        m = draw(st.integers(1, 3))
        params[f"W{k}"], params[f"b{k}"] = mat(m, rows), [draw(VALUES) for _ in range(m)]
        nodes[f"z{k}"] = f"W{k} @ {h} + b{k}"
        f = draw(st.sampled_from(["relu({})", "tanh({})", "sigmoid({})", "{} * {}",
                                  "{} ** 2 / 2", "({}.T).T", "{} - mean({}, axis=1)",
                                  "softmax({})", "{} * c{k}", "exp({}) / 4"]
                                 + (["layernorm({}, 1, 0.5, 1)"] if m >= 2 else [])
                                 + (["batchnorm({}, 2, 0, 1)"] if B >= 2 else [])))
        if "c{k}" in f:
            params[f"c{k}"] = [[draw(VALUES) for _ in range(B)]]  # a row: broadcast down
        nodes[f"h{k}"] = f.replace("{k}", str(k)).format(*[f"z{k}"] * f.count("{}"))
        h, rows = f"h{k}", m
    loss = draw(st.sampled_from(["sum({h} ** 2) / 2", "mean({h})", "ce", "index"]))
    constants = {}
    if loss == "ce":
        if rows < 2:
            loss = "mean({h})"
        else:
            constants["Y"] = [[1 if i == j % rows else 0 for j in range(B)] for i in range(rows)]
            nodes["L"] = f"cross_entropy({h}, Y)"
    if loss == "index":
        nodes["L"] = f"mean({h}) + {h}[{rows - 1}, {B - 1}] ** 2"
    elif loss != "ce" or "L" not in nodes:
        nodes["L"] = loss.format(h=h)
    spec = {"id": "gen", "title": "generated", "kind": "graph", "inputs": inputs,
            "params": params, "nodes": nodes, "loss": "L", "ask": ["forward", "backward", "inputs"]}
    if constants:
        spec["constants"] = constants
    return spec


# derandomized: the same 30 graphs on every run (a random draw of exp ∘ softmax ∘ layer norm
# can take minutes to compose for the oracle, and CI must not depend on luck)
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(tensor_graph())
def test_random_tensor_graphs_match_the_oracle(spec):
    from hypothesis import assume

    from tutor.errors import ExerciseError

    try:
        w = work_exercise(load_text(yaml.safe_dump(spec, sort_keys=False), "gen.yaml"))
    except ExerciseError as err:  # exp of exp of …: a value the engine refuses (E240)
        assume("larger than" not in str(err))
        raise
    check_tensor(w, spec)
