"""Feedback back to students (`tutor check --feedback DIR`) and the class report
(`--format markdown|html`), driven through the CLI as a teacher runs it; the HTML opened in
headless Chromium (Debian's package) and its screenshot looked at."""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tutor.core import work
from tutor.render import fmt
from tutor.roster import sheet_name
from tutor.template import given_text

# tutor check's own fixture (TUTOR_HOME, NO_COLOR, COLUMNS) and CLI helper
from test_check import LAB9, SHEETS, env, run  # noqa: E402

pytestmark = pytest.mark.usefixtures(env.__name__)

CHROMIUM = "/usr/bin/chromium"


def _class(folder: Path, **sheets: str) -> Path:
    """A class folder: name → a fixture sheet, its student: line made the name."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, fixture in sheets.items():
        text = (SHEETS / fixture).read_text()
        head, answers = text.split("answers:\n")
        head = "\n".join(x for x in head.splitlines() if not x.startswith("student:"))
        (folder / f"{name}.yaml").write_text(f"{head}\nstudent: {name}\nanswers:\n{answers}")
    return folder


def _explanations(*args) -> dict:
    """student → step id → the grader's explanation (JSON export), to compare against."""
    doc = json.loads(run("check", *args, "--format", "json").stdout)
    return {s["student"]: {x["id"]: x for x in s["steps"]} for s in doc["sheets"] if "steps" in s}


def test_each_student_gets_their_score_diagnosis_rule_and_solution(tmp_path):
    cls = _class(tmp_path / "cls", ann="lab9-no-relu-mask.yaml", bea="lab9-seed003.yaml")
    (cls / "cy.yaml").write_text("exercise: lab9-relu-sigmoid-bce\nstudent: cy\nanswers:\n"
                                 "  z1: [0.6, 0.1]\n  delta3: 0x10\n")
    out = tmp_path / "feedback" / "lab9"  # made, parents too
    r = run("check", LAB9, cls, "--feedback", out, "--format", "csv")
    assert r.exit_code == 1, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))  # stdout is still only the gradebook
    assert [row["student"] for row in rows] == ["ann", "bea", "cy"]
    assert "feedback for 3 students in" in r.stderr and "6 files" in r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "ann.html", "ann.md", "bea.html", "bea.md", "cy.html", "cy.md"]

    ann_md, ann_html = (out / "ann.md").read_text(), (out / "ann.html").read_text()
    assert "**Score: 18 / 24** (75 %) — 13 correct, 10 follow-through, 1 wrong" in ann_md
    assert "18 <small>/ 24</small>" in ann_html
    graded = _explanations(LAB9, cls)["ann"]["delta2"]
    assert graded["misconception"] == "no-relu-mask"
    why = graded["explanation"]
    assert why.startswith("no ReLU mask at delta2: the gradient goes through ReLU unmasked")
    assert html.escape(why) in ann_html
    assert "no ReLU mask at delta2: the gradient goes through ReLU unmasked" in ann_md
    # the rule in words, from the step's formula and its note
    assert "δ2 = ∂L/∂z2 = ∂L/∂h2 ⊙ ReLU′(z2)" in ann_md
    assert "ReLU′(z) = 1[z &gt; 0]" in ann_html
    assert "`= [-0.2192, 0.1462] ⊙ [1, 0] = [-0.2192, 0]`" in ann_md
    # the follow-through steps are named and traced back to delta2
    assert "`dW2`, `db2`, `dh1`" in ann_md and "your answer to `delta2`" in ann_md
    # the worked solution (tutor solve --format markdown's key), headings two levels down
    key = run("solve", LAB9, "--format", "markdown").stdout
    assert key.startswith("# Two ReLU layers")
    assert "\n### Two ReLU layers" in ann_md and "\n##### Backward pass\n" in ann_md
    assert key.split("## Given", 1)[1].split("### Forward")[0] in ann_md
    assert "dW2[2,1], dW2[2,2] = 0: no error signal reaches unit 2" in ann_html

    bea_md = (out / "bea.md").read_text()
    assert "**Score: 24 / 24** (100 %) — 24 correct" in bea_md
    assert "Every step is right." in bea_md and "### `" not in bea_md.split("## Your")[0]

    cy_md, cy_html = (out / "cy.md").read_text(), (out / "cy.html").read_text()
    assert "**Score: 1 / 24**" in cy_md
    assert "### `delta3` — invalid answer, 0 / 1" in cy_md
    assert html.escape("only decimal numbers are allowed, not '0x10'") in cy_html
    assert "### `dW2` — left blank, 0 / 1" in cy_md and "no answer" in cy_md


def _variant_sheet(folder: Path, name: str, mistake: bool) -> "object":
    """A lab9-variants sheet of ``name``'s own variant, right everywhere — or with δ2 left
    unmasked (∂L/∂h2 written for it)."""
    w = work("lab9-variants", student=name)
    text = run("template", "lab9-variants", "--student", name).stdout
    answers = {s.id: fmt(s.value) for s in w.steps}
    if mistake:
        answers["delta2"] = answers["dh2"]
    (folder / f"{name}.yaml").write_text(text.split("answers:\n")[0] + "answers:\n" + "".join(
        f"  {k}: {v}\n" for k, v in answers.items()))
    return w


def test_each_student_sees_the_solution_of_their_own_variant_with_one_or_two_workers(tmp_path):
    cls = tmp_path / "cls"
    cls.mkdir()
    ws = {name: _variant_sheet(cls, name, mistake) for name, mistake in
          (("ada", True), ("bob", True), ("cyd", False))}
    ada, bob = ws["ada"], ws["bob"]
    assert ada.seed != bob.seed
    one, two = tmp_path / "one", tmp_path / "two"
    r1 = run("check", "lab9-variants", cls, "--feedback", one, "--jobs", "1")
    r2 = run("check", "lab9-variants", cls, "--feedback", two, "--jobs", "2", "--format", "json")
    assert r1.exit_code == r2.exit_code == 1, r1.output + r2.output
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir()) == [
        f"{n}.{x}" for n in ("ada", "bob", "cyd") for x in ("html", "md")]
    for n in names:  # the workers' kept solutions are the parent's, byte for byte
        assert (one / n).read_bytes() == (two / n).read_bytes(), n
    for me, other in ((ada, bob), (bob, ada)):
        name = "ada" if me is ada else "bob"
        text, page = (one / f"{name}.md").read_text(), (one / f"{name}.html").read_text()
        assert f"variant {me.seed}" in text and f"variant {me.seed}" in page
        # their own given numbers and their own worked values, not the other student's
        mine, theirs = given_text(me.graph.init["W1"]), given_text(other.graph.init["W1"])
        assert mine != theirs
        assert f"W1 = {mine}" in page and f"W1 = {theirs}" not in page
        for sid in ("dW2", "delta1", "W1_new"):
            v, u = fmt(me.step(sid).value), fmt(other.step(sid).value)
            assert v != u
            assert f">{html.escape(v)}</div>" in page and f">{html.escape(u)}</div>" not in page
        # the diagnosis names the misconception with their own numbers
        assert "no ReLU mask at delta2" in text
        assert f"gives {fmt(me.step('dh2').value)} (from the correct inputs)" in page
        expected = fmt(me.step("delta2").value)
        assert f"`= {fmt(me.step('dh2').value)} ⊙" in text and expected in text
    assert "**Score: 24 / 24**" in (one / "cyd.md").read_text()


def test_a_student_with_two_sheets_gets_one_feedback_the_counted_one(tmp_path):
    cls = tmp_path / "cls"
    cls.mkdir()
    text = (SHEETS / "lab9-no-relu-mask.yaml").read_text()
    (cls / "a.yaml").write_text(text.replace("student: nomask", "student: Bob"))
    (cls / "b.yaml").write_text((SHEETS / "lab9-seed003.yaml").read_text()
                                .replace("student: seed003", "student: ' bob '"))
    out = tmp_path / "fb"
    r = run("check", LAB9, cls, "--feedback", out, "--format", "json")
    assert r.exit_code == 1
    assert len(json.loads(r.stdout)["sheets"]) == 2  # both graded
    assert sorted(p.name for p in out.iterdir()) == ["bob.html", "bob.md"]
    md = (out / "bob.md").read_text()
    assert "sheet `b.yaml`" in md and "**Score: 24 / 24**" in md  # b.yaml is counted
    assert "has 2 sheets (" in md and "the class figures count" in md


def test_untrusted_names_and_answers_are_inert_in_html_and_markdown(tmp_path):
    from markdown_it import MarkdownIt

    cls = tmp_path / "cls"
    cls.mkdir()
    evil = "<script>alert(1)</script> *bold* [x](http://evil.test) `c` | $y$"
    (cls / "e.yaml").write_text(
        "exercise: lab9-relu-sigmoid-bce\n"
        f"student: {json.dumps(evil)}\n"
        "answers:\n"
        "  z1: \"<img src=x onerror=alert(1)>\"\n"
        "  h1: \"`` [a](b) | <b>\"\n"
        "  z2: \"\\e]0;pwned\\a\"\n")
    (cls / "dots.yaml").write_text((SHEETS / "lab9-seed003.yaml").read_text()
                                   .replace("student: seed003", "student: ../../outside"))
    out = tmp_path / "fb"
    before = set(tmp_path.iterdir())
    r = run("check", LAB9, cls, "--feedback", out, "--format", "csv")
    assert r.exit_code == 1, r.output
    assert set(tmp_path.iterdir()) == before | {out}  # nothing written outside DIR
    files = sorted(p.name for p in out.iterdir())
    stem = sheet_name(evil).removesuffix(".yaml")  # the name tutor template gives the sheet
    assert stem == "_script_alert_1___script___bold___x__http___evil.test___c_____y_"
    assert files == ["_.._outside.html", "_.._outside.md", f"{stem}.html", f"{stem}.md"]
    page = (out / f"{stem}.html").read_text()
    assert "<script" not in page and "<img" not in page and "&lt;b&gt;" in page
    assert html.escape(evil) in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "\x1b" not in page and "\\x1b]0;pwned\\x07" in page  # control characters shown
    rendered = MarkdownIt("commonmark").enable("table").render((out / f"{stem}.md").read_text())
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "<em>bold</em>" not in rendered and 'href="http://evil.test"' not in rendered
    assert html.escape(evil, quote=False) in rendered  # the name, exactly as written
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in rendered
    assert "\x1b" not in (out / f"{stem}.md").read_text()


def test_two_ids_that_would_make_one_file_name_each_get_their_own(tmp_path):
    cls = tmp_path / "cls"
    cls.mkdir()
    for f, who, sheet in (("x.yaml", "Ann Lee", "lab9-no-relu-mask.yaml"),
                          ("y.yaml", "ann_lee", "lab9-seed003.yaml")):
        text = (SHEETS / sheet).read_text()
        (cls / f).write_text(re.sub(r"(?m)^student: .*$", f"student: {who}", text))
    out = tmp_path / "fb"
    r = run("check", LAB9, cls, "--feedback", out)
    assert sorted(p.name for p in out.iterdir()) == [
        "Ann_Lee-e4959174.html", "Ann_Lee-e4959174.md",  # sha256("ann lee")[:8]
        "ann_lee-6652187e.html", "ann_lee-6652187e.md"]
    assert "**Score: 18 / 24**" in (out / "Ann_Lee-e4959174.md").read_text()
    assert "**Score: 24 / 24**" in (out / "ann_lee-6652187e.md").read_text()
    assert "2 students whose ids make the same file name got their id's hash added" in r.stderr


def test_a_link_already_in_dir_is_replaced_not_followed(tmp_path):
    cls = _class(tmp_path / "cls", ann="lab9-seed003.yaml")
    out = tmp_path / "fb"
    out.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    (out / "ann.html").symlink_to(outside)
    r = run("check", LAB9, cls, "--feedback", out)
    assert r.exit_code == 0, r.output
    assert outside.read_text() == "keep me"
    assert not (out / "ann.html").is_symlink()
    assert "<!DOCTYPE html>" in (out / "ann.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_feedback_into_a_file_is_one_line_and_exit_2(tmp_path):
    cls = _class(tmp_path / "cls", ann="lab9-seed003.yaml")
    f = tmp_path / "notadir"
    f.write_text("x")
    r = run("check", LAB9, cls, "--feedback", f)
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "that is a file; give a folder" in r.stderr
    assert "Traceback" not in r.output and f.read_text() == "x"


def test_check_help_teaches_feedback_and_the_class_report():
    r = run("check", "--help")
    text = " ".join(r.stdout.replace("│", " ").split())  # Rich's boxes wrap the lines
    assert "--feedback" in text and "worked solution with their own numbers" in text
    assert "markdown or html" in text and "class report" in text


def test_the_class_report_shows_the_distribution_and_misconceptions_per_step(tmp_path):
    cls = _class(tmp_path / "cls", a="lab9-no-relu-mask.yaml", b="lab9-no-relu-mask.yaml",
                 c="lab9-seed003.yaml")
    (cls / "d.yaml").write_text("exercise: lab9-relu-sigmoid-bce\nstudent: d\nanswers:\n")
    (cls / "broken.yaml").write_text("answers: [\n")
    r = run("check", LAB9, cls, "--format", "markdown")
    assert r.exit_code == 2  # an unreadable sheet; the rest is reported
    md = r.stdout
    assert md.startswith("# Class report: Two ReLU layers, sigmoid output, binary cross-entropy")
    assert "4 of 5 sheets graded, 4 students; 1 with every step right" in md
    assert "| 4 | 15 | 18 | 24 | 1 | 1 |" in md  # students, mean, median, max, right, unreadable
    chart = md.split("```text\n")[1].split("```")[0].splitlines()
    assert len(chart) == 25  # a bar per point, 0 … 24
    assert chart[18] == "18 │" + "█" * 40 + " 2" and chart[24].endswith("█ 1")
    assert chart[0].endswith("█ 1") and chart[5] == " 5 │"
    assert "| no ReLU mask | 2 of 4 | `delta2` (2) |" in md
    assert "| `delta2` | 3 | no ReLU mask (2); left blank (1) |" in md
    assert "| `dW2` | 3 | follow-through (2); left blank (1) |" in md
    assert "| a | 18 / 24 | `delta2` | no ReLU mask |" in md
    assert "## Not graded" in md and "broken.yaml" in md

    r = run("check", LAB9, cls, "--format", "html")
    page = r.stdout
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    svg = page.split("<svg", 1)[1].split("</svg>")[0]
    assert svg.count("<rect") == 25 and "<title>18: 2 students</title>" in svg
    assert "Score distribution of 4 students" in page
    assert "<td>no ReLU mask</td><td class=\"num\">2 of 4</td>" in page
    assert "<b>no ReLU mask</b> (2); left blank (1)" in page
    # self-contained: nothing fetched, no script
    assert "<script" not in page and "<link" not in page and " src=" not in page
    assert "default-src 'none'" in page
    assert [u for u in ("http://", "https://") for _ in range(page.count(u))] == ["http://"]


# ─── the page in a real browser ─────────────────────────────────────────────────────────
def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package "
                    "(apt-get install -y chromium; .ci/run does) to run the screenshot test")
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--window-size=1000,1400", *args],
        capture_output=True, text=True, timeout=120)


def _png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, height, every pixel's (r, g, b)) of an 8-bit RGB or RGBA PNG: enough of a
    decoder to count what a screenshot shows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, head = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    w, h, depth, color, _, _, interlace = head
    assert depth == 8 and color in (2, 6) and interlace == 0, head
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    rows, prev, stride = [], bytearray(w * bpp), w * bpp
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.extend(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        prev = line
    return w, h, rows


def test_the_feedback_page_in_headless_chromium_shows_the_diagnosis(tmp_path):
    cls = _class(tmp_path / "cls", ann="lab9-no-relu-mask.yaml")
    out = tmp_path / "fb"
    assert run("check", LAB9, cls, "--feedback", out).exit_code == 1
    page = (out / "ann.html").resolve()
    url = page.as_uri()
    dom = _chromium("--dump-dom", url, profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    why = _explanations(LAB9, cls)["ann"]["delta2"]["explanation"]
    assert html.escape(why, quote=False) in dom.stdout  # what the browser made of the page
    assert "18 <small>/ 24</small>" in dom.stdout
    shot = tmp_path / "ann.png"
    r = _chromium(f"--screenshot={shot}", url, profile=tmp_path / "p2")
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    w, h, pixels = _png_pixels(shot.read_bytes())
    assert (w, h) == (1000, 1400)
    # a page, not a blank: text and boxes drawn, and the wrong step's red drawn in colour
    dark = sum(1 for p in pixels if max(p) < 110)
    red = sum(1 for p in pixels if p[0] > 170 and p[1] < 80 and p[2] < 90)
    blue = sum(1 for p in pixels if p[2] > 180 and p[0] < 40 and 80 < p[1] < 130)
    assert dark > 0.01 * w * h, dark  # text
    assert red > 500, red  # the wrong step's border and tag (#cf222e)
    assert blue > 2000, blue  # the score bar (#0969da)
