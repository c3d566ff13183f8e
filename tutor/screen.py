"""The full-screen practice screen (issue 14): the drawing with the step being asked marked,
the feedback on the last answer, the hints earned at this step and the prompt — all on one
screen that fits 80×24 and follows a resize.

    ┌ Lab 9 · [12/24] · 11 right, 9 on the first try ───────────────────────────┐
    │ the drawing (scrolls; kept on the step's ▶ ?)                              │
    │ ✗ delta2 = [-0.2192, 0.1462] is not right (1 of 3 tries).                  │
    │ delta2[2]: check whether this ReLU is active: z2[2] = -0.17.               │
    │ [12/24] delta2: δ2 = ∂L/∂z2  (vector of 2)                                 │
    │ delta2 = █                                                                 │
    └ F1 hint  F2 skip  F3 drawing  F4 entries  ^Q quit ─────────────────────────┘

Why Textual: it is built on Rich, which draws everything else in tutor (the drawing is a Rich
renderable and goes in as it is); it lays out panes, redraws on resize, reads keys, and its
headless pilot lets tests drive the screen at 80×24. curses would mean re-implementing
Rich's output by hand.

The screen only shows what tutor.practice.Session returns and saves through the same calls
as the line mode (``_IO.keep``), so a verdict shown is a verdict saved; the session's end
(score, the parameter table) is printed by the line mode after the screen closes.
"""
from __future__ import annotations

from io import StringIO

from rich.console import Console, Group
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static

from tutor.draw import CURRENT_MARK, drawing
from tutor.practice import (COMMANDS, ENTRY_WORDS, HELP_WORDS, HINT_WORDS, QUIT_WORDS,
                            SHOW_WORDS, SKIP_WORDS, STYLES, assemble, syntax)
from tutor.render import entry_name
from tutor.rules import entries
from tutor.words import asked_shape, phase_title, tolerance_label, variant
from tutor.words.notation import meaning_text


class PracticeApp(App):
    """One session on one screen. ``exit`` result: "done", "quit" or "interrupt"."""

    CSS = """
    Screen { layout: vertical; }
    #top { height: 1; background: $boost; text-style: bold; }
    #pane { height: 1fr; min-height: 5; }
    #pane.full { height: 1fr; }
    #feedback { height: auto; max-height: 9; overflow-y: auto; }
    #hints { height: auto; max-height: 4; overflow-y: auto; color: $text-muted; }
    #feedback.hidden, #hints.hidden { display: none; }
    #prompt { height: 1; text-style: bold; }
    #answer { height: 1; border: none; padding: 0 1; }
    """
    BINDINGS = [
        Binding("f1", "hint", "hint"),
        Binding("f2", "skip", "skip"),
        Binding("f3", "drawing", "drawing"),
        Binding("f4", "entries", "entries"),
        Binding("ctrl+q", "quit_saved", "quit"),
        Binding("ctrl+c", "interrupt", "quit", show=False, priority=True),
    ]

    def __init__(self, io, store, attempt: int):
        super().__init__()
        self.io, self.store, self.attempt = io, store, attempt
        self.s = io.s
        self.last: list[Text] = []  # the feedback on the last thing typed
        self.entry = None  # in entries mode: the entry being asked, (row, col)
        self.full = False  # F3: the drawing alone (feedback and hints hidden)

    # ─── layout ─────────────────────────────────────────────────────────────────────────
    def compose(self) -> ComposeResult:
        yield Static(id="top")
        with VerticalScroll(id="pane"):
            yield Static(id="drawing")
        yield Static(id="feedback")
        yield Static(id="hints")
        yield Static(id="prompt")
        yield Input(id="answer", placeholder="your answer · ? hint · skip · quit")
        yield Footer()

    def on_mount(self) -> None:
        w, s = self.s.worked, self.s
        spec = w.exercise.spec
        intro = [Text(f"{len(w.steps)} steps · tolerance: {tolerance_label(w.tolerance, w.symbolic)} · "
                      f"{s.tries} tries a step"), Text(syntax(w), style="dim")]
        if variant(w):
            intro.insert(0, Text(f"Your numbers: {variant(w)}", style="dim"))
        if s.results and s.current is not None:
            intro.insert(0, Text(f"Resuming: {len(s.results)} of {len(w.steps)} steps "
                                 f"already done.", style="bold"))
        self.last = intro
        self.title = spec.title or spec.id
        self.refresh_all()
        self.query_one("#answer", Input).focus()

    def on_resize(self, event) -> None:
        self.refresh_all()

    def refresh_all(self) -> None:
        s, w = self.s, self.s.worked
        step = s.current
        if step is None:
            return
        t = s.tally()
        n, total = s.position
        top = Text(f" {w.exercise.spec.title or w.id} · [{n}/{total}] · "
                   f"{phase_title(step.phase, step.iteration, w.solution.n_iterations)} · "
                   f"{t.score} right, {t.first_try} on the first try"
                   + (f" · {variant(w)}" if variant(w) else ""))
        top.truncate(max(self.size.width, 20), overflow="ellipsis")
        self.query_one("#top", Static).update(top)
        width = max(self.size.width - 2, 40)
        art = drawing(w, set(s.results), step.id, grads=True, it=step.iteration)
        self.query_one("#drawing", Static).update(art)
        self.call_after_refresh(self._scroll_to_current, art, width)
        self.query_one("#feedback", Static).update(Group(*self.last))
        said = {t.plain for t in self.last}  # a hint just given is in the feedback already
        hints = [Text(h, style=STYLES["hint"]) for h in s.earned() if h not in said]
        self.query_one("#hints", Static).update(Group(*hints))
        for pane in ("#feedback", "#hints"):
            self.query_one(pane).set_class(self.full, "hidden")
        if self.entry is not None:
            ask = f"{entry_name(step.id, self.entry, step.value.shape)} (entry by entry; cancel)"
        else:
            ask = f"[{n}/{total}] {step.id}: {meaning_text(step.meaning)}  " \
                  f"({asked_shape(step)})"
        self.query_one("#prompt", Static).update(Text(ask, style="bold"))

    def _scroll_to_current(self, art, width: int) -> None:
        """Keep the step's ▶ ? in view: the row it is drawn on, found in the drawing as
        rendered at this width (a position on the screen, not a meaning)."""
        out = StringIO()
        Console(file=out, width=width, no_color=True, highlight=False).print(art)
        rows = out.getvalue().splitlines()
        at = next((i for i, r in enumerate(rows) if CURRENT_MARK in r), 0)
        # from the top of its paragraph (a card's name and shape) when that is close above
        top = max((i for i in range(at) if not rows[i].strip()), default=-1) + 1
        pane = self.query_one("#pane", VerticalScroll)
        pane.scroll_to(y=top if at - top <= 8 else max(0, at - 2), animate=False)

    # ─── input ──────────────────────────────────────────────────────────────────────────
    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.value = ""
        self.handle(text)

    def handle(self, text: str) -> None:
        s, step = self.s, self.s.current
        if step is None:
            return
        word = text.strip().lower()
        if word in QUIT_WORDS:
            self.exit("quit")
            return
        if self.entry is not None:
            self._entry(step, text, word)
            return
        if word in ENTRY_WORDS:
            self.action_entries()
            return
        if word in SHOW_WORDS:
            self.action_drawing()
            return
        if word in HELP_WORDS:
            self.last = [Text(syntax(self.s.worked, self.s.current)),
                         Text(COMMANDS + " · F1–F4 and ^Q do the same")]
            self.refresh_all()
            return
        fb = s.hint() if word in HINT_WORDS else s.skip() if word in SKIP_WORDS \
            else s.submit(text)
        self.show(fb)

    def show(self, fb) -> None:
        self.io.keep(self.store, self.attempt, fb)  # saved first: a verdict shown is kept
        style = STYLES.get(fb.kind)
        self.last = [Text(line, style=style if k == 0 else "") for k, line in enumerate(fb.lines)]
        if self.s.current is None:  # the last step's feedback is printed after the screen
            self.io.last_feedback = fb
            self.exit("done")
            return
        self.refresh_all()

    def _entry(self, step, text: str, word: str) -> None:
        """One entry of a vector or matrix; kept in the store as it is typed."""
        from tutor.expr import Parsed, try_parse_answer

        s = self.s
        if word == "cancel":
            s.entries.clear()
            self.store.save_pending(self.attempt, s.pending())
            self.entry, self.last = None, [Text("Back to typing the whole answer.")]
        elif word in SKIP_WORDS or word in HINT_WORDS:
            self.entry = None if word in SKIP_WORDS else self.entry
            self.show(s.skip() if word in SKIP_WORDS else s.hint())
            return
        else:
            r = try_parse_answer(text.strip())
            if isinstance(r, Parsed) and not isinstance(r.value, tuple):
                s.entries[self.entry] = text.strip()
                self.store.save_pending(self.attempt, s.pending())
                self.entry = self._next_entry(step)
                if self.entry is None:  # the whole answer is judged now; entries start anew
                    answer = assemble(step.value, s.entries)
                    s.entries.clear()
                    self.show(s.submit(answer))
                    return
                self.last = []
            else:
                self.last = [Text("Not read: type one number." if isinstance(r, Parsed)
                                  else f"Not read: {r.message}.", style="yellow")]
        self.refresh_all()

    def _next_entry(self, step):
        return next((idx for idx, _ in entries(step.value) if idx not in self.s.entries), None)

    # ─── keys ───────────────────────────────────────────────────────────────────────────
    def action_hint(self) -> None:
        self.handle("?")

    def action_skip(self) -> None:
        self.handle("skip")

    def action_drawing(self) -> None:
        self.full = not self.full
        self.refresh_all()

    def action_entries(self) -> None:
        step = self.s.current
        v = step.value if step is not None else None
        if not hasattr(v, "shape") or v.shape == (1, 1):
            self.last = [Text("This step is a single number: type it.", style="yellow")]
        else:
            self.entry = self._next_entry(step)
            done = [f"{entry_name(step.id, i, v.shape)} = {t}"
                    for i, t in sorted(self.s.entries.items())]
            self.last = [Text("Entry by entry: `cancel` goes back; ? and skip work too.",
                              style="dim")]
            if done:
                self.last.append(Text("Typed before: " + ", ".join(done), style="dim"))
        self.refresh_all()

    def action_quit_saved(self) -> None:
        self.exit("quit")

    def action_interrupt(self) -> None:
        self.exit("interrupt")

