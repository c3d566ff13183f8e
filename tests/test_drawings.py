"""Issue 13, item 6: drawings that stay readable. `tutor show` draws a graph of vectors and
matrices as cards (small matrices with their shapes) in rows that fit 80 columns; `--format
dot` is laid out top-down by Graphviz (Debian's graphviz package, which .ci/run installs)
under 1,600 px wide for every bundled exercise, gradients and all."""
from __future__ import annotations

import re
import shutil
import subprocess
from io import StringIO

import pytest
from rich.console import Console
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.cli import app
from tutor.core import work, work_exercise
from tutor.draw import CURRENT_MARK, drawing
from tutor.exercise import load, load_text

BUNDLED = [e.id for e in bundled()]
TENSOR = [e.id for e in bundled() if load(e.path).tensor]
DOT = shutil.which("dot") or "/usr/bin/dot"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def drawn(w, width: int = 80, **kw) -> str:
    out = StringIO()
    Console(file=out, width=width, no_color=True, highlight=False).print(drawing(w, **kw))
    return out.getvalue()


def px_wide(dot_text: str) -> float:
    """The width Graphviz lays the graph out at, in pixels at its 96 dpi (1 pt = 4/3 px)."""
    if not shutil.which(DOT):
        pytest.fail(f"{DOT} is missing: install Debian's graphviz package "
                    "(apt-get install -y graphviz; .ci/run does) to lay out the DOT")
    svg = subprocess.run([DOT, "-Tsvg"], input=dot_text, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1)) * 4 / 3


@pytest.mark.parametrize("ex", BUNDLED)
def test_every_bundled_dot_is_top_down_and_under_1600_px_wide(ex):
    w = work(ex)
    for it in range(1, w.solution.n_iterations + 1):
        for grads in ([], ["--grads"]):
            r = run("show", ex, "--format", "dot", "--iteration", it, *grads)
            assert r.exit_code == 0, r.output
            assert "  rankdir=TB;" in r.stdout
            assert px_wide(r.stdout) < 1600, (ex, it, grads)


def test_a_matrix_in_dot_is_a_table_of_its_entries_one_row_a_row():
    out = run("show", "batchnorm-ninja", "--grads", "--format", "dot").stdout
    h = next(line for line in out.splitlines() if line.startswith('  "h" ['))
    assert "<B>h = W1 @ X + b1</B>  2×4" in h
    assert h.count("<TR>") == 1 + 2 + 2  # the title, the value's 2 rows, the gradient's 2
    assert ('<TR><TD ALIGN="LEFT">val =</TD><TD ALIGN="RIGHT">1.5 </TD><TD ALIGN="RIGHT">1.5 '
            '</TD><TD ALIGN="RIGHT">0.5 </TD><TD ALIGN="RIGHT">1.5 </TD></TR>') in h
    assert "shape=box, style=rounded" in h  # a rounded box round the table, not an ellipse
    # a vector stays one line of a plain label
    assert '  "mu" [label="mu = mean(h, axis=1)\\nval = [1.25, 0.5]\\ngrad = [0.2149, -0.3097]"' \
        in out


@pytest.mark.parametrize("ex", TENSOR)
def test_every_bundled_tensor_drawing_fits_80_columns_with_its_matrices_drawn(ex):
    text = drawn(work(ex), grads=True)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80, ex
    assert "matrix" not in text, ex  # every matrix drawn, none only named by its shape
    w = work(ex)
    for node in w.graph.nodes.values():
        v = w.solution.quantities[(1, "value", node.name)].value
        if getattr(v, "shape", (1, 1))[0] > 1 and v.cols > 1:
            assert f"{v.rows}×{v.cols}" in text, (ex, node.name)


def test_a_conv_map_is_drawn_as_a_small_matrix_with_its_shape():
    text = drawn(work("conv2d-maxpool"), grads=True)
    assert "c = conv2d(X, k)  4×4" in text
    for row in ("val  ⎡ 1.5   5.5  -0.5   -2⎤", "     ⎢  -2     1   3.5  0.5⎥",
                "     ⎣-0.5  -2.5  -0.5  2.5⎦", "grad ⎡0  0.5    0    0⎤"):
        assert row in text, row
    # c feeds r, r feeds p: drawn side by side, joined by arrows
    assert re.search(r"c = conv2d\(X, k\)  4×4 +→ r = relu\(c\)  4×4 +→ p = maxpool\(r\)", text)
    assert "z = 0 convention: ReLU′(0) = 0" in text


CHAIN = "".join(f"  h{k}: relu(W @ {'x' if k == 1 else f'h{k - 1}'})\n" for k in range(1, 9))


def test_a_long_chain_wraps_onto_rows_of_80_columns():
    w = work_exercise(load_text(
        "id: chain\ntitle: chain\nkind: graph\ninputs:\n  x: [1, 2]\nparams:\n"
        f"  W: [[1, -0.5], [0.5, 1]]\nnodes:\n{CHAIN}  L: sum(h8)\nloss: L\n", "chain.yaml"))
    text = drawn(w, grads=True)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    heads = [line for line in lines if re.search(r"h\d = relu", line)]
    assert len(heads) >= 3  # eight nodes do not fit on one row: the chain wraps
    assert all(" → " in line for line in heads[1:])  # and each row flows left to right
    order = [int(m) for line in heads for m in re.findall(r"h(\d) = relu", line)]
    assert order == list(range(1, 9))  # in data-flow order


def test_the_practice_drawing_of_a_tensor_graph_marks_the_step_and_hides_the_rest():
    w = work("affine-relu-vector")
    first = w.steps[0]
    text = drawn(w, revealed=[], current=first.id, grads=True)
    assert first.id == "z" and text.count(CURRENT_MARK) == 1
    assert re.search(rf"z = W @ x \+ b  2-vector.*\n.*val  {CURRENT_MARK}", text)
    assert "val  …" in text  # a, L: not yet earned
    assert "[1.5, -1]" not in text and "grad" not in text  # no value or gradient given away
    later = drawn(w, revealed=[s.id for s in w.steps[:2]], current=w.steps[2].id, grads=True)
    assert "val  [1.5, -1]" in later  # earned values fill in
    assert "val  ⎡  1  -2  0.5⎤" in later  # the given W, as a matrix
