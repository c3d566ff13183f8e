"""`tutor practice`: the step-by-step quiz. A core that returns data, and a thin I/O layer.

Core (no I/O): ``Session(worked)`` asks ``worked.steps`` in order. An answer is parsed and
shaped by tutor.grade.parse_for (bad syntax or shape: a message, no attempt used) and
accepted when, entry by entry, |answer − v| ≤ abs + rel·|v| (tutor.grade.Tolerance) for
    v = the exact value, or
    v = the value recomputed from the student's own accepted answers so far
        (one solve with those answers as overrides: rounding carried forward).
A wrong answer gets, in turn: the rule (δ = ∂L/∂h ⊙ ReLU′(z)), the formula with the
student's own numbers, then — after ``tries`` wrong answers — the answer, explained. Every
zero entry the student missed gets its cause in words (Step.zeros). A wrong answer that a
catalogued misconception reproduces is named, with the buggy and the correct rule (not the
correct value: that is the answer), and the next hint is the one aimed at that bug
(tutor.misconceptions.hint). A revealed or skipped step carries the exact value forward.

I/O: ``run()`` draws the exercise (tutor.draw), reads answers through an injected ``ask``
function, prints with an injected rich Console, and records every finished step — and every
wrong try and hint of the step under way — in the progress store (tutor.progress), one
transaction each, so a session resumes exactly where it stopped.
"""
from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from tutor.errors import TutorError
from tutor.grade import is_trivial, parse_for
from tutor.progress import Answer, Pending
from tutor.render import entry_name, exact_text, fmt
from tutor.rules import entries, is_zero
from tutor.writeup import formula_text, same_text, zero_lines

HINT_WORDS = ("?", "hint", "h")
SKIP_WORDS = ("skip", "s")
QUIT_WORDS = ("quit", "q", "exit")
SHOW_WORDS = ("show", "draw")
ENTRY_WORDS = ("entries", "each", "entry")
HELP_WORDS = ("help",)
SYNTAX = ("Answers: 0.5 · -73/200 · 1.2e-3 · 1/(1+exp(-0.552)) · vectors [1, 0] or 1 0\n"
          "         matrices [[1, 2], [3, 4]] or 1 2; 3 4")
COMMANDS = "Commands: ? or hint · skip · quit (saved) · show (redraw) · entries (one by one)"


@dataclass(frozen=True)
class Feedback:
    """What the session says about one input. ``record``: set when the step is finished."""

    kind: str  # correct | wrong | invalid | hint | revealed | skipped
    step_id: str
    lines: tuple[str, ...]
    record: Answer | None = None
    misconceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParamRow:
    """One parameter in the end-of-exercise table."""

    name: str
    grad: str  # ∂L/∂p, rounded
    new: str  # the updated value ("" without a learning rate)
    changes: int  # entries that will change
    total: int
    why: tuple[str, ...]  # "W2[2,1], W2[2,2]: no error signal reaches unit 2 …"


def _rule(step) -> str:
    sym, _ = formula_text(step)
    text = step.meaning if not sym or same_text(sym, step.meaning) else f"{step.meaning} = {sym}"
    if step.formula is not None and step.formula.note:
        text += f"   ({step.formula.note})"
    return text


class Session:
    """One student working one exercise. ``done``: answers restored from the store."""

    def __init__(self, worked, tries: int = 3, done: Mapping[str, Answer] | None = None,
                 pending: Pending | None = None):
        self.worked, self.tries = worked, max(1, tries)
        self.tol = worked.tolerance
        self.results: dict[str, Answer] = {}
        self.own: dict[str, Any] = {}  # step id → the value carried forward
        self._follow = None  # (number of own answers, Solution)
        self.wrong = self.hints = self.rung = 0
        self.target: str | None = None  # a diagnosed misconception whose hint is due
        self.told: set[str] = set()  # misconceptions whose hint was shown at this step
        for s in worked.steps:
            a = (done or {}).get(s.id)
            if a is None:
                continue
            value = parse_for(s, a.text)[0] if a.result == "correct" and a.text else None
            self.results[s.id] = a
            self.own[s.id] = value if value is not None else s.value
        cur = self.current
        if pending is not None and cur is not None and pending.step == cur.id:
            self.wrong, self.hints, self.rung = pending.wrong, pending.hints, pending.rung
            self.target, self.told = pending.target, set(pending.told)

    def pending(self) -> Pending | None:
        """The step under way, as the store keeps it (None: untouched, or all done)."""
        cur = self.current
        if cur is None or not (self.wrong or self.hints or self.rung or self.target):
            return None
        return Pending(cur.id, self.wrong, self.hints, self.rung, self.target,
                       tuple(sorted(self.told)))

    # ─── state ──────────────────────────────────────────────────────────────────────────
    @property
    def current(self):
        for s in self.worked.steps:
            if s.id not in self.results:
                return s
        return None

    @property
    def position(self) -> tuple[int, int]:
        return len(self.results) + (self.current is not None), len(self.worked.steps)

    def score(self) -> tuple[int, int]:
        return (sum(a.result == "correct" for a in self.results.values()),
                len(self.worked.steps))

    def follow(self):
        """The solution recomputed from the student's own answers so far (cached)."""
        if self._follow is None or self._follow[0] != len(self.own):
            from tutor.solve import solve

            steps = {s.id: s for s in self.worked.steps}
            over = {steps[i].key: v for i, v in self.own.items()}
            try:
                follow = solve(self.worked.graph, overrides=over)
            except TutorError:  # the rounded answers leave the domain (ŷ = 1 in BCE): the truth
                follow = self.worked.solution
            self._follow = (len(self.own), follow)
        return self._follow[1]

    def _own_formula(self, step) -> str:
        """The step's formula with the student's own numbers (a forward value: its inputs)."""
        sol = self.follow()
        q = sol.quantities.get(step.key)
        f = q.formula if q is not None else None
        if f is not None and f.operands:
            return f"{f.symbolic()} = {f.numeric()}"
        return _inputs(sol, step)

    # ─── inputs ─────────────────────────────────────────────────────────────────────────
    def submit(self, text: str) -> Feedback:
        step = self.current
        value, err = parse_for(step, text)
        if value is None:
            msg = "type an answer (or ? for a hint)" if err == "missing" else err
            lines = [f"Not read: {msg}. No try used."]
            if _decimal_commas(step, text):
                lines.append("The decimal point is '.': type 0.6, not 0,6 (a comma separates "
                             "entries).")
            return Feedback("invalid", step.id, tuple(lines))
        if self.tol.ok(value, step.value):
            return self._accept(step, value, text, "")
        fv = self.follow().quantities.get(step.key)
        fv = fv.value if fv is not None else None
        if fv is not None and self.tol.ok(value, fv) and not is_trivial(fv):
            return self._accept(step, value, text,
                                f"accepted: consistent with your rounded earlier answers "
                                f"(exact: {fmt(step.value, 6)})")
        return self._wrong(step, value, fv)

    def hint(self) -> Feedback:
        step = self.current
        self.hints += 1
        line = self._rung(step)
        return Feedback("hint", step.id, (line,))

    def skip(self) -> Feedback:
        step = self.current
        return self._reveal(step, "skipped", ("Skipped.",))

    def _rung(self, step) -> str:
        """The next hint: the one aimed at a misconception just diagnosed, else the rule,
        then the formula with your numbers, then the zeros."""
        if self.target is not None:
            mid, self.target = self.target, None
            self.told.add(mid)
            from tutor.misconceptions import CATALOGUE, hint

            if mid in CATALOGUE:  # (a store written by another version may name others)
                return f"Hint ({CATALOGUE[mid].name}): {hint(self.worked, step.id, mid)}"
        self.rung += 1
        if self.rung == 1:
            return f"Rule: {_rule(step)}"
        if self.rung == 2:
            own = self._own_formula(step)
            if own.startswith("with "):
                return f"With your numbers: {step.meaning}, {own}"
            if own:
                return f"With your numbers: {step.meaning} = {own}"
        zs = zero_lines(step)
        if self.rung <= 3 and zs:
            return "Zeros: " + "; ".join(f"{e} = 0 ({why})" for e, why in zs)
        return "No more hints: type `skip` to see the answer explained."

    def _accept(self, step, value, text: str, note: str) -> Feedback:
        rec = Answer(step.id, step.skill, "correct", text.strip(), self.wrong, self.hints)
        self._finish(step, rec, value)
        lines = [f"✓ {step.id} = {fmt(value)}"] + self._explain(step, show_value=False)
        if note:
            lines.append(note)
        return Feedback("correct", step.id, tuple(lines), rec)

    def _wrong(self, step, value, fv) -> Feedback:
        self.wrong += 1
        lines = [f"✗ {step.id} = {_short(fmt(value))} is not right"
                 f" ({self.wrong} of {self.tries} tries)."]
        lines += self._entry_report(step, value, fv)
        codes = []
        last = self.wrong >= self.tries  # the answer is shown right after: nothing to hide
        for d in self._diagnose(step, value):
            codes.append(d.misconception.id)
            text, name = d.explain(reveal=last), d.misconception.name
            if not text.lower().startswith(name.lower()):
                text = f"{name} — {text}"
            lines.append(f"This looks like: {text}")
        if last:
            fb = self._reveal(step, "revealed", tuple(lines))
            return Feedback("revealed", step.id, fb.lines, fb.record, tuple(codes))
        new = [c for c in codes if c not in self.told]
        if new:  # the diagnosis gave the correct rule; the next `?` is aimed at the bug
            self.target = new[0]
            lines.append("Type ? for a hint aimed at this mistake.")
        else:
            lines.append(self._rung(step))
        return Feedback("wrong", step.id, tuple(lines), None, tuple(codes))

    def _entry_report(self, step, value, fv) -> list[str]:
        """Which entries are off, and the cause of each zero the student missed."""
        import sympy as sp

        if not isinstance(step.value, sp.MatrixBase) or step.value.shape == (1, 1):
            if step.zeros and not self.tol.entry_ok(_scalar(value), 0):
                return [f"{step.id} is 0 here: {why}" for _, why in zero_lines(step)]
            return []
        shape = step.value.shape
        bad, zeros = [], []
        for idx, v in entries(step.value):
            a = value[idx]
            ok = self.tol.entry_ok(a, v) or (fv is not None and self.tol.entry_ok(a, fv[idx]))
            if not ok:
                bad.append(entry_name(step.id, idx, shape))
                if idx in step.zeros and is_zero(v):
                    name = entry_name(step.id, idx, shape)
                    zeros.append(f"{name} = 0, not {_short(fmt(a), 20)}: {step.zeros[idx]}")
        n = step.value.rows * step.value.cols
        out = [f"{n - len(bad)} of {n} entries right; check {', '.join(bad)}."] if bad else []
        return out + zeros

    def _diagnose(self, step, value) -> list:
        from tutor.misconceptions import diagnose

        return list(diagnose(self.worked, step.id, value, dict(self.own)))

    def _reveal(self, step, result: str, lines: tuple[str, ...]) -> Feedback:
        rec = Answer(step.id, step.skill, result, None, self.wrong, self.hints)
        self._finish(step, rec, step.value)
        out = list(lines) + [f"The answer: {step.id} = {fmt(step.value)}"]
        out += self._explain(step, show_value=True)
        return Feedback(result, step.id, tuple(out), rec)

    def _explain(self, step, show_value: bool) -> list[str]:
        sym, num = formula_text(step)
        line = f"  {step.meaning}"
        if sym and not same_text(sym, step.meaning):
            line += f" = {sym}"
        if num and not same_text(num, fmt(step.value)):
            line += f" = {num}"
        line += f" = {fmt(step.value)}"
        out = [line]
        if show_value and not num:
            given = _inputs(self.worked.solution, step)
            if given:
                out.append(f"  {given}")
        exact = exact_text(step.value)
        if show_value and exact != fmt(step.value) and step.quantity.exact:
            out.append(f"  exact: {exact}")
        if step.formula is not None and step.formula.note:
            out.append(f"  rule: {step.formula.note}")
        out += [f"  {e} = 0: {why}" for e, why in zero_lines(step)]
        return out

    def _finish(self, step, rec: Answer, value) -> None:
        self.results[step.id] = rec
        self.own[step.id] = value
        self.wrong = self.hints = self.rung = 0
        self.target, self.told = None, set()

    # ─── the end ────────────────────────────────────────────────────────────────────────
    def parameters(self, it: int = 1) -> list[ParamRow]:
        """Per parameter: its gradient, whether each entry will change, and why not."""
        sol, g = self.worked.solution, self.worked.graph
        rows = []
        for p in g.params:
            q = sol.quantities.get((it, "grad", p))
            new = sol.quantities.get((it, "new", p))
            newt = fmt(new.value) if new is not None else ""
            if q is None:
                v = sol.value(p, it)
                n = len(list(entries(v)))
                rows.append(ParamRow(p, "—", newt, 0, n, ("it does not reach the loss",)))
                continue
            shape = getattr(q.value, "shape", None)
            total = changes = 0
            groups: dict[str, list[str]] = {}
            for idx, v in entries(q.value):
                total += 1
                if not is_zero(v) and g.learning_rate != 0:
                    changes += 1
                else:
                    why = q.zeros.get(idx, "its gradient is 0")
                    groups.setdefault(why, []).append(entry_name(p, idx, shape))
            why = tuple(f"{', '.join(n)}: {w}" if total > 1 else w for w, n in groups.items())
            rows.append(ParamRow(p, fmt(q.value), newt, changes, total, why))
        return rows


def _inputs(sol, step) -> str:
    """'with W1 = …, x = …, b1 = …': the values a forward step is computed from."""
    it, kind, name = step.key
    if kind != "value":
        return ""
    node = sol.graph.nodes[name]
    parts = [f"{p} = {fmt(sol.value(p, it))}" for p in node.parents
             if (it, "value", p) in sol.quantities]
    return "with " + ", ".join(parts) if parts else ""


def _decimal_commas(step, text: str) -> bool:
    """'0,6 0,1' for a vector of 2: numbers written with decimal commas (twice the entries)."""
    from tutor.expr import Parsed, try_parse_answer

    if not re.search(r"\d,\d", text):
        return False
    r = try_parse_answer(text)
    if not isinstance(r, Parsed) or not isinstance(r.value, tuple):
        return False
    n = sum(len(e) if isinstance(e, tuple) else 1 for e in r.value)
    v = step.value
    want = v.rows * v.cols if hasattr(v, "rows") else 1
    return n == 2 * want


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _scalar(v):
    import sympy as sp

    return v[0, 0] if isinstance(v, sp.MatrixBase) else v


# ─── I/O ─────────────────────────────────────────────────────────────────────────────────
STYLES = {"correct": "green", "wrong": "red", "invalid": "yellow", "hint": "cyan",
          "revealed": "magenta", "skipped": "magenta"}


ECHO_MAX = 200  # a piped line longer than this is echoed as its start and its length


def echo_text(line: str) -> str:
    """What the pipe echo shows of a typed line: very long lines are cut."""
    if len(line) <= ECHO_MAX:
        return line
    return f"{line[:40]}… ({len(line)} characters)"


def default_ask(console) -> Callable[[str], str]:
    """``input`` on a terminal; on a pipe, read a line and echo it (EOF raises EOFError)."""
    if sys.stdin is not None and sys.stdin.isatty():
        try:
            import readline  # noqa: F401  (line editing)
        except ImportError:
            pass
        return input

    def ask(prompt: str) -> str:
        console.print(prompt, end="", markup=False)
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            console.print()
            raise EOFError
        console.print(echo_text(line.rstrip("\r\n")), markup=False)
        return line.rstrip("\r\n")

    return ask


def next_exercise(store) -> str | None:
    """The first bundled exercise (in teaching order) not done yet."""
    from tutor.catalog import bundled

    status = store.status()
    for e in bundled():
        st = status.get(e.id)
        if st is None or st.state != "done":
            return e.id
    return None


def pick(store) -> tuple[str, int | None, str | None] | None:
    """What a bare `tutor` opens: (exercise, seed, student) of the most recently opened
    attempt still open whose file is still there; else the next unfinished bundled one."""
    from pathlib import Path

    from tutor.catalog import bundled

    ids = {e.id for e in bundled()}
    for a in store.open_attempts():
        ref = a.ref or a.exercise
        if ref in ids or (a.ref is not None and Path(ref).is_file()):
            return ref, (a.seed if a.student is None else None), a.student
    nxt = next_exercise(store)
    return (nxt, None, None) if nxt is not None else None


def _ref(exercise: str) -> str:
    """How to find the exercise again from anywhere: its bundled id, or an absolute path."""
    from tutor.catalog import bundled, resolve

    path = resolve(exercise)
    for e in bundled():
        if e.id == exercise and e.path == path:
            return exercise
    return str(path.resolve())


def resume_command(exercise: str, worked, seed: int | None, student: str | None,
                   tries: int = 3) -> str:
    """The command that opens this session again: the exercise as typed (a bundled id or a
    path), the variant (--student / --seed) and a non-default --tries."""
    parts = ["tutor", "practice", exercise]
    if getattr(worked, "seed", None) is not None:
        parts += ["--student", student] if student is not None else ["--seed", str(worked.seed)]
    if tries != 3:
        parts += ["--tries", str(tries)]
    return " ".join(shlex.quote(p) for p in parts)


def run(exercise: str | None = None, *, tries: int = 3, seed: int | None = None,
        student: str | None = None, plain: bool = False, restart: bool = False,
        ask: Callable[[str], str] | None = None, console=None, store=None) -> int:
    """The whole session. Returns the exit status (0; 130 after Ctrl-C, progress saved).

    ``exercise=None`` (a bare `tutor`): the most recently opened unfinished attempt, else
    the next unfinished bundled exercise (``pick``)."""
    from rich.console import Console

    from tutor.core import work
    from tutor.progress import Store

    console = console or Console(highlight=False, soft_wrap=False, no_color=plain or None)
    ask = ask or default_ask(console)
    store = store or Store()
    if exercise is None:
        picked = pick(store)
        if picked is None:
            console.print("Every bundled exercise is done. `tutor list` shows your scores; "
                          "`tutor practice ID` works one again.")
            return 0
        exercise, seed, student = picked
    kw = {k: v for k, v in (("seed", seed), ("student", student)) if v is not None}
    worked = work(exercise, **kw)
    variant = getattr(worked, "seed", None)
    attempt = store.open_attempt(worked.id, worked.exercise.sha, variant, len(worked.steps),
                                 restart=restart, ref=_ref(exercise),
                                 student=student if variant is not None else None)
    session = Session(worked, tries, attempt.answers, attempt.pending)
    cmd = resume_command(exercise, worked, seed, student, tries)
    io = _IO(session, console, ask, redraw=console.is_terminal and not plain, cmd=cmd)
    if attempt.changed:
        io.say("The exercise changed since your last session; starting again.", "bold yellow")
    try:
        return io.loop(store, attempt.id)
    except KeyboardInterrupt:
        console.print(f"\nInterrupted. Your progress is saved: `{cmd}` resumes here.")
        return 130


class _IO:
    def __init__(self, session: Session, console, ask, redraw: bool, cmd: str = ""):
        self.s, self.console, self.ask, self.redraw = session, console, ask, redraw
        self.cmd = cmd or f"tutor practice {session.worked.id}"

    def say(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style or ""))

    def draw(self, current=None) -> None:
        from tutor.draw import drawing

        it = current.iteration if current is not None else 1
        self.console.print(drawing(self.s.worked, set(self.s.results),
                                   current.id if current else None, grads=True, it=it))

    def loop(self, store, attempt: int) -> int:
        w, s = self.s.worked, self.s
        spec = w.exercise.spec
        self.say(f"{spec.title or spec.id}  ({spec.id})", "bold")
        if spec.source:
            self.say(spec.source, "dim")
        if getattr(w, "seed", None) is not None:
            self.say(f"Your variant: seed {w.seed}", "dim")
        self.say(f"{len(w.steps)} steps · tolerance: {w.tolerance.label} · "
                 f"{s.tries} tries a step")
        self.say(SYNTAX, "dim")
        self.say(COMMANDS, "dim")
        if (s.results or s.wrong or s.hints) and s.current is not None:
            self.say(f"Resuming: {len(s.results)} of {len(w.steps)} steps already done.",
                     "bold")
            if s.wrong or s.hints:
                used = [f"{n} {one if n == 1 else many}" for n, one, many in
                        ((s.wrong, "wrong try", "wrong tries"), (s.hints, "hint", "hints"))
                        if n]
                self.say(f"{s.current.id}: {' and '.join(used)} used so far "
                         f"({s.tries - s.wrong} of {s.tries} tries left).", "bold")
        phase = None
        while (step := s.current) is not None:
            where = (step.iteration, step.phase)
            if self.redraw or where != phase:
                self.console.print()
                if where != phase:
                    title = {"forward": "Forward pass", "backward": "Backward pass",
                             "inputs": "Gradients of the inputs", "update": "SGD update"}
                    it = f" — iteration {step.iteration}" if w.solution.n_iterations > 1 else ""
                    self.say(title[step.phase] + it, "bold cyan")
                self.draw(step)
                phase = where
            n, total = s.position
            self.say(f"[{n}/{total}] {step.id}: {step.meaning}  ({step.shape})", "bold")
            while s.current is step:
                try:
                    text = self.ask(f"{step.id} = ")
                except EOFError:
                    text = "quit"
                word = text.strip().lower()
                if word in QUIT_WORDS:
                    self.say(f"Saved: {len(s.results)} of {total} steps done. "
                             f"`{self.cmd}` resumes here.")
                    return 0
                if word in SHOW_WORDS:
                    self.draw(step)
                    continue
                if word in HELP_WORDS:
                    self.say(SYNTAX)
                    self.say(COMMANDS)
                    continue
                if word in ENTRY_WORDS:
                    text = self.by_entry(step)
                    if text is None:
                        continue
                fb = (s.hint() if word in HINT_WORDS else s.skip() if word in SKIP_WORDS
                      else s.submit(text))
                self.show(fb)
                if fb.record is not None:
                    store.record(attempt, fb.record)
                elif fb.kind in ("wrong", "hint"):  # the try limit cannot be dodged by quitting
                    store.save_pending(attempt, s.pending())
        self.end(store, attempt)
        return 0

    def by_entry(self, step) -> str | None:
        """Ask a vector or matrix one entry at a time; the assembled answer, or None."""
        from tutor.expr import Parsed, try_parse_answer

        v = step.value
        if not hasattr(v, "shape") or v.shape == (1, 1):
            self.say("This step is a single number: type it.", "yellow")
            return None
        self.say("Entry by entry (`cancel` to go back):", "dim")
        texts = {}
        for idx, _ in entries(v):
            while True:
                try:
                    t = self.ask(f"  {entry_name(step.id, idx, v.shape)} = ").strip()
                except EOFError:
                    return None
                if t.lower() in ("cancel", *QUIT_WORDS):
                    return None
                r = try_parse_answer(t)
                if isinstance(r, Parsed) and not isinstance(r.value, tuple):
                    texts[idx] = t
                    break
                self.say("Not read: type one number." if isinstance(r, Parsed)
                         else f"Not read: {r.message}.", "yellow")
        if v.rows == 1 or v.cols == 1:
            return "[" + ", ".join(texts[i] for i, _ in entries(v)) + "]"
        return "[" + ", ".join("[" + ", ".join(texts[(i, j)] for j in range(v.cols)) + "]"
                               for i in range(v.rows)) + "]"

    def show(self, fb: Feedback) -> None:
        style = STYLES.get(fb.kind)
        for k, line in enumerate(fb.lines):
            self.say(line, style if k == 0 else None)

    def end(self, store, attempt: int) -> None:
        s, w = self.s, self.s.worked
        score, total = s.score()
        store.finish(attempt, score)
        self.console.print()
        self.draw(None)
        revealed = sum(a.result != "correct" for a in s.results.values())
        self.say(f"Score: {score}/{total}" + (f" ({revealed} shown to you)" if revealed else ""),
                 "bold green" if score == total else "bold")
        n_it = w.solution.n_iterations
        its = sorted({st.iteration for st in w.steps if st.phase in ("backward", "update")})
        for it in its:
            rows = s.parameters(it)
            if rows:
                self.param_table(rows, it if n_it > 1 else None)
        try:
            yes = self.ask("Show the worked solution? [y/N] ").strip().lower()
        except EOFError:
            yes = ""
        if yes in ("y", "yes"):
            from tutor.writeup import to_rich

            to_rich(w, w.steps, self.console)

    def param_table(self, rows: list[ParamRow], it: int | None) -> None:
        """One iteration's parameters: gradient (→ updated value), changes, why not."""
        from rich.table import Table

        w = self.s.worked
        title = "Parameters" + (f" (iteration {it})" if it is not None else "")
        table = Table(title=title, title_justify="left", expand=False)
        table.add_column("param", no_wrap=True)
        table.add_column("∂L/∂param" + (" → updated" if w.graph.learning_rate else ""),
                         overflow="fold", max_width=34)
        table.add_column("changes", no_wrap=True)
        table.add_column("why not", overflow="fold")
        for r in rows:
            grad = r.grad + (f"\n→ {r.new}" if r.new else "")
            table.add_row(r.name, grad, f"{r.changes} of {r.total}", "\n".join(r.why))
        self.console.print(table)
        changed, n = sum(r.changes for r in rows), sum(r.total for r in rows)
        where = f"In iteration {it}, " if it is not None else ""
        self.say(f"{where}{changed} of {n} parameters will change.", "bold")
