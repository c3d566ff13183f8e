"""A course file (tutor/course.py) driven as a teacher does: a secret made, personal sheets
written with it, filled with each student's right answers, graded against the course —
step weights, points, a late penalty — and the gradebooks parsed back with the csv module."""
from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest

from tutor.core import work
from tutor.course import LatePolicy, read_course, variant_seed
from tutor.render import fmt
from tutor.variants import student_seed

# tutor check's own fixture (TUTOR_HOME, NO_COLOR, COLUMNS) and CLI helper
from test_check import SHEETS, env, run  # noqa: E402

pytestmark = pytest.mark.usefixtures(env.__name__)

VARIANTS = "lab9-variants"
FIXED = "lab9-relu-sigmoid-bce"
BERLIN = timezone(timedelta(hours=1))  # Europe/Berlin in December
DUE = datetime(2026, 12, 10, 23, 59, tzinfo=BERLIN)
DUE_FIXED = datetime(2026, 12, 2, 0, 0, tzinfo=BERLIN)  # `due: 2026-12-01`: the day's end

COURSE = """\
course: Backprop 101
roster: students.csv
secret: course.secret
timezone: Europe/Berlin
late: {per_day: 10%, floor: 50%}
assignments:
  lab9:
    exercise: lab9-variants
    title: Lab 9
    due: 2026-12-10 23:59
    points: 10
    weights: {backward: 2}
  seed3:
    exercise: lab9-relu-sigmoid-bce
    due: 2026-12-01
    weights: {dW2: 4}
    ft_credit: 0.25
    late: {per_hour: 1%, grace: 15m}
"""
ROSTER = "Student,SIS User ID\nAnn Lee,ann\nBob Ray,bob\nCy Ng,cy\nDee Ko,dee\nEve Ma,eve\n"


def _course(tmp_path: Path, text: str = COURSE, secret: bool = True) -> Path:
    (tmp_path / "students.csv").write_text(ROSTER)
    course = tmp_path / "course.yaml"
    course.write_text(text if secret else text.replace("secret: course.secret\n", ""))
    if secret:
        r = run("course", course, "--new-secret")
        assert r.exit_code == 0, r.output
    return course


def _seed(sheet: Path) -> int:
    return int(re.search(r"^seed: (\d+)", sheet.read_text(), re.M).group(1))


def _fill(sheet: Path, answers: dict[str, str]) -> None:
    head = sheet.read_text().split("answers:\n")[0]
    sheet.write_text(head + "answers:\n" + "".join(f"  {k}: {v}\n" for k, v in answers.items()))


def _handed_in(sheet: Path, when: datetime) -> None:
    os.utime(sheet, (when.timestamp(), when.timestamp()))


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_course_from_secret_to_gradebook_with_weights_points_and_a_late_penalty(tmp_path):
    course = _course(tmp_path)
    secret = tmp_path / "course.secret"
    assert re.fullmatch(r"[0-9a-f]{64}\n", secret.read_text())
    assert secret.stat().st_mode & 0o777 == 0o600
    r = run("course", course, "--new-secret")  # a course keeps its secret
    assert r.exit_code == 2 and "course.secret exists" in r.stderr
    r = run("course", course)
    assert r.exit_code == 0, r.output
    assert "lab9: lab9-variants — column 'Lab 9'" in r.stdout
    assert "due 2026-12-10 23:59 +01:00" in r.stdout and "5 students on the roster" in r.stdout
    assert "late: 10% of the points a day begun, never below 50%" in r.stdout

    out = tmp_path / "lab9"
    r = run("template", "--course", course, "lab9", "--out", out)
    assert r.exit_code == 0, r.output
    assert "5 sheets in" in r.stdout and "5 written" in r.stdout
    ann = out / "ann.yaml"
    assert "# Grade it: tutor check --course" in ann.read_text()
    # the secret picks the variant: not the seed the id alone gives, and stable
    c = read_course(course)
    for sid in ("ann", "bob", "cy", "dee", "eve"):
        seed = _seed(out / f"{sid}.yaml")
        assert seed == variant_seed(sid, VARIANTS, c.secret())
        assert seed != student_seed(sid, VARIANTS)
    one = run("template", "--course", course, "lab9", "--student", "ann")  # a lost sheet
    assert one.exit_code == 0 and one.stdout == ann.read_text()

    right = {}
    for sid in ("ann", "bob", "cy", "dee"):
        w = work(VARIANTS, seed=_seed(out / f"{sid}.yaml"))
        right[sid] = {s.id: fmt(s.value) for s in w.steps}
        assert w.exercise.id == VARIANTS
    forward = ("z1", "h1", "z2", "h2", "z3", "yhat", "L")
    _fill(out / "ann.yaml", right["ann"])
    _fill(out / "bob.yaml", right["bob"])
    _fill(out / "cy.yaml", right["cy"])
    _fill(out / "dee.yaml", {k: right["dee"][k] for k in forward})
    (out / "eve.yaml").unlink()  # eve hands in nothing
    _handed_in(out / "ann.yaml", DUE - timedelta(hours=3))  # on time
    _handed_in(out / "bob.yaml", DUE + timedelta(hours=25))  # 2 days begun: −2 of 10
    _handed_in(out / "cy.yaml", DUE + timedelta(days=9, hours=1))  # 10 days: the floor, 5
    _handed_in(out / "dee.yaml", DUE + timedelta(days=2, hours=1))  # 3 days, already below

    # 7 forward steps × 1, 11 backward × 2, 6 updates × 1: 35; scaled to 10 points
    r = run("check", "--course", course, "lab9", out, "--format", "canvas")
    assert r.exit_code == 1, r.output  # dee's sheet is not all right
    rows = _rows(r.stdout)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 9"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    got = {row[2]: (row[0], row[5]) for row in rows[2:]}
    assert got == {"ann": ("Ann Lee", "10"), "bob": ("Bob Ray", "8"), "cy": ("Cy Ng", "5"),
                   "dee": ("Dee Ko", "2"), "eve": ("Eve Ma", "")}
    assert "1 of 5 students on the roster handed in no sheet: eve" in r.stderr
    assert "lab9: due 2026-12-10 23:59 +01:00; 3 of 4 sheets late, by their file times" \
        in r.stderr

    r = run("check", "--course", course, "lab9", out, "--format", "moodle")
    rows = _rows(r.stdout)
    assert rows[0] == ["ID number", "Full name", "Lab 9"]
    assert {row[0]: float(row[2]) if row[2] else None for row in rows[1:]} == {
        "ann": 10.0, "bob": 8.0, "cy": 5.0, "dee": 2.0, "eve": None}

    r = run("check", "--course", course, "lab9", out, "--format", "csv")
    table = {row["student"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    assert [(table[s]["score"], table[s]["max"], table[s]["out_of"], table[s]["earned"],
             table[s]["penalty"], table[s]["final"]) for s in ("ann", "bob", "cy", "dee")] == [
        ("35", "35", "10", "10", "0", "10"), ("35", "35", "10", "10", "2", "8"),
        ("35", "35", "10", "10", "5", "5"), ("7", "35", "10", "2", "0", "2")]
    assert float(table["bob"]["days_late"]) == pytest.approx(25 / 24, abs=0.01)
    assert table["ann"]["days_late"] == "" and table["ann"]["submitted"].startswith(
        "2026-12-10T20:59:00+01:00")
    assert table["ann"]["dW2"] == "2" and table["ann"]["z1"] == "1"  # backward weighs 2
    assert table["bob"]["note"] == ("late: handed in 2026-12-12 00:59 +01:00 (file time), "
                                    "1 d 1 h after the due date: −2 (2 days begun × 10% of "
                                    "10), 8 of 10")
    assert "kept at the floor of 50%" in table["cy"]["note"]
    assert "nothing taken: the score is at or below the floor of 50%" in table["dee"]["note"]

    r = run("check", "--course", course, "lab9", out, "--format", "json")
    doc = json.loads(r.stdout)
    bob = next(s for s in doc["sheets"] if s["student"] == "bob")
    assert bob["course"] == {"out_of": 10, "earned": 10, "submitted": "2026-12-12T00:59:00+01:00",
                             "days_late": round(25 / 24, 2), "penalty": 2, "final": 8,
                             "source": "file time"}
    assert all(not any("is not" in n for n in s["notes"]) for s in doc["sheets"])


def test_a_fixed_exercise_weights_follow_through_credit_and_submission_times(tmp_path):
    """seed3: dW2 weighs 4 (27 in all), follow-through earns 25 %; an hour begun after a
    15-minute grace takes 1 % of the 27 points; the times come from a CSV, not the files."""
    course = _course(tmp_path)
    out = tmp_path / "seed3"
    assert run("template", "--course", course, "seed3", "--out", out).exit_code == 0
    text = (out / "ann.yaml").read_text()
    assert 'student: "ann"' in text and "seed:" not in text  # no variants: one for all
    right = {s.id: fmt(s.value) for s in work(FIXED).steps}
    mask = dict(line.strip().split(":", 1) for line in (
        SHEETS / "lab9-no-relu-mask.yaml").read_text().split("answers:\n")[1].splitlines())
    _fill(out / "ann.yaml", right)
    _fill(out / "bob.yaml", {k: v.strip() for k, v in mask.items()})
    _fill(out / "cy.yaml", right)
    for sid in ("dee", "eve"):
        (out / f"{sid}.yaml").unlink()
    _handed_in(out / "cy.yaml", DUE_FIXED + timedelta(hours=5, minutes=1))  # 6 h begun
    times = tmp_path / "times.csv"
    times.write_text("SIS User ID;Submitted\n"
                     "ann;\"Wednesday, 2 December 2026, 12:10 AM\"\n"  # Moodle's; in the grace
                     "bob;2026-12-01T23:30:00Z\n")  # 00:30 in Berlin: 1 hour begun
    r = run("check", "--course", course, "seed3", out, "--submitted", times, "--format", "csv")
    assert r.exit_code == 1, r.output
    table = {row["student"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    # bob: 13 right steps + dW2 (4 × ¼) + 9 more follow-through steps × ¼ = 16.25 of 27
    assert Fraction(table["bob"]["score"]) == Fraction(65, 4)
    assert table["bob"]["max"] == "27" and table["bob"]["out_of"] == "27"
    assert Fraction(table["bob"]["final"]) == Fraction(65, 4) - Fraction(27, 100)
    assert table["bob"]["penalty"] == "0.27" and table["bob"]["dW2"] == "1"
    assert (table["ann"]["final"], table["ann"]["penalty"]) == ("27", "0")
    assert "within" not in table["ann"]["note"] and table["ann"]["days_late"] == ""
    # cy is not in times.csv: its file time, said
    assert Fraction(table["cy"]["final"]) == 27 - 6 * Fraction(27, 100)
    assert "no time for cy in times.csv: its file time is used" in table["cy"]["note"]
    assert "(1 by their file times)" in r.stderr

    r = run("check", "--course", course, "seed3", out, "--submitted", times, "-f", "canvas")
    rows = _rows(r.stdout)
    assert rows[0][5] == "seed3" and rows[1][5] == "27"
    assert {row[2]: row[5] for row in rows[2:]} == {
        "ann": "27", "bob": "15.98", "cy": "25.38", "dee": "", "eve": ""}

    times.write_text("SIS User ID,Submitted\nann,-\nbob,yesterday\n")  # -: none (Moodle)
    r = run("check", "--course", course, "seed3", out, "--submitted", times)
    assert r.exit_code == 2 and f"error: {times}:3: 'yesterday' is not a date and time" \
        in r.stderr


def test_a_wrong_secret_gives_other_variants_and_the_class_is_warned(tmp_path):
    course = _course(tmp_path)
    out = tmp_path / "lab9"
    assert run("template", "--course", course, "lab9", "--out", out).exit_code == 0
    for sid in ("ann", "bob", "cy"):
        sheet = out / f"{sid}.yaml"
        _fill(sheet, {s.id: fmt(s.value) for s in work(VARIANTS, seed=_seed(sheet)).steps})
        _handed_in(sheet, DUE - timedelta(days=1))
    for sid in ("dee", "eve"):
        (out / f"{sid}.yaml").unlink()
    r = run("check", "--course", course, "lab9", out, "--format", "csv")
    right = {row["student"]: row["final"] for row in csv.DictReader(io.StringIO(r.stdout))}
    assert right == {"ann": "10", "bob": "10", "cy": "10"}

    (tmp_path / "course.secret").write_text("another secret of at least thirty-two chars\n")
    (tmp_path / "course.secret").chmod(0o644)
    r = run("check", "--course", course, "lab9", out, "--format", "csv")
    table = {row["student"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
    for sid in ("ann", "bob", "cy"):
        assert float(table[sid]["final"]) < 5, table[sid]  # graded against other numbers
        assert f"is not {sid}'s variant" in table[sid]["note"]
    assert "3 of 3 sheets carry a seed that is not their student's variant" in r.stderr
    assert "made with another course secret?" in r.stderr
    assert "can be read by others" in r.stderr  # written with the default mode

    # and without the course (no secret) too: the teacher is told what is likely wrong
    r = run("check", VARIANTS, out, "--format", "csv")
    assert "made with a course secret? Grade them with --course" in r.stderr


def test_without_a_secret_a_course_gives_the_sheets_it_always_gave(tmp_path):
    course = _course(tmp_path, secret=False)
    r = run("course", course)
    assert "secret: none (a student's variant follows from their id alone)" in r.stdout
    by_course, by_roster = tmp_path / "a", tmp_path / "b"
    assert run("template", "--course", course, "lab9", "--out", by_course).exit_code == 0
    assert run("template", VARIANTS, "--roster", tmp_path / "students.csv",
               "--out", by_roster).exit_code == 0
    for sid in ("ann", "bob", "cy", "dee", "eve"):
        a, b = (by_course / f"{sid}.yaml").read_text(), (by_roster / f"{sid}.yaml").read_text()
        assert _seed(by_course / f"{sid}.yaml") == student_seed(sid, VARIANTS)
        grade_line = re.compile(r"^# Grade it: .*$", re.M)
        assert grade_line.sub("", a) == grade_line.sub("", b)
    sheet = by_course / "ann.yaml"
    _fill(sheet, {s.id: fmt(s.value) for s in work(VARIANTS, student="ann").steps})
    r = run("check", VARIANTS, sheet, "--format", "json")  # graded as today, no course
    assert r.exit_code == 0 and json.loads(r.stdout)["sheets"][0]["score"] == 24


def _bad(tmp_path: Path, text: str) -> tuple:
    (tmp_path / "students.csv").write_text(ROSTER)
    (tmp_path / "course.secret").write_text("x" * 64)
    (tmp_path / "course.secret").chmod(0o600)
    course = tmp_path / "course.yaml"
    course.write_text(text)
    return course


@pytest.mark.parametrize("edit, at, message", [
    (("assignments:", "asignments:"), (6, 1), "unknown key 'asignments' in the course "
                                              "(did you mean assignments?)"),
    (("    points: 10", "    pionts: 10"), (11, 5), "unknown key 'pionts' in the assignment "
                                                    "'lab9' (did you mean points?)"),
    (("2026-12-10 23:59", "next friday"), (10, 10), "due: 'next friday' is not a date and time"),
    (("per_day: 10%", "per_day: 10"), (5, 17), "per_day: a percentage of the points, written "
                                               "with %: 10%, not 10"),
    (("{per_day: 10%, floor: 50%}", "{per_day: 10%, per_hour: 1%}"), (5, 7),
     "late: give one of per_day or per_hour"),
    (("floor: 50%", "floor: 150%"), (5, 29), "floor: at most 100%, not '150%'"),
    (("grace: 15m", "grace: soon"), (18, 33), "grace: a duration such as 15m"),
    (("Europe/Berlin", "Mars/Olympus"), (4, 11), "unknown time zone 'Mars/Olympus'"),
    (("    points: 10", "    points: 0"), (11, 13), "points: a number > 0, not 0"),
    (("ft_credit: 0.25", "ft_credit: 2"), (17, 16), "ft_credit is a share between 0 and 1"),
    (("    exercise: lab9-variants\n", ""), (7, 3), "assignment 'lab9' has no exercise:"),
    (("exercise: lab9-variants", "exercise: lab9-variant"), (8, 15),
     "exercise: no bundled exercise 'lab9-variant' (did you mean lab9-variants?)"),
    (("exercise: lab9-variants", "exercise: mine/lab9.yaml"), (8, 15),
     "exercise: no exercise file 'mine/lab9.yaml' (a path is relative to the course file)"),
    (("course: Backprop 101", "course: &a Backprop 101\nalias: *a"), (1, 9),
     "YAML aliases and anchors are not allowed"),
])
def test_a_bad_course_file_is_one_located_message_and_exit_2(tmp_path, edit, at, message):
    assert edit[0] in COURSE
    course = _bad(tmp_path, COURSE.replace(*edit, 1))
    for args in (("course", course), ("check", "--course", course, "lab9", tmp_path),
                 ("template", "--course", course, "lab9", "--out", tmp_path / "out")):
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {course}:{at[0]}:{at[1]}: "), lines[0]
        assert message in lines[0], lines[0]


@pytest.mark.parametrize("edit, at, message", [
    (("{backward: 2}", "{backward: 2, dw2: 4}"), (12, 28),
     "unknown step id or phase 'dw2' (did you mean dW2?)"),
    (("{backward: 2}", "{backward: lots}"), (12, 25),
     "the weight of backward must be a number ≥ 0, not 'lots'"),
    (("secret: course.secret", "secret: missing.secret"), (3, 9),
     "the course secret cannot be read"),
])
def test_weights_and_the_secret_are_checked_where_the_course_says_them(tmp_path, edit, at,
                                                                       message):
    course = _bad(tmp_path, COURSE.replace(*edit, 1))
    for args in (("course", course), ("check", "--course", course, "lab9", tmp_path)):
        r = run(*args)
        assert r.exit_code == 2, r.output
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {course}:{at[0]}:{at[1]}: ")
        assert message in lines[0], lines[0]


def test_a_short_secret_an_unknown_assignment_and_options_the_course_gives(tmp_path):
    course = _bad(tmp_path, COURSE)
    (tmp_path / "course.secret").write_text("password\n")
    r = run("check", "--course", course, "lab9", tmp_path)
    assert r.exit_code == 2 and "is 8 characters long; at least 32" in r.stderr
    (tmp_path / "course.secret").write_text("y" * 64)
    r = run("check", "--course", course, "lab10", tmp_path)
    assert r.exit_code == 2
    assert "no assignment 'lab10' in" in r.stderr and "(did you mean lab9?)" in r.stderr
    for extra in (("--roster", tmp_path / "students.csv"), ("--weights", course),
                  ("--assignment", "X")):
        r = run("check", "--course", course, "lab9", tmp_path, *extra)
        assert r.exit_code == 2 and f"not with {extra[0]}" in r.stderr
    r = run("check", "--course", course, "seed3", tmp_path, "--ft-credit", "1")
    assert r.exit_code == 2 and "ft_credit: not with --ft-credit" in r.stderr
    r = run("check", VARIANTS, tmp_path, "--submitted", tmp_path / "students.csv")
    assert r.exit_code == 2 and "--submitted goes with --course" in r.stderr
    r = run("template", "--course", course, "lab9", "--out", tmp_path / "o", "--student", "a")
    assert r.exit_code == 2 and "not with --student" in r.stderr


def test_the_late_policy_counts_days_begun_and_keeps_the_floor():
    p = LatePolicy(Fraction(1, 10), timedelta(days=1), Fraction(1, 2), timedelta(minutes=15))
    assert [p.periods(d) for d in (timedelta(minutes=15), timedelta(minutes=16),
                                   timedelta(days=1), timedelta(days=1, seconds=1))] == [0, 1, 1, 2]
    ten = Fraction(10)
    assert p.apply(ten, ten, timedelta(hours=1)) == 9
    assert p.apply(Fraction(7), ten, timedelta(days=3)) == 5  # 7 − 3 would be 4: the floor
    assert p.apply(Fraction(3), ten, timedelta(days=3)) == 3  # below the floor: kept
    assert p.apply(ten, ten, timedelta(days=30)) == 5
    no_floor = LatePolicy(Fraction(1, 4), timedelta(hours=1))
    assert no_floor.apply(ten, ten, timedelta(hours=5)) == 0  # never below 0


def test_an_exercise_file_is_found_relative_to_the_course_file(tmp_path, monkeypatch):
    from tutor.catalog import bundled

    src = next(e.path for e in bundled() if e.id == FIXED)
    (tmp_path / "exercises").mkdir()
    (tmp_path / "exercises" / "mine.yaml").write_text(src.read_text())
    course = _course(tmp_path, COURSE.replace("exercise: lab9-relu-sigmoid-bce",
                                              "exercise: exercises/mine.yaml"))
    monkeypatch.chdir(tmp_path / "exercises")  # not where the course file is
    out = tmp_path / "out"
    assert run("template", "--course", course, "seed3", "--out", out).exit_code == 0
    _fill(out / "ann.yaml", {s.id: fmt(s.value) for s in work(src).steps})
    _handed_in(out / "ann.yaml", DUE_FIXED)
    r = run("check", "--course", course, "seed3", out / "ann.yaml", "--format", "json")
    assert r.exit_code == 0, r.output
    sheet = json.loads(r.stdout)["sheets"][0]
    assert (sheet["score"], sheet["max"], sheet["course"]["final"]) == (27, 27, 27)
