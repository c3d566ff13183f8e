"""Feedback back to students (`tutor check --feedback DIR`) and the class report
(`tutor check --format markdown|html`).

    check.check(ref, sheets, keep=key)  → Report; each graded SheetResult.kept is the Key of
                                          the variant it was graded against (made where it
                                          was graded, once per variant — so --jobs too)
    write(report, DIR, roster)          → DIR/<id>.md and DIR/<id>.html for every student
                                          (the counted sheet of one who handed in two)
    class_markdown(report), class_html(report)
                                        → the score distribution (a chart), the
                                          misconceptions, and what went wrong step by step

A student's file: their score, each step not right with its diagnosis (check.reason), the
named misconception's buggy rule beside the correct one (Verdict.explanation) and the rule
of the step in words (writeup.step_text), then the worked solution of their own numbers
(writeup.to_markdown, the key `tutor solve --format markdown` prints, in Markdown; the same
steps as text in HTML). Everything is read from the grader's values — scores, verdicts,
misconception ids, step ids — never recomputed and never read back out of text.

Text from sheets and rosters is untrusted: HTML-escaped (html.escape) in HTML, escaped or
put in code spans in Markdown, and its control characters made visible (errors.visible) in
both. The HTML is one self-contained file (inline CSS and SVG, no script, nothing fetched:
its Content-Security-Policy says so); math is shown as text. File names come from student
ids through roster.sheet_name; files are written only inside DIR, each replaced whole
(a link already there is replaced, never followed).
"""
from __future__ import annotations

import hashlib
import html
import math
import os
import re
import statistics
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from tutor.errors import InputError, UsageError, path_text, visible


# ─── what is kept of each variant's Worked (picklable: it crosses worker processes) ─────
@dataclass(frozen=True)
class StepKey:
    """One step of the worked solution as text (writeup.step_text)."""

    id: str
    title: str  # "Backward pass" (and the iteration, when there are several)
    skill: str  # "error signal δ"
    formula: str  # "δ2 = ∂L/∂z2 = ∂L/∂h2 ⊙ ReLU′(z2)"
    numbers: str  # "= [-0.2192, 0.1462] ⊙ [1, 0]" ('' when none)
    rule: str  # "ReLU′(z) = 1[z > 0]" ('' when none)
    zeros: tuple[tuple[str, str], ...]  # (entries, why each is 0)
    value: str
    exact: str  # the exact form when it differs from the value, else ''


@dataclass(frozen=True)
class Key:
    """The worked solution of one variant: what a student's feedback shows of it."""

    seed: int | None
    variant: str  # "variant 231614532" ('' for the exercise's own numbers)
    tolerance: str  # "4 decimals (|error| ≤ 1e-4)"
    given: tuple[str, ...]  # the given numbers, a line each, as the answer sheet says them
    steps: tuple[StepKey, ...]
    markdown: str  # the solution key (tutor solve --format markdown), headings 2 levels down

    def step(self, step_id: str) -> StepKey | None:
        return next((s for s in self.steps if s.id == step_id), None)


def key(worked) -> Key:
    """The Key of a Worked: check.check(keep=key) makes it once per variant."""
    import textwrap

    from tutor import writeup
    from tutor.template import given_lines
    from tutor.words import SKILLS, phase_title, tolerance_label, variant

    n = worked.solution.n_iterations
    steps = []
    for s in worked.steps:
        t = writeup.step_text(worked, s)
        steps.append(StepKey(s.id, phase_title(s.phase, s.iteration, n),
                             SKILLS.get(s.skill, s.skill), t["formula"], t["numbers"],
                             t["rule"], tuple(t["zeros"]), t["value"], t["exact"]))
    given = textwrap.dedent("\n".join(line[1:] for line in given_lines(worked)[1:]))
    return Key(getattr(worked, "seed", None), variant(worked) or "",
               tolerance_label(worked.tolerance, worked.symbolic), tuple(given.splitlines()), tuple(steps),
               writeup.to_markdown(worked, worked.steps, depth=2))


# ─── words shared by both formats ───────────────────────────────────────────────────────
STATUS = {"correct": "correct", "follow_through": "follow-through", "wrong": "wrong",
          "missing": "left blank", "invalid": "invalid answer"}
ORDER = ("correct", "follow_through", "wrong", "invalid", "missing")


def points(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.4g}"


def percent(total: Fraction, top: Fraction) -> str:
    return f"{float(100 * total / top):.0f} %" if top else "—"


def tally(r) -> str:
    """'13 correct, 10 follow-through, 1 wrong' — the sheet's verdicts counted."""
    n = {s: sum(v.status == s for v in r.verdicts) for s in ORDER}
    return ", ".join(f"{n[s]} {STATUS[s]}" for s in ORDER if n[s])


def _to_fix(r) -> list:
    """The steps to look at again: wrong, invalid and blank, in order."""
    return [v for v in r.verdicts if v.status in ("wrong", "invalid", "missing")]


def _method(r) -> list:
    return [v for v in r.verdicts if v.status == "follow_through"]


def _names(roster) -> dict[str, str]:
    """student key → the name on the roster (tutor.roster.student_key matches them)."""
    if roster is None:
        return {}
    from tutor.roster import student_key

    return {student_key(st.id): st.name for st in roster.students}


# ─── escaping ───────────────────────────────────────────────────────────────────────────
def esc(text: Any) -> str:
    """Outside text for HTML: control characters visible, then <>&"' escaped."""
    return html.escape(visible(text), quote=True)


_MD = re.compile(r"([\\`*_\[\]<>&|~$#])")


def md(text: Any) -> str:
    """Text for Markdown, inert: control characters (a newline too) visible, and every
    character that would start markup — emphasis, code, a link, raw HTML or an entity, a
    table cell, strike-through, math, a heading's closing — backslash-escaped."""
    return _MD.sub(r"\\\1", visible(text))


def md_code(text: Any, table: bool = False) -> str:
    """Text as a Markdown code span (shown exactly, never markup), fenced with one backtick
    more than the longest run in it; in a table cell a | is escaped (GFM)."""
    t = visible(text)
    if not t:
        return "—"
    if table:
        t = t.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", t)), default=0) + 1)
    pad = " " if t[0] == "`" or t[-1] == "`" or (t[0] == " " and t[-1] == " ") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


# ─── a student's feedback ───────────────────────────────────────────────────────────────
def student_markdown(report, r, name: str = "") -> str:
    """One student's feedback as Markdown (see the module docstring)."""
    from tutor.check import reason, sheet_notes

    k: Key | None = r.kept
    s = r.score
    who = f"**{md(name)}** ({md(r.student)})" if name else f"**{md(r.student)}**"
    meta = [who, f"sheet {md_code(Path(r.file).name)}", md_code(report.exercise)]
    if k is not None and k.variant:
        meta.append(f"your {md(k.variant)}")
    out = [f"# Feedback: {md(report.title)}", "", " · ".join(meta), "",
           f"**Score: {points(s.total)} / {points(s.max)}** ({percent(s.total, s.max)}) — "
           f"{tally(r)}", ""]
    notes = sheet_notes(r)
    if notes:
        out += ["About your sheet:", ""] + [f"- {md(n)}" for n in notes] + [""]
    fix, method = _to_fix(r), _method(r)
    out += ["## What to look at again", ""]
    if not fix and not method:
        out += ["Every step is right. Well done.", ""]
    for v in fix:
        out += [f"### {md_code(v.step_id)} — {STATUS[v.status]}, "
                f"{points(s.points[v.step_id])} / {points(s.weights[v.step_id])}", ""]
        if v.status != "missing":
            out.append(f"- **Your answer:** {md_code(v.answer)}")
        out.append(f"- **Diagnosis:** {md(reason(v))}")
        if v.explanation:
            out.append(f"- **Misconception:** {md(v.explanation)}")
        st = k.step(v.step_id) if k is not None else None
        if st is not None:
            out.append(f"- **The rule:** {md_code(st.formula)}"
                       + (f" ({md(st.rule)})" if st.rule else ""))
            out.append(f"- **Worked out:** {md_code(_worked_line(st))}")
            out += [f"- {md(e)} = 0: {md(why)}" for e, why in st.zeros]
        out.append("")
    if method:
        out += ["**Right given your earlier answers** (method credit, "
                f"{percent(report.ft_credit, Fraction(1))} of each step's points): "
                + ", ".join(md_code(v.step_id) for v in method)
                + ". They follow from your answer to "
                + ", ".join(sorted({md_code(v.first_wrong) for v in method if v.first_wrong}))
                + ": put that right and they are right too.", ""]
    out += ["## Your answers", "", "| step | verdict | points | your answer |",
            "|---|---|---|---|"]
    for v in r.verdicts:
        out.append(f"| {md_code(v.step_id, True)} | {STATUS[v.status]} | "
                   f"{points(s.points[v.step_id])} / {points(s.weights[v.step_id])} | "
                   f"{md_code(v.answer, True)} |")
    out.append("")
    if k is not None:
        out += ["## The worked solution, with your numbers", "", k.markdown.rstrip("\n"), ""]
    tol = md(k.tolerance) if k else "the exercise's tolerance"
    out += ["---", "", f"*Graded by `tutor check` to {tol}.*"]
    return "\n".join(out) + "\n"


def _worked_line(st: StepKey) -> str:
    """'= [-0.2192, 0.1462] ⊙ [1, 0] = [-0.2192, 0]', or the value alone."""
    if st.numbers:
        return f"{st.numbers} = {st.value}" if st.numbers[0] == "=" else \
            f"{st.numbers} ≈ {st.value}"
    return f"= {st.value}"


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--ok:#1a7f37;
--ft:#9a6700;--bad:#cf222e;--miss:#6e7781;--inv:#8250df;--accent:#0969da}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif}
main{max-width:960px;margin:0 auto;padding:28px 32px 40px;background:#fff;min-height:100vh}
h1{font-size:26px;line-height:1.25;margin:2px 0 6px}
h2{font-size:19px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:16px;margin:0 0 6px}
.kicker{margin:0;font-size:12px;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
.who{margin:0;color:var(--muted)} .who b{color:var(--fg)}
code,.math,pre{font-family:"DejaVu Sans Mono",ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
font-size:13.5px}
.math{white-space:pre-wrap;overflow-wrap:anywhere}
.card{display:flex;align-items:center;gap:24px;margin:20px 0;padding:14px 20px;
border:1px solid var(--line);border-radius:8px}
.big{font-size:38px;font-weight:700;white-space:nowrap}
.big small{font-size:18px;color:var(--muted);font-weight:600}
.meter{flex:1}.bar{height:10px;background:#eaeef2;border-radius:5px;overflow:hidden}
.bar span{display:block;height:100%;background:var(--accent)}
.meter p{margin:6px 0 0;color:var(--muted);font-size:14px}
.notes{margin:0 0 8px;padding:10px 16px;border-left:4px solid var(--ft);background:#fff8c5;
border-radius:4px;font-size:14px}.notes ul{margin:4px 0 0;padding-left:20px}
.step{margin:12px 0;padding:12px 16px;border:1px solid var(--line);
border-left:5px solid var(--bad);border-radius:6px}
.step.invalid{border-left-color:var(--inv)}.step.missing{border-left-color:var(--miss)}
.tag{display:inline-block;margin-left:6px;padding:0 9px;border-radius:10px;font-size:12px;
font-weight:600;color:#fff;background:var(--bad);vertical-align:2px}
.tag.correct{background:var(--ok)}.tag.follow_through{background:var(--ft)}
.tag.invalid{background:var(--inv)}.tag.missing{background:var(--miss)}
.pts{float:right;color:var(--muted);font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:5px 16px;margin:6px 0 0}
dt{color:var(--muted);font-weight:600;font-size:14px}dd{margin:0}
.diagnosis{font-weight:500}
.misconception{display:block;background:#ffebe9;border-radius:4px;padding:3px 8px}
.step>p.dim{margin:0 0 2px;font-size:14px}
.zeros{margin:2px 0 0;padding-left:18px;color:var(--muted);font-size:14px}
.method{padding:10px 16px;border:1px solid var(--line);border-left:5px solid var(--ft);
border-radius:6px}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td.num{text-align:right;white-space:nowrap}
.v-correct{color:var(--ok)}.v-follow_through{color:var(--ft)}.v-wrong{color:var(--bad)}
.v-invalid{color:var(--inv)}.v-missing{color:var(--miss)}
pre{margin:0;padding:10px 14px;background:var(--soft);border-radius:6px;overflow-x:auto}
.dim{color:var(--muted)}.rule{font-style:italic;color:var(--muted)}
figure{margin:8px 0 0}figcaption{color:var(--muted);font-size:14px}
.stats{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.stats div{flex:1;min-width:130px;padding:10px 14px;border:1px solid var(--line);border-radius:8px}
.stats b{display:block;font-size:24px}.stats span{color:var(--muted);font-size:13px}
.hbar{display:inline-block;height:9px;background:var(--bad);border-radius:3px;vertical-align:1px}
table.key td:first-child{width:130px}table.key td:last-child{width:34%}
footer{margin-top:36px;color:var(--muted);font-size:13px}
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{body}\n</main>\n</body>\n</html>\n")


def student_html(report, r, name: str = "") -> str:
    """One student's feedback as one self-contained HTML page."""
    from tutor.check import reason, sheet_notes

    k: Key | None = r.kept
    s = r.score
    who = (f"<b>{esc(name)}</b> ({esc(r.student)})" if name else f"<b>{esc(r.student)}</b>")
    meta = [who, f"sheet <code>{esc(Path(r.file).name)}</code>"]
    if k is not None and k.variant:
        meta.append(f"your {esc(k.variant)}")
    share = float(s.total / s.max) if s.max else 0.0
    out = [f"<header><p class=\"kicker\">Feedback · {esc(report.exercise)}</p>",
           f"<h1>{esc(report.title)}</h1>", f"<p class=\"who\">{' · '.join(meta)}</p></header>",
           "<section class=\"card\" aria-label=\"score\">"
           f"<div class=\"big\">{points(s.total)} <small>/ {points(s.max)}</small></div>"
           f"<div class=\"meter\"><div class=\"bar\"><span style=\"width:{100 * share:.1f}%\">"
           f"</span></div><p>{percent(s.total, s.max)} · {esc(tally(r))}</p></div></section>"]
    notes = sheet_notes(r)
    if notes:
        out.append("<div class=\"notes\"><b>About your sheet</b><ul>"
                   + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul></div>")
    fix, method = _to_fix(r), _method(r)
    out.append("<section><h2>What to look at again</h2>")
    if not fix and not method:
        out.append("<p>Every step is right. Well done.</p>")
    for v in fix:
        st = k.step(v.step_id) if k is not None else None
        out.append(f"<article class=\"step {v.status}\" id=\"step-{esc(v.step_id)}\">"
                   f"<h3><code>{esc(v.step_id)}</code><span class=\"tag {v.status}\">"
                   f"{STATUS[v.status]}</span><span class=\"pts\">"
                   f"{points(s.points[v.step_id])} / {points(s.weights[v.step_id])}</span></h3>"
                   + (f"<p class=\"dim\">{esc(st.skill)}</p>" if st is not None else "")
                   + "<dl>")
        if v.status != "missing":
            out.append(f"<dt>Your answer</dt><dd><code>{esc(v.answer)}</code></dd>")
        out.append(f"<dt>Diagnosis</dt><dd class=\"diagnosis\">{esc(reason(v))}</dd>")
        if v.explanation:
            out.append(f"<dt>Misconception</dt><dd><span class=\"misconception\">"
                       f"{esc(v.explanation)}</span></dd>")
        if st is not None:
            out.append(f"<dt>The rule</dt><dd><div class=\"math\">{esc(st.formula)}</div>"
                       + (f"<div class=\"rule\">{esc(st.rule)}</div>" if st.rule else "")
                       + "</dd>")
            out.append(f"<dt>Worked out</dt><dd><div class=\"math\">"
                       f"{esc(_worked_line(st))}</div>" + _zeros_html(st) + "</dd>")
        out.append("</dl></article>")
    if method:
        firsts = sorted({v.first_wrong for v in method if v.first_wrong})
        out.append("<div class=\"method\"><b>Right given your earlier answers</b> (method "
                   f"credit, {percent(report.ft_credit, Fraction(1))} of each step's points): "
                   + ", ".join(f"<code>{esc(v.step_id)}</code>" for v in method)
                   + ". They follow from your answer to "
                   + ", ".join(f"<code>{esc(f)}</code>" for f in firsts)
                   + ": put that right and they are right too.</div>")
    out.append("</section>")
    out.append("<section><h2>Your answers</h2><table><thead><tr><th>step</th><th>verdict</th>"
               "<th>points</th><th>your answer</th></tr></thead><tbody>")
    for v in r.verdicts:
        out.append(f"<tr><td><code>{esc(v.step_id)}</code></td>"
                   f"<td class=\"v-{v.status}\">{STATUS[v.status]}</td><td class=\"num\">"
                   f"{points(s.points[v.step_id])} / {points(s.weights[v.step_id])}</td>"
                   f"<td><code>{esc(v.answer) if v.answer is not None else '—'}</code></td></tr>")
    out.append("</tbody></table></section>")
    if k is not None:
        out.append(_solution_html(k))
    tol = esc(k.tolerance) if k else "the exercise's tolerance"
    out.append(f"<footer>Graded by tutor check to {tol} · {esc(report.exercise)}</footer>")
    title = f"Feedback: {esc(report.title)} — {esc(name or r.student)}"
    return _page(title, "\n".join(out))


def _zeros_html(st: StepKey) -> str:
    if not st.zeros:
        return ""
    return "<ul class=\"zeros\">" + "".join(
        f"<li>{esc(e)} = 0: {esc(why)}</li>" for e, why in st.zeros) + "</ul>"


def _solution_html(k: Key) -> str:
    out = ["<section><h2>The worked solution, with your numbers</h2>"]
    if k.given:
        out.append("<h3>Given</h3><pre>" + "\n".join(esc(line) for line in k.given)
                   + "</pre>")
    title = None
    for st in k.steps:
        if st.title != title:
            if title is not None:
                out.append("</tbody></table>")
            title = st.title
            out.append(f"<h3 style=\"margin-top:18px\">{esc(title)}</h3><table class=\"key\">"
                       "<thead><tr>"
                       "<th>step</th><th>formula</th><th>value</th></tr></thead><tbody>")
        out.append(f"<tr><td><code>{esc(st.id)}</code><br><span class=\"dim\">{esc(st.skill)}"
                   f"</span></td><td><div class=\"math\">{esc(st.formula)}</div>"
                   + (f"<div class=\"math dim\">  {esc(st.numbers)}</div>" if st.numbers else "")
                   + (f"<div class=\"rule\">{esc(st.rule)}</div>" if st.rule else "")
                   + _zeros_html(st)
                   + f"</td><td><div class=\"math\">{esc(st.value)}</div>"
                   + (f"<div class=\"math dim\">{esc(st.exact)}</div>" if st.exact else "")
                   + "</td></tr>")
    if title is not None:
        out.append("</tbody></table>")
    return "\n".join(out) + "</section>"


# ─── writing the files ──────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Written:
    folder: Path
    files: tuple[Path, ...]
    students: int
    notes: tuple[str, ...] = ()


def file_stems(results) -> list[str]:
    """A file name (without suffix) per result, from the student id (roster.sheet_name);
    two students whose names would be one file (also on a file system that ignores case:
    "Ann Lee" and "ann_lee") each get a short hash of their id added, so no student's
    feedback ever replaces another's."""
    from tutor.roster import sheet_name, student_key

    stems = [sheet_name(r.student).removesuffix(".yaml") for r in results]
    seen: dict[str, int] = {}
    for s in stems:
        seen[s.lower()] = seen.get(s.lower(), 0) + 1
    return [s if seen[s.lower()] == 1 else
            f"{s}-{hashlib.sha256(student_key(r.student).encode()).hexdigest()[:8]}"
            for s, r in zip(stems, results)]


def write(report, folder: str | Path, roster=None) -> Written:
    """DIR/<id>.md and DIR/<id>.html for each student graded (the sheet the class figures
    count); DIR is made if missing. A file already there for the same student is replaced
    (a symbolic link there is replaced itself, never followed out of DIR)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--feedback {path_text(folder)}: that is a file; give a folder "
                         "(it is made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot make the feedback folder {path_text(folder)}: "
                         f"{exc.strerror or exc}") from None
    from tutor.roster import student_key

    results = report.counted
    stems = file_stems(results)
    names = _names(roster)
    files: list[Path] = []
    for r, stem in zip(results, stems):
        name = names.get(student_key(r.student), "")
        for suffix, text in ((".md", student_markdown(report, r, name)),
                             (".html", student_html(report, r, name))):
            path = folder / (stem + suffix)
            _write(path, text)
            files.append(path)
    notes = []
    renamed = [f"{r.student} → {s}" for r, s in zip(results, stems)
               if s != file_stems([r])[0]]
    if renamed:
        notes.append(f"{len(renamed)} students whose ids make the same file name got their "
                     f"id's hash added: " + ", ".join(renamed[:10])
                     + (f", … ({len(renamed) - 10} more)" if len(renamed) > 10 else ""))
    unread = len(report.results) - len(report.graded)
    if unread:
        notes.append(f"{unread} unreadable sheet{'s' if unread != 1 else ''} got no feedback "
                     "(listed with their errors)")
    return Written(folder, tuple(files), len(results), tuple(notes))


def _write(path: Path, text: str) -> None:
    """``text`` into ``path`` whole: a temporary file beside it, then renamed onto it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".feedback-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write the feedback file: {exc.strerror or exc}",
                         str(path)) from None


# ─── the class report ───────────────────────────────────────────────────────────────────
def distribution(report) -> list[tuple[str, int]]:
    """(label, students) per bar of the score histogram, each student once: a bar per point
    when the maximum is a whole number up to 40 (a score of 18.5 in the 18 bar), else ten
    bars of 10 % each."""
    counted = report.counted
    if not counted:
        return []
    top = max(r.score.max for r in counted)
    if top.denominator == 1 and 0 < top <= 40:
        bars = [0] * (int(top) + 1)
        for r in counted:
            bars[min(int(top), max(0, math.floor(r.score.total)))] += 1
        return [(str(i), n) for i, n in enumerate(bars)]
    bars = [0] * 10
    for r in counted:
        share = r.score.total / top if top else Fraction(1)
        bars[min(9, max(0, math.floor(10 * share)))] += 1
    return [(f"{10 * i}–{10 * i + 10} %", n) for i, n in enumerate(bars)]


def per_step(report) -> list[dict]:
    """Per step with any answer not right, in step order: {step, students (not right),
    notes: [{name, students, misconception}]} — the misconceptions found there first, then
    the verdicts, most frequent first (Report.code_rows, each student once)."""
    rows = report.code_rows()
    out = []
    for sid in report.step_ids:
        n = sum(any(v.step_id == sid and v.status != "correct" for v in r.verdicts)
                for r in report.counted)
        if not n:
            continue
        here = [c for c in rows if c["step"] == sid]
        here.sort(key=lambda c: (c["misconception"] is None, -c["students"]))
        out.append({"step": sid, "students": n,
                    "notes": [{"name": c["name"], "students": c["students"],
                               "misconception": c["misconception"]} for c in here]})
    return out


def _stats(report) -> dict:
    scores = [float(r.score.total) for r in report.counted]
    top = max((r.score.max for r in report.counted), default=Fraction(0))
    return {"students": len(scores), "max": points(top) if scores else "—",
            "mean": f"{statistics.fmean(scores):.4g}" if scores else "—",
            "median": f"{statistics.median(scores):.4g}" if scores else "—",
            "all_correct": sum(r.all_correct for r in report.counted),
            "unreadable": len(report.results) - len(report.graded)}


def _head_line(report) -> str:
    st = _stats(report)
    dup = len(report.graded) - len(report.counted)
    return (f"{len(report.graded)} of {len(report.results)} sheets graded, "
            f"{st['students']} students" + (f" ({dup} second sheets not counted)" if dup else "")
            + f"; {st['all_correct']} with every step right")


def class_markdown(report) -> str:
    """The class report as Markdown: figures, a text chart of the scores, the
    misconceptions, each step's most common mistakes, every student's score."""
    st = _stats(report)
    out = [f"# Class report: {md(report.title)}", "", f"{md_code(report.exercise)} · "
           f"{md(_head_line(report))}", ""]
    for n in report.notes:
        out.append(f"- warning: {md(n)}")
    if report.notes:
        out.append("")
    out += ["| students | mean | median | maximum | every step right | unreadable |",
            "|---|---|---|---|---|---|",
            f"| {st['students']} | {st['mean']} | {st['median']} | {st['max']} | "
            f"{st['all_correct']} | {st['unreadable']} |", ""]
    bars = distribution(report)
    if bars:
        peak = max(n for _, n in bars) or 1
        width = max(len(label) for label, _ in bars)
        out += ["## Score distribution", "", "```text",
                *[f"{label:>{width}} │" + (f"{'█' * math.ceil(40 * n / peak)} {n}" if n else "")
                  for label, n in bars], "```", ""]
    mis = report.misconception_counts()
    out += ["## Misconceptions", ""]
    if mis:
        out += ["| misconception | students | at |", "|---|---|---|"]
        for m in mis:
            at = ", ".join(f"{md_code(x['step'], True)} ({x['students']})" for x in m["steps"])
            out.append(f"| {md(m['name'])} | {m['students']} of {st['students']} | {at} |")
    else:
        out.append("No catalogued misconception was found.")
    out += ["", "## Step by step: the most common mistakes", ""]
    steps = per_step(report)
    if steps:
        out += ["| step | students not right | most common |", "|---|---|---|"]
        for row in steps:
            common = "; ".join(f"{md(c['name'])} ({c['students']})" for c in row["notes"][:4])
            out.append(f"| {md_code(row['step'], True)} | {row['students']} | {common} |")
    else:
        out.append("Every step of every sheet is right.")
    out += ["", "## Students", "", "| student | score | first wrong step | misconceptions |",
            "|---|---|---|---|"]
    for r in report.counted:
        out.append(f"| {md(r.student)} | {points(r.score.total)} / {points(r.score.max)} | "
                   f"{md_code(r.first_wrong, True) if r.first_wrong else ''} | "
                   f"{md(', '.join(_mis_names(r)))} |")
    bad = [r for r in report.results if r.error is not None]
    if bad:
        out += ["", "## Not graded", ""] + [f"- {md(r.error)}" for r in bad]
    return "\n".join(out) + "\n"


def _mis_names(r) -> list[str]:
    from tutor.misconceptions import CATALOGUE

    ids = dict.fromkeys(v.misconceptions[0] for v in r.verdicts
                        if v.status != "correct" and v.misconceptions)
    return [CATALOGUE[i].name if i in CATALOGUE else i for i in ids]


def histogram_svg(bars: list[tuple[str, int]], caption: str = "students per score") -> str:
    """The score histogram as an inline SVG (no script, no fonts fetched)."""
    w, h, left, right, top, bottom = 880, 280, 44, 12, 24, 46
    most = max((n for _, n in bars), default=0) or 1
    tick = max(1, math.ceil(most / 4))  # whole numbers of students, at most five lines
    peak = tick * math.ceil(most / tick)
    step = (w - left - right) / max(len(bars), 1)
    plot = h - top - bottom
    small = len(bars) > 16
    out = [f"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" "
           f"role=\"img\" aria-label=\"{esc(caption)}\" font-family=\"DejaVu Sans, sans-serif\">"
           f"<title>{esc(caption)}</title>"]
    for n in range(0, peak + 1, tick):
        y = top + plot * (1 - n / peak)
        out.append(f"<line x1=\"{left}\" x2=\"{w - right}\" y1=\"{y:.1f}\" y2=\"{y:.1f}\" "
                   f"stroke=\"#d1d9e0\" stroke-width=\"1\"/>"
                   f"<text x=\"{left - 6}\" y=\"{y + 4:.1f}\" font-size=\"11\" fill=\"#59636e\" "
                   f"text-anchor=\"end\">{n}</text>")
    for i, (label, n) in enumerate(bars):
        bh = plot * n / peak
        x = left + i * step + step * 0.12
        bw = step * 0.76
        out.append(f"<rect x=\"{x:.1f}\" y=\"{top + plot - bh:.1f}\" width=\"{bw:.1f}\" "
                   f"height=\"{bh:.1f}\" rx=\"2\" fill=\"#0969da\"><title>{esc(label)}: {n} "
                   f"students</title></rect>")
        cx = x + bw / 2
        if n:
            out.append(f"<text x=\"{cx:.1f}\" y=\"{top + plot - bh - 4:.1f}\" font-size=\"11\" "
                       f"fill=\"#1f2328\" text-anchor=\"middle\">{n}</text>")
        out.append(f"<text x=\"{cx:.1f}\" y=\"{h - bottom + 16}\" font-size=\""
                   f"{10 if small else 12}\" fill=\"#59636e\" text-anchor=\"middle\">"
                   f"{esc(label)}</text>")
    out.append(f"<text x=\"{left + (w - left - right) / 2:.1f}\" y=\"{h - 8}\" font-size=\"12\" "
               f"fill=\"#59636e\" text-anchor=\"middle\">score (points)</text></svg>")
    return "".join(out)


def class_html(report) -> str:
    """The class report as one self-contained HTML page, the score histogram an SVG."""
    st = _stats(report)
    out = [f"<header><p class=\"kicker\">Class report · {esc(report.exercise)}</p>",
           f"<h1>{esc(report.title)}</h1><p class=\"who\">{esc(_head_line(report))}</p>"
           "</header>"]
    if report.notes:
        out.append("<div class=\"notes\"><b>Warnings</b><ul>"
                   + "".join(f"<li>{esc(n)}</li>" for n in report.notes) + "</ul></div>")
    out.append("<div class=\"stats\">" + "".join(
        f"<div><b>{esc(v)}</b><span>{k}</span></div>" for k, v in (
            ("students", st["students"]), ("mean score", st["mean"]),
            ("median score", st["median"]), ("maximum", st["max"]),
            ("every step right", st["all_correct"]), ("unreadable sheets", st["unreadable"])))
        + "</div>")
    bars = distribution(report)
    if bars:
        out.append("<section><h2>Score distribution</h2><figure>"
                   + histogram_svg(bars, f"Score distribution of {st['students']} students")
                   + "<figcaption>Students per score (each student once).</figcaption>"
                   "</figure></section>")
    mis = report.misconception_counts()
    out.append("<section><h2>Misconceptions</h2>")
    if mis:
        most = max(m["students"] for m in mis) or 1
        out.append("<table><thead><tr><th>misconception</th><th>students</th><th></th>"
                   "<th>at</th></tr></thead><tbody>")
        for m in mis:
            at = ", ".join(f"<code>{esc(x['step'])}</code> ({x['students']})" for x in m["steps"])
            out.append(f"<tr><td>{esc(m['name'])}</td><td class=\"num\">{m['students']} of "
                       f"{st['students']}</td><td style=\"width:160px\"><span class=\"hbar\" "
                       f"style=\"width:{150 * m['students'] / most:.0f}px\"></span></td>"
                       f"<td>{at}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>No catalogued misconception was found.</p>")
    out.append("</section><section><h2>Step by step: the most common mistakes</h2>")
    steps = per_step(report)
    if steps:
        out.append("<table><thead><tr><th>step</th><th>students not right</th>"
                   "<th>most common</th></tr></thead><tbody>")
        for row in steps:
            common = "; ".join(
                (f"<b>{esc(c['name'])}</b>" if c["misconception"] else esc(c["name"]))
                + f" ({c['students']})" for c in row["notes"][:4])
            out.append(f"<tr><td><code>{esc(row['step'])}</code></td><td class=\"num\">"
                       f"{row['students']}</td><td>{common}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>Every step of every sheet is right.</p>")
    out.append("</section><section><h2>Students</h2><table><thead><tr><th>student</th>"
               "<th>score</th><th>first wrong step</th><th>misconceptions</th></tr></thead>"
               "<tbody>")
    for r in report.counted:
        out.append(f"<tr><td>{esc(r.student)}</td><td class=\"num\">{points(r.score.total)} / "
                   f"{points(r.score.max)}</td><td>"
                   + (f"<code>{esc(r.first_wrong)}</code>" if r.first_wrong else "")
                   + f"</td><td>{esc(', '.join(_mis_names(r)))}</td></tr>")
    out.append("</tbody></table></section>")
    bad = [r for r in report.results if r.error is not None]
    if bad:
        out.append("<section><h2>Not graded</h2><ul>"
                   + "".join(f"<li><code>{esc(r.error)}</code></li>" for r in bad)
                   + "</ul></section>")
    out.append(f"<footer>tutor check · {esc(report.exercise)}</footer>")
    return _page(f"Class report: {esc(report.title)}", "\n".join(out))
