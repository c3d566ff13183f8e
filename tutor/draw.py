"""The exercise drawn in the terminal, with its numbers: display only, every value read
from the Solution (nothing recomputed).

    network   one column per layer, one row per unit: z, h (ŷ at the output) and, once
              earned, ∂L/∂h and δ = ∂L/∂z; below, each layer's W and b (and ∂W, ∂b, the update)
    graph     the DAG of seed 000: every node with what it computes, the names it takes
              (← a, x, b), the nodes it feeds (→ h, v), val= and grad=, in topological order;
              inputs, params (with their grads) and constants, each with the nodes it feeds
    tensor    a graph of vectors and matrices: a card per quantity (name = expression, shape,
              val and grad, a matrix drawn as one), in data-flow order, in rows of 80 columns

``revealed``: the step ids whose values are shown so far (None: everything known);
values the exercise does not ask for are given data and always shown. ``current``: the
step being asked, drawn as "▶ ?" (and highlighted). ``grads``: show gradients too.
Fits 80 columns; colours are styles only, so a plain Console (NO_COLOR, not a TTY) still
shows every mark.
"""
from __future__ import annotations

from typing import Any, Collection

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutor.render import fmt, scalar_text

CURRENT = "bold black on yellow"
CURRENT_MARK = "▶ ?"  # where the step being asked is drawn
GRAD = "magenta"
VALUE = "green"


class _View:
    """Which quantities of iteration ``it`` are shown, and how."""

    def __init__(self, worked, revealed, current, grads, it):
        from tutor.steps import step_id

        self.sol, self.g, self.it = worked.solution, worked.graph, it
        self.asked = {s.id for s in worked.steps}
        self.revealed = None if revealed is None else set(revealed)
        self.current, self.grads, self._sid = current, grads, step_id
        of = next((getattr(s, "of", None) for s in worked.steps if s.id == current), None)
        if of is not None:  # a formula question (tutor.recipe): its quantity is marked
            self.current = of.id
        # a graph of vectors and matrices: drawn as cards (_cards), its matrices as matrices
        self.tensor = any(n.op == "tensor" for n in self.g.nodes.values())

    def sid(self, kind: str, name: str) -> str:
        return self._sid(self.sol, (self.it, kind, name))

    def has(self, kind: str, name: str) -> bool:
        return (self.it, kind, name) in self.sol.quantities

    def raw(self, kind: str, name: str) -> Any:
        return self.sol.quantities[(self.it, kind, name)].value

    def state(self, kind: str, name: str) -> str:
        """current | shown | hidden | absent"""
        if not self.has(kind, name):
            return "absent"
        sid = self.sid(kind, name)
        if sid == self.current:
            return "current"
        if kind == "value":
            node = self.g.nodes[name]
            if node.is_leaf or self.revealed is None or sid in self.revealed \
                    or sid not in self.asked:
                return "shown"
            return "hidden"
        if self.grads and (self.revealed is None or sid in self.revealed):
            return "shown"
        return "hidden"

    def cell(self, label: str, kind: str, name: str, pick=None, sep: str = " ") -> Text | None:
        """``label value`` (or ``label ▶ ?`` / ``label …``); None when there is no such value."""
        st = self.state(kind, name)
        if st == "absent" or (st == "hidden" and kind != "value"):
            return None
        t = Text(f"{label}{sep}")
        if st == "current":
            t.append(CURRENT_MARK, style=CURRENT)
        elif st == "hidden":
            t.append("…", style="dim")
        else:
            v = self.raw(kind, name)
            shown = pick(v) if pick else fmt(v)
            t.append(shown, style=VALUE if kind == "value" else GRAD)
        return t


def drawing(worked, revealed: Collection[str] | None = None, current: str | None = None,
            grads: bool = False, it: int = 1) -> RenderableType:
    """The network (layers as columns of units) or the graph (the annotated DAG)."""
    view = _View(worked, revealed, current, grads, it)
    if worked.graph.kind == "network":
        return _network(view)
    if view.tensor:
        return _cards(view)
    return _graph(view)


# ─── network ──────────────────────────────────────────────────────────────────────────
def _unit(view: _View, v: Any, i: int) -> str:
    """Unit i of a layer value: row i (column layout) or column i (row layout), per example."""
    vals = v.row(i) if view.g.layout == "column" else v.col(i)
    if len(vals) == 1:
        return scalar_text(vals[0])
    return "[" + ", ".join(scalar_text(e) for e in vals) + "]"


def _width(view: _View, name: str) -> int:
    v = view.raw("value", name)
    return v.rows if view.g.layout == "column" else v.cols


def _network(view: _View) -> RenderableType:
    g = view.g
    n = g.n_layers
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False,
                  header_style="bold")
    cols: list[list[Text]] = []
    table.add_column("input", no_wrap=True)
    cols.append(_units(view, "x", None, [("x", "value", "x"), ("∂x", "grad", "x")]))
    from tutor.rules import act_param

    for l in range(1, n + 1):
        out = "yhat" if l == n else f"h{l}"
        fn = g.nodes[out].attrs["fn"]
        a = act_param(g.nodes[out])  # a leaky ReLU's slope, ELU's α
        if a is not None:
            fn = f"{fn}, α = {fmt(a)}"
        title = f"layer {l} · {fn}" if l < n else f"output · {fn}"
        table.add_column(title, no_wrap=True)
        cols.append(_units(view, f"z{l}", out,
                           [("z", "value", f"z{l}"), ("ŷ" if l == n else "h", "value", out),
                            ("∂ŷ" if l == n else "∂h", "grad", out), ("δ", "grad", f"z{l}")]))
    for r in range(max(len(c) for c in cols)):
        table.add_row(*[c[r] if r < len(c) else Text("") for c in cols])

    lines: list[Text] = []
    x = view.raw("value", "x")
    batch = x.cols if g.layout == "column" else x.rows
    if batch > 1:
        lines.append(Text(f"each unit shows [example 1, …, example {batch}]", style="dim"))
    loss = Text("loss ")
    loss.append(f"L = {g.nodes['L'].attrs['fn']}(ŷ, y)", style="bold")
    cell = view.cell(" =", "value", "L")
    if cell is not None:
        loss.append_text(cell)
    loss.append(f"   y = {fmt(view.raw('value', 'y'))}")
    if g.learning_rate is not None:
        loss.append(f"   η = {fmt(g.learning_rate)}")
    lines.append(loss)
    for l in range(1, n + 1):
        for p in (f"W{l}", f"b{l}"):
            t = Text(f"{p} = ", style="bold")
            t.append(fmt(view.raw("value", p)))
            lines.append(t)
            for label, kind in ((f"   ∂L/∂{p} =", "grad"), (f"   {p}′ =", "new")):
                c = view.cell(label, kind, p)
                if c is not None:
                    lines.append(c)
    return Group(table, Text(""), *lines, *_convention(g))


def _units(view: _View, z: str, out: str | None, rows: list[tuple[str, str, str]]) -> list[Text]:
    """One cell per unit of a layer: its z, h, ∂h, δ lines (those that exist and show)."""
    width = _width(view, z)
    cells = []
    for i in range(width):
        lines = [c for label, kind, name in rows
                 if (c := view.cell(label, kind, name, pick=lambda v, i=i: _unit(view, v, i)))
                 is not None]
        cells.append(_stack(i, lines))
    return cells


def _stack(i: int, lines: list[Text]) -> Text:
    t = Text(f"[{i + 1}] ", style="dim")
    for k, c in enumerate(lines):
        if k:
            t.append("\n    ")
        t.append_text(c)
    return t


# ─── graph ────────────────────────────────────────────────────────────────────────────
def _graph(view: _View) -> RenderableType:
    """One row per node: what it computes, the names it takes (← …) and the nodes it feeds
    (→ …), so every edge is written at both of its ends and a merge (a name feeding two
    nodes, a node taking two) is visible; then the leaves, each with the nodes it feeds."""
    from tutor.words.notation import written

    g = view.g
    feeds = _feeds(g)
    table = Table(box=None, pad_edge=False, padding=(0, 2, 0, 0), show_edge=False,
                  header_style="bold")
    table.add_column("node", no_wrap=True, style="bold")
    table.add_column("computes", overflow="fold", max_width=30)
    table.add_column("from", overflow="fold", max_width=16)
    table.add_column("to", overflow="fold", max_width=12)
    table.add_column("val", no_wrap=True)
    table.add_column("grad", no_wrap=True)
    for node in g.nodes.values():
        if node.is_leaf:
            continue
        to = ("→ " + ", ".join(feeds[node.name]) if feeds[node.name]
              else "(the loss)" if node.name == g.loss else "→ nothing")
        table.add_row(node.name, Text(written(node)),
                      Text("← " + ", ".join(node.parents), style="cyan"),
                      Text(to, style="cyan"),
                      _val(view, "value", node.name, "val="),
                      _val(view, "grad", node.name, "grad="))
    leaves = []
    for title, op in (("inputs", "input"), ("params", "param"), ("constants", "const")):
        names = [n.name for n in g.nodes.values() if n.op == op]
        if not names:
            continue
        items = []
        for name in names:
            t = Text(f"{name}={fmt(view.raw('value', name))}")
            for label, kind in ((" grad=", "grad"), (" new=", "new")):
                c = view.cell(label, kind, name, sep="")
                if c is not None and op != "const":
                    t.append_text(c)
            t.append(" → " + (", ".join(feeds[name]) or "nothing"), style="cyan")
            items.append(t)
        leaves += _flow(Text(f"{title}:", style="bold"), items)
    extra = []
    if g.learning_rate is not None:
        extra.append(Text(f"η = {fmt(g.learning_rate)}"))
    extra += _convention(g)
    return Group(table, Text(""), *leaves, *extra)


# ─── tensor graph ─────────────────────────────────────────────────────────────────────
WIDTH = 78  # the drawing's width: 80 columns less a margin


def _cards(view: _View) -> RenderableType:
    """A graph of vectors and matrices: one card per quantity, its name, what it computes and
    its shape above its value (a matrix drawn as a small matrix, ⎡ ⎤), then its gradient;
    cards in data-flow order (each leaf just before the first node that takes it), as many
    to a row as fit in 80 columns, a long chain wrapping onto the next row; "→" between two
    cards where the left one feeds the right one."""
    g = view.g
    order: list[str] = []
    for node in g.nodes.values():
        if node.is_leaf:
            continue
        order += [p for p in dict.fromkeys(node.parents)
                  if g.nodes[p].is_leaf and p not in order]
        order.append(node.name)
    cards = [(name, _card(view, g.nodes[name])) for name in order]
    rows: list[list[tuple[str, list[Text]]]] = [[]]
    used = 0
    for name, card in cards:
        w = max(t.cell_len for t in card)
        if rows[-1] and used + 3 + w > WIDTH:
            rows.append([])
            used = 0
        used += (3 if rows[-1] else 0) + w
        rows[-1].append((name, card))
    out: list[RenderableType] = []
    for k, row in enumerate(rows):
        if k:
            out.append(Text(""))
        out += _side_by_side(g, row)
    extra = [Text("")]
    if g.learning_rate is not None:
        extra.append(Text(f"η = {fmt(g.learning_rate)}"))
    extra += _convention(g)
    return Group(*out, *(extra if len(extra) > 1 else []))


def _side_by_side(g, row: list[tuple[str, list[Text]]]) -> list[Text]:
    height = max(len(card) for _, card in row)
    widths = [max(t.cell_len for t in card) for _, card in row]
    lines = []
    for i in range(height):
        line = Text()
        for k, (name, card) in enumerate(row):
            if k:
                feeds = row[k - 1][0] in g.nodes[name].parents
                line.append(" → " if i == 0 and feeds else "   ", style="cyan")
            t = card[i] if i < len(card) else Text("")
            line.append_text(t)
            if k < len(row) - 1:
                line.append(" " * (widths[k] - t.cell_len))
        lines.append(line)
    return lines


def _card(view: _View, node) -> list[Text]:
    """name = expression, its shape; val, grad (and new, for a param), each as earned."""
    from tutor.render import shape_text
    from tutor.words.notation import written

    v = view.raw("value", node.name)
    shape = shape_text(v)  # scalar, 2×4, vector of 3: a 3-vector
    if shape.startswith("vector of "):
        shape = shape.removeprefix("vector of ") + "-vector"
    head = Text(node.name, style="bold")
    if node.is_leaf:
        head.append(f" {dict(input='input', param='param', const='const')[node.op]}",
                    style="dim")
    else:
        head.append(f" = {written(node)}")
    head.append(f"  {shape}", style="dim")
    lines = _fold(head)
    kinds = [("val ", "value"), ("grad", "grad"), ("new ", "new")]  # one width: aligned
    for label, kind in kinds:
        if kind != "value" and node.op == "const":
            continue
        st = view.state(kind, node.name)
        if st == "absent" or (st == "hidden" and kind != "value"):
            continue
        if st == "current":
            t = Text(f"{label} ")
            t.append(CURRENT_MARK, style=CURRENT)
            lines.append(t)
        elif st == "hidden":
            lines.append(Text(f"{label} ") + Text("…", style="dim"))
        else:
            lines += _matrix(label, view.raw(kind, node.name),
                             VALUE if kind == "value" else GRAD)
    return lines


def _fold(t: Text) -> list[Text]:
    """A header wider than the drawing, cut into lines (continuations indented)."""
    if t.cell_len <= WIDTH:
        return [t]
    parts = [t[:WIDTH]]
    rest = t[WIDTH:]
    while rest.cell_len:
        parts.append(Text("  ") + rest[:WIDTH - 2])
        rest = rest[WIDTH - 2:]
    return parts


def _matrix(label: str, v: Any, style: str) -> list[Text]:
    """``label`` and the value: a scalar or a vector on one line ([1.5, -1]), a matrix as a
    small matrix, its columns aligned::

        val ⎡1.5  1.5  0.5   1.5⎤
            ⎣0.5  1.5  0.5  -0.5⎦

    (a matrix too wide for the drawing is named by its shape: its numbers are in the step)."""
    rows = v.tolist() if getattr(v, "shape", None) and v.rows > 1 and v.cols > 1 else None
    if rows is None:
        return [Text(f"{label} ") + Text(fmt(v), style=style)]
    cells = [[fmt(e) for e in r] for r in rows]
    widths = [max(len(r[j]) for r in cells) for j in range(len(cells[0]))]
    body = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    if len(label) + 3 + len(body[0]) > WIDTH:
        return [Text(f"{label} ") + Text(f"{v.rows}×{v.cols} matrix", style=style)]
    n = len(body)
    out = []
    for i, b in enumerate(body):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == n - 1 else ("⎢", "⎥")
        t = Text(f"{label} " if i == 0 else " " * (len(label) + 1))
        t.append(left + b + right, style=style)
        out.append(t)
    return out


def _convention(g) -> list[Text]:
    """The ReLU′(0) convention, under every drawing where a ReLU is (a layer's activation,
    or relu(…) inside a node's expression); the max-pool tie convention where the exercise
    states it (a tie it has: conventions.maxpool_tie)."""
    from tutor.functions import relu

    if any(n.op == "act" and n.attrs.get("fn") == "relu" or
           n.op == "expr" and n.attrs["expr"].atoms(relu) or
           n.op == "tensor" and "relu" in n.attrs["tree"].ops() for n in g.nodes.values()):
        out = [Text(f"z = 0 convention: ReLU′(0) = {g.relu_prime_at_zero}", style="dim")]
    else:
        out = []
    if g.maxpool_tie and any(n.op == "tensor" and "maxpool" in n.attrs["tree"].ops()
                             for n in g.nodes.values()):
        out.append(Text("tie in a max pool: the first largest entry, row by row, gets the "
                        "gradient", style="dim"))
    return out


def _feeds(g) -> dict[str, list[str]]:
    """name → the nodes that take it, in topological order (the edges, from their tail)."""
    out: dict[str, list[str]] = {n: [] for n in g.nodes}
    for node in g.nodes.values():
        for p in dict.fromkeys(node.parents):
            out[p].append(node.name)
    return out


def _flow(head: Text, items: list[Text], width: int = 78) -> list[Text]:
    """``head item   item   item`` wrapped between items, continuation lines indented."""
    lines, line = [], head.copy()
    for item in items:
        if line.cell_len + 3 + item.cell_len > width and line.cell_len > len(head.plain) + 2:
            lines.append(line)
            line = Text(" " * len(head.plain))
        line.append("   ")
        line.append_text(item)
    return lines + [line]


def _val(view: _View, kind: str, name: str, label: str) -> Text:
    c = view.cell(label, kind, name, sep="")
    return Text("") if c is None else c
