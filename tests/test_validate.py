"""`tutor validate`: every problem at once, `file:line:col: CODE message`, never a traceback.

tests/broken/ holds one file per check; its first line says `# expect: CODE LINE COL`.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.cli import app
from tutor.validate import CODES, validate_file, validate_text

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def expected(path: Path) -> tuple[str, int, int]:
    _, _, code, line, col = path.read_text(encoding="utf-8").splitlines()[0].split()
    return code, int(line), int(col)


# Known findings in bundled exercises this task does not own, for the exercises' author:
KNOWN: dict[str, set[str]] = {}  # exercise id → warnings it is allowed (none today)


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.id)
def test_every_bundled_exercise_validates_clean(entry):
    found = [p.text() for p in validate_file(entry.path)
             if p.code not in KNOWN.get(entry.id, set())]
    assert found == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_broken_file_gives_its_code_at_its_line_and_column(path):
    code, line, col = expected(path)
    found = [(p.code, p.line, p.col) for p in validate_file(path)]
    assert (code, line, col) in found, found
    assert code in CODES


def test_the_corpus_has_a_file_for_every_check_of_the_issue():
    codes = {expected(p)[0] for p in FILES}
    wanted = {"E005",          # bad YAML, alias bombs
              "E010",          # unknown keys, with did-you-mean
              "E232",          # undefined names
              "E225",          # cycles
              "E205", "E206",  # shape mismatches between layers
              "E204", "E223",  # a loss that is not a scalar
              "E230",          # a node name that collides with a step id
              "W301",          # the loss ignores a parameter
              "W302",          # z exactly 0 at a ReLU
              "W306",          # max/min at a tie
              "E233",          # expression bombs
              "E040", "E041", "E042", "E043", "E045", "E046"}  # variants
    assert wanted <= codes
    assert "W303" in codes  # a step a buggy rule reproduces


def test_messages_say_what_is_wrong():
    msg = {expected(p)[0]: [q.message for q in validate_file(p)] for p in FILES}
    assert msg["E010"] == ["unknown key 'learning_rat' (did you mean 'learning_rate'?)"]
    assert msg["E225"] == ["the nodes form a cycle: u → w → v → u"]
    assert msg["E230"] == ["'du' is also the step id of ∂L/∂u; rename one of them so every "
                           "step id is unique"]
    assert msg["E232"][0].startswith("unknown name 'q'")
    assert msg["W302"][0].startswith("z1[2] = 0 exactly: ReLU′(0) decides the answer")
    assert msg["W306"][0].startswith("max(a, b): its arguments tie at 2;")
    assert msg["W301"] == ["the loss L does not depend on parameter b: its gradient is 0 by "
                           "construction"]


def test_all_schema_problems_are_reported_at_once():
    text = ("id: many\nkind: network\ninput: [1, 0]\ntarget: 1\n"
            "layers:\n  - {W: [[1, 2]], b: [0], activaton: relu}\n"
            "loss: bce\nLearning_rate: 0.1\nnodes: {u: x}\n")
    got = [(p.line, p.code, p.message) for p in validate_text(text, "m.yaml")]
    assert got == [
        (6, "E010", "unknown key 'activaton' (did you mean 'activation'?)"),
        (8, "E010", "unknown key 'Learning_rate' (did you mean 'learning_rate'? keys are "
                    "case-sensitive)"),
        (9, "E010", "unknown key 'nodes' ('nodes' belongs in a graph exercise (kind: graph), "
                    "not here; did you mean 'notes'?)"),
    ]


def test_every_bad_node_is_reported_not_only_the_first():
    text = ("id: g\nkind: graph\nparams: {a: 1}\nnodes:\n  u: a*q\n  v: u +* 2\n"
            "  w: r + u\n  L: v + w\nloss: L\n")
    got = [(p.line, p.code) for p in validate_text(text, "g.yaml")]
    assert got == [(5, "E232"), (6, "E231"), (7, "E232")]


@pytest.mark.parametrize("text", ["", "\x00\x01", "- 1\n- 2", "id: [\n", "kind: graph\n" * 3,
                                  "a: " + "[" * 500, "\t\tkind: graph", "!!python/object:os.system {}",
                                  "id: x\nkind: graph\nparams: {a: 1}\nnodes: {L: 'a'}\n"
                                  "loss: L\nvariants: {draw: {a: {range: [0, 1e400]}}}\n"])
def test_garbage_gives_located_problems_never_a_traceback(text):
    problems = validate_text(text, "junk.yaml")
    assert problems and all(p.code != "E999" for p in problems), [p.text() for p in problems]
    assert all(p.line >= 1 and p.col >= 1 for p in problems)


def test_the_command_prints_ruff_style_lines_and_exits_1(tmp_path):
    bad = BROKEN / "cycle.yaml"
    code, line, col = expected(bad)
    r = run("validate", bad, BROKEN / "unknown-key.yaml")
    assert r.exit_code == 1
    assert r.stdout.splitlines()[0] == (f"{bad}:{line}:{col}: {code} the nodes form a cycle: "
                                        "u → w → v → u")
    assert "Found 2 errors and 0 warnings in 2 files." in r.output
    good = [e.path for e in bundled() if e.id not in KNOWN]
    r = run("validate", *good)
    assert r.exit_code == 0 and r.stdout == ""
    assert f"All clean: {len(good)} files." in r.output


def test_ignore_and_json(tmp_path):
    f = BROKEN / "unused-param.yaml"
    assert run("validate", f, "--ignore", "w301").exit_code == 0
    assert run("validate", f, "--no-warnings").exit_code == 0
    import json

    r = run("validate", f, "--format", "json")
    rec = json.loads(r.stdout)
    assert r.exit_code == 1 and rec[0]["code"] == "W301" and rec[0]["severity"] == "warning"
    r = run("validate", BROKEN)  # a folder: every file in it
    assert r.exit_code == 1 and f"in {len(FILES)} files." in r.output
    assert {line.split(": ")[1].split()[0] for line in r.stdout.splitlines()} >= {
        expected(p)[0] for p in FILES}
    r = run("validate", tmp_path / "missing.yaml")
    assert r.exit_code == 1 and "E000 no such file" in r.stdout
