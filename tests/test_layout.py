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
    # the SymPy functions (relu, sigmoid, …) the answer grammar and the engine both know, and
    # certified signs and digits of exact values (numeric, over interval arithmetic)
    "math": ["functions", "numeric", "interval"],
    "input": ["errors", "yamlio", "expr", "tensorexpr", "exercise", "sheets", "roster", "catalog"],
    "engine": ["limits", "budget", "cause", "formula", "graph", "rules", "tensors",
               "solve", "steps", "equivalence", "tolerance", "worked"],
    # core, the front door, works an exercise: its variant drawn (variants, fresh), then solved
    "judging": ["compare", "grade", "misconceptions", "variants", "fresh", "core",
                "mastery", "recipe"],
    "words": ["words", "words.notation", "words.misconceptions", "words.mastery",
              "words.problems", "render"],
    "front": ["cli", "practice", "screen", "check", "feedback", "show", "draw", "writeup",
              "scaffold", "export",
              "progress", "adapt", "drawcache",
              "validate", "answertests", "template", "course", "__main__", "schema",
              "__init__"],
}

# The imports that go up a layer (issue 11 removed the last of them): none. The engine and
# judging return values — Causes, Formulas, Reasons, ZeroMisses, Diagnoses, Unmet
# conditions — and tutor.words makes every sentence from them. A new upward import fails
# the test below; if one is ever unavoidable, list it here with the reason.
UPWARD: set[tuple[str, str]] = set()


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
    # tutor.tensors evaluates the operations *inside* one tensor node (its ops table); only
    # the node's own rule, rules.tensor_forward, calls it
    assert calls == {"rules.py", "tensors.py"}
    inside = {p.name for p in PKG.glob("*.py")
              if re.search(r"\bimport (?:.*\b)?forward\b", p.read_text(encoding="utf-8"))
              and "tutor.tensors" in p.read_text(encoding="utf-8")}
    assert inside == {"rules.py"}
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
