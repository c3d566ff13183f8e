"""Issue 11, typed results: a zero's cause is a value (tutor.cause.Cause) — its kind, the
quantity and entry it is about, the number that decides it, and the cause it comes from —
and its words are made from it in one place (tutor.words.say)."""
from __future__ import annotations

import json

import sympy as sp
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.cause import Cause, Kind
from tutor.cli import app
from tutor.core import work
from tutor.rules import entries, is_zero
from tutor.words import point, record, say


def test_lab9_dead_relu_is_a_chain_of_typed_causes():
    """Seed Lab 9: z2[2] = −0.17 < 0 kills unit 2, so δ2[2] = 0, so dW2's row 2 is 0."""
    steps = {s.id: s for s in work("lab9-relu-sigmoid-bce").all_steps}
    dead = Cause.of(Kind.DEAD_RELU, "z2", (1, 0), (2, 1), value=sp.Rational(-17, 100),
                    derivative=True)
    assert steps["delta2"].causes == {(1, 0): dead}
    row = steps["dW2"].causes
    assert set(row) == {(1, 0), (1, 1)}
    for c in row.values():
        assert (c.kind, c.subject, c.entry, c.get("unit"), c.because) == \
            (Kind.NO_ERROR_SIGNAL, "δ2", (1, 0), 2, dead)
    assert steps["h2"].causes[(1, 0)].kind is Kind.DEAD_RELU
    assert steps["h2"].causes[(1, 0)].get("derivative") is None  # forward: no ReLU′ said
    assert steps["dW1"].causes[(0, 1)].kind is Kind.ZERO_INPUT
    assert steps["dW1"].causes[(0, 1)].get("source") == "input"
    assert say(row[(1, 0)]) == ("no error signal reaches unit 2: δ2[2] = 0 "
                                "(dead ReLU: z2[2] = -0.17 < 0, so ReLU′ = 0)")
    assert point(row[(1, 0)]) == "look at the error signal δ2[2] of unit 2"


def test_every_zero_of_every_bundled_exercise_has_a_typed_cause():
    n = 0
    for ex in bundled():
        for s in work(ex.id).all_steps:
            if not s.causes:
                continue
            zeros = {i for i, v in entries(s.value) if is_zero(v)}
            assert set(s.causes) <= zeros, (ex.id, s.id)
            for idx, c in s.causes.items():
                n += 1
                assert isinstance(c, Cause) and isinstance(c.kind, Kind)
                for link in c.chain():
                    assert isinstance(link.kind, Kind)
                rec = json.loads(json.dumps(record(c)))
                assert rec["kind"] == c.kind.value and set(rec) >= {
                    "kind", "subject", "entry", "value", "because"}
                assert say(c)  # every kind has words
    assert n > 50


def test_solve_json_carries_each_cause_as_data():
    r = CliRunner().invoke(app, ["solve", "lab9-relu-sigmoid-bce", "--format", "json"])
    assert r.exit_code == 0
    steps = {s["id"]: s for s in json.loads(r.stdout)["steps"]}
    (group,) = steps["dW2"]["zeros"]
    assert group["entries"] == "dW2[2,1], dW2[2,2]"
    assert group["cause"] == {
        "kind": "no_error_signal", "subject": "δ2", "entry": [2], "value": None, "unit": 2,
        "because": {"kind": "dead_relu", "subject": "z2", "entry": [2], "value": "-17/100",
                    "because": None, "derivative": True}}
    assert group["why"].startswith("no error signal reaches unit 2")
