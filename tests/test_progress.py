"""The progress store: one transaction per answer, resume, status and the per-skill record."""
from __future__ import annotations

import sqlite3

import pytest

from tutor.progress import (SCHEMA_VERSION, Answer, Pending, Store, StoreError,
                            default_path)


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
    assert again.status()["lab9"].text() == "done"  # nothing in it yet (audit 10)
    again.record(c.id, Answer("z1", "forward", "correct", "[0.6, 0.1]", 0, 0))
    assert again.status()["lab9"].text() == "in progress (1/3)"
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


def test_the_step_under_way_survives_and_an_answer_clears_it(tmp_path):
    from tutor.progress import Pending

    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("merge-sum", "sha", None, 7)
    assert a.pending is None
    p = Pending("dy", wrong=2, hints=1, rung=2, target="no-sum-at-merge",
                told=("mse-no-two", "no-regularisation"))
    store.save_pending(a.id, p)
    store.close()
    again = Store(tmp_path / "p.sqlite3")  # a new process
    b = again.open_attempt("merge-sum", "sha", None, 7)
    assert b.id == a.id and b.pending == p
    again.record(b.id, Answer("dy", "chain_rule", "revealed", None, 3, 1))
    assert again.pending(b.id) is None  # the same transaction as the answer


def test_an_edited_file_is_said_to_have_changed_only_when_started(tmp_path):
    from tutor.progress import Pending

    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("ex", "sha1", None, 2)
    assert not store.open_attempt("ex", "sha2", None, 2).changed  # nothing done yet
    b = store.open_attempt("ex", "sha2", None, 2)
    store.save_pending(b.id, Pending("u", wrong=1))
    c = store.open_attempt("ex", "sha3", None, 2)
    assert c.changed and c.id not in (a.id, b.id) and c.pending is None
    store.record(c.id, Answer("u", "forward", "correct", "6", 0, 0))
    assert not store.open_attempt("ex", "sha3", None, 2, restart=True).changed


def test_open_attempts_most_recently_opened_first(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    store.open_attempt("a", "", None, 2, ref="a")
    store.open_attempt("b", "", 5, 2, ref="/x/b.yaml", student="alice")
    store.open_attempt("a", "", None, 2, ref="a")  # reopened: now the most recent
    got = store.open_attempts()
    assert [(o.exercise, o.ref, o.seed, o.student) for o in got] == [
        ("a", "a", None, None), ("b", "/x/b.yaml", 5, "alice")]
    store.finish(store.open_attempt("a", "", None, 2).id, 2)
    assert [o.exercise for o in store.open_attempts()] == ["b"]


def test_a_schema_1_file_is_migrated_and_keeps_its_answers(tmp_path):
    path = tmp_path / "p.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, exercise TEXT NOT NULL,
        sha TEXT NOT NULL DEFAULT '', seed INTEGER, n_steps INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open', score INTEGER, started REAL NOT NULL,
        finished REAL);
    CREATE TABLE answers (attempt INTEGER NOT NULL, step TEXT NOT NULL, skill TEXT NOT NULL,
        result TEXT NOT NULL, text TEXT, wrong INTEGER NOT NULL DEFAULT 0,
        hints INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL, PRIMARY KEY (attempt, step));
    INSERT INTO meta VALUES ('schema', '1');
    INSERT INTO attempts (exercise, sha, n_steps, started) VALUES ('merge-sum', 's', 7, 1);
    INSERT INTO answers VALUES (1, 'u', 'forward', 'correct', '6', 0, 0, 1);
    """)
    db.commit()
    db.close()
    store = Store(path)
    assert store._version() == SCHEMA_VERSION == 4
    assert [o.exercise for o in store.open_attempts()] == ["merge-sum"]
    a = store.open_attempt("merge-sum", "s", None, 7, ref="merge-sum")
    assert a.id == 1 and list(a.answers) == ["u"] and a.pending is None
    Store(path).close()  # opening it again is a no-op


def test_an_attempt_keeps_its_try_limit(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("lab9", "sha", None, 24, tries=2)
    assert a.tries == 2
    assert store.open_attempt("lab9", "sha", None, 24).tries == 2  # resumed without --tries
    assert [o.tries for o in store.open_attempts()] == [2]
    assert store.open_attempt("lab9", "sha", None, 24, tries=4).tries == 4  # a new limit
    store.close()
    assert Store(tmp_path / "p.sqlite3").open_attempt("lab9", "sha", None, 24).tries == 4
    assert Store(tmp_path / "p.sqlite3").open_attempt("other", "sha", None, 3).tries is None


def test_a_schema_2_file_is_migrated_and_keeps_its_pending_step(tmp_path):
    from tutor.progress import Pending

    path = tmp_path / "p.sqlite3"
    db = sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE attempts (id INTEGER PRIMARY KEY AUTOINCREMENT, exercise TEXT NOT NULL,
        sha TEXT NOT NULL DEFAULT '', seed INTEGER, n_steps INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'open', score INTEGER, started REAL NOT NULL,
        finished REAL, ref TEXT, student TEXT, opened REAL);
    CREATE TABLE answers (attempt INTEGER NOT NULL, step TEXT NOT NULL, skill TEXT NOT NULL,
        result TEXT NOT NULL, text TEXT, wrong INTEGER NOT NULL DEFAULT 0,
        hints INTEGER NOT NULL DEFAULT 0, at REAL NOT NULL, PRIMARY KEY (attempt, step));
    CREATE TABLE pending (attempt INTEGER PRIMARY KEY, step TEXT NOT NULL,
        wrong INTEGER NOT NULL DEFAULT 0, hints INTEGER NOT NULL DEFAULT 0,
        rung INTEGER NOT NULL DEFAULT 0, target TEXT, told TEXT NOT NULL DEFAULT '',
        at REAL NOT NULL);
    INSERT INTO meta VALUES ('schema', '2');
    INSERT INTO attempts (exercise, sha, n_steps, started, ref) VALUES ('merge-sum', 's', 7, 1,
        'merge-sum');
    INSERT INTO pending VALUES (1, 'u', 1, 1, 1, NULL, '', 1);
    """)
    db.commit()
    db.close()
    store = Store(path)
    assert store._version() == SCHEMA_VERSION == 4
    a = store.open_attempt("merge-sum", "s", None, 7)
    assert a.id == 1 and a.tries is None and a.pending == Pending("u", 1, 1, 1)
    assert store.open_attempt("merge-sum", "s", None, 7, tries=5).tries == 5
    store.save_pending(1, Pending("u", 1, 1, 1, entries=(((0, 1), "-0.5"),)))  # schema 4
    assert Store(path).pending(1).entries == (((0, 1), "-0.5"),)


def test_an_unstarted_attempt_at_a_finished_exercise_is_not_in_progress(tmp_path):
    """Audit 10: opening a finished exercise does not undo "done" until something is in
    the new attempt; quitting it empty deletes it; a never-finished one is kept."""
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("lab9", "sha1", None, 3, ref="lab9")
    assert a.last_done is None and not a.started
    store.finish(a.id, 3)
    b = store.open_attempt("lab9", "sha1", None, 3, ref="lab9")  # a look at it (or a crash)
    assert (b.last_done.score, b.last_done.n_steps) == (3, 3) and not b.started
    st = store.status()["lab9"]
    assert (st.state, st.best, st.best_max, st.finished) == ("done", 3, 3, 1)
    assert store.open_attempts() == []  # a bare `tutor` moves on
    assert store.open_attempt("lab9", "sha1", None, 3).id == b.id  # still resumed by id
    # a hint is something: the new attempt is under way, and kept
    store.save_pending(b.id, Pending("z1", hints=1, rung=1))
    assert store.status()["lab9"].text() == "in progress (0/3)"
    assert [o.exercise for o in store.open_attempts()] == ["lab9"]
    assert store.drop_unstarted(b.id) is False
    store.save_pending(b.id, None)
    assert store.drop_unstarted(b.id) is True
    assert store.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1
    # another variant, or an exercise never finished: an empty attempt is in progress, kept
    v = store.open_attempt("lab9", "sha1", 7, 3)
    n = store.open_attempt("other", "sha1", None, 2)
    assert store.drop_unstarted(v.id) is False and store.drop_unstarted(n.id) is False
    assert store.status()["other"].text() == "in progress (0/2)"
    assert {o.exercise for o in store.open_attempts()} == {"lab9", "other"}


def test_an_attempt_recorded_under_the_text_hash_is_kept_and_moves_to_the_content_hash(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("lab9", "texthash", None, 24)
    store.record(a.id, Answer("z1", "forward", "correct", "[0.6, 0.1]", 0, 0))
    b = store.open_attempt("lab9", "contenthash", None, 24, same=("texthash",))
    assert b.id == a.id and not b.changed and list(b.answers) == ["z1"]
    assert store.open_attempt("lab9", "contenthash", None, 24).id == a.id  # recorded anew
