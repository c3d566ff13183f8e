"""`tutor export` (issue 15 item 6): Moodle XML and Canvas QTI 1.2, checked the way the
platforms read them.

* Moodle publishes no schema for its XML format; its importer is PHP
  (question/format/xml/format.php, question/type/multianswer/questiontype.php). The checks
  here read a file as that importer does: the elements and attributes it looks up for a
  category, a numerical and a cloze question, and every embedded answer parsed with the
  cloze grammar (re-written below from the importer's regular expressions: NUMBER_REGEX,
  NUMERICAL_ALTERNATIVE_REGEX, ANSWER_REGEX). Each key is then graded as Moodle grades a
  numerical answer (|response − answer| ≤ tolerance + 10⁻¹⁴·max(1, |answer|)).
* QTI 1.2.1's schema here is the IMS DTD ims_qtiasiv1p2p1.dtd (the XSD that Canvas's
  xsi:schemaLocation names is in no package reachable here). The DTD is not in any
  pip-installable package's installed files: pyslet's source distribution carries it as
  test data (unittests/data_imsqtiv1p2p1/). ``test_qti_is_valid_against_the_ims_dtd``
  validates against it when it is found (TUTOR_QTI_DTD, or tests/data/), with the small DTD
  validator below (the standard library validates no DTD, and lxml is not a dependency);
  without it the test is skipped and says so. The structural checks run always.
"""
from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
import zipfile
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tutor.cli import app

LAB9 = "lab9-relu-sigmoid-bce"
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"


def run(*args):
    return CliRunner().invoke(app, ["export", *map(str, args)])


def export_file(tmp_path, *args, name="out.xml"):
    out = tmp_path / name
    r = run(*args, "--out", out)
    assert r.exit_code == 0, r.stdout + r.stderr
    return out, r


# ─── Moodle's reading of the file ──────────────────────────────────────────────────────
# The cloze grammar of Moodle's multianswer question type, re-written as Python regular
# expressions (Python's look-behind takes one width, so `(?<!\\|&|&amp;)` is three).
NUMBER = r"-?(?:(?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][-+]?[0-9]+)?)"
NUMERICAL_ALT = re.compile(rf"^(?P<value>{NUMBER})(?::(?P<tol>{NUMBER}))?$", re.S)
ALT = (r"(?:=|%-?[0-9]+%)?"  # fraction
       r".+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$)"  # answer
       r"(?:#.*?(?<!\\)(?=[~}]|$))?")  # feedback
FIELD = re.compile(r"\{(?P<mark>[0-9]*):(?P<type>NUMERICAL|NM|MULTICHOICE\w*|MC\w*|"
                   r"SHORTANSWER\w*|SA\w*|MW\w*|MULTIRESPONSE\w*|MR\w*):"
                   rf"(?P<alts>{ALT}(?:~{ALT})*)\}}", re.S)
PHP_NUMERIC = re.compile(r"^\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$")


def cloze_fields(text: str) -> list[tuple[float, float, int]]:
    """Every embedded answer of a cloze question text as Moodle extracts it: (answer,
    tolerance, mark); each must be a NUMERICAL field with one alternative, marked correct."""
    found = []
    for m in FIELD.finditer(text):
        assert m["type"] in ("NUMERICAL", "NM"), m.group()
        alts = m["alts"]
        assert alts.startswith("=") and "~" not in alts and "#" not in alts, m.group()
        num = NUMERICAL_ALT.match(alts[1:])
        assert num, f"not a numerical alternative: {m.group()}"
        found.append((float(num["value"]), float(num["tol"] or 0), int(m["mark"] or 1)))
    rest = FIELD.sub("", text)
    assert not re.search(r"\{[0-9]*:[A-Z_]+:", rest), "a field Moodle would not read"
    return found


def moodle_accepts(response: float, answer: float, tolerance: float) -> bool:
    """qtype_numerical_answer::within_tolerance, nominal tolerance (PHP precision 14)."""
    slack = tolerance + 1e-14 * max(1, abs(answer))
    return answer - slack <= response <= answer + slack


def read_moodle(path: Path) -> list[dict]:
    """The questions of a Moodle XML file, as qformat_xml::readquestions reads them."""
    root = ET.parse(path).getroot()
    assert root.tag == "quiz"
    out = []
    for q in root.findall("question"):
        kind = q.get("type")
        assert kind in ("category", "numerical", "cloze"), kind
        if kind == "category":
            path_text = q.findtext("category/text")
            assert path_text and path_text.startswith("$course$/tutor/")
            out.append({"type": kind, "category": path_text})
            continue
        name = q.findtext("name/text")
        assert name and len(name) <= 255
        text_el = q.find("questiontext")
        assert text_el.get("format") == "html"
        text = text_el.findtext("text")
        assert text and q.find("generalfeedback/text") is not None
        rec = {"type": kind, "name": name, "text": text,
               "feedback": q.findtext("generalfeedback/text")}
        if kind == "numerical":
            answers = q.findall("answer")
            assert len(answers) == 1 and answers[0].get("fraction") == "100"
            value, tol = answers[0].findtext("text"), answers[0].findtext("tolerance")
            assert PHP_NUMERIC.match(value) and PHP_NUMERIC.match(tol)
            assert q.findtext("defaultgrade") == "1"
            rec["fields"] = [(float(value), float(tol), 1)]
        else:
            rec["fields"] = cloze_fields(text)
            assert rec["fields"], "a cloze question with no field is refused on import"
        out.append(rec)
    return out


def entries(v) -> list:
    """A step's value entry by entry, row by row (a scalar: one entry)."""
    return list(v) if hasattr(v, "shape") else [v]


def rounded_answers(worked) -> list[list[float]]:
    """What a student types: each entry as `tutor solve` shows it (4 decimals)."""
    from tutor.render import fmt

    out = []
    for s in worked.steps:
        out.append([float(fmt(e)) for e in entries(s.value)])
    return out


def test_a_lab9_export_reads_as_moodle_reads_it_and_grades_as_tutor_does(tmp_path):
    from tutor.core import work

    out, r = export_file(tmp_path, LAB9, "--format", "moodle-xml")
    qs = read_moodle(out)
    w = work(LAB9)
    assert qs[0] == {"type": "category", "category": f"$course$/tutor/{LAB9}"}
    qs = qs[1:]
    assert len(qs) == len(w.steps) == 24
    assert "24 questions (50 numbers)" in r.stderr and "Moodle XML format" in r.stderr
    for q, s, typed in zip(qs, w.steps, rounded_answers(w)):
        n = len(entries(s.value))
        assert q["type"] == ("numerical" if n == 1 else "cloze"), s.id
        assert q["name"].endswith(f" {s.id}") and len(q["fields"]) == n
        for (key, tol, mark), x, t in zip(q["fields"], entries(s.value), typed):
            assert key == float(x.evalf(30)) and tol == 1e-4 and mark == 1
            assert moodle_accepts(t, key, tol)  # the rounded answer practice accepts
            assert not moodle_accepts(key + 2.1e-4, key, tol)
    by_id = {s.id: q for s, q in zip(w.steps, qs)}
    assert by_id["z3"]["fields"] == [(0.552, 1e-4, 1)]
    assert by_id["dW2"]["text"].count("<tr>") == 2  # a 2×2 matrix: two rows of fields
    assert "dead ReLU" in by_id["delta2"]["feedback"]  # the worked step, as solve says it
    assert "W1 = [[0.5, -0.3], [0.2, 0.7]]" in by_id["z1"]["text"]  # the givens, each time
    assert "0.4548" in by_id["L"]["feedback"] and "0.4548" not in by_id["L"]["text"]


def test_moodle_xml_goes_to_stdout_without_out_and_is_the_same_each_time():
    a, b = run(LAB9, "-f", "moodle-xml"), run(LAB9, "-f", "moodle-xml")
    assert a.exit_code == 0 and a.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert a.stdout == b.stdout
    ET.fromstring(a.stdout.encode())


def test_variants_are_one_whole_exercise_question_each_in_one_category(tmp_path):
    """--variants N: each variant one cloze question with every step, so that a quiz's
    random question from the category gives a student one consistent variant."""
    from tutor.core import work

    out, r = export_file(tmp_path, "lab9-variants", "-f", "moodle-xml", "--variants", "3")
    qs = read_moodle(out)
    assert [q["type"] for q in qs] == ["category", "cloze", "cloze", "cloze"]
    assert qs[0]["category"] == "$course$/tutor/lab9-variants"
    assert "a random question" in r.stderr
    seen = set()
    for k, q in enumerate(qs[1:]):
        w = work("lab9-variants", seed=k)
        keys = [f[0] for f in q["fields"]]
        want = [float(x.evalf(30)) for s in w.steps for x in entries(s.value)]
        assert keys == want and q["name"] == f"lab9-variants · variant {k:03d}"
        assert f"variant {k}" in q["text"]
        seen.add(tuple(keys))
    assert len(seen) == 3  # three different variants


def test_variants_one_question_per_step_go_to_a_sub_category_each(tmp_path):
    out, _ = export_file(tmp_path, "lab9-variants", "-f", "moodle-xml", "--variants", "2",
                         "--questions", "step")
    qs = read_moodle(out)
    cats = [q["category"] for q in qs if q["type"] == "category"]
    assert cats == ["$course$/tutor/lab9-variants/variant 000",
                    "$course$/tutor/lab9-variants/variant 001"]
    assert len(qs) == 2 + 2 * 24


def test_a_relative_tolerance_becomes_each_entrys_own_margin(tmp_path):
    """Moodle's numerical and Canvas's numeric questions take an absolute margin: sig 3 is
    |a − v| ≤ 1e-12 + 5e-3·|v|, entry by entry."""
    from tutor.core import work

    src = (Path(__file__).resolve().parents[1] / "exercises" / f"{LAB9}.yaml").read_text()
    f = tmp_path / "sig.yaml"
    f.write_text(src.replace("tolerance: {decimals: 4}", "tolerance: {sig: 3}"))
    out, _ = export_file(tmp_path, f, "-f", "moodle-xml")
    w = work(str(f))
    qs = read_moodle(out)[1:]
    yhat = next(q for q, s in zip(qs, w.steps) if s.id == "yhat")
    (key, tol, _), = yhat["fields"]
    assert tol == pytest.approx(1e-12 + 5e-3 * key, rel=1e-12)
    assert moodle_accepts(0.635, key, tol) and not moodle_accepts(0.6385, key, tol)
    for q in qs:
        for key, tol, _ in q["fields"]:
            assert tol == pytest.approx(1e-12 + 5e-3 * abs(key), rel=1e-12)


def test_text_from_an_exercise_cannot_open_a_cloze_field_or_inject_markup(tmp_path):
    src = (Path(__file__).resolve().parents[1] / "exercises" / f"{LAB9}.yaml").read_text()
    f = tmp_path / "evil.yaml"
    f.write_text(src.replace('"Two ReLU layers, sigmoid output, binary cross-entropy"',
                             '"Lab {1:SHORTANSWER:=yes} <script>alert(1)</script> \\u001b[2J"'))
    out, _ = export_file(tmp_path, f, "-f", "moodle-xml")
    qs = read_moodle(out)[1:]
    dw2 = qs[12]
    assert len(dw2["fields"]) == 4  # the title's braces are text, not a field
    assert "<script>" not in dw2["text"] and "&lt;script&gt;" in dw2["text"]
    assert "\x1b" not in out.read_text()


def test_a_symbolic_exercise_is_refused_with_the_reason():
    r = run("affine-relu-symbolic", "-f", "moodle-xml")
    assert r.exit_code == 2 and "expressions in symbols" in r.stderr
    assert "STACK" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("args, said", [
    (("-f", "moodle-xml", "--variants", "2", "--seed", "1"), "not both"),
    (("-f", "qti", "--questions", "exercise"), "one question per number"),
    (("-f", "qti", "--out", "quiz.xml"), "FILE.zip"),
    (("-f", "moodle-xml", "--variants", "0"), "between 1 and"),
    (("-f", "pdf",), "'pdf'"),
])
def test_usage_errors_exit_2_and_say_why(args, said):
    r = run(LAB9, *args)
    assert r.exit_code == 2 and said in r.stderr + r.stdout


def test_help_says_what_each_format_is_for():
    r = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "100"})
    assert r.exit_code == 0
    for word in ("moodle-xml", "qti", "--variants", "cloze", "QTI .zip"):
        assert word in r.stdout
    top = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout
    assert "export" in top


# ─── Canvas QTI ────────────────────────────────────────────────────────────────────────
def qti_zip(tmp_path, *args):
    out, r = export_file(tmp_path, *args, name="quiz.zip")
    return zipfile.ZipFile(out), r


def assessments(z: zipfile.ZipFile) -> list[ET.Element]:
    """The manifest's QTI resources, each file read back (and every file it names there)."""
    man = ET.fromstring(z.read("imsmanifest.xml"))
    assert man.tag == CP + "manifest"
    names = set(z.namelist())
    out = []
    for res in man.iter(CP + "resource"):
        hrefs = [f.get("href") for f in res.iter(CP + "file")]
        assert hrefs and set(hrefs) <= names
        if res.get("type") == "imsqti_xmlv1p2":
            for dep in res.iter(CP + "dependency"):
                assert any(r.get("identifier") == dep.get("identifierref")
                           for r in man.iter(CP + "resource"))
            out.append(ET.fromstring(z.read(hrefs[0])))
        else:
            assert res.get("type").startswith("associatedcontent/")
            meta = ET.fromstring(z.read(hrefs[0]))
            assert meta.find("{http://canvas.instructure.com/xsd/cccv1p0}title").text
    return out


def qti_items(doc: ET.Element) -> list[dict]:
    """Each item as Canvas's numerical_question: metadata, the Decimal fill-in, the exact
    answer with its range."""
    assert doc.tag == QTI + "questestinterop"
    test = doc.find(QTI + "assessment")
    assert test.get("ident") and test.get("title")
    out = []
    for item in test.iter(QTI + "item"):
        meta = {f.findtext(QTI + "fieldlabel"): f.findtext(QTI + "fieldentry")
                for f in item.iter(QTI + "qtimetadatafield")}
        assert meta["question_type"] == "numerical_question"
        assert meta["points_possible"] == "1"
        fib = item.find(f"{QTI}presentation/{QTI}response_str/{QTI}render_fib")
        assert fib.get("fibtype") == "Decimal"
        ok = [c for c in item.iter(QTI + "respcondition") if c.get("continue") == "No"]
        assert len(ok) == 1 and ok[0].findtext(QTI + "setvar") == "100"
        alt = ok[0].find(f"{QTI}conditionvar/{QTI}or")
        key = float(alt.findtext(QTI + "varequal"))
        low = float(alt.findtext(f"{QTI}and/{QTI}vargte"))
        high = float(alt.findtext(f"{QTI}and/{QTI}varlte"))
        assert low <= key <= high
        feedback = item.find(f"{QTI}itemfeedback/{QTI}flow_mat/{QTI}material/{QTI}mattext")
        out.append({"title": item.get("title"), "ident": item.get("ident"), "key": key,
                    "low": low, "high": high, "feedback": feedback.text,
                    "text": item.find(f"{QTI}presentation/{QTI}material/{QTI}mattext").text})
    return out


def test_a_lab9_qti_package_has_one_numerical_question_per_number(tmp_path):
    from tutor.core import work

    z, r = qti_zip(tmp_path, LAB9, "-f", "qti")
    assert "50 numerical questions in 1 quiz" in r.stderr and "QTI .zip file" in r.stderr
    docs = assessments(z)
    assert len(docs) == 1
    items = qti_items(docs[0])
    w = work(LAB9)
    assert len(items) == 50 and len({i["ident"] for i in items}) == 50
    typed = [t for ts in rounded_answers(w) for t in ts]
    for it, t in zip(items, typed):
        assert it["low"] <= t <= it["high"]  # the rounded answer is in Canvas's range
        assert it["high"] - it["low"] == pytest.approx(2e-4, abs=1e-12)
    titles = [i["title"] for i in items]
    assert titles[:3] == ["z1[1]", "z1[2]", "h1[1]"] and "dW2[2,1]" in titles
    dw2 = items[titles.index("dW2[2,1]")]
    assert "row 2, column 1" in dw2["text"] and "dead ReLU" in dw2["feedback"]


def test_qti_variants_are_one_quiz_each_with_its_own_numbers(tmp_path):
    from tutor.core import work

    z, r = qti_zip(tmp_path, "lab9-variants", "-f", "qti", "--variants", "2")
    docs = assessments(z)
    assert len(docs) == 2 and "in 2 quizzes" in r.stderr
    for k, doc in enumerate(docs):
        w = work("lab9-variants", seed=k)
        keys = [float(x.evalf(30)) for s in w.steps for x in entries(s.value)]
        assert [i["key"] for i in qti_items(doc)] == keys
        assert doc.find(QTI + "assessment").get("title").endswith(f"variant {k:03d}")


def test_the_qti_package_is_the_same_bytes_each_time(tmp_path):
    a = run(LAB9, "-f", "qti", "--out", tmp_path / "a.zip")
    b = run(LAB9, "-f", "qti", "--out", tmp_path / "b.zip")
    assert a.exit_code == b.exit_code == 0
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_qti_defaults_to_a_zip_named_after_the_exercise(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = run(LAB9, "-f", "qti")
    assert r.exit_code == 0 and (tmp_path / f"{LAB9}-qti.zip").is_file()
    assert zipfile.is_zipfile(io.BytesIO((tmp_path / f"{LAB9}-qti.zip").read_bytes()))


# ─── the IMS QTI 1.2.1 DTD ─────────────────────────────────────────────────────────────
def _dtd_path() -> Path | None:
    for p in (os.environ.get("TUTOR_QTI_DTD"),
              Path(__file__).resolve().parent / "data" / "ims_qtiasiv1p2p1.dtd"):
        if p and Path(p).is_file():
            return Path(p)
    return None


class DTD:
    """Element content models and attribute lists of a DTD, enough to validate a document:
    every element declared, its children in its content model's order, text only where
    the model allows it, attributes declared, required ones present, enumerations kept."""

    def __init__(self, text: str):
        text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
        ents: dict[str, str] = {}
        for m in re.finditer(r"<!ENTITY\s+%\s+(\S+)\s+(['\"])(.*?)\2\s*>", text, re.S):
            ents[m[1]] = m[3]
        text = re.sub(r"<!ENTITY\s+%.*?>", "", text, flags=re.S)
        for _ in range(10):  # parameter entities may name others
            text = re.sub(r"%([\w.-]+);", lambda m: ents.get(m[1], m[0]), text)
        self.models: dict[str, tuple[str, re.Pattern | None, set]] = {}
        for m in re.finditer(r"<!ELEMENT\s+(\S+)\s+(.*?)>", text, re.S):
            self.models[m[1]] = self._model(" ".join(m[2].split()))
        self.attrs: dict[str, dict[str, tuple[str, str, str | None]]] = {}
        for m in re.finditer(r"<!ATTLIST\s+(\S+)\s+(.*?)>", text, re.S):
            self.attrs.setdefault(m[1], {}).update(self._attlist(m[2]))

    @staticmethod
    def _model(spec: str):
        if spec == "EMPTY":
            return ("empty", None, set())
        if spec == "ANY":
            return ("any", None, set())
        if spec.startswith("(#PCDATA"):
            names = set(re.findall(r"[\w.-]+", spec.replace("#PCDATA", "")))
            return ("mixed", None, names)
        regex = ""
        for tok in re.findall(r"[\w.:-]+|[(),|?*+]", spec):
            regex += {"(": "(?:", ")": ")", ",": "", "|": "|", "?": "?", "*": "*",
                      "+": "+"}.get(tok, f"(?:<{tok}>)")
        return ("children", re.compile(regex), set(re.findall(r"[\w.:-]+", spec)))

    @staticmethod
    def _attlist(body: str):
        out = {}
        tokens = re.findall(r"\([^)]*\)|\"[^\"]*\"|'[^']*'|#?[\w.:-]+", body)
        i = 0
        while i < len(tokens):
            name, kind = tokens[i], tokens[i + 1]
            i += 2
            if kind == "NOTATION":
                kind, i = tokens[i], i + 1
            default, value = tokens[i], None
            i += 1
            if default == "#FIXED":
                value, i = tokens[i].strip("\"'"), i + 1
            elif default not in ("#REQUIRED", "#IMPLIED"):
                value, default = default.strip("\"'"), "default"
            out[name] = (kind, default, value)
        return out

    def validate(self, el: ET.Element, path: str = "") -> list[str]:
        name = el.tag.split("}", 1)[-1]
        here = f"{path}/{name}"
        if name not in self.models:
            return [f"{here}: element not declared"]
        kind, regex, names = self.models[name]
        errors = []
        kids = [c.tag.split("}", 1)[-1] for c in el]
        texts = [el.text or ""] + [c.tail or "" for c in el]
        if kind == "empty" and (kids or "".join(texts).strip()):
            errors.append(f"{here}: declared EMPTY")
        elif kind == "mixed" and not set(kids) <= names:
            errors.append(f"{here}: {sorted(set(kids) - names)} not allowed in it")
        elif kind == "children":
            if not regex.fullmatch("".join(f"<{k}>" for k in kids)):
                errors.append(f"{here}: children {kids} do not match its content model")
            if "".join(texts).strip():
                errors.append(f"{here}: text where only elements are allowed")
        declared = self.attrs.get(name, {})
        given = {k: v for k, v in el.attrib.items() if not k.startswith("{")}
        for a, v in given.items():
            if a not in declared:
                errors.append(f"{here}: attribute {a} not declared")
                continue
            t, _, fixed = declared[a]
            if t.startswith("(") and v not in [x.strip() for x in t[1:-1].split("|")]:
                errors.append(f"{here}: {a}={v!r} not one of {t}")
            if declared[a][1] == "#FIXED" and v != fixed:
                errors.append(f"{here}: {a} must be {fixed!r}")
        for a, (_, default, _) in declared.items():
            if default == "#REQUIRED" and a not in given:
                errors.append(f"{here}: required attribute {a} missing")
        for c in el:
            errors += self.validate(c, here)
        return errors


def _dtd() -> DTD:
    p = _dtd_path()
    if p is None:
        pytest.skip("the IMS QTI 1.2.1 DTD (ims_qtiasiv1p2p1.dtd) is not here: set "
                    "TUTOR_QTI_DTD or copy it to tests/data/ (it ships in pyslet's sdist, "
                    "unittests/data_imsqtiv1p2p1/); the structural checks above still ran")
    return DTD(p.read_text(encoding="utf-8"))


def test_qti_is_valid_against_the_ims_dtd(tmp_path):
    dtd = _dtd()
    z, _ = qti_zip(tmp_path, "lab9-variants", "-f", "qti", "--variants", "2")
    for doc in assessments(z):
        assert dtd.validate(doc) == []
    z, _ = qti_zip(tmp_path, "branch-merge-l2", "-f", "qti")  # a graph, two iterations
    for doc in assessments(z):
        assert dtd.validate(doc) == []


def test_the_dtd_check_finds_what_the_dtd_forbids(tmp_path):
    """The validator is not a yes-machine: the same file with a resprocessing that lacks
    its outcomes, an unknown element, a bad enumeration and a missing ident fails."""
    dtd = _dtd()
    z, _ = qti_zip(tmp_path, LAB9, "-f", "qti")
    doc = assessments(z)[0]
    assert dtd.validate(doc) == []
    items = list(doc.iter(QTI + "item"))
    proc = items[0].find(QTI + "resprocessing")
    proc.remove(proc.find(QTI + "outcomes"))
    ET.SubElement(items[1], QTI + "wobble")
    items[2].find(f"{QTI}presentation/{QTI}response_str").set("rcardinality", "Sometimes")
    del items[3].attrib["ident"]
    said = "\n".join(dtd.validate(doc))
    assert "resprocessing: children" in said and "wobble: element not declared" in said
    assert "rcardinality='Sometimes'" in said and "required attribute ident missing" in said


def test_keys_are_the_engines_values_to_the_last_digit():
    """A key is the double nearest the exact value (what solve --format json writes): an
    irrational σ(0.552) keeps all its digits, a rational −17/100 is −0.17."""
    from tutor.core import work
    from tutor.export import numbers_of

    w = work(LAB9)
    keys = {e.label: e for q in numbers_of(w) for e in q.entries}
    assert keys["z2[2]"].key == "-0.17" and keys["z2[2]"].margin == "0.0001"
    yhat = Fraction(keys["yhat"].key)
    exact = Fraction(str(entries(w.step("yhat").value)[0].evalf(40)))
    assert abs(yhat - exact) < Fraction(1, 10**16)
    assert Fraction(keys["yhat"].high) - Fraction(keys["yhat"].low) == pytest.approx(2e-4)


# ─── printable keys (tutor solve --format markdown → pandoc → PDF) ─────────────────────
def test_tex_width_counts_a_matrix_by_its_widest_row():
    from tutor.writeup import tex_width

    wide = r"\begin{bmatrix}0.25 & 0.5 \\ 1 & 2\end{bmatrix}"
    assert tex_width(wide) < tex_width("[[0.25, 0.5], [1, 2]]")
    assert tex_width(r"\frac{\partial \mathcal{L}}{\partial z^{(2)}}") < 8
    assert tex_width("a = b") == 5  # a relation counts its spacing


@pytest.mark.parametrize("ex", ["sigmoid-batch-mse", "diagonal-flip-4-3-4", LAB9,
                                "branch-merge-l2"])
def test_a_printed_key_breaks_wide_displays_and_prints_short_exact_forms_only(ex):
    """Issue 15: a batch exercise's key ran off the PDF page, its exact: lines a page long.
    Each display now fits PAGE_WIDTH or is broken one = a line; a long exact form is left
    out (the header says where every one is)."""
    from tutor.core import work
    from tutor.writeup import EXACT_SHORT, PAGE_WIDTH, display_tex, tex_width

    md = CliRunner().invoke(app, ["solve", ex, "--format", "markdown"]).stdout
    for line in md.splitlines():
        if line.startswith("- exact: `"):
            assert len(line) - len("- exact: ``") <= EXACT_SHORT, line
    w = work(ex)
    for s in w.steps:
        for row in display_tex(w, s).split("\\\\\n"):
            assert tex_width(row) <= PAGE_WIDTH, (s.id, row)
    if ex == "sigmoid-batch-mse":
        assert "\\begin{aligned}" in md and "Exact forms are shown where they are short" in md
        assert "1/(2*(exp(-1/2) + 1)**2)" not in md  # the loss's long exact form
        assert "- exact: `[[-1/2, 1/2], [5/2, 0]]`" in md  # a short one stays


def test_the_printed_key_fits_an_a4_page_through_pandoc_and_xelatex(tmp_path):
    """The documented line (docs/export.md) on the batch exercises: no line of the PDF runs
    past the margin (TeX reports every such line as an overfull box)."""
    import shutil
    import subprocess

    if not (shutil.which("pandoc") and shutil.which("xelatex")):
        pytest.skip("pandoc and xelatex are not installed (apt-get install pandoc "
                    "texlive-xetex texlive-latex-recommended texlive-fonts-recommended "
                    "fonts-dejavu-core)")
    for ex in ("sigmoid-batch-mse", "diagonal-flip-4-3-4"):
        md = tmp_path / f"{ex}.md"
        md.write_text(CliRunner().invoke(app, ["solve", ex, "--format", "markdown"]).stdout)
        subprocess.run(["pandoc", md.name, "-s", "-o", f"{ex}.tex", "-V",
                        "mainfont=DejaVu Serif", "-V", "papersize=a4", "-V",
                        "geometry:margin=2cm"], cwd=tmp_path, check=True, timeout=120)
        subprocess.run(["xelatex", "-interaction=nonstopmode", f"{ex}.tex"], cwd=tmp_path,
                       capture_output=True, timeout=300)
        assert (tmp_path / f"{ex}.pdf").is_file()
        log = (tmp_path / f"{ex}.log").read_text(errors="replace")
        assert "Overfull \\hbox" not in log, ex
