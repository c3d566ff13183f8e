"""Every gradient the engine gives equals sympy.diff of the fully composed loss (tests/oracle.py):
for every bundled exercise, and for hypothesis-generated graphs and networks."""
from __future__ import annotations

import sympy as sp
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from oracle import equal, graph_oracle, network_oracle
from tutor.catalog import bundled
from tutor.core import work, work_exercise
from tutor.exercise import load, load_text
from tutor.words import notation

import pytest

BUNDLED = [e for e in bundled() if not load(e.path).symbolic  # symbols: test_symbolic.py
           and not load(e.path).tensor]  # vectors and matrices in graphs: test_tensor.py


def check_graph(w, spec):
    expected = graph_oracle(spec)
    sol = w.solution
    for it, row in enumerate(expected, start=1):
        for node, v in row["values"].items():
            assert equal(sol.value(node, it), v), (it, node, sol.value(node, it), v)
        for name, g in row["grads"].items():
            got = sol.quantities.get((it, "grad", name))
            got = got.value if got is not None else sp.Integer(0)
            assert equal(got, g), (it, name, got, g)
        for name, v in row.get("new", {}).items():
            assert equal(sol.get("new", name, it).value, v), (it, name)


def check_network(w, spec):
    o = network_oracle(spec)
    sol = w.solution
    assert equal(sol.value("L"), o["L"])
    n = len(spec["layers"])
    for i in range(1, n + 1):
        assert equal(sol.value(f"z{i}"), o["z"][i - 1]), f"z{i}"
        h = "yhat" if i == n else f"h{i}"
        assert equal(sol.value(h), o["h"][i - 1]), h
        assert equal(sol.grad(f"W{i}"), o["dW"][i - 1]), f"dW{i}"
        assert equal(sol.grad(f"b{i}"), o["db"][i - 1]), f"db{i}"
    assert equal(sol.grad("x"), o["dx"]), "dx"
    if "W_new" in o:
        for i in range(1, n + 1):
            assert equal(sol.get("new", f"W{i}").value, o["W_new"][i - 1]), f"W{i}_new"
            assert equal(sol.get("new", f"b{i}").value, o["b_new"][i - 1]), f"b{i}_new"


@pytest.mark.parametrize("entry", BUNDLED, ids=[e.id for e in BUNDLED])
def test_bundled_exercise_matches_oracle(entry):
    spec = yaml.safe_load(entry.path.read_text())
    w = work(str(entry.path))
    if spec["kind"] == "graph":
        check_graph(w, spec)
    else:
        check_network(w, spec)


# ─── generated graphs ────────────────────────────────────────────────────────────────
values = st.sampled_from(["1", "2", "-1", "0.5", "-0.25", "3", "1/3", "-2", "0.1"])
UNARY = ["relu({})", "sigmoid({})", "tanh({})", "({})**2", "exp(sigmoid({}))",
         "log(1 + ({})**2)", "-({})", "({})/2", "leaky_relu({})", "elu({})", "softplus({})"]
BINARY = ["{} + {}", "{} * {}", "{} - {}", "max({}, {})", "{}*{} + {}",
          "leaky_relu({}, {})", "elu({}, {})"]  # a slope or α that is a name: its gradient too


@st.composite
def random_graph(draw):
    n_params = draw(st.integers(1, 3))
    n_inputs = draw(st.integers(0, 2))
    params = {f"p{i}": draw(values) for i in range(n_params)}
    inputs = {f"x{i}": draw(values) for i in range(n_inputs)}
    names = list(params) + list(inputs)
    nodes = {}
    for k in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            tmpl = draw(st.sampled_from(UNARY))
            args = [draw(st.sampled_from(names))]
        else:
            tmpl = draw(st.sampled_from(BINARY))
            args = [draw(st.sampled_from(names)) for _ in range(tmpl.count("{}"))]
        nodes[f"n{k}"] = tmpl.format(*args)
        names.append(f"n{k}")
    # the loss touches the last node and, often, an earlier one: merges happen
    last = list(nodes)[-1]
    other = draw(st.sampled_from(names))
    nodes["L"] = f"({last})**2 + {other}" if draw(st.booleans()) else f"({last} - 1)**2"
    spec = {"id": "gen", "kind": "graph", "params": params, "inputs": inputs, "nodes": nodes,
            "loss": "L", "ask": ["forward", "backward", "inputs"]}
    if draw(st.booleans()):
        spec["learning_rate"] = "0.1"
        spec["iterations"] = [{}, {}]
    return spec


def _quote(spec):
    """As an author would write it: values quoted so "1/3" stays exact."""
    return yaml.safe_dump(spec, sort_keys=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_graphs_match_oracle(spec):
    assume(not any(row["tie"] for row in graph_oracle(spec)))  # max at a tie: W306
    w = work_exercise(load_text(_quote(spec), "gen.yaml"))
    check_graph(w, spec)


# ─── generated networks ──────────────────────────────────────────────────────────────
weights = st.sampled_from([0, 1, -1, 2, "0.5", "-0.5", "0.25", "-1/3", "0.3"])


@st.composite
def random_network(draw):
    layout = draw(st.sampled_from(["column", "row"]))
    batch = draw(st.integers(1, 2))
    sizes = [draw(st.integers(1, 3)) for _ in range(draw(st.integers(2, 3)))]
    loss = draw(st.sampled_from(["mse", "sse", "half_sse", "bce", "ce"]))
    if loss == "ce":
        sizes[-1] = max(2, sizes[-1])
    if loss == "bce":
        sizes[-1] = 1
    layers = []
    for i in range(1, len(sizes)):
        out_, in_ = sizes[i], sizes[i - 1]
        W = [[draw(weights) for _ in range(in_)] for _ in range(out_)]
        if layout == "row":
            W = [list(r) for r in zip(*W)]
        last = i == len(sizes) - 1
        act = {"ce": "softmax", "bce": "sigmoid"}.get(loss) if last else None
        act = act or draw(st.sampled_from(["identity", "relu", "sigmoid", "tanh", "leaky_relu",
                                           "elu", "softplus"]))
        layers.append({"W": W, "b": [draw(weights) for _ in range(out_)], "activation": act})
        if act == "elu" and draw(st.booleans()):
            layers[-1]["alpha"] = draw(st.sampled_from(["0.5", "2", "1/3"]))
    n_in, n_out = sizes[0], sizes[-1]
    xs = [[draw(weights) for _ in range(n_in)] for _ in range(batch)]
    if loss == "ce":
        ts = [[1 if k == draw(st.integers(0, n_out - 1)) else 0 for k in range(n_out)]
              for _ in range(batch)]
        ts = [t if sum(t) == 1 else [1] + [0] * (n_out - 1) for t in ts]
    elif loss == "bce":
        ts = [[draw(st.sampled_from([0, 1, "0.5"]))] for _ in range(batch)]
    else:
        ts = [[draw(weights) for _ in range(n_out)] for _ in range(batch)]
    if batch == 1:
        x, t = xs[0], ts[0]
    elif layout == "row":
        x, t = xs, ts
    else:
        x, t = [list(r) for r in zip(*xs)], [list(r) for r in zip(*ts)]
    spec = {"id": "gen", "kind": "network", "layout": layout, "input": x, "target": t,
            "layers": layers, "loss": loss, "ask": ["forward", "backward", "inputs"]}
    if draw(st.booleans()):
        spec["learning_rate"] = draw(st.sampled_from(["0.1", "0.5", "1/3"]))
        spec["ask"].append("update")
    return spec


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_network())
def test_random_networks_match_oracle(spec):
    w = work_exercise(load_text(_quote(spec), "gen.yaml"))
    check_network(w, spec)


def test_leaky_relu_slope_that_is_a_parameter_gets_its_gradient():
    """∂/∂α leaky_relu(u, α) = min(u, 0): L = (α u)², u = a x − 3 = −1, α = 0.2 → ∂L/∂α = 2/5."""
    spec = {"id": "lk", "kind": "graph", "inputs": {"x": 2}, "params": {"a": 1, "s": "0.2"},
            "nodes": {"u": "a*x - 3", "L": "leaky_relu(u, s)**2"}, "loss": "L",
            "learning_rate": "0.1"}
    w = work_exercise(load_text(_quote(spec), "lk.yaml"))
    check_graph(w, spec)
    ds = w.step("ds")
    assert ds.value == sp.Rational(2, 5)
    assert notation.text(ds.formula, numbers=True) == "(2·(-1) - 2·relu(-1))·leaky_relu(-1, 0.2)"


# ─── softplus and ELU: one rules entry each, in networks and graphs ──────────────────
def _net(acts, alpha=None, x=(1, -2), loss="half_sse", target=(1,)):
    first = {"W": [[1, 2], [-1, "0.5"]], "b": ["0.5", -1], "activation": acts[0]}
    if alpha is not None:
        first["alpha"] = alpha
    return {"id": "act", "kind": "network", "input": list(x), "target": list(target),
            "layers": [first, {"W": [[1, -1]], "b": [0], "activation": acts[1]}],
            "loss": loss, "ask": ["forward", "backward", "inputs", "update"],
            "learning_rate": "0.1"}


@pytest.mark.parametrize("acts, alpha", [(("elu", "softplus"), "0.5"), (("elu", "identity"), None),
                                         (("softplus", "elu"), "2"), (("softplus", "sigmoid"), None)])
def test_elu_and_softplus_networks_match_the_oracle(acts, alpha):
    spec = _net(acts, alpha if acts[0] == "elu" else None)
    if acts[1] == "elu" and alpha is not None:
        spec["layers"][1]["alpha"] = alpha
    if acts[1] == "sigmoid":
        spec["loss"] = "bce"
    w = work_exercise(load_text(_quote(spec), "act.yaml"))
    check_network(w, spec)


def test_elu_at_exactly_zero_takes_alpha_and_its_values_are_exact():
    """z1 = [0, −3/2]: ELU′(0) = α = 1/2 (PyTorch's convention), h1 = [0, (e^(−3/2) − 1)/2]."""
    spec = _net(("elu", "identity"), "0.5", x=(1, "-0.25"))
    spec["layers"][0]["W"] = [[1, 2], [2, 0]]  # z1 = [1 − 1/2 − 1/2, 2 − 7/2]
    spec["layers"][0]["b"] = ["-0.5", "-3.5"]
    w = work_exercise(load_text(_quote(spec), "act.yaml"))
    check_network(w, spec)
    sol = w.solution
    half = sp.Rational(1, 2)
    assert sol.value("z1") == sp.Matrix([0, -sp.Rational(3, 2)])
    assert sol.value("h1") == sp.Matrix([0, half * (sp.exp(-sp.Rational(3, 2)) - 1)])
    dphi = w.step("delta1").formula.operands()[1].value
    assert dphi == sp.Matrix([half, half * sp.exp(-sp.Rational(3, 2))])


def test_softplus_derivative_is_sigmoid_and_never_zero():
    spec = _net(("softplus", "identity"))
    w = work_exercise(load_text(_quote(spec), "act.yaml"))
    check_network(w, spec)
    d = w.step("delta1")
    assert "softplus′(z) = σ(z)" in notation.note_text(d.formula)
    z1 = w.solution.value("z1")
    assert d.formula.operands()[1].value == z1.applyfunc(lambda v: 1 / (1 + sp.exp(-v)))


@pytest.mark.parametrize("node", ["elu(u)", "elu(u, s)", "softplus(u)", "elu(softplus(u) - 2, s)",
                                  "softplus(elu(u))"])
def test_elu_and_softplus_graph_nodes_match_the_oracle(node):
    spec = {"id": "g", "kind": "graph", "inputs": {"x": 2}, "params": {"a": "0.5", "s": "0.5"},
            "nodes": {"u": "a*x - 3", "h": node, "L": "(h - 1)**2 + s**2"}, "loss": "L",
            "learning_rate": "0.1", "ask": ["forward", "backward", "update"]}
    w = work_exercise(load_text(_quote(spec), "g.yaml"))
    check_graph(w, spec)


def test_an_elu_alpha_that_is_a_parameter_gets_its_gradient():
    """∂/∂α elu(u, α) = e^u − 1 for u ≤ 0: L = elu(u, s)², u = −1, s = 1/2 →
    ∂L/∂s = 2·elu·(e^(−1) − 1) = (e^(−1) − 1)²."""
    spec = {"id": "g", "kind": "graph", "inputs": {"x": 2}, "params": {"a": 1, "s": "0.5"},
            "nodes": {"u": "a*x - 3", "L": "elu(u, s)**2"}, "loss": "L"}
    w = work_exercise(load_text(_quote(spec), "g.yaml"))
    check_graph(w, spec)
    assert sp.simplify(w.step("ds").value - (sp.exp(-1) - 1) ** 2) == 0
