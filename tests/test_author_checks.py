"""Issue 10, item 8: values the types allow but no exercise means, each located.

One file per check lives in tests/broken/ (its `# expect:` line is asserted by
test_validate.py); here the same files go through the CLI the way an author meets them:
`tutor validate` prints `file:line:col: CODE message` and exits 1, and `tutor solve`
refuses an error with one located line and exit 2 (a warning still solves).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli import app

BROKEN = Path(__file__).parent / "broken"

CASES = {  # file → (code, line, col, words the message must contain)
    "tolerance-negative": ("E014", 8, 18, "tolerance.abs: -0.001 is negative"),
    "tolerance-zero": ("E015", 8, 12, "abs and rel are both 0, so only the exact value"),
    "tolerance-decimals-and-sig": ("E016", 8, 26, "decimals and sig are both given"),
    "learning-rate-negative": ("E017", 8, 16, "learning_rate: -0.1 is negative"),
    "learning-rate-zero": ("W307", 8, 16, "learning_rate: 0 makes every update"),
    "ask-nothing": ("E018", 7, 6, "ask: [] asks nothing"),
    "slope-on-relu": ("E019", 7, 46, "slope applies to activation leaky_relu only"),
    "network-too-wide": ("E211", 5, 9, "target: 1000 entries along one side"),
}


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", CASES)
def test_validate_names_the_problem_at_its_place(name):
    code, line, col, words = CASES[name]
    f = BROKEN / f"{name}.yaml"
    r = run("validate", f)
    assert r.exit_code == 1 and "Traceback" not in r.output
    lines = [s for s in r.output.splitlines() if f" {code} " in s]
    assert len(lines) == 1, r.output
    assert lines[0].startswith(f"{f}:{line}:{col}: {code} ") and words in lines[0]


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c[0].startswith("E")])
def test_solve_refuses_each_error_with_one_located_line(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    code, line, col, words = CASES[name]
    f = BROKEN / f"{name}.yaml"
    r = run("solve", f)
    assert r.exit_code == 2 and "Traceback" not in r.output
    said = " ".join(r.output.split())
    assert said.startswith(f"error: {f}:{line}:{col}: ") and words in said


def test_a_learning_rate_of_zero_is_a_warning_and_solves_to_the_old_value(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    r = run("solve", BROKEN / "learning-rate-zero.yaml", "--format", "json")
    assert r.exit_code == 0
    import json

    steps = {s["id"]: s for s in json.loads(r.output)["steps"]}
    assert steps["da"]["exact"] == "2" and steps["a_new"]["exact"] == "1"
    r = run("validate", "--no-warnings", BROKEN / "learning-rate-zero.yaml")
    assert r.exit_code == 0


def test_good_tolerances_and_rates_pass(tmp_path):
    base = ("id: ok\nkind: graph\nparams: {a: 1}\nnodes: {L: a**2}\nloss: L\n"
            "ask: [backward, update]\nlearning_rate: 0.1\n")
    for tol in ("{abs: 0.001}", "{rel: 0.01}", "{abs: 0, rel: 0.01}", "{decimals: 4}",
                "{sig: 3}"):
        f = tmp_path / "ok.yaml"
        f.write_text(base + f"tolerance: {tol}\n")
        r = run("validate", f)
        assert r.exit_code == 0, (tol, r.output)


def test_every_problem_in_one_file_at_once(tmp_path):
    f = tmp_path / "all.yaml"
    f.write_text("id: all\nkind: network\ninput: [1]\ntarget: [1]\n"
                 "layers:\n  - {W: [[1]], b: [0], activation: tanh, slope: 2}\n"
                 "loss: half_sse\nask: []\nlearning_rate: -1\ntolerance: {rel: -0.5}\n")
    r = run("validate", f)
    codes = [s.split()[1] for s in r.output.splitlines() if s.startswith(str(f))]
    assert codes == ["E019", "E018", "E017", "E014"] and r.exit_code == 1


def test_alpha_applies_to_elu_only_and_the_schema_agrees(tmp_path):
    import json as _json

    import jsonschema

    from tutor.scaffold import SCHEMA_FILE

    f = tmp_path / "a.yaml"
    f.write_text("id: a\nkind: network\ninput: [1]\ntarget: [1]\n"
                 "layers:\n  - {W: [[1]], b: [0], activation: relu, alpha: 2}\n"
                 "loss: half_sse\n")
    r = run("validate", f)
    assert r.exit_code == 1
    assert f"{f}:6:42: E019 layer 1: alpha applies to activation elu only" in r.output
    schema = _json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    layer = {"W": [[1]], "b": [0], "activation": "relu", "alpha": 2}
    doc = {"id": "a", "kind": "network", "input": [1], "target": [1], "layers": [layer],
           "loss": "half_sse"}
    v = jsonschema.Draft202012Validator(schema)
    assert list(v.iter_errors(doc))
    layer["activation"] = "elu"
    assert not list(v.iter_errors(doc))
    f.write_text(f.read_text().replace("relu", "elu"))
    assert run("validate", "--no-warnings", f).exit_code == 0
