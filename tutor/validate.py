"""``tutor validate``: every problem of an exercise file at once, ``file:line:col: CODE message``.

Three passes. Each reports everything it finds; a later pass runs when what it needs is
sound (a file with unknown keys cannot be compiled, an exercise that does not compile
cannot be solved):

    1  YAML and schema     E00x–E01x   unreadable/bad YAML, unknown keys (did-you-mean),
                                       missing keys, wrong types  — all of them
                           E014–E019   values the types allow but no exercise means
                           W307, W308  (tolerance, learning rate, ask, options that do not
                                       apply); E211 a network too large (not compiled)
                           E04x        variants: draw paths, ranges, choices
    2  compile             E2xx        every independent problem of the compiler
                                       (tutor.graph.compile_errors): each bad expression,
                                       each cycle, each layer's shapes, the target, the
                                       loss, the learning rate; name/step-id collisions.
                                       A graph that does not compile still gets W301 for a
                                       parameter no expression on the way to the loss names
    3  solve and warn      W3xx        (when it compiles) a parameter the loss ignores, a
                                       ReLU input exactly 0, a misconception no step catches,
                                       max/min ties, max-pool ties (W309); with a sound
                                       variants block, the base values against ``require``
                                       and an impossible family
                                       (seed 0; ``--variants N``: seeds 0 … N−1, E045)
                           E050–E051   the exercise's own tests: (tutor.answertests)

Codes are stable and documented in docs/authoring.md. Nothing here raises: every failure,
even a bug, becomes a located Problem.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tutor.errors import ExprError, InputError, path_text
from tutor.words import entry_of, unmet as words_unmet

CODES = {
    "E000": "the file cannot be read (missing, a folder, not UTF-8, too large): exit 2",
    "E001": "the file is not a YAML mapping",
    "E002": "format_version is newer than this tutor",
    "E003": "kind missing or not network/graph",
    "E005": "not valid YAML (syntax, duplicate key, alias, merge key <<, size)",
    "E006": "a number not in plain decimal (010, 0x1F, 0o17, 1:30, .inf)",
    "E010": "unknown key (with did-you-mean)",
    "E011": "missing required key",
    "E012": "a value of the wrong type or out of range",
    "E013": "a number out of range",
    "E014": "a tolerance out of range: abs or rel negative, decimals or sig outside 0…30 / 1…30",
    "E015": "a tolerance that accepts only the exact value (abs and rel both 0)",
    "E016": "two kinds of tolerance (decimals with sig, abs or rel; sig with abs or rel)",
    "E017": "a negative learning_rate",
    "E018": "ask: [] asks nothing",
    "E019": "an option that does not apply (slope without leaky_relu, alpha without elu)",
    "E020": "extends: an extending file without its own id or kind, with its base's id, or "
            "of another kind than its base",
    "E040": "variants: a draw path that names nothing in the file",
    "E041": "variants: two draws of the same value",
    "E042": "variants: an empty or malformed range",
    "E043": "variants: a choice or range that does not fit the value it replaces",
    "E045": "variants: no variant meets the conditions",
    "E046": "variants: a condition names a layer or node without a ReLU",
    "E050": "tests: a test that names nothing (a step not asked, an unknown misconception, "
            "a seed without variants)",
    "E051": "tests: a test whose verdict is not the one it expects",
    "E201": "matrix rows of different lengths",
    "E202": "a matrix where a vector belongs",
    "E203": "class index out of range",
    "E204": "target shape differs from the output (the loss would not be a scalar)",
    "E205": "layer shapes do not chain",
    "E206": "bias length differs from the layer's outputs",
    "E207": "softmax with one unit",
    "E208": "loss ce without a softmax output",
    "E209": "an iteration's input changes shape",
    "E210": "updates asked without a learning_rate",
    "E211": "a network too large to work by hand (a side over 64, or over 1,000 "
            "parameters × examples × iterations)",
    "E220": "an invalid name",
    "E221": "a name defined twice",
    "E222": "a node that uses itself",
    "E223": "loss is not a node (a parameter, input, constant, or undefined)",
    "E224": "an iteration sets something that is not an input or constant",
    "E225": "the nodes form a cycle",
    "E226": "a symbol in a graph with vectors or matrices (not supported yet)",
    "E227": "a loss that is a vector or matrix, not a number",
    "E230": "a name that collides with a step id (d<name>, <param>_new)",
    "E231": "an expression that does not parse",
    "E232": "an undefined name in an expression",
    "E233": "an expression too large (an expression bomb)",
    "E234": "tensor shapes that do not fit (W @ x, a broadcast, an axis, an index)",
    "E240": "a value the engine refuses (the log of 0, outside BCE's domain, too large)",
    "E241": "solving the exercise took longer than the limit (20 s)",
    "E299": "the exercise cannot be solved",
    "W301": "the loss does not depend on a parameter",
    "W302": "a ReLU input exactly 0: the ReLU′(0) convention decides the answer",
    "W303": "a misconception that no asked step can tell from the truth",
    "W304": "the base values do not meet the variants' conditions",
    "W305": "(--strict) a step whose answer a misconception reproduces",
    "W306": "max or min with tied arguments: the derivative there is a convention",
    "W307": "learning_rate 0: the updates change nothing",
    "W308": "conventions.relu_prime_at_zero where nothing uses relu",
    "W309": "a 2×2 max-pool window whose max ties: which entry gets the gradient is a convention",
    "E999": "internal error while validating (a bug in tutor)",
}


UNREADABLE = "E000"  # the one code that makes `tutor validate` exit 2, not 1


def unknown_codes(codes) -> list[str]:
    """Each code of ``codes`` that is not one of :data:`CODES`, with a did-you-mean
    (``--ignore W3O1``: "W3O1 (did you mean W301?)")."""
    import difflib

    out = []
    for code in codes:
        if code not in CODES:
            near = difflib.get_close_matches(code, list(CODES), n=1, cutoff=0.7)
            out.append(f"{code} (did you mean {near[0]}?)" if near else code)
    return out


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    col: int
    code: str
    message: str

    @property
    def is_warning(self) -> bool:
        return self.code.startswith("W")

    def text(self) -> str:
        return f"{path_text(self.file)}:{self.line}:{self.col}: {self.code} {self.message}"

    def record(self) -> dict:
        return {"file": path_text(self.file), "line": self.line, "col": self.col, "code": self.code,
                "severity": "warning" if self.is_warning else "error", "message": self.message}


def _from_error(err: InputError, file: str, code: str | None = None) -> Problem:
    # a line inherited through extends: names its own file (tutor.yamlio.Line): the base's
    origin = getattr(err.line, "file", None)
    return Problem(origin or err.file or file, int(err.line or 1), err.col or 1,
                   code or (err.code if err.code not in ("E000", "E100") else "E299"),
                   err.message)


def _at(doc, file: str, path: tuple, code: str, message: str, key: bool = True) -> Problem:
    m = doc.key_marks.get(path) if key and hasattr(doc, "key_marks") else None
    m = m or doc.mark(path)
    return Problem(getattr(m, "file", None) or file, int(m.line) if m else 1,
                   m.col if m else 1, code, message)


def validate_file(path: str | Path, strict: bool = False, variants: int = 0,
                  progress=None) -> list[Problem]:
    """Every problem of one file, errors first, in file order within each pass. A file that
    cannot be read (missing, a folder, not UTF-8, too large) is one E000 problem, the
    command's exit status 2 (:data:`UNREADABLE`). ``variants``: draw seeds 0 … N−1 (not
    only seed 0) and check each, with the ``tests:``; ``progress(done, total)`` is told
    after each seed."""
    from tutor.yamlio import read_text

    file = str(path)
    try:
        text = read_text(file)
    except InputError as err:
        return [_from_error(err, file, UNREADABLE)]
    return validate_text(text, file, strict, variants, progress)


def validate_text(text: str, file: str = "<string>", strict: bool = False, variants: int = 0,
                  progress=None) -> list[Problem]:
    """Every problem of one exercise text (``strict``: W305 per-step misconception notes;
    ``variants``, ``progress``: as :func:`validate_file`)."""
    try:
        found = _validate(text, file, strict, variants, progress)
        # an extending file's own problems first, then those in its bases (extends:)
        return sorted(found, key=lambda p: (p.is_warning, p.file != file))
    except InputError as err:
        return [_from_error(err, file)]
    except RecursionError:
        return [Problem(file, 1, 1, "E233", "the exercise is too deeply nested")]
    except Exception as err:  # a bug must still come out as one line, not a traceback
        return [Problem(file, 1, 1, "E999",
                        f"internal error while validating: {type(err).__name__}: {err}")]


def _validate(text: str, file: str, strict: bool = False, n_variants: int = 0,
              progress=None) -> list[Problem]:
    from tutor.exercise import (Exercise, SPEC, author_errors, content_hash, extend,
                                spec_errors)
    from tutor.yamlio import load_yaml

    import yaml

    try:
        doc = load_yaml(text, file)
    except InputError as err:  # any failure of the YAML reader itself; E006 for a number
        return [_from_error(err, file, err.code if err.code == "E006" else "E005")]
    except (yaml.YAMLError, ValueError) as err:  # what the reader let through
        m = getattr(err, "problem_mark", None)
        return [Problem(file, m.line + 1 if m else 1, m.column + 1 if m else 1, "E005",
                        f"invalid YAML: {getattr(err, 'problem', None) or err}".split("\n")[0])]
    try:  # extends: the base merged in (a base that cannot be read, a cycle: E000, exit 2)
        doc = extend(doc, file, len(text.encode("utf-8")))
    except InputError as err:  # at the extends: line, or the base's own YAML problem
        return [_from_error(err, file, err.code)]
    errs = spec_errors(doc, file)
    if errs:
        return _sorted([_from_error(e, file) for e in errs])
    spec = SPEC.validate_python(doc.data)
    ex = Exercise(spec=spec, file=file, doc=doc, sha=content_hash(doc.data))
    # values the types allow but no exercise means (E014–E019, W307, W308): reported with
    # the rest; a network too large (E211) is not compiled nor solved
    author = [_from_error(e, file) for e in author_errors(spec, doc, file)]
    if any(p.code == "E211" for p in author):
        return _sorted(author)
    variant_problems = _variant_problems(ex)
    structure, compiled = _structure_problems(ex)
    said = {(p.file, p.line, p.col, p.code) for p in author}  # E204 of a class-index target
    structure = [p for p in structure if (p.file, p.line, p.col, p.code) not in said]  # once
    problems = author + variant_problems + structure
    if not compiled:
        return _sorted(problems)
    from tutor.worked import work_exercise
    from tutor.errors import TutorError

    try:
        worked = work_exercise(ex, step_ids=False)  # E230 is reported above, among the rest
    except InputError as err:
        return _sorted(problems + [_from_error(err, file)])
    except TutorError as err:
        return _sorted(problems + [Problem(file, 1, 1, "E299", str(err))])
    # warnings need a solved exercise, nothing more: a name colliding with a step id (E230)
    # or a bad variants block does not stop them (the variant checks wait for both: every
    # variant of a graph with a collision is refused the same way)
    sound = not variant_problems and not any(p.code == "E230" for p in structure)
    problems += _warnings(ex, worked, strict, variants=sound, seed0=not n_variants)
    drawn: list[int] = []  # the seeds that have a variant (for tests with seed: all)
    if sound and ex.spec.variants is not None:
        found, drawn = _draws(ex, max(n_variants, 1), progress if n_variants else None)
        if n_variants:  # seed 0 alone: its refusal is among the warnings pass's
            problems += found
    if ex.spec.tests:
        from tutor.answertests import check

        problems += [_at(doc, file, f.path, f.code, f.message, key=False)
                     for f in check(ex, worked, drawn, variants_ok=sound)]
    return _sorted(problems)


def _draws(ex, n: int, progress=None) -> tuple[list[Problem], list[int]]:
    """``--variants N``: seeds 0 … N−1 each drawn (and so checked against ``require``, as
    every variant is: a draw that fails is drawn again, up to ``tries``; each seed is drawn
    once per loaded exercise, tutor.variants.realize). The seeds with no variant are one
    E045, at the ``variants:`` block: how many, which, and the first's reason; and the seeds
    that have one."""
    from tutor.variants import VariantError, realize

    failed, ok = [], []
    for seed in range(n):
        try:
            realize(ex, seed)
            ok.append(seed)
        except VariantError as err:
            failed.append((seed, err))
        if progress is not None:
            progress(seed + 1, n)
    if not failed:
        return [], ok
    seed, err = failed[0]
    if len(failed) == 1:
        return [_from_error(err, ex.file)], ok
    which = ", ".join(str(s) for s, _ in failed[:10]) + (" …" if len(failed) > 10 else "")
    return [replace(_from_error(err, ex.file), message=(
        f"{len(failed)} of {n} seeds have no variant that meets the conditions (seeds "
        f"{which}); seed {seed}: {err.message}"))], ok


def _sorted(problems: list[Problem]) -> list[Problem]:
    # in file order (the files of an extends: chain each by itself: validate_text)
    return sorted(problems, key=lambda p: (p.is_warning, p.file, p.line, p.col, p.code))


# ─── pass 1b: variants ──────────────────────────────────────────────────────────────────
def _variant_problems(ex) -> list[Problem]:
    v = ex.spec.variants
    if v is None:
        return []
    from tutor.variants import samplers

    _, errs = samplers(ex.doc.data, ex.file, ex.doc)
    out = [_from_error(e, ex.file) for e in errs]
    spec = ex.spec
    for k, want in enumerate(v.require.dead_relu):
        path = ("variants", "require", "dead_relu", k)
        if spec.kind == "network":
            n = len(spec.layers)
            if not isinstance(want, int) or not 1 <= want <= n:
                out.append(_at(ex.doc, ex.file, path, "E046",
                               f"dead_relu: {want!r} is not a layer number (1…{n})", key=False))
            elif spec.layers[want - 1].activation not in ("relu", "leaky_relu"):
                out.append(_at(ex.doc, ex.file, path, "E046",
                               f"dead_relu: layer {want} has activation "
                               f"{spec.layers[want - 1].activation}, not relu", key=False))
        else:
            node = spec.nodes.get(str(want))
            if node is None or "relu" not in str(node):
                what = "is not a node" if node is None else "does not apply relu"
                out.append(_at(ex.doc, ex.file, path, "E046",
                               f"dead_relu: '{want}' {what}", key=False))
    if v.require.distinguishable and isinstance(v.require.distinguishable, list):
        import difflib

        from tutor.misconceptions import CATALOGUE

        for k, mid in enumerate(v.require.distinguishable):
            if mid not in CATALOGUE:
                near = difflib.get_close_matches(mid, list(CATALOGUE), n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                out.append(_at(ex.doc, ex.file,
                               ("variants", "require", "distinguishable", k), "E046",
                               f"distinguishable: no misconception '{mid}'{hint}",
                               key=False))
    return out


# ─── pass 2: structure (the compiler, every problem; then step-id clashes) ─────────────
def _structure_problems(ex) -> tuple[list[Problem], bool]:
    """Every structural problem, and whether the exercise compiled. The compiler collects
    every independent problem (``tutor.graph.compile_errors``); a graph that does not
    compile still gets W301 for a parameter that no expression on the way to the loss
    even mentions (sound without compiling: nothing can make the loss depend on it)."""
    from tutor.graph import compile_errors, step_id_collisions

    graph = ex.spec.kind == "graph"
    out = [_from_error(e, ex.file) for e in step_id_collisions(ex)]
    errs = compile_errors(ex)
    out += [_expr_problem(e, ex.file) if isinstance(e, ExprError) else _from_error(e, ex.file)
            for e in errs]
    if errs and graph:
        out += _unmentioned_params(ex)
    return out, not errs


def _expr_problem(err: ExprError, file: str) -> Problem:
    # the parser says which: an unknown name (E232), a size bound (E233), tensor shapes
    # (E234); else E231
    return _from_error(err, file, err.code if err.code in ("E232", "E233", "E234") else "E231")


def _unmentioned_params(ex) -> list[Problem]:
    """W301 without a compiled graph: parameters no node on the way to the loss mentions
    (by the names in the expression texts, which over-approximate what each node uses)."""
    import re

    spec = ex.spec
    if spec.loss not in spec.nodes:
        return []
    ident = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
    live, todo = {spec.loss}, [spec.loss]
    while todo:
        src = spec.nodes.get(todo.pop())
        for t in ident.findall("" if src is None else str(src)):
            if t not in live:
                live.add(t)
                todo.append(t)
    return [_at(ex.doc, ex.file, ("params", p), "W301", _unused_message(spec.loss, p))
            for p in spec.params if p not in live]


def _cancelled(g, live: set[str], limit: int = 2_000, nesting: int = 6) -> list[str]:
    """Parameters on a path to the loss whose paths cancel: a graph's loss written out in its
    leaves (u = a·x, v = a·x, L = u − v + b² is b²) has no such parameter in it. Only what
    SymPy's automatic simplification sees; a written-out loss past ``limit`` operations, or
    with functions nested deeper than ``nesting`` (a chain of tanh nodes: SymPy's
    simplification of tanh(tanh(…(x))) costs 4× per level, 30 s at ten), is not attempted."""
    import sympy as sp

    if g.kind != "graph" or any(n.op == "tensor" for n in g.nodes.values()):
        return []  # a tensor graph: not written out (its nodes are matrices)
    composed: dict[str, sp.Expr] = {}
    depth: dict[str, int] = {}

    def nest(e) -> int:  # how deep functions nest in e written out in the leaves
        if e.is_Symbol:
            return depth.get(e.name, 0)
        inner = max((nest(a) for a in e.args), default=0)
        return inner + (isinstance(e, sp.Function) or (e.is_Pow and not e.exp.is_Integer))

    for node in g.nodes.values():  # in topological order
        if node.op != "expr":
            composed[node.name] = sp.Symbol(node.name)
            continue
        depth[node.name] = nest(node.attrs["expr"])
        if depth[node.name] > nesting:
            return []
        e = node.attrs["expr"].xreplace({sp.Symbol(p): composed[p] for p in node.parents})
        if sp.count_ops(e) > limit:
            return []
        composed[node.name] = e
    loss = composed.get(g.loss)
    if loss is None:
        return []
    return [p for p in g.params if p in live and sp.Symbol(p) not in loss.free_symbols]


def _unused_message(loss: str, param: str) -> str:
    return (f"the loss {loss} does not depend on parameter {param}: its gradient is 0 by "
            "construction")


# ─── pass 3: warnings on the solved exercise ────────────────────────────────────────────
def _ties(doc, file, worked) -> list[Problem]:
    """W306: max(a, b) with a = b (min likewise) is not differentiable there. The engine
    splits the derivative evenly (∂max/∂a = ∂max/∂b = ½, SymPy's Heaviside(0)), but
    nested maxes can then disagree with the flattened one; the author should break the tie."""
    import sympy as sp

    from tutor.functions import sign
    from tutor.render import fmt
    from tutor.words.notation import pretty

    g, sol, out, seen = worked.graph, worked.solution, [], set()
    if g.kind != "graph" or worked.exercise.spec.conventions.maxpool_tie:  # stated: said
        return out
    for it in range(1, sol.n_iterations + 1):
        for node in g.nodes.values():
            if node.op != "expr" or node.name in seen:
                continue
            sub = {sp.Symbol(p): sol.value(p, it) for p in node.parents}
            for atom in sorted(node.attrs["expr"].atoms(sp.Max, sp.Min), key=sp.default_sort_key):
                vals = [a.xreplace(sub) for a in atom.args]
                wins = 1 if isinstance(atom, sp.Max) else -1  # the sign of a winner - top
                top = vals[0]
                for v in vals[1:]:
                    if sign(v - top) == wins:
                        top = v
                if sum(1 for v in vals if sign(v - top) == 0) > 1:
                    seen.add(node.name)
                    at = f" (iteration {it})" if it > 1 else ""
                    out.append(_at(doc, file, ("nodes", node.name), "W306",
                                   f"{pretty(atom)}: its arguments tie at {fmt(top)}{at}; "
                                   "the derivative at a tie is a convention (tutor splits it "
                                   "evenly) — change a value so one argument wins", key=False))
                    break
    return out


def _pool_ties(doc, file, worked) -> list[Problem]:
    """W309: a 2×2 window of a max pool whose largest entry is not alone (a dead ReLU's
    zeros, two equal pixels). The gradient goes to one entry only, and which one is a
    convention: the engine's (tutor.tensors, the first largest row by row, as PyTorch) —
    a student may as well give it to another. One warning per maxpool of a node, at the
    maxpool in the node's text, with the tied windows of the first iteration that has one."""
    from tutor.functions import sign
    from tutor.rules import tensor_parts
    from tutor.tensors import _pool_winners, shape_of
    from tutor.words.problems import pool_tie

    g, sol, out, seen = worked.graph, worked.solution, [], set()
    if g.kind != "graph" or worked.exercise.spec.conventions.maxpool_tie:  # stated: said
        return out
    for it in range(1, sol.n_iterations + 1):
        for node in g.nodes.values():
            if node.op != "tensor" or "maxpool" not in node.attrs["tree"].ops():
                continue
            memo = tensor_parts(node, {p: sol.value(p, it) for p in node.parents}, g)
            stack = [node.attrs["tree"]]
            while stack:
                t = stack.pop()
                stack.extend(t.args)
                if t.op != "maxpool" or (node.name, t.at) in seen:
                    continue
                x = memo[id(t.args[0])]
                ties = []
                for o, (window, best) in sorted(_pool_winners(x).items()):
                    tied = [k for k in window if sign(x[k] - x[best]) == 0]
                    if len(tied) > 1:
                        ties.append((o, tuple(tied), best, x[best]))
                if not ties:
                    continue
                seen.add((node.name, t.at))
                m = doc.mark(("nodes", node.name))
                name = t.args[0].text if t.args[0].op == "name" else f"({t.args[0].text})"
                out.append(Problem(getattr(m, "file", None) or file, int(m.line) if m else 1,
                                   (m.col if m else 1) + t.at, "W309",
                                   pool_tie(t.text, name, ties, shape_of(x), it)))
    return out


def _warnings(ex, worked, strict: bool = False, variants: bool = True,
              seed0: bool = True) -> list[Problem]:
    doc, file, g = ex.doc, ex.file, worked.graph
    out = []
    live = g.reaches_loss()
    for p in g.params:
        if p not in live:
            out.append(_at(doc, file, g.nodes[p].path, "W301", _unused_message(g.loss, p)))
    for p in _cancelled(g, live):
        out.append(_at(doc, file, g.nodes[p].path, "W301",
                       f"the loss {g.loss} does not depend on parameter {p}: its paths to "
                       f"{g.loss} cancel (written out, {g.loss} has no {p} in it), so its "
                       "gradient is 0 for any values"))
    conventions = doc.data.get("conventions") if isinstance(doc.data, dict) else None
    stated = isinstance(conventions, dict) and "relu_prime_at_zero" in conventions
    if not stated:
        from tutor.variants import relu_inputs

        seen = set()
        for r in relu_inputs(worked):
            from tutor.functions import sign

            if sign(r.value) == 0 and (r.path, r.where) not in seen:
                seen.add((r.path, r.where))
                it = f" (iteration {r.iteration})" if r.iteration > 1 else ""
                out.append(_at(doc, file, r.path, "W302",
                               f"{entry_of(r)} = 0 exactly{it}: ReLU′(0) decides the answer; state "
                               "it with conventions: {relu_prime_at_zero: 0 or 1}", key=False))
    out += _ties(doc, file, worked)
    out += _pool_ties(doc, file, worked)
    from tutor.misconceptions import indistinguishable

    pairs = indistinguishable(worked)  # once: W303/W305 and the W304 condition share it
    out += _misconception_warnings(ex, worked, strict, pairs)
    v = ex.spec.variants
    if v is not None and variants:
        from tutor.errors import TutorError
        from tutor.variants import VariantError, realize, unmet

        try:
            fails = unmet(worked, v.require, pairs)
        except (ImportError, TutorError):
            fails = []
        if fails:
            out.append(_at(doc, file, ("variants", "require"), "W304",
                           f"the base values fail {words_unmet(fails[0])} (they are used when no "
                           "--seed/--student is given)"))
        try:
            if seed0:  # --variants N draws seeds 0 … N−1 itself (_draws)
                realize(ex, 0)
        except VariantError as err:
            out.append(_from_error(err, file))
    return out


def _misconception_warnings(ex, worked, strict: bool = False,
                            pairs: list | None = None) -> list[Problem]:
    """W303: a misconception that no asked step can tell from the truth — a student who
    makes that mistake everywhere hands in a sheet of right answers. With ``strict``, W305
    for every single step a misconception reproduces (common and often harmless: Lab 9's
    δ1 has every unit alive, so a missing mask gives the true δ1; δ2 still catches it)."""
    if pairs is None:
        from tutor.misconceptions import indistinguishable

        pairs = indistinguishable(worked)
    out = []
    first: dict[str, str] = {}
    for step_id, mid in pairs:
        first.setdefault(mid, step_id)
        if strict:
            out.append(_at(ex.doc, ex.file, _step_path(worked, step_id), "W305",
                           f"at step {step_id} the misconception {mid} gives the true answer",
                           key=False))
    for mid, step_id in first.items():
        if invisible(worked, mid):
            out.append(_at(ex.doc, ex.file, _step_path(worked, step_id), "W303",
                           f"the misconception {mid} gives the true answer at {step_id} and at "
                           "every other step asked: the exercise cannot tell that mistake "
                           "from the truth", key=False))
    return out


def _step_path(worked, step_id: str) -> tuple:
    try:
        return worked.graph.nodes[worked.step(step_id).key[2]].path
    except KeyError:
        return ()


def invisible(worked, mid: str) -> bool:
    """True when the whole exercise worked with misconception ``mid`` everywhere (the
    solver with its buggy rules table) matches the truth at every asked step."""
    from tutor.misconceptions import buggy_rules, same
    from tutor.solve import solve

    solved = False
    for variant in range(8):
        try:
            rules = buggy_rules(mid, variant)
        except (IndexError, KeyError):
            break
        try:
            sol = solve(worked.graph, rules)
        except Exception:  # the buggy rule cannot be used in this exercise
            continue
        solved = True
        for s in worked.steps:
            q = sol.quantities.get(s.key)
            if q is None or not same(worked.tolerance, q.value, s.value):
                return False
    return solved
