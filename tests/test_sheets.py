"""Answer sheets: the template, reading a sheet exactly, and refusing what is unsafe."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tutor.core import work
from tutor.errors import InputError
from tutor.sheets import MAX_BYTES, parse_sheet, read_sheet, unknown_ids
from tutor.template import template

SHEETS = Path(__file__).parent / "sheets"


def test_the_template_lists_every_step_in_order_with_meaning_and_shape():
    w = work("lab9-relu-sigmoid-bce")
    text = template(w)
    assert "exercise: lab9-relu-sigmoid-bce\n" in text
    assert f'sha: "{w.exercise.math_sha}"' in text
    assert 'student: ""\n' in text
    assert "  dW2:      # ∂L/∂W2, 2×2\n" in text
    assert "  delta2:   # δ2 = ∂L/∂z2, vector of 2\n" in text
    assert "  b3_new:   # b3 − η · ∂L/∂b3, scalar\n" in text
    ids = [line.split(":")[0].strip() for line in text.split("answers:\n")[1].splitlines()
           if not line.strip().startswith("#")]
    assert ids == [s.id for s in w.steps]


def test_a_wide_given_matrix_is_written_one_row_per_line(tmp_path):
    f = tmp_path / "wide.yaml"
    f.write_text("id: wide\nkind: network\ninput: [1, 2, 3, 4, 5]\ntarget: [1, 0, 1]\n"
                 "layers:\n  - W: [[0.123, -0.456, 0.789, 0.101, -0.202], [0.303, -0.404, 0.505, "
                 "-0.606, 0.707], [0.808, 0.909, -0.111, 0.222, -0.333]]\n"
                 "    b: [0.1, 0.2, 0.3]\n    activation: identity\nloss: mse\n")
    text = template(work(str(f)))
    assert ("#   W1 = [[0.123, -0.456, 0.789, 0.101, -0.202],\n"
            "#        [0.303, -0.404, 0.505, -0.606, 0.707],\n"
            "#        [0.808, 0.909, -0.111, 0.222, -0.333]]  (layer 1)\n") in text
    assert "#   b1 = [0.1, 0.2, 0.3]  (layer 1)\n" in text


def test_the_template_reads_back_as_a_blank_sheet_for_its_exercise():
    w = work("branch-merge-l2")
    sheet = parse_sheet(template(w, student="ada"), "t.yaml")
    assert (sheet.exercise, sheet.sha, sheet.student, sheet.seed) == (
        "branch-merge-l2", w.exercise.math_sha, "ada", None)
    assert list(sheet.answers) == [s.id for s in w.steps]
    assert "it2.da" in sheet.answers and set(sheet.answers.values()) == {None}
    assert sheet.lines["u"] == template(w).splitlines().index(
        next(line for line in template(w).splitlines() if line.startswith("  u:"))) + 1


def test_yaml_numbers_come_back_as_the_exact_text_typed():
    s = parse_sheet("exercise: x\nanswers:\n  delta3: -0.3654\n  z3: 1.2e-3\n"
                    "  dW2: [[-0.1315, -0.0219], [0, 0]]\n  z2: 0.42; -0.17\n  a: 7\n"
                    "  b: '-73/200'\n  c:\n  d: 1.50\n  e: [1E-3, \"1/3\"]\n  f: ~\n",
                    "s.yaml")
    assert s.answers == {"delta3": "-0.3654", "z3": "1.2e-3",
                         "dW2": "[[-0.1315, -0.0219], [0, 0]]", "z2": "0.42; -0.17", "a": "7",
                         "b": "-73/200", "c": None, "d": "1.50", "e": "[1E-3, 1/3]", "f": None}
    assert not s.invalid


@pytest.mark.parametrize("typed,yaml_1_1_made", [
    ("0x10", 16), ("0o17", 15), ("1_000", 1000), ("1:30", 90), ("yes", True), ("on", True),
    ("no", False), (".inf", "inf"), ("-.Inf", "-inf"), (".NaN", "nan")])
def test_yaml_1_1_never_rewrites_what_the_student_typed(typed, yaml_1_1_made):
    s = parse_sheet(f"answers:\n  L: {typed}\n  z3: [{typed}, 2]\n", "s.yaml")
    assert s.answers["L"] == typed and s.answers["z3"] == f"[{typed}, 2]"
    assert s.lines == {"L": 2, "z3": 3}


@pytest.mark.parametrize("typed,why", [
    (".inf", "'.inf' is infinite: an answer is a finite number"),
    ("-.inf", "'-.inf' is infinite: an answer is a finite number"),
    (".nan", "'.nan' is not a number: an answer is a finite number"),
    ("1:30", "'1:30' is not a number: ':' is not allowed in an answer"),
])
def test_what_yaml_would_read_as_inf_nan_or_base_60_is_one_invalid_answer(typed, why):
    s = parse_sheet(f"answers:\n  L: {typed}\n  z3: 0.552\n  W: [1, {typed}]\n", "s.yaml")
    assert s.invalid["L"].startswith(why) and s.invalid["W"].startswith(why)
    assert s.answers["L"] == typed and s.answers["W"] == f"[1, {typed}]"  # shown as typed
    assert s.answers["z3"] == "0.552" and "z3" not in s.invalid


def test_header_fields_are_read_as_text_and_the_seed_as_a_whole_number():
    s = parse_sheet('exercise: lab9-variants\nsha: 1234e5678\nstudent: yes\nseed: 0017\n'
                    'answers:\n', "class/x.yaml")
    assert (s.exercise, s.sha, s.student, s.seed, s.named) == (
        "lab9-variants", "1234e5678", "yes", 17, True)
    s = parse_sheet("student:\nseed: 5\nanswers:\n", "class/ada.yaml")
    assert (s.student, s.named, s.seed) == ("ada", False, 5)
    with pytest.raises(InputError, match=r"s\.yaml:1: seed must be a whole number, not '0x11'"):
        parse_sheet("seed: 0x11\nanswers:\n", "s.yaml")


def test_a_student_without_a_header_name_is_named_after_the_file():
    assert parse_sheet("answers: {}\n", "class/ada.yaml").student == "ada"


def test_a_mapping_as_an_answer_is_invalid_not_a_crash():
    s = parse_sheet("answers:\n  dW2: {a: 1}\n", "s.yaml")
    assert s.answers["dW2"] == "{a: 1}" and "mapping" in s.invalid["dW2"]


@pytest.mark.parametrize("text,where,words", [
    ("exercise: x\nanswers: [1, 2]\n", "s.yaml:2", "must be a mapping"),
    ("- just\n- a list\n", "s.yaml:1", "YAML mapping"),
    ("exercise: x\nstudent: a\n", "s.yaml:1", "no 'answers:'"),
    ("exercise: x\nseed: lots\nanswers: {}\n", "s.yaml:2", "seed must be a whole number"),
])
def test_a_malformed_sheet_says_file_line_message(text, where, words):
    with pytest.raises(InputError) as e:
        parse_sheet(text, "s.yaml")
    assert str(e.value).startswith(where + ":")
    assert words in str(e.value)


def test_broken_yaml_gives_its_position(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("exercise: x\nanswers:\n  dW2: [1, 2\n  db2: 3\n")
    with pytest.raises(InputError) as e:
        read_sheet(p)
    assert str(e.value).startswith(f"{p}:")
    assert e.value.line is not None


def test_bombs_are_refused_fast_with_a_clear_message(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("answers:\n  dW2: " + "1" * 10_000_000 + "\n")
    nested = "answers:\n  dW2: " + "[" * 1_000_000 + "]" * 1_000_000 + "\n"
    long_line = "answers:\n  dW2: " + "9" * 20_000 + "\n"
    deep = "answers:\n  dW2: " + "[" * 40 + "1" + "]" * 40 + "\n"
    t = time.perf_counter()
    with pytest.raises(InputError, match=f"file too large: more than {MAX_BYTES:,} bytes"):
        read_sheet(big)
    with pytest.raises(InputError, match="at most"):
        parse_sheet(nested, "n.yaml")
    with pytest.raises(InputError, match=r"n\.yaml:2: line is 20,007 characters long; at most 10,000"):
        parse_sheet(long_line, "n.yaml")
    with pytest.raises(InputError, match=r"n\.yaml:2: brackets nested more than 16 deep"):
        parse_sheet(deep, "n.yaml")
    assert time.perf_counter() - t < 10  # generous: each is a few milliseconds when idle


def test_yaml_aliases_cannot_blow_up_an_answer():
    text = ("answers:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "  e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n")
    try:  # the YAML layer may refuse aliases outright; if not, the answer is refused
        s = parse_sheet(text, "alias.yaml")
    except InputError as e:
        assert str(e).startswith("alias.yaml:") and "alias" in str(e)
    else:
        assert "too many numbers" in s.invalid["e"]


def test_not_utf8_and_missing_files_are_input_errors(tmp_path):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"answers:\n  a: \xff\xfe\n")
    with pytest.raises(InputError, match="bin.yaml:2:[0-9]+: not UTF-8"):
        read_sheet(p)
    with pytest.raises(InputError, match="no such file"):
        read_sheet(tmp_path / "nope.yaml")


def test_unknown_step_ids_are_warnings_with_a_suggestion():
    s = parse_sheet("answers:\n  dW2: 1\n  dw2: 2\n  banana: 3\n", "s.yaml")
    w = work("lab9-relu-sigmoid-bce")
    warns = unknown_ids(s, [x.id for x in w.steps])
    assert str(warns[0]) == "s.yaml:3: unknown step id 'dw2' ignored (did you mean dW2?)"
    assert (warns[0].line, warns[0].short()) == (
        3, "line 3: unknown step id 'dw2' ignored (did you mean dW2?)")
    assert str(warns[1]).startswith("s.yaml:4: unknown step id 'banana' ignored")


def test_the_fixture_sheets_read_cleanly():
    for p in sorted(SHEETS.glob("*.yaml")):
        s = read_sheet(p)
        assert s.answers and not s.invalid and not s.warnings, p


def test_visible_shows_control_characters_as_escapes_and_leaves_text_alone():
    from tutor.errors import visible

    assert visible("\u001b]0;pwned\u0007\u001b[2J 0.3365") == "\\x1b]0;pwned\\x07\\x1b[2J 0.3365"
    assert visible("a\tb\rc\x9bd\u202ee") == "a\\x09b\\x0dc\\x9bd\\u202ee"
    assert visible("δ2 = [-0.2192, 0] ⊙ ReLU′") == "δ2 = [-0.2192, 0] ⊙ ReLU′"
    assert visible(None) == ""
    assert visible("a\ufffeb\u2028c") == "a\\ufffeb\\u2028c"  # not XML characters / a line break
