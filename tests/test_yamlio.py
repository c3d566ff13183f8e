"""YAML input (tutor.yamlio): safe, exact, located, one document, no aliases."""
from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest
import sympy as sp

import tutor.yamlio as yamlio
from tutor.errors import ExitCode, InputError
from tutor.expr import parse_expression
from tutor.yamlio import Document, Mark, load_yaml, read_yaml


@pytest.fixture(autouse=True, params=["default", "pure-python"])
def parser(request, monkeypatch):
    """Every test runs with libyaml's parser (when installed) and with PyYAML's own."""
    if request.param == "pure-python":
        monkeypatch.setattr(yamlio, "_Loader", yamlio._PyLoader)
    return request.param


def error(text, **kw) -> InputError:
    with pytest.raises(InputError) as info:
        load_yaml(text, "f.yaml", **kw)
    return info.value


NESTED = """\
a: 1
b: [0.1, -0.1]
c:
  - {x: 1e-3, y: '1/3'}
  - -2E5
"""


# ─── values ───────────────────────────────────────────────────────────────────────────

def test_numbers_are_exact_decimals_from_the_text():
    data = load_yaml("a: 0.1\nb: 1e-3\nc: -2E5\nd: 1.5e3\ne: 3\nf: .5\ng: 1_000.25\n"
                     "h: 1_000\ni: -0\nj: 0.05\nk: 00.5\n").data
    assert data == {"a": Decimal("0.1"), "b": Decimal("0.001"), "c": Decimal("-200000"),
                    "d": Decimal("1500"), "e": 3, "f": Decimal("0.5"),
                    "g": Decimal("1000.25"), "h": 1000, "i": 0, "j": Decimal("0.05"),
                    "k": Decimal("0.5")}
    assert str(data["a"]) == "0.1"  # from the text, not from the float 0.1
    assert type(data["e"]) is int and type(data["h"]) is int


PLAIN = "numbers are read only in plain decimal (10, -0.5, 1e-3, 1_000): write the " \
        "number you mean that way, or quote it if it is text"


@pytest.mark.parametrize("text, said", [
    ("010", "'010': a whole number with a leading zero (YAML 1.1 would read 8)"),
    ("017", "'017': a whole number with a leading zero (YAML 1.1 would read 15)"),
    ("-007", "'-007': a whole number with a leading zero (YAML 1.1 would read -7)"),
    ("0_1", "'0_1': a whole number with a leading zero (YAML 1.1 would read 1)"),
    ("0x1F", "'0x1F': a hexadecimal number (YAML 1.1 would read 31)"),
    ("0X1F", "'0X1F': a hexadecimal number"),  # YAML 1.1 leaves it as text
    ("0o17", "'0o17': an octal number"),  # likewise
    ("0b101", "'0b101': a binary number (YAML 1.1 would read 5)"),
    ("1:00", "'1:00': a base-60 (sexagesimal) number (YAML 1.1 would read 60)"),
    ("-1:30.5", "'-1:30.5': a base-60 (sexagesimal) number (YAML 1.1 would read -90.5)"),
    ("1__000", "'1__000': an underscore not between two digits (YAML 1.1 would read 1000)"),
    ("1_", "'1_': an underscore not between two digits (YAML 1.1 would read 1)"),
    ("!!int 010", "'010': a whole number with a leading zero (YAML 1.1 would read 8)"),
])
def test_numbers_in_another_base_or_form_are_refused_not_rebased(text, said):
    """YAML 1.1 reads 010 as 8, 0x1F as 31, 1:00 as 60: each is one located E006 instead."""
    err = error(f"inputs: {{x: 1, y: {text}}}\n")
    assert (err.message, err.line, err.col, err.code) == (f"{said}; {PLAIN}", 1, 19, "E006")
    assert err.exit_code == ExitCode.USAGE


def test_numbers_in_quotes_and_lookalike_text_stay_text():
    data = load_yaml("a: '010'\nb: \"0x1F\"\nc: 12:30 pm\nd: 0xygen\ne: v1.0\n").data
    assert data == {"a": "010", "b": "0x1F", "c": "12:30 pm", "d": "0xygen", "e": "v1.0"}


def test_merge_keys_are_refused_like_aliases():
    err = error("inputs: {x: 1, <<: {y: 2}}\n")
    assert str(err) == ("f.yaml:1:16: YAML merge keys (<<) are not allowed: write the keys "
                        "out where they belong")
    assert err.code == "E005"
    err = error("a:\n  x: 1\n  <<: {y: 2}\n")
    assert (err.line, err.col) == (3, 3)
    assert load_yaml("a: {'<<': 1}\n").data == {"a": {"<<": 1}}  # a quoted key is a name


def test_quoted_scalars_stay_strings_and_other_scalars_as_yaml_says():
    data = load_yaml("q: '1/3'\nr: \"0.5\"\ns: 6 + log(1 + sqrt(2))\non: yes\nn: ~\n"
                     "t: 2024-01-01\nu: !!str 1e3\nv: !!float '2.5'\nw: !custom text\n").data
    # yes/no/on/off are text, as YAML 1.2 (and yaml-language-server) reads them
    assert data == {"q": "1/3", "r": "0.5", "s": "6 + log(1 + sqrt(2))", "on": "yes",
                    "n": None, "t": "2024-01-01", "u": "1e3", "v": Decimal("2.5"),
                    "w": "text"}
    assert list(data)[3] == "on"  # keys are their text: 'on' is not True here


def test_lambda_is_an_ordinary_name():
    doc = load_yaml("constants: {y: 1, lambda: 0.1}\nparams: {a: 1, c: 2}\n"
                    "nodes:\n  R: lambda/2*(a**2 + c**2)\n")
    values = {k: sp.Rational(str(v)) for k, v in
              {**doc.data["constants"], **doc.data["params"]}.items()}
    assert doc.data["constants"]["lambda"] == Decimal("0.1")
    assert parse_expression(doc.data["nodes"]["R"], values) == sp.Rational(1, 4)
    assert doc.key_marks[("constants", "lambda")] == Mark(1, 19)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "--- \n...\n"])
def test_an_empty_document_is_none(text):
    doc = load_yaml(text)
    assert doc.data is None and doc.mark(()).col == 1


# ─── positions ────────────────────────────────────────────────────────────────────────

def test_marks_of_values_and_keys():
    doc = load_yaml(NESTED, "f.yaml")
    assert doc.marks[()] == Mark(1, 1)
    assert doc.marks[("a",)] == Mark(1, 4)
    assert doc.marks[("b",)] == Mark(2, 4)
    assert doc.marks[("b", 0)] == Mark(2, 5)
    assert doc.marks[("b", 1)] == Mark(2, 10)  # inside a flow list
    assert doc.marks[("c", 0, "x")] == Mark(4, 9)
    assert doc.marks[("c", 0, "y")] == Mark(4, 18)
    assert doc.marks[("c", 1)] == Mark(5, 5)
    assert doc.key_marks[("c",)] == Mark(3, 1)
    assert doc.key_marks[("c", 0, "y")] == Mark(4, 15)
    assert ("c", 1) not in doc.key_marks  # list items have no key


def test_mark_walks_up_to_the_nearest_known_path():
    doc = load_yaml(NESTED)
    assert doc.mark(("c", 0, "x", "deeper", 3)) == Mark(4, 9)
    assert doc.mark(["b", 1]) == Mark(2, 10)
    assert doc.mark(("nope",)) == Mark(1, 1)
    assert Document(None, {}, {}).mark(("a",)) is None


def test_columns_count_characters_not_bytes():
    doc = load_yaml("é: [0.1, 'ü', 2.5]\n")
    assert doc.marks[("é", 2)] == Mark(1, 15)


def test_document_is_frozen_and_read_only():
    doc = load_yaml(NESTED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.data = {}
    with pytest.raises(TypeError):
        doc.marks[("z",)] = Mark(1, 1)


# ─── refusals ─────────────────────────────────────────────────────────────────────────

def test_anchors_and_aliases_are_refused():
    err = error("a: &x 1\nb: *x\n")
    assert str(err) == "f.yaml:1:4: YAML aliases and anchors are not allowed"
    assert (err.line, err.col, err.exit_code) == (1, 4, ExitCode.USAGE)
    assert error("a: 1\nb: *x\n").message == "YAML aliases and anchors are not allowed"


def test_the_billion_laughs_are_refused_fast():
    lol = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))
    t = time.perf_counter()
    err = error("id: x\n" + lol)
    assert time.perf_counter() - t < 5  # generous: computing it would never end
    assert (err.line, err.col) == (2, 4) and "aliases" in err.message


def test_duplicate_keys_are_refused():
    assert str(error("a: 1\nb: 2\na: 3\n")) == "f.yaml:3:1: duplicate key 'a' (first at line 1)"
    assert str(error("{x: 1, x: 2}")) == "f.yaml:1:8: duplicate key 'x' (first at line 1)"


def test_bad_yaml_is_one_located_line():
    err = error("id: bad\nparams: {a: 1\nnodes: {L: a**2}\n")
    assert str(err).startswith("f.yaml:3:") and "invalid YAML" in str(err)
    assert "\n" not in str(err) and err.code == "E005"
    err = error("a: 1\n\tb: 2\n")
    assert (err.line, err.col) == (2, 1) and err.message.endswith("indent with spaces, not tabs")


@pytest.mark.parametrize("text, message, line, col", [
    ("a: .inf\n", "numbers must be finite, not '.inf'", 1, 4),
    ("a: +.inf\n", "numbers must be finite, not '+.inf'", 1, 4),
    ("a: [1, -.INF]\n", "numbers must be finite, not '-.INF'", 1, 8),
    ("a: .NaN\n", "numbers must be finite, not '.NaN'", 1, 4),
    ("a: 1\n---\nb: 2\n", "only one YAML document per file: a second one starts here", 2, 1),
    ("? [a, b]\n: 1\n", "a mapping key must be a plain name or number, not a list or mapping",
     1, 3),
    ("a: " + "1" * 1001 + "\n", "number too long: 1001 digits (at most 1,000)", 1, 4),
    ("a: !!int xyz\n", "not an integer: 'xyz'", 1, 4),
    ("a: !!bool maybe\n", "not a boolean: 'maybe'", 1, 4),
    ("a: 1\x00\n", "unacceptable character U+0000 (control characters are not allowed)", 1, 5),
    ("a: \ud800\n", "not valid Unicode text (a lone surrogate)", 1, 4),
])
def test_refusals(text, message, line, col):
    err = error(text)
    assert (err.message, err.line, err.col, err.file) == (message, line, col, "f.yaml")


def test_nesting_is_limited():
    assert load_yaml("[" * 50 + "]" * 50).mark((0,) * 49) == Mark(1, 50)
    err = error("[" * 51 + "]" * 51)
    assert (err.message, err.line, err.col) == ("nested too deeply (more than 50 levels)", 1, 51)
    for text in ("a: " + "[" * 900_000, "a:\n" + "- " * 60 + "1\n", "{a: " * 500 + "1"):
        t = time.perf_counter()
        err = error(text)  # too deep, or a key longer than YAML allows: refused either way
        assert time.perf_counter() - t < 5  # generous: computing it would never end
        assert err.file == "f.yaml" and err.line is not None


def test_size_is_limited_before_parsing():
    assert error("a: 1\n", max_bytes=4).message == "file too large: more than 4 bytes"
    assert error("a: 'é'\n", max_bytes=7).message == "file too large: more than 7 bytes"
    t = time.perf_counter()
    assert "too large" in error("x" * 10_000_000).message
    assert time.perf_counter() - t < 1  # generous: a loaded machine


# ─── files ────────────────────────────────────────────────────────────────────────────

def test_read_yaml(tmp_path):
    p = tmp_path / "ex.yaml"
    p.write_bytes("\ufeffa: 0.1\nb: [1, 2.5]\n".encode())  # a BOM is fine
    doc = read_yaml(p)
    assert doc.data == {"a": Decimal("0.1"), "b": [1, Decimal("2.5")]}
    assert doc.marks[("a",)] == Mark(1, 4) and doc.marks[("b", 1)] == Mark(2, 8)


def test_read_yaml_errors_carry_the_file_name(tmp_path):
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"a: 1\nb: \xff\xfe\n")
    with pytest.raises(InputError) as info:
        read_yaml(bad)
    assert str(info.value).startswith(f"{bad}:2:4: not UTF-8 text: byte 0xff")
    with pytest.raises(InputError) as info:
        load_yaml(b"a: \xff", "b.yaml")
    assert str(info.value).startswith("b.yaml:1:4: not UTF-8")
    for path, message in ((tmp_path / "nope.yaml", "no such file"),
                          (tmp_path, "is a directory, not a YAML file")):
        with pytest.raises(InputError) as info:
            read_yaml(path)
        assert str(info.value) == f"{path}: {message}"
        assert info.value.exit_code == ExitCode.USAGE == 2
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: 1\n" * 300_000)
    t = time.perf_counter()
    with pytest.raises(InputError, match="file too large: more than 1,000,000 bytes"):
        read_yaml(big)
    assert time.perf_counter() - t < 5  # refused before parsing
    big.write_bytes(b"a: 1\n" * 3)
    with pytest.raises(InputError, match="file too large: more than 10 bytes"):
        read_yaml(big, max_bytes=10)
    with pytest.raises(InputError, match="duplicate key 'a'"):
        read_yaml(big, max_bytes=15)
