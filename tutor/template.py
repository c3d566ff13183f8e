"""The blank answer sheet a teacher hands out (`tutor template`): a YAML file with the
exercise's header, its given numbers as comments (never an answer) and one empty line per
step, each with what it asks. Read back by :mod:`tutor.sheets`; the format is DESIGN.md §4.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from tutor.sheets import _one_line
from tutor.words import asked_shape, expression_syntax, formula_syntax, tolerance_label
from tutor.words.notation import meaning_text


def _grading_ref(ex) -> str:
    """What `tutor check` needs to find the exercise: its id when bundled, else its file
    (a local exercise's id is not something check can look up)."""
    from tutor.catalog import bundled

    here = Path(ex.file).resolve()
    if any(e.id == ex.id and e.path.resolve() == here for e in bundled()):
        return ex.id
    import shlex

    return shlex.quote(str(ex.file))


# ─── writing: the blank template ──────────────────────────────────────────────────────
def template(worked, student: str = "", grade: str | None = None) -> str:
    """A blank answer sheet for ``worked``: every step id in order, each with its meaning.
    ``grade``: the grading command the sheet says (default: `tutor check EXERCISE SHEET.yaml`;
    a course's sheets say the course's)."""
    ex = worked.exercise
    seed = getattr(worked, "seed", None)
    width = max((len(s.id) for s in worked.steps), default=0) + 2
    out = [
        f"# Answer sheet: {_one_line(ex.spec.title or ex.id)}",
        *(["# Write each answer after its colon."] +
          ["# " + line for line in formula_syntax(worked).splitlines()]
          if all(s.phase == "formulas" for s in worked.steps) else
          ["# Write each answer after its colon."] +
          ["# " + line for line in expression_syntax(worked).splitlines()]
          if worked.symbolic else
          ["# Write each answer after its colon. Numbers: -0.375  -3/8  1.2e-3  1/(1+exp(-2))",
           "#   vectors: [-0.5, 0]    matrices: [[-0.25, 0.5], [0, 0]]  or  -0.25 0.5; 0 0"]),
        f"#   tolerance: {tolerance_label(worked.tolerance, worked.symbolic)}. Leave a step blank to skip it.",
        f"# Grade it: {grade or f'tutor check {_grading_ref(ex)} SHEET.yaml'}",
        *given_lines(worked),
        f"exercise: {ex.id}",
        f"sha: \"{ex.math_sha or ex.sha}\"  # the exercise's hash: leave it as it is",
        f"student: {_yaml_str(student)}" + (
            "  # picks your variant: a named sheet is graded against this student's own"
            if seed is not None else ""),
    ]
    if seed is not None:
        out.append(f"seed: {seed}  # your variant: leave it as it is")
    out.append("answers:")
    phase = None
    for s in worked.steps:
        if s.phase != phase:
            phase = s.phase
            out.append(f"  # ── {phase} ──")
        label = f"{s.id}:".ljust(width)
        out.append(f"  {label}  # {_one_line(meaning_text(s.meaning))}, {asked_shape(s)}")
    return "\n".join(out) + "\n"


def personal_sheets(ref: str, roster, out: Path, cache=None, secret=None,
                    grade: str | None = None):
    """One sheet per roster student in ``out`` (made if missing): their own variant where
    the exercise has variants, their id in ``student:`` either way. Yields (student, path,
    status) as each is done — "written", "unchanged" (the same sheet is there), or "kept"
    (another file is there: perhaps filled in, never overwritten) — so a front end can show
    progress. Two ids that make the same file name are refused before anything is written.
    ``cache`` (tutor.drawcache.DrawCache): where which draw gave each variant is written
    (every 100 students and at the end), for `tutor check`. ``secret``
    (tutor.course.CourseSecret): mixed into each student's seed, as `tutor check` takes it
    (tutor.course.variant_seed); ``grade``: the grading command each sheet says."""
    from tutor.core import variant, work
    from tutor.course import variant_seed
    from tutor.errors import InputError
    from tutor.roster import sheet_name

    names: dict[str, str] = {}
    for st in roster.students:
        n = sheet_name(st.id).lower()
        if n in names:
            raise InputError(f"students '{names[n]}' and '{st.id}' would get the same sheet "
                             f"file ({sheet_name(st.id)})", roster.file, st.line)
        names[n] = st.id
    out.mkdir(parents=True, exist_ok=True)
    base = work(ref, note=False)  # the exercise, read once for the whole roster
    ex = base.exercise
    try:
        for n, st in enumerate(roster.students, start=1):
            path = out / sheet_name(st.id)
            if ex.spec.variants is None:
                text = template(base, st.id, grade)
            else:  # as work(ref, student=st.id) draws it (without a secret)
                seed = variant_seed(st.id, ex.id, secret)
                text = template(variant(ex, seed, cache), st.id, grade)
                ex.drawn.pop(seed, None)  # written: not kept (a roster may be long)
            if cache is not None and n % 100 == 0:
                cache.flush()
            if path.exists():
                old = path.read_text(encoding="utf-8", errors="replace")
                yield st, path, "unchanged" if old == text else "kept"
                continue
            path.write_text(text, encoding="utf-8")
            yield st, path, "written"
    finally:
        if cache is not None:
            cache.flush()


GIVEN_WIDTH = 100  # a given matrix longer than this is written one row per line


def given_lines(worked) -> list[str]:
    """The exercise's given numbers as comment lines (never an answer): every input,
    parameter, constant and target with its value at the start (the student's own variant's
    for an exercise with variants), the learning rate, and what later iterations change."""
    g = worked.graph
    first = {**g.init, **(g.iterations[0] if g.iterations else {})}
    seed = getattr(worked, "seed", None)
    head = "# Given" + (f" (your variant, seed {seed})" if seed is not None else "") + ":"
    rows: list[tuple[str, Any, str, str]] = []  # (name, value, value text, note)
    for node in g.nodes.values():
        if not node.is_leaf or node.name not in first:
            continue
        v = first[node.name]
        rows.append((node.name, v, given_text(v), _given_note(g, node)))
    from tutor.rules import act_param
    from tutor.words import ACT_PARAM

    for node in g.nodes.values():  # a leaky ReLU's slope, ELU's α: h depends on it
        a = act_param(node)
        if a is not None:
            rows.append((f"α{node.attrs.get('layer', '')}", a, given_text(a),
                         f"{ACT_PARAM[node.attrs['fn']]}, layer {node.attrs.get('layer')}"))
    if g.learning_rate is not None:
        rows.append(("η", g.learning_rate, given_text(g.learning_rate), "learning rate"))
    width = max((len(n) for n, _, _, _ in rows), default=0)
    col = max((len(t) for _, _, t, _ in rows if len(t) + width < GIVEN_WIDTH - 30), default=0)
    out = [head]
    for name, value, text, note in rows:
        lead = f"#   {name.ljust(width)} = "
        gap = " " * max(col - len(text), 0) if len(text) <= col else ""
        out += _wrapped(lead, value, text, f"{gap}  ({note})" if note else "")
    for k, data in enumerate(g.iterations[1:], start=2):
        if data:
            out.append(f"#   iteration {k}: " + ", ".join(
                f"{n} = {given_text(v)}" for n, v in data.items()))
    return out


def _given_note(g, node) -> str:
    if g.kind == "network":
        if node.op in ("input", "const"):
            what = "input" if node.op == "input" else "target"
            v = g.init.get(node.name)
            if getattr(v, "rows", 1) > 1 and getattr(v, "cols", 1) > 1:
                what += f", one example per {'column' if g.layout == 'column' else 'row'}"
            return what
        return f"layer {node.attrs.get('layer')}" if node.attrs.get("layer") else ""
    return {"input": "input", "param": "parameter", "const": "constant"}.get(node.op, "")


def _wrapped(lead: str, value: Any, text: str, note: str) -> list[str]:
    """``lead + text + note``, or a matrix (``value``) one row per line when that is too long."""
    n, m = getattr(value, "shape", (1, 1))
    if len(lead) + len(text) + len(note) <= GIVEN_WIDTH or n < 2 or m < 2:
        return [lead + text + note]
    rows = [("[[" if i == 0 else "[") + ", ".join(_exact(x) for x in value.row(i))
            + ("]]" if i == n - 1 else "],") for i in range(n)]
    pad = "#" + " " * (len(lead) - 1)
    return [(lead if i == 0 else pad) + r + (note if i == len(rows) - 1 else "")
            for i, r in enumerate(rows)]


def given_text(v: Any) -> str:
    """A given value exactly: a decimal when it terminates (0.1, -0.25), else p/q; vectors
    as [a, b], matrices as [[a, b], [c, d]]."""
    from tutor.render import bracketed

    return bracketed(v, _exact)


def _exact(x: Any) -> str:
    """An exact number as short text: 3/5 → 0.6, 1/3 → 1/3, sqrt(2) as SymPy prints it."""
    if getattr(x, "is_Rational", False) or isinstance(x, (int, Fraction)):
        f = Fraction(int(x.p), int(x.q)) if hasattr(x, "p") else Fraction(x)
        d = f.denominator
        for p in (2, 5):
            while d % p == 0:
                d //= p
        if d != 1:
            return f"{f.numerator}/{f.denominator}"
        text = format(Decimal(f.numerator) / Decimal(f.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    from tutor.render import exact_text

    return exact_text(x)


def _yaml_str(text: str) -> str:
    return '""' if not text else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ─── reading ──────────────────────────────────────────────────────────────────────────
