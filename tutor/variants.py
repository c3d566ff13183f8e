"""Randomized variants: one exercise, a different version per student, each graded on its own.

    seed ──random.Random(seed)──▶ draws {path: exact value} ──substitute──▶ spec ──▶ Worked
                ▲                                                                      │
    student ────┘ sha256(exercise id, student id)          require: conditions ◀───────┘
                                                           (reject and draw again)

A ``variants:`` block names *where* values are drawn (paths into the file, such as
``layers[0].W[1][0]``, ``input`` or, in a graph, a parameter name ``a``) and *how*
(``{choice: […]}`` or ``{range: [lo, hi], step: s}``); every draw is an exact rational,
never a float. The drawn values replace the author's base values in the parsed YAML *before*
the exercise is validated and compiled, so every error still points at the base value's
``file:line:col``. Rejection sampling draws again — at most ``tries`` times and at most
``TIME_BUDGET`` (5 s) of wall clock, and never past the point where every possible variant
was refused — until the variant meets ``require`` (dead ReLUs, no ReLU input exactly 0,
short decimals, misconceptions distinguishable); the same seed gives the same variant on
every machine (``random.Random`` seeded with an int and ``randrange`` are stable across
Python versions).
"""
from __future__ import annotations

import copy
import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tutor.errors import ExerciseError, InputError, TutorError
from tutor.roster import student_key  # noqa: F401  (how an id picks a variant)

MAX_GRID = 10**6  # values one range may offer
GRID_KEPT = 1000  # a range of up to this many values is listed once, not computed per draw
DRAWABLE = ("input", "target", "layers", "inputs", "params", "constants", "iterations",
            "learning_rate")
_PART = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


class VariantError(ExerciseError):
    """No variant meets the conditions within the allowed number of tries."""


# ─── seeds ───────────────────────────────────────────────────────────────────────────────
def student_seeds(student: str, exercise_id: str) -> tuple[int, ...]:
    """The seeds that are this student's own: ``student_seed``, and — for an id with capitals
    or inner spaces — the seed tutor gave it before ids were normalised (sha256 of the id
    only stripped), so a sheet handed out then is still the student's own."""
    own = student_seed(student, exercise_id)
    old = _seed_of(f"{exercise_id}\n{str(student).strip()}")
    return (own,) if old == own else (own, old)


def _seed_of(text: str) -> int:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 1_000_000_000


def student_seed(student: str, exercise_id: str) -> int:
    """A student id → a seed in [0, 10⁹): sha256 of "exercise id, newline, student id".

    Stable on every machine and Python version (unlike ``hash()``); the exercise id is part
    of it so one student's variants of different exercises are unrelated. The id is
    normalised first (``student_key``): "Alice", " alice " and "ALICE" are alice."""
    return _seed_of(f"{exercise_id}\n{student_key(student)}")


# ─── paths ───────────────────────────────────────────────────────────────────────────────
def parse_path(text: str) -> tuple | None:
    """``layers[0].W[1][0]`` → ("layers", 0, "W", 1, 0); None when it is not a path."""
    out, pos = [], 0
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m or (pos == 0 and text.startswith(".")) or (pos > 0 and m.group(1)
                                                             and text[pos] != "."):
            return None
        out.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    return tuple(out) or None


def resolve_path(data: dict, text: str) -> tuple:
    """The data path a draw key names; a graph's bare parameter/input/constant name is
    looked up in ``params``, ``inputs`` and ``constants``. Raises ValueError(message)."""
    path = parse_path(text)
    if path is None:
        raise ValueError(f"'{text}' is not a path (write e.g. layers[0].W[1][0], input[1] or "
                         "a graph parameter name)")
    if data.get("kind") == "graph" and isinstance(path[0], str):
        for sec in ("params", "inputs", "constants"):
            if isinstance(data.get(sec), dict) and path[0] in data[sec]:
                path = (sec,) + path
                break
    if path[0] not in DRAWABLE:
        if path[0] in data:
            raise ValueError(f"draw path '{text}': only the numbers of "
                             f"{', '.join(DRAWABLE)} can be drawn")
        import difflib

        graph = data.get("kind") == "graph"
        names = ([n for sec in ("params", "inputs", "constants")
                  for n in (data.get(sec) or {})] if graph else list(DRAWABLE))
        near = difflib.get_close_matches(str(path[0]), names, n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        what = "no parameter, input or constant" if graph else "nothing called"
        raise ValueError(f"draw path '{text}': the file has {what} '{path[0]}'{hint}")
    cur: Any = data
    for k, part in enumerate(path):
        if isinstance(part, int) and isinstance(cur, list) and part < len(cur):
            cur = cur[part]
        elif isinstance(part, str) and isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            import difflib

            here = ".".join(str(p) for p in path[:k]) or "the file"
            keys = [str(x) for x in cur] if isinstance(cur, dict) else []
            if data.get("kind") == "graph" and k == 0:
                keys += [n for s in ("params", "inputs", "constants")
                         for n in (data.get(s) or {})]
            near = difflib.get_close_matches(str(part), keys, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            size = f" (it has {len(cur)} entries, numbered from 0)" if isinstance(cur, list) else ""
            raise ValueError(f"draw path '{text}': {here} has no {part!r}{size}{hint}")
    if not _numeric(cur):
        raise ValueError(f"draw path '{text}' names {type(cur).__name__} {cur!r}; a draw "
                         "replaces a number, a vector or a matrix")
    return path


def _numeric(v: Any) -> bool:
    if isinstance(v, list):
        return bool(v) and all(_numeric(e) for e in v)
    return isinstance(v, (int, Decimal, str)) and not isinstance(v, bool)


def _shape(v: Any) -> tuple:
    if isinstance(v, list):
        return (len(v),) + (_shape(v[0]) if v else ())
    return ()


# ─── draws ───────────────────────────────────────────────────────────────────────────────
def _fraction(value: Any, what: str) -> Fraction:
    from tutor.exercise import number

    v = number(value, what)
    if not v.is_Rational:
        raise ValueError(f"{what} must be an exact rational number, not {value}")
    return Fraction(int(v.p), int(v.q))


def to_data(f: Fraction) -> int | Decimal | str:
    """An exact value as the YAML loader would give it: 3, Decimal('0.25') or "1/3"."""
    if f.denominator == 1:
        return int(f.numerator)
    q, twos, fives = f.denominator, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q != 1:
        return f"{f.numerator}/{f.denominator}"
    k = max(twos, fives)
    return Decimal(f.numerator * 10**k // f.denominator).scaleb(-k)


@dataclass(frozen=True)
class Sampler:
    """One draw: a path and the exact values it may take."""

    key: str  # as written in the file
    path: tuple
    choices: tuple = ()  # values as data (choice)
    lo: Fraction = Fraction(0)
    step: Fraction = Fraction(1)
    count: int = 0  # grid size (range)
    exclude: frozenset = frozenset()
    grid: list | None = field(default=None, compare=False, repr=False)  # made by _grid

    def draw(self, rng: random.Random) -> Any:
        if self.choices:
            return copy.deepcopy(self.choices[rng.randrange(len(self.choices))])
        grid = self._grid()
        for _ in range(10_000):
            k = rng.randrange(self.count)
            if grid is not None:
                if grid[k] is not None:
                    return grid[k]
                continue
            v = self.lo + self.step * k
            if v not in self.exclude:
                return to_data(v)
        raise ExerciseError(f"draw '{self.key}': every value of the range is excluded")

    def _grid(self) -> list | None:
        """The range's values as data (None where excluded), made once — for ranges of up
        to GRID_KEPT values; the draws are the same either way."""
        if self.count > GRID_KEPT:
            return None
        if self.grid is None:  # frozen: the one field set after construction
            object.__setattr__(self, "grid", [
                None if (v := self.lo + self.step * k) in self.exclude else to_data(v)
                for k in range(self.count)])
        return self.grid


def samplers(data: dict, file: str = "", doc: Any = None) -> tuple[list[Sampler], list[InputError]]:
    """The draws of a ``variants:`` block, and every problem with them, each located."""
    out, problems = [], []
    block = (data.get("variants") or {}).get("draw") or {}
    taken: list[tuple] = []

    def err(msg, at, code):
        m = doc.key_marks.get(at) if doc is not None and hasattr(doc, "key_marks") else None
        m = m or (doc.mark(at) if doc is not None else None)
        problems.append(ExerciseError(msg, file, m.line if m else None, m.col if m else None,
                                      code=code))

    for key, spec in block.items():
        at = ("variants", "draw", key)
        try:
            path = resolve_path(data, str(key))
        except ValueError as e:
            err(str(e), at, "E040")
            continue
        clash = [p for p in taken if p[:len(path)] == path or path[:len(p)] == p]
        if clash:
            err(f"draw path '{key}' overlaps another draw ({'.'.join(map(str, clash[0]))})",
                at, "E041")
            continue
        taken.append(path)
        base = data
        for part in path:
            base = base[part]
        try:
            if spec.get("choice") is not None:
                choices = tuple(spec["choice"])
                for k, c in enumerate(choices):
                    if not _numeric(c) or _shape(c) != _shape(base):
                        raise _At(f"draw '{key}': choice {k + 1} has shape {_shape_text(c)} but "
                                  f"the value it replaces has shape {_shape_text(base)}",
                                  ("choice", k), "E043")
                    _check_numbers(c, f"draw '{key}' choice {k + 1}")
                out.append(Sampler(str(key), path, choices=choices))
            else:
                if _shape(base) != ():
                    raise _At(f"draw '{key}': a range draws one number, but the value it "
                              f"replaces has shape {_shape_text(base)} (draw each entry, or "
                              "use choice)", ("range",), "E043")
                lo, hi = (_fraction(v, f"draw '{key}' range") for v in spec["range"])
                step = _fraction(spec.get("step", 1), f"draw '{key}' step")
                if step <= 0:
                    raise _At(f"draw '{key}': step must be positive", ("step",), "E042")
                if hi < lo:
                    raise _At(f"draw '{key}': range [lo, hi] has hi < lo", ("range",), "E042")
                count = int((hi - lo) // step) + 1
                if count > MAX_GRID:
                    raise _At(f"draw '{key}': the range has {count} values (at most "
                              f"{MAX_GRID}); use a larger step", ("step",), "E042")
                exclude = frozenset(_fraction(v, f"draw '{key}' exclude")
                                    for v in spec.get("exclude") or [])
                on_grid = {e for e in exclude if lo <= e <= hi and (e - lo) % step == 0}
                if len(on_grid) >= count:
                    raise _At(f"draw '{key}': exclude removes every value of the range",
                              ("exclude",), "E042")
                out.append(Sampler(str(key), path, lo=lo, step=step, count=count,
                                   exclude=exclude))
        except _At as e:
            err(e.args[0], at + e.sub, e.code)
        except (ValueError, InputError) as e:
            err(getattr(e, "message", None) or str(e), at, "E042")
    return out, problems


class _At(Exception):
    def __init__(self, message, sub, code):
        super().__init__(message)
        self.sub, self.code = sub, code


def _shape_text(v: Any) -> str:
    s = _shape(v)
    return "scalar" if not s else "×".join(map(str, s))


def _check_numbers(v: Any, what: str) -> None:
    from tutor.exercise import number

    if isinstance(v, list):
        for e in v:
            _check_numbers(e, what)
    else:
        number(v, what)


def substitute(data: dict, draws: dict[tuple, Any]) -> dict:
    """A copy of the parsed file with each drawn value put at its path (only the sections
    a draw may change are copied deeply: the rest is shared, never written)."""
    out = dict(data)
    for key in {path[0] for path in draws}:
        out[key] = copy.deepcopy(data[key])
    for path, value in draws.items():
        cur = out
        for part in path[:-1]:
            cur = cur[part]
        cur[path[-1]] = value
    return out


# ─── conditions ──────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class ReluInput:
    """One number that goes into a ReLU: where (file path), which (subject and entry, as a
    Cause names them: words.entry_of), its value."""

    iteration: int
    path: tuple  # ("layers", 1) or ("nodes", "h2")
    owner: str  # "2" (layer) or "h2" (node)
    subject: Any  # the ReLU's input: "z2" (a layer) or, in a graph node, the SymPy
    # expression as written (z, or w1*x — not relu(z))
    entry: tuple  # 0-based (row, col) in a layer's z; () in a graph node
    shape: tuple | None
    value: Any

    @property
    def where(self) -> tuple:
        """Which ReLU input this is, across variants of one exercise."""
        return (self.subject, self.entry)


def relu_inputs(worked) -> list[ReluInput]:
    """Every ReLU (and leaky ReLU) input of every iteration, read from the solution."""
    sol = worked.solution
    return _relu_inputs(worked.graph, sol.value, sol.n_iterations)


def forward_values(graph) -> dict[str, Any]:
    """Iteration 1's forward values by the rules table alone (no backward pass): enough to
    reject a draw with no dead ReLU or a ReLU input at 0 before solving it in full."""
    from tutor.rules import evaluate

    values = {**graph.init, **(graph.iterations[0] if graph.iterations else {})}
    for node in graph.nodes.values():
        if node.is_leaf or node.op == "loss":
            continue
        values[node.name] = evaluate(node, values, graph)
    return values


def _relu_inputs(g, value, n_iterations: int) -> list[ReluInput]:
    import sympy as sp

    from tutor.functions import leaky_relu, relu
    from tutor.rules import entries

    out = []
    for it in range(1, n_iterations + 1):
        for node in g.nodes.values():
            if g.kind == "network" and node.op == "act" and node.attrs["fn"] in ("relu",
                                                                                  "leaky_relu"):
                z = value(node.parents[0], it)
                layer = node.attrs["layer"]
                for idx, v in entries(z):
                    out.append(ReluInput(it, ("layers", layer - 1), str(layer), f"z{layer}",
                                         idx, getattr(z, "shape", None), v))
            elif g.kind == "graph" and node.op == "expr":
                e = node.attrs["expr"]
                sub = {sp.Symbol(p): value(p, it) for p in node.parents}
                for atom in sorted(e.atoms(relu, leaky_relu), key=sp.default_sort_key):
                    arg = atom.args[0]  # named as written: z, or w1·x (not relu(z))
                    v = arg.xreplace(sub)
                    if v.free_symbols:
                        continue  # in symbols (x: symbol): no number goes in, no sign
                    out.append(ReluInput(it, ("nodes", node.name), node.name, arg, (),
                                         None, v))
            elif g.kind == "graph" and node.op == "tensor":
                out += _tensor_relu_inputs(g, node, value, it)
    return out


def _tensor_relu_inputs(g, node, value, it: int) -> list[ReluInput]:
    """Each entry that goes into a relu inside a tensor node, named by the relu's argument
    as written (``W @ x + b``)."""
    from tutor.rules import tensor_parts
    from tutor.tensors import entries as tensor_entries, shape_of

    memo = tensor_parts(node, {p: value(p, it) for p in node.parents}, g)
    out, stack = [], [node.attrs["tree"]]
    while stack:
        t = stack.pop()
        stack.extend(t.args)
        if t.op in ("relu", "leaky_relu"):
            inner = t.args[0]
            z = memo[id(inner)]
            label = inner.text if inner.op in ("name", "index", "T") else f"({inner.text})"
            for idx, v in tensor_entries(z):
                out.append(ReluInput(it, ("nodes", node.name), node.name, label, idx,
                                     shape_of(z) or None, v))
    return out


@dataclass(frozen=True)
class Unmet:
    """A variant condition a draw fails: which one (a key of ``require``) and how, as data
    (its words: tutor.words.unmet — "dead_relu: layer 2 has no dead ReLU").

    ========================  ==================================  =========  ==========
    condition                 subject                             got        want
    ========================  ==================================  =========  ==========
    dead_relu                 ("layer" | "node", owner)
    no_relu_at_zero           the ReluInput at 0
    keep_relu_signs           the ReluInput                       its sign   the base's
    keep_zeros                (step id, entry, shape)             0 or not   the base's
    max_decimals              step id                             decimals (−1: infinite)
    distinguishable           step id                             misconception id
    ========================  ==================================  =========  ==========
    """

    condition: str
    subject: Any = None
    got: Any = None
    want: Any = None


def _relu_fails(inputs: list[ReluInput], require, kind: str) -> list[Unmet]:
    for want in require.dead_relu:
        owner = str(want)
        if not any(r.owner == owner and r.iteration == 1 and _sign(r.value) < 0 for r in inputs):
            return [Unmet("dead_relu", ("layer" if kind == "network" else "node", owner))]
    if require.no_relu_at_zero:
        at0 = [r for r in inputs if _sign(r.value) == 0]
        if at0:
            return [Unmet("no_relu_at_zero", at0[0])]
    return []


def _sign(v) -> int:
    from tutor.functions import sign

    return sign(v)


def decimals_needed(v) -> int | None:
    """Decimals of a terminating rational (0.125 → 3); None if it does not terminate or is
    not rational (exempt from max_decimals when irrational, see ``unmet``)."""
    if not getattr(v, "is_Rational", False):
        return None
    q, twos, fives = int(v.q), 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    return max(twos, fives) if q == 1 else -1


@dataclass(frozen=True)
class Baseline:
    """What ``keep_relu_signs`` and ``keep_zeros`` compare a variant with: the base values'
    ReLU input signs ((iteration, label) → −1, 0, 1), zero answer entries ((step key,
    entry)) and the keys of iteration 1's forward steps (checked before solving)."""

    signs: dict
    zeros: frozenset
    forward: tuple = ()


def baseline(worked) -> Baseline:
    return Baseline({(r.iteration, r.where): _sign(r.value) for r in relu_inputs(worked)},
                    _zero_entries((s.key, s.value) for s in worked.steps),
                    tuple(s.key for s in worked.steps if s.key[:2] == (1, "value")))


def _zero_entries(keyed) -> frozenset:
    """(key, entry) of every entry that is exactly 0 (the engine's certified test)."""
    from tutor.rules import entries, is_zero

    return frozenset((key, idx) for key, value in keyed for idx, v in entries(value)
                     if is_zero(v))


def _sign_fails(inputs: list[ReluInput], base: Baseline) -> list[Unmet]:
    """The first ReLU input whose sign differs from the base values' (iterations checked
    are those in ``inputs``)."""
    for r in inputs:
        want = base.signs.get((r.iteration, r.where))
        if want is not None and _sign(r.value) != want:
            return [Unmet("keep_relu_signs", r, _sign(r.value), want)]
    return []


def _zeros_fail(keyed: list, base: Baseline, name) -> list[Unmet]:
    """keep_zeros over the (key, value) pairs given: the same zero entries as the base."""
    keys = {k for k, _ in keyed}
    zeros = _zero_entries(keyed)
    want = frozenset(z for z in base.zeros if z[0] in keys)
    if zeros == want:
        return []
    extra, lost = sorted(zeros - want, key=repr), sorted(want - zeros, key=repr)
    key, idx = (extra or lost)[0]
    value = dict(keyed)[key]
    return [Unmet("keep_zeros", (name(key), idx, getattr(value, "shape", None)),
                  bool(extra), not extra)]


def unmet(worked, require, pairs: list | None = None,
          base: Baseline | None = None) -> list[Unmet]:
    """The conditions this worked exercise fails, as values ([] when it meets them all).
    ``pairs``: ``indistinguishable(worked)`` when the caller has it already; ``base``: the
    base values' ``baseline`` (without it, keep_relu_signs and keep_zeros hold: the base
    values keep themselves)."""
    from tutor.rules import entries

    if require is None:
        return []
    if require.dead_relu or require.no_relu_at_zero:
        fails = _relu_fails(relu_inputs(worked), require, worked.graph.kind)
        if fails:
            return fails
    if base is not None and require.keep_relu_signs:
        fails = _sign_fails(relu_inputs(worked), base)
        if fails:
            return fails
    if base is not None and require.keep_zeros:
        ids = {s.key: s.id for s in worked.steps}
        fails = _zeros_fail([(s.key, s.value) for s in worked.steps], base, ids.get)
        if fails:
            return fails
    fails: list[Unmet] = []
    if require.max_decimals is not None:
        for s in worked.steps:
            for _, v in entries(s.value):
                d = decimals_needed(v)
                if d is not None and (d < 0 or d > require.max_decimals):
                    fails.append(Unmet("max_decimals", s.id, d, require.max_decimals))
                    return fails
    if require.distinguishable:
        from tutor.misconceptions import indistinguishable

        only = None if require.distinguishable is True else set(require.distinguishable)
        if pairs is None:  # the first pair is enough to refuse
            pairs = indistinguishable(worked, only, first=True)
        pairs = [(s, m) for s, m in pairs if only is None or m in only]
        if pairs:
            fails.append(Unmet("distinguishable", pairs[0][0], pairs[0][1]))
    return fails


# ─── refusing before the solve ───────────────────────────────────────────────────────────
def structure(graph) -> tuple:
    """What decides which steps an exercise asks (their keys), values aside: two graphs of
    the same structure and ``ask`` have the same step keys (tutor.steps lists a step for
    every quantity the solver makes, and which quantities it makes depends on the nodes,
    the parameters, the number of iterations and whether there is a learning rate)."""
    return (graph.kind, graph.layout, graph.loss, graph.params, graph.inputs,
            len(graph.iterations), graph.learning_rate is None,
            tuple((n.name, n.op, n.parents, n.attrs.get("fn")) for n in graph.nodes.values()))


def hidden(graph, values: dict, keys, only=None) -> tuple | None:
    """(step key, misconception id) where iteration 1's forward values alone prove that the
    buggy rule gives *exactly* the true answer, so ``misconceptions.indistinguishable`` of
    the solved exercise finds a pair too — or None (nothing proved: solve and look).

    ``keys``: the step keys the exercise asks; ``only``: the misconception ids that count
    (None: every one). Networks only, each case a one-line proof from the rules table
    (tutor.rules, tutor.misconceptions); a unit is *known dead* where z < 0 feeds a ReLU,
    so its δ entry is ∂L/∂h · 0 = 0 exactly:

    * no-relu-mask at δℓ: every z of the ReLU layer ℓ is > 0, so ReLU′(z) = 1 = the bug's 1;
    * pass-back-updated-weights at ∂L/∂x: the affine's input x is all 0, so the update
      W − η δ xᵀ is W itself;
    * outer-product-order at ∂L/∂W (W square, one example): every off-diagonal δᵢxⱼ and
      δⱼxᵢ is 0 (a known-dead δ entry or a zero input), so δ xᵀ is symmetric, = x δᵀ;
    * no-transpose-pass-back at ∂L/∂x (W square): W's column j equals its row j for every
      unit j not known dead, so W δ = Wᵀ δ.

    Only used to refuse a draw sooner; a draw it passes is solved and checked in full."""
    if graph.kind != "network":
        return None
    from tutor.rules import entries, is_zero

    def allowed(mid):
        return only is None or mid in only

    col = graph.layout == "column"
    dead: dict[str, set] = {}  # affine node → entries of its δ that are exactly 0
    for node in graph.nodes.values():
        if node.op != "affine":
            continue
        cons = graph.consumers(node.name)
        act = graph.nodes[cons[0]] if len(cons) == 1 else None
        if act is None or act.op != "act" or act.attrs.get("fn") != "relu":
            dead[node.name] = set()
            continue
        signs = [(idx, _sign(v)) for idx, v in entries(values[node.name])]
        dead[node.name] = {idx for idx, s in signs if s < 0}
        key = (1, "grad", node.name)
        if key in keys and allowed("no-relu-mask") and all(s > 0 for _, s in signs):
            return key, "no-relu-mask"
    for node in graph.nodes.values():
        if node.op != "affine":
            continue
        wn, xn, _ = node.parents
        W, x = values[wn], values[xn]
        gone = dead[node.name]
        dx, dW = (1, "grad", xn), (1, "grad", wn)
        alone = graph.consumers(xn) == [node.name]
        if alone and dx in keys and graph.learning_rate is not None \
                and allowed("pass-back-updated-weights") \
                and all(is_zero(v) for _, v in entries(x)):
            return dx, "pass-back-updated-weights"
        if not (W.rows == W.cols > 1):
            continue
        if dW in keys and graph.consumers(wn) == [node.name] \
                and allowed("outer-product-order") and (x.cols if col else x.rows) == 1:
            n = W.rows
            known = [((i, 0) if col else (0, i)) in gone for i in range(n)]
            xs = [is_zero(v) for v in x]
            if len(xs) == n and all((known[i] or xs[j]) and (known[j] or xs[i])
                                    for i in range(n) for j in range(n) if i != j):
                return dW, "outer-product-order"
        if alone and dx in keys and allowed("no-transpose-pass-back"):
            z = values[node.name]
            live = {(i if col else j) for (i, j), _ in entries(z) if (i, j) not in gone}
            if all(W[i, j] == W[j, i] for j in live for i in range(W.rows)):
                return dx, "no-transpose-pass-back"
    return None


# ─── one variant ─────────────────────────────────────────────────────────────────────────
class _VariantDoc:
    """The base file's positions with the variant's data: errors point at the base value."""

    def __init__(self, doc, data):
        self.data, self._doc = data, doc
        self.marks = getattr(doc, "marks", {})
        self.key_marks = getattr(doc, "key_marks", {})

    def mark(self, path):
        return self._doc.mark(path) if self._doc is not None else None


def variant_exercise(ex, draws: dict[tuple, Any]):
    """The Exercise with the drawn values in place of the base ones."""
    from pydantic import ValidationError

    from tutor.exercise import SPEC, Exercise

    data = substitute(ex.doc.data, draws)
    try:
        spec = SPEC.validate_python(data)
    except ValidationError as e:
        raise ExerciseError(f"a drawn variant is not a valid exercise: "
                            f"{e.errors()[0]['msg']}", ex.file, code="E044") from None
    return Exercise(spec=spec, file=ex.file, doc=_VariantDoc(ex.doc, data), sha=ex.sha,
                    text_sha=ex.text_sha, math_sha=ex.math_sha, fresh=ex.fresh)


# The draws of a seed are bounded by count (variants.tries), so which variant a student gets
# never depends on the machine's speed. This wall-clock limit is only a safety net: when it
# stops the drawing, that is a refusal said as such (run it again), never another variant.
TIME_BUDGET = 60.0


def realize(ex, seed: int, hint: tuple | None = None):
    """The variant of ``ex`` for ``seed``: draw, substitute, solve, check the conditions,
    and draw again until they hold — at most ``variants.tries`` times (the same draws, so the
    same variant, on every machine; ``TIME_BUDGET``, 60 s, is a safety net that refuses,
    never picks another). Remembered, and so is a refusal, in the exercise
    (``Exercise.drawn``), by seed.

    ``hint``: (try, digest) as ``accepted_try`` gave it in an earlier run (the variant
    cache of `tutor check`): that try is drawn again from ``seed`` — the values always come
    from the seed, never from the hint — and used when its draws have that digest, it solves
    and it meets every condition but ``distinguishable`` (which the run that wrote the hint
    checked; ``hidden`` is asked again, and it is cheap); else the draws are made from the
    start as without a hint."""
    hit = ex.drawn.get(seed)
    if hit is None:
        if hint is not None:
            hit = _from_hint(ex, seed, hint)
        if hit is None:
            try:
                hit = _realize(ex, seed)
            except VariantError as err:
                hit = err
        ex.drawn[seed] = hit
    worked = hit
    if isinstance(worked, VariantError):
        raise worked.located()
    return worked


SPACE_LIMIT = 100_000  # up to this many possible variants, refused draws are remembered


def _space(found: list[Sampler]) -> int | None:
    """The number of different variants the draws can make, when at most SPACE_LIMIT."""
    total = 1
    for s in found:
        if s.choices:
            n = len({repr(c) for c in s.choices})
        else:
            n = s.count - len({e for e in s.exclude
                               if e >= s.lo and (e - s.lo) % s.step == 0
                               and (e - s.lo) // s.step < s.count})
        total *= max(n, 1)
        if total > SPACE_LIMIT:
            return None
    return total


@dataclass
class _Plan:
    """What drawing needs of an exercise, made once per loaded exercise: its draws, the
    base values' baseline (keep_relu_signs / keep_zeros), and for ``hidden`` the base's
    step keys and ids and its graph's structure (None: no early distinguishable check)."""

    found: list
    base: Baseline | None
    keys: dict | None  # step key → step id
    shape: tuple | None  # structure(graph) of the base
    accepted: dict = field(default_factory=dict)  # seed → (try, digest): accepted_try


def draw_digest(draws: dict) -> str:
    """A short hash of one try's drawn values (what a variant-cache entry is checked by)."""
    return hashlib.sha256(repr(list(draws.values())).encode("utf-8")).hexdigest()[:32]


def accepted_try(ex, seed: int) -> tuple[int, str] | None:
    """(try, digest): which try of ``seed`` (0-based) gave its variant in this process, and
    the digest of its drawn values — None when ``seed`` was not drawn or was refused."""
    got = ex.drawn.get(_PLAN)
    return got[1].accepted.get(seed) if got is not None and got[0] is ex.spec else None


def _from_hint(ex, seed: int, hint) -> Any:
    """The variant of try ``hint[0]`` of ``seed``, when it is the one ``hint`` says (see
    ``realize``); None when the hint does not hold."""
    from tutor.limits import Trouble
    from tutor.worked import work_exercise

    v = ex.spec.variants
    try:
        k, digest = hint
        k = int(k)
    except (TypeError, ValueError):
        return None
    if not 0 <= k < v.tries:
        return None
    plan = _plan(ex)
    rng = random.Random(seed)
    for _ in range(k + 1):
        draws = {s.path: s.draw(rng) for s in plan.found}
    if draw_digest(draws) != digest:
        return None
    try:
        worked = work_exercise(variant_exercise(ex, draws))
    except (TutorError, Trouble):
        return None
    if unmet(worked, v.require, pairs=[], base=plan.base):  # all but distinguishable
        return None
    if plan.keys is not None and structure(worked.graph) == plan.shape:
        only = None if v.require.distinguishable is True else set(v.require.distinguishable)
        values = {n: worked.solution.value(n) for n in worked.graph.nodes
                  if (1, "value", n) in worked.solution.quantities}
        if hidden(worked.graph, values, plan.keys, only) is not None:
            return None
    plan.accepted[seed] = (k, digest)
    return replace(worked, seed=seed)


_PLAN = "plan"  # its key in Exercise.drawn (the seeds there are ints): (spec, _Plan) — the
# spec too, since dataclasses.replace(ex, spec=…) makes an Exercise that shares ``drawn``
_PLANS: dict = {}  # (file, sha, the spec as JSON) → _Plan: the same exercise loaded again
# (`tutor check` and `tutor template` load it once per student) is planned once


def _plan(ex) -> _Plan:
    got = ex.drawn.get(_PLAN)
    if got is not None and got[0] is ex.spec:
        return got[1]
    key = (ex.file, ex.sha, ex.spec.model_dump_json())
    plan = _PLANS.get(key)
    if plan is None:
        plan = _new_plan(ex)
        if len(_PLANS) >= 32:
            _PLANS.clear()
        _PLANS[key] = plan
    ex.drawn[_PLAN] = (ex.spec, plan)
    return plan


def _new_plan(ex) -> _Plan:
    from tutor.worked import work_exercise

    v = ex.spec.variants
    found, problems = samplers(ex.doc.data, ex.file, ex.doc)
    if problems:
        raise problems[0]
    keep = v.require.keep_relu_signs or v.require.keep_zeros
    base = baseline(work_exercise(ex)) if keep else None
    keys = shape = None
    if v.require.distinguishable and ex.spec.kind == "network":
        try:
            w = work_exercise(ex)
        except TutorError:  # the base values do not solve: every draw is solved instead
            w = None
        if w is not None:
            keys, shape = {s.key: s.id for s in w.steps}, structure(w.graph)
    return _Plan(found, base, keys, shape)


def _realize(ex, seed: int, early_proofs: bool = True):
    """The draws of ``seed`` until one meets every condition. ``early_proofs``: refuse a
    draw that ``hidden`` proves indistinguishable before solving it — the same draws are
    refused either way, so the same variant is found; only when no variant is found is
    the search made again without them, so that the error counts each refusal under the
    condition the full check names first, as it always did."""
    import time

    from tutor.graph import compile_exercise
    from tutor.limits import Trouble
    from tutor.worked import work_exercise

    v = ex.spec.variants
    plan = _plan(ex)
    found, base = plan.found, plan.base
    only = None if v.require.distinguishable is True else set(v.require.distinguishable or ())
    proofs = early_proofs and plan.keys is not None and bool(v.require.distinguishable)
    proved = 0  # draws refused by ``hidden``
    rng = random.Random(seed)
    why: Counter = Counter()
    last: dict[str, Unmet] = {}  # condition → its last failure
    deadline = time.monotonic() + TIME_BUDGET
    tried, out_of_time = 0, False
    space = _space(found)  # how many different variants there are (None: too many to list)
    rejected: dict[str, str] = {}  # a draw already refused → why (never solved twice)
    for _ in range(v.tries):
        if tried and time.monotonic() > deadline:
            out_of_time = True
            break
        if space is not None and len(rejected) >= space:
            break  # every possible variant was drawn and refused
        tried += 1
        draws = {s.path: s.draw(rng) for s in found}
        seen = repr(list(draws.values())) if space is not None else None
        if seen in rejected:
            why[rejected[seen]] += 1
            continue
        try:
            vex = variant_exercise(ex, draws)
            if v.require.dead_relu or v.require.no_relu_at_zero or base is not None \
                    or proofs:
                graph = compile_exercise(vex)
                values = forward_values(graph)
                first = _relu_inputs(graph, lambda n, it: values[n], 1)
                early = _relu_fails(first, v.require, graph.kind)
                if not early and base is not None and v.require.keep_relu_signs:
                    early = _sign_fails(first, base)
                if not early and base is not None and v.require.keep_zeros:
                    early = _zeros_fail([(k, values[k[2]]) for k in base.forward
                                         if k[2] in values], base, lambda k: k[2])
                if not early and proofs and structure(graph) == plan.shape:
                    pair = hidden(graph, values, plan.keys, only)
                    if pair is not None:
                        proved += 1
                        early = [Unmet("distinguishable", plan.keys[pair[0]], pair[1])]
                        last["distinguishable"] = early[0]
                if early:
                    cond = early[0].condition
                    why[cond] += 1
                    if seen is not None:
                        rejected[seen] = cond
                    continue
            worked = work_exercise(vex)
        except (TutorError, Trouble) as err:  # Trouble: the early forward pass refused
            cond = getattr(err, "message", None) or str(err)  # the engine's refusal, whole
            why[cond] += 1
            if seen is not None:
                rejected[seen] = cond
            continue
        fails = unmet(worked, v.require, base=base)
        if not fails:
            plan.accepted[seed] = (tried - 1, draw_digest(draws))
            return replace(worked, seed=seed)
        cond = fails[0].condition
        why[cond] += 1
        last[cond] = fails[0]
        if seen is not None:
            rejected[seen] = cond
    if proved and not out_of_time:  # the error's counts as the full check gives them
        return _realize(ex, seed, early_proofs=False)
    top = ", ".join(f"{k} ({n}×)" for k, n in why.most_common(3))
    if out_of_time:
        stop = (f"in {tried} tries (seed {seed}; stopped by the {TIME_BUDGET:g} s safety net "
                f"before variants.tries = {v.tries}: on a faster or less loaded machine the "
                f"same {v.tries} draws are made, never other ones)")
    elif space is not None and len(rejected) >= space:
        stop = f"in {tried} tries (seed {seed}): all {space} possible variants fail"
    else:
        stop = f"in {tried} tries (seed {seed})"
    u = last.get("distinguishable")  # an error's message is made where it is raised
    detail = (f"; the last distinguishable failure: at {u.subject} misconception {u.got} "
              "gives the true answer" if u is not None else "")
    m = ex.doc.mark(("variants",)) if ex.doc is not None else None
    more = "" if out_of_time or (space is not None and len(rejected) >= space) \
        else " or raise variants.tries"
    raise VariantError(f"no variant of {ex.id} meets its conditions {stop}; failed most "
                       f"often: {top}{detail}. Loosen variants.require, widen the "
                       f"draws{more}.", ex.file,
                       m.line if m else None, m.col if m else None, code="E045")
