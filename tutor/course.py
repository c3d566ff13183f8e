"""A course: one YAML file that ties a roster, assignments and (optionally) a secret together.

    course.yaml ──read_course──▶ Course(roster, secret, timezone, late, assignments)
                                   │
    tutor template --course course.yaml lab9 --out lab9/      one sheet per student
    tutor check --course course.yaml lab9 lab9/ -f canvas     graded, scaled, late penalty

```yaml
course: DS-GA 1003            # a title (optional)
roster: students.csv          # paths are relative to this file
secret: course.secret         # optional: tutor course course.yaml --new-secret writes it
timezone: Europe/Berlin       # due dates without an offset are in it (default: this machine's)
late: {per_day: 10%, floor: 50%, grace: 15m}   # the default late penalty (optional)
assignments:
  lab9:
    exercise: lab9-variants   # a bundled id, or an exercise file (relative to this file)
    title: Lab 9              # the gradebook column (default: the assignment's name)
    due: 2026-12-10 23:59     # a date alone is the end of that day
    points: 10                # the gradebook's maximum: the score is scaled to it
    weights: {backward: 2, dW2: 4}   # per-step weights, as `tutor check --weights`
    ft_credit: 0.5            # share of a step's weight that follow-through earns
    late: {per_hour: 1%}      # this assignment's own late penalty (`late: ~`: none)
```

The course secret is mixed into how a roster id becomes a variant seed (:func:`variant_seeds`,
the one place `tutor template` and `tutor check` both take a student's seed from): an HMAC
of the exercise id and the student id under the teacher's key, so a student cannot make a
classmate's variant, nor predict one before it is handed out. Without a secret the seed is
what it always was (tutor.variants.student_seeds).

A late penalty follows Canvas's late policy: a share of the assignment's points is taken
for every day (or hour) begun after the due date, never below the floor (a share of the
points; a score already below it is kept). Nothing here trusts a sheet: when a sheet was
handed in comes from the file's modification time or from a CSV of submission times the
teacher gives (``--submitted``), never from a line the student wrote.
"""
from __future__ import annotations

import difflib
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from tutor.errors import InputError, UsageError

COURSE_KEYS = ("course", "roster", "secret", "timezone", "late", "assignments")
ASSIGNMENT_KEYS = ("exercise", "title", "due", "points", "weights", "ft_credit", "late")
LATE_KEYS = ("per_day", "per_hour", "floor", "grace")
MAX_BYTES = 1_000_000
SECRET_MIN = 32  # characters of a course secret (`--new-secret` writes 64 hex digits)
SECRET_MAX = 4096
SEED_LABEL = b"tutor variant seed 1\n"  # what the HMAC is for (a key could serve elsewhere)


# ─── the secret, and the one place a student's variant seed comes from ────────────────────
@dataclass(frozen=True)
class CourseSecret:
    """The teacher's key (the secret file's text without surrounding whitespace). Never
    shown: its repr names the file only."""

    file: str
    key: bytes = field(repr=False)

    def seed(self, student: str, exercise_id: str) -> int:
        """A seed in [0, 10⁹) as tutor.variants.student_seed makes one, but keyed: HMAC-SHA256
        of the exercise id and the normalised student id (tutor.roster.student_key)."""
        from tutor.roster import student_key

        msg = SEED_LABEL + f"{exercise_id}\n{student_key(student)}".encode("utf-8")
        digest = hmac.new(self.key, msg, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") % 1_000_000_000


def variant_seeds(student: str, exercise_id: str, secret: CourseSecret | None = None
                  ) -> tuple[int, ...]:
    """The seeds that are this student's own variant of the exercise, their own first.

    Without a secret: tutor.variants.student_seeds — exactly what tutor always gave (and,
    for an id with capitals, the seed an earlier tutor gave it). With one: the keyed seed
    only (no sheet was ever handed out under another)."""
    if secret is None:
        from tutor.variants import student_seeds

        return student_seeds(student, exercise_id)
    return (secret.seed(student, exercise_id),)


def variant_seed(student: str, exercise_id: str, secret: CourseSecret | None = None) -> int:
    """The student's own variant seed (see :func:`variant_seeds`)."""
    return variant_seeds(student, exercise_id, secret)[0]


def read_secret(path: str | Path, where: tuple = (None, None, None)) -> CourseSecret:
    """The secret in ``path``; InputError at ``where`` (file, line, col of the course file's
    ``secret:``) when it cannot be read or is too short."""
    from tutor.yamlio import read_bytes

    file, line, col = where
    p = Path(path)
    try:
        raw = read_bytes(p, max_bytes=SECRET_MAX, kind="course secret")
    except InputError as e:
        raise InputError(f"the course secret cannot be read ({e.message}); the variants "
                         "depend on it, so nothing is graded or written without it. A new "
                         "course makes one with `tutor course COURSE.yaml --new-secret`",
                         file or str(p), line, col) from None
    if len(raw) > SECRET_MAX:
        raise InputError(f"the course secret {p} is larger than {SECRET_MAX} bytes: it "
                         "holds one line (a key)", file or str(p), line, col)
    key = raw.strip()
    if len(key) < SECRET_MIN:
        raise InputError(f"the course secret {p} is {len(key)} characters long; at least "
                         f"{SECRET_MIN} (`tutor course COURSE.yaml --new-secret` writes 64 "
                         "random hex digits)", file or str(p), line, col)
    return CourseSecret(str(p), key)


def secret_warning(secret: CourseSecret) -> str | None:
    """A warning when others than its owner can read the secret file (POSIX modes)."""
    try:
        mode = os.stat(secret.file).st_mode
    except OSError:
        return None
    if os.name == "posix" and mode & 0o077:
        return (f"the course secret {secret.file} can be read by others (mode "
                f"{mode & 0o777:o}): chmod 600 {secret.file}")
    return None


def new_secret(path: Path) -> Path:
    """Write a new random secret (64 hex digits) to ``path``, readable by its owner only;
    never over an existing file (the variants handed out depend on the old one)."""
    import secrets

    if path.exists() or path.is_symlink():
        raise UsageError(f"{path} exists: a course keeps its secret (every variant handed "
                         "out depends on it); remove the file first to start anew")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


# ─── the course file ───────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class LatePolicy:
    """``per`` of the points taken for every ``period`` begun after the due date (and
    ``grace``), never taking the score below ``floor`` of the points."""

    per: Fraction
    period: timedelta
    floor: Fraction = Fraction(0)
    grace: timedelta = timedelta(0)

    def periods(self, late: timedelta) -> int:
        """Days (or hours) begun: 1 s late is one day late, 24 h exactly is one."""
        if late <= self.grace:
            return 0
        return -(-late // self.period)

    def apply(self, earned: Fraction, possible: Fraction, late: timedelta) -> Fraction:
        """The points after the penalty."""
        n = self.periods(late)
        if n == 0:
            return earned
        take = min(n * self.per, Fraction(1)) * possible
        return max(earned - take, min(earned, self.floor * possible))

    def text(self) -> str:
        each = "a day" if self.period == timedelta(days=1) else "an hour"
        out = f"{_pct(self.per)} of the points {each} begun"
        if self.floor:
            out += f", never below {_pct(self.floor)}"
        if self.grace:
            out += f", {duration_text(self.grace)} of grace"
        return out


@dataclass(frozen=True)
class Assignment:
    name: str
    exercise: str  # a bundled id, or an exercise file (joined to the course file's folder)
    title: str  # the gradebook column
    due: datetime | None = None
    points: Fraction | None = None  # None: the sheet's own maximum (the sum of the weights)
    weights: dict | None = None  # step id or phase → raw value (checked by step_weights)
    ft_credit: Fraction | None = None
    late: LatePolicy | None = None
    file: str = ""  # the course file
    marks: dict = field(default_factory=dict, repr=False)  # key → (line, col) of its value
    line: int | None = None  # of its name

    def step_weights(self, known_ids: list[str]):
        """tutor.grade.Weights from ``weights:``; an unknown step id or a bad number is an
        InputError at its line and column in the course file."""
        if self.weights is None:
            return None

        def where(key: str) -> tuple:
            return self.marks.get(("weights", key), (self.line, None))

        def key_where(key: str) -> tuple:
            return self.marks.get(("weights key", key), (self.line, None))

        return parse_weights(self.weights, known_ids, self.file, where, key_where)


@dataclass(frozen=True)
class Course:
    file: str
    title: str
    assignments: dict  # name → Assignment, in the file's order
    roster_file: str | None = None
    secret_file: str | None = None
    timezone: tzinfo | None = None  # None: this machine's local time
    marks: dict = field(default_factory=dict, repr=False)  # top-level key → (line, col)

    def assignment(self, name: str) -> Assignment:
        """The assignment called ``name`` (UsageError with did-you-mean when none is)."""
        if name in self.assignments:
            return self.assignments[name]
        low = {k.lower(): k for k in self.assignments}
        if name.lower() in low:
            return self.assignments[low[name.lower()]]
        near = difflib.get_close_matches(name, list(self.assignments), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise UsageError(f"no assignment {name!r} in {self.file}{hint}: it has "
                         + ", ".join(self.assignments))

    def roster(self):
        """The roster (tutor.roster.Roster), or None when the course names none."""
        if self.roster_file is None:
            return None
        from tutor.roster import read_roster

        return read_roster(self.roster_file)

    def secret(self) -> CourseSecret | None:
        """The course secret, or None when the course has none; an error when it names a
        secret that cannot be read (never graded as if there were none)."""
        if self.secret_file is None:
            return None
        line, col = self.marks.get("secret", (None, None))
        return read_secret(self.secret_file, (self.file, line, col))


def read_course(path: str | Path) -> Course:
    """The course file at ``path``; every problem is one InputError at file:line:col."""
    from tutor.sheets import precheck
    from tutor.yamlio import load_yaml, read_text

    p = Path(path)
    text = read_text(p, max_bytes=MAX_BYTES, kind="course file")
    precheck(text, str(p))
    return parse_course(load_yaml(text, str(p)), str(p), p.parent)


def parse_course(doc, file: str, folder: Path = Path(".")) -> Course:
    """A Course from a parsed YAML document (tutor.yamlio.Document); paths in it are taken
    relative to ``folder`` (the course file's)."""
    data = doc.data

    def at(*path) -> tuple:
        m = doc.mark(path)
        return (m.line, m.col) if m else (None, None)

    def key_at(*path) -> tuple:
        m = doc.key_marks.get(tuple(path)) or doc.mark(path)
        return (m.line, m.col) if m else (None, None)

    def fail(message: str, where: tuple) -> InputError:
        return InputError(message, file, *where)

    if not isinstance(data, dict):
        raise fail("a course file is a mapping: roster:, assignments:, … "
                   "(see docs/course.md)", at())
    _known(data, COURSE_KEYS, "course", file, key_at, ())
    if "assignments" not in data:
        raise fail("no assignments: (a mapping of name → exercise, due, points, …)",
                   at())
    tz = None
    if data.get("timezone") is not None:
        tz = _zone(data["timezone"], fail, at("timezone"))
    roster = _path(data, "roster", folder, fail, at)
    secret = _path(data, "secret", folder, fail, at)
    default_late = _late(data, ("late",), fail, at, key_at, file) if "late" in data else None
    items = data["assignments"]
    if not isinstance(items, dict) or not items:
        raise fail("assignments: maps each assignment's name to its exercise, due date, "
                   "points, …", at("assignments"))
    out = {}
    for name, a in items.items():
        base = ("assignments", name)
        if not isinstance(a, dict):
            raise fail(f"assignment {name!r}: a mapping with exercise:, due:, points:, …",
                       at(*base))
        _known(a, ASSIGNMENT_KEYS, f"assignment {name!r}", file, key_at, base)
        if not isinstance(a.get("exercise"), str) or not a["exercise"].strip():
            raise fail(f"assignment {name!r} has no exercise: (a bundled id, or an exercise "
                       "file relative to the course file)", at(*base, "exercise")
                       if "exercise" in a else key_at(*base))
        title = a.get("title", name)
        if not isinstance(title, (str, int)) or isinstance(title, bool) or not str(title).strip():
            raise fail("title: the gradebook column's name, as text", at(*base, "title"))
        due = None
        if a.get("due") is not None:
            due = parse_due(a["due"], tz, fail, at(*base, "due"))
        points = None
        if "points" in a:
            points = _number(a["points"], fail, at(*base, "points"), "points",
                             positive=True)
        ft = None
        if "ft_credit" in a:
            ft = _number(a["ft_credit"], fail, at(*base, "ft_credit"), "ft_credit")
            if ft > 1:
                raise fail(f"ft_credit is a share between 0 and 1, not {a['ft_credit']}",
                           at(*base, "ft_credit"))
        weights = None
        marks = {}
        if "weights" in a:
            w = a["weights"]
            if not isinstance(w, dict):
                raise fail("weights: maps step ids or phases to numbers: {backward: 2, dW2: 4}",
                           at(*base, "weights"))
            weights = dict(w)
            for k in w:
                m = doc.mark(base + ("weights", k))
                marks[("weights", k)] = (m.line, m.col) if m else (None, None)
                marks[("weights key", k)] = key_at(*base, "weights", k)
        late = _late(a, base + ("late",), fail, at, key_at, file) if "late" in a \
            else default_late
        ref = _exercise_ref(a["exercise"].strip(), folder, fail, at(*base, "exercise"))
        out[str(name)] = Assignment(str(name), ref,
                                    str(title).strip(), due, points, weights, ft, late, file,
                                    marks, key_at(*base)[0])
    title = data.get("course") or Path(file).stem
    return Course(file, str(title), out, roster, secret, tz,
                  {k: at(k) for k in data})


def _known(data: dict, allowed: tuple, what: str, file: str, key_at, base: tuple) -> None:
    for k in data:
        if k not in allowed:
            near = difflib.get_close_matches(str(k), allowed, n=1)
            hint = f" (did you mean {near[0]}?)" if near else f" (it has {', '.join(allowed)})"
            raise InputError(f"unknown key {str(k)!r} in the {what}{hint}", file,
                             *key_at(*base, k))


def _path(data: dict, key: str, folder: Path, fail, at) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        raise fail(f"{key}: a file name (relative to the course file)", at(key))
    p = Path(v.strip()).expanduser()
    return str(p if p.is_absolute() else folder / p)


def _exercise_ref(ref: str, folder: Path, fail, where: tuple) -> str:
    """A bundled id stays as it is; an exercise file is taken relative to the course file.
    Neither (a missing file, an unknown id) is an error at ``where``."""
    from tutor.catalog import bundled

    p = Path(ref)
    looks_like_file = p.suffix in (".yaml", ".yml") or "/" in ref
    if looks_like_file or (folder / p).is_file():
        path = p if p.is_absolute() else folder / p
        if not path.is_file():
            raise fail(f"exercise: no exercise file {ref!r} (a path is relative to the course "
                       "file)", where)
        return str(path)
    ids = [e.id for e in bundled()]
    if ref not in ids:
        near = difflib.get_close_matches(ref, ids, n=1)
        raise fail(f"exercise: no bundled exercise {ref!r}" + (f" (did you mean {near[0]}?)"
                   if near else "") + "; `tutor list` shows them, or give a file", where)
    return ref


def _zone(name: Any, fail, where: tuple) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str):
        raise fail("timezone: an IANA time zone name, such as Europe/Berlin or UTC", where)
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise fail(f"unknown time zone {name!r} (an IANA name, such as Europe/Berlin, "
                   "America/New_York or UTC)", where) from None


def parse_due(value: Any, tz: tzinfo | None, fail=None, where: tuple = (None, None)
              ) -> datetime:
    """A due date: ``2026-12-10`` (the end of that day), ``2026-12-10 23:59`` or ISO 8601
    with an offset (``2026-12-10T23:59:00+01:00``, ``…Z``). Without an offset it is in
    ``tz`` (the course's timezone), else in this machine's local time."""
    fail = fail or (lambda message, w: InputError(message))
    text = str(value).strip() if isinstance(value, (str, date)) else None
    if text is None:
        raise fail(f"due: a date and time such as 2026-12-10 23:59, not {value!r}", where)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):  # the whole of that day
            dt = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(0))
        else:
            dt = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"due: {text!r} is not a date and time (write 2026-12-10 23:59, or "
                   "2026-12-10T23:59:00+01:00 with an offset)", where) from None
    return _aware(dt, tz)


def _aware(dt: datetime, tz: tzinfo | None) -> datetime:
    if dt.tzinfo is not None:
        return dt
    return dt.replace(tzinfo=tz) if tz is not None else dt.astimezone()


_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%")


def _late(data: dict, path: tuple, fail, at, key_at, file: str) -> LatePolicy | None:
    v = data[path[-1]]
    if v is None:
        return None  # `late: ~`: no penalty for this assignment
    if not isinstance(v, dict):
        raise fail("late: a mapping such as {per_day: 10%, floor: 50%}", at(*path))
    _known(v, LATE_KEYS, "late penalty", file, key_at, path)
    given = [k for k in ("per_day", "per_hour") if k in v]
    if len(given) != 1:
        raise fail("late: give one of per_day or per_hour (the share of the points taken "
                   "for each day or hour begun after the due date)", at(*path))
    per = _percent(v[given[0]], fail, at(*path, given[0]), given[0])
    floor = _percent(v["floor"], fail, at(*path, "floor"), "floor") if "floor" in v \
        else Fraction(0)
    grace = parse_duration(v["grace"], fail, at(*path, "grace")) if "grace" in v \
        else timedelta(0)
    period = timedelta(days=1) if given[0] == "per_day" else timedelta(hours=1)
    return LatePolicy(per, period, floor, grace)


def _percent(v: Any, fail, where: tuple, key: str) -> Fraction:
    m = _PERCENT.fullmatch(v.strip()) if isinstance(v, str) else None
    if m is None:
        raise fail(f"{key}: a percentage of the points, written with %: 10%, not {v!r}",
                   where)
    share = Fraction(Decimal(m.group(1))) / 100
    if share > 1:
        raise fail(f"{key}: at most 100%, not {v!r}", where)
    return share


_DURATION = re.compile(r"\s*([0-9]+)\s*(d|h|min|m|s)\s*")
_UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "min": timedelta(minutes=1),
          "m": timedelta(minutes=1), "s": timedelta(seconds=1)}


def parse_duration(v: Any, fail, where: tuple) -> timedelta:
    """``15m``, ``2h``, ``1d``, ``1h 30m``, ``90s``."""
    text = v if isinstance(v, str) else ""
    parts, pos = [], 0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None:
            break
        parts.append(int(m.group(1)) * _UNITS[m.group(2)])
        pos = m.end()
    if not parts or pos != len(text):
        raise fail(f"grace: a duration such as 15m, 2h, 1d or 1h 30m, not {v!r}", where)
    return sum(parts, timedelta(0))


def _number(v: Any, fail, where: tuple, key: str, positive: bool = False) -> Fraction:
    ok = isinstance(v, (int, Decimal)) and not isinstance(v, bool)
    x = Fraction(v) if ok else None
    if x is None or x < 0 or (positive and x == 0):
        raise fail(f"{key}: a number {'> 0' if positive else '≥ 0'}, not {v!r}", where)
    return x


def parse_weights(data: dict, known_ids: list[str], file: str,
                  where: Callable[[str], tuple], key_where: Callable[[str], tuple] | None = None):
    """tutor.grade.Weights from a mapping of step id or phase (or ``default``) → a number
    ≥ 0 — a weights file's (`tutor check --weights`) or a course assignment's
    ``weights:``. ``where(key)`` → (line, col) of its value, for a bad number;
    ``key_where(key)`` of the key, for an unknown one (default: ``where``)."""
    from tutor.grade import Weights
    from tutor.steps import PHASE_ORDER

    choices = list(known_ids) + list(PHASE_ORDER) + ["default"]
    out, default = {}, Fraction(1)
    for k, v in data.items():
        key = str(k)
        if key not in choices:
            near = [c for c in choices if c.lower() == key.lower()] or \
                difflib.get_close_matches(key, choices, n=1)
            raise InputError(f"unknown step id or phase {key!r}"
                             + (f" (did you mean {near[0]}?)" if near else ""), file,
                             *(key_where or where)(key))
        try:
            w = Fraction(str(v)) if not isinstance(v, bool) else None
        except (ValueError, ZeroDivisionError):
            w = None
        if w is None or w < 0:
            raise InputError(f"the weight of {key} must be a number ≥ 0, not {v!r}", file,
                             *where(key))
        if key == "default":
            default = w
        else:
            out[key] = w
    return Weights(out, default)


# ─── when a sheet was handed in, and what it is worth ─────────────────────────────────────
@dataclass(frozen=True)
class Final:
    """A graded sheet's standing in the course: its score scaled to the assignment's points,
    when it was handed in, and the points after the late penalty (what the gradebook gets)."""

    possible: Fraction  # the assignment's points
    earned: Fraction  # the sheet's score scaled to them
    points: Fraction  # after the late penalty
    submitted: datetime | None = None
    late: timedelta | None = None  # after the due date (None: on time, or no due date)
    periods: int = 0  # days or hours begun that the penalty counted
    source: str = ""  # where the time came from: "file time" or the times file's name

    @property
    def penalty(self) -> Fraction:
        return self.earned - self.points

    @property
    def days_late(self) -> float | None:
        return None if self.late is None else round(self.late / timedelta(days=1), 2)


TIME_COLUMNS = ("submitted", "submitted at", "submitted_at", "submission time",
                "submission date", "last modified (submission)", "timestamp", "time", "date")


@dataclass(frozen=True)
class Times:
    """Submission times by student (a CSV the teacher gives: ``--submitted``)."""

    file: str
    by_student: dict  # student_key → aware datetime


def read_times(path: str | Path, tz: tzinfo | None = None) -> Times:
    """A CSV of submission times: an id column as a roster has (tutor.roster.ID_COLUMNS)
    and a time column (``submitted``, ``submitted at``, ``timestamp``, ``time``, ``date``,
    Moodle's ``Last modified (submission)``), each time ISO 8601 (``2026-12-10 23:59``,
    with an offset or in the course's timezone). InputError at file:line otherwise."""
    from tutor.roster import id_column, read_table, student_key

    p = Path(path)
    rows, header_at = read_table(p, "submission times")
    header = [c.strip().lower() for c in rows[header_at]]
    col = id_column(header)
    tcol = next((header.index(c) for c in TIME_COLUMNS if c in header and
                 header.index(c) != col), None)
    if tcol is None:
        raise InputError("no time column (submitted, submitted at, timestamp, time, date)",
                         str(p), header_at + 1)
    out: dict = {}
    for k, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        sid = row[col].strip() if col < len(row) else ""
        text = row[tcol].strip() if tcol < len(row) else ""
        if not sid or text in ("", "-"):
            continue  # no submission (Moodle writes "-"): nothing to say
        when = _time(text)
        if when is None:
            raise InputError(f"{text!r} is not a date and time (2026-12-10 23:59, or ISO 8601 "
                             "with an offset)", str(p), k)
        when = _aware(when, tz)
        key = student_key(sid)
        out[key] = max(when, out[key]) if key in out else when  # the last submission
    return Times(str(p), out)


MOODLE_TIME = "%A, %d %B %Y, %I:%M %p"  # Moodle's worksheet: "Thursday, 10 December 2026, 11:59 PM"


def _time(text: str) -> datetime | None:
    """ISO 8601, or the English day-and-time Moodle's grading worksheet writes."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, MOODLE_TIME)
    except ValueError:
        return None


def finish(report, assignment: Assignment, times: Times | None = None,
           tz: tzinfo | None = None):
    """The report with each graded sheet's Final (``SheetResult.final``), and a note on each
    late sheet saying when it came, how late, and what the penalty took; the report's notes
    say where the times came from. Duck-typed on tutor.check's Report and SheetResult (this
    module does not import the grader)."""
    from tutor.roster import student_key

    results, late, from_file = [], 0, 0
    for r in report.results:
        if r.error is not None or r.score is None:
            results.append(r)
            continue
        total, top = r.score.total, r.score.max
        possible = assignment.points if assignment.points is not None else top
        earned = total / top * possible if top else Fraction(0)
        submitted, source, notes = None, "", []
        if assignment.due is not None:
            if times is not None and student_key(r.student) in times.by_student:
                submitted, source = times.by_student[student_key(r.student)], Path(times.file).name
            else:
                submitted, source = _file_time(r.file), "file time"
                from_file += 1
            if submitted is not None:  # shown in the course's time zone
                submitted = submitted.astimezone(tz) if tz is not None else submitted.astimezone()
                if times is not None:
                    notes.append(f"no time for {r.student} in {Path(times.file).name}: "
                                 "its file time is used")
        final = Final(possible, earned, earned, submitted, source=source)
        lag = submitted - assignment.due if submitted is not None else None
        policy = assignment.late
        if lag is not None and lag > (policy.grace if policy else timedelta(0)):
            final = replace(final, late=lag)
            if policy is not None:
                final = replace(final, points=policy.apply(earned, possible, lag),
                                periods=policy.periods(lag))
            late += 1
            notes.append(late_note(final, assignment, tz))
        results.append(replace(r, final=final, notes=r.notes + tuple(notes)))
    extra = []
    if assignment.due is not None:
        src = (f"by {Path(times.file).name}" + (f" ({from_file} by their file times)"
                                                if from_file else "")) if times is not None \
            else "by their file times (modification times: a copy that did not keep them " \
            "makes a sheet look late; give --submitted TIMES.csv)"
        extra.append(f"{assignment.name}: due {when_text(assignment.due, tz)}; {late} of "
                     f"{len(report.graded)} sheets late, {src}")
    return replace(report, results=tuple(results), notes=tuple(report.notes) + tuple(extra))


def _file_time(file: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(os.stat(file).st_mtime, timezone.utc)
    except (OSError, ValueError, OverflowError):
        return None


def late_note(final: Final, assignment: Assignment, tz: tzinfo | None) -> str:
    """"late: handed in 2026-12-12 09:30 +01:00 (file time), 1 d 9 h 30 min after the due
    date: −2 (2 days begun × 10% of 10), 6 of 10"."""
    head = (f"late: handed in {when_text(final.submitted, tz)} ({final.source}), "
            f"{duration_text(final.late)} after the due date")
    policy = assignment.late
    if policy is None:
        return head + ": late (no late penalty for this assignment)"
    unit = "day" if policy.period == timedelta(days=1) else "hour"
    n = final.periods
    how = f"{n} {unit}{'s' if n != 1 else ''} begun × {_pct(policy.per)} of {_num(final.possible)}"
    if final.penalty < min(n * policy.per, Fraction(1)) * final.possible:
        how += (f", kept at the floor of {_pct(policy.floor)}" if final.penalty else
                f"; nothing taken: the score is at or below the floor of {_pct(policy.floor)}")
    return (f"{head}: −{_num(final.penalty)} ({how}), {_num(final.points)} of "
            f"{_num(final.possible)}")


def when_text(dt: datetime | None, tz: tzinfo | None = None) -> str:
    if dt is None:
        return "unknown"
    dt = dt.astimezone(tz) if tz is not None else dt.astimezone()
    return dt.strftime("%Y-%m-%d %H:%M") + " " + dt.strftime("%z")[:3] + ":" + \
        dt.strftime("%z")[3:]


def duration_text(d: timedelta | None) -> str:
    if d is None:
        return ""
    secs = int(d.total_seconds())
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{mins} min" if mins else "", f"{secs} s" if secs and not days else ""]
    return " ".join(p for p in parts if p) or "0 s"


def _pct(x: Fraction) -> str:
    return f"{_num(x * 100)}%"


def _num(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    return f"{float(x):.4g}"


def summary(course: Course) -> list[str]:
    """The course in lines, for `tutor course`: its roster, secret, and each assignment."""
    out = [f"{course.title} ({course.file})"]
    out.append(f"  roster: {course.roster_file}" if course.roster_file else
               "  roster: none (gradebook rows for the sheets handed in only)")
    out.append(f"  secret: {course.secret_file}" if course.secret_file else
               "  secret: none (a student's variant follows from their id alone)")
    out.append("  timezone: " + (str(course.timezone) if course.timezone else
                                 "this machine's local time"))
    for a in course.assignments.values():
        out.append(f"  {a.name}: {a.exercise} — column {a.title!r}")
        out.append(f"    due {when_text(a.due, course.timezone)}" if a.due else
                   "    no due date (no late penalty)")
        out.append(f"    points: {_num(a.points)}" if a.points is not None else
                   "    points: the sheet's own (the sum of its step weights)")
        if a.weights:
            out.append("    weights: " + ", ".join(f"{k}: {v}" for k, v in a.weights.items()))
        if a.ft_credit is not None:
            out.append(f"    follow-through credit: {_num(a.ft_credit)}")
        if a.due:
            out.append(f"    late: {a.late.text()}" if a.late else "    late: no penalty")
    return out

