"""The progress store: one SQLite file in the user's data directory, written once per answer.

    $TUTOR_HOME/progress.sqlite3            (TUTOR_HOME set: tests, classrooms, portable use)
    platformdirs.user_data_dir("tutor")/progress.sqlite3        (otherwise)

Tables (schema version in ``meta``):
    attempts  one row per try at an exercise (exercise id, content hash, variant seed,
              status open | done | abandoned, score / max when done; how to open it again:
              ``ref`` — a bundled id or an absolute path —, ``student``, and when it was
              last ``opened``; ``tries``: the attempt's try limit, kept when it is resumed)
    answers   one row per step of an attempt: result correct | revealed | skipped, the text
              the student's accepted answer was typed as, wrong tries and hints used
    pending   per open attempt, the step under way: wrong tries and hints used so far, the
              hint ladder's rung, the misconception whose hint is due and those told

Every answer, wrong try and hint is one transaction, so Ctrl-C or a closed terminal loses
nothing; an attempt that is still ``open`` is resumed where it stopped: its answered steps
are not asked again and the step under way keeps its tries and hints. The per-skill record
is the answers table grouped by the step's skill tag; the mastery estimate (tutor.mastery)
is the same answers replayed in time order (``history``).

An exercise opened again after it was finished (same exercise and variant) begins a new
attempt; as long as that attempt is *unstarted* — no answer, no wrong try, no hint — it
does not make the exercise "in progress": ``status`` and ``open_attempts`` pass over it
(the exercise stays done, a bare `tutor` moves on), and ``drop_unstarted`` deletes it when
the student quits.

Two sessions on one exercise (a second terminal left open) are two attempts: a session holds
its open attempt (an OS file lock in ``locks/`` beside the store, released when the process
ends, even by kill -9), and a session that finds the open attempt held by another begins an
attempt of its own (``Attempt.shared``). A finished attempt is never written again: an
answer is recorded only into an attempt that is still open, and never replaces a better
result for the same step.

Store faults — a full disk, a store locked for longer than ``lock_timeout()`` (5 s;
``TUTOR_LOCK_TIMEOUT``), a read-only or damaged file — are ``StoreError``s with one clear
message. A read-only store is opened read-only (``Store.readonly``): it can be read, not
written. ``in_memory()`` is a copy of the store in memory (or an empty one) for a session
that goes on without saving.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
from urllib.parse import quote
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import TutorError

SCHEMA_VERSION = 4
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
    finished REAL,
    ref TEXT,
    student TEXT,
    opened REAL,
    tries INTEGER
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
CREATE TABLE IF NOT EXISTS pending (
    attempt INTEGER PRIMARY KEY REFERENCES attempts (id),
    step TEXT NOT NULL,
    wrong INTEGER NOT NULL DEFAULT 0,
    hints INTEGER NOT NULL DEFAULT 0,
    rung INTEGER NOT NULL DEFAULT 0,
    target TEXT,
    told TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL,
    entries TEXT NOT NULL DEFAULT ''
);
"""
_MIGRATE_1_2 = (  # schema 1 → 2: how to reopen an attempt; the step under way
    "ALTER TABLE attempts ADD COLUMN ref TEXT",
    "ALTER TABLE attempts ADD COLUMN student TEXT",
    "ALTER TABLE attempts ADD COLUMN opened REAL",
    "CREATE TABLE IF NOT EXISTS pending (attempt INTEGER PRIMARY KEY REFERENCES attempts (id), "
    "step TEXT NOT NULL, wrong INTEGER NOT NULL DEFAULT 0, hints INTEGER NOT NULL DEFAULT 0, "
    "rung INTEGER NOT NULL DEFAULT 0, target TEXT, told TEXT NOT NULL DEFAULT '', "
    "at REAL NOT NULL)",  # as schema 2 made it (3 → 4 adds a column to it)
)
# An open attempt with nothing in it (no answer, no wrong try or hint) at an exercise and
# variant already finished: a look at a done exercise, not work in progress (attempts AS t).
_UNSTARTED_RETRY = (
    "(NOT EXISTS (SELECT 1 FROM answers WHERE attempt = t.id) "
    "AND NOT EXISTS (SELECT 1 FROM pending WHERE attempt = t.id) "
    "AND EXISTS (SELECT 1 FROM attempts d WHERE d.exercise = t.exercise "
    "AND d.seed IS t.seed AND d.status = 'done'))")
_MIGRATE_2_3 = ("ALTER TABLE attempts ADD COLUMN tries INTEGER",)  # the attempt's try limit
_MIGRATE_3_4 = (  # the entries typed one by one so far (`entries` mode), kept on Ctrl-C
    "ALTER TABLE pending ADD COLUMN entries TEXT NOT NULL DEFAULT ''",)
_MIGRATIONS = {1: _MIGRATE_1_2, 2: _MIGRATE_2_3, 3: _MIGRATE_3_4}  # version k to k + 1


def _entries(text: str) -> tuple:
    """The entries column read back: [[row, col, text], …] (a damaged one reads as none)."""
    try:
        rows = json.loads(text) if text else []
        return tuple(((int(i), int(j)), str(t)) for i, j, t in rows)
    except (ValueError, TypeError):
        return ()


class StoreError(TutorError):
    """The progress file cannot be opened, read or written (full, locked, read-only,
    damaged, or not ours)."""


TABLES = ("meta", "attempts", "answers", "pending")
_RANK = "CASE {} WHEN 'correct' THEN 2 WHEN 'revealed' THEN 1 ELSE 0 END"


def lock_timeout() -> float:
    """How long a write waits for a store locked by another program: 5 s, or
    ``TUTOR_LOCK_TIMEOUT`` seconds."""
    try:
        return max(0.0, float(os.environ.get("TUTOR_LOCK_TIMEOUT", "5")))
    except ValueError:
        return 5.0


def _guarded(fn):
    """A store method whose SQLite errors become one clear StoreError."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as err:
            raise self.fault(err) from None

    return wrapper


class _Lease:
    """An OS lock on one attempt, held while a session works it (flock / msvcrt), so a
    second session on the same exercise can tell. Released by the OS when the process ends."""

    def __init__(self, path: Path):
        self.path, self.fd = path, None

    def take(self) -> bool | None:
        """True: held now; False: held by another session; None: locks unavailable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - Windows
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as err:
            os.close(fd)
            import errno

            return False if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK) \
                else None
        except Exception:  # pragma: no cover - no locking on this platform
            os.close(fd)
            return None
        self.fd = fd
        return True

    def release(self, unlink: bool = False) -> None:
        if self.fd is None:
            return
        if unlink:  # a closed attempt: its lock file is not needed any more
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = None


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
class Pending:
    """The step under way: what a wrong try or a hint has used so far (not yet answered)."""

    step: str
    wrong: int = 0
    hints: int = 0
    rung: int = 0  # the generic hint ladder's rung reached
    target: str | None = None  # a diagnosed misconception whose hint is due
    told: tuple[str, ...] = ()  # misconceptions whose hint was shown
    entries: tuple[tuple[tuple[int, int], str], ...] = ()  # (row, col) → text, typed so far


@dataclass(frozen=True)
class Finished:
    """A finished attempt: when (seconds since the epoch) and its score out of n_steps."""

    when: float
    score: int
    n_steps: int


@dataclass(frozen=True)
class Attempt:
    id: int
    exercise: str
    n_steps: int
    answers: dict  # step id → Answer, for the steps already answered
    pending: Pending | None = None  # the step under way, when it was tried or hinted
    changed: bool = False  # an open attempt was abandoned because the exercise changed
    tries: int | None = None  # the try limit the attempt was begun (or last run) with
    last_done: Finished | None = None  # the latest finished attempt of this exercise+variant
    shared: bool = False  # the open attempt is held by another session: this one is new

    @property
    def started(self) -> bool:
        """Anything answered, tried or hinted in this attempt."""
        return bool(self.answers) or self.pending is not None


@dataclass(frozen=True)
class OpenAttempt:
    """An unfinished attempt, and how to open it again (for a bare `tutor`)."""

    exercise: str
    ref: str | None  # a bundled id or an absolute path (None: written by schema 1)
    seed: int | None
    student: str | None
    tries: int | None = None  # its try limit (None: the default)


@dataclass(frozen=True)
class Status:
    """What `tutor list` shows for an exercise."""

    state: str  # new | in progress | done
    done: int = 0  # steps answered in the open attempt
    n_steps: int = 0
    best: int | None = None  # best finished score
    best_max: int | None = None
    finished: int = 0  # finished attempts
    best_first: int | None = None  # of the best attempt: right on the first try, no hint
    best_hints: int | None = None  # … and the hints it took

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

    def __init__(self, path: Path | str | None = None, *, timeout: float | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = lock_timeout() if timeout is None else timeout
        self.readonly = False
        self._leases: dict[int, _Lease] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and not (os.access(self.path, os.W_OK)
                                           and os.access(self.path.parent, os.W_OK)):
                self._open_readonly()
            else:
                self.db = sqlite3.connect(self.path, timeout=self.timeout,
                                          isolation_level=None)
                try:
                    # WAL + synchronous=NORMAL: a commit survives Ctrl-C, kill -9 or a closed
                    # terminal, without an fsync per answer.
                    self.db.execute("PRAGMA journal_mode=WAL")
                    self.db.execute("PRAGMA synchronous=NORMAL")
                    version = self._version()
                except sqlite3.OperationalError as err:
                    if "readonly" not in str(err) and "read-only" not in str(err):
                        raise
                    self.db.close()
                    self._open_readonly()
            version = self._version()
            if self.readonly:
                pass  # read as it is: nothing is created or upgraded
            elif version is None:
                with self._tx():
                    for stmt in _SCHEMA.strip().split(";\n"):
                        if stmt.strip():
                            self.db.execute(stmt)
                    self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                    (str(SCHEMA_VERSION),))
            elif version < SCHEMA_VERSION:
                with self._tx():
                    v = self._version()  # another process may have migrated it meanwhile
                    if v < SCHEMA_VERSION:
                        for k in range(v, SCHEMA_VERSION):
                            for stmt in _MIGRATIONS[k]:
                                self.db.execute(stmt)
                        for stmt in _SCHEMA.strip().split(";\n"):
                            if stmt.strip():
                                self.db.execute(stmt)
                        self.db.execute("UPDATE meta SET value=? WHERE key='schema'",
                                        (str(SCHEMA_VERSION),))
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer tutor "
                                 f"(schema {version}); upgrade tutor or set TUTOR_HOME")
            have = {r[0] for r in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            missing = [t for t in TABLES if t not in have]
            if missing and not (self.readonly and version is None and not have):
                raise StoreError(f"the progress file {self.path} is damaged: its table "
                                 f"{missing[0]!r} is missing. Move it away or set TUTOR_HOME "
                                 "to another folder.")
        except StoreError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as err:
            self._close_quietly()
            if _locked(err):
                raise self.fault(err) from None
            raise StoreError(f"cannot use the progress file {self.path}: {err}. "
                             "Move it away or set TUTOR_HOME to another folder.") from None
        except OSError as err:
            self._close_quietly()
            raise StoreError(f"cannot create {self.path.parent}: {err.strerror}. "
                             "Set TUTOR_HOME to a writable folder.") from None

    def _open_readonly(self) -> None:
        """A store we may not write: read it as it is (``mode=ro``; ``immutable`` when its
        folder is read-only too and SQLite cannot make the files it reads a WAL store with)."""
        self.readonly = True
        uri = "file:" + quote(str(self.path.resolve()))
        self.db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=self.timeout,
                                  isolation_level=None)
        try:
            self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            self.db.close()
            self.db = sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None)

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            with contextlib.suppress(Exception):
                db.close()

    @classmethod
    def memory(cls) -> "Store":
        """An empty store in memory: a session that cannot save."""
        return cls(":memory:")

    def in_memory(self) -> "Store":
        """A copy of this store in memory (what could be read of it; else an empty one),
        for a session that goes on without saving: what it has is resumed, nothing written."""
        mem = Store.__new__(Store)
        mem.path, mem.timeout, mem.readonly, mem._leases = Path(":memory:"), 0.0, False, {}
        mem.db = sqlite3.connect(":memory:", isolation_level=None)
        try:
            self.db.backup(mem.db)
            have = {r[0] for r in mem.db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if not set(TABLES) <= have or mem._version() != SCHEMA_VERSION:
                raise sqlite3.DatabaseError("not usable")
            mem.db.execute("PRAGMA query_only=0")
        except (sqlite3.Error, ValueError, StoreError):
            mem.db.close()
            return Store.memory()
        return mem

    def fault(self, err: Exception) -> StoreError:
        """One clear message for an SQLite error: full, locked, read-only, damaged."""
        text = str(err)
        where = f"the progress file {self.path}"
        low = text.lower()
        if "full" in low:
            why = f"the disk is full ({where})"
        elif _locked(err):
            why = (f"{where} is locked by another program (waited {self.timeout:g} s; "
                   "TUTOR_LOCK_TIMEOUT sets the wait)")
        elif "readonly" in low or "read-only" in low or self.readonly:
            why = f"{where} is read-only"
        elif "no such table" in low or "no such column" in low or "malformed" in low \
                or "not a database" in low:
            why = f"{where} is damaged ({text}); move it away or set TUTOR_HOME"
        else:
            why = f"{where}: {text}"
        return StoreError(why)

    def _version(self) -> int | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError as err:  # no tables yet
            if _locked(err):
                raise
            return None
        if not row:
            return None
        try:
            return int(row[0])
        except (TypeError, ValueError):
            raise StoreError(f"the progress file {self.path} is damaged: its schema version "
                             f"is {row[0]!r}, not a number. Move it away or set TUTOR_HOME "
                             "to another folder.") from None

    @contextlib.contextmanager
    def _tx(self):
        """One write transaction; any SQLite error is rolled back and becomes a StoreError."""
        if self.readonly:
            raise StoreError(f"the progress file {self.path} is read-only")
        db = self.db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise self.fault(err) from None
        try:
            yield
            db.execute("COMMIT")
        except BaseException as err:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise self.fault(err) from None
            raise

    # ─── leases: which open attempts another session is working ─────────────────────────
    def _lease_path(self, attempt: int) -> Path:
        return self.path.parent / "locks" / f"{self.path.name}-{attempt}.lock"

    def _held_elsewhere(self, attempt: int) -> bool:
        """Another session (another process, or another Store here) holds this attempt."""
        if attempt in self._leases or str(self.path) == ":memory:":
            return False
        probe = _Lease(self._lease_path(attempt))
        got = probe.take()
        probe.release()
        return got is False

    def _hold(self, attempt: int) -> None:
        if attempt in self._leases or str(self.path) == ":memory:":
            return
        lease = _Lease(self._lease_path(attempt))
        if lease.take():
            self._leases[attempt] = lease

    def release(self, attempt: int | None = None) -> None:
        """Let go of an attempt (None: all) this store holds; a closed one's lock file goes."""
        for aid in list(self._leases) if attempt is None else [attempt]:
            lease = self._leases.pop(aid, None)
            if lease is not None:
                closed = False
                with contextlib.suppress(Exception):
                    row = self.db.execute("SELECT status FROM attempts WHERE id=?",
                                          (aid,)).fetchone()
                    closed = row is None or row[0] != "open"
                lease.release(unlink=closed)

    def close(self) -> None:
        self.release()
        self._close_quietly()

    # ─── attempts ───────────────────────────────────────────────────────────────────────
    @_guarded
    def open_attempt(self, exercise: str, sha: str, seed: int | None, n_steps: int,
                     restart: bool = False, ref: str | None = None,
                     student: str | None = None, tries: int | None = None,
                     same: tuple[str, ...] = (), hold: bool = False) -> Attempt:
        """The unfinished attempt at this exercise and variant (same content), or a new one.

        ``ref`` (a bundled id or an absolute path) and ``student`` say how to open it again;
        ``tries``: the try limit asked for (None: keep the attempt's own, ``Attempt.tries``);
        ``same``: other hashes that name this content (the text hash recorded before the
        content hash: such an attempt is kept, and recorded under ``sha`` from now on);
        ``Attempt.changed``: an attempt with answers was abandoned because the file changed.
        An open attempt another session holds is left alone (neither resumed nor abandoned):
        this session gets an attempt of its own (``Attempt.shared``). ``hold``: this store
        holds the attempt returned until ``release`` or ``close`` (a practice session)."""
        now = time.time()
        changed = shared = False
        with self._tx():
            rows = self.db.execute(
                "SELECT id, sha, n_steps FROM attempts WHERE exercise=? AND seed IS ? "
                "AND status='open' ORDER BY id DESC", (exercise, seed)).fetchall()
            keep = None
            for aid, a_sha, a_n in rows:
                if self._held_elsewhere(aid):  # a second terminal: never touch its attempt
                    shared = True
                    continue
                if not restart and keep is None and (a_sha == sha or a_sha in same) \
                        and a_n == n_steps:
                    keep = aid
                    if a_sha != sha:
                        self.db.execute("UPDATE attempts SET sha=? WHERE id=?", (sha, aid))
                    continue
                if not restart and self._started(aid):  # the file changed under it
                    changed = True
                self.db.execute("UPDATE attempts SET status='abandoned' WHERE id=?", (aid,))
                self.db.execute("DELETE FROM pending WHERE attempt=?", (aid,))
            if keep is None:
                keep = self.db.execute(
                    "INSERT INTO attempts (exercise, sha, seed, n_steps, started) "
                    "VALUES (?, ?, ?, ?, ?)", (exercise, sha, seed, n_steps, now)).lastrowid
            self.db.execute("UPDATE attempts SET opened=?, ref=COALESCE(?, ref), student=?, "
                            "tries=COALESCE(?, tries) WHERE id=?",
                            (now, ref, student, tries, keep))
            if hold:
                self._hold(keep)
            kept = self.db.execute("SELECT tries FROM attempts WHERE id=?", (keep,)).fetchone()[0]
            done = self.db.execute(
                "SELECT finished, score, n_steps FROM attempts WHERE exercise=? AND seed IS ? "
                "AND status='done' ORDER BY finished DESC, id DESC LIMIT 1",
                (exercise, seed)).fetchone()
        return Attempt(keep, exercise, n_steps, self.answers(keep), self.pending(keep),
                       changed, kept, Finished(*done) if done is not None else None,
                       shared and keep not in [r[0] for r in rows])

    @_guarded
    def drop_unstarted(self, attempt: int) -> bool:
        """Delete an open attempt that has nothing in it (no answer, no wrong try or hint)
        when its exercise and variant were finished before: one transaction. Whether it
        was deleted (an attempt of a never-finished exercise is kept, to be resumed)."""
        with self._tx():
            gone = self.db.execute(
                "DELETE FROM attempts WHERE id IN (SELECT id FROM attempts t WHERE id=? "
                f"AND status='open' AND {_UNSTARTED_RETRY})", (attempt,)).rowcount
        return gone > 0

    def _started(self, attempt: int) -> bool:
        return bool(self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM answers WHERE attempt=?) "
            "OR EXISTS (SELECT 1 FROM pending WHERE attempt=?)", (attempt, attempt)).fetchone()[0])

    @_guarded
    def answers(self, attempt: int) -> dict[str, Answer]:
        rows = self.db.execute(
            "SELECT step, skill, result, text, wrong, hints FROM answers WHERE attempt=? "
            "ORDER BY at, rowid", (attempt,)).fetchall()
        return {r[0]: Answer(*r) for r in rows}

    @_guarded
    def pending(self, attempt: int) -> Pending | None:
        row = self.db.execute("SELECT step, wrong, hints, rung, target, told, entries FROM "
                              "pending WHERE attempt=?", (attempt,)).fetchone()
        if row is None:
            return None
        return Pending(*row[:5], tuple(t for t in row[5].split(",") if t), _entries(row[6]))

    @_guarded
    def save_pending(self, attempt: int, p: Pending | None) -> None:
        """Save the step under way (a wrong try or a hint): one transaction."""
        with self._tx():
            self._still_open(attempt)
            if p is None:
                self.db.execute("DELETE FROM pending WHERE attempt=?", (attempt,))
                return
            self.db.execute(
                "INSERT OR REPLACE INTO pending (attempt, step, wrong, hints, rung, target, "
                "told, at, entries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (attempt, p.step, p.wrong, p.hints, p.rung, p.target, ",".join(p.told),
                 time.time(), json.dumps([[i, j, t] for (i, j), t in p.entries])
                 if p.entries else ""))

    @_guarded
    def record(self, attempt: int, answer: Answer) -> None:
        """Save one step's result: one transaction, so nothing is lost on Ctrl-C. Only into
        an attempt still open, and never over a better result for that step."""
        with self._tx():
            self._still_open(attempt)
            self.db.execute(
                "INSERT INTO answers (attempt, step, skill, result, text, wrong, hints, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (attempt, step) DO UPDATE SET "
                "skill=excluded.skill, result=excluded.result, text=excluded.text, "
                "wrong=excluded.wrong, hints=excluded.hints, at=excluded.at "
                f"WHERE {_RANK.format('excluded.result')} >= {_RANK.format('answers.result')}",
                (attempt, answer.step, answer.skill, answer.result, answer.text, answer.wrong,
                 answer.hints, time.time()))
            self.db.execute("DELETE FROM pending WHERE attempt=?", (attempt,))

    def _still_open(self, attempt: int) -> None:
        row = self.db.execute("SELECT status FROM attempts WHERE id=?", (attempt,)).fetchone()
        if row is None or row[0] != "open":
            what = "finished" if row is not None and row[0] == "done" else "closed"
            raise StoreError(f"this attempt was {what} in another session; it is not "
                             "written again")

    @_guarded
    def open_attempts(self) -> list[OpenAttempt]:
        """Unfinished attempts, the most recently opened first (an unstarted one at an
        exercise already finished is not one)."""
        rows = self.db.execute(
            "SELECT exercise, ref, seed, student, tries FROM attempts t WHERE status='open' "
            f"AND NOT {_UNSTARTED_RETRY} "
            "ORDER BY COALESCE(opened, started) DESC, id DESC").fetchall()
        return [OpenAttempt(*r) for r in rows]

    @_guarded
    def finish(self, attempt: int, score: int) -> None:
        """Close an open attempt with its score (a finished one is never written again)."""
        with self._tx():
            self._still_open(attempt)
            self.db.execute("UPDATE attempts SET status='done', score=?, finished=? WHERE id=?",
                            (score, time.time(), attempt))
            self.db.execute("DELETE FROM pending WHERE attempt=?", (attempt,))

    # ─── reports ────────────────────────────────────────────────────────────────────────
    @_guarded
    def status(self) -> dict[str, Status]:
        """exercise id → Status (exercises never opened are absent: state "new"). An exercise
        finished and opened again stays done until the new attempt has something in it."""
        out: dict[str, Status] = {}
        best: dict[str, tuple] = {}  # the best attempt: highest score, then most first tries
        n_done: dict[str, int] = {}
        for ex, score, n, first, hints in self.db.execute(
                "SELECT exercise, score, n_steps, "
                "(SELECT COALESCE(SUM(result='correct' AND wrong=0 AND hints=0), 0) FROM answers "
                " WHERE attempt=t.id), "
                "(SELECT COALESCE(SUM(hints), 0) FROM answers WHERE attempt=t.id) "
                "FROM attempts t WHERE status='done' ORDER BY id"):
            n_done[ex] = n_done.get(ex, 0) + 1
            key = (score or 0, first, -hints)
            if ex not in best or key > best[ex][0]:
                best[ex] = (key, score, n, first, hints)
        for ex, (_, score, n, first, hints) in best.items():
            out[ex] = Status("done", best=score, best_max=n, finished=n_done[ex],
                             best_first=first, best_hints=hints)
        for ex, aid, n in self.db.execute(
                "SELECT exercise, id, n_steps FROM attempts t WHERE status='open' "
                f"AND NOT {_UNSTARTED_RETRY} ORDER BY id"):
            done = self.db.execute("SELECT COUNT(*) FROM answers WHERE attempt=?",
                                   (aid,)).fetchone()[0]
            prev = out.get(ex)
            if prev is None:
                out[ex] = Status("in progress", done, n)
            else:  # a finished one and a new try under way
                out[ex] = Status("in progress", done, n, prev.best, prev.best_max, prev.finished,
                                 prev.best_first, prev.best_hints)
        return out

    @_guarded
    def skills(self) -> list[SkillRecord]:
        rows = self.db.execute(
            "SELECT a.skill, COUNT(*), "
            "SUM(a.result='correct' AND a.wrong=0 AND a.hints=0), "
            "SUM(a.result='correct'), SUM(a.result!='correct'), SUM(a.hints) "
            "FROM answers a JOIN attempts t ON t.id = a.attempt "
            "WHERE t.status != 'abandoned' GROUP BY a.skill").fetchall()
        return [SkillRecord(r[0], r[1], r[2] or 0, r[3] or 0, r[4] or 0, r[5] or 0) for r in rows]

    @_guarded
    def seeds(self, exercise: str) -> set[int]:
        """The variant seeds this exercise was opened with (the base numbers: none)."""
        rows = self.db.execute("SELECT DISTINCT seed FROM attempts WHERE exercise=? AND seed "
                               "IS NOT NULL", (exercise,)).fetchall()
        return {int(r[0]) for r in rows}

    @_guarded
    def history(self) -> list[Answer]:
        """Every answer of every attempt the record counts (not abandoned ones, as
        ``skills``), in the order they were given: what the mastery model replays
        (tutor.mastery.trace)."""
        rows = self.db.execute(
            "SELECT a.step, a.skill, a.result, a.text, a.wrong, a.hints "
            "FROM answers a JOIN attempts t ON t.id = a.attempt "
            "WHERE t.status != 'abandoned' ORDER BY a.at, a.attempt, a.rowid").fetchall()
        return [Answer(*r) for r in rows]


def _locked(err: Exception) -> bool:
    low = str(err).lower()
    return "locked" in low or "busy" in low
