"""Mastery per skill: Bayesian knowledge tracing (BKT), and what it says to practise next.

Pure functions over frozen dataclasses: no I/O, no SymPy. The progress store's answers are
replayed through them in time order (tutor.adapt reads the store), so the estimate is never
stored and needs no schema of its own.

The model (Corbett & Anderson 1995, as OATutor's ``BKT-brain.js`` applies it). Per skill, a
student either has learned it (L) or not; P(L) is the mastery estimate. Four parameters:

    P(L0)  p_init     the chance the skill is known before any step of it   0.1
    P(T)   p_transit  the chance it is learned at one opportunity          0.1
    P(S)   p_slip     the chance a known skill still gives a wrong answer  0.1
    P(G)   p_guess    the chance an unknown skill gives a right answer     0.1

(OATutor's defaults for a skill without fitted parameters; docs/practice.md says why.) One
answered step is one observation of its skill. After it, Bayes' rule on the observation,

    right:  P(L | right) = P(L)(1 − S) / (P(L)(1 − S) + (1 − P(L)) G)
    wrong:  P(L | wrong) = P(L) S / (P(L) S + (1 − P(L))(1 − G))

then the chance of learning at this opportunity (no forgetting):

    P(L′) = P(L | obs) + (1 − P(L | obs)) T

Example (the defaults): 0.1 → right → 0.09 / (0.09 + 0.09) = 0.5 → 0.5 + 0.5·0.1 = 0.55.

Observations (``observed``): a step counts as *right* only when it was right on the first try
with no hint — OATutor updates on a step's first attempt only, and a hint taken first is
help, not evidence of the skill. Right after a wrong try, right after a hint, an answer
shown after the last try (revealed) and a skip all count as *wrong*: each says the skill
was not there unaided (a skip counted as nothing would let skipping dodge the estimate).
The wrong tries within a step are one observation, not several: one step, one opportunity.

The arithmetic is generic: floats in use, ``fractions.Fraction`` parameters give exact
values (the tests check them against hand computations).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

MASTERED = 0.95  # P(L) ≥ this: mastered (Corbett & Anderson's mastery criterion)
WEAK = 0.5  # P(L) < this: more likely not learned than learned: practise it before new work


@dataclass(frozen=True)
class Params:
    """One skill's BKT parameters: P(L0), P(T), P(S), P(G)."""

    p_init: Any = 0.1
    p_transit: Any = 0.1
    p_slip: Any = 0.1
    p_guess: Any = 0.1


DEFAULT = Params()


@dataclass(frozen=True)
class Observation:
    """One answered step: its skill, and whether it was right on the first try, unaided."""

    skill: str
    right: bool


@dataclass(frozen=True)
class Mastery:
    """A skill's estimate after its observations: P(L), how many steps, how many right."""

    skill: str
    p: Any  # P(L_n)
    steps: int = 0
    right: int = 0

    @property
    def state(self) -> str:
        """mastered (P(L) ≥ 0.95) | learning | weak (P(L) < 0.5)."""
        return state(self.p)


def state(p) -> str:
    return "mastered" if p >= MASTERED else "weak" if p < WEAK else "learning"


def observed(result: str, wrong: int = 0, hints: int = 0) -> bool:
    """Whether an answered step counts as a right observation: ``result`` correct with no
    wrong try and no hint. Everything else (right later, right after a hint, revealed,
    skipped) counts as wrong."""
    return result == "correct" and not wrong and not hints


def observation(answer: Any) -> Observation:
    """An answer record (anything with skill, result, wrong, hints: tutor.progress.Answer)
    as an observation."""
    return Observation(answer.skill, observed(answer.result, answer.wrong, answer.hints))


def posterior(p, right: bool, params: Params = DEFAULT):
    """P(L | observation) by Bayes' rule:
    right: P(L)(1 − S) / (P(L)(1 − S) + (1 − P(L)) G);
    wrong: P(L) S / (P(L) S + (1 − P(L))(1 − G))."""
    s, g = params.p_slip, params.p_guess
    if right:
        known, unknown = p * (1 - s), (1 - p) * g
    else:
        known, unknown = p * s, (1 - p) * (1 - g)
    total = known + unknown
    return known / total if total else p


def learn(p, params: Params = DEFAULT):
    """The transition after an opportunity: P(L′) = P(L) + (1 − P(L)) T (no forgetting)."""
    return p + (1 - p) * params.p_transit


def update(p, right: bool, params: Params = DEFAULT):
    """One observation: the posterior, then the transition."""
    return learn(posterior(p, right, params), params)


def trace(observations: Iterable[Observation],
          params: Params | Mapping[str, Params] = DEFAULT) -> dict[str, Mastery]:
    """Every skill's mastery after the observations, replayed in the order given (time
    order). ``params``: one Params for all skills, or skill → Params (DEFAULT for others).
    A skill never observed is absent (its estimate would be P(L0): no evidence)."""
    out: dict[str, Mastery] = {}
    for ob in observations:
        pr = _params(params, ob.skill)
        m = out.get(ob.skill) or Mastery(ob.skill, pr.p_init)
        out[ob.skill] = Mastery(ob.skill, update(m.p, ob.right, pr), m.steps + 1,
                                m.right + ob.right)
    return out


def _params(params: Params | Mapping[str, Params], skill: str) -> Params:
    return params if isinstance(params, Params) else params.get(skill, DEFAULT)


# ─── what to practise next ───────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Candidate:
    """An exercise as the pick sees it: its id, its steps' skills in order, and whether it
    was finished (then it is worked again with fresh numbers)."""

    id: str
    skills: tuple[str, ...]
    done: bool = False


@dataclass(frozen=True)
class Choice:
    """What to practise next. ``reason``: weakest (it trains the weakest skill, ``skill``
    with ``mastery``) | order (no skill is weak: the next unfinished exercise in teaching
    order; ``skill`` and ``mastery``: the lowest, for the record) | first (no record yet)."""

    exercise: str
    new: bool  # fresh numbers: the exercise was finished before
    reason: str
    skill: str | None = None
    mastery: Any = None
    steps: int = 0  # its steps of that skill
    total: int = 0  # all its steps
    ranking: tuple = field(default=(), compare=False)  # (score, id) of the candidates


def weakest(skills: Mapping[str, Mastery], among: Iterable[str] | None = None) -> Mastery | None:
    """The skill with the lowest mastery (of those in ``among`` when given; ties: the fewer
    right, then the name)."""
    pool = [m for k, m in skills.items() if among is None or k in among]
    return min(pool, key=lambda m: (m.p, m.right, m.skill), default=None)


def need(skills: Mapping[str, Mastery], skill: str, params=DEFAULT):
    """1 − P(L) of a skill (never observed: 1 − P(L0))."""
    m = skills.get(skill)
    return 1 - (m.p if m is not None else _params(params, skill).p_init)


def score(c: Candidate, skill: str, skills: Mapping[str, Mastery], params=DEFAULT) -> tuple:
    """How well an exercise trains ``skill``, compared lexicographically: its steps of that
    skill, their share of its steps, the mean need 1 − P(L) over all its steps (what else
    it trains), an unfinished one before a finished one."""
    n = sum(s == skill for s in c.skills)
    total = len(c.skills) or 1
    mean = sum(need(skills, s, params) for s in c.skills) / total
    return (n, n / total, mean, not c.done)


def choose(skills: Mapping[str, Mastery], candidates: Sequence[Candidate],
           params=DEFAULT) -> Choice | None:
    """What a bare `tutor` opens when no attempt is open (candidates in teaching order):

    * no record: the first unfinished candidate (``first``);
    * a practised skill is weak (P(L) < 0.5): the candidate that trains the weakest one —
      most steps of it, then the largest share, the most need, unfinished first, teaching
      order (``weakest``; fresh numbers when it was finished);
    * else the next unfinished candidate in teaching order (``order``): new skills;
    * everything finished: the weakest skill anyway, fresh numbers (``weakest``).
    """
    trained = {s for c in candidates for s in c.skills}
    if not skills:
        c = next((c for c in candidates if not c.done), None)
        return Choice(c.id, False, "first", total=len(c.skills)) if c is not None else None
    low = weakest(skills, trained)
    todo = next((c for c in candidates if not c.done), None)
    if low is None or (low.p >= WEAK and todo is not None):
        if todo is None:
            return None
        return Choice(todo.id, False, "order", low.skill if low else None,
                      low.p if low else None, total=len(todo.skills))
    ranked = sorted(((score(c, low.skill, skills, params), -k, c)
                     for k, c in enumerate(candidates) if low.skill in c.skills),
                    key=lambda t: (t[0], t[1]), reverse=True)
    best = ranked[0][2]
    return Choice(best.id, best.done, "weakest", low.skill, low.p,
                  sum(s == low.skill for s in best.skills), len(best.skills),
                  tuple((sc, c.id) for sc, _, c in ranked))
