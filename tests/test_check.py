"""`tutor template` and `tutor check`, driven as a teacher does: files, folders, formats, exit codes.

The fixture sheets in tests/sheets/ are the seeds' printed answers typed as a student would.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli import app

SHEETS = Path(__file__).parent / "sheets"
LAB9 = "lab9-relu-sigmoid-bce"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def check_json(*args):
    r = run("check", *args, "--format", "json")
    return r, json.loads(r.stdout)


def verdicts(doc, i=0):
    return {s["id"]: s["verdict"] for s in doc["sheets"][i]["steps"]}


@pytest.mark.parametrize("exercise,sheet,score", [
    (LAB9, "lab9-seed003.yaml", 24),
    ("dag-two-relu-gates", "dag-seed000.yaml", 22),
    ("diagonal-flip-4-3-4", "diagonal-flip-seed002.yaml", 13),
])
def test_each_seeds_printed_answers_pass_with_full_marks(exercise, sheet, score):
    r, doc = check_json(exercise, SHEETS / sheet)
    assert r.exit_code == 0, r.output
    s = doc["sheets"][0]
    assert (s["score"], s["max"]) == (score, score)
    assert set(verdicts(doc).values()) == {"correct"}


def test_seed_004_passes_both_iterations_including_the_truncated_objective():
    r, doc = check_json("branch-merge-l2", SHEETS / "branch-merge-seed004.yaml")
    v = verdicts(doc)
    printed = ["u", "h", "v", "p", "J", "dv", "dd", "dc", "db", "da", "a_new", "b_new",
               "c_new", "d_new", "it2.u", "it2.h", "it2.v", "it2.p", "it2.J", "it2.dv",
               "it2.dd", "it2.dc", "it2.db", "it2.da", "it2.a_new", "it2.b_new",
               "it2.c_new", "it2.d_new"]
    assert all(v[i] == "correct" for i in printed), {i: v[i] for i in printed}
    # the seed does not print these; the sheet leaves them blank
    assert [i for i, x in v.items() if x == "missing"] == [
        "it2.L", "it2.R", "it2.dR", "it2.dL", "it2.dp", "it2.dh", "it2.du"]
    assert r.exit_code == 1  # missing steps are not "all correct"


def test_the_seeds_loss_slip_0_4546_is_rejected(tmp_path):
    p = tmp_path / "slip.yaml"
    p.write_text((SHEETS / "lab9-seed003.yaml").read_text().replace("L: 0.4548", "L: 0.4546"))
    r, doc = check_json(LAB9, p)
    assert r.exit_code == 1
    step = next(s for s in doc["sheets"][0]["steps"] if s["id"] == "L")
    assert step["verdict"] == "wrong" and step["expected"] == "0.4548" and step["points"] == 0
    assert doc["sheets"][0]["first_wrong"] == "L"


def test_the_seed_002_three_decimal_loss_is_outside_four_decimals(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text((SHEETS / "diagonal-flip-seed002.yaml").read_text().replace("L: 0.8962",
                                                                              "L: 0.896"))
    r, doc = check_json("diagonal-flip-4-3-4", p)
    assert verdicts(doc)["L"] == "wrong"


def test_one_wrong_delta_with_consistent_later_steps_gets_follow_through():
    r, doc = check_json(LAB9, SHEETS / "lab9-no-relu-mask.yaml")
    assert r.exit_code == 1
    s = doc["sheets"][0]
    v = verdicts(doc)
    assert v["delta2"] == "wrong"
    ft = [i for i, x in v.items() if x == "follow_through"]
    assert ft == ["dW2", "db2", "dh1", "delta1", "dW1", "db1", "W1_new", "b1_new", "W2_new",
                  "b2_new"]
    assert all(x["first_wrong"] == "delta2" for x in s["steps"] if x["verdict"] ==
               "follow_through")
    assert s["first_wrong"] == "delta2"
    assert (s["score"], s["max"]) == (18, 24)  # 13 + 10 × ½
    dw2 = next(x for x in s["steps"] if x["id"] == "dW2")
    assert dw2["given_yours"] == "[[-0.1315, -0.0219], [0.0877, 0.0146]]"
    assert dw2["points"] == 0.5


def test_the_rich_table_names_verdicts_reasons_and_the_first_wrong_step():
    r = run("check", LAB9, SHEETS / "lab9-no-relu-mask.yaml")
    out = r.stdout
    assert "lab9-no-relu-mask.yaml — nomask: 18 / 24" in out
    assert "follow-through" in out and "expected [-0.2192, 0]" in out
    assert "first wrong step: delta2" in out
    assert r.exit_code == 1


def test_a_malformed_sheet_gives_file_line_message_and_exit_2(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("exercise: lab9-relu-sigmoid-bce\nanswers:\n  dW2: [1, 2\n  db2: 3\n")
    r = run("check", LAB9, p)
    assert r.exit_code == 2
    assert f"{p}:4:" in r.stdout and "(not graded)" in r.stdout
    assert "Traceback" not in r.output
    r = run("check", LAB9, p, "--format", "json")
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {p}:4:")
    assert json.loads(r.stdout)["sheets"][0]["error"].startswith(f"{p}:4:")


def test_a_folder_with_one_broken_sheet_grades_the_others(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(SHEETS / "lab9-seed003.yaml", folder / "ada.yaml")
    shutil.copy(SHEETS / "lab9-no-relu-mask.yaml", folder / "bob.yaml")
    (folder / "carl.yaml").write_text("answers:\n  dW2: " + "[" * 50 + "\n")
    (folder / "notes.txt").write_text("not a sheet")
    r = run("check", LAB9, folder, "--format", "csv")
    assert r.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(Path(x["file"]).name, x["student"], x["score"]) for x in rows] == [
        ("ada.yaml", "seed003", "24"), ("bob.yaml", "nomask", "18"), ("carl.yaml", "carl", "")]
    assert "brackets nested more than 16 deep" in rows[2]["error"]
    assert rows[1]["delta2"] == "0" and rows[1]["dW2"] == "0.5" and rows[1]["z1"] == "1"
    assert rows[1]["first_wrong"] == "delta2"
    assert "carl.yaml:2: brackets nested" in r.stderr


def test_json_summary_counts_answer_notes_across_the_class(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(3):
        shutil.copy(SHEETS / "lab9-no-relu-mask.yaml", folder / f"s{i}.yaml")
    shutil.copy(SHEETS / "lab9-seed003.yaml", folder / "t.yaml")
    r, doc = check_json(LAB9, folder)
    summ = doc["summary"]
    assert (summ["sheets"], summ["graded"], summ["unreadable"], summ["all_correct"]) == (
        4, 4, 0, 1)
    codes = {c["code"]: c["students"] for c in summ["codes"]}
    assert codes[next(c for c in codes if c.startswith("delta2."))] == 3
    r = run("check", LAB9, folder, "--format", "csv", "--summary")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["code", "students", "of"]
    assert any(row[0].startswith("delta2.") and row[1:] == ["3", "4"] for row in rows)


def test_junit_has_a_suite_per_sheet_and_a_failure_per_step_not_correct(tmp_path):
    r = run("check", LAB9, SHEETS / "lab9-seed003.yaml", SHEETS / "lab9-no-relu-mask.yaml",
            tmp_path / "missing.yaml", "--format", "junit")
    root = ET.fromstring(r.stdout)
    suites = root.findall("testsuite")
    assert [s.get("failures") for s in suites] == ["0", "11", "0"]
    assert suites[2].get("errors") == "1"
    assert root.get("tests") == str(24 + 24 + 1)
    assert suites[1].find("properties/property[@name='score']").get("value") == "18"
    fail = suites[1].find("testcase[@name='dW2']/failure")
    assert fail.get("type") == "follow_through"
    assert r.exit_code == 2


def test_weights_and_follow_through_credit_are_configurable(tmp_path):
    wfile = tmp_path / "w.yaml"
    wfile.write_text("backward: 2\ndW2: 4\nupdate: 0\n")
    r, doc = check_json(LAB9, SHEETS / "lab9-no-relu-mask.yaml", "--weights", wfile,
                        "--ft-credit", "1")
    s = doc["sheets"][0]
    # forward 7 + backward (10 steps at 2, dW2 at 4) + update 0 = 31; delta2's 2 lost
    assert (s["score"], s["max"]) == (29, 31)
    wfile.write_text("dw2: 3\n")
    r = run("check", LAB9, SHEETS / "lab9-no-relu-mask.yaml", "--weights", wfile)
    assert r.exit_code == 2 and "did you mean dW2" in r.stderr


def test_a_sheet_for_an_edited_exercise_is_flagged_and_still_graded(tmp_path):
    p = tmp_path / "old.yaml"
    p.write_text((SHEETS / "lab9-seed003.yaml").read_text().replace("2d8b18adce9e2495",
                                                                    "0000000000000000"))
    r, doc = check_json(LAB9, p)
    s = doc["sheets"][0]
    assert s["stale"] is True and s["score"] == 24
    assert any("another version" in w for w in s["warnings"])


def test_a_sheet_for_another_exercise_is_not_graded():
    r = run("check", "dag-two-relu-gates", SHEETS / "lab9-seed003.yaml")
    assert r.exit_code == 2
    assert "for exercise 'lab9-relu-sigmoid-bce', not 'dag-two-relu-gates'" in r.stdout


def test_expression_bombs_in_answers_are_invalid_and_fast(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text("answers:\n  z3: 9**9**9**9\n  yhat: " + "(" * 4000 + "1" + ")" * 4000 + "\n")
    r, doc = check_json(LAB9, p)
    v = verdicts(doc)
    assert v["z3"] == "invalid" and v["yhat"] == "invalid"
    assert r.exit_code == 1


def test_sheets_are_never_written(tmp_path):
    p = tmp_path / "s.yaml"
    shutil.copy(SHEETS / "lab9-no-relu-mask.yaml", p)
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    run("check", LAB9, p)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.yaml"]


def test_template_then_check_round_trip(tmp_path):
    r = run("template", LAB9, "--student", "ada")
    assert r.exit_code == 0
    assert "  dW2:      # ∂L/∂W2, 2×2" in r.stdout
    p = tmp_path / "ada.yaml"
    p.write_text(r.stdout.replace("  z1:       #", "  z1: [0.6, 0.1]  #"))
    r, doc = check_json(LAB9, p)
    v = verdicts(doc)
    assert v["z1"] == "correct" and list(v.values()).count("missing") == 23
    assert doc["sheets"][0]["student"] == "ada" and doc["sheets"][0]["warnings"] == []


def test_unknown_exercise_and_no_sheets_are_usage_errors(tmp_path):
    r = run("check", "no-such-exercise", SHEETS / "lab9-seed003.yaml")
    assert r.exit_code == 2 and "Traceback" not in r.output
    (tmp_path / "empty").mkdir()
    r = run("check", LAB9, tmp_path / "empty")
    assert r.exit_code == 2 and "no .yaml or .yml sheets" in r.stdout


def test_each_student_is_graded_against_their_own_variant(tmp_path):
    from tutor.core import work
    from tutor.render import fmt

    folder = tmp_path / "class"
    folder.mkdir()
    sheets = {}
    for name in ("ada", "bob"):
        text = run("template", "lab9-variants", "--student", name).stdout
        w = work("lab9-variants", student=name)
        assert f"seed: {w.seed}  #" in text
        sheets[name] = (text, w)
    for name, (text, w) in sheets.items():
        body = text.split("answers:\n")[0] + "answers:\n" + "".join(
            f"  {s.id}: {fmt(s.value)}\n" for s in w.steps)
        (folder / f"{name}.yaml").write_text(body)
    # carl copies ada's answers onto his own sheet (his own seed)
    carl = work("lab9-variants", student="carl")
    (folder / "carl.yaml").write_text(
        (folder / "ada.yaml").read_text().replace('student: "ada"', 'student: "carl"')
        .replace(f"seed: {sheets['ada'][1].seed}", f"seed: {carl.seed}"))
    r, doc = check_json("lab9-variants", folder)
    by = {s["student"]: s for s in doc["sheets"]}
    assert by["ada"]["score"] == by["bob"]["score"] == 24
    assert by["ada"]["seed"] == sheets["ada"][1].seed != by["bob"]["seed"]
    assert by["carl"]["score"] < 24


def test_two_worker_processes_give_the_same_report_as_one(tmp_path):
    from tutor import check as checking

    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(4):
        shutil.copy(SHEETS / ("lab9-no-relu-mask.yaml" if i % 2 else "lab9-seed003.yaml"),
                    folder / f"s{i}.yaml")
    (folder / "broken.yaml").write_text("answers:\n  dW2: [1, 2\n")
    one = checking.check(LAB9, [folder], jobs=1)
    two = checking.check(LAB9, [folder], jobs=2)
    for fmt_ in (checking.to_json, checking.to_csv, checking.to_junit):
        assert fmt_(two) == fmt_(one)
    assert two.exit_code == one.exit_code == 2
