"""A course's roster (tutor/roster.py): personal sheets for a class, grading the folder
against the class list, and the Canvas and Moodle grade imports — parsed back as CSV."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from tutor.core import work
from tutor.errors import InputError
from tutor.render import fmt
from tutor.roster import parse_roster, sheet_name

# tutor check's own fixture (TUTOR_HOME, NO_COLOR, COLUMNS) and CLI helper
from test_check import LAB9, SHEETS, env, run  # noqa: E402

pytestmark = pytest.mark.usefixtures(env.__name__)


def test_rosters_as_canvas_and_moodle_export_them():
    canvas = parse_roster("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section\n"
                          "Ann Lee,9001,ann,ann@u,A\n\nBob Ray,9002,bob,bob@u,A\n")
    assert [(s.id, s.name, s.line) for s in canvas.students] == [
        ("ann", "Ann Lee", 2), ("bob", "Bob Ray", 4)]
    moodle = parse_roster("First name;Last name;ID number;Email address\nAnn;Lee;s1;a@u\n")
    assert [(s.id, s.name) for s in moodle.students] == [("s1", "Ann Lee")]
    plain = parse_roster("netid\nann\n  Bob \n")  # no known column: the first one
    assert [s.id for s in plain.students] == ["ann", "Bob"]
    assert sheet_name("Ann Lee") == "Ann_Lee.yaml" and sheet_name("../x") == "_x.yaml"


@pytest.mark.parametrize("text, message, line", [
    ("", "the roster is empty", 1),
    ("id\n", "a header row but no students", 1),
    ("id,name\nann,A\n,B\n", "no student id in column 'id'", 3),
    ("id\nann\nbob\nANN\n", "student 'ANN' is on the roster twice (line 2 and line 4)", 4),
])
def test_a_bad_roster_is_one_located_message(text, message, line):
    with pytest.raises(InputError) as e:
        parse_roster(text, "students.csv")
    assert message in e.value.message and (e.value.file, e.value.line) == ("students.csv", line)


def _roster(path: Path, n: int, extra: tuple[str, ...] = ()) -> Path:
    rows = ["Student,SIS User ID"] + [f"Student {i},s{i:03d}" for i in range(n)] + \
        [f"{x.title()},{x}" for x in extra]
    path.write_text("\n".join(rows) + "\n")
    return path


def _filled(template: str, answers: dict[str, str]) -> str:
    head = template.split("answers:\n")[0]
    return head + "answers:\n" + "".join(f"  {k}: {v}\n" for k, v in answers.items())


def test_a_class_of_300_from_roster_to_gradebook(tmp_path):
    """300 personal sheets from a roster, filled as a real class fills them (right, rounded,
    the no-ReLU-mask mistake, blanks, garbage), graded against the roster, and both grade
    imports parsed back: one row per student, the two who handed in nothing empty."""
    roster = _roster(tmp_path / "students.csv", 300, extra=("late1", "late2"))
    out = tmp_path / "sheets"
    r = run("template", LAB9, "--roster", roster, "--out", out)
    assert r.exit_code == 0, r.output
    assert "302 sheets in" in r.stdout and "302 written" in r.stdout
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 302
    first = (out / "s000.yaml").read_text()
    assert 'student: "s000"' in first and "# Grade it: tutor check lab9-relu-sigmoid-bce" in first
    w = work(LAB9)
    right = {s.id: fmt(s.value) for s in w.steps}
    mask = {}
    for line in (SHEETS / "lab9-no-relu-mask.yaml").read_text().split("answers:\n")[1].splitlines():
        k, v = line.strip().split(":", 1)
        mask[k] = v.strip()
    expected = {}
    for i in range(300):
        f = out / f"s{i:03d}.yaml"
        kind = i % 5
        answers = (right if kind in (0, 1) else mask if kind == 2
                   else {} if kind == 3 else {**right, "z1": "'[1, 2, 3'", "dW2": "lots"})
        f.write_text(_filled(f.read_text(), answers))
        expected[f"s{i:03d}"] = {0: "24", 1: "24", 2: "18", 3: "0"}.get(kind)
    (out / "late1.yaml").unlink()
    (out / "late2.yaml").unlink()
    # the files already there are never overwritten by a second template run
    r = run("template", LAB9, "--roster", roster, "--out", out)
    assert "300 kept" in r.stdout and "2 written" in r.stdout
    assert "not overwritten" in r.stderr
    (out / "late1.yaml").unlink()
    (out / "late2.yaml").unlink()

    feedback = tmp_path / "feedback"
    r = run("check", LAB9, out, "--roster", roster, "--format", "canvas",
            "--assignment", "Lab 9", "--feedback", feedback)  # 300 sheets: graded by workers
    assert r.exit_code == 1
    assert "2 of 302 students on the roster handed in no sheet: late1, late2" in r.stderr
    assert "feedback for 300 students in" in r.stderr and "600 files" in r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 9"]
    assert rows[1] == ["Points Possible", "", "", "", "", "24"]
    body = {row[2]: row for row in rows[2:]}
    assert len(body) == 302
    assert body["s000"][0] == "Student 0" and body["late1"][5] == "" and body["late2"][5] == ""
    for sid, want in expected.items():
        if want is not None:
            assert body[sid][5] == want, (sid, body[sid])
    garbage = [float(body[f"s{i:03d}"][5]) for i in range(4, 300, 5)]
    assert all(g < 24 for g in garbage) and len(set(garbage)) == 1

    # one Markdown and one HTML file per student who handed in a sheet, each their own
    assert sorted(p.name for p in feedback.glob("*.md")) == [f"s{i:03d}.md" for i in range(300)]
    assert len(list(feedback.glob("*.html"))) == 300 and len(list(feedback.iterdir())) == 600
    for i in range(300):
        kind = i % 5
        text = (feedback / f"s{i:03d}.md").read_text()
        page = (feedback / f"s{i:03d}.html").read_text()
        assert f"**Student {i}** (s{i:03d})" in text and f"<b>Student {i}</b> (s{i:03d})" in page
        want = expected[f"s{i:03d}"] or f"{garbage[0]:g}"
        assert f"**Score: {want} / 24**" in text, (i, text[:400])
        # the named misconception is in the files of the students who made it, and only there
        named = "no ReLU mask at delta2: the gradient goes through ReLU unmasked" in text
        assert named == (kind == 2), i
        assert ("no ReLU mask at delta2" in page) == (kind == 2), i
        if kind == 4:  # garbage: the invalid answers, said
            assert "### `z1` — invalid answer" in text and "### `dW2` — invalid answer" in text
            assert "`lots`" in text
        if kind == 3:
            assert "### `delta2` — left blank, 0 / 1" in text

    r = run("check", LAB9, out, "--roster", roster, "--format", "moodle")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 302
    title = w.exercise.spec.title
    assert set(rows[0]) == {"ID number", "Full name", title}
    assert {row["ID number"]: row[title] for row in rows}["s002"] == "18"

    # the class summary counts the named mistake once per student
    r = run("check", LAB9, out, "--format", "csv", "--summary")
    summary = list(csv.reader(io.StringIO(r.stdout)))
    assert ["no-relu-mask", "60", "300", "", "no-relu-mask", "no ReLU mask"] in summary


def test_a_sheet_of_a_student_not_on_the_roster_is_flagged(tmp_path):
    roster = _roster(tmp_path / "r.csv", 1)
    folder = tmp_path / "in"
    folder.mkdir()
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    (folder / "a.yaml").write_text(text.replace("student: seed003", "student: s000"))
    (folder / "b.yaml").write_text(text.replace("student: seed003", "student: mallory"))
    r = run("check", LAB9, folder, "--roster", roster, "--format", "json")
    import json

    doc = json.loads(r.stdout)
    notes = {Path(s["file"]).name: s.get("notes", []) for s in doc["sheets"]}
    assert notes["b.yaml"] == ["mallory is not on the roster (r.csv)"] and notes["a.yaml"] == []


def test_personal_variants_from_a_roster_grade_full_marks(tmp_path):
    roster = _roster(tmp_path / "r.csv", 4)
    out = tmp_path / "v"
    assert run("template", "lab9-variants", "--roster", roster, "--out", out).exit_code == 0
    seeds = set()
    for i in range(4):
        f = out / f"s{i:03d}.yaml"
        w = work("lab9-variants", student=f"s{i:03d}")
        seeds.add(w.seed)
        assert f"seed: {w.seed}" in f.read_text()
        f.write_text(_filled(f.read_text(), {s.id: fmt(s.value) for s in w.steps}))
    assert len(seeds) == 4
    r = run("check", "lab9-variants", out, "--roster", roster, "--format", "canvas")
    rows = list(csv.reader(io.StringIO(r.stdout)))[2:]
    assert sorted((row[2], row[5]) for row in rows) == [(f"s{i:03d}", "24") for i in range(4)]


def test_roster_and_out_go_together(tmp_path):
    r = run("template", LAB9, "--roster", tmp_path / "r.csv")
    assert r.exit_code == 2 and "--roster and --out go together" in r.output
    r = run("template", LAB9, "--roster", tmp_path / "none.csv", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "cannot read the roster" in r.output


def test_a_local_exercise_template_says_a_grading_command_that_works(tmp_path, monkeypatch):
    """Issue 15: `# Grade it: tutor check c-variants SHEET.yaml` → "no exercise 'c-variants'"."""
    monkeypatch.chdir(tmp_path)
    src = Path(work("merge-sum").exercise.file).read_text().replace("id: merge-sum", "id: my-ms")
    (tmp_path / "my ms.yaml").write_text(src)
    text = run("template", "my ms.yaml").stdout
    line = next(x for x in text.splitlines() if x.startswith("# Grade it:"))
    assert "'" in line and "my ms.yaml" in line  # the file, quoted for the shell
    import shlex

    cmd = shlex.split(line[len("# Grade it: "):].replace("SHEET.yaml", "s.yaml"))
    (tmp_path / "s.yaml").write_text(text)
    r = run(*cmd[1:])
    assert "no exercise" not in r.output and r.exit_code == 1  # graded: every step blank
