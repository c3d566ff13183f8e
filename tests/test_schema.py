"""`tutor schema`: one definition (the typed models) for the loader and the JSON Schema.

The shipped tutor/schema/exercise.schema.json must equal what `tutor schema` generates;
the schema accepts every bundled exercise and rejects the broken files of the schema pass.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.cli import app
from tutor.scaffold import BUNDLED_SCHEMA_LINE, SCHEMA_FILE, schema_text
from tutor.yamlio import load_yaml

BROKEN = Path(__file__).parent / "broken"


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
