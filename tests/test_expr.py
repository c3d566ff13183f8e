"""The expression grammar (tutor.expr): exact values, clear refusals, bombs refused fast."""
from __future__ import annotations

import ast
import dataclasses
import time
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tutor.errors import ExitCode, ExprError, InputError
from tutor.expr import (ParseFailure, Parsed, format_offset_caret, parse_answer,
                        parse_expression, try_parse_answer)
from tutor.functions import leaky_relu, relu, sigmoid

R = sp.Rational
a, b, c, x, lam = sp.symbols("a b c x lambda")
NAMES = {"a": a, "b": b, "c": c, "x": x, "lambda": lam}


def error(text, names=None) -> ExprError:
    with pytest.raises(ExprError) as info:
        parse_expression(text, names)
    return info.value


def answer_error(text) -> ExprError:
    with pytest.raises(ExprError) as info:
        parse_answer(text)
    return info.value


# ─── values ───────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("text, value", [
    ("0.1", R(1, 10)),
    ("1.2e-3", R(3, 2500)),
    ("1.5E+2", sp.Integer(150)),
    (".5", R(1, 2)),
    ("1.", sp.Integer(1)),
    ("1_000", sp.Integer(1000)),  # Python's digit grouping is accepted
    ("-73/200", R(-73, 200)),
    ("0.1 + 0.2", R(3, 10)),  # exact, not 0.30000000000000004
    ("2**-2", R(1, 4)),
    ("1" * 100, sp.Integer(int("1" * 100))),  # 100 digits is the limit, inclusive
])
def test_numbers_are_exact(text, value):
    got = parse_expression(text)
    assert got == value
    assert got.is_Rational


@pytest.mark.parametrize("text, value", [
    ("6 + log(1 + sqrt(2))", 6 + sp.log(1 + sp.sqrt(2))),
    ("relu(-3)", sp.Integer(0)),
    ("relu(5/2)", R(5, 2)),
    ("sigmoid(0)", R(1, 2)),
    ("sigmoid(0.552)", 1 / (1 + sp.exp(R(-69, 125)))),
    ("leaky_relu(-2)", R(-1, 50)),
    ("leaky_relu(-2, 0.1)", R(-1, 5)),
    ("max(1, 2, 3)", sp.Integer(3)),
    ("min(0.5, -1)", sp.Integer(-1)),
    ("tanh(0) + exp(0)", sp.Integer(1)),
    ("2^3 + 1", sp.Integer(9)),  # ^ is ** with the precedence of ** (not Python's xor)
    ("2^3^2", sp.Integer(512)),  # right-associative, like **
    ("-2**2", sp.Integer(-4)),
    ("+(3)", sp.Integer(3)),
    ("2**1000", sp.Integer(2) ** 1000),  # big, but within the limits
])
def test_functions_and_operators(text, value):
    assert sp.simplify(parse_expression(text) - value) == 0
    assert parse_expression(text) == value


def test_names_are_substituted_with_ordinary_evaluation():
    assert parse_expression("a*x + b", NAMES) == a * x + b
    assert parse_expression("x^2*3", NAMES) == 3 * x ** 2
    assert parse_expression("a*4 + b", {"a": R(1, 2), "b": 1}) == 3
    assert parse_expression("sigmoid(x)", NAMES) == sigmoid(x)
    assert parse_expression("relu(a*x)", NAMES) == relu(a * x)
    assert parse_expression("leaky_relu(x)", NAMES) == leaky_relu(x, R(1, 100))
    assert parse_expression("max(a, x)", NAMES) == sp.Max(a, x)
    assert parse_expression("x**(1/2)", NAMES) == sp.sqrt(x)


def test_python_keywords_can_be_names():
    e = parse_expression("lambda/2*(a**2 + c**2)", NAMES)
    assert e == lam * (a ** 2 + c ** 2) / 2
    assert parse_expression("if + lambda", {"if": R(1, 2), "lambda": R(1, 10)}) == R(3, 5)
    err = error("lambda + q", NAMES)  # offsets are in the text as written
    assert err.message.startswith("unknown name 'q'") and err.offset == 9
    assert error("lambda lambda", NAMES).offset == 7
    assert error("True", NAMES).message.startswith("unknown name 'True'")


def test_typography_is_normalised():
    assert parse_expression("\u22120.3654") == R(-1827, 5000)  # U+2212 minus sign
    assert parse_expression("3 × 4 ÷ 2") == 6
    assert parse_expression("2·x", NAMES) == 2 * x
    assert parse_expression("  \t0.5\u00a0 ") == R(1, 2)  # tab, no-break space
    # one character for one: offsets still point into the original text
    assert error("×\u2212 1 !").offset == 5


# ─── refusals: one clear message, and where ───────────────────────────────────────────

ALLOWED = "elu, exp, leaky_relu, log, max, min, relu, sigmoid, softplus, sqrt, tanh"


@pytest.mark.parametrize("text, message, offset", [
    ("alpah + 1", "unknown name 'alpah' (did you mean 'alpha'?)", 0),
    ("q + 1", "unknown name 'q' (known names: alpha, beta)", 0),
    ("foo(1)", f"unknown function 'foo' (allowed: {ALLOWED})", 0),
    ("2*sigmod(1)", "unknown function 'sigmod' (did you mean 'sigmoid'?)", 2),
    ("sigmoid(1, 2)", "'sigmoid' takes 1 argument, got 2", 0),
    ("leaky_relu(1, 2, 3)", "'leaky_relu' takes 1 or 2 arguments, got 3", 0),
    ("max(1)", "'max' takes 2 to 8 arguments, got 1", 0),
    ("exp + 1", "'exp' is a function: write exp(...)", 0),
    ("alpha(2)", "'alpha' is not a function (for a product write alpha*(...))", 0),
    ("1 !", "unexpected '!'", 2),
    ("alpha.real", "unexpected '.'", 5),
    ("alpha[0]", "unexpected '[' (use ( ) for grouping)", 5),
    ("'s'", "unexpected \"'\"", 0),
    ("alpha < 1", "unexpected '<'", 6),
    ("exp(x=1)", "unexpected '='", 5),
    ("lambda x: x", "unexpected ':'", 8),
    ("(1, 2)", "unexpected ','", 2),
    ("()", "empty parentheses", 0),
    ("1 if 2 else 3", "unexpected 'if' (missing an operator?)", 2),
    ("2 alpha", "unexpected 'alpha' (missing an operator?)", 2),
    ("2alpha", "missing '*' between '2' and 'alpha' (write 2*alpha)", 1),
    ("2(3)", "missing '*' before '(' (write 2*(...))", 1),
    ("(1+2) (3)", "missing '*' before '(' (write (...)*(...))", 6),
    ("1j", "complex numbers are not allowed: '1j'", 0),
    ("0x10", "only decimal numbers are allowed, not '0x10'", 0),
    ("007", "a whole number cannot start with 0 (write 7, not 007)", 0),
    ("1.2.3", "unexpected '.'", 3),
    ("x²", "unexpected '²' (write powers as x**2 or x^2)", 1),
    ("alpha // 2", "unexpected '//' (use / for division)", 6),
    ("0.3 +", "the expression is incomplete", 5),
    ("(1", "'(' is never closed", 0),
    ("1)", "unmatched ')'", 1),
    ("1/0", "division by zero", 1),
    ("1/(alpha - alpha)", "division by zero", 1),
    ("0**-1", "division by zero (0 to a negative power)", 1),
    ("log(0)", "the value is undefined (division by zero?)", 0),
    ("sqrt(-1)", "the value is not a real number", 0),
    ("", "empty expression", 0),
    ("1\x00", "unexpected character U+0000", 1),
])
def test_refusals_say_what_and_where(text, message, offset):
    err = error(text, {"alpha": sp.Symbol("alpha"), "beta": sp.Symbol("beta")})
    assert err.message == message
    assert err.offset == offset
    assert isinstance(err, InputError) and err.exit_code == ExitCode.USAGE


def test_an_error_is_located_inside_a_file():
    err = error("a * 9^", NAMES).located("ex.yaml", 6, 6)
    assert (err.file, err.line, err.col) == ("ex.yaml", 6, 6 + 6)
    assert str(err) == "ex.yaml:6:12: the expression is incomplete"


# ─── bombs: refused, never computed ──────────────────────────────────────────────────

def refused_fast(text, names=None, limit=5.0) -> ExprError:
    t = time.perf_counter()
    with pytest.raises(ExprError) as info:
        parse_expression(text, names)
    assert time.perf_counter() - t < limit, text[:60]
    return info.value


@pytest.mark.parametrize("text, words", [
    ("9**9**9**9", "exponent too large"),
    ("(10**100)**(10**100)", "exponent too large"),
    ("2**(2**(2**(2**(2**20))))", "exponent too large"),
    ("10**10**10", "exponent too large"),
    ("(10**99)**101", "power too large"),
    ("x**2000", "exponent too large"),  # a huge power of a name would explode later
    ("2**exp(100)", "exponent too large"),
    ("1" * 101, "number too long: 101 digits"),
    ("1e1001", "exponent too large in '1e1001'"),
    ("1e-99999999999", "exponent too large"),
    ("*".join(["(10**99)**30"] * 3), "number too large"),
    ("exp(exp(exp(1000)))", "argument of 'exp' too large"),
    ("sigmoid(-10**9)", "argument of 'sigmoid' too large"),
    ("sqrt(" + "7" * 99 + "**2 + 1)", "number too large to take the square root of"),
    ("log(" + "7" * 99 + "**2 + 1)", "number too large to take the logarithm of"),
    ("*".join(f"sqrt({n}{'3' * 95})" for n in range(1000, 1006)), "roots of large numbers"),
    ("sigmoid(" * 20 + "1/3" + ")" * 20, "too deeply nested for exact arithmetic"),
    ("(2-" * 12 + "2" + ")**(1/3)" * 12, "exact arithmetic"),
    ("relu(exp(-200)*sigmoid(1))", "close to 0"),  # SymPy's simplify would take ages
    ("(" * 61 + "1" + ")" * 61, "brackets nested too deeply (more than 60)"),
    ("-" * 9999 + "1", "nested too deeply"),
    ("1+" * 4999 + "1", "expression"),
    ("+".join(["x"] * 300), "expression too deeply nested"),
    ("x" * 10_001, "too long: 10001 characters"),
])
def test_bombs_are_refused_fast(text, words):
    assert words in refused_fast(text, NAMES).message


def test_a_million_open_brackets_and_a_10_mb_line_are_refused_at_once():
    for text in ("(" * 1_000_000, "1" * 10_000_000, "[" * 1_000_000):
        for parse in (parse_expression, parse_answer):
            t = time.perf_counter()
            with pytest.raises(ExprError, match="too long"):
                parse(text)
            assert time.perf_counter() - t < 1  # generous: a loaded machine
    assert "nested too deeply" in refused_fast("(" * 4000 + "1" + ")" * 4000).message


def test_sums_of_irrational_operations_are_bounded():
    many = "+".join(f"sigmoid(sigmoid(sigmoid(sigmoid({i}/7))))" for i in range(1, 30))
    assert "too much exact arithmetic" in refused_fast(many, limit=10).message
    # ...while realistic answers are far from the limits
    ce = "-log(exp(0.2)/(exp(0.2)+exp(0.5)+exp(-0.1)))"
    assert parse_expression(ce) == -sp.log(sp.exp(R(1, 5)) / (
        sp.exp(R(1, 5)) + sp.exp(R(1, 2)) + sp.exp(R(-1, 10))))
    assert parse_expression("log(sigmoid(sigmoid(sigmoid(1))))") == sp.log(
        sigmoid(sigmoid(sigmoid(1))))


# ─── answers ──────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("text, value", [
    ("0.5", R(1, 2)),
    ("\u22120.3654", R(-1827, 5000)),
    ("-73/200", R(-73, 200)),
    ("1.2e-3", R(3, 2500)),
    ("1/(1+exp(-0.552))", 1 / (1 + sp.exp(R(-69, 125)))),
    ("1 - 2", sp.Integer(-1)),  # not every item stands alone: one expression
    ("5;", sp.Integer(5)),
    ("exp (1)", sp.E),
    ("[-0.2192, 0]", (R(-137, 625), 0)),
    ("1 -2", (1, -2)),
    ("0.6 0.1", (R(3, 5), R(1, 10))),
    ("0.6, 0.1", (R(3, 5), R(1, 10))),
    ("1 2;", (1, 2)),
    ("[5]", (5,)),
    ("1/(1 + exp(-0.552)) 0.5", (1 / (1 + sp.exp(R(-69, 125))), R(1, 2))),
    ("[[-0.1315, -0.0219], [0, 0]]", ((R(-263, 2000), R(-219, 10000)), (0, 0))),
    ("-0.1315 -0.0219; 0 0", ((R(-263, 2000), R(-219, 10000)), (0, 0))),
    ("-0.1315 -0.0219; 0 0;", ((R(-263, 2000), R(-219, 10000)), (0, 0))),
    ("[1 2; 3 4]", ((1, 2), (3, 4))),
    ("[1, 2; 3, 4]", ((1, 2), (3, 4))),
    ("[[5]]", ((5,),)),
    ("1; 2; 3", ((1,), (2,), (3,))),
    ("1 2\n3 4\n", ((1, 2), (3, 4))),  # line breaks end rows, as in MATLAB
    ("[[1 2]\n [3 4]]", ((1, 2), (3, 4))),  # NumPy's printout
    ("[[1, 2],\n [3, 4]]", ((1, 2), (3, 4))),
])
def test_answers_in_every_form(text, value):
    got = parse_answer(text)
    assert got == value
    assert type(got) is type(value)
    if isinstance(got, tuple):
        assert all(isinstance(e, (tuple, sp.Expr)) for e in got)


_ARITH = ("arithmetic on vectors and matrices is not read, except a number times one "
          "(2*[1, 0]): type the entries, e.g. [a, b]")


@pytest.mark.parametrize("text, message, offset", [
    ("", "empty answer", 0),
    ("   ", "empty answer", 0),
    ("[]", "empty answer", 0),
    ("[[]]", "empty row", 1),
    ("[[1,2],[3,4,5]]", "rows have different lengths: 2 and 3", 7),
    ("1 2; 3", "rows have different lengths: 2 and 1", 5),
    ("x", "answers are numbers: 'x' is not a number", 0),
    ("1 -x", "answers are numbers: 'x' is not a number", 3),
    ("pi", "answers are numbers: 'pi' is not a number (give its value)", 0),
    ("ln", "'ln' is a function: write ln(...)", 0),
    ("ln(1, 2)", "'log' takes 1 argument, got 2", 0),
    ("(1, 2)", "unexpected ',' (write a vector as [1, 2])", 2),
    ("[1, [2]]", "a matrix is a list of rows: [[1, 2], [3, 4]]", 1),
    ("[[1, [2]]]", "too many brackets: a matrix is [[1, 2], [3, 4]]", 5),
    ("[1, 2] + 1", _ARITH, 7),
    ("[0.6, -0.4] - 0.1*[1, 2]", _ARITH, 12),
    ("[1, 2]*[3, 4]", _ARITH, 6),
    ("2/[1, 2]", _ARITH, 1),
    ("[1, 2]**2", _ARITH, 6),
    ("*[1, 2]", "a number is missing before '*'", 0),
    ("2 3*[1, 2]", "unexpected '3' (missing an operator?)", 2),
    ("1,,2", "empty entry (two commas in a row?)", 2),
    ("[1 2", "'[' is never closed", 0),
    ("[(1, 2]", "']' does not match '(' at character 2", 6),
    ("0.3 +", "the expression is incomplete", 5),
    (" ".join(["1"] * 1001), "too many numbers in one answer (more than 1,000)", 0),
])
def test_bad_answers(text, message, offset):
    err = answer_error(text)
    assert (err.message, err.offset) == (message, offset)


# ─── the tutor's own notation in answers (audit 10) ───────────────────────────────────

@pytest.mark.parametrize("text, value", [
    ("-ln(0.6346)", -sp.log(R(3173, 5000))),  # BCE as the screen writes it
    ("−ln(0.6346)", -sp.log(R(3173, 5000))),
    ("1/(1+e^(-0.552))", 1 / (1 + sp.exp(R(-69, 125)))),
    ("e", sp.E),
    ("e^2 - exp(2)", sp.Integer(0)),
    ("[ln(2), e]", (sp.log(2), sp.E)),
    ("2*e", 2 * sp.E),
    ("1e-3", R(1, 1000)),  # still a number literal, not 1·e − 3
])
def test_answers_accept_ln_and_e(text, value):
    assert parse_answer(text) == value


def test_ln_and_e_stay_unknown_in_exercise_files():
    e = sp.Symbol("e")
    assert parse_expression("e*2", {"e": e}) == 2 * e  # a node may be called e
    with pytest.raises(ExprError, match="unknown name 'e'"):
        parse_expression("e", {"x": sp.Symbol("x")})
    with pytest.raises(ExprError, match="unknown function 'ln'"):
        parse_expression("ln(2)", {})


@pytest.mark.parametrize("text, value", [
    ("-0.3654*[0.42, 0]", (R(-38367, 250000), 0)),  # δ3·h2ᵀ as the tutor writes it
    ("−0.3654 · [0.42, 0]", (R(-38367, 250000), 0)),
    ("[0.6, -0.4]*(-0.3654)", (R(-5481, 25000), R(1827, 12500))),  # W3ᵀ·δ3
    ("-[1, 2]", (-1, -2)),
    ("2*[[1, 2], [3, 4]]", ((2, 4), (6, 8))),
    ("1/2*[1 2; 3 4]", ((R(1, 2), 1), (R(3, 2), 2))),
    ("exp(1)*[1, 0]", (sp.E, 0)),
    ("sqrt(2)*[sqrt(3), 1]", (sp.sqrt(6), sp.sqrt(2))),
])
def test_a_number_times_a_vector_or_matrix(text, value):
    assert parse_answer(text) == value


def test_a_number_times_a_vector_is_bounded():
    big = "sqrt(" + "9" * 90 + "1)"  # ≈ 300 bits under each root: merged, over 512
    err = answer_error(f"{big}*[{big}, 1]")
    assert err.message.startswith("roots of large numbers multiplied together")
    n = "*".join(["10^1000"] * 5)  # 16,610 bits: allowed alone, not squared
    assert parse_answer(f"{n}*[1, 2]") == (10 ** 5000, 2 * 10 ** 5000)
    err = answer_error(f"{n}*[{n}]")
    assert err.message == "number too large: more than 20,000 bits"
    err = answer_error("2*[" + ", ".join(["1"] * 1000) + "]")
    assert err.message == "too many numbers in one answer (more than 1,000)"


def test_try_parse_answer_never_raises():
    assert try_parse_answer("0.5") == Parsed(R(1, 2))
    assert try_parse_answer("0.3 +") == ParseFailure("the expression is incomplete", 5)
    assert try_parse_answer("9**9**9**9") == ParseFailure(
        "exponent too large (at most 1000 in size)", 4)
    assert try_parse_answer(None) == ParseFailure("expected text, got NoneType", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        try_parse_answer("1").value = 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(list("0123456789.eE+-*/^()[],; \n_xj−×") + [
    "exp(", "log(", "sqrt(", "max(", "relu(", "sigmoid(", "lambda", "**", "if"]),
    max_size=30).map("".join))
def test_any_text_is_a_value_or_an_expr_error(text):
    for parse in (parse_answer, lambda t: parse_expression(t, NAMES)):
        try:
            value = parse(text)
        except ExprError as err:
            assert err.message and (err.offset is None or 0 <= err.offset <= len(text))
        else:
            assert isinstance(value, (sp.Expr, tuple))
    assert isinstance(try_parse_answer(text), (Parsed, ParseFailure))


def test_format_offset_caret():
    assert format_offset_caret("0.3 +", 5) == "0.3 +\n     ^"
    assert format_offset_caret("1 !", 2) == "1 !\n  ^"
    assert format_offset_caret("1 2\n3 x", 6) == "3 x\n  ^"  # the line holding the offset
    assert format_offset_caret("1 !", None) == "1 !"
    long = "1 + " * 50 + "x"
    text, caret = format_offset_caret(long, 200).split("\n")
    assert text.startswith("…") and len(text) <= 80 and text[caret.index("^")] == "x"


def test_untrusted_text_never_reaches_eval_or_sympify():
    for module in ("expr.py", "yamlio.py"):
        tree = ast.parse((Path(__file__).parents[1] / "tutor" / module).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not names & {"eval", "exec", "compile", "__import__", "sympify", "parse_expr"}
        assert not attrs & {"sympify", "parse_expr", "S", "load", "unsafe_load", "full_load",
                            "Loader", "FullLoader", "UnsafeLoader"}, module


@pytest.mark.parametrize("text", ["1 + 2*[1,2]", "1-2*[1,2]", "[1,2]*2+1", "[1,2]*2 - 1",
                                  "0.5 - 0.1*[1, 2]", "2*[1,2]-1"])
def test_a_sum_beside_a_scaled_vector_is_refused_not_misread(text):
    """1 + 2*[1, 2] is not (1 + 2)·[1, 2]: refused, never graded as [3, 6]."""
    r = try_parse_answer(text)
    assert isinstance(r, ParseFailure) and "arithmetic on vectors" in r.message


def test_a_bracketed_or_signed_factor_still_scales():
    assert try_parse_answer("(1+2)*[1,2]").value == (3, 6)
    assert try_parse_answer("2*-0.5*[1,2]").value == (-1, -2)
    assert try_parse_answer("1e-3*[1,2]").value == (sp.Rational(1, 1000), sp.Rational(1, 500))


def test_a_plain_decimal_is_read_without_the_tree_walk_to_the_same_value():
    """tutor.expr._PLAIN: ``-0.4213`` is read directly; what it reads equals what the walk
    gives, and what it does not match (leading zeros, exponents, '+', '.5') is still the
    walk's to read or refuse."""
    import random

    from tutor import expr as E

    rnd = random.Random(5)
    texts = ["0", "-0", "7", "-12", "0.5", "-0.4213", "3.14159265358979323846264338327950288",
             "100000000000000000000000000000000000000"]
    texts += [f"{rnd.choice(['', '-'])}{rnd.randint(0, 10**rnd.randint(0, 12))}"
              f".{rnd.randint(0, 10**6):06d}" for _ in range(300)]
    for t in texts:
        assert E._PLAIN.fullmatch(t), t
        fast = E._parse_span(t, 0, len(t), {}, answer=True)
        src, tree, _ = E.read_tree(t, 0, len(t))
        walked = E._Builder(src, {}, True, False).build(tree.body)
        assert fast == walked and type(fast) is type(walked), t
    for t in ["007", "1e-3", "+1", ".5", "1.", "1_000", "- 1", "0x1"]:
        assert not E._PLAIN.fullmatch(t), t
    with pytest.raises(ExprError, match="cannot start with 0"):
        E.parse_answer("007")
