"""The full-screen practice screen (issue 14), driven by Textual's pilot at 80×24: what a
student sees is read off the screen itself (the SVG screenshot, put back into rows)."""
from __future__ import annotations

import asyncio
import html
import re
from io import StringIO

import pytest
from rich.console import Console

pytest.importorskip("textual")

from tutor.catalog import bundled  # noqa: E402
from tutor.core import work  # noqa: E402
from tutor.draw import CURRENT_MARK  # noqa: E402
from tutor.practice import Session, _IO  # noqa: E402
from tutor.progress import Store  # noqa: E402
from tutor.render import fmt  # noqa: E402
from tutor.screen import PracticeApp  # noqa: E402

_WORKED: dict = {}


def worked(ex):
    if ex not in _WORKED:
        _WORKED[ex] = work(ex)
    return _WORKED[ex]


def rows(app) -> list[str]:
    """The screen as text, one string per row (from the screenshot's text runs)."""
    svg = app.export_screenshot()
    grid: dict[int, dict[int, str]] = {}
    for m in re.finditer(r'<text class="[^"]*-r\d+"[^>]* x="([\d.]+)" y="[\d.]+"[^>]*'
                         r'clip-path="url\(#[^)]*-line-(\d+)\)">([^<]*)</text>', svg):
        x, line, txt = float(m[1]), int(m[2]), html.unescape(m[3]).replace("\xa0", " ")
        col = round(x / 12.2)
        row = grid.setdefault(line, {})
        for k, ch in enumerate(txt):
            row[col + k] = ch
    return ["".join(r.get(c, " ") for c in range(max(r, default=-1) + 1)).rstrip()
            for _, r in sorted(grid.items())]


class Harness:
    def __init__(self, ex: str, store=None):
        self.w = worked(ex)
        self.store = store or Store.memory()
        a = self.store.open_attempt(self.w.id, self.w.exercise.sha, None, len(self.w.steps))
        self.attempt = a.id
        self.s = Session(self.w, 3, a.answers, a.pending)
        self.app = PracticeApp(_IO(self.s, Console(file=StringIO()), None, redraw=False),
                               self.store, a.id)


def run(coro):
    return asyncio.run(coro)


async def type_line(pilot, text: str, keys: bool = False) -> None:
    """Type ``text`` and Enter: key by key (``keys``), or put in the field at once and Enter
    pressed (the same Input.Submitted; ~30 ms a key is slow over hundreds of answers)."""
    if keys:
        await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")
    else:
        from textual.widgets import Input

        pilot.app.query_one("#answer", Input).value = text
        await pilot.press("enter")
    await pilot.pause()


def test_after_a_right_dw2_the_prompt_the_zero_row_and_the_drawing_are_all_on_screen():
    """The issue's check: Lab 9 at 80×24, dW2 right → the prompt for db2, the line saying
    unit 2's row is zero because δ2[2] = 0, and the drawing with its ▶ ?, together."""
    h = Harness("lab9-relu-sigmoid-bce")

    async def go():
        async with h.app.run_test(size=(80, 24)) as pilot:
            while h.s.current.id != "dW2":
                await type_line(pilot, fmt(h.s.current.value, 8))
            await type_line(pilot, "[[-0.1315, -0.0219], [0, 0]]", keys=True)
            return rows(h.app)
    screen = run(go())
    text = "\n".join(screen)
    assert len(screen) <= 24 and max(len(r) for r in screen) <= 80
    assert "✓ dW2 = [[-0.1315, -0.0219], [0, 0]]" in text
    assert "no error signal reaches unit 2" in text and "δ2[2] = 0" in text
    assert any(r.startswith(f"[{h.s.position[0]}/24] db2: ∂L/∂b2") for r in screen), text
    assert CURRENT_MARK in text  # the drawing, scrolled to the step being asked
    assert h.store.answers(h.attempt)["dW2"].result == "correct"  # saved as it was shown


def test_a_zero_entry_is_not_given_away_on_the_screen_before_the_answer():
    """h2 = 0.42 -0.17 (the ReLU forgotten): h2[2]'s 0 is not on the screen."""
    h = Harness("lab9-relu-sigmoid-bce")

    async def go():
        async with h.app.run_test(size=(80, 24)) as pilot:
            while h.s.current.id != "h2":
                await type_line(pilot, fmt(h.s.current.value, 8))
            await type_line(pilot, "0.42 -0.17", keys=True)
            first = "\n".join(rows(h.app))
            await type_line(pilot, "0.42 -0.17")
            await type_line(pilot, "0.42 -0.17")
            return first, "\n".join(rows(h.app))
    first, last = run(go())
    assert "h2[2]: check whether this ReLU is active: z2[2] = -0.17." in first
    assert "h2[2] = 0" not in first and "[0.42, 0]" not in first
    assert "The answer: h2 = [0.42, 0]" in last


@pytest.mark.parametrize("ex", [e.id for e in bundled()])
def test_every_bundled_exercise_fits_80x24_at_every_step(ex):
    """Worked to the end at 80×24: after every answer the feedback's first line, the
    prompt for the next step and the ▶ ? of the drawing are on screen together."""
    h = Harness(ex)
    seen = []

    async def go():
        async with h.app.run_test(size=(80, 24)) as pilot:
            while h.s.current is not None:
                step = h.s.current
                last = h.s.current is h.w.steps[-1]
                await type_line(pilot, fmt(step.value, 8))
                if last:
                    break
                screen = rows(h.app)
                text = "\n".join(screen)
                assert len(screen) <= 24 and max(len(r) for r in screen) <= 80
                assert f"✓ {step.id} = " in text, (step.id, text)
                nxt = h.s.current
                assert any(r.startswith(f"[{h.s.position[0]}/{len(h.w.steps)}] {nxt.id}: ")
                           for r in screen), (nxt.id, text)
                assert CURRENT_MARK in text, (nxt.id, text)
                seen.append(step.id)
            return h.app.return_value
    assert run(go()) == "done"
    assert len(seen) == len(h.w.steps) - 1
    assert h.s.tally().first_try == len(h.w.steps)


def test_keys_hint_skip_drawing_entries_and_quit():
    h = Harness("lab9-relu-sigmoid-bce")

    async def go():
        async with h.app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f1")
            await pilot.pause()
            hint = "\n".join(rows(h.app))
            await pilot.press("f3")
            await pilot.pause()
            alone = "\n".join(rows(h.app))
            await pilot.press("f3", "f2")
            await pilot.pause()
            skipped = "\n".join(rows(h.app))
            await pilot.press("f4")  # h1 entry by entry
            await pilot.pause()
            await type_line(pilot, "0.6")
            entry = "\n".join(rows(h.app))
            await pilot.press("ctrl+q")
            await pilot.pause()
            return hint, alone, skipped, entry, h.app.return_value
    hint, alone, skipped, entry, result = run(go())
    assert "Rule: z1 = W1 x + b1" in hint
    assert "Rule:" not in alone  # F3: the drawing alone
    assert "Skipped." in skipped and "The answer: z1 = [0.6, 0.1]" in skipped
    assert "h1[2] (entry by entry; cancel)" in entry
    assert result == "quit"
    assert h.store.pending(h.attempt).entries == (((0, 0), "0.6"),)  # kept for next time
    assert h.s.hints == 0 and h.store.answers(h.attempt)["z1"].result == "skipped"


def test_the_screen_follows_a_resize():
    h = Harness("diagonal-flip-4-3-4")

    async def go():
        async with h.app.run_test(size=(120, 40)) as pilot:
            big = rows(h.app)
            await pilot.resize_terminal(80, 24)
            await pilot.pause()
            small = rows(h.app)
            return big, small
    big, small = run(go())
    assert len(big) <= 40 and max(len(r) for r in big) <= 120
    assert len(small) <= 24 and max(len(r) for r in small) <= 80
    assert any(r.startswith("[1/") for r in big) and any(r.startswith("[1/") for r in small)
    assert "z = 0 convention: ReLU′(0) = 0" in "\n".join(big)
