"""One time budget for untrusted work: a safety net under the size limits.

The limits in tutor.expr, tutor.limits and tutor.numeric refuse or bound every input we know
to be slow (a fractional power with a large denominator, a huge rational, deep nesting), in
well under a second. This module is the net under them, for what nobody thought of: a block
of work run ``within(seconds)`` is stopped when its time is up: ``OverBudget`` is raised
from wherever the work is (SymPy is Python, so a SIGALRM handler runs between its
bytecodes) and caught by ``within`` itself, which marks the budget exceeded.

    with within(SHEET_SECONDS) as budget:   # a sheet that takes longer is marked invalid
        verdicts = grade(worked, answers)
    if budget.exceeded: ...                   # say so; the other sheets go on

``OverBudget`` derives from BaseException so that the ``except Exception`` of a rule or a
parser on the way cannot swallow it. Budgets nest: the alarm is set for the nearest
deadline, and each ``within`` catches only its own expiry (an inner budget that ends
does not stop the outer block, an outer one that ends passes through the inner).

Trade-off, said plainly: the alarm is a POSIX interval timer and signal handlers run on the
main thread only, so off the main thread (or without SIGALRM) ``within`` does not stop the
work; it still measures it and marks the budget exceeded after the block. A long
call inside C (a huge integer multiplication in GMP) ends before the handler runs; the
size limits keep such calls short.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

SHEET_SECONDS = 3.0  # grading one answer sheet (usually a few milliseconds)
ANSWER_SECONDS = 2.0  # judging one answer typed at the practice prompt
FOLLOW_SECONDS = 1.0  # solving again from a student's own values (follow-through)
EXERCISE_SECONDS = 20.0  # solving one exercise (bundled ones take 10–100 ms)


class OverBudget(BaseException):
    """The work of a ``within`` block took longer than its budget."""

    def __init__(self, seconds: float, token: object):
        self.seconds, self.token = seconds, token
        super().__init__(f"took longer than {seconds:g} s")


_deadlines: list[tuple[float, float, object]] = []  # (deadline, seconds, token), nesting order
_fired: set[int] = set()  # ids of tokens whose OverBudget is on its way out: never re-armed


def _usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _arm() -> None:
    """Set the alarm for the nearest deadline (or clear it when none is left)."""
    pending = [d for d, _, token in _deadlines if id(token) not in _fired]
    if not pending:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return
    left = min(pending) - time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, max(left, 1e-4))


def _on_alarm(signum, frame) -> None:
    now = time.monotonic()
    due = [entry for entry in _deadlines
           if entry[0] <= now + 1e-3 and id(entry[2]) not in _fired]
    if not due:  # woken early (a timer rounding): wait for the nearest deadline again
        _arm()
        return
    _, seconds, token = min(due, key=lambda e: e[0])
    _fired.add(id(token))  # once: the unwinding through inner blocks must not re-raise it
    raise OverBudget(seconds, token)


class Budget:
    """What ``within`` yields: after the block, ``exceeded`` says whether it was stopped."""

    def __init__(self, seconds: float):
        self.seconds, self.exceeded, self.elapsed = seconds, False, 0.0


@contextmanager
def within(seconds: float) -> Iterator[Budget]:
    """Run the block with a budget of ``seconds``. When it is exceeded the block is stopped
    and the ``with`` ends normally with ``budget.exceeded`` set (so the caller says so);
    an outer budget that ends passes through as ``OverBudget``."""
    budget, token = Budget(seconds), object()
    start = time.monotonic()
    if not _usable():
        yield budget
        budget.elapsed = time.monotonic() - start
        budget.exceeded = budget.elapsed > seconds
        return
    outermost = not _deadlines
    previous = signal.signal(signal.SIGALRM, _on_alarm) if outermost else None
    _deadlines.append((start + seconds, seconds, token))
    try:
        _arm()
        yield budget
    except OverBudget as exc:
        if exc.token is not token:  # an outer budget ended: let it through
            raise
        budget.exceeded = True
    finally:
        _deadlines[:] = [e for e in _deadlines if e[2] is not token]
        _fired.discard(id(token))
        _arm()
        if outermost:
            signal.signal(signal.SIGALRM, previous)
        budget.elapsed = time.monotonic() - start

