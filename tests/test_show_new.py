"""`tutor new` (a skeleton that validates and solves as is), `tutor show` (terminal and DOT)
and the Markdown solution key of `tutor solve --format markdown`."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from tutor.cli import app
from tutor.words import zeros
from tutor.core import work
from tutor.validate import validate_file


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("kind", ["network", "graph"])
def test_new_writes_a_commented_skeleton_that_validates_and_solves(tmp_path, kind):
    r = run("new", "my-ex", "--kind", kind, "--dir", tmp_path)
    assert r.exit_code == 0, r.output
    path = tmp_path / "my-ex.yaml"
    text = path.read_text(encoding="utf-8")
    # a relative path (no machine-specific file:///… address), with the schema beside it
    assert text.splitlines()[0] == "# yaml-language-server: $schema=exercise.schema.json"
    assert "file://" not in text and str(tmp_path) not in text
    from tutor.scaffold import schema_text

    assert (tmp_path / "exercise.schema.json").read_text(encoding="utf-8") == schema_text()
    assert "created " + str(tmp_path / "exercise.schema.json") in r.output
    assert "id: my-ex\n" in text and f"kind: {kind}\n" in text
    assert [p.text() for p in validate_file(path)] == []
    w = work(path)
    assert w.steps and w.id == "my-ex"
    assert run("solve", path).exit_code == 0
    # the commented variants example works once uncommented
    lines = [ln[2:] if ln.startswith(("# variants:", "#   ")) else ln for ln in text.splitlines()]
    live = tmp_path / "with-variants.yaml"
    live.write_text("\n".join(lines).replace("id: my-ex", "id: my-ex-v") + "\n", encoding="utf-8")
    assert "\nvariants:\n" in live.read_text(encoding="utf-8")
    assert [p.text() for p in validate_file(live)] == []
    assert run("solve", live, "--seed", 3).exit_code == 0


def test_new_keeps_an_existing_schema_file_beside_it(tmp_path):
    mine = tmp_path / "exercise.schema.json"
    mine.write_text("{}", encoding="utf-8")
    r = run("new", "b", "--dir", tmp_path)
    assert r.exit_code == 0 and "exercise.schema.json" not in r.output
    assert mine.read_text(encoding="utf-8") == "{}"  # left alone
    assert (tmp_path / "b.yaml").exists()


def test_new_refuses_to_overwrite_and_bad_names(tmp_path):
    assert run("new", "a", "--dir", tmp_path).exit_code == 0
    r = run("new", "a", "--dir", tmp_path)
    assert r.exit_code == 2 and "exists; pass --force" in r.output
    assert run("new", "a", "--dir", tmp_path, "--force").exit_code == 0
    r = run("new", "no good", "--dir", tmp_path)
    assert r.exit_code == 2 and "not a valid exercise id" in r.output


def test_the_network_skeleton_has_a_dead_unit_so_the_relu_mask_matters():
    from tutor.scaffold import skeleton
    from tutor.exercise import load_text
    from tutor.core import work_exercise

    w = work_exercise(load_text(skeleton("s", "network", schema="x.json"), "s.yaml"))
    assert [str(v) for v in w.solution.value("z1")] == ["3/10", "-1/10"]
    assert "dead ReLU" in zeros(w.step("delta1"))[(1, 0)]


def test_show_draws_the_dag_with_values_and_gradients():
    r = run("show", "dag-two-relu-gates", "--grads")
    assert r.exit_code == 0
    assert "val=-1" in r.stdout and "grad=0" in r.stdout and "grad=-2" in r.stdout
    plain = run("show", "dag-two-relu-gates")
    assert "val=-1" in plain.stdout and "grad=" not in plain.stdout


def _edges_drawn(text: str) -> tuple[set, set]:
    """The edges a graph drawing names: at their head (a node's "← a, x" column) and at
    their tail (a node's "→ h, v" column, a leaf's "a=1 … → u, R")."""
    import re

    into, out_of = set(), set()
    for line in text.splitlines():
        row = re.match(r"^(\w+)\s{2,}.*?← ([\w, ]+?)\s{2,}(?:→ ([\w, ]+?)|\(the loss\))\s{2,}val=",
                       line)
        if row:
            name, parents, consumers = row.groups()
            into |= {(p, name) for p in parents.split(", ")}
            out_of |= {(name, c) for c in (consumers or "").split(", ") if c}
            continue
        for leaf, consumers in re.findall(r"(\w+)=\S+(?: grad=\S+)?(?: new=\S+)? → "
                                          r"([\w, ]+?)(?=\s{3}|$)", line):
            out_of |= {(leaf, c) for c in consumers.split(", ")}
    return into, out_of


@pytest.mark.parametrize("ex", ["branch-merge-l2", "merge-sum"])
def test_show_draws_every_edge_of_the_graph_at_both_ends(ex):
    w = work(ex)
    edges = {(p, n.name) for n in w.graph.nodes.values() for p in n.parents}
    for args in ((), ("--grads",)):
        r = run("show", ex, *args)
        assert r.exit_code == 0
        into, out_of = _edges_drawn(r.stdout)
        assert into == edges and out_of == edges
        assert "│" not in r.stdout  # no level separators that look like edges
    text = run("show", ex, "--grads").stdout
    if ex == "branch-merge-l2":  # the merge the exercise is about: u feeds h and v
        assert "u     a·x + b          ← a, x, b       → h, v      val=2       grad=0.1749" \
            in text
        assert "v     c·h + u + d      ← c, h, u, d    → p" in text  # as the author wrote it
        assert "a=1 grad=0.4499 new=0.955 → u, R" in text
    else:  # y is used twice: by u and by v
        assert "y=2 grad=64 → u, v" in text
        assert "L     v^2       ← v     (the loss)" in text


def test_show_dot_is_graphviz_with_values_gradients_and_relu_gates():
    r = run("show", "dag-two-relu-gates", "--grads", "--format", "dot")
    assert r.exit_code == 0
    out = r.stdout
    assert out.startswith('digraph "dag-two-relu-gates" {\n')
    assert ('  "z2" [label="z2 = b2 + w21·x1 + w22·x2\\nval = -1\\ngrad = 0", shape=ellipse];'
            in out)
    assert '  "w21" [label="w21\\nval = 1\\ngrad = 0", shape=box' in out
    assert '  "z1" -> "h1" [label="ReLU′ = 1"];' in out
    assert '  "z2" -> "h2" [label="ReLU′ = 0"];' in out
    assert '  "target" [label="target\\nval = 3", shape=note];' in out
    assert out.rstrip().endswith("}")
    lab = run("show", "lab9-relu-sigmoid-bce", "-g", "-f", "dot").stdout
    assert '"z2" -> "h2" [label="ReLU′ = [1, 0]"];' in lab
    w2 = next(line for line in lab.splitlines() if line.startswith('  "W2" ['))
    cells = re.findall(r'<TD ALIGN="RIGHT">([^<]*) </TD>', w2)  # a matrix: a table of entries
    assert cells == ["0.4", "-0.2", "-0.5", "0.3", "-0.1315", "-0.0219", "0", "0",
                     "0.4132", "-0.1978", "-0.5", "0.3"]
    assert "<B>W2</B>  2×2" in w2 and "new =" in w2 and 'fillcolor="#eef5ff"' in w2


def test_show_picks_a_variant_and_checks_the_iteration():
    a = run("show", "lab9-variants", "-f", "dot", "--seed", "4").stdout
    assert "variant 4" in a
    r = run("show", "branch-merge-l2", "--iteration", "3")
    assert r.exit_code == 2 and "between 1 and 2" in r.output
    assert "iteration 2" in run("show", "branch-merge-l2", "-i", "2", "-f", "dot").stdout


def test_the_markdown_solution_key_uses_the_notation_of_lab_9():
    r = run("solve", "lab9-relu-sigmoid-bce", "--format", "markdown")
    assert r.exit_code == 0
    md = r.stdout
    assert ("$$z^{(2)} = {W^{(2)}} {h^{(1)}} + {b^{(2)}} = {\\begin{bmatrix}0.4 & -0.2 \\\\ -0.5 & 0.3"
            "\\end{bmatrix}} {\\begin{bmatrix}0.6 \\\\ 0.1\\end{bmatrix}} + {\\begin{bmatrix}0.2 \\\\ "
            "0.1\\end{bmatrix}} = \\begin{bmatrix}0.42 \\\\ -0.17\\end{bmatrix}$$") in md
    assert ("$$h^{(2)} = \\mathrm{ReLU}\\left({z^{(2)}}\\right) = "
            "\\mathrm{ReLU}\\left({\\begin{bmatrix}0.42 \\\\ -0.17\\end{bmatrix}}\\right)") in md
    assert ("$$\\delta^{(2)} = \\frac{\\partial \\mathcal{L}}{\\partial z^{(2)}} = "
            "{\\frac{\\partial \\mathcal{L}}{\\partial h^{(2)}}} \\odot {\\mathbf{1}[z^{(2)} > 0]}"
            " = {\\begin{bmatrix}-0.2192 \\\\ 0.1462\\end{bmatrix}} \\odot {\\begin{bmatrix}1 \\\\ 0"
            "\\end{bmatrix}} = \\begin{bmatrix}-0.2192 \\\\ 0\\end{bmatrix}$$") in md
    assert ("\\frac{\\partial \\mathcal{L}}{\\partial W^{(2)}} = {\\delta^{(2)}} \\cdot "
            "{h^{(1)}}^\\top") in md
    assert "= \\begin{bmatrix}-0.1315 & -0.0219 \\\\ 0 & 0\\end{bmatrix}$$" in md
    assert ("$$b^{(3)}_{\\text{new}} = {b^{(3)}} - {\\eta} \\cdot {\\frac{\\partial \\mathcal{L}}"
            "{\\partial b^{(3)}}} = {0.3} - {0.1} \\cdot {(-0.3654)} = 0.3365$$") in md
    assert "- dW2[2,1], dW2[2,2] = 0: no error signal reaches unit 2" in md
    graph = run("solve", "branch-merge-l2", "--format", "markdown").stdout
    assert ("$$\\frac{\\partial J}{\\partial u} = {\\frac{\\partial J}{\\partial v}} + "
            "{\\frac{\\partial J}{\\partial h}} \\cdot {\\frac{\\partial h}{\\partial u}}") in graph
    assert "## Iteration 2" in graph


def test_the_markdown_key_writes_graph_nodes_as_authored_and_in_valid_tex():
    """The numbers stand where the author's symbols stand (not SymPy's reordering), and a
    parameter with a subscript is updated as w_{1,new}, not the double subscript w_{1}_{new}."""
    dag = run("solve", "dag-two-relu-gates", "--format", "markdown").stdout
    assert ("$$z_{1} = {w_{11}}\\cdot{x_{1}} + {w_{12}}\\cdot{x_{2}} + {b_{1}} = "
            "{1}\\cdot{1} + {1}\\cdot{2} + {(-1)} = 2$$") in dag
    graph = run("solve", "branch-merge-l2", "--format", "markdown").stdout
    assert "$$v = {c}\\cdot{h} + {u} + {d} = {1}\\cdot{4} + {2} + {0} = 6$$" in graph
    assert "$$R = {\\lambda}/2\\cdot({a}^2 + {c}^2) = {0.1}/2\\cdot({1}^2 + {1}^2) = 0.1$$" in graph
    res = run("solve", "residual-block", "--format", "markdown").stdout
    assert "$$w_{1,\\text{new}} = {w_{1}} - {\\eta}" in res
    for md in (dag, graph, res):
        assert re.search(r"_\{[^{}]*\}_\{", md) is None  # no double subscript anywhere


def test_solve_json_gives_the_double_nearest_each_exact_value():
    import json

    doc = json.loads(run("solve", "lab9-relu-sigmoid-bce", "--format", "json").stdout)
    z2 = next(s for s in doc["steps"] if s["id"] == "z2")
    assert z2["exact"] == "[21/50, -17/100]" and z2["value"] == [0.42, -0.17]
    assert set(z2) >= {"id", "phase", "skill", "exact", "value", "formula"}


def test_help_shows_no_value_for_a_flag_and_one_line_per_command():
    """`--grads <bool>` read as if `--grads true` were wanted; a flag takes no value."""
    r = CliRunner().invoke(app, ["show", "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "--grads" in r.stdout and "<bool>" not in r.stdout
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout
    assert "<bool>" not in top
    assert "│ solve     The whole worked solution, step by step." in top


def test_each_commands_help_is_wrapped_at_the_terminals_width_not_the_docstrings():
    """The docstrings are wrapped at 90 columns; at 80 Typer's rich mode kept their breaks and
    left a word or two alone on every other line ("…follow-through (right given your own" /
    "earlier answers)…"). Each paragraph is one line for Rich to wrap (tutor.cli._reflowed):
    at 80 columns every line of a paragraph but its last is at least 60 wide."""
    from tutor.cli import app as the_app

    for c in the_app.registered_commands:
        name = c.name or c.callback.__name__.replace("_", "-")
        out = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "80"}).stdout
        head = out.split("╭")[0].splitlines()[3:]  # the description, after the usage line
        for line, after in zip(head, head[1:]):
            if line.strip() and after.strip() and not after.strip().startswith("tutor "):
                assert len(line.rstrip()) >= 60, (name, line)
    out = CliRunner().invoke(app, ["check", "--help"], env={"COLUMNS": "80"}).stdout
    assert "follow-through (right given" in out and "your own earlier answers)" in out


def test_show_draws_the_gradients_once_the_exercise_is_finished(tmp_path, monkeypatch):
    """DESIGN §3: `tutor show` — the graph with values (and gradients once solved)."""
    from tutor.progress import Store

    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    before = run("show", "merge-sum")
    assert before.exit_code == 0 and "grad=" not in before.stdout
    assert not (tmp_path / "home").exists()  # showing creates no progress store
    store = Store()
    store.finish(store.open_attempt("merge-sum", "", None, 5).id, 5)
    after = run("show", "merge-sum")
    assert after.exit_code == 0 and "grad=" in after.stdout
    assert "you have finished this exercise" in after.stderr
    assert "grad=" not in run("show", "merge-sum", "--no-grads").stdout
