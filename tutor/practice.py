"""`tutor practice`: the step-by-step quiz. A core that returns data, and a thin I/O layer.

Core (no I/O): ``Session(worked)`` asks ``worked.steps`` in order. An answer is parsed and
shaped by tutor.compare.parse_for (bad syntax or shape: a message, no attempt used) and
accepted when, entry by entry, |answer − v| ≤ abs + rel·|v| (tutor.compare.Tolerance) for
    v = the exact value, or
    v = the value recomputed from the student's own accepted answers so far
        (one solve with those answers as overrides: rounding carried forward).
A wrong answer gets, in turn: the rule (δ = ∂L/∂h ⊙ ReLU′(z)), the formula with the
student's own numbers, then — after ``tries`` wrong answers — the answer, explained. Every
zero entry the student missed gets its cause in words (words.say of Step.causes); where "this is 0" would
be the whole answer (a single number, a vector 0 everywhere) the cause is pointed at without
the value until the answer is shown (tutor.words.point, from the typed Cause). A wrong
answer that a catalogued misconception reproduces — even one of the wrong shape, which costs
no try — is named, with the buggy and the correct rule (not the correct value: that is the
answer), and the next hint is the one aimed at that bug (tutor.misconceptions.hint). A
revealed or skipped step carries the exact value forward.

I/O: ``run()`` draws the exercise (tutor.draw), reads answers through an injected ``ask``
function, prints with an injected rich Console, and records every finished step — and every
wrong try and hint of the step under way — in the progress store (tutor.progress), one
transaction each, so a session resumes exactly where it stopped. A verdict is printed only
once it is saved (record, then print; Ctrl-C waits for the write), so what the student saw
survives kill -9. A store fault (full disk, locked, read-only, damaged) is said once —
"Progress can't be saved: …; this session goes on without saving." — and the session goes on
against a copy of the store in memory (``_Saver``); it never ends the session.
"""
from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from tutor.errors import TutorError
from tutor.budget import ANSWER_SECONDS, within
from tutor.compare import Reason, decimal_comma, is_trivial, parse_for
from tutor.equivalence import equivalent, is_symbolic
from tutor import words
from tutor.errors import clip
from tutor.words import (capital, comma_advice, comma_question, listing, notation,
                         phase_title, point, say, tolerance_label)
from tutor.words.notation import adds_up, meaning_text, note_text, only_the_value, restates
from tutor.progress import Answer, Pending
from tutor.render import EXACT_LINES, entry_name, exact_text, fmt
from tutor.rules import entries, is_zero
from tutor.writeup import formula_text, zero_lines

HINT_WORDS = ("?", "hint", "h")
SKIP_WORDS = ("skip", "s")
QUIT_WORDS = ("quit", "q", "exit")
SHOW_WORDS = ("show", "draw")
ENTRY_WORDS = ("entries", "each", "entry")
HELP_WORDS = ("help",)
# The syntax, shown by numbers of no exercise's (a student of merge-sum should not read
# Lab 9's answers as examples).
SYNTAX = ("Answers: 0.5 · -3/8 · 1.2e-3 · 1/(1+e^(-2)) · -ln(0.25) · 2^3\n"
          "         vectors [1, 0] or 1 0 · matrices [[1, 2], [3, 4]] or 1 2; 3 4\n"
          "         a number times one: -0.5*[2, 0] · e = exp(1), ln = log")
COMMANDS = "Commands: ? or hint · skip · quit (saved) · show (redraw) · entries (one by one)"


def syntax(worked, step=None) -> str:
    """How to write an answer, for ``step`` (or for every kind of step the exercise asks):
    a formula in the network's names, an expression in its symbols, or numbers."""
    asked = [step] if step is not None else list(worked.steps)
    out = []
    if any(st.phase != "formulas" for st in asked):
        out.append(words.expression_syntax(worked) if worked.symbolic else SYNTAX)
    if any(st.phase == "formulas" for st in asked):
        out.append(words.formula_syntax(worked))
    return "\n".join(out)
NO_MORE = "No more hints: type `skip` to see the answer explained."


@dataclass(frozen=True)
class Feedback:
    """What the session says about one input. ``record``: set when the step is finished."""

    kind: str  # correct | wrong | invalid | hint | revealed | skipped
    step_id: str
    lines: tuple[str, ...]
    record: Answer | None = None
    misconceptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tally:
    """An attempt's score, honestly: 7/7 · 5 on the first try · 2 hints."""

    score: int
    total: int
    first_try: int  # right with no wrong try and no hint
    later: int  # right after a wrong try or a hint
    hints: int  # hints taken, over every step
    shown: int  # answers shown (revealed after the last try, or skipped)

    def text(self) -> str:
        parts = [f"{self.score}/{self.total}", f"{self.first_try} on the first try"]
        if self.later:
            parts.append(f"{self.later} after a retry or a hint")
        if self.hints:
            parts.append(f"{self.hints} hint" + ("s" if self.hints != 1 else ""))
        if self.shown:
            parts.append(f"{self.shown} shown to you")
        return " · ".join(parts)


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
    m = meaning_text(step.meaning)
    text = m if not sym or restates(step) else f"{m} = {sym}"
    if note_text(step.formula):
        text += f"   ({note_text(step.formula)})"
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
        self.entries: dict[tuple, str] = {}  # `entries` mode: (row, col) → the text typed
        for s in worked.steps:
            a = (done or {}).get(s.id)
            if a is None:
                continue
            if s.phase == "formulas":  # a formula (tutor.recipe) is no number to carry on
                self.results[s.id] = a
                continue
            value = parse_for(s, a.text, self.worked.answer_names())[0] \
                if a.result == "correct" and a.text else None
            self.results[s.id] = a
            self.own[s.id] = value if value is not None else s.value
        cur = self.current
        if pending is not None and cur is not None and pending.step == cur.id:
            self.wrong, self.hints, self.rung = pending.wrong, pending.hints, pending.rung
            self.target, self.told = pending.target, set(pending.told)
            self.entries = dict(pending.entries)

    def pending(self) -> Pending | None:
        """The step under way, as the store keeps it (None: untouched, or all done)."""
        cur = self.current
        if cur is None or not (self.wrong or self.hints or self.rung or self.target
                               or self.entries):
            return None
        return Pending(cur.id, self.wrong, self.hints, self.rung, self.target,
                       tuple(sorted(self.told)), tuple(sorted(self.entries.items())))

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

    def tally(self) -> "Tally":
        """The score and how it was earned: right on the first try (no wrong try, no hint),
        right later, hints taken, answers shown."""
        rs = list(self.results.values())
        right = [a for a in rs if a.result == "correct"]
        first = sum(a.wrong == 0 and a.hints == 0 for a in right)
        return Tally(len(right), len(self.worked.steps), first, len(right) - first,
                     sum(a.hints for a in rs), len(rs) - len(right))

    def follow(self):
        """The solution recomputed from the student's own answers so far (cached)."""
        if self._follow is None or self._follow[0] != len(self.own):
            from tutor.solve import solve

            steps = {s.id: s for s in self.worked.steps}
            own = {steps[i].key: v for i, v in self.own.items()}
            try:
                follow = solve(self.worked.graph, overrides=own)
            except TutorError:  # the rounded answers leave the domain (ŷ = 1 in BCE): the truth
                follow = self.worked.solution
            self._follow = (len(self.own), follow)
        return self._follow[1]

    def _own_formula(self, step) -> str:
        """'With your numbers: …': the step's formula with the student's own numbers (a
        forward value without a formula: its inputs). A formula that only repeats the step's
        meaning is not written twice (u = x·y = 3·2); one whose numbers are the answer itself
        (∂L/∂b1 = δ1 = [-0.0877, 0.0438] for one example) is given with its names only."""
        sol = self.follow()
        q = sol.quantities.get(step.key)
        f = q.formula if q is not None else None
        if f is not None and f.operands():
            sym, num = notation.text(f), notation.text(f, numbers=True)
            m = meaning_text(step.meaning)
            head = m if restates(step) else f"{m} = {sym}"
            if only_the_value(f, q.value) or only_the_value(f, step.value):
                names = notation.names(f)
                return (f"With your numbers: {head}, with {listing(names)} as you found "
                        f"{'it' if len(names) == 1 else 'them'}")
            return f"With your numbers: {head} = {num}"
        given = _inputs(sol, step)
        return f"With your numbers: {meaning_text(step.meaning)}, {given}" if given else ""

    def _ladder(self, step) -> list[str]:
        """The generic hints, in order: the rule, the formula with your numbers, the zeros."""
        if step.phase == "formulas":  # a formula question: its shape, its parts, the rule
            return words.formula_hints(step)
        out = [f"Rule: {_rule(step)}"]
        own = self._own_formula(step)
        if own:
            out.append(own)
        zs = zero_lines(step)
        if zs:
            out.append("Zeros: " + "; ".join(f"{e} = 0 ({why})" for e, why in zs))
        return out

    def earned(self) -> list[str]:
        """The hints already given at the step under way (shown again on resume)."""
        from tutor.misconceptions import CATALOGUE
        from tutor.words.misconceptions import hint

        step = self.current
        if step is None:
            return []
        out = [f"Hint ({CATALOGUE[m].name}): {hint(self.worked, step.id, m)}"
               for m in sorted(self.told) if m in CATALOGUE]
        return out + self._ladder(step)[:self.rung]

    # ─── inputs ─────────────────────────────────────────────────────────────────────────
    def submit(self, text: str) -> Feedback:
        step = self.current
        if step.phase == "formulas":  # the recipe as a formula: judged by tutor.recipe
            return self._formula(step, text)
        with within(ANSWER_SECONDS) as budget:  # judging untrusted text: bounded in time
            value, err = parse_for(step, text, self.worked.answer_names())
            right = value is not None and self.tol.ok(value, step.value)
            fv = None
            if value is not None and not right:
                fv = self.follow().quantities.get(step.key)
                fv = fv.value if fv is not None else None
                consistent = fv is not None and self.tol.ok(value, fv) \
                    and not is_trivial(fv, self.tol)
        if budget.exceeded:
            return Feedback("invalid", step.id, (
                f"Not judged: {words.over(budget.seconds, 'checking this answer')}. No try used.",))
        comma = decimal_comma(step, text)
        if value is None:
            missing = err.kind == "missing"
            msg = "type an answer (or ? for a hint)" if missing else words.unread(err)
            lines = [f"Not read: {msg}. No try used."]
            codes: list[str] = []
            if comma:
                lines.append(comma_advice(comma))
            elif not missing:  # the wrong shape: a catalogued bug may give that shape
                more, codes = self._shape_diagnosis(step, text)
                lines += more
            return Feedback("invalid", step.id, tuple(lines), None, tuple(codes))
        if right:
            return self._accept(step, value, text, "")
        if consistent:
            return self._accept(step, value, text,
                                f"{words.reason_text(Reason('rounded_chain'))} "
                                f"(exact: {fmt(step.value, 6)})")
        if comma and "[" not in text:  # 0,6 for a vector of 2: [0, 6], or the number 0.6?
            return Feedback("invalid", step.id, (f"Not read: {comma_question(comma)} No try "
                                                 f"used.",))
        return self._wrong(step, value, fv)

    def _formula(self, step, text: str) -> Feedback:
        """A formula answer (tutor.recipe.judge): read, then right or wrong with the reason
        and the misconception it shows, and the hint ladder as for a number."""
        from tutor.recipe import judge

        v = judge(self.worked, step, text)
        if v.status in ("missing", "invalid"):
            msg = ("type an answer (or ? for a hint)" if v.status == "missing"
                   else words.reason_text(v.reason))
            return Feedback("invalid", step.id, (f"Not read: {msg}. No try used.",))
        if v.status == "correct":
            rec = Answer(step.id, step.skill, "correct", text.strip(), self.wrong, self.hints)
            self._finish(step, rec, None)
            return Feedback("correct", step.id, (f"✓ {step.id} = {clip(text.strip())}",)
                            + tuple(words.formula_explained(step)), rec)
        self.wrong += 1
        last = self.wrong >= self.tries
        lines = [f"✗ {step.id} = {clip(text.strip())} is not right"
                 f" ({self.wrong} of {self.tries} tries).",
                 capital(words.reason_text(v.reason)) + "."]
        codes = list(v.misconceptions)
        if v.diagnosis is not None:
            lines += self._named([v.diagnosis], reveal=last)
        if last:
            fb = self._reveal(step, "revealed", tuple(lines))
            return Feedback("revealed", step.id, fb.lines, fb.record, tuple(codes))
        new = [c for c in codes if c not in self.told]
        if new:
            self.target = new[0]
            lines.append("Type ? for a hint aimed at this mistake.")
        else:
            lines.append(self._rung(step)[0])
        return Feedback("wrong", step.id, tuple(lines), None, tuple(codes))

    def _shape_diagnosis(self, step, text: str) -> tuple[list[str], list[str]]:
        """An answer of the wrong shape that a catalogued bug gives (x δᵀ for a 2×3 ∂L/∂W):
        its name and the correct rule (tutor.misconceptions, as `tutor check` does)."""
        from tutor.misconceptions import unshaped

        raw = unshaped(text)
        ds = self._diagnose(step, raw) if raw is not None else []
        lines = self._named(ds, reveal=False)
        codes = [d.misconception.id for d in ds]
        new = [c for c in codes if c not in self.told]
        if new:
            self.target = new[0]
            lines.append("Type ? for a hint aimed at this mistake.")
        return lines, codes

    def _named(self, ds, reveal: bool) -> list[str]:
        """"This looks like: …" for each diagnosis (the correct value only when ``reveal``);
        the explanation begins with the misconception's name."""
        from tutor.words.misconceptions import explain

        out = []
        for d in ds:
            out.append(f"This looks like: {explain(self.worked, d, reveal=reveal)}")
        return out

    def hint(self) -> Feedback:
        step = self.current
        line, given = self._rung(step)
        if given:  # "No more hints" is not a hint
            self.hints += 1
        return Feedback("hint", step.id, (line,))

    def skip(self) -> Feedback:
        step = self.current
        return self._reveal(step, "skipped", ("Skipped.",))

    def _rung(self, step) -> tuple[str, bool]:
        """(the next hint, whether it is a new one): the one aimed at a misconception just
        diagnosed, else the ladder — the rule, the formula with your numbers, the zeros."""
        if self.target is not None:
            mid, self.target = self.target, None
            self.told.add(mid)
            from tutor.misconceptions import CATALOGUE
            from tutor.words.misconceptions import hint

            if mid in CATALOGUE:  # (a store written by another version may name others)
                return f"Hint ({CATALOGUE[mid].name}): {hint(self.worked, step.id, mid)}", True
        ladder = self._ladder(step)
        if self.rung < len(ladder):
            self.rung += 1
            return ladder[self.rung - 1], True
        return NO_MORE, False

    def _accept(self, step, value, text: str, note: str) -> Feedback:
        rec = Answer(step.id, step.skill, "correct", text.strip(), self.wrong, self.hints)
        self._finish(step, rec, value)
        lines = [f"✓ {step.id} = {fmt(value)}"] + self._explain(step, show_value=False)
        if note:
            lines.append(note)
        return Feedback("correct", step.id, tuple(lines), rec)

    def _wrong(self, step, value, fv) -> Feedback:
        self.wrong += 1
        last = self.wrong >= self.tries  # the answer is shown right after: nothing to hide
        lines = [f"✗ {step.id} = {clip(fmt(value))} is not right"
                 f" ({self.wrong} of {self.tries} tries)."]
        lines += self._entry_report(step, value, fv, last)
        if is_symbolic(step.value):  # where the two functions differ, with both values
            lines.append(capital(words.differs(equivalent(value, step.value),
                                               step.meaning.lhs)) + ".")
        ds = self._diagnose(step, value)
        codes = [d.misconception.id for d in ds]
        lines += self._named(ds, reveal=last)
        if last:
            fb = self._reveal(step, "revealed", tuple(lines))
            return Feedback("revealed", step.id, fb.lines, fb.record, tuple(codes))
        new = [c for c in codes if c not in self.told]
        if new:  # the diagnosis gave the correct rule; the next `?` is aimed at the bug
            self.target = new[0]
            lines.append("Type ? for a hint aimed at this mistake.")
        else:
            lines.append(self._rung(step)[0])
        return Feedback("wrong", step.id, tuple(lines), None, tuple(codes))

    def _entry_report(self, step, value, fv, last: bool = False) -> list[str]:
        """Which entries are off, and for each zero the student missed, its cause (DESIGN
        §5), pointed at without the value ("delta2[2]: check whether this ReLU is active:
        z2[2] = -0.17") — the value of a zero entry is the answer, so it comes only on the
        "Zeros" rung of the hint ladder or with the answer shown (the last try)."""
        import sympy as sp

        if not isinstance(step.value, sp.MatrixBase) or step.value.shape == (1, 1):
            if step.causes and not self.tol.entry_ok(_scalar(value), 0) and not last:
                return [capital(point(c)) + "." for c in dict.fromkeys(step.causes.values())]
            return []  # on the last try the answer, explained, follows
        shape = step.value.shape
        bad, zeros, pointed = [], [], {}
        for idx, v in entries(step.value):
            a = value[idx]
            ok = self.tol.entry_ok(a, v) or (fv is not None and self.tol.entry_ok(a, fv[idx]))
            if not ok:
                name = entry_name(step.id, idx, shape)
                bad.append(name)
                if idx in step.causes and is_zero(v):
                    if last:
                        zeros.append(f"{name} = 0, not {clip(fmt(a), 20)}: {say(step.causes[idx])}")
                    else:
                        pointed.setdefault(point(step.causes[idx]), []).append(name)
        n = step.value.rows * step.value.cols
        out = [f"{n - len(bad)} of {n} entries right; check {', '.join(bad)}."] if bad else []
        return out + zeros + [f"{', '.join(names)}: {p}." for p, names in pointed.items()]

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
        if step.phase == "formulas":  # the recipe, in symbols and as typed
            return words.formula_explained(step)
        sym, num = formula_text(step)
        line = f"  {meaning_text(step.meaning)}"
        if sym and not restates(step):
            line += f" = {sym}"
        eq = "="
        if num and not only_the_value(step.formula, step.value):
            eq = "=" if adds_up(self.worked, step) else "≈"  # rounded numbers: about the value
            line += f" {eq} {num}"
        line += f" {eq} {fmt(step.value)}"
        out = [line]
        if show_value and not num:
            given = _inputs(self.worked.solution, step)
            if given:
                out.append(f"  {given}")
        exact = exact_text(step.value)
        if show_value and exact != fmt(step.value) and step.quantity.exact:
            out.append(f"  exact: {exact}" if len(exact) <= EXACT_LINES else
                       f"  exact: a closed form of {len(exact):,} characters "
                       f"(tutor solve {self.worked.id} -f json gives it)")
        if note_text(step.formula):
            out.append(f"  rule: {note_text(step.formula)}")
        out += [f"  {e} = 0: {why}" for e, why in zero_lines(step)]
        return out

    def _finish(self, step, rec: Answer, value) -> None:
        self.results[step.id] = rec
        if step.phase != "formulas":  # a formula (tutor.recipe) is no number to carry on
            self.own[step.id] = value
        self.wrong = self.hints = self.rung = 0
        self.target, self.told, self.entries = None, set(), {}

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
                    why = say(q.causes[idx]) if idx in q.causes else "its gradient is 0"
                    groups.setdefault(why, []).append(entry_name(p, idx, shape))
            why = tuple(f"{', '.join(n)}: {w}" if total > 1 else w for w, n in groups.items())
            rows.append(ParamRow(p, fmt(q.value), newt, changes, total, why))
        return rows


def full_screen_wanted(console, plain: bool, lines: bool) -> bool:
    """The full screen (tutor.screen) on a real terminal; the line mode for pipes, --plain,
    --lines (screen readers, or by choice) and TERM=dumb."""
    return (not plain and not lines and console.is_terminal and sys.stdin.isatty()
            and sys.stdout.isatty() and os.environ.get("TERM", "") not in ("", "dumb"))


def assemble(v, texts: Mapping[tuple, str]) -> str:
    """The answer typed entry by entry as one: [a, b] for a vector, [[a, b], [c, d]]."""
    if v.rows == 1 or v.cols == 1:
        return "[" + ", ".join(texts[i] for i, _ in entries(v)) + "]"
    return "[" + ", ".join("[" + ", ".join(texts[(i, j)] for j in range(v.cols)) + "]"
                           for i in range(v.rows)) + "]"


def _inputs(sol, step) -> str:
    """'with W1 = …, x = …, b1 = …': the values a forward step is computed from."""
    it, kind, name = step.key
    if kind != "value":
        return ""
    node = sol.graph.nodes[name]
    parts = [f"{p} = {fmt(sol.value(p, it))}" for p in node.parents
             if (it, "value", p) in sol.quantities]
    return "with " + ", ".join(parts) if parts else ""



# why a value is 0 (the engine's words, tutor.rules) → where to look, without the value
def _scalar(v):
    import sympy as sp

    return v[0, 0] if isinstance(v, sp.MatrixBase) else v


# ─── I/O ─────────────────────────────────────────────────────────────────────────────────
STYLES = {"correct": "green", "wrong": "red", "invalid": "yellow", "hint": "cyan",
          "revealed": "magenta", "skipped": "magenta"}


ECHO_MAX = 200  # a piped line longer than this is echoed as its start and its length


def echo_text(line: str) -> str:
    """What the pipe echo shows of a typed line: control and bidirectional characters as
    visible escapes (an ESC piped in cannot clear the screen), very long lines cut."""
    from tutor.errors import visible

    if len(line) <= ECHO_MAX:
        return visible(line)
    return f"{visible(line[:40])}… ({len(line)} characters)"


def default_ask(console) -> Callable[[str], str]:
    """``input`` on a terminal; on a pipe, read a line and echo it (EOF raises EOFError; the
    caller ends the prompt's line)."""
    if sys.stdin is not None and sys.stdin.isatty():
        import importlib

        try:
            importlib.import_module("readline")  # line editing and history for input()
        except ImportError:
            pass
        return input

    def ask(prompt: str) -> str:
        console.print(prompt, end="", markup=False)
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
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


def pick(store) -> tuple[str, int | None, str | None, Any] | None:
    """What a bare `tutor` opens: (exercise, seed, student, None) of the most recently
    opened attempt still open whose file is still there; else (exercise, None, None,
    choice) of tutor.adapt.choose_next — the exercise that trains the weakest skill, or the
    next unfinished one in teaching order (``choice``: a tutor.mastery.Choice, which says
    why and whether to draw fresh numbers)."""
    from pathlib import Path

    from tutor.catalog import bundled

    ids = {e.id for e in bundled()}
    for a in store.open_attempts():
        ref = a.ref or a.exercise
        if ref in ids or (a.ref is not None and Path(ref).is_file()):
            return ref, (a.seed if a.student is None else None), a.student, None
    from tutor.adapt import choose_next

    c = choose_next(store)
    return (c.exercise, None, None, c) if c is not None else None


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


def run(exercise: str | None = None, *, tries: int | None = None, seed: int | None = None,
        student: str | None = None, plain: bool = False, restart: bool = False,
        ask: Callable[[str], str] | None = None, console=None, store=None,
        lines: bool = False, screen: Callable[..., str] | None = None,
        new: bool = False) -> int:
    """The whole session. Returns the exit status (0; 130 after Ctrl-C, progress saved).

    ``exercise=None`` (a bare `tutor`): the most recently opened unfinished attempt, else
    the next unfinished bundled exercise (``pick``). ``tries=None``: the attempt's own try
    limit (the one it was begun with), else 3; a number is the new limit of the attempt.
    ``new``: fresh numbers, a seed of its own (``--seed`` gives them again, and any
    exercise takes a seed: tutor.fresh draws from its own numbers)
    ``screen(io, store, attempt) → "done" | "quit" | "interrupt"`` runs the full screen
    (tutor.screen) where one is wanted (``full_screen_wanted``); else line by line."""
    from rich.console import Console

    from rich.text import Text

    from tutor.core import work
    from tutor.progress import Store, StoreError

    if console is None:  # --plain: no escape sequence at all, not even bold
        console = Console(highlight=False, soft_wrap=False, no_color=plain or None,
                          **({"color_system": None} if plain else {}))
        full_screen = (screen is not None and ask is None
                       and full_screen_wanted(console, plain, lines))
    else:
        full_screen = False
    ask = ask or default_ask(console)
    saver = _Saver(store, lambda text: console.print(Text(text, style="bold yellow")))
    if store is None:
        try:
            saver.store = Store()
        except StoreError as err:
            saver.fail(err)
    attempt = None
    try:
        if exercise is None:
            picked = saver.call("pick")
            if picked is None:
                console.print("Every bundled exercise is done. `tutor list` shows your "
                              "scores; `tutor practice ID` works one again.")
                return 0
            exercise, seed, student, why = picked
            if why is not None:  # chosen by the mastery model: say why (and fresh numbers?)
                new = new or why.new
                if why.reason != "first":
                    from tutor.words.mastery import next_line

                    console.print(Text(next_line(why), style="bold"))
        if new:
            import secrets

            seed, student = secrets.randbelow(10**9), None
        kw = {k: v for k, v in (("seed", seed), ("student", student)) if v is not None}
        worked = work(exercise, fresh=True, **kw)
        variant = getattr(worked, "seed", None)
        attempt = saver.call(
            "open_attempt", worked.id, worked.exercise.sha, variant, len(worked.steps),
            restart=restart, ref=_ref(exercise),
            student=student if variant is not None else None, tries=tries,
            same=(worked.exercise.text_sha,) if worked.exercise.text_sha else (), hold=True)
        if attempt is None:  # not even a copy in memory takes it: an empty one does
            saver.store = Store.memory()
            attempt = saver.store.open_attempt(worked.id, worked.exercise.sha, variant,
                                               len(worked.steps), tries=tries)
        tries = attempt.tries or 3
        session = Session(worked, tries, attempt.answers, attempt.pending)
        cmd = resume_command(exercise, worked, seed, student, tries)
        # line by line, the drawing is drawn when the phase changes (and on `show`), never
        # between an explanation and the next prompt: it would scroll the explanation away
        io = _IO(session, console, ask, redraw=False, cmd=cmd)
        io.saver, io.exercise = saver, exercise
        if attempt.last_done is not None and not attempt.started:
            io.retry = attempt.last_done
        if attempt.changed:
            io.say("The exercise changed since your last session; starting again.",
                   "bold yellow")
        if attempt.shared:
            io.say("This exercise is open in another session too (another terminal?): this "
                   "session is an attempt of its own, and the other one's answers are not "
                   "touched.", "bold yellow")
        try:
            if full_screen and session.current is not None:  # tutor.screen, from the CLI
                result = screen(io, saver, attempt.id)
                if result == "interrupt":
                    raise KeyboardInterrupt
                if result == "done":
                    if io.last_feedback is not None:  # it closed the screen: said here
                        io.show(io.last_feedback)
                    return io.end(saver, attempt.id)
                return io.saved(len(worked.steps), saver, attempt.id)
            return io.loop(saver, attempt.id)
        except KeyboardInterrupt:
            console.print()
            if io.finished:  # at "Show the worked solution?": nothing is left to resume
                io.say("Interrupted. This exercise is finished and saved. Its worked "
                       "solution:" if saver.fault is None else
                       "Interrupted. This exercise is finished (not saved). Its worked "
                       "solution:")
                io.command(f"tutor solve {_solve_ref(exercise, worked, seed, student)}")
            elif saver.fault is not None:
                io.say(f"Interrupted. This session was not saved ({saver.fault}).")
            elif io.dropped(saver, attempt.id):
                io.say(f"Interrupted. {io.not_kept()}")
            else:
                io.say("Interrupted. Your progress is saved. To go on where you stopped:")
                io.command(io.cmd)
            return 130
    finally:
        if attempt is not None and saver.store is not None:
            with contextlib.suppress(Exception):
                saver.store.release(attempt.id)
        if store is None and saver.store is not None:
            with contextlib.suppress(Exception):
                saver.store.close()


@contextlib.contextmanager
def _deferred_interrupt():
    """Ctrl-C during a write waits until the write is done (then interrupts as usual)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    try:
        old = signal.signal(signal.SIGINT, lambda *_: got.append(True))
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
        if got and callable(old):
            old(signal.SIGINT, None)
        elif got and old == signal.SIG_DFL:  # pragma: no cover
            raise KeyboardInterrupt


class _Saver:
    """The progress store of one session, which never ends the session: a store fault
    (StoreError: full disk, locked, read-only, damaged) is said once, and from then on the
    session works against a copy of the store in memory (Store.in_memory): nothing more is
    written to disk. ``fault``: why, once it happened. ``saver.record(…)`` and the other
    Store methods are called through ``call``; ``pick`` is tutor.practice.pick."""

    def __init__(self, store, say: Callable[[str], None]):
        self.store, self.say, self.fault = store, say, None

    def fail(self, err: Exception) -> None:
        from tutor.progress import Store

        if self.fault is None:
            self.fault = f"progress can't be saved: {err}"
            self.say(f"Progress can't be saved: {err}; this session goes on without saving.")
        old = self.store
        if old is None:
            self.store = Store.memory()
            return
        self.store = old.in_memory()
        with contextlib.suppress(Exception):
            old.release()

    def call(self, name: str, *args, **kw):
        from tutor.progress import StoreError

        def do():
            if name == "pick":
                return pick(self.store)
            return getattr(self.store, name)(*args, **kw)

        with _deferred_interrupt():
            try:
                return do()
            except StoreError as err:
                self.fail(err)
            try:
                return do()
            except StoreError:  # not even the copy in memory takes it: the session goes on
                return None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kw: self.call(name, *args, **kw)


def _date(when: float) -> str:
    """A finishing time as the student's local date: 2026-03-14."""
    return time.strftime("%Y-%m-%d", time.localtime(when))


def _solve_ref(exercise: str, worked, seed: int | None, student: str | None) -> str:
    """`tutor solve …` arguments for this exercise and variant."""
    parts = [exercise]
    if getattr(worked, "seed", None) is not None:
        parts += ["--student", student] if student is not None else ["--seed", str(worked.seed)]
    return " ".join(shlex.quote(p) for p in parts)


class _IO:
    def __init__(self, session: Session, console, ask, redraw: bool, cmd: str = ""):
        self.s, self.console, self.ask, self.redraw = session, console, ask, redraw
        self.cmd = cmd or f"tutor practice {session.worked.id}"
        self.finished = False  # every step answered: the attempt is done
        self.retry = None  # an unstarted attempt at a finished exercise: the last Finished
        self.saver = None  # the session's _Saver (its ``fault``: progress is not saved)
        self.last_feedback = None  # the full screen's last feedback, when it ended the session
        self.exercise: str | None = None  # the exercise as named (for the commands offered)
        self.named: list[tuple[str, str]] = []  # (step id, misconception id), as named

    def dropped(self, store, attempt: int) -> bool:
        """Quitting a new attempt at a finished exercise with nothing in it: delete it (the
        exercise stays done, a bare `tutor` moves on). Whether it was deleted."""
        return self.retry is not None and not self.s.results and store.drop_unstarted(attempt)

    def not_kept(self) -> str:
        f = self.retry
        return (f"Nothing answered, so this new attempt is not kept: the exercise stays done "
                f"({f.score}/{f.n_steps} on {_date(f.when)}).")

    def say(self, text: str, style: str | None = None) -> None:
        from rich.text import Text

        self.console.print(Text(text, style=style or ""))

    def command(self, cmd: str) -> None:
        """A command to copy, on a line of its own and never wrapped."""
        from rich.text import Text

        self.console.print(Text("    " + cmd), soft_wrap=True)

    def draw(self, current=None, it: int | None = None) -> None:
        from tutor.draw import drawing

        w = self.s.worked
        if it is None:
            it = current.iteration if current is not None else 1
        n = w.solution.n_iterations
        if n > 1:  # which iteration's numbers these are
            last = " (the last)" if current is None and it == n else ""
            self.say(f"Iteration {it} of {n}{last}:", "bold")
        self.console.print(drawing(w, set(self.s.results),
                                   current.id if current else None, grads=True, it=it))

    def ask_line(self, prompt: str) -> str | None:
        """One line typed at ``prompt``; None at end of input (Ctrl-D), the line ended."""
        try:
            return self.ask(prompt)
        except EOFError:
            self.console.print()  # the prompt's line is ended before anything else is said
            return None

    def saved(self, total: int, store=None, attempt: int | None = None) -> int:
        fault = getattr(self.saver, "fault", None)
        if fault is not None:
            self.say(f"Not saved: {len(self.s.results)} of {total} steps done in this session "
                     f"({fault}).")
            return 0
        if store is not None and self.dropped(store, attempt):
            self.say(self.not_kept())
            return 0
        self.say(f"Saved: {len(self.s.results)} of {total} steps done. To go on where you "
                 f"stopped:")
        self.command(self.cmd)
        return 0

    def loop(self, store, attempt: int) -> int:
        w, s = self.s.worked, self.s
        spec = w.exercise.spec
        self.say(f"{spec.title or spec.id}  ({spec.id})", "bold")
        if words.source(w):
            self.say(words.source(w), "dim")
        if words.variant(w):
            self.say(f"Your numbers: {words.variant(w)}", "dim")
        self.say(f"{len(w.steps)} steps · tolerance: {tolerance_label(w.tolerance, w.symbolic)} · "
                 f"{s.tries} tries a step")
        self.say(syntax(w), "dim")
        self.say(COMMANDS, "dim")
        if self.retry is not None:
            f = self.retry
            self.say(f"You finished this on {_date(f.when)} ({f.score}/{f.n_steps}); this is "
                     f"a new attempt.", "bold")
        if (s.results or s.wrong or s.hints or s.rung or s.told) and s.current is not None:
            self.say(f"Resuming: {len(s.results)} of {len(w.steps)} steps already done.",
                     "bold")
            if s.wrong or s.hints:
                used = [f"{n} {one if n == 1 else many}" for n, one, many in
                        ((s.wrong, "wrong try", "wrong tries"), (s.hints, "hint", "hints"))
                        if n]
                self.say(f"{s.current.id}: {' and '.join(used)} used so far "
                         f"({max(0, s.tries - s.wrong)} of {s.tries} tries left).", "bold")
            earned = s.earned()
            if earned:
                self.say("Your hints so far:", "bold")
                for line in earned:
                    self.say(line, STYLES["hint"])
        phase = None
        while (step := s.current) is not None:
            where = (step.iteration, step.phase)
            if self.redraw or where != phase:
                self.console.print()
                if where != phase:
                    self.say(phase_title(step.phase, step.iteration,
                                         w.solution.n_iterations), "bold cyan")
                self.draw(step)
                phase = where
            n, total = s.position
            self.say(f"[{n}/{total}] {step.id}: {meaning_text(step.meaning)}  ({words.asked_shape(step)})", "bold")
            while s.current is step:
                text = self.ask_line(f"{step.id} = ")
                text = "quit" if text is None else text
                word = text.strip().lower()
                if word in ENTRY_WORDS:
                    got = self.by_entry(step, store, attempt)
                    if got is None:
                        continue
                    text = got
                    word = text.strip().lower() if text in ("quit", "skip") else ""
                if word in QUIT_WORDS:
                    return self.saved(total, store, attempt)
                if word in SHOW_WORDS:
                    self.draw(step)
                    continue
                if word in HELP_WORDS:
                    self.say(syntax(self.s.worked, step))
                    self.say(COMMANDS)
                    continue
                fb = (s.hint() if word in HINT_WORDS else s.skip() if word in SKIP_WORDS
                      else s.submit(text))
                self.keep(store, attempt, fb)  # saved first: a verdict shown is kept
                self.show(fb)
        return self.end(store, attempt)

    def keep(self, store, attempt: int, fb: Feedback) -> None:
        """Save what this feedback used: a finished step, or the step under way."""
        self.named += [(fb.step_id, m) for m in fb.misconceptions]
        if fb.record is not None:
            store.record(attempt, fb.record)
        elif fb.kind in ("wrong", "hint"):  # the try limit cannot be dodged by quitting
            store.save_pending(attempt, self.s.pending())

    def by_entry(self, step, store, attempt: int) -> str | None:
        """Ask a vector or matrix one entry at a time: the assembled answer, "quit", "skip",
        or None (cancelled). ``?``, ``show`` and ``help`` work at every entry."""
        from tutor.expr import Parsed, try_parse_answer

        v = step.value
        if not hasattr(v, "shape") or v.shape == (1, 1):
            self.say("This step is a single number: type it.", "yellow")
            return None
        self.say("Entry by entry (`cancel` goes back; ?, skip and quit work here too):", "dim")
        texts = self.s.entries  # kept in the store entry by entry: Ctrl-C loses none
        if texts:
            self.say("Typed before: " + ", ".join(
                f"{entry_name(step.id, idx, v.shape)} = {t}" for idx, t in sorted(texts.items())),
                "dim")
        for idx, _ in entries(v):
            while idx not in texts:
                t = self.ask_line(f"  {entry_name(step.id, idx, v.shape)} = ")
                if t is None:
                    return "quit"
                t = t.strip()
                word = t.lower()
                if word == "cancel":
                    texts.clear()
                    store.save_pending(attempt, self.s.pending())
                    return None
                if word in QUIT_WORDS:
                    return "quit"
                if word in SKIP_WORDS:
                    return "skip"
                if word in HINT_WORDS:
                    fb = self.s.hint()
                    self.keep(store, attempt, fb)
                    self.show(fb)
                    continue
                if word in SHOW_WORDS:
                    self.draw(step)
                    continue
                if word in HELP_WORDS or word in ENTRY_WORDS:
                    self.say("Type one number for this entry; `cancel` goes back to typing "
                             "the whole answer.")
                    continue
                r = try_parse_answer(t)
                if isinstance(r, Parsed) and not isinstance(r.value, tuple):
                    texts[idx] = t
                    store.save_pending(attempt, self.s.pending())
                    break
                self.say("Not read: type one number." if isinstance(r, Parsed)
                         else f"Not read: {r.message}.", "yellow")
        out = assemble(v, texts)
        texts.clear()  # the whole answer is judged now; a wrong one starts the entries anew
        return out

    def show(self, fb: Feedback) -> None:
        style = STYLES.get(fb.kind)
        for k, line in enumerate(fb.lines):
            self.say(line, style if k == 0 else None)

    def end(self, store, attempt: int) -> int:
        s, w = self.s, self.s.worked
        t = s.tally()
        score, total = t.score, t.total
        store.finish(attempt, score)
        self.finished = True
        self.console.print()
        n_it = w.solution.n_iterations
        self.draw(None, it=n_it)  # the last iteration's numbers, labelled
        self.say(f"Score: {t.text()}", "bold green" if t.first_try == total else "bold")
        its = sorted({st.iteration for st in w.steps if st.phase in ("backward", "update")})
        for it in its:
            rows = s.parameters(it)
            if rows:
                self.param_table(rows, it if n_it > 1 else None)
        self.offer(store)
        yes = (self.ask_line("Show the worked solution? [y/N] ") or "").strip().lower()
        if yes in ("y", "yes"):
            from tutor.writeup import to_rich

            to_rich(w, w.steps, self.console)
        return 0

    def offer(self, store) -> None:
        """After a named misconception: fresh numbers that tell it apart from the truth at
        its step (tutor.adapt.separating), one line and the command."""
        if not self.named or self.exercise is None:
            return
        from tutor.adapt import separating
        from tutor.words.mastery import separate_line

        w = self.s.worked
        try:
            found = separating(self.exercise, w, self.named, store.seeds(w.id) or ())
        except TutorError:
            return
        if found is not None:
            self.say(separate_line(found.name, found.step), "bold")
            self.command(" ".join(shlex.quote(p) for p in
                                  ("tutor", "practice", self.exercise, "--seed",
                                   str(found.seed))))

    def param_table(self, rows: list[ParamRow], it: int | None) -> None:
        """One iteration's parameters: gradient (→ updated value), changes, why not."""
        from rich.table import Table

        w = self.s.worked
        title = "Parameters" + (f" (iteration {it})" if it is not None else "")
        table = Table(title=title, title_justify="left", expand=False)
        table.add_column("param", no_wrap=True)
        table.add_column(f"∂{w.graph.loss}/∂param" + (" → updated" if w.graph.learning_rate else ""),
                         overflow="fold", max_width=34)
        table.add_column("changes", no_wrap=True)
        table.add_column("why not", overflow="fold")
        for r in rows:
            grad = r.grad + (f"\n→ {r.new}" if r.new else "")
            table.add_row(r.name, grad, f"{r.changes} of {r.total}", "\n".join(r.why))
        self.console.print(table)
        changed, n = sum(r.changes for r in rows), sum(r.total for r in rows)
        where = f"In iteration {it}, " if it is not None else ""
        will = "will change" if w.graph.learning_rate else "would change under SGD"
        self.say(f"{where}{changed} of {n} parameters {will}.", "bold")
