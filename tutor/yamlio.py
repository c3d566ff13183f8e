"""YAML through a safe loader: aliases refused, numbers exact, every value located.

    load_yaml(text, file) → Document(data, marks, key_marks)

``data`` is plain Python (dict, list, str, int, bool, None) with every YAML float — and every
plain scalar that reads as a decimal or scientific number, such as ``1e-3`` — as a
``decimal.Decimal`` built from its text, so ``0.1`` stays 1/10. ``marks[path]`` is the 1-based
line/column of the value at ``path`` (a tuple of keys and indices), ``key_marks[path]`` that of
its key. Anchors and aliases (the "billion laughs" bomb), duplicate keys, deep nesting, huge
files and several documents in one stream are refused with a located InputError.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

import yaml

from tutor.errors import InputError

MAX_DEPTH = 50
_NUMBER = re.compile(r"[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?")


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True)
class Document:
    data: Any
    marks: Mapping[tuple, Mark] = field(default_factory=dict)
    key_marks: Mapping[tuple, Mark] = field(default_factory=dict)

    def mark(self, path: tuple = ()) -> Mark | None:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return None
            path = path[:-1]


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases while composing."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            ev = self.peek_event()
            raise _located("YAML aliases and anchors are not allowed", ev.start_mark)
        ev = self.peek_event()
        if getattr(ev, "anchor", None):
            raise _located("YAML aliases and anchors are not allowed", ev.start_mark)
        return super().compose_node(parent, index)


class _Located(Exception):
    def __init__(self, message: str, mark):
        self.message, self.mark = message, mark


def _located(message, mark) -> _Located:
    return _Located(message, mark)


def _mark(m) -> Mark:
    return Mark(m.line + 1, m.column + 1)


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    tag = node.tag
    text = node.value
    if tag == "tag:yaml.org,2002:float" or (
            tag == "tag:yaml.org,2002:str" and node.style is None and text
            and _NUMBER.fullmatch(text) and any(c.isdigit() for c in text)):
        t = text.replace("_", "")
        if t.lower().lstrip("+-") in (".inf", ".nan"):
            raise _located("numbers must be finite", node.start_mark)
        try:
            return Decimal(t)
        except InvalidOperation:
            if tag == "tag:yaml.org,2002:float":
                raise _located("numbers must be finite", node.start_mark) from None
            return text
    if tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"):
        return loader.construct_object(node)
    return text


def _build(loader, node, path, marks, key_marks, depth) -> Any:
    if depth > MAX_DEPTH:
        raise _located(f"nesting deeper than {MAX_DEPTH} levels", node.start_mark)
    marks[path] = _mark(node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        return _scalar(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, child, path + (i,), marks, key_marks, depth + 1)
                for i, child in enumerate(node.value)]
    out: dict = {}
    first: dict = {}
    for knode, vnode in node.value:
        if not isinstance(knode, yaml.ScalarNode):
            raise _located("mapping keys must be plain names", knode.start_mark)
        key = knode.value
        if key in out:
            raise _located(f"duplicate key '{key}' (first at line {first[key]})",
                           knode.start_mark)
        first[key] = knode.start_mark.line + 1
        key_marks[path + (key,)] = _mark(knode.start_mark)
        out[key] = _build(loader, vnode, path + (key,), marks, key_marks, depth + 1)
    return out


def load_yaml(text: str, file: str | None = None, *, max_bytes: int = 1_000_000) -> Document:
    """Parse one YAML document safely (see the module docstring)."""
    if len(text) > max_bytes:
        raise InputError(f"file is larger than {max_bytes // 1000} kB", file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError("the file is empty", file, 1, 1)
        marks: dict = {}
        key_marks: dict = {}
        data = _build(loader, node, (), marks, key_marks, 0)
        return Document(data, marks, key_marks)
    except _Located as err:
        m = _mark(err.mark)
        raise InputError(err.message, file, m.line, m.col, code="E001") from None
    except yaml.MarkedYAMLError as err:
        m = err.problem_mark or err.context_mark
        msg = " ".join(p for p in (err.context, err.problem) if p) or "not valid YAML"
        if "expected a single document" in msg or "but found another document" in msg:
            msg = "several YAML documents in one file; one exercise or sheet per file"
        raise InputError(f"invalid YAML: {msg}", file, m.line + 1 if m else None,
                         m.column + 1 if m else None, code="E001") from None
    except (yaml.YAMLError, RecursionError) as err:
        raise InputError(f"invalid YAML: {err}", file, code="E001") from None
    finally:
        loader.dispose()


def read_yaml(path: str | os.PathLike) -> Document:
    """Read a UTF-8 file and load it (InputError, exit code 2, when unreadable)."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(1_000_001)
    except FileNotFoundError:
        raise InputError("no such file", name) from None
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", name) from None
    return load_yaml(text, name)
