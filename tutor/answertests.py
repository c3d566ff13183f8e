"""Question tests (as STACK's): an exercise's own ``tests:``, checked by ``tutor validate``.

    tests:
      - {step: dW3, answer: "[0, 0.2514]", expect: correct}        # at the base values
      - {step: delta2, answer: "[0, -0.3]", expect: no-relu-mask}   # wrong, diagnosed so
      - {step: dW2, answer: ..., given: {delta2: ...}, expect: follow_through}
      - {seed: 3, step: L, answer: 0, expect: wrong}                # at variant 3
      - {seed: all, step: delta3, answer: 0, expect: wrong}         # at every variant drawn

Each test is graded as an answer sheet holding that answer (and the ``given`` ones) would be
— tutor.grade.grade with the misconception diagnosis — and its verdict compared with
``expect``: ``correct``, ``wrong``, ``follow_through``, ``invalid``, or a misconception id
(wrong, and diagnosed as that mistake). ``seed: all`` is the base values and every variant
``tutor validate`` draws (seed 0; 0 … N−1 with ``--variants N``). Two codes:

    E050  a test that names nothing: a step that is not asked, a misconception not in the
          catalogue, a seed in an exercise without ``variants:``
    E051  a test whose verdict is not the one expected (one line per test, however many
          variants fail it)

Findings are values (path into the file, code, message); tutor.validate locates them.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tutor.exercise import TEST_VERDICTS, close_word, shown


@dataclass(frozen=True)
class Finding:
    path: tuple  # into the file: ("tests", 2, "expect")
    code: str
    message: str


def answer_text(value: Any) -> str:
    """An answer from the file as a student would type it: 0.25, -3/8, [0.1, 0]."""
    if isinstance(value, list):
        return "[" + ", ".join(answer_text(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f") if abs(value.adjusted()) < 30 else str(value)
    return str(value)


def check(ex, worked, seeds: list[int], variants_ok: bool = True) -> list[Finding]:
    """Every problem of ``ex.spec.tests``: names first (E050), then verdicts (E051).
    ``worked``: the base values worked; ``seeds``: the variants validate drew (for ``seed:
    all``); ``variants_ok``: whether the variants block is sound (else seeded tests wait)."""
    out: list[Finding] = []
    for k, test in enumerate(ex.spec.tests):
        named = _names(ex, worked, k, test)
        if named:
            out += named
            continue
        if test.seed is not None and not variants_ok:
            continue  # the variants block's own problems are reported; nothing to draw
        out += _verdicts(ex, worked, k, test, seeds)
    return out


def _names(ex, worked, k: int, test) -> list[Finding]:
    from tutor.misconceptions import CATALOGUE

    at = ("tests", k)
    out = []
    asked = [s.id for s in worked.steps]
    for step, path in [(test.step, at + ("step",))] + [(g, at + ("given", g))
                                                         for g in test.given]:
        if step not in asked:
            out.append(Finding(path, "E050", f"tests[{k}]: {_no_step(step, worked)}"))
    words = list(TEST_VERDICTS) + list(CATALOGUE)
    if test.expect not in words:
        out.append(Finding(at + ("expect",), "E050", (
            f"tests[{k}]: expect {shown(test.expect)} is neither a verdict ("
            f"{', '.join(TEST_VERDICTS)}) nor a misconception id"
            f"{close_word(test.expect, words) or ' (docs/misconceptions.md lists them)'}")))
    if test.seed is not None and ex.spec.variants is None:
        out.append(Finding(at + ("seed",), "E050", (
            f"tests[{k}]: seed {test.seed} names a variant, but this exercise has no "
            "variants: block (leave seed out: the test is checked at its own numbers)")))
    return out


def _no_step(step: str, worked) -> str:
    asked = [s.id for s in worked.steps]
    every = [s.id for s in worked.all_steps or worked.steps]
    if step in every:
        return (f"step '{step}' is not asked (ask: {', '.join(worked.exercise.spec.ask)}): "
                "a test answers a step the student is asked")
    hint = close_word(step, asked)
    listed = ", ".join(asked[:30]) + (" …" if len(asked) > 30 else "")
    return f"no step '{step}'" + (hint or f" (the steps asked: {listed})")


def _verdicts(ex, worked, k: int, test, seeds: list[int]) -> list[Finding]:
    from tutor.variants import VariantError, realize

    at = ("tests", k)
    if test.seed is None:
        where = [(None, worked)]
    elif test.seed == "all":
        where = [(None, worked)]
        for s in seeds:  # drawn by validate already (realize remembers each seed)
            try:
                where.append((s, realize(ex, s)))
            except VariantError:  # a seed without a variant is its own E045
                continue
    else:
        try:
            where = [(test.seed, realize(ex, test.seed))]
        except VariantError as err:
            return [Finding(at + ("seed",), "E051", f"tests[{k}]: seed {test.seed} has no "
                            f"variant to test: {err.message}")]
    failed = []
    named = test.expect not in TEST_VERDICTS  # a misconception id: diagnose every answer
    for seed, w in where:
        v = judge(w, test, diagnose=named)
        if not meets(v, test.expect):
            failed.append((seed, w, v))
    if not failed:
        return []
    seed, w, v = failed[0]
    if not named:  # the diagnosis, for the message only
        v = judge(w, test)
    said = (f"tests[{k}]: {test.step} = {answer_text(test.answer)} is {verdict_words(v)}"
            f"{_at(seed)}, not {test.expect}")
    if len(where) > 1:
        seeds = [str(s) for s, _, _ in failed if s is not None]
        which = ", ".join((["the base values"] if failed[0][0] is None else [])
                          + ([f"seed{'s' * (len(seeds) > 1)} " + ", ".join(seeds[:10])
                              + (" …" if len(seeds) > 10 else "")] if seeds else []))
        said = (f"tests[{k}]: {test.step} = {answer_text(test.answer)} is not {test.expect} "
                f"at {len(failed)} of {len(where)} variants ({which}); {_at(seed).strip()} it "
                f"is {verdict_words(v)}")
    return [Finding(at + ("expect",), "E051", said)]


def _seed_name(seed) -> str:
    return "the base values" if seed is None else f"seed {seed}"


def _at(seed) -> str:
    return f" at {_seed_name(seed)}"


def judge(worked, test, diagnose: bool = True):
    """The verdict tutor gives ``test.answer`` at ``test.step``: a sheet with that answer
    and the ``given`` ones, graded (``diagnose``: with the misconception diagnosis, which
    the verdict's status does not depend on)."""
    from tutor.grade import grade

    answers = {s: answer_text(a) for s, a in test.given.items()}
    answers[test.step] = answer_text(test.answer)
    return next(v for v in grade(worked, answers, diagnose=diagnose) if v.step_id == test.step)


def meets(verdict, expect: str) -> bool:
    if expect in TEST_VERDICTS:
        return verdict.status == expect
    return expect in verdict.misconceptions


def verdict_words(v) -> str:
    """"wrong (misconception no-relu-mask)", "correct", "invalid (expected a vector of 2, got
    a single number)" — for the author, so a wrong one says the true value too."""
    from tutor.render import fmt
    from tutor.words import reason_text

    if v.status == "correct":
        return "correct"
    if v.status == "invalid":
        return f"invalid ({reason_text(v.reason)})"
    ms = f", misconception {', '.join(v.misconceptions)}" if v.misconceptions else ""
    if v.status == "follow_through":
        return f"follow_through ({reason_text(v.reason)}{ms})"
    return f"wrong (the value is {fmt(v.expected)}{ms})"
