"""The expression grammar: a safe parser from text to exact SymPy values.

Untrusted text (an exercise file, a student's answer) never reaches ``eval``, ``exec``,
``sympy.sympify`` or ``sympy.parse_expr``. Python's ``ast`` module reads the text and
an allow-list walks the tree, building SymPy by hand:

    numbers      exact: ``0.1`` is 1/10, ``1.2e-3`` is 3/2500, ``1_000`` is 1000 (Python's
                 digit grouping is accepted); hex/octal/binary and complex literals are refused
    names        only those given in ``names`` (any identifier, Python keywords included)
    operators    ``+ - * / **``, ``^`` meaning ``**`` (with the precedence of ``**``),
                 unary ``-`` and ``+``, parentheses
    calls        exactly the functions of :data:`tutor.functions.FUNCTIONS`, positional args
    answers      no names, but ``e`` is exp(1) and ``ln`` is ``log`` (the tutor's own
                 notation), and a number times a bracketed vector or matrix, ``-0.3654*[0.42,
                 0]``, is that vector or matrix with every entry multiplied (exactly)

Typography pasted from documents is normalised first (``−`` → ``-``, ``×``/``·`` → ``*``,
``÷`` → ``/``, any Unicode space → a space); replacements are one character for one, so an
error offset always points into the text as the user typed it.

Anything large enough to hurt is refused before it is computed: long text, deep nesting,
many nodes, long literals, powers whose exponent or result would be huge, big numbers under
roots and logarithms (SymPy factors them), and deeply nested irrational arithmetic such as
σ(σ(σ(…))) (SymPy's evaluation of it is exponential in the nesting). See the MAX_* limits.

Roots of high degree — ``0.092^0.1234567`` is (23/250)^(1234567/10000000), a 10,000,000th
root, and products or powers of roots whose degrees multiply — are not computed exactly
(SymPy takes integer q-th roots: minutes). In an answer, which only needs a value to
compare at a tolerance, such a power or product is evaluated numerically to ``DIGITS``
significant digits (an ``sp.Float``); in an exercise's expression it is refused at the
operator. Whatever slips past the limits still meets a wall-clock budget (``MAX_SECONDS``)
checked at every node of the tree.

Every failure is a :class:`tutor.errors.ExprError` with a message for the user and, when
known, the 0-based character ``offset`` of the problem.
"""
from __future__ import annotations

import ast
import difflib
import keyword
import re
import time
import warnings
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Union

import sympy as sp

from tutor.errors import ExprError, clip
from tutor.functions import FUNCTIONS

__all__ = ["Answer", "Parsed", "ParseFailure", "parse_expression", "parse_answer",
           "parse_symbolic", "try_parse_answer", "format_offset_caret"]

Answer = Union[sp.Expr, tuple[sp.Expr, ...], tuple[tuple[sp.Expr, ...], ...]]

# codes an expression error carries (tutor validate --codes): the rest are E231
UNKNOWN_NAME = "E232"  # a name the exercise does not define
TOO_LARGE = "E233"  # over a size bound: an expression bomb, refused before any work
MAX_CHARS = 10_000  # text length, checked before anything else
MAX_NESTING = 60  # brackets
MAX_NODES = 2_000  # AST nodes
MAX_TREE_DEPTH = 200  # AST depth (a sum of 200 terms is 200 deep)
MAX_DIGITS = 100  # digits in one number literal
MAX_LITERAL_EXPONENT = 1_000  # |e| in 1.5e-3
MAX_POWER_EXPONENT = 1_000  # |b| in a**b when b is a number
MAX_POWER_BITS = 10_000  # estimated size of a number raised to a number
MAX_NUMBER_BITS = 20_000  # any exact rational built along the way
MAX_ROOT_BITS = 512  # a number under a root or log (sqrt(n), n**(1/3)): SymPy factors it
MAX_FACTORING_BITS = 4_096  # all numbers under roots and logs in one expression
MAX_EXP_ARGUMENT = 10_000  # |z| in exp(z) / sigmoid(z) when z is a number
MAX_LEVELS = 5  # nesting of functions/powers of irrational numbers (see _Builder._account)
MAX_WORK = 16_384  # their estimated cost: sum of subtree size * 4**level
MAX_ENTRIES = 1_000  # numbers in one answer
MAX_ROOT_DEGREE = 1_000  # q in a**(p/q) computed exactly (SymPy takes q-th roots: seconds
#                          for q = 10**6); beyond it an answer's power is evaluated to
#                          DIGITS digits, an exercise's is refused
DIGITS = 50  # significant digits of an answer's value evaluated numerically
MAX_SECONDS = 1.0  # wall-clock budget of one expression's construction (a last resort)

# In answers only (an exercise file may name a node ``e``; an answer has no names): the
# notation the tutor itself writes — ``ln`` in BCE's formula, ``e`` in σ(z) = 1/(1 + e^(−z)).
ANSWER_FUNCTIONS = {"ln": "log"}  # another name of a function of tutor.functions.FUNCTIONS
ANSWER_CONSTANTS = {"e": sp.E}

_TYPOGRAPHY = str.maketrans({
    "\u2032": "'",  # prime: relu′(z) as relu'(z)
    "\u2212": "-", "\u2013": "-",  # minus sign, en dash
    "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u2217": "*",  # × · ⋅ ∗
    "\u00f7": "/",  # ÷
    "\u200b": " ", "\ufeff": " ",  # zero-width space, BOM
})
_LINE_BREAKS = set("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ASCII_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ +-*/^().,")
_SUPERSCRIPTS = set("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")
_KEYWORD = re.compile(r"\b(?:%s)\b" % "|".join(keyword.kwlist))
_NUMBER = re.compile(r"(?<![\w.])(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?")
_DECIMAL = re.compile(r"(?:\d+(?:_\d+)*)?(?:\.(?:\d+(?:_\d+)*)?)?(?:[eE][+-]?\d+(?:_\d+)*)?")
_TINY = sp.Float("1e-45")
_ARITHMETIC = set("+-*/^")
_WORD = re.compile(r"\w+|\*\*|//|\.\.\.|\S")


@dataclass(frozen=True)
class Parsed:
    """A successfully read answer."""

    value: Answer


@dataclass(frozen=True)
class ParseFailure:
    """Why an answer could not be read, and where (0-based character offset, if known)."""

    message: str
    offset: int | None


class _Syntax(ExprError):
    """An ExprError about the form of the text (as opposed to an unknown name, say)."""


# ─── public API ───────────────────────────────────────────────────────────────────────

def parse_expression(text: str, names: Mapping[str, sp.Expr] | None = None) -> sp.Expr:
    """Parse ``text`` into a SymPy expression; ``names`` maps each allowed name to its value.

    >>> parse_expression("a*x + 0.5", {"a": sp.Symbol("a"), "x": sp.Symbol("x")})
    a*x + 1/2
    """
    names = {name: _as_sympy(value) for name, value in (names or {}).items()}
    s = _normalise(text)
    return _parse_span(s, 0, len(s), names, answer=False)


def parse_symbolic(text: str, names: Mapping[str, sp.Expr]) -> sp.Expr:
    """Parse an expression answer to a symbolic step: the grammar, the exercise's ``names``
    (its symbols, and its nodes standing for their definitions: ``2*b*a`` for ∂L/∂x), the
    answer notation (``ln``, ``e``) and the tutor's notation for derivatives:

        relu'(z)  1[z > 0]  1[z >= 0]   ReLU′(z) (``′`` or ``'``; at z = 0 the convention)
        sigmoid'(z)   σ(z)(1 − σ(z))      tanh'(z)  1 − tanh(z)²      softplus'(z)  σ(z)

    Raises :class:`ExprError` with the offset in ``text`` as typed."""
    names = {name: _as_sympy(value) for name, value in names.items()}
    s = _derivative_notation(_normalise(text))
    return _parse_span(s, 0, len(s), names, answer=False, symbolic=True)


def _derivative_notation(s: str) -> str:
    """``f'(`` → ``f_(`` and ``1[u > 0]`` → ``_(u - 0)`` (``>=``: ``- ``), one character
    for one so that every offset still points into the text as typed."""
    out = list(s)
    for i, c in enumerate(s):
        if c == "'" and i + 1 < len(s) and s[i + 1] == "(" and (s[:i] + "'")[-2:-1].isalnum():
            out[i] = "_"
    i = 0
    while True:
        i = s.find("1[", i)
        if i < 0:
            break
        if i > 0 and (s[i - 1].isalnum() or s[i - 1] in "._"):
            i += 2
            continue
        depth, j, cmp = 0, i + 1, None
        while j < len(s):
            if s[j] in "([":
                depth += 1
            elif s[j] in ")]":
                depth -= 1
                if depth == 0:
                    break
            elif s[j] == ">" and depth == 1 and cmp is None:
                cmp = j
            j += 1
        tail = s[cmp + 1:j] if cmp is not None and j < len(s) else ""
        tail = tail[1:] if tail.startswith("=") else tail
        if cmp is not None and j < len(s) and tail.strip() == "0":
            out[i], out[i + 1], out[j], out[cmp] = "_", "(", ")", "-"
            if s[cmp + 1] == "=":
                out[cmp + 1] = " "
        i = j if j > i else i + 2
    return "".join(out)


def _d_sigmoid(z):
    from tutor.functions import sigmoid

    return sigmoid(z) * (1 - sigmoid(z))


def _derivatives() -> dict:
    """The derivative functions an expression answer may use (see parse_symbolic)."""
    from tutor.functions import relu_step, sigmoid

    return {"_": (1, 1, relu_step), "relu_": (1, 1, relu_step),
            "sigmoid_": (1, 1, _d_sigmoid), "tanh_": (1, 1, lambda z: 1 - sp.tanh(z) ** 2),
            "softplus_": (1, 1, sigmoid)}


def parse_answer(text: str) -> Answer:
    """Parse a student's answer: a number, a vector or a matrix (of numbers, no names).

    ``0.5`` and ``1/(1+exp(-0.552))`` are numbers; ``[1, -2]`` and ``1 -2`` are vectors;
    ``[[1, 2], [3, 4]]``, ``1 2; 3 4`` and ``[1, 2; 3, 4]`` are matrices (tuples of rows).
    A space-separated row is a vector only if every item is a number on its own, so
    ``1 - 2`` is the number -1. Rows end at ``;`` or at a line break outside brackets
    (MATLAB); empty rows (a trailing ``;``, blank lines) are ignored. NumPy's printout
    ``[[1 2]\n [3 4]]`` is read too. Raises :class:`ExprError`.
    """
    s = _normalise(text)
    a, b = _trim(s, 0, len(s))
    if a == b:
        raise ExprError("empty answer", 0)
    _check_chars(s, a, b, extra="[];")
    match = _check_brackets(s, a, b, "([", ")]")
    breaks = frozenset(i for i, c in enumerate(text) if c in _LINE_BREAKS)
    return _Answer(s, match, breaks).read(a, b)


def try_parse_answer(text: str) -> Parsed | ParseFailure:
    """:func:`parse_answer` that reports failure as a value instead of raising."""
    try:
        return Parsed(parse_answer(text))
    except ExprError as err:
        return ParseFailure(err.message, err.offset)
    except (RecursionError, MemoryError):  # a safety net: the limits should prevent this
        return ParseFailure("the answer is too complicated", None)


def format_offset_caret(text: str, offset: int | None) -> str:
    """Two lines: ``text`` (the line holding ``offset``) and a caret under ``offset``.

    Long lines are cut to a window around the caret. With ``offset=None`` only the text.
    """
    shown = "".join(" " if c.isspace() and c != "\n" else c for c in str(text))
    if offset is None:
        return shown
    offset = max(0, min(offset, len(shown)))
    start = shown.rfind("\n", 0, offset) + 1
    end = shown.find("\n", offset)
    line, col = shown[start:end if end >= 0 else len(shown)], offset - start
    width = 72
    if len(line) > width:
        lo = max(0, min(col - width // 2, len(line) - width))
        hi = lo + width
        prefix, suffix = ("…" if lo else ""), ("…" if hi < len(line) else "")
        line, col = prefix + line[lo:hi] + suffix, col - lo + len(prefix)
    return f"{line}\n{' ' * col}^"


# ─── text checks ──────────────────────────────────────────────────────────────────────

def _normalise(text: str) -> str:
    """Refuse non-text and long text; replace typography one character for one."""
    if not isinstance(text, str):
        raise ExprError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExprError(f"too long: {len(text)} characters (at most {MAX_CHARS:,})", code=TOO_LARGE)
    text = text.translate(_TYPOGRAPHY)
    return text if text.isascii() and text.isprintable() else "".join(
        " " if c.isspace() else c for c in text)


def _binary_sign(s: str, a: int, b: int) -> int | None:
    """Where s[a:b] adds or subtracts at the top level (outside brackets): a + or − that is
    not a sign (first, or after another operator or an opening bracket) nor an exponent's
    (1e-3). None when there is none."""
    depth = 0
    for i in range(a, b):
        ch = s[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in "+-" and depth == 0:
            j = i - 1
            while j >= a and s[j].isspace():
                j -= 1
            if j < a or s[j] in "*/^(+-,[":
                continue  # a sign
            if s[j] in "eE" and j > a and (s[j - 1].isdigit() or s[j - 1] == "."):
                continue  # 1e-3
            return i
    return None


def _trim(s: str, a: int, b: int) -> tuple[int, int]:
    while a < b and s[a] == " ":
        a += 1
    while b > a and s[b - 1] == " ":
        b -= 1
    return a, b


def _check_chars(s: str, a: int, b: int, extra: str = "") -> None:
    for i in range(a, b):
        c = s[i]
        if c in _ASCII_OK or c in extra or (not c.isascii() and ("a" + c).isidentifier()):
            continue
        if c in _SUPERSCRIPTS:
            raise _Syntax(f"unexpected '{c}' (write powers as x**2 or x^2)", i)
        if c in "[]" and not extra:
            raise _Syntax(f"unexpected '{c}' (use ( ) for grouping)", i)
        if not c.isprintable():
            raise _Syntax(f"unexpected character U+{ord(c):04X}", i)
        raise _Syntax(f"unexpected {_quote(c)}", i)


def _check_brackets(s: str, a: int, b: int, opens: str, closes: str) -> dict[int, int]:
    """Balance and nesting depth in one linear scan; returns open position -> close position."""
    stack: list[int] = []
    match: dict[int, int] = {}
    for i in range(a, b):
        c = s[i]
        if c in opens:
            stack.append(i)
            if len(stack) > MAX_NESTING:
                raise _Syntax(f"brackets nested too deeply (more than {MAX_NESTING})", i,
                              code=TOO_LARGE)
        elif c in closes:
            if not stack:
                raise _Syntax(f"unmatched '{c}'", i)
            j = stack.pop()
            if opens.index(s[j]) != closes.index(c):
                raise _Syntax(f"'{c}' does not match '{s[j]}' at character {j + 1}", i)
            match[j] = i
    if stack:
        raise _Syntax(f"'{s[stack[-1]]}' is never closed", stack[-1])
    return match


def _check_numbers(s: str) -> None:
    """Number literals: decimal only, not too long, never glued to a name."""
    for m in _NUMBER.finditer(s):
        lit, end = m.group(), m.end()
        nxt = s[end] if end < len(s) else ""
        if nxt and (nxt.isalnum() or nxt == "_" or ("a" + nxt).isidentifier()):
            word = re.match(r"\w+", s[end:]).group()
            if lit == "0" and nxt in "xXoObB":
                raise _Syntax(f"only decimal numbers are allowed, not '{lit}{word}'", m.start())
            if word in ("j", "J"):
                raise _Syntax(f"complex numbers are not allowed: '{lit}{word}'", m.start())
            raise _Syntax(f"missing '*' between '{lit}' and '{word}' (write {lit}*{word})", end)
        if nxt == ".":
            raise _Syntax("unexpected '.'", end)
        mantissa, _, exponent = lit.lower().partition("e")
        digits = sum(ch.isdigit() for ch in mantissa)
        if digits > MAX_DIGITS:
            raise ExprError(f"number too long: {digits} digits (at most {MAX_DIGITS})",
                            m.start(), code=TOO_LARGE)
        if exponent:
            e = exponent.replace("_", "").lstrip("+-").lstrip("0")
            if len(e) > 6 or int(e or 0) > MAX_LITERAL_EXPONENT:
                raise ExprError(f"exponent too large in '{lit}' (at most e±"
                                f"{MAX_LITERAL_EXPONENT})", m.start(), code=TOO_LARGE)


# ─── source with rewrites ─────────────────────────────────────────────────────────────

class _Source:
    """The text given to ``ast.parse`` and the map back to the user's character offsets.

    ``^`` becomes ``**`` and a Python keyword used as a name (``lambda``) becomes a
    placeholder identifier; ``ast`` reports UTF-8 byte columns, converted here to characters.
    """

    def __init__(self, text: str, base: int):
        self.text, self.base = text, base
        marker = "__kw"
        while marker in text:
            marker += "_"
        self.keywords: dict[str, str] = {}
        edits: list[tuple[int, int, str]] = []
        for m in _KEYWORD.finditer(text):
            placeholder = m.group() + marker
            self.keywords[placeholder] = m.group()
            edits.append((m.start(), m.end(), placeholder))
        edits += [(m.start(), m.end(), "**") for m in re.finditer(r"\^", text)]
        edits.sort()
        parts, pos = [], 0
        self.edits: list[tuple[int, int, int, int]] = []  # code start/end, text start/end
        shift = 0
        for start, end, new in edits:
            parts += [text[pos:start], new]
            self.edits.append((start + shift, start + shift + len(new), start, end))
            shift += len(new) - (end - start)
            pos = end
        self.code = "".join(parts) + text[pos:]
        if self.code.isascii():
            self._chars = None
        else:
            self._chars = [0] * (len(self.code.encode()) + 1)
            i = 0
            for k, c in enumerate(self.code):
                n = len(c.encode())
                for j in range(n):
                    self._chars[i + j] = k
                i += n
            self._chars[i] = len(self.code)

    def char(self, byte_col: int) -> int:
        """Character index in ``code`` of a UTF-8 byte column reported by ``ast``."""
        if self._chars is None:
            return byte_col
        return self._chars[min(max(byte_col, 0), len(self._chars) - 1)]

    def offset(self, code_pos: int) -> int:
        """The user's character offset of a position in ``code``."""
        shift = 0
        for cs, ce, ts, te in self.edits:
            if code_pos < cs:
                break
            if code_pos < ce:
                return self.base + ts + min(code_pos - cs, te - ts - 1)
            shift = ce - te
        return self.base + code_pos - shift

    def at(self, node: ast.AST) -> int:
        return self.offset(self.char(node.col_offset))

    def segment(self, node: ast.AST) -> str:
        return self.code[self.char(node.col_offset):self.char(node.end_col_offset)]

    def name(self, node: ast.AST) -> str:
        """A name as typed (keywords restored, no NFKC folding)."""
        raw = self.segment(node)
        return self.keywords.get(raw, raw)

    def token(self, user_text: str, offset: int) -> str:
        m = _WORD.match(user_text, offset - self.base) if offset - self.base < len(
            user_text) else None
        return m.group() if m else ""


# ─── the tree walk ────────────────────────────────────────────────────────────────────

# a plain decimal (``-0.4213``), what most answers are, read without the tree walk: the value
# the walk gives it (tests/test_expr.py checks the two agree), digits well within MAX_DIGITS
_PLAIN = re.compile(r"-?(?:0|[1-9][0-9]{0,39})(?:\.[0-9]{1,40})?")


def _parse_span(s: str, a: int, b: int, names: dict, answer: bool,
                symbolic: bool = False) -> sp.Expr:
    """Parse ``s[a:b]`` (already normalised); offsets in errors are offsets in ``s``."""
    if _PLAIN.fullmatch(s, a, b):
        f = Fraction(s[a:b])
        return sp.Rational(f.numerator, f.denominator)
    src, tree, a = read_tree(s, a, b, "empty answer" if answer else "empty expression")
    try:
        value = _Builder(src, names, answer, symbolic).build(tree.body)
        if not isinstance(value, sp.Expr):
            raise ExprError("not a number", a)
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ExprError("the value is undefined (division by zero?)", a)
        if value.is_number and value.is_extended_real is False:
            raise ExprError("the value is not a real number", a)
    except (RecursionError, MemoryError):
        raise ExprError("expression too complicated", a, code=TOO_LARGE) from None
    except (TypeError, ValueError, ArithmeticError, NotImplementedError) as exc:
        # SymPy refusing an odd combination: still a message, never a traceback
        raise ExprError(f"cannot compute this expression ({type(exc).__name__})", a) from None
    return value


def read_tree(s: str, a: int, b: int, empty: str = "empty expression", extra: str = "",
              brackets: tuple[str, str] = ("(", ")")) -> tuple[_Source, ast.Expression, int]:
    """``s[a:b]`` (normalised) checked — characters (``extra``: more allowed), brackets,
    number literals, size — and read by ``ast``: (its source map, its tree, where it starts).
    The one front half of both grammars (this one and tutor.tensorexpr's)."""
    a, b = _trim(s, a, b)
    if a == b:
        raise ExprError(empty, a)
    _check_chars(s, a, b, extra)
    _check_brackets(s, a, b, *brackets)
    piece = s[a:b]
    try:
        _check_numbers(piece)
    except ExprError as err:
        raise type(err)(err.message, err.offset + a, code=err.code) from None
    src = _Source(piece, a)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: "invalid decimal literal", ...
            tree = ast.parse(src.code, mode="eval")
    except SyntaxError as err:
        raise _syntax_error(err, src, piece) from None
    except (RecursionError, MemoryError):
        raise ExprError("expression nested too deeply", a, code=TOO_LARGE) from None
    except ValueError as err:  # e.g. an over-long integer literal
        raise ExprError(f"cannot read the expression: {err}", a) from None
    _check_size(tree, src)
    return src, tree, a


def _syntax_error(err: SyntaxError, src: _Source, piece: str) -> ExprError:
    msg = err.msg or ""
    if not err.offset or err.offset > len(src.code) or err.lineno not in (None, 1):
        return _Syntax("the expression is incomplete", src.base + len(piece))
    where = src.offset(err.offset - 1)
    tok = src.token(piece, where)
    if "leading zeros" in msg:
        return _Syntax(f"a whole number cannot start with 0 (write {tok.lstrip('0') or '0'}, "
                       f"not {tok})", where)
    if not tok:
        return _Syntax("the expression is incomplete", src.base + len(piece))
    hint = " (missing an operator?)" if re.match(r"[\w(]", tok) else ""
    return _Syntax(f"unexpected {_quote(tok)}{hint}", where)


def _check_size(tree: ast.AST, src: _Source) -> None:
    """Node count and depth, iteratively (no recursion on an unchecked tree)."""
    count = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExprError(f"expression too long (more than {MAX_NODES:,} parts)", src.base,
                            code=TOO_LARGE)
        if depth > MAX_TREE_DEPTH:
            raise ExprError(f"expression too deeply nested (more than {MAX_TREE_DEPTH} "
                            f"levels)", src.at(node) if hasattr(node, "col_offset") else src.base,
                            code=TOO_LARGE)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
              ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.BitXor: "^",
              ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>"}


class _Builder:
    """Walks an allow-listed ``ast`` tree and builds the SymPy value."""

    def __init__(self, src: _Source, names: dict, answer: bool, symbolic: bool = False):
        self.src, self.names, self.answer = src, names, answer
        # an expression answer: names, the answer notation, derivatives (parse_symbolic)
        self.symbolic = symbolic
        self.functions = {**FUNCTIONS, **_derivatives()} if symbolic else FUNCTIONS
        self.factoring = 0  # bits of the numbers under roots and logarithms so far
        self._roots: dict = {}
        self.levels: dict[ast.AST, int] = {}  # nesting of irrational operations, per node
        self.sizes: dict[ast.AST, int] = {}  # nodes in each subtree
        self.work = 0  # the cost estimate of those operations (see _account)
        self.irrational: set[ast.AST] = set()  # nodes whose value is an irrational number
        self.deadline = time.monotonic() + MAX_SECONDS

    def fail(self, message: str, node_or_offset, code: str = "E000") -> ExprError:
        off = node_or_offset if isinstance(node_or_offset, int) else self.src.at(node_or_offset)
        return ExprError(message, off, code=code)

    def build(self, node: ast.AST) -> sp.Expr:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            return self._other(node)
        value = method(node)
        if time.monotonic() > self.deadline:
            raise self.fail("too much to compute in this expression: simplify it or give "
                            "its value", node, code=TOO_LARGE)
        self._account(node, value)
        return value

    def _account(self, node: ast.AST, value: sp.Expr) -> None:
        """Bound the cost of exact irrational arithmetic before it explodes.

        SymPy's automatic evaluation of numbers such as σ(σ(σ(…))) or ∛(2 − ∛(2 − …)) takes
        time exponential in their nesting (assumption queries fall back on ``evalf``, which
        retries at higher precision at every level): 90 characters can take minutes. A
        function of, a power of, or a division by an irrational number is one *level*; each
        such operation costs (size of its subtree) · 4**level, and the total is bounded.
        """
        kids = [k for k in ast.iter_child_nodes(node) if k in self.sizes]
        size = self.sizes[node] = 1 + sum(self.sizes[k] for k in kids)
        if not value.is_number or value.is_Rational:
            self.levels[node] = 0
            return
        self.irrational.add(node)
        level = max((self.levels[k] for k in kids), default=0)
        op = getattr(node, "op", None)
        if isinstance(node, ast.Call) or isinstance(op, ast.Pow) or (
                isinstance(op, ast.Div) and node.right in self.irrational):
            level += 1
            self.work += size * 4 ** level
        self.levels[node] = level
        if level > MAX_LEVELS:
            raise self.fail(f"too deeply nested for exact arithmetic: more than {MAX_LEVELS} "
                            f"levels of functions or powers of irrational numbers", node,
                            code=TOO_LARGE)
        if self.work > MAX_WORK:
            raise self.fail("too much exact arithmetic with irrational numbers: use fewer "
                            "functions and powers, or give the value", node, code=TOO_LARGE)

    # leaves
    def _Constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, complex):
            raise self.fail("complex numbers are not allowed", node)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(f"unexpected {_quote(self.src.segment(node))}", node)
        lit = self.src.segment(node)
        if not _DECIMAL.fullmatch(lit):
            raise self.fail(f"only decimal numbers are allowed, not '{lit}'", node)
        f = Fraction(lit.replace("_", ""))
        return sp.Rational(f.numerator, f.denominator)

    def _Name(self, node: ast.Name) -> sp.Expr:
        name = self.src.name(node)
        if name in self.names:
            return self.names[name]
        if self.symbolic and name in ANSWER_CONSTANTS:
            return ANSWER_CONSTANTS[name]
        if name in FUNCTIONS or ((self.answer or self.symbolic) and name in ANSWER_FUNCTIONS):
            raise self.fail(f"'{name}' is a function: write {name}(...)", node)
        if self.answer:
            if name in ANSWER_CONSTANTS:
                return ANSWER_CONSTANTS[name]
            hint = {"pi": " (give its value)", "π": " (give its value)"}.get(name, "")
            raise self.fail(f"answers are numbers: '{clip(name, 30)}' is not a number{hint}", node)
        close = difflib.get_close_matches(name, [*self.names, *FUNCTIONS], n=1)
        if close:
            hint = f" (did you mean '{close[0]}'?)"
        elif self.names and len(self.names) <= 12:
            hint = f" (known names: {', '.join(sorted(self.names))})"
        else:
            hint = ""
        raise self.fail(f"unknown name '{clip(name, 30)}'{hint}", node, code=UNKNOWN_NAME)

    # operators
    def _UnaryOp(self, node: ast.UnaryOp) -> sp.Expr:
        if isinstance(node.op, ast.USub):
            return -self.build(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand)
        return self._other(node)

    def _BinOp(self, node: ast.BinOp) -> sp.Expr:
        op = type(node.op)
        if op not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
            sym = _OPERATORS.get(op, "?")
            hint = " (use / for division)" if op is ast.FloorDiv else ""
            raise self.fail(f"unexpected '{sym}'{hint}", self._operator_offset(node, sym))
        left, right = self.build(node.left), self.build(node.right)
        if op is ast.Add:
            value = left + right
        elif op is ast.Sub:
            value = left - right
        elif op is ast.Mult:
            left, right = self._merging_degrees(left, right, node, "*")
            self._merging_roots(left, right, node, "*")
            value = left * right
        elif op is ast.Div:
            if right.is_number and right.is_zero:
                raise self.fail("division by zero", self._operator_offset(node, "/"))
            left, right = self._merging_degrees(left, right, node, "/")
            self._merging_roots(left, right, node, "/")
            value = left / right
        else:
            value = self._power(left, right, node)
        if _coefficient_bits(value) > MAX_NUMBER_BITS:
            raise self.fail(f"number too large: more than {MAX_NUMBER_BITS:,} bits", node,
                            code=TOO_LARGE)
        return value

    def _merging_roots(self, left: sp.Expr, right: sp.Expr, node: ast.BinOp, sym: str):
        a, b = self._root_bits(left), self._root_bits(right)
        if a and b:
            where = self._operator_offset(node, sym)
            if a + b > MAX_ROOT_BITS:
                raise self.fail(f"roots of large numbers multiplied together (more than "
                                f"{MAX_ROOT_BITS} bits under one root)", where)
            self._factoring(a + b, "a root of", where)

    def _merging_degrees(self, left: sp.Expr, right: sp.Expr, node: ast.BinOp, sym: str):
        """A product or quotient of roots of one number merges them, its degree the product
        of theirs at worst (2^(1/999)·2^(1/998) = 2^(1997/997002)): beyond MAX_ROOT_DEGREE an
        answer's operands are evaluated numerically, an exercise's refused."""
        a, b = _root_degree(left), _root_degree(right)
        if a == 1 or b == 1 or a * b <= MAX_ROOT_DEGREE:
            return left, right
        where = self._operator_offset(node, sym)
        if not self.answer:
            raise self.fail(f"roots of too high a degree multiplied together (degree "
                            f"{a}·{b}, at most {MAX_ROOT_DEGREE:,} exactly): round a number",
                            where, code=TOO_LARGE)
        return self._numeric(left, where), self._numeric(right, where)

    def _numeric(self, x: sp.Expr, where: int) -> sp.Expr:
        """``x`` (a number) as an sp.Float of DIGITS significant digits."""
        if x.is_Float or x.is_Rational:
            return x
        v = x.evalf(DIGITS + 10)
        if not v.is_Float:
            if v.is_number and v.is_extended_real is False:
                raise self.fail("the value is not a real number", where)
            raise self.fail("cannot evaluate this number", where)
        return sp.Float(v, DIGITS)

    def _numeric_power(self, base: sp.Expr, exp: sp.Expr, where: int) -> sp.Expr:
        """base**exp for numbers, evaluated to DIGITS significant digits (a high-degree root:
        an answer needs its value, not its exact form)."""
        b, e = self._numeric(base, where), self._numeric(exp, where)
        if b.is_negative:
            raise self.fail("a negative number to a fractional power is not a real number",
                            where)
        if b.is_zero:
            if e.is_negative:
                raise self.fail("division by zero (0 to a negative power)", where)
            return sp.Integer(0)
        v = sp.Float(b, DIGITS + 10) ** sp.Float(e, DIGITS + 10)
        if not v.is_Float:
            raise self.fail("cannot evaluate this power", where)
        return sp.Float(v, DIGITS)

    def _power(self, base: sp.Expr, exp: sp.Expr, node: ast.BinOp) -> sp.Expr:
        where = self._operator_offset(node, "**")
        if exp.is_Rational and not exp.is_Integer:
            degree = int(exp.q) * _root_degree(base)
            if degree > MAX_ROOT_DEGREE:
                if not self.answer:
                    raise self.fail(f"a root of too high a degree: {clip(str(degree), 20)} "
                                    f"(at most {MAX_ROOT_DEGREE:,} exactly): round the "
                                    f"exponent, or write fewer digits", where, code=TOO_LARGE)
                if base.is_number:
                    size = _magnitude(exp)
                    if size > MAX_POWER_EXPONENT:
                        raise self.fail(f"exponent too large (at most {MAX_POWER_EXPONENT} "
                                        f"in size)", where, code=TOO_LARGE)
                    if _bits(base) * size > MAX_POWER_BITS:
                        raise self.fail(f"power too large: the result would have more than "
                                        f"{MAX_POWER_BITS:,} bits", where, code=TOO_LARGE)
                    return self._numeric_power(base, exp, where)
        if exp.is_number:
            size = _magnitude(exp)
            if size > MAX_POWER_EXPONENT:
                raise self.fail(f"exponent too large (at most {MAX_POWER_EXPONENT} in size)",
                                where, code=TOO_LARGE)
            if base.is_number and _bits(base) * size > MAX_POWER_BITS:
                raise self.fail(f"power too large: the result would have more than "
                                f"{MAX_POWER_BITS:,} bits", where, code=TOO_LARGE)
            self._check_root(base, exp, where)
        if base == 0 and exp.is_number and exp.is_negative:
            raise self.fail("division by zero (0 to a negative power)", where)
        return base ** exp

    def _check_root(self, base: sp.Expr, exp: sp.Expr, where: int) -> None:
        if exp.is_Rational and not exp.is_Integer:
            self._factoring(_max_bits(base), "a root of", where)

    def _factoring(self, bits: int, what: str, where: int) -> None:
        """SymPy factors the numbers under roots and logarithms: keep them few and small."""
        if bits > MAX_ROOT_BITS:
            raise self.fail(f"number too large to take {what} (more than {MAX_ROOT_BITS} "
                            f"bits)", where, code=TOO_LARGE)
        self.factoring += bits
        if self.factoring > MAX_FACTORING_BITS:
            raise self.fail("too many roots and logarithms of large numbers", where, code=TOO_LARGE)

    def _check_sign(self, name: str, z: sp.Expr, node: ast.AST) -> None:
        """``relu`` needs the sign of a number: cheap unless |z| < 1e-45, where
        :func:`tutor.functions.sign` falls back on ``simplify`` (minutes, for some inputs)."""
        if not z.is_number or z.is_Rational:
            return
        v = z.evalf(60)
        if v.is_Number and abs(v) > _TINY:
            return
        raise self.fail(f"'{name}' of a number this close to 0 (|z| < 1e-45) is not "
                        f"supported: give its value", node)

    def _root_bits(self, x: sp.Basic) -> int:
        """Bits of the rationals under roots in ``x`` (a product merges them: √2·√3 = √6)."""
        known = self._roots.get(x)
        if known is None:
            if x.is_Pow and x.base.is_Rational and x.exp.is_Rational and not x.exp.is_Integer:
                known = _max_bits(x.base)
            else:
                known = sum(self._root_bits(a) for a in x.args)
            self._roots[x] = known
        return known

    def _operator_offset(self, node: ast.BinOp, sym: str) -> int:
        """Where the operator between two operands is (for error messages)."""
        code = self.src.code
        start = self.src.char(node.left.end_col_offset)
        i = code.find(sym, start) if sym != "?" else -1
        stop = self.src.char(node.right.col_offset)
        return self.src.offset(i if 0 <= i < stop else start)

    # calls
    def _Call(self, node: ast.Call) -> sp.Expr:
        func = node.func
        if not isinstance(func, ast.Name):
            before = clip(self.src.segment(func), 12) if isinstance(
                func, (ast.Constant, ast.Name)) else "(...)"
            paren = self.src.code.find("(", self.src.char(func.end_col_offset))
            raise self.fail(f"missing '*' before '(' (write {before}*(...))",
                            self.src.offset(max(paren, 0)))
        name = self.src.name(func)
        if self.answer or self.symbolic:  # the tutor's own notation: −[1 ln 0.6346 + …]
            name = ANSWER_FUNCTIONS.get(name, name)
        if name not in self.functions:
            if name in self.names:
                raise self.fail(f"'{name}' is not a function (for a product write "
                                f"{name}*(...))", func)
            close = difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            name = clip(name, 30)
            hint = f"did you mean '{close[0]}'?" if close else \
                f"allowed: {', '.join(sorted(FUNCTIONS))}"
            raise self.fail(f"unknown function '{name}' ({hint})", func)
        if node.keywords:
            raise self.fail(f"'{name}' takes positional arguments only", node.keywords[0].value)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("unexpected '*'", arg)
        lo, hi, builder = self.functions[name]
        n = len(node.args)
        if not lo <= n <= hi:
            raise self.fail(f"'{name}' takes {_arity(lo, hi)}, got {n}", func)
        args = [self.build(arg) for arg in node.args]
        if name in ("exp", "sigmoid", "softplus", "elu") and args[0].is_number and \
                _magnitude(args[0]) > MAX_EXP_ARGUMENT:
            raise self.fail(f"argument of '{name}' too large (at most {MAX_EXP_ARGUMENT:,} "
                            f"in size)", node.args[0], code=TOO_LARGE)
        if name in ("relu", "leaky_relu", "elu"):
            self._check_sign(name, args[0], node.args[0])
        if name == "sqrt" and 2 * _root_degree(args[0]) > MAX_ROOT_DEGREE:
            where = self.src.at(node.args[0])
            if not self.answer:
                raise self.fail(f"the square root of a root of too high a degree (at most "
                                f"{MAX_ROOT_DEGREE:,} exactly): round a number", where,
                                code=TOO_LARGE)
            if args[0].is_number:
                return self._numeric_power(args[0], sp.Rational(1, 2), where)
        if name in ("sqrt", "log"):
            self._factoring(_max_bits(args[0]), "the square root of" if name == "sqrt" else
                            "the logarithm of", self.src.at(node.args[0]))
        try:
            return builder(*args)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise self.fail(f"cannot compute {name}(...): {exc}", func) from None

    # everything else
    def _Tuple(self, node: ast.Tuple) -> sp.Expr:
        if not node.elts:
            raise self.fail("empty parentheses", node)
        first = node.elts[0]
        i = self.src.code.find(",", self.src.char(first.end_col_offset))
        hint = " (write a vector as [1, 2])" if self.answer else ""
        raise self.fail(f"unexpected ','{hint}", self.src.offset(max(i, 0)))

    def _Attribute(self, node: ast.Attribute) -> sp.Expr:
        i = self.src.code.find(".", self.src.char(node.value.end_col_offset))
        raise self.fail("unexpected '.'", self.src.offset(max(i, 0)))

    def _other(self, node: ast.AST) -> sp.Expr:
        off = self.src.at(node)
        tok = self.src.token(self.src.text, off) or type(node).__name__
        raise self.fail(f"unexpected {_quote(tok)}", off)


# ─── helpers ──────────────────────────────────────────────────────────────────────────

def _as_sympy(value) -> sp.Expr:
    """A value from a (trusted) ``names`` mapping as SymPy, without ``sympify``."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return sp.Integer(value)
    if isinstance(value, Fraction):
        return sp.Rational(value.numerator, value.denominator)
    raise TypeError(f"names must map to SymPy values, not {type(value).__name__}")


def _magnitude(x: sp.Expr) -> float:
    """|x| for a number, cheaply (exactly for rationals); inf when it cannot be told."""
    if x.is_Rational:
        p, q = abs(int(x.p)), int(x.q)
        return float("inf") if p.bit_length() - q.bit_length() > 64 else p / q
    try:
        v = x.evalf(15)
        return abs(complex(v)) if v.is_number else float("inf")
    except (TypeError, ValueError, OverflowError, ArithmeticError):
        return float("inf")


def _bits(x: sp.Expr) -> int:
    """A size estimate of a number in bits: the rational constants it is made of."""
    if x.is_Rational:
        return max(int(x.p).bit_length(), int(x.q).bit_length(), 1)
    return max(1, sum(max(int(r.p).bit_length(), int(r.q).bit_length())
                      for r in x.atoms(sp.Rational)))


def _quote(token: str) -> str:
    """'x' in a message ("'" itself in double quotes)."""
    return f'"{token}"' if "'" in token else f"'{token}'"


def _max_bits(x: sp.Expr) -> int:
    """Bits of the largest rational constant in ``x``."""
    return max((max(int(r.p).bit_length(), int(r.q).bit_length())
                for r in x.atoms(sp.Rational)), default=0)


def _root_bits(x: sp.Basic) -> int:
    """Bits of the rationals under roots in ``x`` (what a product would merge: √2·√3 = √6)."""
    if x.is_Pow and x.base.is_Rational and x.exp.is_Rational and not x.exp.is_Integer:
        return _max_bits(x.base)
    return sum(_root_bits(a) for a in x.args)


def _root_degree(x: sp.Expr) -> int:
    """The highest degree of a root of a number that ``x`` (a power or a product) is made
    of, as SymPy would merge it into another root or power: 2^(1/3)·5 → 3. 1 if none."""
    factors = x.args if x.is_Mul else (x,)
    degree = 1
    for f in factors:
        if f.is_Pow and f.exp.is_Rational and not f.exp.is_Integer:
            degree = max(degree, int(f.exp.q) * _root_degree(f.base))
    return degree


def _coefficient_bits(x: sp.Expr) -> int:
    """Bits of the rational number inside ``x`` where big numbers pile up (cheap)."""
    if x.is_Mul:
        x = x.as_coeff_Mul()[0]
    elif x.is_Add:
        x = x.as_coeff_Add()[0]
    if not x.is_Rational:
        return 0
    return max(int(x.p).bit_length(), int(x.q).bit_length())


def _arity(lo: int, hi: int) -> str:
    if lo == hi:
        return f"{lo} argument" + ("" if lo == 1 else "s")
    if hi == lo + 1:
        return f"{lo} or {hi} arguments"
    return f"{lo} to {hi} arguments"


# ─── answers: numbers, vectors, matrices ──────────────────────────────────────────────

class _Answer:
    """The shape layer of :func:`parse_answer`, over spans of the normalised text."""

    def __init__(self, s: str, match: dict[int, int], line_breaks: frozenset = frozenset()):
        self.s, self.match, self.line_breaks, self.entries = s, match, line_breaks, 0
        self.factoring = 0  # bits under roots merged by a number times a vector (_times)

    def read(self, a: int, b: int) -> Answer:
        s = self.s
        bracketed = s[a] == "[" and self.match.get(a) == b - 1
        if not bracketed:
            scaled = self._scaled(a, b)
            if scaled is not None:
                return scaled
        ia, ib = (a + 1, b - 1) if bracketed else (a, b)
        ia, ib = _trim(s, ia, ib)
        if ia == ib:
            raise ExprError("empty answer", a)
        if any(s[i] == "[" for i in self._depth0(ia, ib)):
            return self._nested(ia, ib)
        rows = [_trim(s, x, y) for x, y in self._split(ia, ib, ";", lines=True)]
        rows = [(x, y) for x, y in rows if x != y]  # blank lines, a trailing ';'
        if not rows:
            raise ExprError("empty answer", a)
        if len(rows) == 1:
            entries = self._row(*rows[0])
            return entries[0] if len(entries) == 1 and not bracketed else tuple(entries)
        return self._rectangular([(x, tuple(self._row(x, y))) for x, y in rows])

    def _scaled(self, a: int, b: int) -> tuple | None:
        """A number times a bracketed vector or matrix, as the tutor writes δ3·h2ᵀ:
        ``-0.3654*[0.42, 0]``, ``[0.6, -0.4]*(-0.3654)``, ``-[1, 2]``: every entry times the
        number, exactly (None: no bracket next to an operator, not this form). Any other
        arithmetic next to a bracket (``[1, 2] + [3, 4]``, ``2/[1, 2]``) is refused plainly."""
        s = self.s
        opens = [i for i in self._depth0(a, b) if s[i] == "["]
        if not opens:
            return None
        if len(opens) == 1:
            o, c = opens[0], self.match[opens[0]]
            la, lb = _trim(s, a, o)
            ra, rb = _trim(s, c + 1, b)
            factor = None
            if ra == rb and lb > la and s[la:lb] in ("-", "+"):
                factor, at = sp.Integer(-1 if s[la] == "-" else 1), la
            elif ra == rb and lb > la and s[lb - 1] == "*" and s[lb - 2:lb] != "**":
                factor, at = self._factor(la, lb - 1), la
            elif la == lb and rb > ra and s[ra] == "*" and s[ra:ra + 2] != "**":
                factor, at = self._factor(ra + 1, rb), ra + 1
            if factor is not None:
                return self._times(factor, self.read(o, c + 1), at)
        for o in opens:  # an operator just before '[' or just after ']'
            la, lb = _trim(s, a, o)
            ra, rb = _trim(s, self.match[o] + 1, b)
            at = lb - 1 if lb > la and s[lb - 1] in _ARITHMETIC else \
                ra if rb > ra and s[ra] in _ARITHMETIC else None
            if at is not None:
                raise _Syntax("arithmetic on vectors and matrices is not read, except a number "
                              "times one (2*[1, 0]): type the entries, e.g. [a, b]", at)
        return None

    def _factor(self, a: int, b: int) -> sp.Expr:
        """The number in front of (or after) the bracket: a product, quotient or power —
        ``1 + 2*[1, 2]`` is not (1 + 2)·[1, 2], so a + or − between terms is refused."""
        a, b = _trim(self.s, a, b)
        if a == b:
            raise _Syntax("a number is missing before '*'", a)
        at = _binary_sign(self.s, a, b)
        if at is not None:
            raise _Syntax("arithmetic on vectors and matrices is not read, except a number "
                          "times one (2*[1, 0]): type the entries, e.g. [a, b]", at)
        self._count(1, a)
        return _parse_span(self.s, a, b, {}, answer=True)

    def _times(self, factor: sp.Expr, value: tuple, at: int) -> tuple:
        """Every entry of ``value`` (a vector or a matrix: tuples) times ``factor``, within
        the limits of the expression grammar: no huge rational, no roots of large numbers
        merged (√a·√b = √(ab): SymPy factors ab)."""
        mine = _root_bits(factor)

        def one(x: sp.Expr) -> sp.Expr:
            theirs = _root_bits(x) if mine else 0
            if theirs:
                if mine + theirs > MAX_ROOT_BITS:
                    raise ExprError(f"roots of large numbers multiplied together (more than "
                                    f"{MAX_ROOT_BITS} bits under one root)", at, code=TOO_LARGE)
                self.factoring += mine + theirs
                if self.factoring > MAX_FACTORING_BITS:
                    raise ExprError("too many roots and logarithms of large numbers", at,
                                    code=TOO_LARGE)
            v = factor * x
            if _coefficient_bits(v) > MAX_NUMBER_BITS:
                raise ExprError(f"number too large: more than {MAX_NUMBER_BITS:,} bits", at,
                                code=TOO_LARGE)
            return v

        return tuple(tuple(one(x) for x in row) if isinstance(row, tuple) else one(row)
                     for row in value)

    def _nested(self, a: int, b: int) -> tuple:
        """``[[1, 2], [3, 4]]``; rows apart by commas, semicolons or spaces (NumPy style)."""
        rows = []
        for x, y in self._split(a, b, ",; "):
            x, y = _trim(self.s, x, y)
            if x == y:
                continue
            if self.s[x] == "[" and self.match[x] != y - 1:
                after = self.match[x] + 1
                raise _Syntax(f"unexpected {_quote(self.s[after])} after ']'", after)
            if self.s[x] != "[":
                if rows and not self.s[rows[-1][2]:x].strip():
                    raise _Syntax(f"unexpected {_quote(self.s[x])} after ']'", x)
                raise _Syntax("a matrix is a list of rows: [[1, 2], [3, 4]]", x)
            ra, rb = _trim(self.s, x + 1, y - 1)
            if ra == rb:
                raise ExprError("empty row", x)
            inner = [i for i in self._depth0(ra, rb) if self.s[i] == "["]
            if inner:
                raise _Syntax("too many brackets: a matrix is [[1, 2], [3, 4]]", inner[0])
            rows.append((x, tuple(self._row(ra, rb)), y))
        return self._rectangular([(x, row) for x, row, _ in rows])

    @staticmethod
    def _rectangular(rows: list[tuple[int, tuple]]) -> tuple:
        width = len(rows[0][1])
        for at, row in rows[1:]:
            if len(row) != width:
                raise ExprError(f"rows have different lengths: {width} and {len(row)}", at)
        return tuple(row for _, row in rows)

    def _row(self, a: int, b: int) -> list[sp.Expr]:
        """Entries separated by commas, or by spaces when every item stands alone."""
        pieces = self._split(a, b, ",")
        out: list[sp.Expr] = []
        for x, y in pieces:
            x, y = _trim(self.s, x, y)
            if x == y:
                raise _Syntax("empty entry (two commas in a row?)", x)
            out += self._spaced(x, y)
        return out

    def _spaced(self, a: int, b: int) -> list[sp.Expr]:
        tokens = [(x, y) for x, y in self._split(a, b, " ") if x != y]
        if len(tokens) == 1:
            return [self._entry(a, b)]
        self._count(len(tokens), a)
        values, first_error = [], None
        for x, y in tokens:
            try:
                values.append(_parse_span(self.s, x, y, {}, answer=True))
            except ExprError as err:
                first_error = err
                break
        if first_error is None:
            return values
        self.entries -= len(tokens)
        try:
            return [self._entry(a, b)]
        except ExprError as whole:
            raise (whole if isinstance(first_error, _Syntax) else first_error) from None

    def _entry(self, a: int, b: int) -> sp.Expr:
        self._count(1, a)
        return _parse_span(self.s, a, b, {}, answer=True)

    def _count(self, n: int, at: int) -> None:
        self.entries += n
        if self.entries > MAX_ENTRIES:
            raise ExprError(f"too many numbers in one answer (more than {MAX_ENTRIES:,})", at,
                            code=TOO_LARGE)

    def _depth0(self, a: int, b: int):
        """Positions in [a, b) outside any bracket pair that starts inside [a, b)."""
        i = a
        while i < b:
            yield i
            i = self.match[i] + 1 if self.s[i] in "([" else i + 1

    def _split(self, a: int, b: int, seps: str, lines: bool = False) -> list[tuple[int, int]]:
        """Spans of [a, b) between separators outside brackets (and line breaks if asked)."""
        out, start = [], a
        for i in self._depth0(a, b):
            if self.s[i] in seps or (lines and i in self.line_breaks):
                out.append((start, i))
                start = i + 1
        out.append((start, b))
        return out
