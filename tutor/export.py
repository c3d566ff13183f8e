"""`tutor export`: an exercise as questions a learning platform imports — Moodle XML (numeric
questions, no STACK needed) and Canvas QTI 1.2. Display only: every number is the engine's.

    tutor export lab9-relu-sigmoid-bce --format moodle-xml > lab9.xml
    tutor export lab9-variants --format moodle-xml --variants 100 --out lab9-bank.xml
    tutor export lab9-relu-sigmoid-bce --format qti --out lab9-canvas.zip

What becomes what (docs/export.md says why):

    a scalar step            Moodle: a numerical question   Canvas: a numerical question
    a vector / matrix step   Moodle: a cloze question, one   Canvas: one numerical question
                             NUMERICAL field per entry, laid  per entry (dW2[1,2]): Canvas has
                             out in the value's shape         no multi-number question with a
                                                              tolerance
    --variants N             Moodle: one cloze question per   Canvas: one quiz per variant in
                             variant holding the whole        the package
                             exercise, all in one category,
                             for a quiz's "random question"

The key of every number is its exact value (tutor.core.work: a Step's SymPy value), written
as the nearest double in the shortest digits that give it back (what `tutor solve --format
json` writes, tutor.render.to_json), and its tolerance is the exercise's own
(tutor.tolerance.Tolerance: |a − v| ≤ abs + rel·|v|) turned into the absolute margin of that
entry, abs + rel·|v| — Moodle's numerical and Canvas's numeric questions take an absolute
margin only, so a relative tolerance (``sig:``) becomes a margin per entry.

Text from an exercise file (a title, a node's name) is data: made visible
(tutor.errors.visible), HTML-escaped, and its braces written as entities, so that no title
can open a cloze field of its own.
"""
from __future__ import annotations

import hashlib
import html
import math
import sys
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

FORMATS = ("moodle-xml", "qti")
QUESTIONS = ("step", "exercise")
MAX_VARIANTS = 1000  # variants in one export (each is a solve; 100 take a few seconds)
QTI_NS = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
QTI_XSD = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
CP_NS = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_NS = "http://canvas.instructure.com/xsd/cccv1p0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # every file of a package: the same bytes on every run


# ─── the questions, read from a worked exercise ────────────────────────────────────────
@dataclass(frozen=True)
class Entry:
    """One number a student types: its name (dW2[1,2]), its position in the step's value
    (row, column; (0, 0) for a scalar), the key as decimal text and its absolute margin."""

    label: str
    at: tuple[int, int]
    key: str  # the exact value's nearest double, shortest digits: "0.6345946538029771"
    margin: str  # abs + rel·|v| as decimal text: "0.0001"
    low: str  # key − margin and key + margin, from the exact value (Canvas's range)
    high: str


@dataclass
class Question:
    """One step of one worked exercise as a question: what it asks and its entries."""

    step: Any  # tutor.steps.Step
    index: int  # 1-based, in the order practice asks
    total: int
    shape: tuple[int, int]  # (1, 1) for a scalar; (n, 1) a vector, shown as a column
    entries: list[Entry] = field(default_factory=list)

    @property
    def scalar(self) -> bool:
        return len(self.entries) == 1


def numbers_of(worked) -> list[Question]:
    """Every step the exercise asks, with each entry's key and margin. Refused (exit 2) for
    a symbolic exercise: its answers are expressions, which numeric questions cannot take."""
    from tutor.errors import InputError

    if worked.symbolic:
        raise InputError(f"{worked.id}: its answers are expressions in symbols, and Moodle's "
                         f"numerical and Canvas's numeric questions take numbers only (a "
                         f"symbolic exercise needs STACK or a formula question): not exported")
    steps = worked.steps
    return [Question(s, k, len(steps), _shape(s.value), list(_entries(s, worked.tolerance)))
            for k, s in enumerate(steps, start=1)]


def _shape(v: Any) -> tuple[int, int]:
    from tutor.render import is_matrix

    if not is_matrix(v) or v.shape == (1, 1):
        return (1, 1)
    if v.rows == 1:  # a row vector (row layout) is shown as a column like every vector
        return (v.cols, 1)
    return tuple(v.shape)


def _entries(step, tol) -> Iterable[Entry]:
    from tutor.render import entry_name, is_matrix

    v = step.value
    if not is_matrix(v) or v.shape == (1, 1):
        yield _entry(step.id, (0, 0), v[0, 0] if is_matrix(v) else v, tol)
        return
    shape = tuple(v.shape)
    for i in range(v.rows):
        for j in range(v.cols):
            at = (i, j) if v.rows > 1 else (j, 0)
            yield _entry(entry_name(step.id, (i, j), shape), at, v[i, j], tol)


def _entry(label: str, at: tuple[int, int], x: Any, tol) -> Entry:
    """The key of one entry: the nearest double of the exact value (tutor.render.to_json,
    as `tutor solve --format json` writes it), and the margin abs + rel·|x| (exact when
    the value is rational; from 40 certified digits otherwise)."""
    from tutor.errors import InputError
    from tutor.numeric import as_fraction
    from tutor.render import to_json

    key = to_json(x)
    exact = as_fraction(x, 40)
    if not isinstance(key, float) or exact is None or not math.isfinite(key):
        raise InputError(f"{label} = {x}: not a number a numeric question can hold")
    margin = as_fraction(tol.abs, 40) + as_fraction(tol.rel, 40) * abs(exact)
    return Entry(label, at, _number(key), _decimal(margin), _number(float(exact - margin)),
                 _number(float(exact + margin)))


def _number(f: float) -> str:
    """A double in the shortest digits that read back as it (0.6, -0.3654…, 1e-05)."""
    return "0" if f == 0 else repr(f)


def _decimal(f: Fraction) -> str:
    """A margin as decimal text: exactly when it terminates (1/10⁴ → 0.0001), else the
    nearest double (a relative tolerance times an irrational value)."""
    d = f.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1 and f != 0:
        from decimal import Decimal, localcontext

        with localcontext() as ctx:
            ctx.prec = 60
            text = format(Decimal(f.numerator) / Decimal(f.denominator), "f")
        if len(text) <= 30:
            return text.rstrip("0").rstrip(".") if "." in text else text
    return _number(float(f))


# ─── the words around the numbers (HTML) ───────────────────────────────────────────────
def _h(text: Any) -> str:
    """Text from an exercise file or the engine's words as HTML: visible (no control
    characters), escaped, braces as entities (no cloze field can start in it)."""
    from tutor.errors import visible

    return (html.escape(visible(text, lines=True), quote=True)
            .replace("{", "&#123;").replace("}", "&#125;"))


def setup_html(worked) -> str:
    """What every question of the exercise states first: the title, how the network or
    graph computes (its forward definitions with their rules), the given numbers (the
    student's own variant's), how close an answer must be."""
    from tutor import words
    from tutor.template import given_lines
    from tutor.words.notation import meaning_text, note_text

    spec = worked.exercise.spec
    g = worked.graph
    head = f"<p><strong>{_h(spec.title or spec.id)}</strong>"
    if words.variant(worked):
        head += f" <em>({_h(words.variant(worked))})</em>"
    out = [head + "</p>"]
    what = "a network" if g.kind == "network" else "a computation graph"
    if g.kind == "network":
        what += (" (z = W x + b" if g.layout == "column" else " (z = x W + b") + ")"
    defs = []
    for s in worked.all_steps:
        if s.phase == "forward" and s.iteration == 1:
            rule = note_text(s.formula)
            defs.append(f"<li>{_h(meaning_text(s.meaning))}"
                        + (f" — {_h(rule)}" if rule else "") + "</li>")
    out.append(f"<p>The exercise is {what}:</p><ul>{''.join(defs)}</ul>")
    if any(n.attrs.get("fn") == "relu" or "relu" in str(n.attrs.get("text", ""))
           for n in g.nodes.values()):
        out.append(f"<p>Convention: ReLU′(0) = {1 if g.relu_prime_at_zero else 0}.</p>")
    given = [line[4:] if line.startswith("#   ") else line.lstrip("# ")
             for line in given_lines(worked)[1:]]
    out.append("<p>Given:</p><pre>" + _h("\n".join(given)) + "</pre>")
    if worked.solution.n_iterations > 1:
        out.append(f"<p>There are {worked.solution.n_iterations} SGD iterations; each "
                   f"starts from the parameters the one before updated.</p>")
    out.append(f"<p>Answers are accepted to {_h(words.tolerance_label(worked.tolerance))}; "
               f"write each number as a decimal (-0.3654).</p>")
    return "\n".join(out)


def ask_html(worked, q: Question, whole: bool = False) -> str:
    """'Step 8 of 24 (Backward pass): compute δ3 = ∂L/∂z3 (delta3), a scalar.' (``whole``:
    under its phase's heading, '8. δ3 = ∂L/∂z3 (delta3), a scalar.')"""
    from tutor.render import shape_text
    from tutor.words import phase_title
    from tutor.words.notation import meaning_text

    s = q.step
    phase = phase_title(s.phase, s.iteration, worked.solution.n_iterations)
    shape = shape_text(s.value)
    shape = f"a {shape}"  # a scalar, a vector of 2, a 2×2
    what = f"<strong>{_h(meaning_text(s.meaning))}</strong> ({_h(s.id)}), {_h(shape)}."
    if whole:
        return f"<p>{q.index}. {what}</p>"
    return f"<p>Step {q.index} of {q.total} ({_h(phase)}): compute {what}</p>"


def worked_html(worked, q: Question) -> str:
    """The step worked, as `tutor solve` shows it (tutor.writeup.step_text): the formula,
    the numbers, the value, the rule, and why each zero is zero; the exact form only where
    it is short."""
    from tutor.writeup import step_text

    t = step_text(worked, q.step)
    lines = [_h(t["formula"])]
    if t["numbers"]:
        lines.append(_h(t["numbers"]))
    lines.append("= " + _h(t["value"]))
    out = [f"<p><strong>{_h(q.step.id)}</strong>: " + "<br>".join(lines) + "</p>"]
    extra = []
    from tutor.render import EXACT_SHORT

    if t["exact"] and len(t["exact"]) <= EXACT_SHORT:
        extra.append(f"exact: {_h(t['exact'])}")
    if t["rule"]:
        extra.append(f"rule: {_h(t['rule'])}")
    extra += [f"{_h(entries)} = 0: {_h(why)}" for entries, why in t["zeros"]]
    if extra:
        out.append("<ul>" + "".join(f"<li>{e}</li>" for e in extra) + "</ul>")
    return "".join(out)


# ─── Moodle XML ────────────────────────────────────────────────────────────────────────
def cloze_field(e: Entry) -> str:
    """One embedded NUMERICAL answer of a Moodle cloze question, worth 1 mark."""
    return f"{{1:NUMERICAL:={e.key}:{e.margin}}}"


def _grid(q: Question, cell) -> str:
    """The entries laid out in the value's shape: a table of rows, each cell the entry's
    name and ``cell(entry)``."""
    rows: dict[int, list[Entry]] = {}
    for e in q.entries:
        rows.setdefault(e.at[0], []).append(e)
    body = "".join("<tr>" + "".join(f"<td>{_h(e.label)} =</td><td>{cell(e)}</td>" for e in r)
                   + "</tr>" for _, r in sorted(rows.items()))
    return f'<table class="tutor-entries">{body}</table>'


def _text_el(parent: ET.Element, tag: str, text: str, fmt: str | None = "html") -> ET.Element:
    el = ET.SubElement(parent, tag, {"format": fmt} if fmt else {})
    ET.SubElement(el, "text").text = text
    return el


def _tags(parent: ET.Element, names: list[str]) -> None:
    tags = ET.SubElement(parent, "tags")
    for n in names:
        ET.SubElement(ET.SubElement(tags, "tag"), "text").text = n


def _moodle_category(quiz: ET.Element, path: str, info: str) -> None:
    q = ET.SubElement(quiz, "question", {"type": "category"})
    ET.SubElement(ET.SubElement(q, "category"), "text").text = path
    _text_el(q, "info", info)


def _moodle_step(quiz: ET.Element, worked, q: Question, setup: str, name: str) -> None:
    """A scalar step: a numerical question; a vector or matrix: a cloze question."""
    s = q.step
    text = setup + ask_html(worked, q)
    feedback = worked_html(worked, q)
    tags = ["tutor", worked.id, f"skill:{s.skill}"]
    if q.scalar:
        e = q.entries[0]
        el = ET.SubElement(quiz, "question", {"type": "numerical"})
        ET.SubElement(ET.SubElement(el, "name"), "text").text = name
        _text_el(el, "questiontext", text)
        _text_el(el, "generalfeedback", feedback)
        ET.SubElement(el, "defaultgrade").text = "1"
        ET.SubElement(el, "penalty").text = "0.3333333"
        ET.SubElement(el, "hidden").text = "0"
        ans = ET.SubElement(el, "answer", {"fraction": "100", "format": "plain_text"})
        ET.SubElement(ans, "text").text = e.key
        ET.SubElement(ans, "tolerance").text = e.margin
        _text_el(ans, "feedback", "")
        ET.SubElement(el, "unitgradingtype").text = "0"
        ET.SubElement(el, "unitpenalty").text = "0.1"
        ET.SubElement(el, "showunits").text = "3"  # no units
        ET.SubElement(el, "unitsleft").text = "0"
        _tags(el, tags)
        return
    el = ET.SubElement(quiz, "question", {"type": "cloze"})
    ET.SubElement(ET.SubElement(el, "name"), "text").text = name
    _text_el(el, "questiontext", text + _grid(q, cloze_field))
    _text_el(el, "generalfeedback", feedback)
    ET.SubElement(el, "penalty").text = "0.3333333"
    ET.SubElement(el, "hidden").text = "0"
    _tags(el, tags)


def _moodle_whole(quiz: ET.Element, worked, qs: list[Question], name: str) -> None:
    """The whole exercise as one cloze question: every step, each entry a NUMERICAL field,
    so that a quiz's random question gives a student one variant from start to end."""
    from tutor.words import phase_title

    parts = [setup_html(worked)]
    phase = None
    for q in qs:
        s = q.step
        title = phase_title(s.phase, s.iteration, worked.solution.n_iterations)
        if title != phase:
            phase = title
            parts.append(f"<h4>{_h(title)}</h4>")
        ask = ask_html(worked, q, whole=True).removesuffix("</p>")
        parts.append(ask + (f" {cloze_field(q.entries[0])}</p>" if q.scalar
                            else "</p>" + _grid(q, cloze_field)))
    el = ET.SubElement(quiz, "question", {"type": "cloze"})
    ET.SubElement(ET.SubElement(el, "name"), "text").text = name
    _text_el(el, "questiontext", "\n".join(parts))
    _text_el(el, "generalfeedback", "".join(worked_html(worked, q) for q in qs))
    ET.SubElement(el, "penalty").text = "0.3333333"
    ET.SubElement(el, "hidden").text = "0"
    _tags(el, ["tutor", worked.id])


def moodle_xml(workeds: list, questions: str = "step",
               category: str | None = None) -> tuple[str, int, int]:
    """Moodle XML (Question bank → Import → Moodle XML format): a category
    ``$course$/tutor/<id>`` and, per worked exercise, one question per step
    (``questions="step"``; several variants: a sub-category each) or one cloze question
    holding every step (``"exercise"``). Returns the XML, its number of questions and of
    numbers."""
    first = workeds[0]
    spec = first.exercise.spec
    base = category or f"$course$/tutor/{first.id}"
    quiz = ET.Element("quiz")
    quiz.append(ET.Comment(f" tutor export {first.id}: {len(workeds)} "
                           f"variant{'s' * (len(workeds) != 1)} "))
    info = _h(spec.title or spec.id)
    if spec.notes:
        info += "<p>Notes for the teacher: " + _h(spec.notes.strip()) + "</p>"
    several = len(workeds) > 1
    n = nums = 0
    if questions == "exercise":
        _moodle_category(quiz, base, info + (
            f"<p>{len(workeds)} variants, one question each: add a random question from "
            f"this category to a quiz, and each student gets one whole variant.</p>"
            if several else ""))
    for w in workeds:
        qs = numbers_of(w)
        nums += sum(len(q.entries) for q in qs)
        label = _variant_label(w)
        if questions == "exercise":
            _moodle_whole(quiz, w, qs, f"{w.id}{label}")
            n += 1
            continue
        if several:
            _moodle_category(quiz, f"{base}/{label.strip(' ·')}", info)
        elif w is first:
            _moodle_category(quiz, base, info)
        setup = setup_html(w)
        width = len(str(len(qs)))
        for q in qs:
            _moodle_step(quiz, w, q, setup, f"{w.id}{label} {q.index:0{width}d} {q.step.id}")
            n += 1
    ET.indent(quiz, "  ")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, "unicode") + "\n",
            n, nums)


def _variant_label(worked) -> str:
    return "" if worked.seed is None else f" · variant {worked.seed:03d}"


# ─── Canvas QTI 1.2 ────────────────────────────────────────────────────────────────────
def _ident(*parts: Any) -> str:
    """A stable identifier (the same export gives the same ids: a re-import updates)."""
    return "g" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def _field(meta: ET.Element, label: str, entry: str) -> None:
    f = ET.SubElement(meta, "qtimetadatafield")
    ET.SubElement(f, "fieldlabel").text = label
    ET.SubElement(f, "fieldentry").text = entry


def _mattext(parent: ET.Element, text: str) -> None:
    ET.SubElement(ET.SubElement(parent, "material"), "mattext",
                  {"texttype": "text/html"}).text = text


def _qti_item(section: ET.Element, worked, q: Question, e: Entry, setup: str,
              feedback: str, ident: str) -> None:
    """One entry as a Canvas numerical question: exact answer with margin — the key, or
    any response in [key − margin, key + margin] — and the worked step as its feedback."""
    item = ET.SubElement(section, "item", {"ident": ident, "title": e.label})
    meta = ET.SubElement(ET.SubElement(item, "itemmetadata"), "qtimetadata")
    _field(meta, "question_type", "numerical_question")
    _field(meta, "points_possible", "1")
    _field(meta, "original_answer_ids", ident + "_a")
    _field(meta, "assessment_question_identifierref", ident + "_q")
    pres = ET.SubElement(item, "presentation")
    which = ("" if q.scalar else
             f"<p>Give the entry <strong>{_h(e.label)}</strong>"
             + (f" (row {e.at[0] + 1}, column {e.at[1] + 1})" if q.shape[1] > 1 else "")
             + ".</p>")
    _mattext(pres, setup + ask_html(worked, q) + which)
    resp = ET.SubElement(pres, "response_str", {"ident": "response1", "rcardinality": "Single"})
    fib = ET.SubElement(resp, "render_fib", {"fibtype": "Decimal"})
    ET.SubElement(fib, "response_label", {"ident": "answer1"})
    proc = ET.SubElement(item, "resprocessing")
    ET.SubElement(ET.SubElement(proc, "outcomes"), "decvar",
                  {"maxvalue": "100", "minvalue": "0", "varname": "SCORE",
                   "vartype": "Decimal"})
    always = ET.SubElement(proc, "respcondition", {"continue": "Yes"})
    ET.SubElement(ET.SubElement(always, "conditionvar"), "other")
    ET.SubElement(always, "displayfeedback",
                  {"feedbacktype": "Response", "linkrefid": "general_fb"})
    right = ET.SubElement(proc, "respcondition", {"continue": "No"})
    either = ET.SubElement(ET.SubElement(right, "conditionvar"), "or")
    ET.SubElement(either, "varequal", {"respident": "response1"}).text = e.key
    both = ET.SubElement(either, "and")
    ET.SubElement(both, "vargte", {"respident": "response1"}).text = e.low
    ET.SubElement(both, "varlte", {"respident": "response1"}).text = e.high
    ET.SubElement(right, "setvar", {"action": "Set", "varname": "SCORE"}).text = "100"
    fb = ET.SubElement(item, "itemfeedback", {"ident": "general_fb"})
    _mattext(ET.SubElement(fb, "flow_mat"), feedback)


def qti_assessment(worked, ident: str) -> tuple[str, int]:
    """One worked exercise as a QTI 1.2 assessment (questestinterop): a numerical question
    per entry, in the order of the steps. Returns the XML and its number of questions."""
    qs = numbers_of(worked)
    root = ET.Element("questestinterop", {
        "xmlns": QTI_NS, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{QTI_NS} {QTI_XSD}"})
    test = ET.SubElement(root, "assessment", {"ident": ident, "title": _title(worked)})
    meta = ET.SubElement(test, "qtimetadata")
    _field(meta, "cc_maxattempts", "1")
    section = ET.SubElement(test, "section", {"ident": "root_section"})
    setup = setup_html(worked)
    n = 0
    for q in qs:
        feedback = worked_html(worked, q)  # once for the step's entries
        for e in q.entries:
            _qti_item(section, worked, q, e, setup, feedback,
                      _ident(ident, q.step.id, e.label))
            n += 1
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n", n


def _title(worked) -> str:
    from tutor.errors import visible

    spec = worked.exercise.spec
    return visible(spec.title or spec.id) + _variant_label(worked).replace(" ·", " —")


def _canvas_meta(worked, ident: str, points: int) -> str:
    """assessment_meta.xml: the quiz's Canvas settings (title, description, points)."""
    root = ET.Element("quiz", {"identifier": ident, "xmlns": CANVAS_NS, "xmlns:xsi": XSI,
                               "xsi:schemaLocation": f"{CANVAS_NS} "
                                                     "https://canvas.instructure.com/xsd/cccv1p0.xsd"})
    for tag, text in (("title", _title(worked)), ("description", setup_html(worked)),
                      ("shuffle_answers", "false"), ("scoring_policy", "keep_highest"),
                      ("hide_results", ""), ("quiz_type", "assignment"),
                      ("points_possible", f"{points:.1f}"), ("show_correct_answers", "true"),
                      ("anonymous_submissions", "false"), ("could_be_locked", "false"),
                      ("allowed_attempts", "1"), ("one_question_at_a_time", "false"),
                      ("cant_go_back", "false"), ("available", "false")):
        ET.SubElement(root, tag).text = text
    a = ET.SubElement(root, "assignment", {"identifier": ident + "_assignment"})
    for tag, text in (("title", _title(worked)), ("workflow_state", "unpublished"),
                      ("quiz_identifierref", ident), ("points_possible", f"{points:.1f}"),
                      ("grading_type", "points"), ("submission_types", "online_quiz")):
        ET.SubElement(a, tag).text = text
    ET.SubElement(root, "assignment_group_identifierref").text = ident + "_group"
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def qti_package(workeds: list) -> tuple[bytes, int]:
    """A Canvas QTI .zip (Settings → Import Course Content → QTI .zip file): an
    imsmanifest.xml and, per worked exercise (variant), one assessment with its Canvas
    settings. Returns the zip's bytes and the number of questions."""
    import io

    files: list[tuple[str, str]] = []
    resources = []
    total = 0
    for w in workeds:
        ident = _ident("tutor", w.exercise.sha, w.id, w.seed)
        xml, n = qti_assessment(w, ident)
        total += n
        files.append((f"{ident}/{ident}.xml", xml))
        files.append((f"{ident}/assessment_meta.xml", _canvas_meta(w, ident, n)))
        resources.append(ident)
    files.insert(0, ("imsmanifest.xml", _manifest(workeds[0], resources)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, text.encode("utf-8"))
    return buf.getvalue(), total


def _manifest(worked, resources: list[str]) -> str:
    root = ET.Element("manifest", {"identifier": _ident("manifest", *resources),
                                   "xmlns": CP_NS})
    meta = ET.SubElement(root, "metadata")
    ET.SubElement(meta, "schema").text = "IMS Content"
    ET.SubElement(meta, "schemaversion").text = "1.1.3"
    ET.SubElement(root, "organizations")
    res = ET.SubElement(root, "resources")
    for ident in resources:
        r = ET.SubElement(res, "resource", {"identifier": ident, "type": "imsqti_xmlv1p2"})
        ET.SubElement(r, "file", {"href": f"{ident}/{ident}.xml"})
        ET.SubElement(r, "dependency", {"identifierref": ident + "_meta"})
        m = ET.SubElement(res, "resource", {
            "identifier": ident + "_meta",
            "type": "associatedcontent/imscc_xmlv1p1/learning-application-resource",
            "href": f"{ident}/assessment_meta.xml"})
        ET.SubElement(m, "file", {"href": f"{ident}/assessment_meta.xml"})
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


# ─── the command ───────────────────────────────────────────────────────────────────────
def workeds_for(ref: str, variants: int | None = None, seed: int | None = None,
                progress=None) -> list:
    """The worked exercises to export: the exercise itself (its base values, or the variant
    of ``seed``), or its variants 0…N−1. An exercise without a ``variants:`` block gets
    fresh numbers for each seed, as `tutor solve --seed` and `practice --new` do (said once
    on stderr)."""
    from tutor.core import variant, work
    from tutor.errors import UsageError

    if variants is not None and seed is not None:
        raise UsageError("give --variants N (seeds 0…N-1) or --seed N (one variant), not both")
    if variants is not None and not 1 <= variants <= MAX_VARIANTS:
        raise UsageError(f"--variants: between 1 and {MAX_VARIANTS}")
    if variants is None:
        return [work(ref, fresh=True, **({"seed": seed} if seed is not None else {}))]
    base = work(ref, note=False)
    ex = base.exercise
    if ex.spec.variants is None:
        from tutor.fresh import fresh_exercise

        ex = fresh_exercise(ex)
        if ex.spec.variants is None:
            raise UsageError(f"{base.id} has no variants: block and no numbers that can be "
                             f"drawn: export it without --variants")
        print(f"note: {base.id} has no variants: block: its {variants} variants are fresh "
              f"numbers drawn from its own (as practice --new)", file=sys.stderr)
    from tutor.drawcache import for_command

    cache = for_command(True)
    out = []
    for k in range(variants):
        out.append(variant(ex, k, cache))
        ex.drawn.pop(k, None)  # kept in the list, not twice
        if progress is not None:
            progress(k + 1, variants)
    if cache is not None:
        cache.flush()
    return out


def export(ref: str, fmt: str, variants: int | None = None, seed: int | None = None,
           questions: str | None = None, out: Path | None = None, progress=None) -> str:
    """`tutor export`: write the file (or Moodle XML to stdout) and say what was written."""
    from tutor.errors import InputError, UsageError

    if fmt not in FORMATS:
        raise UsageError(f"--format: one of {', '.join(FORMATS)}")
    if questions is None:
        questions = "exercise" if variants is not None and fmt == "moodle-xml" else "step"
    if questions not in QUESTIONS:
        raise UsageError(f"--questions: one of {', '.join(QUESTIONS)}")
    if fmt == "qti" and questions == "exercise":
        raise UsageError("--questions exercise is Moodle's (one cloze question); Canvas has no "
                         "question with several numeric answers: qti writes one question per "
                         "number")
    if fmt == "qti" and out is not None and str(out) != "-" and out.suffix.lower() != ".zip":
        raise UsageError(f"--out {out}: Canvas imports a QTI .zip file: name it FILE.zip")
    workeds = workeds_for(ref, variants, seed, progress)
    first = workeds[0]
    if fmt == "moodle-xml":
        text, n, nums = moodle_xml(workeds, questions)
        data = text.encode("utf-8")
        what = (f"{n} question{'s' * (n != 1)} ({nums} numbers) in category "
                f"$course$/tutor/{first.id}")
        how = "Moodle: Question bank → Import → Moodle XML format"
        if questions == "exercise" and len(workeds) > 1:
            how += "; then a quiz's Add → a random question from that category"
    else:
        data, n = qti_package(workeds)
        what = (f"{n} numerical question{'s' * (n != 1)} in {len(workeds)} "
                f"quiz{'zes' * (len(workeds) != 1)}")
        how = "Canvas: Settings → Import Course Content → QTI .zip file"
        if out is None:
            out = Path(f"{first.id}-qti.zip")
    if out is None or str(out) == "-":
        if fmt == "qti" and sys.stdout.isatty():
            raise UsageError("a zip file is not for a terminal: give --out FILE.zip")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return f"{what}. {how}"
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    from tutor.errors import path_text

    return f"wrote {path_text(out)}: {what}. {how}"
