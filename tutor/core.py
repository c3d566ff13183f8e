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

    @property
    def id(self) -> str:
        return self.exercise.id

    def step(self, step_id: str) -> Step:
        for s in self.all_steps or self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


def work_exercise(ex: Exercise) -> Worked:
    graph = compile_exercise(ex)
    sol = solve(graph)
    steps = build_steps(sol, ex.spec.ask)
    return Worked(ex, graph, sol, steps, Tolerance.from_spec(ex.spec.tolerance),
                  build_steps(sol, ex.spec.ask, everything=True))


def work(ref: str | Path) -> Worked:
    """Load (bundled id or path), compile, solve and list the steps of an exercise."""
    from tutor.catalog import resolve
    from tutor.exercise import load

    return work_exercise(load(resolve(str(ref))))
