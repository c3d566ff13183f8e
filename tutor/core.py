"""One call from an exercise reference to everything a front end shows.

    work("lab9-relu-sigmoid-bce") → Worked(exercise, graph, solution, steps, tolerance)

Every command (solve, show, template, check, practice) starts here, so none of them
recomputes what the engine already knows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tutor.exercise import Exercise
from tutor.grade import Tolerance
from tutor.graph import Graph, compile_exercise
from tutor.solve import Solution, solve
from tutor.steps import Step, build_steps


@dataclass(frozen=True)
class Worked:
    exercise: Exercise
    graph: Graph
    solution: Solution
    steps: list[Step]
    tolerance: Tolerance
    all_steps: list[Step] = field(default_factory=list, repr=False)
    seed: int | None = None  # the variant (None: no variants, or the author's base values)

    @property
    def id(self) -> str:
        return self.exercise.id

    def step(self, step_id: str) -> Step:
        for s in self.all_steps or self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


def work_exercise(ex: Exercise, step_ids: bool = True) -> Worked:
    """Compile, solve and list the steps of a loaded exercise (``step_ids=False``: do not
    refuse a name that collides with a step id, E230 — only ``tutor validate``, which
    reports it among every other problem)."""
    from tutor.budget import EXERCISE_SECONDS, within
    from tutor.errors import SolveError

    graph = compile_exercise(ex, step_ids=step_ids)
    with within(EXERCISE_SECONDS) as budget:  # the net under the engine's size limits
        try:
            sol = solve(graph)
        except SolveError as err:  # at the node's line and column in the file
            raise ex.error(err.message, err.path, code=err.code) from None
    if budget.exceeded:
        raise ex.error(f"solving this exercise took longer than {EXERCISE_SECONDS:g} s (the "
                       f"limit for one exercise) and was stopped: make it smaller or its "
                       f"numbers simpler", code="E241")
    steps = build_steps(sol, ex.spec.ask)
    return Worked(ex, graph, sol, steps, Tolerance.from_spec(ex.spec.tolerance),
                  build_steps(sol, ex.spec.ask, everything=True))


def work(ref: str | Path, seed: int | None = None, student: str | None = None,
         note: bool = True) -> Worked:
    """Load (bundled id or path), compile, solve and list the steps of an exercise.

    An exercise with a ``variants:`` block gives the variant of ``seed`` (or of ``student``,
    hashed stably to a seed; ``seed`` wins when both are given); with neither, the author's
    base values (``Worked.seed`` is None). Without ``variants:`` both are ignored, and with
    ``note`` one line on stderr says so ("this exercise has no variants: --seed ignored")
    — the command still succeeds."""
    from tutor.catalog import resolve
    from tutor.exercise import load

    ex = load(resolve(str(ref)))
    if ex.spec.variants is None and note and (seed is not None or student is not None):
        ignored_note(seed, student)
    if ex.spec.variants is None or (seed is None and student is None):
        return work_exercise(ex)
    from tutor.variants import realize, student_seed

    if seed is None:
        seed = student_seed(str(student), ex.id)
    return realize(ex, int(seed))


def ignored_note(seed: int | None, student: str | None) -> None:
    """The one stderr line for --seed/--student given to an exercise without variants."""
    import sys

    given = " and ".join(o for o, v in (("--seed", seed), ("--student", student))
                         if v is not None)
    print(f"note: this exercise has no variants: {given} ignored", file=sys.stderr)
