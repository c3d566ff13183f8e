"""`tutor schema`: one definition (the typed models) for the loader and the JSON Schema.

The shipped tutor/schema/exercise.schema.json — and its copy beside the bundled exercises,
which their first line points editors at, in a checkout and installed alike — must equal
what `tutor schema` generates; the schema accepts every bundled exercise and rejects the
broken files of the schema pass; and on a corpus of near misses (true for a number, a
quoted format_version …) the loader and the schema agree, file by file.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.cli import app
from tutor.errors import InputError
from tutor.exercise import load_text
from tutor.scaffold import SCHEMA_FILE, schema_text
from tutor.yamlio import load_yaml

BROKEN = Path(__file__).parent / "broken"
EXERCISES = Path(__file__).parent.parent / "exercises"
# relative to the exercise itself: the copy shipped beside it (package data), so the line
# works in a checkout (exercises/) and installed (site-packages/tutor/exercises/)
BUNDLED_SCHEMA_LINE = "# yaml-language-server: $schema=exercise.schema.json"


def _json(v):
    """YAML data as JSON types (the loader keeps decimals exact as Decimal)."""
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json(x) for x in v]
    return v


def _validator():
    import json

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_shipped_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), \
        "run `tutor schema --write tutor/schema/exercise.schema.json`"


def test_tutor_schema_prints_it_and_writes_it(tmp_path):
    r = CliRunner().invoke(app, ["schema"])
    assert r.exit_code == 0 and r.stdout == schema_text()
    out = tmp_path / "s.json"
    r = CliRunner().invoke(app, ["schema", "--write", str(out)])
    assert r.exit_code == 0 and out.read_text(encoding="utf-8") == schema_text()


def test_the_copy_beside_the_bundled_exercises_is_the_generated_schema():
    copy = EXERCISES / "exercise.schema.json"
    assert copy.read_text(encoding="utf-8") == schema_text(), \
        "run `tutor schema --write exercises/exercise.schema.json`"
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"tutor.exercises" = ["*.yaml", "exercise.schema.json"]' in text  # shipped


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.id)
def test_the_first_line_names_a_schema_that_exists_beside_the_exercise(entry):
    first = entry.path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = entry.path.parent / first[len(prefix):]
    assert target.is_file() and target.read_text(encoding="utf-8") == schema_text()


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.id)
def test_the_schema_accepts_every_bundled_exercise(entry):
    text = entry.path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == BUNDLED_SCHEMA_LINE
    errors = list(_validator().iter_errors(_json(load_yaml(text, str(entry.path)).data)))
    assert errors == []


def _expected(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0].split()[2]


SCHEMA_PASS = sorted(p for p in BROKEN.glob("*.yaml")
                     if _expected(p) in ("E001", "E002", "E003", "E010", "E011", "E012"))


def test_the_broken_corpus_covers_the_schema_pass():
    assert {_expected(p) for p in SCHEMA_PASS} == {"E001", "E002", "E003", "E010", "E011",
                                                    "E012"}


@pytest.mark.parametrize("path", SCHEMA_PASS, ids=lambda p: p.stem)
def test_the_schema_rejects_the_broken_files_of_the_schema_pass(path):
    data = load_yaml(path.read_text(encoding="utf-8"), str(path)).data
    assert list(_validator().iter_errors(_json(data)))


# ─── the loader and the schema agree ───────────────────────────────────────────────────
GRAPH = "id: g\nkind: graph\nparams: {a: 1}\ninputs: {x: 2}\nnodes: {L: (a*x)**2}\nloss: L\n"
NETWORK = ("id: n\nkind: network\ninput: [1, 0]\ntarget: 1\n"
           "layers:\n  - {W: [[0.5, -0.3]], b: [0.1], activation: sigmoid}\nloss: bce\n")
DRAW = "variants: {draw: {a: {choice: [1, 2]}}"

# (base, extra line, accepted?) — every file is otherwise sound, so the loader's verdict
# is the schema pass's
CORPUS = [
    (GRAPH, "", True),
    (NETWORK, "", True),
    (GRAPH, "format_version: 1", True),
    (GRAPH, 'format_version: "1"', False),
    (GRAPH, "format_version: true", False),
    (GRAPH, "format_version: 1.0", True),  # JSON Schema's integer: 1.0 is one
    (GRAPH, "format_version: 1.5", False),
    (GRAPH, "learning_rate: 0.1", True),
    (GRAPH, 'learning_rate: "1/3"', True),
    (GRAPH, "learning_rate: true", False),
    (GRAPH, "learning_rate: [0.1]", False),
    (GRAPH.replace("{a: 1}", "{a: true}"), "", False),
    (GRAPH.replace("{x: 2}", "{x: null}"), "", False),
    (NETWORK.replace("[1, 0]", "[true, 0]"), "", False),
    (NETWORK.replace("target: 1", "target: false"), "", False),
    (NETWORK.replace("sigmoid}", "sigmoid, slope: yes}"), "", False),
    (GRAPH, "title: 3", False),
    (GRAPH, "title: yes", True),  # YAML 1.2, as editors read it: the text "yes"
    (GRAPH, "title: true", False),
    (GRAPH.replace("id: g", "id: no"), "", True),
    (GRAPH, "ask: [forward, backward]", True),
    (GRAPH, "ask: [forward, sideways]", False),
    (GRAPH, "tolerance: {decimals: 4}", True),
    (GRAPH, 'tolerance: {decimals: "4"}', False),
    (GRAPH, "tolerance: {decimals: true}", False),
    (GRAPH, "tolerance: {decimals: 4.5}", False),
    (GRAPH, "tolerance: {decimals: 31}", False),
    (GRAPH, "conventions: {relu_prime_at_zero: 1}", True),
    (GRAPH, "conventions: {relu_prime_at_zero: true}", False),
    (GRAPH, "conventions: {relu_prime_at_zero: 2}", False),
    (GRAPH, DRAW + "}", True),
    (GRAPH, DRAW + ", tries: 5}", True),
    (GRAPH, DRAW + ', tries: "5"}', False),
    (GRAPH, DRAW + ", tries: true}", False),
    (GRAPH, DRAW + ", require: {no_relu_at_zero: true}}", True),
    (GRAPH, DRAW + ', require: {no_relu_at_zero: "yes"}}', False),
    (GRAPH, DRAW + ", require: {no_relu_at_zero: 1}}", False),
    (GRAPH, DRAW + ", require: {no_relu_at_zero: yes}}", False),  # text in YAML 1.2
    (GRAPH, DRAW + ", require: {no_relu_at_zero: True}}", True),
    (GRAPH, "tests: [{step: da, answer: 2, expect: correct}]", True),
    (GRAPH, "tests: [{step: da, answer: 2, expect: correct, seed: all}]", True),
    (GRAPH, "tests: [{step: da, answer: [[1, 2]], expect: wrong, given: {L: 4}}]", True),
    (GRAPH, "tests: [{step: da, answer: 2}]", False),
    (GRAPH, "tests: [{step: da, answer: true, expect: correct}]", False),
    (GRAPH, "tests: [{step: da, answer: 2, expect: correct, seed: -1}]", False),
    (GRAPH, "tests: [{step: da, answer: 2, expect: correct, seed: some}]", False),
    (GRAPH, "tests: [{step: da, answer: 2, expect: correct, sed: 1}]", False),
    (GRAPH, DRAW + ", require: {max_decimals: true}}", False),
    (GRAPH, "variants: {draw: {a: {choice: [true]}}}", False),
    (GRAPH, "variants: {draw: {a: {range: [1, 3], step: 1}}}", True),
    (GRAPH, "variants: {draw: {a: {range: [1, 3], step: true}}}", False),
    (GRAPH, "variants: {draw: {a: {choice: [1], range: [1, 3]}}}", False),
    (GRAPH, "variants: {draw: {a: {choice: [1], step: 1}}}", False),
    (GRAPH, "variants: {draw: {a: {step: 1}}}", False),
    (GRAPH, "colour: red", False),
]


def _loader_accepts(text: str) -> bool:
    try:
        load_text(text, "c.yaml")
    except InputError:
        return False
    return True


@pytest.mark.parametrize("base, extra, accepted", CORPUS,
                         ids=[f"{k}-{e or 'base'}" for k, (_, e, _) in enumerate(CORPUS)])
def test_the_loader_and_the_schema_agree(base, extra, accepted):
    text = base + extra + "\n"
    schema_ok = not list(_validator().iter_errors(_json(load_yaml(text, "c.yaml").data)))
    assert (_loader_accepts(text), schema_ok) == (accepted, accepted)


def test_booleans_and_quoted_numbers_get_one_clear_message_each():
    def said(extra, base=GRAPH):
        with pytest.raises(InputError) as info:
            load_text(base + extra + "\n", "c.yaml")
        return str(info.value)

    assert said('format_version: "1"') == ("c.yaml:7:17: format_version: must be a whole "
                                           "number, not '1' (in quotes it is text: write 1 "
                                           "without them)")
    assert said("format_version: true") == ("c.yaml:7:17: format_version: must be a whole "
                                            "number, not true (true and false are not numbers)")
    assert said("learning_rate: true") == ('c.yaml:7:16: learning_rate: expected a number '
                                           '(0.5, -2 or "1/3"), got true (true and false are '
                                           'not numbers: write 1 or 0)')
    assert said("", NETWORK.replace("[1, 0]", "[true, 0]")) == (
        'c.yaml:3:9: input.0: expected a number (0.5, -2 or "1/3") or a list, got true '
        '(true and false are not numbers: write 1 or 0)')
