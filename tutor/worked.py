"""An exercise worked: compiled, solved, and its steps listed — what every front end shows.

    work_exercise(ex) → Worked(exercise, graph, solution, steps, tolerance)

tutor.core.work is the front door (a bundled id or a path, variants by seed or student);
tutor.variants draws a variant and works it here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tutor.tolerance import Tolerance
from tutor.exercise import Exercise
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
    # what judging computes once for this exercise and keeps (tutor.misconceptions: the
    # buggy rules' values, step by step); it belongs to the worked exercise, not to a module
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.exercise.id

    @property
    def symbolic(self) -> bool:
        """Some leaf is a symbol (``x: symbol``): values and gradients are expressions."""
        return self.exercise.symbolic

    def answer_names(self) -> dict:
        """The names an expression answer may use (tutor.expr.parse_symbolic): each leaf as
        its value (the symbol x, or a number), each node as its definition in the leaves
        (a = x + y, so ``2*b*a`` is 2·x(x + y)·(x + y)); {} when nothing is symbolic."""
        if not self.symbolic:
            return {}
        if "answer_names" not in self.cache:
            sol = self.solution
            self.cache["answer_names"] = {
                n: sol.value(n) for n in self.graph.nodes if (1, "value", n) in sol.quantities}
        return self.cache["answer_names"]

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
