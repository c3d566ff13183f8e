"""The variant cache: which try of a student's seed gave their variant, kept between runs.

    $TUTOR_HOME/cache/variants.sqlite3                        (TUTOR_HOME set)
    platformdirs.user_cache_dir("tutor")/variants.sqlite3     (otherwise)

Drawing a student's variant of an exercise with conditions (lab9-variants) is rejection
sampling: tries are drawn from the seed until one meets every condition, and checking that
a try is distinguishable costs a solve. `tutor template --roster` and `tutor check` write
here which try that was; `tutor check` reads it back, draws that try again from the seed
(the values always come from the seed, never from the cache) and uses it once
tutor.variants.realize has checked it (the digest of its values, a solve, every condition
but the distinguishable scan). An entry is keyed by

* the engine — a hash of tutor's own source and of the SymPy and mpmath versions: any
  change to the code that draws, solves or judges makes every entry unused;
* the exercise's content hash (``Exercise.sha``: every key and value the file says, the
  tolerance too, which decides what is distinguishable) — edit a number and the entries of
  the old version are never read for the new one;
* the seed.

Each entry carries an HMAC (SHA-256) made with a random key kept beside the database
(``variants.key``, readable by its owner only), so a corrupted file, an entry edited by
hand, or one copied from another cache is not used (the variant is drawn in full, as
without a cache). What the key cannot stop is someone who can read it, that is, who has
the teacher's account, and could as well edit the exercise; `tutor check --no-cache` draws
everything anew. Writers are SQLite transactions, so parallel `tutor check` workers and
two commands at once never corrupt the file; any problem with the cache (unreadable,
locked, not a database, a full disk) makes it a cache miss, never an error.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import sqlite3
from pathlib import Path
from typing import Any

FORMAT = 1  # the entry layout; part of every MAC
_FINGERPRINT: list[str] = []


def default_dir() -> Path:
    """TUTOR_HOME/cache, or the user's cache directory (as tutor.progress places its store)."""
    home = os.environ.get("TUTOR_HOME")
    if home:
        return Path(home).expanduser() / "cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("tutor", appauthor=False))


def engine_fingerprint() -> str:
    """A hash of every source file of the tutor package and of the versions of what it
    computes with (SymPy, mpmath, Python): an entry written by another engine is not read."""
    if not _FINGERPRINT:
        import sys

        import mpmath
        import sympy

        h = hashlib.sha256()
        root = Path(__file__).resolve().parent
        for p in sorted(root.rglob("*.py")):
            h.update(str(p.relative_to(root)).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
        h.update(f"{sympy.__version__}|{mpmath.__version__}|{sys.version_info[:2]}".encode())
        _FINGERPRINT.append(h.hexdigest()[:32])
    return _FINGERPRINT[0]


class DrawCache:
    """The variant cache of one command. ``hint(ex, seed)`` → (try, digest) or None;
    ``note(ex, seed)`` remembers what tutor.variants drew for ``seed`` in this process;
    ``flush()`` writes what was noted, in one transaction. ``read=False``: write only
    (`tutor template --roster`, which always draws in full)."""

    def __init__(self, folder: str | Path | None = None, read: bool = True):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.path = self.folder / "variants.sqlite3"
        self.read = read
        self._key: bytes | None = None
        self._rows: dict[str, dict[int, tuple[int, str]]] = {}  # exercise sha → seed → entry
        self.pending: dict[tuple[str, int], tuple[int, str]] = {}
        self.hits = self.misses = 0

    # ─── the key ────────────────────────────────────────────────────────────────────
    def key(self, create: bool = False) -> bytes | None:
        """The HMAC key (made, owner-only, on the first write); None if there is none."""
        if self._key is None:
            path = self.folder / "variants.key"
            with contextlib.suppress(OSError, ValueError):
                self._key = bytes.fromhex(path.read_text(encoding="ascii").strip())
            if self._key is None and create:
                self._key = self._new_key(path)
            if self._key is not None and len(self._key) < 16:
                self._key = None
        return self._key

    def _new_key(self, path: Path) -> bytes | None:
        """A random key, written to a temporary file and linked into place, so that two
        processes making it at once agree on one (the second reads the first's)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".variants.key.{os.getpid()}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(os.urandom(32).hex())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def _mac(self, key: bytes, sha: str, seed: int, k: int, digest: str) -> str:
        msg = f"{FORMAT}|{engine_fingerprint()}|{sha}|{seed}|{k}|{digest}".encode()
        return hmac.new(key, msg, hashlib.sha256).hexdigest()

    # ─── reading ────────────────────────────────────────────────────────────────────
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        return db

    def load(self, ex) -> dict[int, tuple[int, str]]:
        """Every entry of this engine and exercise whose MAC holds: seed → (try, digest)."""
        sha = ex.sha
        if sha in self._rows:
            return self._rows[sha]
        rows: dict[int, tuple[int, str]] = {}
        self._rows[sha] = rows
        key = self.key() if self.read else None
        if key is None or not self.path.is_file():
            return rows
        try:
            db = self._connect()
            try:
                found = db.execute("SELECT seed, try, digest, mac FROM draws WHERE engine = ? "
                                   "AND exercise = ?", (engine_fingerprint(), sha)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:  # not a database, an old layout, locked too long: no hints
            return rows
        for seed, k, digest, mac in found:
            if not (isinstance(seed, int) and isinstance(k, int) and isinstance(digest, str)
                    and isinstance(mac, str)):
                continue
            if hmac.compare_digest(mac, self._mac(key, sha, seed, k, digest)):
                rows[seed] = (k, digest)
        return rows

    def hint(self, ex, seed: int) -> tuple[int, str] | None:
        got = self.load(ex).get(int(seed))
        if got is None:
            self.misses += 1
        else:
            self.hits += 1
        return got

    # ─── writing ────────────────────────────────────────────────────────────────────
    def note(self, ex, seed: int) -> None:
        """Remember the try tutor.variants accepted for ``seed`` (if it was drawn here and
        differs from what the cache holds) for the next ``flush``."""
        from tutor.variants import accepted_try

        got = accepted_try(ex, seed)
        if got is not None and self.load(ex).get(seed) != got:
            self.pending[(ex.sha, int(seed))] = got

    def flush(self) -> int:
        """Write the noted entries in one transaction; the number written (0 on any
        problem: a cache is never worth an error)."""
        if not self.pending:
            return 0
        todo, self.pending = self.pending, {}
        key = self.key(create=True)
        if key is None:
            return 0
        engine = engine_fingerprint()
        rows = [(engine, sha, seed, k, digest, self._mac(key, sha, seed, k, digest))
                for (sha, seed), (k, digest) in todo.items()]
        for attempt in (1, 2):
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                db = self._connect()
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("CREATE TABLE IF NOT EXISTS draws (engine TEXT NOT NULL, "
                               "exercise TEXT NOT NULL, seed INTEGER NOT NULL, try INTEGER "
                               "NOT NULL, digest TEXT NOT NULL, mac TEXT NOT NULL, "
                               "PRIMARY KEY (engine, exercise, seed))")
                    db.execute("DELETE FROM draws WHERE engine != ?", (engine,))  # old engines
                    db.executemany("INSERT OR REPLACE INTO draws VALUES (?, ?, ?, ?, ?, ?)",
                                   rows)
                    db.execute("COMMIT")
                finally:
                    db.close()
            except sqlite3.DatabaseError:
                if attempt == 1 and self._set_aside():  # not a database: start a new one
                    continue
                return 0
            except (sqlite3.Error, OSError):
                return 0
            for sha, seed, k, digest in ((r[1], r[2], r[3], r[4]) for r in rows):
                self._rows.setdefault(sha, {})[seed] = (k, digest)
            return len(rows)
        return 0

    def _set_aside(self) -> bool:
        """Move a file that is not an SQLite database out of the way (kept, renamed)."""
        try:
            with open(self.path, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    return False  # a database, only busy or damaged inside: leave it
            os.replace(self.path, self.path.with_name(f"variants.sqlite3.bad-{os.getpid()}"))
        except FileNotFoundError:
            return True  # another process moved it first
        except OSError:
            return False
        return True


def for_command(enabled: bool = True, read: bool = True) -> Any:
    """The cache a command uses (None with ``--no-cache``)."""
    return DrawCache(read=read) if enabled else None
