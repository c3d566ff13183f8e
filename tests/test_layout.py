"""The package's layout (issue 11): no import cycle among tutor's modules, function-local
imports counted — a cycle hidden behind an import inside a function is still a cycle."""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "tutor"


def imports() -> dict[str, set[str]]:
    """module → the tutor modules it imports anywhere in its text (top level or inside a
    function), as dotted names relative to the package ("grade", "words.zero")."""
    mods = {".".join(p.relative_to(PKG).with_suffix("").parts): p for p in PKG.rglob("*.py")}
    mods = {m.removesuffix(".__init__"): p for m, p in mods.items()}
    out: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "tutor":
                    targets = [a.name for a in node.names]
                elif node.module.startswith("tutor."):
                    base = node.module[len("tutor."):]
                    targets = [base] + [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name[len("tutor."):] for a in node.names
                           if a.name.startswith("tutor.")]
            for t in targets:
                if t in mods and t != name:
                    out[name].add(t)
        out.setdefault(name, set())
    return dict(out)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_hidden_in_a_function():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_is_read_with_function_local_imports():
    g = imports()
    assert "misconceptions" in g["grade"]  # imported inside grade.grade()
    assert "variants" in g["core"]  # imported inside core.work()


def test_no_import_cycle_among_tutors_modules():
    assert cycles(imports()) == []


# ─── layers (docs/architecture.md): arrows point down the data flow ──────────────────────
LAYERS = {
    "input": ["errors", "yamlio", "expr", "exercise", "sheets", "roster", "catalog"],
    "engine": ["functions", "numeric", "interval", "limits", "budget", "cause", "formula", "graph",
               "rules",
               "solve", "steps", "core", "worked"],
    "judging": ["compare", "grade", "misconceptions", "variants", "fresh"],
    "words": ["words", "words.notation", "render"],
    "front": ["cli", "practice", "screen", "check", "show", "draw", "writeup", "scaffold",
              "progress",
              "validate", "template", "__main__", "schema", "__init__"],
}

# The imports that still go up a layer today (issue 11 is removing them). Formulas are
# trees (tutor/formula.py) and a step's meaning is a tree too (steps.Meaning), so the engine
# makes no text but one kind: the numbers in a Trouble refusal (rules → render.fmt).
# Judging still words its own results in places: misconception names and explanations,
# grade's zero-cause lines, variant conditions' subjects.
UPWARD = {
    ("compare", "render"), ("core", "fresh"), ("core", "variants"), ("exercise", "functions"),
    ("expr", "functions"), ("expr", "words"), ("grade", "render"), ("grade", "words"),
    ("misconceptions", "render"), ("misconceptions", "words"),
    ("misconceptions", "words.notation"), ("rules", "render"), ("variants", "render"),
    ("variants", "words.notation"), ("worked", "compare"),
}


def test_every_module_has_a_layer():
    placed = {m for ms in LAYERS.values() for m in ms}
    assert set(imports()) | {m for ts in imports().values() for m in ts} <= placed


def test_no_new_import_goes_up_a_layer_and_the_known_ones_only_shrink():
    order = list(LAYERS)
    layer = {m: order.index(k) for k, ms in LAYERS.items() for m in ms}
    up = {(m, t) for m, ts in imports().items() for t in ts
          if t in layer and m in layer and layer[t] > layer[m]}
    assert up - UPWARD == set(), "a new import goes up a layer (docs/architecture.md)"
    assert UPWARD - up == set(), "an upward import is gone: remove it from UPWARD"


def test_one_evaluator_every_forward_goes_through_rules_evaluate():
    """Solving, grading from a student's numbers, diagnosis and variant drawing evaluate a
    node by tutor.rules.evaluate only: no other module calls a rule's forward itself."""
    import re

    calls = {p.name for p in PKG.glob("*.py")
             if re.search(r"\]\.forward\(|\brule\.forward\(", p.read_text(encoding="utf-8"))}
    assert calls == {"rules.py"}
    users = {p.name for p in PKG.glob("*.py") if "evaluate(" in p.read_text(encoding="utf-8")}
    assert {"solve.py", "grade.py", "misconceptions.py", "variants.py"} <= users


def test_the_activation_names_agree_with_the_rules_table():
    """exercise.ACTIVATIONS (what a layer may say) is the rules table's activations plus
    softmax (a rule of its own), and each is a function of the graph grammar too."""
    from tutor.exercise import ACTIVATIONS as NAMES
    from tutor.functions import FUNCTIONS
    from tutor.rules import ACTIVATIONS

    assert set(NAMES) == set(ACTIVATIONS) | {"softmax"}
    assert set(ACTIVATIONS) - {"identity"} <= set(FUNCTIONS)
