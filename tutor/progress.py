"""The progress store: one SQLite file in the user's data directory, written once per answer.

    $TUTOR_HOME/progress.sqlite3            (TUTOR_HOME set: tests, classrooms, portable use)
    platformdirs.user_data_dir("tutor")/progress.sqlite3        (otherwise)

Tables (schema version in ``meta``):
    attempts  one row per try at an exercise (exercise id, content hash, variant seed,
              status open | done, score / max when done)
    answers   one row per step of an attempt: result correct | revealed | skipped, the text
              the student's accepted answer was typed as, wrong tries and hints used

Every answer is one transaction, so Ctrl-C or a closed terminal loses nothing; an attempt
that is still ``open`` is resumed where it stopped: its answered steps are not asked again.
The per-skill record is the answers table grouped by the step's skill tag.
"""
from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import TutorError

SCHEMA_VERSION = 1
RESULTS = ("correct", "revealed", "skipped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise TEXT NOT NULL,
    sha TEXT NOT NULL DEFAULT '',
    seed INTEGER,
    n_steps INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    score INTEGER,
    started REAL NOT NULL,
    finished REAL
);
CREATE INDEX IF NOT EXISTS attempts_exercise ON attempts (exercise, status);
CREATE TABLE IF NOT EXISTS answers (
    attempt INTEGER NOT NULL REFERENCES attempts (id),
    step TEXT NOT NULL,
    skill TEXT NOT NULL,
    result TEXT NOT NULL,
    text TEXT,
    wrong INTEGER NOT NULL DEFAULT 0,
    hints INTEGER NOT NULL DEFAULT 0,
    at REAL NOT NULL,
    PRIMARY KEY (attempt, step)
);
"""


class StoreError(TutorError):
    """The progress file cannot be opened or is not ours."""


def default_path() -> Path:
    home = os.environ.get("TUTOR_HOME")
    if home:
        return Path(home).expanduser() / "progress.sqlite3"
    from platformdirs import user_data_dir

    return Path(user_data_dir("tutor", appauthor=False)) / "progress.sqlite3"


@dataclass(frozen=True)
class Answer:
    step: str
    skill: str
    result: str  # correct | revealed | skipped
    text: str | None  # what was typed (None when revealed / skipped)
    wrong: int  # wrong tries before the result
    hints: int


@dataclass(frozen=True)
class Attempt:
    id: int
    exercise: str
    n_steps: int
    answers: dict  # step id → Answer, for the steps already answered


@dataclass(frozen=True)
class Status:
    """What `tutor list` shows for an exercise."""

    state: str  # new | in progress | done
    done: int = 0  # steps answered in the open attempt
    n_steps: int = 0
    best: int | None = None  # best finished score
    best_max: int | None = None
    finished: int = 0  # finished attempts

    def text(self) -> str:
        if self.state == "in progress":
            return f"in progress ({self.done}/{self.n_steps})"
        return self.state


@dataclass(frozen=True)
class SkillRecord:
    skill: str
    steps: int  # steps answered or revealed
    first_try: int  # right without a wrong try or a hint
    correct: int  # right in the end
    revealed: int  # shown after too many tries, or skipped
    hints: int


class Store:
    """The progress database. ``path=None``: $TUTOR_HOME or the user's data directory."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            # WAL + synchronous=NORMAL: a commit survives Ctrl-C, a crash or a closed
            # terminal, without an fsync per answer.
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            version = self._version()
            if version is None:
                with self._tx():
                    for stmt in _SCHEMA.strip().split(";\n"):
                        if stmt.strip():
                            self.db.execute(stmt)
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                    (str(SCHEMA_VERSION),))
            elif version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer tutor "
                                 f"(schema {version}); upgrade tutor or set TUTOR_HOME")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot use the progress file {self.path}: {err}. "
                             "Move it away or set TUTOR_HOME to another folder.") from None
        except OSError as err:
            raise StoreError(f"cannot create {self.path.parent}: {err.strerror}. "
                             "Set TUTOR_HOME to a writable folder.") from None

    def _version(self) -> int | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:  # no tables yet
            return None
        return int(row[0]) if row else None

    def _tx(self):
        db = self.db

        class _T:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _T()

    def close(self) -> None:
        self.db.close()

    # ─── attempts ───────────────────────────────────────────────────────────────────────
    def open_attempt(self, exercise: str, sha: str, seed: int | None, n_steps: int,
                     restart: bool = False) -> Attempt:
        """The unfinished attempt at this exercise and variant (same content), or a new one."""
        with self._tx():
            rows = self.db.execute(
                "SELECT id, sha, n_steps FROM attempts WHERE exercise=? AND seed IS ? "
                "AND status='open' ORDER BY id DESC", (exercise, seed)).fetchall()
            keep = None
            for aid, a_sha, a_n in rows:
                if not restart and keep is None and a_sha == sha and a_n == n_steps:
                    keep = aid
                else:  # the file changed, or a restart: abandon it
                    self.db.execute("UPDATE attempts SET status='abandoned' WHERE id=?", (aid,))
            if keep is None:
                keep = self.db.execute(
                    "INSERT INTO attempts (exercise, sha, seed, n_steps, started) "
                    "VALUES (?, ?, ?, ?, ?)", (exercise, sha, seed, n_steps, time.time())).lastrowid
        return Attempt(keep, exercise, n_steps, self.answers(keep))

    def answers(self, attempt: int) -> dict[str, Answer]:
        rows = self.db.execute(
            "SELECT step, skill, result, text, wrong, hints FROM answers WHERE attempt=? "
            "ORDER BY at, rowid", (attempt,)).fetchall()
        return {r[0]: Answer(*r) for r in rows}

    def record(self, attempt: int, answer: Answer) -> None:
        """Save one step's result: one transaction, so nothing is lost on Ctrl-C."""
        with self._tx():
            self.db.execute(
                "INSERT OR REPLACE INTO answers (attempt, step, skill, result, text, wrong, "
                "hints, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt, answer.step, answer.skill, answer.result, answer.text, answer.wrong,
                 answer.hints, time.time()))

    def finish(self, attempt: int, score: int) -> None:
        with self._tx():
            self.db.execute("UPDATE attempts SET status='done', score=?, finished=? WHERE id=?",
                            (score, time.time(), attempt))

    # ─── reports ────────────────────────────────────────────────────────────────────────
    def status(self) -> dict[str, Status]:
        """exercise id → Status (exercises never opened are absent: state "new")."""
        out: dict[str, Status] = {}
        for ex, n_done, best, best_max in self.db.execute(
                "SELECT exercise, COUNT(*), MAX(score), MAX(n_steps) FROM attempts "
                "WHERE status='done' GROUP BY exercise"):
            out[ex] = Status("done", best=best, best_max=best_max, finished=n_done)
        for ex, aid, n in self.db.execute(
                "SELECT exercise, id, n_steps FROM attempts WHERE status='open' ORDER BY id"):
            done = self.db.execute("SELECT COUNT(*) FROM answers WHERE attempt=?",
                                   (aid,)).fetchone()[0]
            prev = out.get(ex)
            if prev is None:
                out[ex] = Status("in progress", done, n)
            else:  # a finished one and a new try under way
                out[ex] = Status("in progress", done, n, prev.best, prev.best_max, prev.finished)
        return out

    def skills(self) -> list[SkillRecord]:
        rows = self.db.execute(
            "SELECT a.skill, COUNT(*), "
            "SUM(a.result='correct' AND a.wrong=0 AND a.hints=0), "
            "SUM(a.result='correct'), SUM(a.result!='correct'), SUM(a.hints) "
            "FROM answers a JOIN attempts t ON t.id = a.attempt "
            "WHERE t.status != 'abandoned' GROUP BY a.skill").fetchall()
        return [SkillRecord(r[0], r[1], r[2] or 0, r[3] or 0, r[4] or 0, r[5] or 0) for r in rows]
