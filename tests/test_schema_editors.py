"""The JSON Schema as an editor uses it: every property described, both kinds offered for
`kind:`, and no choice that yaml-language-server would show as "Title || Title || …"
(tests/test_editor.py drives the real server; these walk the generated schema).
"""
from __future__ import annotations

import json

from tutor.exercise import TEST_VERDICTS
from tutor.misconceptions import CATALOGUE
from tutor.scaffold import schema_text


def _schema() -> dict:
    return json.loads(schema_text())


def _walk(node, path=()):
    """(path, schema) of every schema object in the tree."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + (i,))


def _properties(s: dict):
    """(where, property schema) of every key of the format: the top level's and each
    model's (not the property fragments of if/then rules)."""
    for name, prop in s["properties"].items():
        yield name, prop
    for model, d in s["$defs"].items():
        for name, prop in d.get("properties", {}).items():
            yield f"{model}.{name}", prop


def test_every_property_has_a_description():
    s = _schema()
    assert sum(1 for _ in _properties(s)) > 60
    assert [where for where, prop in _properties(s)
            if not str(prop.get("description", "")).strip()] == []


def test_kind_offers_both_kinds_at_the_top():
    s = _schema()
    assert s["properties"]["kind"]["enum"] == ["network", "graph"]
    assert s["properties"]["kind"]["description"] and s["required"] == ["kind"]


def test_no_choice_of_bare_types_and_every_branch_of_a_choice_has_a_title():
    for path, node in (p for where, prop in _properties(_schema()) for p in _walk(prop, (where,))):
        branches = node.get("anyOf")
        if not isinstance(branches, list):
            continue
        bare = [b for b in branches if set(b) == {"type"}]
        assert len(bare) <= 1, path
        assert all("title" in b or "$ref" in b for b in branches), path


def test_expect_and_distinguishable_complete_with_the_catalogue():
    defs = _schema()["$defs"]
    expect = defs["AnswerTest"]["properties"]["expect"]
    assert expect["type"] == "string"
    assert expect["examples"] == list(TEST_VERDICTS) + list(CATALOGUE)
    listed = defs["Require"]["properties"]["distinguishable"]["anyOf"][1]["items"]
    assert listed == {"type": "string", "examples": list(CATALOGUE)}
