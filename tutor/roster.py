"""A class roster: the students a course hands sheets to and grades (`--roster FILE.csv`).

    students.csv ──read_roster──▶ Roster(students=(Student(id, name, line), …))
                                  │
    tutor template EX --roster students.csv --out DIR   one personal sheet per student
    tutor check EX DIR --roster students.csv            sheets checked against it

A roster is a CSV file with a header row, as a learning system exports it (UTF-8, a BOM
from Excel is fine, ``,`` or ``;`` or a tab between fields). The id column is the first
there of ``SIS User ID``, ``student id``, ``ID number`` (Moodle), ``ID`` (Canvas's own),
``SIS Login ID``, ``login_id``, ``username``, ``email``, ``student`` (any case; ``_`` for
the space too) — else the first column; the name column, if any, ``name`` / ``full name`` /
``student name`` / ``student`` (Canvas), else "first name" + "last name". An id is what a
sheet's ``student:`` holds and what picks the student's variant.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import InputError

ID_COLUMNS = ("sis user id", "sis_user_id", "student id", "student_id", "id number", "id",
              "sis login id", "login_id", "login id", "username", "email", "student")
NAME_COLUMNS = ("name", "full name", "student name", "full_name", "student")
MAX_STUDENTS = 100_000
MAX_BYTES = 20 * 2**20


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    line: int = 0  # in the roster file


@dataclass(frozen=True)
class Roster:
    file: str
    students: tuple[Student, ...]

    def ids(self) -> set[str]:
        return {student_key(s.id) for s in self.students}


def student_key(student: str) -> str:
    """A student id as it picks a variant: surrounding spaces dropped, inner runs of
    whitespace one space, lower case. ``str.lower`` rather than ``casefold``: an id that is
    already lower case is its own key, so every seed handed out before stays valid
    (casefold would turn "straße" into "strasse")."""
    return " ".join(str(student).split()).lower()


def read_roster(path: str | Path) -> Roster:
    """The roster in ``path``; InputError (file:line) for an unreadable file, a missing
    id, a duplicate id."""
    p = Path(path)
    return parse_roster(read_csv_text(p, "roster"), str(p))


def read_csv_text(p: Path, what: str) -> str:
    """A CSV file's text (UTF-8, an Excel BOM dropped); InputError when it cannot be read,
    is larger than MAX_BYTES or is not UTF-8. ``what`` names it in messages."""
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the {what}: {e.strerror or e}", str(p)) from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"the {what} is larger than {MAX_BYTES // 2**20} MB", str(p))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"the {what} is not UTF-8 text (byte {e.start + 1}); save it as "
                         "CSV UTF-8", str(p)) from None


def csv_rows(text: str, file: str, what: str = "roster") -> tuple[list[list[str]], int]:
    """(rows, index of the header row) of a CSV text whose fields are separated by ``,``,
    ``;`` or a tab (whichever the first line uses)."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise InputError(f"the {what} is empty: a header row, then one student a row", file, 1)
    try:
        dialect = csv.Sniffer().sniff(next(line for line in lines if line.strip()),
                                      delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return rows, next(k for k, r in enumerate(rows) if any(c.strip() for c in r))


def read_table(path: str | Path, what: str) -> tuple[list[list[str]], int]:
    """A CSV file as :func:`csv_rows` reads it (a roster's rules: UTF-8, a BOM, ,;tab)."""
    p = Path(path)
    return csv_rows(read_csv_text(p, what), str(p), what)


def id_column(header: list[str]) -> int:
    """The student id's column in a lower-cased header row (ID_COLUMNS, else the first)."""
    return next((header.index(c) for c in ID_COLUMNS if c in header), 0)


def parse_roster(text: str, file: str = "<roster>") -> Roster:
    """The roster in a CSV text (see the module docstring for its columns)."""
    rows, header_at = csv_rows(text, file)
    header = [c.strip().lower() for c in rows[header_at]]
    col = id_column(header)
    name_col = next((header.index(c) for c in NAME_COLUMNS
                     if c in header and header.index(c) != col), None)
    first_last = (header.index("first name"), header.index("last name")) \
        if {"first name", "last name"} <= set(header) else None
    out: list[Student] = []
    seen: dict[str, int] = {}
    for k, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        sid = row[col].strip() if col < len(row) else ""
        if not sid:
            raise InputError(f"no student id in column '{rows[header_at][col].strip()}'",
                             file, k)
        key = student_key(sid)
        if key in seen:
            raise InputError(f"student '{sid}' is on the roster twice (line {seen[key]} and "
                             f"line {k})", file, k)
        seen[key] = k
        name = ""
        if name_col is not None and name_col < len(row):
            name = row[name_col].strip()
        elif first_last is not None:
            name = " ".join(row[i].strip() for i in first_last if i < len(row)).strip()
        out.append(Student(sid, name, k))
        if len(out) > MAX_STUDENTS:
            raise InputError(f"more than {MAX_STUDENTS:,} students", file, k)
    if not out:
        raise InputError("the roster has a header row but no students", file, header_at + 1)
    return Roster(file, tuple(out))


def sheet_name(student_id: str) -> str:
    """The file a student's sheet is written to: the id with anything but letters, digits,
    ``.``, ``-``, ``_`` and ``@`` made ``_`` ("Ann Lee" → "Ann_Lee.yaml")."""
    safe = re.sub(r"[^\w.@-]", "_", student_id.strip(), flags=re.ASCII).strip(".") or "student"
    return safe[:120] + ".yaml"
