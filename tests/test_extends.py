"""`extends: base.yaml` (issue 15, item 6): an exercise made from another, giving only what
changes — driven through the CLI as an author and a student use it.

A deep merge of mappings (a list or a number replaces the base's, `key: ~` removes it),
chains up to tutor.exercise.MAX_EXTENDS, every position in the file it came from, the
content hash over the merged content, and the JSON Schema accepting an override-only file.
"""
from __future__ import annotations

import json
import pickle
import re
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from tutor.cli import app
from tutor.errors import InputError
from tutor.exercise import MAX_EXTENDS, load
from tutor.scaffold import schema_text
from tutor.yamlio import Line, Mark, load_yaml

BASE = """\
id: base
title: "A merge"
notes: "the base's notes"
kind: graph
params: {x: 3, y: 2}
nodes:
  u: x*y
  v: u + y
  L: v**2
loss: L
ask: [forward, backward]
tolerance: {decimals: 4}
"""


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def write(folder: Path, name: str, text: str) -> Path:
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def solved(path) -> dict[str, str]:
    """step id → exact value, from `tutor solve --format json`."""
    r = run("solve", path, "--format", "json")
    assert r.exit_code == 0, r.output
    return {s["id"]: s["exact"] for s in json.loads(r.stdout)["steps"]}


def problems(path) -> list[str]:
    """`tutor validate` lines, 'file:line:col: CODE message' with the folder left out."""
    r = run("validate", path)
    return [re.sub(r"^\S*[/\\]", "", line) for line in r.stdout.splitlines()]


@pytest.fixture
def base(tmp_path) -> Path:
    return write(tmp_path, "base.yaml", BASE)


# ─── the merge ───────────────────────────────────────────────────────────────────────────
def test_a_child_overriding_params_solves_to_its_own_numbers(base, tmp_path):
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "params: {x: 2}\n")
    # the base: u = 6, v = 8, L = 64, ∂L/∂x = 2v·y = 32, ∂L/∂y = 2v(1 + x) = 64
    assert solved(base) == {"u": "6", "v": "8", "L": "64", "dv": "16", "du": "16",
                            "dx": "32", "dy": "64"}
    # x = 2 from the child, y = 2 from the base: u = 4, v = 6, L = 36, 2v·y = 24, 2v·3 = 36
    assert solved(child) == {"u": "4", "v": "6", "L": "36", "dv": "12", "du": "12",
                             "dx": "24", "dy": "36"}
    r = run("validate", child)
    assert r.exit_code == 0 and r.stdout == "", r.output


def test_nested_mappings_merge_key_by_key_and_lists_replace(base, tmp_path):
    write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
          "nodes: {v: u - y}\nask: [forward]\n")
    ex = load(tmp_path / "child.yaml")
    assert ex.spec.nodes == {"u": "x*y", "v": "u - y", "L": "v**2"}  # v replaced, the rest kept
    assert ex.spec.ask == ["forward"]  # a list replaces the base's whole
    assert ex.spec.params == {"x": 3, "y": 2} and ex.spec.loss == "L"
    assert ex.spec.notes == "the base's notes"  # inherited
    assert ex.spec.title == "" and ex.id == "child"  # the title is never inherited
    assert ex.spec.extends is None and "extends" not in ex.doc.data


def test_null_removes_a_key_of_the_base(base, tmp_path):
    # y leaves params (no gradient, no update) and becomes a constant; the notes go
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "params: {y: ~}\nconstants: {y: 2}\nnotes: ~\n")
    ex = load(child)
    assert ex.spec.params == {"x": 3} and ex.spec.constants == {"y": 2}
    assert ex.spec.notes is None and "notes" not in ex.doc.data
    steps = solved(child)
    assert "dy" not in steps and steps["dx"] == "32"


def test_a_tolerance_is_replaced_whole_not_mixed(base, tmp_path):
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "tolerance: {sig: 3}\n")  # merged key by key it would be E016
    ex = load(child)
    assert ex.spec.tolerance.sig == 3 and ex.spec.tolerance.decimals is None
    assert problems(child) == []


def test_a_chain_of_three_files(base, tmp_path):
    write(tmp_path, "middle.yaml", "extends: base.yaml\nid: middle\nkind: graph\n"
          "params: {x: 2}\ntitle: the middle\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    child = write(sub, "child.yaml", "extends: ../middle.yaml\nid: child\nkind: graph\n"
                  "params: {y: 1}\n")
    ex = load(child)
    assert ex.spec.params == {"x": 2, "y": 1} and ex.spec.title == ""
    assert [Path(b).name for b in ex.doc.bases] == ["middle.yaml", "base.yaml"]
    assert solved(child)["L"] == "9"  # u = 2, v = 3


def test_extends_a_bundled_exercise_by_its_id(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: merge-sum\nid: my-merge\nkind: graph\n"
                  "params: {x: 2}\ntitle: My merge\n")
    assert solved(child)["L"] == "36"
    assert problems(child) == []
    lab = write(tmp_path, "lab.yaml", "extends: lab9-relu-sigmoid-bce\nid: my-lab\n"
                "kind: network\nlearning_rate: 0.5\n")
    ex = load(lab)
    assert ex.spec.learning_rate == Decimal("0.5") and len(ex.spec.layers) == 3
    r = run("solve", lab)
    assert r.exit_code == 0, r.output
    r = run("solve", write(tmp_path, "near.yaml", "extends: lab9\nid: x\nkind: network\n"))
    assert r.exit_code == 2
    assert "near.yaml:1:10: extends: no bundled exercise 'lab9'" in r.output
    assert "Did you mean 'lab9-relu-sigmoid-bce'?" in r.output


# ─── positions ──────────────────────────────────────────────────────────────────────────
def test_an_error_in_the_base_is_at_the_base_and_one_in_the_child_at_the_child(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("v: u + y", "v: u + q")
          .replace("ask: [forward, backward]", "ask: [forward, backward]\ncolour: red"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "params: {x: true}\n")
    said = problems(child)
    assert said[0].startswith("child.yaml:4:13: E012 params.x: expected ")
    assert said[1] == "base.yaml:12:1: E010 unknown key 'colour' (allowed: " + \
        said[1].split("(allowed: ")[1]
    # the first error is the one a command stops at, in the file it is in
    r = run("solve", child)
    assert r.exit_code == 2 and r.output.startswith("error: ") and \
        "child.yaml:4:13: params.x: expected" in r.output
    # the schema sound, the compiler's problem in the base's node is at the base's line
    write(tmp_path, "base.yaml", BASE.replace("v: u + y", "v: u + q"))
    write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
          "params: {x: 1}\nlearning_rate: -1\n")
    assert problems(child) == [
        "child.yaml:5:16: E017 learning_rate: -1 is negative: the update θ − η·∂L/∂θ would "
        "climb the loss (the learning rate is > 0)",
        "base.yaml:8:10: E232 unknown name 'q' (known names: L, u, v, x, y)"]


def test_an_error_in_a_base_of_a_base_is_in_that_file(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("ask: [forward, backward]", "ask: [sideways]"))
    write(tmp_path, "middle.yaml", "extends: base.yaml\nid: middle\nkind: graph\n")
    child = write(tmp_path, "child.yaml", "extends: middle.yaml\nid: child\nkind: graph\n")
    said = problems(child)
    assert len(said) == 1 and said[0].startswith("base.yaml:11:7: E012 ask.0: must be ")
    with pytest.raises(InputError) as info:
        load(child)
    assert Path(info.value.file).name == "base.yaml" and (info.value.line, info.value.col) \
        == (11, 7)


def test_bad_yaml_in_the_base_is_said_at_the_base(tmp_path):
    write(tmp_path, "base.yaml", "id: base\nkind: graph\nparams: {x: 1\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n")
    said = problems(child)
    assert len(said) == 1 and said[0].startswith("base.yaml:") and " E005 " in said[0]


# ─── refusals: one clear line, exit 2, no traceback ─────────────────────────────────────
def _refused(path, expected: str) -> None:
    for command in ("validate", "solve", "template", "practice"):
        r = run(command, path, input="")
        assert r.exit_code == 2, (command, r.output)
        assert "Traceback" not in r.output and r.exception is None or \
            isinstance(r.exception, SystemExit)
        line = [x for x in r.output.splitlines() if expected in x.replace(": E000 ", ": ")]
        assert len(line) == 1, (command, r.output)


def test_a_missing_base_is_said_at_the_extends_line(tmp_path):
    child = write(tmp_path, "child.yaml", "id: child\nkind: graph\nextends: nothere.yaml\n")
    _refused(child, "child.yaml:3:10: extends: nothere.yaml: no such file")
    assert problems(child)[0].startswith("child.yaml:3:10: E000 extends: nothere.yaml: no "
                                         "such file")


def test_a_cycle_names_its_files(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\nid: a\nkind: graph\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\nid: b\nkind: graph\n")
    _refused(tmp_path / "a.yaml", "b.yaml:1:10: extends: a cycle: ")
    said = problems(tmp_path / "a.yaml")
    assert len(said) == 1 and re.search(r"E000 extends: a cycle: \S*a\.yaml → \S*b\.yaml → "
                                        r"\S*a\.yaml", said[0])
    write(tmp_path, "self.yaml", "extends: self.yaml\nid: s\nkind: graph\n")
    _refused(tmp_path / "self.yaml", "self.yaml:1:10: extends: a cycle: ")


def test_too_deep_a_chain_is_refused(base, tmp_path):
    n = MAX_EXTENDS
    for i in range(n + 1):  # d0 → d1 → … → d<n> → base: n + 1 links
        nxt = f"d{i + 1}.yaml" if i < n else "base.yaml"
        write(tmp_path, f"d{i}.yaml", f"extends: {nxt}\nid: d{i}\nkind: graph\n")
    _refused(tmp_path / "d0.yaml", f"extends: a chain of more than {n} links")
    assert solved(tmp_path / "d1.yaml")["L"] == "64"  # n links: allowed


def test_a_chain_larger_than_the_size_bound_is_refused(base, tmp_path, monkeypatch):
    import tutor.yamlio

    monkeypatch.setattr(tutor.yamlio, "MAX_BYTES", len(BASE) + 20)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n")
    r = run("solve", child)
    assert r.exit_code == 2 and "child.yaml:1:10: extends: the files of this chain are " \
        "together more than" in r.output


def test_an_extending_file_names_its_own_id_and_the_same_kind(base, tmp_path):
    said = problems(write(tmp_path, "c1.yaml", "extends: base.yaml\nkind: graph\n"))
    assert said == ["c1.yaml:1:10: E020 an exercise that extends another gives its own id: add "
                    "'id: …' (the base base.yaml has id 'base')"]
    said = problems(write(tmp_path, "c2.yaml", "extends: base.yaml\nid: base\nkind: graph\n"))
    assert said[0].startswith("c2.yaml:2:5: E020 id: 'base' is the id of the exercise it "
                              "extends")
    said = problems(write(tmp_path, "c3.yaml", "extends: base.yaml\nid: c\nkind: network\n"))
    assert said == ["c3.yaml:3:7: E020 kind: 'network', but base.yaml is a 'graph' exercise: "
                    "an exercise extends one of its own kind"]
    said = problems(write(tmp_path, "c4.yaml", "extends: 3\nid: c\nkind: graph\n"))
    assert said[0].startswith("c4.yaml:1:10: E012 extends: must be a file name")
    said = problems(write(tmp_path, "c5.yaml", "extends: ../etc/passwd\nid: c\nkind: graph\n"))
    assert said[0].startswith("c5.yaml:1:10: E000 extends: ../etc/passwd: an exercise file "
                              "ends in .yaml or .yml")


# ─── the content hash, sheets ────────────────────────────────────────────────────────────
def test_editing_the_base_changes_the_childs_hash_and_its_sheets_go_stale(base, tmp_path):
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "params: {x: 2}\n")
    before = load(child)
    assert before.text_sha == ""  # its text alone is not what it is
    r = run("template", child)
    assert r.exit_code == 0, r.output
    values = solved(child)
    sheet = r.stdout
    for step, value in values.items():
        sheet = re.sub(rf"^(  {step}:)[ \t]*(#.*)?$", rf"\g<1> {value}", sheet, flags=re.M)
    s = write(tmp_path, "sheet.yaml", sheet)
    r = run("check", child, s, "--format", "json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["sheets"][0]
    assert got["stale"] is False and got["score"] == len(values)
    base.write_text(BASE.replace("y: 2", "y: 5"), encoding="utf-8")
    after = load(child)
    assert after.sha != before.sha and after.math_sha != before.math_sha
    r = run("check", child, s, "--format", "json")
    assert json.loads(r.stdout)["sheets"][0]["stale"] is True
    base.write_text("# a comment\n" + BASE, encoding="utf-8")  # the content as before
    assert load(child).sha == before.sha


def test_practice_works_on_an_extending_file(base, tmp_path):
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n"
                  "params: {x: 2}\n")
    values = solved(child)
    r = run("practice", child, "--plain", input="\n".join(values.values()) + "\nn\n")
    assert r.exit_code == 0, r.output
    assert f"Score: {len(values)}/{len(values)}" in r.output


# ─── the schema, positions ───────────────────────────────────────────────────────────────
def _schema_errors(text: str) -> list[str]:
    def js(v):
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, dict):
            return {k: js(x) for k, x in v.items()}
        if isinstance(v, list):
            return [js(x) for x in v]
        return v

    validator = jsonschema.Draft202012Validator(json.loads(schema_text()))
    return [e.message for e in validator.iter_errors(js(load_yaml(text).data))]


def test_the_schema_accepts_an_override_only_file_and_still_checks_its_keys():
    assert _schema_errors("extends: base.yaml\nid: c\nkind: graph\nparams: {x: 2, y: ~}\n"
                          "notes: ~\nvariants: {tries: 300}\ntolerance: {sig: 3}\n") == []
    assert _schema_errors("extends: lab9-relu-sigmoid-bce\nid: c\nkind: network\n"
                          "learning_rate: 0.5\nlayout: ~\n") == []
    assert _schema_errors("extends: base.yaml\nid: c\nkind: graph\ncolour: red\n")
    assert _schema_errors("extends: base.yaml\nid: c\nkind: graph\nask: [sideways]\n")
    assert _schema_errors("extends: base.yaml\nkind: graph\n")  # its own id
    assert _schema_errors("id: c\nkind: graph\n")  # without extends: everything required
    s = json.loads(schema_text())
    assert s["$defs"]["GraphSpec"]["properties"]["extends"]["description"]


def test_solve_says_a_compile_error_of_the_base_at_the_base(tmp_path):
    write(tmp_path, "base.yaml", BASE.replace("v: u + y", "v: u + q"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nid: child\nkind: graph\n")
    r = run("solve", child)
    assert r.exit_code == 2 and "base.yaml:8:10: unknown name 'q'" in r.output


def test_a_line_keeps_its_file_through_a_pickle():
    m = Mark(Line(7, "base.yaml"), 3)
    assert m.line == 7 and m.file == "base.yaml" and Mark(7, 3).file is None
    back = pickle.loads(pickle.dumps(m))
    assert back == m and back.file == "base.yaml"
