"""Issue 15 item 6, author tools: `validate --variants N`, question tests (`tests:`), a
did-you-mean for every word of the format, YAML 1.2 booleans, and the one-hot hint.

Every check goes through the CLI the way an author meets it (CliRunner), or through
`validate_text`/`validate_file` where the positions are the point.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.catalog import bundled, resolve
from tutor.cli import app
from tutor.exercise import load, load_text
from tutor.errors import InputError
from tutor.validate import validate_file, validate_text

AUTHOR = Path(__file__).parent / "author"
AT_SOME_SEED = AUTHOR / "relu-zero-at-some-seed.yaml"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# ─── validate --variants N ──────────────────────────────────────────────────────────────
RANDOMIZED = [e for e in bundled() if load(e.path).spec.variants is not None]


def test_there_is_a_bundled_randomized_exercise_with_tests():
    assert "lab9-variants" in {e.id for e in RANDOMIZED}
    assert load(resolve("lab9-variants")).spec.tests


@pytest.mark.parametrize("entry", RANDOMIZED, ids=lambda e: e.id)
def test_a_hundred_variants_of_every_bundled_randomized_exercise_pass(entry):
    r = run("validate", entry.path, "--variants", 100)
    assert (r.exit_code, r.stdout) == (0, "")
    assert "All clean: 1 file." in r.output


def test_a_condition_that_breaks_at_some_seed_fails_with_one_located_line():
    f = AT_SOME_SEED
    r = run("validate", f)  # seed 0 draws w ≠ 0: fine
    assert (r.exit_code, r.stdout) == (0, "")
    r = run("validate", f, "--variants", 100)
    assert r.exit_code == 1 and "Traceback" not in r.output
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{f}:14:3: E045 17 of 100 seeds have no variant that meets the "
                           "conditions (seeds 7, 13, 16, ")
    assert "seed 7: no variant of relu-zero-at-some-seed meets its conditions" in line
    assert "no_relu_at_zero" in line
    r = run("validate", f, "--variants", 100, "--format", "json")
    (rec,) = json.loads(r.stdout)
    assert r.exit_code == 1 and (rec["code"], rec["line"], rec["col"], rec["severity"]) == (
        "E045", 14, 3, "error")
    assert run("validate", f, "--variants", 5).exit_code == 0  # seeds 0…4 all draw


def test_one_failing_seed_is_said_as_the_variants_own_refusal():
    r = run("validate", AT_SOME_SEED, "--variants", 8)  # seed 7 alone fails
    (line,) = r.stdout.splitlines()
    assert line.startswith(f"{AT_SOME_SEED}:14:3: E045 no variant of relu-zero-at-some-seed "
                           "meets its conditions in 1 tries (seed 7)")


def test_progress_is_told_after_each_seed():
    told = []
    assert validate_file(AT_SOME_SEED, variants=5, progress=lambda d, t: told.append((d, t))) \
        == []
    assert told == [(k, 5) for k in range(1, 6)]
    told.clear()
    validate_file(AUTHOR / "relu-zero-at-some-seed.yaml")  # no --variants: nothing to tell
    assert told == []


def test_variants_must_be_a_positive_count():
    r = run("validate", AT_SOME_SEED, "--variants", 0)
    assert r.exit_code == 2 and "Traceback" not in r.output


def test_an_exercise_without_variants_is_validated_as_before():
    f = resolve("lab9-relu-sigmoid-bce")
    r = run("validate", f, "--variants", 50)
    assert (r.exit_code, r.stdout) == (0, "")


# ─── tests: question tests ──────────────────────────────────────────────────────────────
# ∂L/∂a = 2(a·x − 1)·x: 4 at the base values (a = 1, x = 2); variants draw x
GRAPH = ("id: g\nkind: graph\ninputs: {x: 2}\nparams: {a: 1}\nnodes:\n  L: (a*x - 1)**2\n"
         "loss: L\nlearning_rate: 0.5\nask: [backward, update]\n")
VARIANTS = "variants:\n  draw: {x: {choice: [2, 3]}}\n"


def problems(text: str, variants: int = 0):
    return [(p.line, p.col, p.code, p.message) for p in
            validate_text(text, "t.yaml", variants=variants)]


@pytest.mark.parametrize("test", [
    "{step: da, answer: 4, expect: correct}",
    '{step: da, answer: "8/2", expect: correct}',
    "{step: da, answer: 3, expect: wrong}",
    "{step: da, answer: '[1, 2]', expect: invalid}",
    "{step: da, answer: 'a +', expect: invalid}",
    "{step: a_new, answer: -1, expect: correct}",
    "{step: a_new, answer: 3, expect: update-plus-eta}",
    "{step: a_new, answer: 0, expect: follow_through, given: {da: 2}}",
])
def test_each_kind_of_verdict_can_be_expected(test):
    assert problems(GRAPH + f"tests:\n  - {test}\n") == []


def test_a_verdict_that_is_not_the_expected_one_is_e051_at_its_expect():
    text = GRAPH + ("tests:\n  - {step: da, answer: 4, expect: correct}\n"
                    "  - {step: da, answer: 4, expect: wrong}\n"
                    "  - {step: da, answer: 3, expect: loss-sign-flip}\n"
                    "  - {step: da, answer: '[1, 2]', expect: correct}\n")
    assert problems(text) == [
        (12, 35, "E051", "tests[1]: da = 4 is correct at the base values, not wrong"),
        (13, 35, "E051", "tests[2]: da = 3 is wrong (the value is 4) at the base values, not "
                         "loss-sign-flip"),
        (14, 42, "E051", "tests[3]: da = [1, 2] is invalid (expected a single number, got a "
                         "vector of 2) at the base values, not correct")]


def test_a_test_that_names_nothing_is_e050_with_a_did_you_mean():
    text = GRAPH + ("tests:\n  - {step: dA, answer: 4, expect: correct}\n"
                    "  - {step: da, answer: 4, expect: corect}\n"
                    "  - {step: da, answer: 4, expect: no-relu-masc}\n"
                    "  - {step: da, answer: 4, expect: correct, given: {a_nwe: 1}}\n"
                    "  - {step: da, answer: 4, expect: correct, seed: 3}\n")
    got = problems(text)
    assert [(line, code) for line, _, code, _ in got] == [(11, "E050"), (12, "E050"),
                                                          (13, "E050"), (14, "E050"),
                                                          (15, "E050")]
    said = [m for *_, m in got]
    assert said[0] == "tests[0]: no step 'dA' (did you mean 'da'?)"
    assert said[1].endswith("nor a misconception id (did you mean 'correct'?)")
    assert said[2].endswith("(did you mean 'no-relu-mask'?)")
    assert said[3] == "tests[3]: no step 'a_nwe' (did you mean 'a_new'?)"
    assert said[4].startswith("tests[4]: seed 3 names a variant, but this exercise has no "
                              "variants: block")


def test_a_step_that_is_not_asked_is_said_so():
    text = GRAPH.replace("ask: [backward, update]", "ask: [backward]") + \
        "tests:\n  - {step: a_new, answer: 0, expect: wrong}\n"
    (p,) = problems(text)
    assert p[2:] == ("E050", "tests[0]: step 'a_new' is not asked (ask: backward): a test "
                             "answers a step the student is asked")


def test_a_seeded_test_is_checked_at_its_variant():
    # seed 1 draws x = 3 (random.Random(1)): ∂L/∂a = 2(3 − 1)·3 = 12
    from tutor.variants import realize

    ex = load_text(GRAPH + VARIANTS, "t.yaml")
    x = {s: realize(ex, s).graph.init["x"] for s in range(4)}
    seed = next(s for s, v in x.items() if v == 3)
    ok = GRAPH + VARIANTS + f"tests:\n  - {{seed: {seed}, step: da, answer: 12, expect: correct}}\n"
    assert problems(ok) == []
    bad = ok.replace("answer: 12", "answer: 4")
    (p,) = problems(bad)
    assert p[2:] == ("E051", f"tests[0]: da = 4 is wrong (the value is 12) at seed {seed}, "
                             "not correct")


def test_seed_all_is_every_variant_validate_draws():
    # da = 4 at x = 2 only: seed 0 is x = 2 or 3; with --variants 10 some seed draws x = 3
    text = GRAPH + VARIANTS + "tests:\n  - {seed: all, step: da, answer: 4, expect: correct}\n"
    (p,) = problems(text, variants=10)
    assert p[:3] == (13, 46, "E051")
    assert p[3].startswith("tests[0]: da = 4 is not correct at ") and " of 11 variants (" in p[3]
    never = GRAPH + VARIANTS + "tests:\n  - {seed: all, step: da, answer: 0, expect: wrong}\n"
    assert problems(never, variants=10) == []
    r = run_text(never, "--variants", 10)
    assert r.exit_code == 0


def run_text(text: str, *args, name: str = "t.yaml"):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / name
        f.write_text(text, encoding="utf-8")
        return run("validate", f, *args)


def test_the_tests_block_is_in_the_schema_and_leaves_math_sha_alone():
    from tutor.exercise import json_schema

    s = json_schema()
    assert s["$defs"]["AnswerTest"]["required"] == ["step", "answer", "expect"]
    assert "tests" in s["$defs"]["NetworkSpec"]["properties"]
    base = load_text(GRAPH, "t.yaml")
    tested = load_text(GRAPH + "tests:\n  - {step: da, answer: 4, expect: correct}\n", "t.yaml")
    assert base.math_sha == tested.math_sha and base.sha != tested.sha


def test_solve_is_not_stopped_by_a_failing_test(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text(GRAPH + "tests:\n  - {step: da, answer: 5, expect: correct}\n",
                 encoding="utf-8")
    assert run("solve", f).exit_code == 0  # tests are the author's, checked by validate
    assert run("validate", f).exit_code == 1


# ─── did-you-mean for every word ────────────────────────────────────────────────────────
NETWORK = ("id: n\nkind: network\ninput: [1, 0]\ntarget: 1\n"
           "layers:\n  - {W: [[0.5, -0.3]], b: [0.1], activation: sigmoid}\nloss: bce\n")


@pytest.mark.parametrize("text, where, meant", [
    (NETWORK.replace("activation: sigmoid", "activation: sigmod"), (6, 46), "sigmoid"),
    (NETWORK.replace("activation: sigmoid", "activation: ReLU"), (6, 46), "relu"),
    (NETWORK.replace("activation: sigmoid", "activation: logistic"), (6, 46), "sigmoid"),
    (NETWORK.replace("activation: sigmoid", "activation: leakyrelu"), (6, 46), "leaky_relu"),
    (NETWORK.replace("loss: bce", "loss: bcee"), (7, 7), "bce"),
    (NETWORK.replace("loss: bce", "loss: cross_entropy"), (7, 7), "ce"),
    (NETWORK.replace("kind: network", "kind: netwrk"), (2, 7), "network"),
    (NETWORK.replace("kind: network", "kind: Graph"), (2, 7), "graph"),
    (NETWORK + "layout: colum\n", (8, 9), "column"),
    (NETWORK + "ask: [forward, backwrd]\n", (8, 16), "backward"),
    (NETWORK + "ask: [updates]\n", (8, 7), "update"),
    (GRAPH.replace("{x: 2}", "{x: {symbol: positiv}}"), (3, 22), "positive"),
    (GRAPH + "tests:\n  - {step: da, answer: 4, expect: correct, seed: al}\n", (11, 50), "all"),
])
def test_a_misspelt_word_gets_a_did_you_mean_at_its_place(text, where, meant):
    (line, col, code, message), = problems(text)
    assert (line, col) == where and code in ("E003", "E012")
    assert message.endswith(f"(did you mean '{meant}'?)"), message
    with pytest.raises(InputError) as err:  # solve and the rest say the same
        load_text(text, "t.yaml")
    assert str(err.value).endswith(f"(did you mean '{meant}'?)")


def test_a_word_far_from_every_allowed_one_gets_the_list_only():
    (p,) = problems(NETWORK.replace("activation: sigmoid", "activation: quux"))
    assert p[3].endswith("'tanh' or 'softmax', not 'quux'")


# ─── YAML booleans: YAML 1.2, as the editor reads them ──────────────────────────────────
def test_yes_no_on_off_are_text_where_text_belongs():
    ex = load_text(GRAPH.replace("id: g", "id: no") + "title: yes\nsource: off\n", "t.yaml")
    assert (ex.id, ex.spec.title, ex.spec.source) == ("no", "yes", "off")


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "Yes", "NO"])
def test_yes_no_on_off_are_refused_where_a_boolean_belongs(word):
    text = GRAPH + VARIANTS + f"  require: {{no_relu_at_zero: {word}}}\n"
    (p,) = problems(text)
    assert p[:3] == (12, 30, "E012")
    assert p[3] == (f"variants.require.no_relu_at_zero: must be true or false, not '{word}' "
                    "(yes, no, on and off are text in YAML 1.2, as editors read them: write "
                    "true or false)")


@pytest.mark.parametrize("word, value", [("true", True), ("True", True), ("FALSE", False)])
def test_true_and_false_are_booleans(word, value):
    ex = load_text(GRAPH + VARIANTS + f"  require: {{no_relu_at_zero: {word}}}\n", "t.yaml")
    assert ex.spec.variants.require.no_relu_at_zero is value


def test_a_bare_true_where_text_belongs_says_to_quote_it():
    (p,) = problems(GRAPH + "title: true\n")
    assert p[3] == "title: must be text, not true (a bare true is a boolean: put text in " \
                   "quotes, 'true')"


def test_an_explicit_bool_tag_is_still_a_boolean():
    from tutor.yamlio import load_yaml

    assert load_yaml("a: !!bool yes\nb: yes\nc: 'yes'\n").data == {"a": True, "b": "yes",
                                                                  "c": "yes"}


# ─── a batch's target as class indices: the one-hot hint ────────────────────────────────
SOFTMAX = ("id: s\nkind: network\ninput: [[1, 0, 2], [0, 1, -1]]\ntarget: [0, 2, 1]\n"
           "layers:\n  - {W: [[0.1, 0.2], [0.3, -0.1], [0, 0.5]], b: [0, 0, 0], "
           "activation: softmax}\nloss: ce\n")
ONE_HOT = "[[1, 0, 0], [0, 0, 1], [0, 1, 0]]"


def test_class_indices_for_a_batch_are_refused_with_the_one_hot_matrix(tmp_path):
    (p,) = problems(SOFTMAX)
    assert p[:3] == (4, 9, "E204")
    assert p[3] == ("target: [0, 2, 1] reads as class indices, one per example; with a batch, "
                    "loss ce takes the target as a one-hot matrix of the output's shape (3×3, "
                    "one column per example, a 1 at the example's class): target: " + ONE_HOT)
    f = tmp_path / "s.yaml"
    f.write_text(SOFTMAX, encoding="utf-8")
    r = run("solve", f)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert " ".join(r.output.split()).endswith(f"target: {ONE_HOT}")
    assert problems(SOFTMAX.replace("[0, 2, 1]", ONE_HOT)) == []  # what it says works


def test_the_one_hot_hint_in_row_layout_and_out_of_range():
    row = ("id: s\nkind: network\nlayout: row\ninput: [[1, 0], [0, 1]]\ntarget: [2, 0]\n"
           "layers:\n  - {W: [[0.1, 0.2, 0.3], [0.3, -0.1, 0]], b: [0, 0, 0], "
           "activation: softmax}\nloss: ce\n")
    (p,) = problems(row)
    assert p[3].endswith("(2×3, one row per example, a 1 at the example's class): target: "
                         "[[0, 0, 1], [1, 0, 0]]")
    (q,) = problems(row.replace("target: [2, 0]", "target: [3, 0]"))
    assert q[3].endswith("; class 3 is out of range 0…2")
    fixed = row.replace("target: [2, 0]", "target: [[0, 0, 1], [1, 0, 0]]")
    assert problems(fixed) == []


def test_an_iterations_class_indices_get_the_hint_too():
    text = SOFTMAX.replace("[0, 2, 1]", ONE_HOT) + (
        "learning_rate: 0.1\niterations:\n  - {}\n  - {target: [1, 1, 0]}\n")
    (p,) = problems(text)
    assert p[2] == "E204" and p[3].endswith("target: [[0, 0, 1], [1, 1, 0], [0, 0, 0]]")


def test_a_single_examples_class_index_still_works():
    single = SOFTMAX.replace("input: [[1, 0, 2], [0, 1, -1]]", "input: [1, 0]") \
        .replace("target: [0, 2, 1]", "target: 2")
    assert problems(single) == []
    assert problems(single.replace("target: 2", "target: [0, 0, 1]")) == []
