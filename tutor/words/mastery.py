"""The words of adaptive practice: the mastery chart, why an exercise is next, and the offer
of numbers that tell a named misconception apart from the truth (tutor.mastery, tutor.adapt).
"""
from __future__ import annotations

from typing import Mapping

from tutor.mastery import MASTERED, WEAK, Choice, Mastery
from tutor.words import SKILLS, listing

BAR = 20  # cells of a full bar: the chart's widest line fits 80 columns
FULL, EMPTY = "█", "░"
STATES = {"mastered": "mastered", "learning": "learning", "weak": "weak"}


def skill_name(skill: str) -> str:
    return SKILLS.get(skill, skill)


def number(p) -> str:
    """A mastery estimate as the chart and the sentences show it: 0.31."""
    return f"{float(p):.2f}"


def bar(p, width: int = BAR) -> str:
    """P(L) as a bar of ``width`` cells: ████████░░░░ (plain text: no escape sequence)."""
    filled = max(0, min(width, round(float(p) * width)))
    return FULL * filled + EMPTY * (width - filled)


def chart_title() -> str:
    return f"Mastery per skill (chance learned; mastered from {MASTERED:g}, weak below {WEAK:g})"


def chart_rows(skills: Mapping[str, Mastery]) -> list[tuple[str, str]]:
    """One line per skill practised, in the order of tutor.words.SKILLS (then any other):
    (the line, its state): "  error signal δ   ██░░░░░░░░░░░░░░░░░░  0.11  weak      first try 0/3"
    (right on the first try without a hint, of the steps answered; at most 80 characters:
    the longest skill name, 999 steps)."""
    order = list(SKILLS) + sorted(k for k in skills if k not in SKILLS)
    width = max((len(skill_name(k)) for k in skills), default=0)
    out = []
    for k in order:
        m = skills.get(k)
        if m is None:
            continue
        out.append((f"  {skill_name(k):<{width}}  {bar(m.p)}  {number(m.p)}  "
                    f"{STATES[m.state]:<8}  first try {m.right}/{m.steps}", m.state))
    return out


def untried(skills: Mapping[str, Mastery], trained: list[str]) -> str | None:
    """"Not practised yet: chain rule at a node, parameter gradient." (None: all were)."""
    names = [skill_name(k) for k in SKILLS if k in trained and k not in skills]
    return f"Not practised yet: {listing(names)}." if names else None


def next_line(choice: Choice | None) -> str:
    """Why this exercise is next, in one line:
    "Next: diagonal-flip-4-3-4 (new numbers) — trains the error signal δ (2 of its 13
    steps), your weakest skill (mastery 0.11).\""""
    if choice is None:
        return "Next: every bundled exercise is done; `tutor practice ID` works one again."
    head = f"Next: {choice.exercise}" + (" (new numbers)" if choice.new else "")
    if choice.reason == "first":
        return f"{head} — the first exercise."
    if choice.reason == "order":
        low = ""
        if choice.skill is not None:
            low = (f" (the lowest: {skill_name(choice.skill)}, mastery "
                   f"{number(choice.mastery)})")
        return f"{head} — the next exercise in order: none of your skills is weak{low}."
    return (f"{head} — trains the {skill_name(choice.skill)} ({choice.steps} of its "
            f"{choice.total} steps), your weakest skill (mastery {number(choice.mastery)}).")


def resume_line(exercise: str, done: int | None = None, total: int | None = None) -> str:
    """"Next: lab9-relu-sigmoid-bce, where you left off (5 of 24 steps done).\""""
    where = f" ({done} of {total} steps done)" if done is not None and total else ""
    return f"Next: {exercise}, where you left off{where}."


def separate_line(misconception: str, step_id: str) -> str:
    """The offer after a named misconception; the command follows on a line of its own."""
    return (f"To practise again: fresh numbers where “{misconception}” also gives a wrong "
            f"answer at {step_id}:")
