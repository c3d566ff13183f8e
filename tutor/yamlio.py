"""YAML in, plain data and positions out: safely, exactly, one document, no aliases.

PyYAML's safe loader (libyaml's parser when available) produces the events; this module
composes them itself, which is where the rules live:

* anchors and aliases (``&a``, ``*a``) are refused, so "billion laughs" costs nothing;
* collections may nest at most 50 deep; the text is at most ``max_bytes`` bytes;
* mapping keys are plain scalars, kept as their text (``on:`` is the key ``"on"``, not
  ``True``), and may not repeat;
* YAML merge keys (``<<: {…}``) are refused: every key is written out where it applies;
* numbers are read exactly from their text, in plain decimal only: floats become
  :class:`decimal.Decimal` (``0.1`` is exactly 1/10), and so do plain scalars in scientific
  notation that YAML 1.1 leaves as strings (``1e-3``); ``1_000`` is 1000 (underscores between
  digits, as in Python and in quoted expressions). Every other form YAML 1.1 would silently
  re-base is refused (code ``E006``): a whole number with a leading zero (``010``, octal 8),
  hexadecimal/octal/binary (``0x1F``, ``0o17``, ``0b101``), base 60 (``1:30``), ``.inf`` and
  ``.nan``; quoted scalars stay strings (``"1/3"``);
* booleans are YAML 1.2's: ``true``/``false`` (``True``, ``FALSE`` …) only; ``yes``, ``no``,
  ``on`` and ``off``, booleans to YAML 1.1, stay text — as yaml-language-server (YAML 1.2 by
  default) reads them, so the editor and tutor agree (``title: yes`` is the title "yes";
  ``no_relu_at_zero: yes`` is refused by both: text where a boolean belongs);
* timestamps and unknown tags stay strings (their text); null as YAML says.

Every ``Document`` records the 1-based line/column of every value and every key, so a
problem found later (schema, names, cycles) can be reported at ``file:line:col``.
:func:`merge` lays one document on another (an exercise's ``extends:``, tutor.exercise) and
keeps each position in the file it came from (:class:`Line`); the refusals above stay: reuse
is by file, never by anchors or merge keys.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Mapping

import yaml
from yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from tutor.errors import InputError, visible

__all__ = ["Mark", "Document", "Scalar", "Line", "load_yaml", "load_yaml_raw", "read_yaml",
           "merge"]

MAX_BYTES = 1_000_000
MAX_DEPTH = 50  # nested collections
MAX_DIGITS = 1_000  # digits in one number (exponent ranges are the exercise layer's call)
CODE = "E005"  # "not valid YAML" in docs/authoring.md
NUMBER_CODE = "E006"  # "a number not written in plain decimal"

_TAG = "tag:yaml.org,2002:"
_DIGITS = r"[0-9]+(?:_[0-9]+)*"  # ASCII digits; an underscore only between two digits
# what a number may look like: a whole number (no leading zero), or a decimal/scientific one
_WHOLE = re.compile(r"[-+]?(?:0|[1-9][0-9]*(?:_[0-9]+)*)")
_DECIMAL = re.compile(rf"[-+]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][-+]?[0-9]+)?")
# YAML 1.2's booleans (the core schema); YAML 1.1's yes/no/on/off are text here
_BOOLEANS = ("true", "True", "TRUE", "false", "False", "FALSE")
# plain scalars YAML 1.1 leaves as strings but that are meant as numbers in another base
_OTHER_BASE = re.compile(r"[-+]?0[xXoObB][0-9A-Fa-f_]*")


class Line(int):
    """A 1-based line number that also names its file: the positions a document inherits
    from another file (:func:`merge`, ``extends:`` in tutor.exercise) keep their own file's
    name this way through every error made from ``mark.line`` — an int everywhere else."""

    def __new__(cls, value: int, file: str | None = None):
        line = super().__new__(cls, value)
        line.file = file
        return line

    def __reduce__(self):  # pickled (a worker's error) with its file
        return (Line, (int(self), self.file))


@dataclass(frozen=True)
class Mark:
    """A position in a file: 1-based line and column."""

    line: int
    col: int

    @property
    def file(self) -> str | None:
        """The file this position is in when it is not the document's own (a base file of
        ``extends:``: :func:`merge`), else None."""
        return getattr(self.line, "file", None)


@dataclass(frozen=True)
class Document:
    """Plain data (dict/list/str/int/bool/None/Decimal) and where each part came from.

    ``marks[path]`` is the position of the value at ``path`` (a tuple of keys and list
    indices; ``()`` is the root); ``key_marks[path]`` that of the key of a mapping entry.
    """

    data: Any
    marks: Mapping[tuple, Mark]
    key_marks: Mapping[tuple, Mark]
    # the other files merged into this one (:func:`merge`), nearest first; () for one file
    bases: tuple = ()

    def mark(self, path) -> Mark | None:
        """The position of ``path``, or of its nearest ancestor with a known position."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            found = self.marks.get(path[:end])
            if found is not None:
                return found
        return None


def load_yaml(text: str, file: str | None = None, *, max_bytes: int = MAX_BYTES,
              _raw: bool = False) -> Document:
    """Parse one YAML document from ``text``; every problem is an :class:`InputError`."""
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text), file)
    if not isinstance(text, str):
        raise InputError(f"expected YAML text, got {type(text).__name__}", file)
    if len(text) > max_bytes:
        raise _too_large(max_bytes, file)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        line, col = _position(text, exc.start)
        raise InputError("not valid Unicode text (a lone surrogate)", file, line, col,
                         code=CODE) from None
    if size > max_bytes:
        raise _too_large(max_bytes, file)
    loader = None
    try:
        loader = _Loader(text)  # the pure-Python reader checks characters here
        root = loader.single_node(file)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position)
        raise InputError(f"unacceptable character U+{exc.character:04X} "
                         f"(control characters are not allowed)", file, line, col,
                         code=CODE) from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML: {exc}", file, code=CODE) from None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return Document(None, MappingProxyType({(): Mark(1, 1)}), MappingProxyType({}))
    builder = (_RawBuilder if _raw else _Builder)(loader, file)
    data = builder.build(root, ())
    return Document(data, MappingProxyType(builder.marks), MappingProxyType(builder.key_marks))


@dataclass(frozen=True)
class Scalar:
    """A scalar as written (:func:`load_yaml_raw`): ``text`` is a plain scalar's source text
    (``0x10``, ``1:30``, ``yes``, ``.inf`` stay as typed), a quoted or block scalar's string
    value; ``plain`` is whether it was unquoted and untagged; ``tag`` what YAML 1.1 would make
    of it (``int``, ``float``, ``bool``, ``null``, ``str``, ``timestamp``, or an explicit tag)."""

    text: str
    plain: bool
    tag: str


def load_yaml_raw(text: str, file: str | None = None, *,
                  max_bytes: int = MAX_BYTES) -> Document:
    """Like :func:`load_yaml` (same limits, errors and marks), but every scalar *value* is a
    :class:`Scalar` and nothing is converted, so untrusted text (answer sheets) is never
    rewritten by YAML 1.1's implicit types. Mapping keys are their text, as in load_yaml."""
    return load_yaml(text, file, max_bytes=max_bytes, _raw=True)


def read_yaml(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> Document:
    """Read and parse a UTF-8 YAML file; errors carry the file name (exit status 2)."""
    name = os.fspath(path)
    return load_yaml(read_text(name, max_bytes=max_bytes), name, max_bytes=max_bytes)


def read_text(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES,
              kind: str = "YAML file") -> str:
    """A UTF-8 text file of at most ``max_bytes`` (never more is read); InputError (exit 2)
    for a missing, unreadable, oversized or non-UTF-8 file. Exercises and sheets alike."""
    name = os.fspath(path)
    return _decode(read_bytes(name, max_bytes=max_bytes, kind=kind), name)


# what a path can be instead of a file, as said in a message
_NOT_FILE = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def read_bytes(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES,
               kind: str = "YAML file") -> bytes:
    """At most ``max_bytes`` + 1 bytes of a *regular* file, never blocking: the file is
    opened non-blocking and checked with fstat before a byte is read, so a FIFO (which
    would wait for a writer forever), a device (``/dev/zero`` never ends), a socket, a
    dangling link or a link loop is one InputError (exit 2) that says which it is."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _OPEN_FLAGS)
    except FileNotFoundError:
        if os.path.islink(name):
            try:
                target = os.readlink(name)
            except OSError:
                target = "?"
            raise InputError(f"a symbolic link to '{visible(target)}', which does not exist",
                             name) from None
        raise InputError("no such file", name) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not a {kind}", name) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("a loop of symbolic links: it never reaches a file", name) from None
        raise InputError(f"cannot read the file: {exc.strerror or exc}", name) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(f"is a directory, not a {kind}", name)
        if not stat.S_ISREG(mode):
            what = next((w for test, w in _NOT_FILE if test(mode)), "not a regular file")
            raise InputError(f"is {what}, not a {kind}: only regular files are read", name)
        chunks, left = [], max_bytes + 1
        while left > 0:  # a regular file never blocks; a short read means its end
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", name) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise _too_large(max_bytes, name)
    return raw


def merge(base: Document, over: Document, base_file: str, *,
          whole: Any = None) -> Document:
    """``over`` laid on ``base`` (``extends:``): a deep merge of mappings. A key of ``over``
    replaces the base's; a mapping in both merges key by key, at every depth; a list or a
    scalar replaces the base's whole; a key whose value in ``over`` is null (``~``) removes
    the key (nothing is left at it). ``whole(path)`` names the mappings that are replaced
    whole too (a choice among keys, such as a tolerance). Every position is kept from the
    file the value came from: the base's marks carry ``base_file`` (:class:`Line`), so an
    error about an inherited value points into the base file."""
    marks: dict[tuple, Mark] = {}
    key_marks: dict[tuple, Mark] = {}

    def tagged(m: Mark | None) -> Mark | None:
        if m is None or m.file is not None:  # already another file's (a longer chain)
            return m
        return Mark(Line(m.line, base_file), m.col)

    def copy(doc: Document, value: Any, path: tuple, tag: bool) -> Any:
        m = doc.marks.get(path)
        if m is not None:
            marks[path] = tagged(m) if tag else m
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                km = doc.key_marks.get(path + (k,))
                if km is not None:
                    key_marks[path + (k,)] = tagged(km) if tag else km
                out[k] = copy(doc, v, path + (k,), tag)
            return out
        if isinstance(value, list):
            return [copy(doc, v, path + (i,), tag) for i, v in enumerate(value)]
        return value

    def both(b: Any, o: Any, path: tuple) -> Any:
        if not (isinstance(b, dict) and isinstance(o, dict)) or (whole and whole(path)):
            return copy(over, o, path, False)
        m = over.marks.get(path)
        if m is not None:
            marks[path] = m
        out = {}
        for k, v in b.items():
            if k in o:
                if o[k] is None:
                    continue  # removed
                km = over.key_marks.get(path + (k,)) or tagged(base.key_marks.get(path + (k,)))
                if km is not None:
                    key_marks[path + (k,)] = km
                out[k] = both(v, o[k], path + (k,))
            else:
                km = base.key_marks.get(path + (k,))
                if km is not None:
                    key_marks[path + (k,)] = tagged(km)
                out[k] = copy(base, v, path + (k,), True)
        for k, v in o.items():
            if k not in b and v is not None:
                km = over.key_marks.get(path + (k,))
                if km is not None:
                    key_marks[path + (k,)] = km
                out[k] = copy(over, v, path + (k,), False)
        return out

    data = both(base.data, over.data, ())
    if () not in marks and base.marks.get(()) is not None:
        marks[()] = tagged(base.marks[()])
    return Document(data, MappingProxyType(marks), MappingProxyType(key_marks),
                    (base_file,) + tuple(base.bases))


# ─── composing: events -> nodes ───────────────────────────────────────────────────────

class _Composer:
    """Mixed into a safe loader, used for its parser (events), resolver and constructors."""

    def single_node(self, file: str | None):
        """The root node of the only document, composed by :meth:`node`."""
        self.file, self.depth = file, 0
        self.get_event()  # StreamStart
        if self.check_event(StreamEndEvent):
            return None
        self.get_event()  # DocumentStart
        root = self.node()
        self.get_event()  # DocumentEnd
        if not self.check_event(StreamEndEvent):
            event = self.peek_event()
            raise self.error("only one YAML document per file: a second one starts here",
                             event)
        return root

    def node(self):
        event = self.peek_event()
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
            raise self.error("YAML aliases and anchors are not allowed", event)
        if isinstance(event, ScalarEvent):
            self.get_event()
            tag = event.tag
            explicit = tag not in (None, "!")
            if not explicit:
                tag = self.resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                              style=event.style or None)  # libyaml says '' for plain
            node.explicit = explicit
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested too deeply (more than {MAX_DEPTH} levels)", event)
        try:
            if isinstance(event, SequenceStartEvent):
                return self.sequence()
            if isinstance(event, MappingStartEvent):
                return self.mapping()
            raise self.error(f"unexpected {type(event).__name__}", event)
        finally:
            self.depth -= 1

    def sequence(self) -> SequenceNode:
        start = self.get_event()
        items = []
        while not self.check_event(SequenceEndEvent):
            items.append(self.node())
        end = self.get_event()
        return SequenceNode(_TAG + "seq", items, start.start_mark, end.end_mark)

    def mapping(self) -> MappingNode:
        start = self.get_event()
        pairs = []
        while not self.check_event(MappingEndEvent):
            event = self.peek_event()
            key = self.node()
            if isinstance(key, ScalarNode) and key.tag == _TAG + "merge":
                raise self.error("YAML merge keys (<<) are not allowed: write the keys out "
                                 "where they belong", event)
            pairs.append((key, self.node()))
        end = self.get_event()
        return MappingNode(_TAG + "map", pairs, start.start_mark, end.end_mark)

    def error(self, message: str, event) -> InputError:
        m = event.start_mark
        return InputError(message, self.file, m.line + 1, m.column + 1, code=CODE)


class _PyLoader(_Composer, yaml.SafeLoader):
    """Pure-Python parser."""


# libyaml's parser is several times faster on large files; the rules above are the same.
_Loader = type("_Loader", (_Composer, yaml.CSafeLoader), {}) if getattr(
    yaml, "__with_libyaml__", False) else _PyLoader


# ─── building: nodes -> data, marks ───────────────────────────────────────────────────

class _Builder:
    def __init__(self, loader, file: str | None):
        self.loader, self.file = loader, file
        self.marks: dict[tuple, Mark] = {}
        self.key_marks: dict[tuple, Mark] = {}

    def build(self, node, path: tuple) -> Any:
        self.marks[path] = _mark(node)
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            first: dict[str, Mark] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise self.error("a mapping key must be a plain name or number, "
                                     "not a list or mapping", key_node)
                key = key_node.value
                if key in first:
                    raise self.error(f"duplicate key '{key}' (first at line "
                                     f"{first[key].line})", key_node)
                first[key] = self.key_marks[path + (key,)] = _mark(key_node)
                out[key] = self.build(value_node, path + (key,))
            return out
        return self.scalar(node)

    def scalar(self, node: ScalarNode) -> Any:
        tag, text = node.tag, node.value
        if tag == _TAG + "str":
            if node.style is None and not node.explicit:
                if _DECIMAL.fullmatch(text):  # scientific notation YAML 1.1 leaves as text
                    return self.decimal(text, node)
                if _OTHER_BASE.fullmatch(text):  # 0o17, 0X1F: YAML 1.1 leaves them as text
                    raise self.number_error(text, node, None)
            return text
        if tag == _TAG + "float":
            return self.decimal(text, node)
        if tag == _TAG + "int":
            self.check_length(text, node)
            if not _WHOLE.fullmatch(text):
                raise self.number_error(text, node, self.yaml_value(node))
            return int(text.replace("_", ""))
        if tag == _TAG + "bool":
            if text not in _BOOLEANS and node.style is None and not node.explicit:
                return text  # yes/no/on/off: YAML 1.1's booleans, YAML 1.2's text
            try:
                return self.loader.construct_yaml_bool(node)
            except KeyError:
                raise self.error(f"not a boolean: {text!r}", node) from None
        if tag == _TAG + "null":
            return None
        return text  # timestamps, unknown tags: the text as written

    def decimal(self, text: str, node: ScalarNode) -> Decimal:
        """An exact number from its text: plain decimal or scientific notation, nothing else."""
        self.check_length(text, node)
        if text.lower().lstrip("+-") in (".inf", ".nan"):
            raise self.error(f"numbers must be finite, not {text!r}", node, NUMBER_CODE)
        if not _DECIMAL.fullmatch(text):
            raise self.number_error(text, node, self.yaml_value(node))
        try:
            value = Decimal(text.replace("_", ""))
        except InvalidOperation:
            raise self.error(f"not a number: {text!r}", node, NUMBER_CODE) from None
        if not value.is_finite():
            raise self.error(f"numbers must be finite, not {text!r}", node, NUMBER_CODE)
        return value

    def yaml_value(self, node: ScalarNode):
        """What YAML 1.1 makes of a number written in another form (for the message), or
        None. Only called after check_length, so the conversion is cheap."""
        try:
            construct = (self.loader.construct_yaml_int if node.tag == _TAG + "int"
                         else self.loader.construct_yaml_float)
            value = construct(node)
        except (ValueError, TypeError, OverflowError):
            return None
        return value if isinstance(value, int) or value == value else None

    def number_error(self, text: str, node, yaml_value) -> InputError:
        """One message for every number YAML 1.1 would read in another base or form."""
        bare = text.lstrip("+-").lower()
        if ":" in bare:
            why = "a base-60 (sexagesimal) number"
        elif bare[:2] in ("0x", "0o", "0b"):
            why = {"0x": "a hexadecimal", "0o": "an octal", "0b": "a binary"}[bare[:2]] + \
                " number"
        elif re.fullmatch(r"0[0-9_]+", bare):
            why = "a whole number with a leading zero"
        elif "_" in bare and re.fullmatch(r"[0-9_.e+-]+", bare):
            why = "an underscore not between two digits"
        else:  # an explicit tag on text: !!int xyz, !!float abc
            kind = "an integer" if node.tag == _TAG + "int" else "a number"
            return self.error(f"not {kind}: {text!r}", node, NUMBER_CODE)
        means = f" (YAML 1.1 would read {yaml_value})" if yaml_value is not None else ""
        return self.error(f"'{text}': {why}{means}; numbers are read only in plain decimal "
                          f"(10, -0.5, 1e-3, 1_000): write the number you mean that way, or "
                          f"quote it if it is text", node, NUMBER_CODE)

    def check_length(self, text: str, node: ScalarNode) -> None:
        digits = sum(c.isalnum() for c in text)
        if digits > MAX_DIGITS:
            raise self.error(f"number too long: {digits} digits (at most {MAX_DIGITS:,})", node)

    def error(self, message: str, node, code: str = CODE) -> InputError:
        m = _mark(node)
        return InputError(message, self.file, m.line, m.col, code=code)


class _RawBuilder(_Builder):
    """Scalars as written (load_yaml_raw): no numbers, booleans or nulls are made."""

    def scalar(self, node: ScalarNode) -> Scalar:
        tag = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag
        return Scalar(node.value, node.style is None and not node.explicit, tag)


# ─── helpers ──────────────────────────────────────────────────────────────────────────

def _mark(node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _too_large(max_bytes: int, file: str | None) -> InputError:
    return InputError(f"file too large: more than {max_bytes:,} bytes", file, code=CODE)


def _decode(raw: bytes, file: str | None) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[:exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        raise InputError(f"not UTF-8 text: byte 0x{raw[exc.start]:02x} cannot be read "
                         f"(save the file as UTF-8)", file, line, col, code=CODE) from None


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _yaml_error(exc: yaml.MarkedYAMLError, file: str | None, text: str) -> InputError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    message = problem
    if exc.context and exc.problem:
        where = f" at line {exc.context_mark.line + 1}" if exc.context_mark else ""
        message = f"{problem} ({exc.context}{where})"
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
        message += "; indent with spaces, not tabs"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
    return InputError(f"invalid YAML: {message}", file, line, col, code=CODE)
