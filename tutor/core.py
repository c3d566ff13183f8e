"""One call from an exercise reference to everything a front end shows.

    work("lab9-relu-sigmoid-bce") → Worked(exercise, graph, solution, steps, tolerance)

Every command (solve, show, template, check, practice) starts here, so none of them
recomputes what the engine already knows.
"""
from __future__ import annotations

from pathlib import Path

from tutor.worked import Worked, work_exercise  # noqa: F401  (the front door's results)


def work(ref: str | Path, seed: int | None = None, student: str | None = None,
         note: bool = True, fresh: bool = False, cache=None) -> Worked:
    """Load (bundled id or path), compile, solve and list the steps of an exercise.

    An exercise with a ``variants:`` block gives the variant of ``seed`` (or of ``student``,
    hashed stably to a seed; ``seed`` wins when both are given); with neither, the author's
    base values (``Worked.seed`` is None). Without ``variants:``, ``fresh`` (practice, solve
    and show) makes ``seed`` draw fresh numbers from the exercise's own (tutor.fresh);
    otherwise — graded work, where a sheet's numbers must be the ones handed out — both are
    ignored, and with ``note`` one line on stderr says so ("this exercise has no variants:
    --seed ignored"); the command still succeeds.

    ``cache``: a variant cache (tutor.drawcache.DrawCache: ``hint(ex, seed)`` and
    ``note(ex, seed)``) — which try of the seed gave its variant in an earlier run, checked
    by tutor.variants.realize before it is used, and remembered for the next run."""
    from tutor.catalog import resolve
    from tutor.exercise import load

    ex = load(resolve(str(ref)))
    if ex.spec.variants is None and fresh and seed is not None:
        from tutor.fresh import fresh_exercise

        ex = fresh_exercise(ex)
        if ex.spec.variants is None:
            if note:
                import sys

                print("note: this exercise has no numbers that can be drawn: --seed "
                      "ignored", file=sys.stderr)
            return work_exercise(ex)
        student = None
    if ex.spec.variants is None and note and (seed is not None or student is not None):
        ignored_note(seed, student)
    if ex.spec.variants is None or (seed is None and student is None):
        return work_exercise(ex)
    from tutor.variants import student_seed

    if seed is None:
        seed = student_seed(str(student), ex.id)
    return variant(ex, int(seed), cache)


def variant(ex, seed: int, cache=None) -> Worked:
    """The variant ``seed`` of a loaded exercise with variants (tutor.variants.realize),
    through ``cache`` when one is given (see ``work``). Drawn once per Exercise object:
    `tutor check` asks its one loaded exercise for every student's."""
    from tutor.variants import realize

    if cache is None:
        return realize(ex, seed)
    worked = realize(ex, seed, cache.hint(ex, seed))
    cache.note(ex, seed)
    return worked


def ignored_note(seed: int | None, student: str | None) -> None:
    """The one stderr line for --seed/--student given to an exercise without variants."""
    import sys

    given = " and ".join(o for o, v in (("--seed", seed), ("--student", student))
                         if v is not None)
    print(f"note: this exercise has no variants: {given} ignored", file=sys.stderr)
