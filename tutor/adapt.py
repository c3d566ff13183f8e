"""Practice that adapts: the store's answers and the bundled exercises in, what to do next out.

    masteries(store)        the answers replayed through tutor.mastery (BKT) in time order
    candidates(store)       the bundled exercises in teaching order: their steps' skills, done?
    choose_next(store)      tutor.mastery.choose over those: what a bare `tutor` opens when
                            no attempt is open (tutor.practice.pick asks it)
    separating(…)           after a named misconception: a seed whose numbers tell it apart
                            from the truth at the step where it was named

The model is pure (tutor.mastery); this module does the reading: the store, the exercise
files, the engine (SymPy is imported by the engine only when a choice is made).
"""
from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from tutor.mastery import Candidate, Choice, Mastery, choose, observation, trace

SEARCH_SEEDS = 12  # seeds tried per misconception for a separating variant
SEARCH_SECONDS = 5.0  # … and a bound in time (then no offer: never another kind of seed)


def masteries(store) -> dict[str, Mastery]:
    """skill → Mastery: every answer the record counts, in the order it was given."""
    return trace(observation(a) for a in store.history())


@functools.lru_cache(maxsize=None)
def _skills(exercise: str, path: str, stamp: int) -> tuple[str, ...]:
    """The skills of an exercise's steps, in order (kept while its file is unchanged)."""
    from tutor.core import work

    return tuple(s.skill for s in work(path).steps)


def candidates(store) -> list[Candidate]:
    """The bundled exercises in teaching order, each with its steps' skills and whether it
    was finished at least once."""
    from tutor.catalog import bundled

    status = store.status()
    out = []
    for e in bundled():
        st = status.get(e.id)
        try:
            stamp = e.path.stat().st_mtime_ns
        except OSError:
            continue
        out.append(Candidate(e.id, _skills(e.id, str(e.path), stamp),
                             st is not None and st.best is not None))
    return out


def choose_next(store) -> Choice | None:
    """What to open when no attempt is open (tutor.mastery.choose)."""
    return choose(masteries(store), candidates(store))


# ─── a variant that tells a misconception apart ───────────────────────────────────────
@dataclass(frozen=True)
class Offer:
    """Numbers (``seed``) where misconception ``mid`` gives another answer than the truth at
    ``step``: `tutor practice EXERCISE --seed N`."""

    mid: str
    name: str
    step: str
    seed: int


def _seed(exercise: str, mid: str, step: str, k: int) -> int:
    """The k-th seed tried: a stable hash, so the same offer on every machine."""
    digest = hashlib.sha256(f"{exercise}|{mid}|{step}|{k}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10**9


def separating(exercise: str, worked, named: Iterable[tuple[str, str]],
               avoid: Iterable[int] = ()) -> Offer | None:
    """After misconceptions were named in a session — (step id, misconception id), in the
    order named — the fresh variant for the one named most often (ties: the first) where
    that misconception's answer at its step differs from the truth: (step, id) is not in
    tutor.misconceptions.indistinguishable of the variant. Whether a misconception applies
    at a step is the graph's (the entries the step uses), the same in every variant, and it
    applied where it was named. Seeds in ``avoid`` (already practised) and the session's own
    are passed over. None: no such seed among the SEARCH_SEEDS tried, or the exercise has no
    numbers that can be drawn."""
    from tutor.core import work
    from tutor.errors import TutorError
    from tutor.misconceptions import CATALOGUE, indistinguishable

    named = [(s, m) for s, m in named if m in CATALOGUE]
    if not named:
        return None
    counts = Counter(m for _, m in named)
    first: dict[str, str] = {}
    for s, m in named:
        first.setdefault(m, s)
    skip = set(avoid) | {getattr(worked, "seed", None)}
    deadline = time.monotonic() + SEARCH_SECONDS
    for mid in sorted(first, key=lambda m: -counts[m]):  # stable: ties keep their order
        step = first[mid]
        for k in range(SEARCH_SEEDS):
            if time.monotonic() > deadline:
                return None
            seed = _seed(worked.id, mid, step, k)
            if seed in skip:
                continue
            try:
                w = work(exercise, seed=seed, fresh=True, note=False)
            except TutorError:  # this seed draws no variant: the next
                continue
            if getattr(w, "seed", None) != seed:
                return None  # nothing in it can be drawn: no other numbers to offer
            if any(s.id == step for s in w.steps) and (step, mid) not in indistinguishable(w):
                return Offer(mid, CATALOGUE[mid].name, step, seed)
    return None
