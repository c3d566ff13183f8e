"""``tutor show``: the exercise drawn with its values (and gradients), in the terminal or as
Graphviz DOT. Display only: every number is read from the Solution.

    text   tutor.draw.drawing (the look of seed 000: every node with val= and grad=)
    dot    digraph: one box per quantity (params as boxes, data as ellipses, the loss as a
           double octagon), edges parent → child; with gradients, ReLU gates labelled
           with ReLU′ as the backward pass used it — pipe into `dot -Tsvg`.
"""
from __future__ import annotations

from typing import Any

from tutor.render import fmt

SHAPES = {"param": "box", "input": "ellipse", "const": "note", "loss": "doubleoctagon"}


def show(worked, grads: bool = False, fmt: str = "text", it: int = 1, console=None) -> None:
    from tutor.errors import UsageError

    n = worked.solution.n_iterations
    if not 1 <= it <= n:
        raise UsageError(f"--iteration must be between 1 and {n}")
    if fmt == "dot":
        text = to_dot(worked, grads=grads, it=it)
        if console is None:
            print(text, end="")
        else:
            console.file.write(text)
        return
    from tutor.draw import drawing

    if console is None:
        from rich.console import Console

        console = Console(highlight=False)
    from tutor import words

    if words.variant(worked):  # which numbers these are, above them
        from rich.text import Text

        console.print(Text(f"{worked.id}: {words.variant(worked)}", style="dim"))
    console.print(drawing(worked, grads=grads, it=it))


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _what(g, node) -> str:
    """The operation of a node, in the notation of the steps."""
    if node.op == "expr":
        from tutor.words.notation import pretty

        return f"{node.name} = {pretty(node.attrs['expr'])}"
    if node.op == "affine":
        w, x, b = node.parents
        return f"{node.name} = {w} {x} + {b}" if g.layout == "column" else \
            f"{node.name} = {x} {w} + {b}"
    if node.op == "act":
        return f"{node.name} = {node.attrs['fn']}({node.parents[0]})"
    if node.op == "loss":
        return f"L = {node.attrs['fn']}(ŷ, y)"
    if node.op == "tensor":
        from tutor.words.notation import written

        return f"{node.name} = {written(node)}"
    return node.name


def _get(sol, it: int, kind: str, name: str) -> Any:
    q = sol.quantities.get((it, kind, name))
    return None if q is None else q.value


def _gate(sol, it: int, parent: str, child) -> str:
    """'ReLU′ = 0' on the edge z → relu(z): the local factor the backward pass used
    (read from the chain-rule term the ReLU sent back to z)."""
    from tutor.functions import relu

    is_relu = (child.op == "act" and child.attrs.get("fn") == "relu") or (
        child.op == "expr" and isinstance(child.attrs["expr"], relu)
        and str(child.attrs["expr"].args[0]) == parent)
    q = sol.quantities.get((it, "grad", parent))
    if not is_relu or q is None:
        return ""
    for t in q.terms:
        ops = t.formula.operands()  # ∂L/∂h ⊙ ReLU′(z): the mask is the second operand
        if t.source == child.name and len(ops) == 2:
            return f"ReLU′ = {fmt(ops[1].value)}"
    return ""


def _is_matrix(v: Any) -> bool:
    return hasattr(v, "shape") and v.rows > 1 and v.cols > 1


def _html_label(title: str, values: list[tuple[str, Any]]) -> str:
    """A node carrying a matrix: its title, then each value as a small table of its entries
    (one row of the matrix a row of the table), so that a batch stays narrow."""
    from html import escape

    from tutor.render import shape_text

    cols = max(v.cols if _is_matrix(v) else 1 for _, v in values)
    shape = next(shape_text(v) for _, v in values)
    out = [f'<TR><TD COLSPAN="{cols + 1}"><B>{escape(title)}</B>  {escape(shape)}</TD></TR>']
    for k, v in values:
        rows = v.tolist() if _is_matrix(v) else [[v]]
        for i, r in enumerate(rows):
            head = f'<TD ALIGN="LEFT">{k} =</TD>' if i == 0 else "<TD></TD>"
            cells = "".join(f'<TD ALIGN="RIGHT">{escape(fmt(e))} </TD>' for e in r) if \
                _is_matrix(v) else f'<TD COLSPAN="{cols}" ALIGN="LEFT">{escape(fmt(v))}</TD>'
            out.append(f"<TR>{head}{cells}</TR>")
    return '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2">' + "".join(out) + "</TABLE>>"


def to_dot(worked, grads: bool = False, it: int = 1) -> str:
    """The graph as Graphviz DOT (deterministic: nodes in topological order)."""
    g, sol = worked.graph, worked.solution
    title = worked.exercise.spec.title or worked.id
    if sol.n_iterations > 1:
        title += f" — iteration {it}"
    if worked.seed is not None:
        from tutor import words

        title += f" — {words.variant(worked)}"
    lines = [f"digraph {_quote(worked.id)} {{",
             "  rankdir=TB;",  # top-down: a long chain grows down the page, not across it
             f"  label={_quote(title)}; labelloc=t; fontname=\"Helvetica\";",
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node in g.nodes.values():
        values = [("val", _get(sol, it, "value", node.name))]
        if grads:
            if node.op != "const":  # a constant's gradient is never asked
                values.append(("grad", _get(sol, it, "grad", node.name)))
            values.append(("new", _get(sol, it, "new", node.name)))
        values = [(k, v) for k, v in values if v is not None]
        if any(_is_matrix(v) for _, v in values):
            label = _html_label(_what(g, node), values)
        else:
            label = _quote("\n".join([_what(g, node)] + [f"{k} = {fmt(v)}" for k, v in values]))
        shape = "doubleoctagon" if node.name == g.loss else SHAPES.get(node.op, "ellipse")
        style = ', style=filled, fillcolor="#eef5ff"' if node.op == "param" else ""
        if label.startswith("<") and shape == "ellipse":  # a matrix: a rounded box, not a
            shape, style = "box", ", style=rounded"      # wide ellipse round its table
        lines.append(f"  {_quote(node.name)} [label={label}, shape={shape}{style}];")
    for node in g.nodes.values():
        for p in dict.fromkeys(node.parents):
            gate = _gate(sol, it, p, node) if grads else ""
            attr = f" [label={_quote(gate)}]" if gate else ""
            lines.append(f"  {_quote(p)} -> {_quote(node.name)}{attr};")
    lines.append("}")
    return "\n".join(lines) + "\n"
