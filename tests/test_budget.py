"""One budget for untrusted work (issue 10, part 1): nothing in an answer or a sheet can stall
the tutor. The size limits refuse or bound every input we know to be slow; tutor.budget is
the net under them. Here the net is exercised with work made slow on purpose (a grader that
sleeps), and the inputs of the issue are graded, in a real class folder, with true verdicts.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor import budget, grade
from tutor.budget import OverBudget, within
from tutor.words import verdict_text
from tutor.cli import app
from tutor.core import work
from tutor.practice import Session

SHEETS = Path(__file__).parent / "sheets"
LAB9 = "lab9-relu-sigmoid-bce"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


# ─── the budget itself ────────────────────────────────────────────────────────────────
def test_a_block_over_its_budget_is_stopped_and_marked():
    t = time.monotonic()
    with within(0.2) as b:
        time.sleep(5)
    assert b.exceeded and time.monotonic() - t < 1


def test_a_block_within_its_budget_runs_to_the_end():
    with within(2) as b:
        x = sum(range(1000))
    assert not b.exceeded and x == 499500


def test_an_inner_budget_ending_does_not_stop_the_outer_block():
    with within(2) as outer:
        with within(0.1) as inner:
            time.sleep(1)
        after = True
    assert inner.exceeded and not outer.exceeded and after


def test_an_outer_budget_ending_passes_through_the_inner_one():
    reached = False
    with within(0.2) as outer:
        with within(10) as inner:
            time.sleep(3)
        reached = True
    assert outer.exceeded and not inner.exceeded and not reached


def test_an_except_exception_on_the_way_does_not_swallow_the_stop():
    swallowed = []
    with within(0.2) as b:
        try:
            time.sleep(3)
        except Exception:  # what a rule or a parser might do
            swallowed.append(True)
    assert b.exceeded and not swallowed
    assert issubclass(OverBudget, BaseException) and not issubclass(OverBudget, Exception)


def test_the_alarm_is_cleared_after_the_block():
    import signal

    with within(5):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None, signal.default_int_handler)


def test_a_real_sympy_power_is_stopped_within_its_budget():
    import sympy as sp

    t = time.monotonic()
    with within(0.3) as b:
        sp.N(sp.Rational(92, 1000) ** sp.Rational(1234567, 10000000), 10)
    assert time.monotonic() - t < 1.0
    assert b.exceeded  # computed exactly, this takes far longer than 0.3 s


# ─── a sheet over its budget: invalid with the reason, the class graded ──────────────
def _slow_when(monkeypatch, marker: str):
    """Make judging an answer containing ``marker`` take 60 s (the net must stop it)."""
    real = grade._first_verdict

    def slow(s, text, tol, worked=None):
        if text is not None and marker in str(text):
            time.sleep(60)
        return real(s, text, tol, worked)

    monkeypatch.setattr(grade, "_first_verdict", slow)


def test_a_hanging_answer_makes_that_step_invalid_and_the_sheet_is_graded(monkeypatch):
    _slow_when(monkeypatch, "4548")  # the seed's L
    w = work(LAB9)
    t = time.monotonic()
    vs = {v.step_id: v for v in grade.grade(w, {"L": "0.4548", "z3": "0.552"})}
    assert time.monotonic() - t < budget.ANSWER_SECONDS + 1
    assert vs["L"].status == "invalid"
    assert verdict_text(vs["L"]) == ("reading this answer took longer than 2 s (the limit for it) "
                               "and was stopped; write the answers more simply, e.g. as decimals")
    assert vs["z3"].status == "correct"


def test_a_sheet_over_its_budget_is_invalid_and_the_others_are_graded(tmp_path, monkeypatch):
    monkeypatch.setattr(budget, "ANSWER_SECONDS", 30.0)  # so that the sheet's budget is hit
    monkeypatch.setattr("tutor.check.SHEET_SECONDS", 0.5)
    _slow_when(monkeypatch, "0.45480")  # only the bomb's L: the others have 0.4548
    good = SHEETS / "lab9-seed003.yaml"
    text = good.read_text()
    for i in range(5):
        (tmp_path / f"s{i}.yaml").write_text(text.replace("seed003", f"s{i}"))
    (tmp_path / "bomb.yaml").write_text(text.replace("seed003", "bomb")
                                        .replace("L: 0.4548", "L: 0.45480"))
    t = time.monotonic()
    r = CliRunner().invoke(app, ["check", LAB9, str(tmp_path), "--format", "json", "-j", "1"])
    assert time.monotonic() - t < 10
    doc = json.loads(r.stdout)
    by = {Path(s["file"]).stem: s for s in doc["sheets"]}
    bomb = by["bomb"]
    assert bomb["score"] == 0 and {s["verdict"] for s in bomb["steps"]} == {"invalid"}
    assert {s["message"] for s in bomb["steps"]} == {
        "grading this sheet took longer than 0.5 s (the limit for it) and was "
        "stopped; write the answers more simply, e.g. as decimals"}
    assert [by[f"s{i}"]["score"] for i in range(5)] == [24] * 5
    assert r.exit_code == 1  # invalid answers: not a clean run


def test_practice_answer_over_its_budget_costs_no_try(monkeypatch):
    import tutor.practice as practice

    real = practice.parse_for

    def slow(step, text, names=None):
        if "9999" in text:
            time.sleep(60)
        return real(step, text, names)

    monkeypatch.setattr(practice, "parse_for", slow)
    s = Session(work("merge-sum"))
    t = time.monotonic()
    fb = s.submit("0.9999")
    assert time.monotonic() - t < budget.ANSWER_SECONDS + 1
    assert fb.kind == "invalid"
    assert fb.lines == ("Not judged: checking this answer took longer than 2 s (the limit for "
                        "it) and was stopped; write the answers more simply, e.g. as decimals. "
                        "No try used.",)
    assert s.wrong == 0


# ─── the issue's inputs, in a real class folder ───────────────────────────────────────
BOMBS = {  # the issue's sheets that hung `tutor check` (past 60 s and 120 s)
    "pow": "exercise: lab9-relu-sigmoid-bce\nanswers:\n  z3: 0.092^0.1234567\n",
    "minus-1e10": "exercise: lab9-relu-sigmoid-bce\nanswers:\n  z3: -1e10\n  yhat: 0.5\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_the_issues_hanging_sheets_grade_with_true_verdicts(tmp_path, name):
    p = tmp_path / f"{name}.yaml"
    p.write_text(BOMBS[name])
    t = time.monotonic()
    r = CliRunner().invoke(app, ["check", LAB9, str(p), "--format", "json"])
    assert time.monotonic() - t < 3
    steps = {s["id"]: s for s in json.loads(r.stdout)["sheets"][0]["steps"]}
    assert steps["z3"]["verdict"] == "wrong"  # z3 is 0.552; 0.092^0.123… ≈ 0.745, −1e10
    if name == "minus-1e10":
        # ŷ = σ(−1e10) given z3 = −1e10 is ≈ e^(−1e10), not 0.5: not follow-through either
        assert steps["yhat"]["verdict"] == "wrong"
    assert r.exit_code == 1


def test_300_sheets_with_the_bombs_among_them_grade_in_the_usual_time(tmp_path):
    """Whole process, as a teacher runs it: 300 sheets (2 workers), the bombs among them."""
    good = (SHEETS / "lab9-seed003.yaml").read_text()
    for i in range(298):
        (tmp_path / f"student{i:03}.yaml").write_text(good.replace("seed003", f"st{i}"))
    for name, text in BOMBS.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tutor", "check", LAB9, str(tmp_path),
                        "--format", "json"], capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t
    doc = json.loads(r.stdout)
    assert doc["summary"]["sheets"] == 300 and doc["summary"]["graded"] == 300
    scores = [s["score"] for s in doc["sheets"] if s["file"].rsplit("/", 1)[-1][:7] == "student"]
    assert scores == [24] * 298
    assert took < 30, took  # about 3 s idle; generous for a loaded CI machine
    assert "Traceback" not in r.stderr


def test_an_exercise_that_solves_too_long_is_one_located_problem(monkeypatch, tmp_path):
    import tutor.worked as core
    from tutor.catalog import resolve

    real = core.solve

    def slow(graph, **kw):
        time.sleep(60)
        return real(graph, **kw)

    monkeypatch.setattr(core, "solve", slow)
    monkeypatch.setattr(budget, "EXERCISE_SECONDS", 0.3)
    src = Path(resolve("merge-sum"))
    mine = tmp_path / "mine.yaml"
    shutil.copy(src, mine)
    t = time.monotonic()
    r = CliRunner().invoke(app, ["validate", str(mine)])
    assert time.monotonic() - t < 5
    assert r.exit_code == 1
    line = r.stdout.strip().splitlines()[0]
    assert line.startswith(f"{mine}:") and line.split(":", 3)[3] == (
        " E241 solving this exercise took longer than 0.3 s (the limit for one "
        "exercise) and was stopped: make it smaller or its numbers simpler")
    r = CliRunner().invoke(app, ["solve", str(mine)])
    assert r.exit_code == 2 and "E241" not in r.output and "took longer than 0.3 s" in r.output
