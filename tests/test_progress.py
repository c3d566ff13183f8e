"""The progress store: one transaction per answer, resume, status and the per-skill record."""
from __future__ import annotations

import sqlite3

import pytest

from tutor.progress import SCHEMA_VERSION, Answer, Store, StoreError, default_path


def test_tutor_home_decides_where_the_file_lives(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path / "h"))
    assert default_path() == tmp_path / "h" / "progress.sqlite3"
    store = Store()
    assert store.path.exists()
    row = store.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    assert int(row[0]) == SCHEMA_VERSION


def test_attempt_resumes_with_its_answers_and_finishes(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("lab9", "sha1", None, 3)
    assert a.answers == {}
    store.record(a.id, Answer("z1", "forward", "correct", "[0.6, 0.1]", 1, 2))
    store.record(a.id, Answer("h1", "forward", "skipped", None, 0, 0))
    store.close()

    again = Store(tmp_path / "p.sqlite3")  # a new process: nothing lost
    b = again.open_attempt("lab9", "sha1", None, 3)
    assert b.id == a.id
    assert list(b.answers) == ["z1", "h1"]
    assert b.answers["z1"] == Answer("z1", "forward", "correct", "[0.6, 0.1]", 1, 2)
    assert again.status()["lab9"].text() == "in progress (2/3)"
    again.record(b.id, Answer("z2", "forward", "correct", "[0.42, -0.17]", 0, 0))
    again.finish(b.id, 2)
    st = again.status()["lab9"]
    assert (st.state, st.best, st.best_max) == ("done", 2, 3)
    c = again.open_attempt("lab9", "sha1", None, 3)  # done: the next one is a new attempt
    assert c.id != b.id and c.answers == {}
    assert again.status()["lab9"].text() == "in progress (0/3)"
    assert again.status()["lab9"].best == 2


def test_changed_exercise_or_restart_abandons_the_open_attempt(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("ex", "sha1", None, 2)
    store.record(a.id, Answer("u", "forward", "correct", "6", 0, 0))
    b = store.open_attempt("ex", "sha2", None, 2)  # the file was edited
    assert b.id != a.id and b.answers == {}
    c = store.open_attempt("ex", "sha2", None, 2, restart=True)
    assert c.id != b.id
    assert store.skills() == []  # abandoned attempts do not count


def test_skill_record(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("ex", "", None, 4)
    store.record(a.id, Answer("delta2", "delta", "correct", "[1, 0]", 0, 0))
    store.record(a.id, Answer("delta1", "delta", "correct", "[1, 0]", 2, 1))
    store.record(a.id, Answer("dW2", "weight_grad", "revealed", None, 3, 0))
    recs = {r.skill: r for r in store.skills()}
    d = recs["delta"]
    assert (d.steps, d.first_try, d.correct, d.revealed, d.hints) == (2, 1, 2, 0, 1)
    w = recs["weight_grad"]
    assert (w.steps, w.correct, w.revealed) == (1, 0, 1)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "progress.sqlite3"
    bad.write_text("not sqlite " * 100)
    with pytest.raises(StoreError, match="cannot use the progress file"):
        Store(bad)


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "p.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer tutor"):
        Store(path)


def test_variants_keep_their_own_attempts(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("lab9-variants", "sha", 3, 24)
    store.record(a.id, Answer("z1", "forward", "correct", "[1, 0]", 0, 0))
    b = store.open_attempt("lab9-variants", "sha", 7, 24)
    assert b.id != a.id
    assert store.open_attempt("lab9-variants", "sha", 3, 24).answers.keys() == {"z1"}
