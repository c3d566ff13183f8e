"""`tutor template` and `tutor check`, driven as a teacher does: files, folders, formats, exit codes.

The fixture sheets in tests/sheets/ are the seeds' printed answers typed as a student would.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli import app
from tutor.core import work

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
    for i in range(3):  # three students with the same mistake
        (folder / f"s{i}.yaml").write_text((SHEETS / "lab9-no-relu-mask.yaml").read_text()
                                           .replace("student: nomask", f"student: s{i}"))
    shutil.copy(SHEETS / "lab9-seed003.yaml", folder / "t.yaml")
    r, doc = check_json(LAB9, folder)
    summ = doc["summary"]
    assert (summ["sheets"], summ["graded"], summ["unreadable"], summ["all_correct"]) == (
        4, 4, 0, 1)
    codes = {c["code"]: c["students"] for c in summ["codes"]}
    assert codes[next(c for c in codes if c.startswith("delta2."))] == 3
    r = run("check", LAB9, folder, "--format", "csv", "--summary")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["code", "students", "of", "step", "misconception", "name"]
    assert ["delta2.no-relu-mask", "3", "4", "delta2", "no-relu-mask",
            "no ReLU mask at delta2"] in rows
    assert ["no-relu-mask", "3", "4", "", "no-relu-mask", "no ReLU mask"] in rows


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


def test_a_sheet_that_recorded_the_files_text_hash_is_not_stale(tmp_path):
    """Sheets made before the hash was of the content carry sha256 of the file's text."""
    import hashlib

    from tutor.catalog import resolve

    text_sha = hashlib.sha256(Path(resolve(LAB9)).read_text(encoding="utf-8").encode()
                              ).hexdigest()[:16]
    assert text_sha == work(LAB9).exercise.text_sha != work(LAB9).exercise.sha
    p = tmp_path / "old.yaml"
    p.write_text(re.sub(r'sha: "\w+"', f'sha: "{text_sha}"',
                        (SHEETS / "lab9-seed003.yaml").read_text()))
    r, doc = check_json(LAB9, p)
    assert doc["sheets"][0]["stale"] is False and doc["sheets"][0]["score"] == 24


def test_a_sheet_for_an_edited_exercise_is_flagged_and_still_graded(tmp_path):
    p = tmp_path / "old.yaml"
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    assert f'sha: "{work(LAB9).exercise.sha}"' in text  # the sheet is current...
    p.write_text(re.sub(r'sha: "\w+"', 'sha: "0000000000000000"', text))  # ...until edited
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


# ─── one bad answer is one invalid step; YAML 1.1 never rewrites an answer ──────────────
def test_one_unreadable_answer_is_one_invalid_step_and_the_rest_is_graded(tmp_path):
    p = tmp_path / "s.yaml"
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    for old, new in (("L: 0.4548", "L: .inf"), ("z3: 0.552", "z3: " + "9" * 9001),
                     ("yhat: 0.6346", "yhat: yes"), ("delta3: -0.3654", "delta3: 0x10"),
                     ("db3: -0.3654", "db3: 1:30"), ("z1: [0.6, 0.1]", "z1: [6e-1, 1E-1]"),
                     ("dh2: [-0.2192, 0.1462]", "dh2: [-0.2192, .nan]")):
        assert old in text
        text = text.replace(old, new)
    p.write_text(text)
    r, doc = check_json(LAB9, p)
    assert r.exit_code == 1, r.output  # graded, not refused
    s = doc["sheets"][0]
    steps = {x["id"]: x for x in s["steps"]}
    bad = {i: x["message"] for i, x in steps.items() if x["verdict"] != "correct"}
    assert set(bad) == {"L", "z3", "yhat", "delta3", "db3", "dh2"}
    assert all(steps[i]["verdict"] == "invalid" for i in bad)
    assert bad["L"] == "'.inf' is infinite: an answer is a finite number"
    assert bad["dh2"] == "'.nan' is not a number: an answer is a finite number"
    assert bad["z3"].startswith("number too long: 9001 digits")
    assert bad["yhat"].startswith("answers are numbers: 'yes' is not a number")
    assert bad["delta3"].startswith("only decimal numbers are allowed, not '0x10'")
    assert bad["db3"].startswith("'1:30' is not a number: ':' is not allowed")
    # what the student typed is what the report shows
    assert (steps["L"]["answer"], steps["yhat"]["answer"], steps["delta3"]["answer"],
            steps["db3"]["answer"], steps["z1"]["answer"]) == (
        ".inf", "yes", "0x10", "1:30", "[6e-1, 1E-1]")
    assert steps["z1"]["verdict"] == "correct" and steps["dW2"]["verdict"] == "correct"
    assert (s["score"], s["max"]) == (18, 24)
    out = run("check", LAB9, p).stdout
    assert "'.inf' is infinite" in out and "9" * 200 not in out  # a long answer is clipped


def test_a_quoted_answer_is_its_string_value_and_yaml_hex_is_not_sixteen(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("answers:\n  z3: '0.552'\n  L: \"0.4548\"\n  delta3: 0x10\n  yhat: 1_0\n")
    r, doc = check_json(LAB9, p)
    steps = {x["id"]: x for x in doc["sheets"][0]["steps"]}
    assert steps["z3"]["verdict"] == steps["L"]["verdict"] == "correct"
    assert steps["delta3"]["verdict"] == "invalid" and steps["delta3"]["answer"] == "0x10"
    # 1_0 is ten: BCE cannot take ŷ = 10, so the follow-through solve fails — the sheet is
    # still graded (it used to stop with "error: L bce needs 0 < ŷ < 1", exit 2)
    assert steps["yhat"]["answer"] == "1_0" and steps["yhat"]["verdict"] == "wrong"
    assert r.exit_code == 1


# ─── variants: a named student is graded against their own variant ──────────────────────
def _variant_sheet(name):
    from tutor.core import work
    from tutor.render import fmt

    text = run("template", "lab9-variants", "--student", name).stdout
    w = work("lab9-variants", student=name)
    return text.split("answers:\n")[0] + "answers:\n" + "".join(
        f"  {s.id}: {fmt(s.value)}\n" for s in w.steps), w


def test_a_copied_sheet_with_another_students_seed_is_graded_as_its_own_students(tmp_path):
    from tutor.variants import student_seed

    folder = tmp_path / "class"
    folder.mkdir()
    alice, wa = _variant_sheet("alice")
    (folder / "alice.yaml").write_text(alice)
    (folder / "bob.yaml").write_text(alice.replace('student: "alice"', 'student: "bob"'))
    bob_seed = student_seed("bob", "lab9-variants")
    assert f"seed: {wa.seed}" in alice and wa.seed != bob_seed
    r, doc = check_json("lab9-variants", folder)
    by = {x["student"]: x for x in doc["sheets"]}
    assert by["alice"]["score"] == 24 and by["alice"]["notes"] == []
    assert by["bob"]["score"] < 24  # alice's numbers are not right for bob's variant
    assert (by["bob"]["seed"], by["bob"]["sheet_seed"]) == (bob_seed, wa.seed)
    note = (f"seed {wa.seed} is not bob's variant ({bob_seed}): graded against bob's own")
    assert by["bob"]["notes"] == [note]
    rows = {x["student"]: x for x in csv.DictReader(io.StringIO(
        run("check", "lab9-variants", folder, "--format", "csv").stdout))}
    assert rows["bob"]["note"] == note and rows["bob"]["seed"] == str(bob_seed)
    assert rows["alice"]["note"] == ""
    out = run("check", "lab9-variants", folder).stdout
    assert f"note: {folder / 'bob.yaml'}: {note}" in " ".join(out.split())


def test_a_named_sheet_without_a_seed_and_a_named_file_get_the_students_variant(tmp_path):
    alice, wa = _variant_sheet("alice")
    p = tmp_path / "alice.yaml"  # the file is named after the student, too
    p.write_text(alice.replace(f"seed: {wa.seed}", ""))
    r, doc = check_json("lab9-variants", p)
    assert doc["sheets"][0]["score"] == 24 and doc["sheets"][0]["seed"] == wa.seed


# ─── the template shows the given numbers ────────────────────────────────────────────────
def test_the_template_of_a_variant_shows_the_students_own_given_numbers_not_answers():
    from tutor.core import work
    from tutor.render import fmt
    from tutor.template import given_text

    r = run("template", "lab9-variants", "--student", "alice")
    assert r.exit_code == 0
    w = work("lab9-variants", student="alice")
    head = r.stdout.split("exercise:")[0]
    assert f"# Given (your variant, seed {w.seed}):" in head
    g = w.graph.init
    for name in ("x", "W1", "b1", "W2", "b2", "W3", "b3", "y"):
        assert f"#   {name.ljust(2)} = {given_text(g[name])}" in head, name
    assert "#   η  = 0.1" in head and "(learning rate)" in head and "(target)" in head
    assert w.graph.init["W1"] != work("lab9-variants", student="bob").graph.init["W1"]
    for s in w.steps:  # no answer leaks into the sheet
        if s.id not in ("h1", "h2") and fmt(s.value) not in ("0", "1"):
            assert fmt(s.value) not in head, s.id
    r2 = run("template", "lab9-variants", "--student", "alice", "--seed", "5")
    assert r2.exit_code == 2 and "not both" in r2.output


def test_the_template_of_a_graph_shows_params_inputs_constants_and_later_iterations():
    r = run("template", "branch-merge-l2")
    head = r.stdout.split("exercise:")[0]
    for line in ("#   x      = 2    (input)", "#   a      = 1    (parameter)",
                 "#   lambda = 0.1  (constant)", "#   η      = 0.1  (learning rate)",
                 "#   iteration 2: x = 0"):
        assert line in head, line
    r = run("template", LAB9)
    assert "#   W1 = [[0.5, -0.3], [0.2, 0.7]]" in r.stdout
    assert "#   x  = [1, 0]" in r.stdout


# ─── wrong entries, and why a zero entry is zero ─────────────────────────────────────────
def test_a_wrong_dW2_names_its_wrong_entries_and_the_zero_causes(tmp_path):
    p = tmp_path / "s.yaml"  # delta2 right, but dW2 = (unmasked δ2) h1ᵀ
    p.write_text((SHEETS / "lab9-no-relu-mask.yaml").read_text().replace(
        "delta2: [-0.2192, 0.1462]", "delta2: [-0.2192, 0]"))
    r, doc = check_json(LAB9, p)
    steps = {x["id"]: x for x in doc["sheets"][0]["steps"]}
    dw2 = steps["dW2"]
    assert steps["delta2"]["verdict"] == "correct"
    assert dw2["verdict"] == "wrong" and dw2["code"] == "dW2.wrong"  # the mask is right at δ2
    assert dw2["wrong_entries"] == ["dW2[2,1]", "dW2[2,2]"]
    assert dw2["zero_causes"] == [
        "dW2[2,1], dW2[2,2] should be 0, not 0.0877, 0.0146: no error signal reaches unit 2: "
        "δ2[2] = 0 (dead ReLU: z2[2] = -0.17 < 0, so ReLU′ = 0)"]
    assert dw2["zeros"] == [{"entries": ["dW2[2,1]", "dW2[2,2]"], "cause": {
        "kind": "no_error_signal", "subject": "δ2", "entry": [2], "value": None, "unit": 2,
        "because": {"kind": "dead_relu", "subject": "z2", "entry": [2], "value": "-17/100",
                    "because": None, "derivative": True}}}]  # the same cause, as data
    assert "2 of 4 entries wrong: dW2[2,1], dW2[2,2]" in dw2["message"]
    assert "misconception" not in dw2["message"]
    assert steps["db2"]["zero_causes"] == [
        "db2[2] should be 0, not 0.1462: δ2[2] = 0 (dead ReLU: z2[2] = -0.17 < 0, so ReLU′ = 0)"]
    out = " ".join(run("check", LAB9, p).stdout.split())
    assert "no error signal reaches unit 2" in out and "2 of 4 entries wrong" in out


# ─── class summary ────────────────────────────────────────────────────────────────────────
def test_the_class_summary_names_misconceptions_and_counts_each_student_once(tmp_path):
    from tutor.core import work
    from tutor.misconceptions import buggy_rules
    from tutor.render import fmt
    from tutor.solve import solve

    w = work(LAB9)
    plus = solve(w.graph, buggy_rules("update-plus-eta")).quantities
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ann", "ben"):  # +η in all six updates
        (folder / f"{name}.yaml").write_text("answers:\n" + "".join(
            f"  {s.id}: {fmt(plus[s.key].value)}\n" for s in w.steps))
    shutil.copy(SHEETS / "lab9-no-relu-mask.yaml", folder / "cat.yaml")
    shutil.copy(SHEETS / "lab9-seed003.yaml", folder / "dan.yaml")
    r, doc = check_json(LAB9, folder)
    mis = {m["id"]: m for m in doc["summary"]["misconceptions"]}
    assert mis["update-plus-eta"]["students"] == 2  # not 12: once per student
    assert mis["update-plus-eta"]["name"] == "+η in the update"
    assert [x["step"] for x in mis["update-plus-eta"]["steps"]] == [
        "W1_new", "b1_new", "W2_new", "b2_new", "W3_new", "b3_new"]
    assert mis["no-relu-mask"] == {"id": "no-relu-mask", "name": "no ReLU mask", "students": 1,
                                   "steps": [{"step": "delta2", "students": 1}]}
    code = next(c for c in doc["summary"]["codes"] if c["code"] == "delta2.no-relu-mask")
    assert (code["step"], code["name"], code["label"]) == (
        "delta2", "no ReLU mask", "no ReLU mask at delta2")
    rows = list(csv.reader(io.StringIO(
        run("check", LAB9, folder, "--format", "csv", "--summary").stdout)))
    assert rows[1] == ["update-plus-eta", "2", "4", "", "update-plus-eta", "+η in the update"]
    assert rows[2] == ["W1_new.update-plus-eta", "2", "4", "W1_new", "update-plus-eta",
                       "+η in the update at W1_new"]
    assert ["dW2.follow-through", "1", "4", "dW2", "", "follow-through at dW2"] in rows
    out = run("check", LAB9, folder).stdout
    assert "2 of 4 students: +η in the update at W1_new, b1_new, W2_new, b2_new, W3_new, " \
           "b3_new" in out
    assert "1 of 4 students: no ReLU mask at delta2" in out


@pytest.mark.parametrize("yhat,L", [("0", "0"), ("1", "3"), ("10", "0.4")])
def test_a_prediction_outside_bce_s_domain_is_graded_not_a_crash(tmp_path, yhat, L):
    """An all-zeros junk sheet puts ŷ = 0 into ln ŷ: its own numbers cannot be carried
    forward, so it is graded without follow-through — and the class goes on."""
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    lines = [f"  yhat: {yhat}" if ln.startswith("  yhat:") else f"  L: {L}"
             if ln.startswith("  L:") else ln for ln in text.splitlines()]
    (tmp_path / "junk.yaml").write_text("\n".join(lines) + "\n")
    shutil.copy(SHEETS / "lab9-seed003.yaml", tmp_path / "ada.yaml")
    r, doc = check_json(LAB9, tmp_path)
    assert r.exit_code == 1, r.output
    assert "internal error" not in r.output
    by_file = {Path(s["file"]).name: s for s in doc["sheets"]}
    assert verdicts({"sheets": [by_file["junk.yaml"]]})["yhat"] == "wrong"
    assert by_file["ada.yaml"]["score"] == 24


def test_a_bug_while_grading_one_sheet_is_that_sheets_error_only(tmp_path, monkeypatch):
    import tutor.check as C

    real = C._one

    def flaky(f, *a):
        if f.name == "bob.yaml":
            raise RuntimeError("boom")
        return real(f, *a)

    monkeypatch.setattr(C, "_one", flaky)
    shutil.copy(SHEETS / "lab9-seed003.yaml", tmp_path / "ada.yaml")
    shutil.copy(SHEETS / "lab9-seed003.yaml", tmp_path / "bob.yaml")
    r, doc = check_json(LAB9, tmp_path, "-j", "1")
    by_file = {Path(s["file"]).name: s for s in doc["sheets"]}
    assert by_file["ada.yaml"]["score"] == 24
    assert "internal error while grading this sheet (RuntimeError: boom)" in by_file["bob.yaml"]["error"]
    assert r.exit_code == 2


def test_a_leaky_relu_slope_is_given_on_the_sheet(tmp_path):
    ex = tmp_path / "leaky.yaml"
    ex.write_text("id: leaky\nkind: network\ninput: [1, -2]\ntarget: [0, 1]\nlayers:\n"
                  "  - {W: [[0.5, 0.4], [-0.3, 0.2]], b: [0.1, 0.2], activation: leaky_relu, "
                  "slope: 0.1}\n  - {W: [[1, -1], [0.5, 0.5]], b: [0, 0.1], activation: softmax}\n"
                  "loss: ce\nask: [forward, backward]\n")
    r = run("template", ex)
    assert r.exit_code == 0
    assert "#   α1 = 0.1" in r.stdout and "(leaky ReLU slope, layer 1)" in r.stdout


# ─── audit: variants by any spelling of the id, notes everywhere, hostile text ──────────
def test_a_variant_sheet_is_matched_to_its_student_whatever_the_case_or_spaces(tmp_path):
    from tutor.variants import student_seed

    alice, wa = _variant_sheet("alice")
    assert wa.seed == 467634888  # lower-case ids keep the seed they always had
    for spelling in ("Alice", " alice ", "ALICE", "  ALICE  "):
        assert student_seed(spelling, "lab9-variants") == 467634888
        p = tmp_path / "a.yaml"
        p.write_text(alice.replace('student: "alice"', f'student: "{spelling}"'))
        r, doc = check_json("lab9-variants", p)
        s = doc["sheets"][0]
        assert (s["seed"], s["score"], s["notes"]) == (467634888, 24, []), spelling
    assert student_seed("ada  lovelace", "x") == student_seed(" Ada Lovelace", "x")
    line = next(x for x in alice.splitlines() if x.startswith("student:"))
    assert line.startswith('student: "alice"  # picks your variant')


def test_a_sheet_made_before_ids_were_normalised_is_still_its_students(tmp_path):
    """'Alice Smith' had seed 742597395 (the id hashed as written); today it is 895194119.
    A sheet handed out then, with its answers for that variant, is still graded as hers."""
    from tutor.core import work
    from tutor.render import fmt

    w = work("lab9-variants", seed=742597395)
    head = run("template", "lab9-variants", "--seed", "742597395").stdout.split("answers:\n")[0]
    head = head.replace("student: \"\"", "student: \"Alice Smith\"")
    assert 'student: "Alice Smith"' in head
    p = tmp_path / "old.yaml"
    p.write_text(head + "answers:\n" + "".join(f"  {s.id}: {fmt(s.value)}\n" for s in w.steps))
    r, doc = check_json("lab9-variants", p)
    s = doc["sheets"][0]
    assert (s["seed"], s["score"], s["notes"]) == (742597395, 24, [])


def test_a_sheet_named_twice_is_graded_once(tmp_path):
    folder = tmp_path / "cls"
    folder.mkdir()
    shutil.copy(SHEETS / "lab9-no-relu-mask.yaml", folder / "mask.yaml")
    shutil.copy(SHEETS / "lab9-seed003.yaml", folder / "ada.yaml")
    r, doc = check_json(LAB9, folder, folder / "mask.yaml", folder / ".." / "cls" / "ada.yaml")
    assert [Path(s["file"]).name for s in doc["sheets"]] == ["ada.yaml", "mask.yaml"]
    assert doc["summary"]["sheets"] == 2


def _flagged(tmp_path):
    """A stale sheet (another sha) with a misspelt step id, and a current one."""
    from tutor.core import work

    text = (SHEETS / "lab9-no-relu-mask.yaml").read_text()
    sha = next(x for x in text.splitlines() if x.startswith("sha:")).split('"')[1]
    p = tmp_path / "cls" / "old.yaml"
    p.parent.mkdir()
    p.write_text(text.replace(sha, "0000000000000000").replace("answers:\n",
                                                                 "answers:\n  dw2: 1\n"))
    ok = (SHEETS / "lab9-seed003.yaml").read_text()
    (p.parent / "ok.yaml").write_text(ok.replace(sha, work(LAB9).exercise.sha))
    return p


def test_stale_and_warnings_reach_csv_junit_and_the_class_table(tmp_path):
    p = _flagged(tmp_path)
    rows = {Path(x["file"]).name: x for x in csv.DictReader(io.StringIO(
        run("check", LAB9, p.parent, "--format", "csv").stdout))}
    note = rows["old.yaml"]["note"]
    assert "unknown step id 'dw2' ignored (did you mean dW2?)" in note
    assert "made for another version of lab9-relu-sigmoid-bce (sha 0000000000000000" in note
    assert note.startswith("line ") and str(p) not in note
    assert rows["ok.yaml"]["note"] == ""
    root = ET.fromstring(run("check", LAB9, p.parent, "--format", "junit").stdout)
    suite = next(s for s in root if "old.yaml" in s.get("name"))
    props = {x.get("name"): x.get("value") for x in suite.find("properties")}
    assert props["stale"] == "true" and "did you mean dW2?" in props["notes"]
    out = suite.find("system-out").text
    assert "did you mean dW2?" in out and "another version" in out
    ok = next(s for s in root if "ok.yaml" in s.get("name"))
    assert ok.find("system-out") is None
    assert {x.get("name"): x.get("value") for x in ok.find("properties")}["stale"] == "false"
    table = run("check", LAB9, p.parent).stdout.split("2 of 2 sheets graded")[1]
    assert "┃ note" in table and "unknown step" in table and "another version" in table


def test_csv_text_cells_never_become_formulas_but_scores_stay_numbers(tmp_path):
    folder = tmp_path / "cls"
    folder.mkdir()
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    student = next(x for x in text.splitlines() if x.startswith("student:"))
    for i, name in enumerate(['=HYPERLINK(\\"http://x\\",\\"hi\\")', "+1", "-2+3", "@SUM(A1)",
                              "\\tx", "\\r=1", "ada"]):
        (folder / f"s{i}.yaml").write_text(text.replace(student, f'student: "{name}"'))
    (folder / "-bad.yaml").write_text("answers: [")
    rows = list(csv.DictReader(io.StringIO(run("check", LAB9, folder, "-f", "csv").stdout)))
    by = {Path(r["file"]).name: r for r in rows}
    assert [by[f"s{i}.yaml"]["student"] for i in range(7)] == [
        "'=HYPERLINK(\"http://x\",\"hi\")", "'+1", "'-2+3", "'@SUM(A1)", "\\x09x", "\\x0d=1", "ada"]
    # (a tab or CR is a visible escape, as everywhere: no reader ends a row, none runs it)
    assert all(by[f"s{i}.yaml"]["score"] == "24" for i in range(7))
    assert all(by[f"s{i}.yaml"]["delta2"] == "1" for i in range(7))
    bad = next(r for r in rows if r["file"].endswith("-bad.yaml"))
    assert bad["student"] == "'-bad" and bad["error"] and bad["score"] == ""


def test_control_characters_from_a_sheet_are_shown_escaped_never_sent_raw(tmp_path):
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    student = next(x for x in text.splitlines() if x.startswith("student:"))
    b3 = next(x for x in text.splitlines() if x.strip().startswith("b3_new:"))
    p = tmp_path / "esc.yaml"
    p.write_text(text.replace(student, 'student: "eve\\u001b[31m\\u202e"').replace(
        b3, '  b3_new: "\\u001b]0;pwned\\u0007\\u001b[2J 0.3365"'))
    for args in ((), ("--format", "junit")):
        r = run("check", LAB9, p, *args)
        assert "\x1b" not in r.output and "\x07" not in r.output and "\u202e" not in r.output
    out = run("check", LAB9, p).stdout
    assert "\\x1b]0;pwned\\x07\\x1b[2J 0.3365" in out
    assert "eve\\x1b[31m\\u202e" in out
    two = run("check", LAB9, p, SHEETS / "lab9-seed003.yaml").stdout  # the class table too
    assert "\x1b" not in two and two.count("eve\\x1b[31m\\u202e") >= 2
    ET.fromstring(run("check", LAB9, p, "--format", "junit").stdout)  # well-formed XML 1.0
    p.write_text(text.replace(student, 'student: "eve\\ufffe\\uffff"'))  # not XML characters
    ET.fromstring(run("check", LAB9, p, "--format", "junit").stdout)


def test_a_named_misconception_shows_the_buggy_rule_beside_the_correct_one(tmp_path):
    r, doc = check_json(LAB9, SHEETS / "lab9-no-relu-mask.yaml")
    steps = {s["id"]: s for s in doc["sheets"][0]["steps"]}
    d2 = steps["delta2"]
    assert d2["code"] == "delta2.no-relu-mask"
    assert d2["explanation"].startswith("no ReLU mask at delta2: ")
    assert "gives [-0.2192, 0.1462] (from the correct inputs)" in d2["explanation"]
    assert d2["explanation"].endswith("gives [-0.2192, 0].")
    assert steps["dW2"]["explanation"] is None  # follow-through: nothing to name
    out = " ".join(run("check", LAB9, SHEETS / "lab9-no-relu-mask.yaml").stdout.split())
    assert "delta2.no-relu-mask: no ReLU mask at delta2:" in out
    assert "gives [-0.2192, 0.1462] (from the correct inputs)" in out
    gradebook = run("check", LAB9, SHEETS / "lab9-no-relu-mask.yaml", "-f", "csv").stdout
    assert "Your rule" not in gradebook  # the CSV stays compact


# ─── a sheet cannot pick its variant (issue 15) ───────────────────────────────────────
def _unnamed_sheet(tmp_path, seed: int, name: str = "anon.yaml"):
    """A lab9-variants sheet without student:, right for the variant of ``seed``."""
    from tutor.core import work
    from tutor.render import fmt

    w = work("lab9-variants", seed=seed)
    text = run("template", "lab9-variants", "--seed", str(seed)).stdout
    body = text.split("answers:\n")[0] + "answers:\n" + "".join(
        f"  {s.id}: {fmt(s.value)}\n" for s in w.steps)
    body = "\n".join(line for line in body.splitlines() if not line.startswith("student:"))
    p = tmp_path / name
    p.write_text(body + "\n")
    return p


def test_a_sheet_without_a_student_never_scores_against_the_seed_it_carries(tmp_path):
    """`tutor solve lab9-variants --seed 42` copied onto a sheet without student: scored
    24/24 before; now it is flagged, not graded (exit 2), and says what to do."""
    p = _unnamed_sheet(tmp_path, 42)
    r, doc = check_json("lab9-variants", p)
    assert r.exit_code == 2
    (sheet,) = doc["sheets"]
    assert sheet.get("score") is None and "no student: line" in sheet["error"]
    assert "--unnamed" in r.stderr


def test_unnamed_sheets_as_the_teacher_chooses_base_values_or_the_file_name(tmp_path):
    from tutor.core import work
    from tutor.variants import student_seed

    p = _unnamed_sheet(tmp_path, 42)
    r = run("check", "lab9-variants", str(p), "--format", "json", "--unnamed", "base")
    (s,) = json.loads(r.stdout)["sheets"]
    assert s["seed"] is None and s["score"] < 24  # the base values, not seed 42's
    assert any("graded against the base values" in n for n in s["notes"])
    own = student_seed("carol", "lab9-variants")
    q = _unnamed_sheet(tmp_path, own, "carol.yaml")
    r = run("check", "lab9-variants", str(q), "--format", "json", "--unnamed", "file")
    (s,) = json.loads(r.stdout)["sheets"]
    assert s["seed"] == own == work("lab9-variants", student="carol").seed
    assert s["score"] == 24 and any("its file name" in n for n in s["notes"])


def test_a_sheet_without_sha_is_warned_about_and_a_tolerance_edit_is_not_stale(tmp_path):
    ex = tmp_path / "lab9.yaml"
    from tutor.core import work

    src = work("lab9-relu-sigmoid-bce").exercise.file
    ex.write_text(open(src, encoding="utf-8").read().replace("id: lab9-relu-sigmoid-bce",
                                                             "id: lab9-copy"))
    sheet = tmp_path / "s.yaml"
    sheet.write_text(run("template", str(ex)).stdout.replace(
        "  z1:", "  z1: [0.6, 0.1]", 1))
    text = ex.read_text()
    edited = text.replace("tolerance: {decimals: 4}", "tolerance: {decimals: 3}")
    assert edited != text
    ex.write_text(edited.replace("title: \"Two ReLU", "title: \"Renamed: two ReLU"))
    r, doc = check_json(str(ex), sheet)
    (s,) = doc["sheets"]
    assert not s["stale"] and not any("another version" in n for n in s["warnings"]), s
    ex.write_text(text.replace("0.5, -0.3", "0.5, -0.2", 1))  # a number: the math changed
    r, doc = check_json(str(ex), sheet)
    assert doc["sheets"][0]["stale"]
    nosha = tmp_path / "nosha.yaml"
    nosha.write_text("\n".join(line for line in sheet.read_text().splitlines()
                               if not line.startswith("sha:")) + "\n")
    r, doc = check_json(str(ex), nosha)
    assert any("no sha: line" in n for n in doc["sheets"][0]["warnings"])


def test_two_sheets_of_one_student_are_both_graded_said_and_counted_once(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    mask = (SHEETS / "lab9-no-relu-mask.yaml").read_text()
    for name, student in (("a.yaml", "Bob"), ("b.yaml", " bob "), ("c.yaml", "ann")):
        text = re.sub(r"(?m)^student:.*$", f"student: \"{student}\"", mask)
        if "student:" not in text:
            text = f"student: \"{student}\"\n" + text
        (folder / name).write_text(text)
    r, doc = check_json("lab9-relu-sigmoid-bce", folder)
    by = {s["file"].rsplit("/", 1)[-1]: s for s in doc["sheets"]}
    assert all(by[f]["score"] is not None for f in by)  # each graded
    assert any("has 2 sheets" in n for n in by["a.yaml"]["notes"])
    assert any("has 2 sheets" in n for n in by["b.yaml"]["notes"])
    assert not by["c.yaml"]["notes"]
    summary = doc["summary"]
    assert summary["sheets"] == summary["graded"] == 3 and summary["students"] == 2
    assert doc["summary"]["misconceptions"][0]["students"] == 2  # not 3


def test_a_decimal_comma_in_a_sheet_is_advised_as_in_practice(tmp_path):
    """Issue 15: `-0,3654` was read as a 2-vector with no word about the comma."""
    p = tmp_path / "s.yaml"
    text = (SHEETS / "lab9-seed003.yaml").read_text()
    for old, new in (("delta3: -0.3654", "delta3: -0,3654"),
                     ("z1: [0.6, 0.1]", "z1: 0,6 0,1")):  # in [ ] a comma is YAML's own
        assert old in text
        text = text.replace(old, new)
    p.write_text(text)
    r, doc = check_json(LAB9, p)
    steps = {x["id"]: x for x in doc["sheets"][0]["steps"]}
    advice = "The decimal point is '.': type 0.3654, not 0,3654 (a comma separates entries)."
    assert steps["delta3"]["verdict"] == "invalid" and advice in steps["delta3"]["message"]
    assert "type 0.6, not 0,6" in steps["z1"]["message"]
    out = run("check", LAB9, p).stdout
    assert "type 0.3654, not 0,3654" in " ".join(out.split())
