"""`tutor validate`: every problem at once, `file:line:col: CODE message`, never a traceback.

tests/broken/ holds one file per check; its first line says `# expect: CODE LINE COL`.
A file with several problems starts with one `# expect:` line per problem, and validate
must report exactly those (every problem at once, not one per fix).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.catalog import bundled, resolve
from tutor.cli import app
from tutor.validate import CODES, validate_file, validate_text

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.yaml"))


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def expectations(path: Path) -> list[tuple[str, int, int]]:
    """The leading `# expect: CODE LINE COL` lines of a broken file."""
    out = []
    for text in path.read_text(encoding="utf-8").splitlines():
        if not text.startswith("# expect:"):
            break
        _, _, code, line, col = text.split()
        out.append((code, int(line), int(col)))
    return out


def expected(path: Path) -> tuple[str, int, int]:
    return expectations(path)[0]


SINGLE = [p for p in FILES if len(expectations(p)) == 1]
SEVERAL = [p for p in FILES if len(expectations(p)) > 1]


# Known findings in bundled exercises this task does not own, for the exercises' author:
KNOWN: dict[str, set[str]] = {}  # exercise id → warnings it is allowed


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.id)
def test_every_bundled_exercise_validates_clean(entry):
    found = [p.text() for p in validate_file(entry.path)
             if p.code not in KNOWN.get(entry.id, set())]
    assert found == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_each_broken_file_gives_its_code_at_its_line_and_column(path):
    found = [(p.code, p.line, p.col) for p in validate_file(path)]
    for code, line, col in expectations(path):
        assert (code, line, col) in found, found
        assert code in CODES
    if len(expectations(path)) > 1:  # several problems: exactly those, all at once
        assert sorted(found) == sorted(expectations(path))


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
              "E040", "E041", "E042", "E043", "E045", "E046",  # variants
              "E014", "E015", "E016", "E017", "E018", "E019", "W307",  # author checks
              "E211"}          # a network too large for hand computation
    assert wanted <= codes
    assert "W303" in codes  # a step a buggy rule reproduces


def test_messages_say_what_is_wrong():
    msg = {expected(p)[0]: [q.message for q in validate_file(p)] for p in SINGLE
           if p.stem != "relu-at-zero-graph"}
    assert msg["E010"] == ["unknown key 'learning_rat' (did you mean 'learning_rate'?)"]
    assert msg["E225"] == ["the nodes form a cycle: u → w → v → u"]
    assert msg["E230"] == ["'du' is also the step id of ∂L/∂u; rename one of them so every "
                           "step id is unique"]
    assert msg["E232"][0].startswith("unknown name 'q'")
    assert msg["W302"][0].startswith("z1[2] = 0 exactly: ReLU′(0) decides the answer")
    assert msg["W306"][0].startswith("max(a, b): its arguments tie at 2;")
    assert msg["W301"] == ["the loss L does not depend on parameter b: its gradient is 0 by "
                           "construction"]
    assert [q.message for q in validate_file(Path(__file__).parent / "broken" /
                                            "cancelled-param.yaml")] == [
        "the loss L does not depend on parameter a: its paths to L cancel (written out, L has "
        "no a in it), so its gradient is 0 for any values"]


def test_the_corpus_has_files_with_several_problems():
    assert {p.stem for p in SEVERAL} >= {"several-network", "several-cycles", "several-graph"}


def test_a_network_with_four_problems_reports_all_four_and_solve_reports_the_first():
    f = BROKEN / "several-network.yaml"
    got = [p.text() for p in validate_file(f)]
    assert got == [
        f"{f}:11:9: E204 target has shape 2×1 but the output is 1×1",
        f"{f}:13:39: E206 layer 1: b has 3 entries but W has 2 outputs",
        f"{f}:14:9: E205 layer 2: W is 2×3, so it takes 3 inputs, but layer 1 gives 2 (column "
        "layout: W is outputs × inputs)",
        f"{f}:17:6: E210 asking for updates (or several iterations) needs a learning_rate"]
    r = run("validate", f)
    assert r.exit_code == 1 and "Found 4 errors and 0 warnings in 1 file." in r.output
    r = run("solve", f)  # the solver stops at the first, as one located line
    assert r.exit_code == 2 and "Traceback" not in r.output
    said = " ".join(r.output.split())  # the console may wrap a long line
    assert said == f"error: {f}:13:39: layer 1: b has 3 entries but W has 2 outputs"


def test_every_cycle_is_reported_once_per_component():
    f = BROKEN / "several-cycles.yaml"
    assert [(p.code, p.message) for p in validate_file(f)] == [
        ("E225", "the nodes form a cycle: u → v → u"),
        ("E225", "the nodes form a cycle: p → q → p"),
        ("W301", "the loss L does not depend on parameter b: its gradient is 0 by "
                 "construction")]
    # one component with two cycles through u (u → v → u, u → w → u): one report
    text = ("id: g\nkind: graph\nparams: {a: 1}\nnodes:\n  u: a + v + w\n  v: u * 2\n"
            "  w: u - 1\n  L: u**2\nloss: L\n")
    assert [(p.line, p.col, p.code, p.message) for p in validate_text(text, "g.yaml")] == [
        (5, 6, "E225", "the nodes form a cycle: u → v → u")]


def test_an_undefined_name_does_not_hide_a_cycle_or_a_step_id_clash():
    f = BROKEN / "several-graph.yaml"
    assert [(p.code, p.line) for p in validate_file(f)] == [
        ("E232", 11), ("E230", 12), ("E225", 13), ("W301", 9)]
    # the node with the unknown name is itself on the cycle: both are reported
    text = ("id: g\nkind: graph\nparams: {a: 1}\nnodes:\n  u: v + zz\n  v: u * a\n"
            "  L: u**2\nloss: L\n")
    assert [(p.line, p.code) for p in validate_text(text, "g.yaml")] == [
        (5, "E225"), (5, "E232")]
    # a parameter used only by a node that does not parse is not called unused
    text = ("id: g\nkind: graph\nparams: {a: 1}\nnodes:\n  u: a +* 2\n  L: u**2\nloss: L\n")
    assert [p.code for p in validate_text(text, "g.yaml")] == ["E231"]


def test_a_step_id_clash_alone_still_gets_the_warnings():
    text = ("id: g\nkind: graph\nparams: {a: 1, b: 2}\nnodes:\n  u: a * 3\n  du: u + 1\n"
            "  L: du**2\nloss: L\n")
    assert [p.code for p in validate_text(text, "g.yaml")] == ["E230", "W301"]


@pytest.mark.parametrize("cmd", [["solve"], ["solve", "--format", "json"], ["template"],
                                 ["show"], ["practice", "--plain"]])
def test_every_command_refuses_a_step_id_clash_at_compile(cmd, tmp_path, monkeypatch):
    """E230 is the compiler's (the path every command takes), not only validate's: no
    command lists a step twice, nor prints a sheet with a duplicate key."""
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    f = tmp_path / "clash.yaml"
    f.write_text("id: clash\nkind: graph\nparams: {a: 1}\ninputs: {x: 2}\n"
                 "nodes:\n  a_new: a * x\n  L: a_new**2\nloss: L\nlearning_rate: 0.1\n"
                 "ask: [backward, update]\n")
    r = CliRunner().invoke(app, [cmd[0], str(f), *cmd[1:]], input="quit\n")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert " ".join(r.output.split()) == (
        f"error: {f}:6:3: 'a_new' is also the step id of the update of a; rename one of "
        "them so every step id is unique")
    assert [(p.line, p.col, p.code) for p in validate_file(f)] == [(6, 3, "E230")]


def test_a_node_named_d_and_a_constant_is_no_clash():
    """A constant has no gradient step, so a node dt beside constant t clashes with nothing."""
    text = ("id: dt\nkind: graph\ninputs: {x: 2}\nparams: {w: 1}\nconstants: {t: 3}\n"
            "nodes:\n  dt: w*x - t\n  L: dt**2/2\nloss: L\nlearning_rate: 0.1\n")
    assert validate_text(text, "dt.yaml") == []
    from tutor.core import work_exercise
    from tutor.exercise import load_text

    assert [s.id for s in work_exercise(load_text(text, "dt.yaml")).steps] == ["ddt", "dw"]


def test_w302_in_a_graph_names_the_relu_input_not_the_relu():
    f = BROKEN / "relu-at-zero-graph.yaml"
    msgs = [p.message for p in validate_file(f) if p.code == "W302"]
    assert msgs == ["w1·x = 0 exactly: ReLU′(0) decides the answer; state it with "
                    "conventions: {relu_prime_at_zero: 0 or 1}"]
    text = ("id: g\nkind: graph\ninputs: {x: 0}\nparams: {w: 1}\nnodes:\n  z: w*x\n"
            "  h: relu(z)\n  L: (h + w)**2\nloss: L\n")
    w302 = [p for p in validate_text(text, "g.yaml") if p.code == "W302"]
    assert [(p.line, p.col, p.message.split(":")[0]) for p in w302] == [
        (7, 6, "z = 0 exactly")]


def test_w305_only_with_strict_a_single_step_a_misconception_reproduces():
    # Lab 9: both units of layer 1 are alive, so forgetting the ReLU mask still gives the
    # true δ1 (δ2, with a dead unit, catches it): W305 with --strict, nothing by default
    lab9 = resolve("lab9-relu-sigmoid-bce")
    assert validate_file(lab9) == []
    strict = [(p.code, p.line, p.col, p.message) for p in validate_file(lab9, strict=True)]
    assert strict == [("W305", 14, 5, "at step delta1 the misconception no-relu-mask gives "
                                      "the true answer")]
    assert run("validate", lab9).exit_code == 0
    r = run("validate", lab9, "--strict")
    assert r.exit_code == 1 and f"{lab9}:14:5: W305 at step delta1" in r.stdout
    assert run("validate", lab9, "--strict", "--ignore", "W305").exit_code == 0


def test_validate_works_out_the_misconceptions_once(monkeypatch):
    import tutor.misconceptions as m
    from tutor.exercise import load

    calls = []
    real = m.indistinguishable
    monkeypatch.setattr(m, "indistinguishable",
                        lambda w, *a, **k: calls.append(w) or real(w, *a, **k))
    assert validate_file(resolve("lab9-variants")) == []
    base = [w for w in calls if w.exercise.spec == load(resolve("lab9-variants")).spec]
    # the base values' worked exercise: W303 and W304's condition share one call (seed 0's
    # draws each have their own)
    assert len(base) >= 1 and sum(w is base[0] for w in calls) == 1


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
    assert r.exit_code == 2 and "E000 no such file" in r.stdout  # unreadable: exit 2


def test_an_unreadable_file_exits_2_and_the_others_are_still_validated(tmp_path):
    missing, latin = tmp_path / "missing.yaml", tmp_path / "latin.yaml"
    latin.write_bytes(b"id: x\nkind: graph\ntitle: caf\xe9\n")
    for f in (missing, latin, tmp_path):  # a folder holding only latin.yaml
        r = run("validate", f)
        assert r.exit_code == 2 and " E000 " in r.stdout and "Traceback" not in r.output
    assert run("validate", latin).stdout == (
        f"{latin}:3:11: E000 not UTF-8 text: byte 0xe9 cannot be read (save the file as "
        "UTF-8)\n")
    cycle = BROKEN / "cycle.yaml"
    r = run("validate", missing, cycle)  # the worst exit status: 2 over 1
    assert r.exit_code == 2
    assert [line.split(": ")[1].split()[0] for line in r.stdout.splitlines()] == ["E000",
                                                                                 "E225"]
    assert "Found 2 errors and 0 warnings in 2 files." in r.output
    assert run("validate", missing, "--ignore", "E000").exit_code == 2  # never hidden
    assert run("validate", cycle, "--format", "json").exit_code == 1


def test_ignore_refuses_an_unknown_code(tmp_path):
    f = BROKEN / "unused-param.yaml"
    r = run("validate", "--ignore", "W999", f)
    assert r.exit_code == 2 and "Traceback" not in r.output
    said = " ".join(r.output.split())
    assert said.startswith("error: --ignore: no such code W999 (did you mean E999?); the "
                           "codes are E000, E001,")
    assert "W306" in said
    assert run("validate", "--ignore", "w301,W30", f).exit_code == 2
    assert run("validate", "--ignore", "w301, E230", f).exit_code == 0


@pytest.mark.parametrize("value, said", [
    ("010", "'010': a whole number with a leading zero (YAML 1.1 would read 8)"),
    ("0x1F", "'0x1F': a hexadecimal number (YAML 1.1 would read 31)"),
    ("0o17", "'0o17': an octal number"),
    ("1:00", "'1:00': a base-60 (sexagesimal) number (YAML 1.1 would read 60)"),
])
def test_a_number_in_another_base_is_one_e006(value, said):
    text = f"id: g\nkind: graph\ninputs: {{x: {value}}}\nparams: {{a: 1}}\n" \
           "nodes: {L: (a*x)**2}\nloss: L\n"
    (p,) = validate_text(text, "g.yaml")
    assert (p.line, p.col, p.code) == (3, 13, "E006") and p.message.startswith(said + "; ")


def test_a_merge_key_is_one_located_problem():
    text = ("id: g\nkind: graph\ninputs: {x: 1, <<: {y: 2}}\nparams: {a: 1}\n"
            "nodes: {L: (a*x)**2}\nloss: L\n")
    assert [p.text() for p in validate_text(text, "g.yaml")] == [
        "g.yaml:3:16: E005 YAML merge keys (<<) are not allowed: write the keys out where "
        "they belong"]


def test_booleans_are_not_numbers_in_validate_either():
    text = ("id: n\nkind: network\ninput: [true, 0]\ntarget: 1\nlearning_rate: true\n"
            "layers:\n  - {W: [[0.5, -0.3]], b: [0.1], activation: sigmoid}\nloss: bce\n")
    found = {(p.line, p.col): p.message for p in validate_text(text, "n.yaml")}
    assert found[(3, 9)].endswith("got true (true and false are not numbers: write 1 or 0)")
    assert found[(5, 16)] == ('learning_rate: expected a number (0.5, -2 or "1/3"), got true '
                              '(true and false are not numbers: write 1 or 0)')


def test_every_code_is_documented_and_listed_by_codes():
    """The code table of docs/authoring.md and `tutor validate --codes` name every code the
    program can report (E240 was emitted but missing from both)."""
    doc = (Path(__file__).parents[1] / "docs" / "authoring.md").read_text(encoding="utf-8")
    assert [c for c in CODES if f"| {c} |" not in doc] == []
    r = run("validate", "--codes")
    assert r.exit_code == 0
    assert [line.split()[0] for line in r.stdout.splitlines()] == list(CODES)
    assert run("validate").exit_code == 2


@pytest.mark.parametrize("expr, code", [
    ("a**100000", "E233"),          # exponent over the bound
    ("exp(10**6)*a", "E233"),       # an argument of exp over the bound
    ("(" * 300 + "a" + ")" * 300, "E233"),  # brackets nested too deeply
    ("1" * 5000 + "*a", "E233"),    # a number too long
    ("q*a", "E232"),                # an unknown name
    ("a +* 2", "E231"),             # does not parse
])
def test_an_expression_problems_code_is_the_parsers_not_read_from_its_words(expr, code):
    """The parser raises each ExprError with its code (tutor.expr.UNKNOWN_NAME, TOO_LARGE);
    validate takes it from there, never from the message's wording."""
    text = f"id: g\nkind: graph\nparams: {{a: 1}}\nnodes:\n  u: \"{expr}\"\n  L: u**2\nloss: L\n"
    assert [p.code for p in validate_text(text, "g.yaml")][:1] == [code]
