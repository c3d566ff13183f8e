"""`tutor practice`: whole sessions, driven as a student would, with the seeds' numbers."""
from __future__ import annotations

import io
import sys
import re

import pytest
import sympy as sp
from rich.console import Console
from typer.testing import CliRunner

from tutor.catalog import bundled
from tutor.exercise import load
from tutor.cli import app
from tutor.core import work
from tutor.draw import drawing
from tutor.practice import Session, Tally, run
from tutor.progress import Store
from tutor.render import fmt
from tutor.solve import solve

IDS = [e.id for e in bundled()]
NUMERIC = [e.id for e in bundled() if not load(e.path).symbolic  # answers are numbers
           and "formulas" not in load(e.path).spec.ask]  # (formulas: tests/test_recipe.py)
_WORKED: dict = {}


def worked(ex: str):
    if ex not in _WORKED:
        _WORKED[ex] = work(ex)
    return _WORKED[ex]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def rounded(v, places: int = 4) -> str:
    """What a student who rounds to 4 decimals types: [[a, b], [c, d]]."""
    def one(x):
        return f"{round(float(sp.N(x, 30)), places):.{places}f}"

    if isinstance(v, sp.MatrixBase):
        if v.rows == 1 or v.cols == 1:
            return "[" + ", ".join(one(x) for x in v) + "]"
        return "[" + ", ".join("[" + ", ".join(one(x) for x in v.row(i)) + "]"
                               for i in range(v.rows)) + "]"
    return one(v)


def resume_line(out: str) -> str:
    """The command printed to resume: on the line of its own after "…where you stopped:"."""
    lines = out.splitlines()
    i = max(k for k, line in enumerate(lines) if line.endswith("where you stopped:"))
    return lines[i + 1].strip()


def script(ex: str, answers: list[str], **kw) -> str:
    """Run a session with scripted answers; the screen as text."""
    out = io.StringIO()
    feed = iter(answers)

    def ask(prompt):
        out.write(prompt)
        try:
            text = next(feed)
        except StopIteration:
            raise EOFError from None
        if text == "^C":
            raise KeyboardInterrupt
        out.write(text + "\n")
        return text

    console = Console(file=out, width=80, no_color=True, highlight=False)
    kw.setdefault("store", Store())
    code = run(ex, ask=ask, console=console, **kw)
    return out.getvalue() + f"\n[exit {code}]"


# ─── the students of the issue ────────────────────────────────────────────────────────
@pytest.mark.parametrize("ex", NUMERIC)  # (symbolic ones: tests/test_symbolic.py)
def test_four_decimal_student_is_accepted_everywhere(ex):
    """Each step computed from the student's OWN rounded answers, rounded to 4 decimals."""
    w = worked(ex)
    s = Session(w)
    own = {}
    for step in w.steps:
        assert s.current is step
        value = solve(w.graph, overrides=own).quantities[step.key].value
        text = rounded(value)
        fb = s.submit(text)
        assert fb.kind == "correct", (step.id, text, fb.lines)
        own[step.key] = s.own[step.id]
    assert s.score() == (len(w.steps), len(w.steps))


@pytest.mark.parametrize("ex", IDS)
def test_exact_student_scores_full_marks(ex):
    from tutor.render import exact_text

    w = worked(ex)
    # exact forms as SymPy prints them, with Euler's E written the grammar's way
    typed = [re.sub(r"\bE\b", "exp(1)", exact_text(s.value)) if s.quantity.exact
             else fmt(s.value, 12) for s in w.steps]
    out = script(ex, typed + ["n"])
    n = len(w.steps)
    assert f"Score: {n}/{n}" in out
    assert "✗" not in out
    assert Store().status()[ex].best == n


def test_lab9_rejects_the_seeds_slip_for_the_loss():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w)
    for text in ["[0.6, 0.1]", "[0.6, 0.1]", "[0.42, -0.17]", "[0.42, 0]", "0.552", "0.6346"]:
        assert s.submit(text).kind == "correct"
    assert s.current.id == "L"
    fb = s.submit("0.4546")  # the seed's slip; exact 0.45476
    assert fb.kind == "wrong"
    assert s.submit("0.4548").kind == "correct"


def test_forgotten_relu_mask_is_told_neuron_2_is_dead():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w)
    while s.current.id != "delta2":
        s.submit(fmt(s.current.value, 8))
    fb = s.submit("[-0.2192, 0.1462]")  # ∂L/∂h2 without the ReLU mask
    text = "\n".join(fb.lines)
    assert fb.kind == "wrong"
    assert "delta2[2]: check whether this ReLU is active: z2[2] = -0.17." in fb.lines
    assert "delta2[2] = 0" not in text  # the value of a zero entry is the answer (issue 14)
    assert "the correct rule is δ = ∂L/∂h ⊙ ReLU′(z), ReLU′(z) = 1[z > 0]." in text


def test_wrong_answers_climb_the_hint_ladder_then_reveal():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w, tries=3)
    while s.current.id != "dW2":
        s.submit(fmt(s.current.value, 8))
    first = s.submit("[[1, 1], [1, 1]]")
    assert first.kind == "wrong" and first.record is None
    assert any(line.startswith("Rule: ∂L/∂W2 = δ2 · h1ᵀ") for line in first.lines)
    second = s.submit("[[1, 1], [1, 1]]")
    assert "With your numbers: ∂L/∂W2 = δ2 · h1ᵀ = [-0.2192, 0] · [0.6, 0.1]ᵀ" in second.lines
    third = s.submit("[[1, 1], [1, 1]]")
    assert third.kind == "revealed" and third.record.result == "revealed"
    assert "The answer: dW2 = [[-0.1315, -0.0219], [0, 0]]" in third.lines
    assert any("no error signal reaches unit 2" in line for line in third.lines)
    assert s.current.id == "db2" and s.score() == (12, 24)


def test_bad_syntax_and_wrong_shape_cost_no_try():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w, tries=1)
    fb = s.submit("[0.6, ")
    assert fb.kind == "invalid" and "No try used" in fb.lines[0]
    fb = s.submit("0.6")
    assert fb.kind == "invalid" and "expected a" in fb.lines[0]
    assert s.wrong == 0 and s.current.id == "z1"
    assert s.submit("0.6 0.1").kind == "correct"  # the `a b` vector form


def test_rounding_carried_forward_is_accepted_and_said():
    """branch-merge-l2: du typed as 0.1750 (exact 0.17493…) makes ∂J/∂a = 0.4500, which is
    more than 1e-4 from the exact 0.449854 — but exactly right from the student's own du."""
    w = worked("branch-merge-l2")
    s = Session(w)
    typed = ["2", "4", "6", "0.1429", "0.7346", "0.1", "0.8346", "1", "1", "-1.7142",
             "0.035", "0.035", "0.175"]
    for text in typed:
        assert s.submit(text).kind == "correct", (s.current.id, text)
    assert s.current.id == "da"
    fb = s.submit("0.4500")
    assert fb.kind == "correct"
    assert fb.lines[-1] == ("accepted: consistent with your rounded earlier answers "
                            "(exact: 0.449854)")
    assert s.submit("0.2").kind == "wrong"  # db: consistent with nothing


def test_parameter_table_counts_what_will_change():
    s = Session(worked("diagonal-flip-4-3-4"))
    rows = {r.name: r for r in s.parameters()}
    assert sum(r.changes for r in rows.values()) == 12  # the seed says 11, its table says 12
    assert sum(r.total for r in rows.values()) == 31
    assert rows["b1"].changes == 1
    why = " ".join(rows["W1"].why)
    assert "boundary" in why and "ReLU′(0) = 0" in why and "dead ReLU" in why
    lab9 = {r.name: r for r in Session(worked("lab9-relu-sigmoid-bce")).parameters()}
    assert (lab9["W1"].changes, lab9["W1"].total) == (2, 4)
    assert "zero input feeds this weight: x[2] = 0" in lab9["W1"].why[0]


# ─── whole sessions through run() and the CLI ─────────────────────────────────────────
def test_session_end_shows_score_and_parameter_table():
    w = worked("diagonal-flip-4-3-4")
    out = script("diagonal-flip-4-3-4", [fmt(s.value, 8) for s in w.steps] + ["n"])
    assert f"Score: {len(w.steps)}/{len(w.steps)}" in out
    assert "12 of 31 parameters would change under SGD." in out  # no learning rate
    assert max(len(line) for line in out.splitlines()) <= 80


def test_quit_then_resume_asks_only_the_rest(home):
    w = worked("lab9-relu-sigmoid-bce")
    answers = [fmt(s.value, 8) for s in w.steps]
    out = script("lab9-relu-sigmoid-bce", answers[:5] + ["quit"])
    assert "Saved: 5 of 24 steps done." in out
    assert Store().status()["lab9-relu-sigmoid-bce"].text() == "in progress (5/24)"
    out = script("lab9-relu-sigmoid-bce", answers[5:] + ["y"])
    assert "Resuming: 5 of 24 steps already done." in out
    assert "z1 = " not in out.split("Resuming")[1].split("[6/24]")[0]
    assert "Score: 24/24" in out
    assert "Backward pass" in out.split("Show the worked solution?")[1]  # the write-up


def test_eof_is_quit_and_nothing_is_lost():
    out = script("merge-sum", ["6"])
    assert out.rstrip().endswith("[exit 0]")
    assert "Saved: 1 of" in out
    assert Store().answers(1)["u"].result == "correct"


def test_matrix_entry_by_entry():
    w = worked("lab9-relu-sigmoid-bce")
    answers = [fmt(s.value, 8) for s in w.steps]
    i = [s.id for s in w.steps].index("dW2")
    out = script("lab9-relu-sigmoid-bce", answers[:i] + ["entries", "-0.1315", "-0.0219",
                                                       "oops", "0", "0"])
    assert "dW2[2,1] = " in out
    assert "✓ dW2 = [[-0.1315, -0.0219], [0, 0]]" in out


def test_hint_skip_and_help_at_the_prompt():
    out = script("merge-sum", ["?", "6", "help", "skip"])
    assert "Rule: u = " in out
    assert "Skipped." in out and "The answer: v = 8" in out
    assert "Answers: 0.5" in out


def test_cli_practice_with_piped_answers(home):
    w = worked("merge-sum")
    stdin = "\n".join(fmt(s.value) for s in w.steps) + "\nn\n"
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--plain"], input=stdin)
    assert r.exit_code == 0, r.output
    assert f"Score: {len(w.steps)}/{len(w.steps)}" in r.output
    assert "\x1b[" not in r.output
    r = CliRunner().invoke(app, ["list"])
    assert re.search(r"merge-sum\s+bundled\s+done\s+7/7", r.output), r.output
    r = CliRunner().invoke(app, ["progress"])
    assert re.search(r"loss value\s+│\s+1\s+│\s+1\s+│\s+1\s+│\s+0\s+│\s+0", r.output), r.output


def test_bare_tutor_continues_the_next_unfinished_exercise():
    r = CliRunner().invoke(app, [], input="")
    assert r.exit_code == 0, r.output
    assert IDS[0] in r.output and "Saved: 0 of" in r.output


def test_typed_garbage_never_prints_a_traceback():
    out = script("lab9-relu-sigmoid-bce", ["__import__('os')", "[[1,2],[3", "1/0", "exp(",
                                           "9" * 400, "[1, 2, 3]", "quit"])
    assert "Traceback" not in out and out.count("Not read") == 6


def test_cli_rejects_unknown_exercise_and_both_variant_options():
    r = CliRunner().invoke(app, ["practice", "lab-9"])
    assert r.exit_code == 2 and "no exercise 'lab-9'" in r.output
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--seed", "1", "--student", "x"])
    assert r.exit_code == 2 and "not --seed and --student" in r.output


# ─── the drawing ──────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("ex", IDS)
def test_drawing_fits_80_columns_plain(ex):
    out = io.StringIO()
    c = Console(file=out, width=80, highlight=False)  # a file: not a terminal → no colour
    w = worked(ex)
    c.print(drawing(w, grads=True))
    c.print(drawing(w, revealed=[s.id for s in w.steps[:3]], current=w.steps[3].id, grads=True))
    text = out.getvalue()
    assert "\x1b[" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "▶ ?" in text


def test_drawing_lab9_values_and_gradients():
    out = io.StringIO()
    w = worked("lab9-relu-sigmoid-bce")
    Console(file=out, width=80).print(drawing(w, grads=True))
    text = out.getvalue()
    for s in ("z -0.17", "δ 0", "ŷ 0.6346", "L = bce(ŷ, y) = 0.4548",
              "∂L/∂W2 = [[-0.1315, -0.0219], [0, 0]]", "W3′ = [0.6153, -0.4]"):
        assert s in text, s


def test_drawing_seed_000_dag():
    out = io.StringIO()
    w = worked("dag-two-relu-gates")
    Console(file=out, width=80).print(drawing(w, grads=True))
    text = out.getvalue()
    assert re.search(r"z2 .*val=-1\s+grad=0", text)
    assert re.search(r"h2 .*val=0\s+grad=-2", text)
    assert "w21=1 grad=0" in text and "w12=1 grad=-4" in text
    hidden = io.StringIO()
    Console(file=hidden, width=80).print(drawing(w, revealed=[], current="z1"))
    assert "grad=" not in hidden.getvalue() and "val=▶ ?" in hidden.getvalue()


def test_a_diagnosed_misconception_is_named(monkeypatch):
    """The hint names the misconception tutor.misconceptions.diagnose finds (MISC_API)."""
    import types
    from dataclasses import dataclass

    seen = {}

    @dataclass(frozen=True)
    class M:
        id: str = "no-relu-mask"
        name: str = "no ReLU mask"

    @dataclass(frozen=True)
    class D:
        misconception: M = M()

    def diagnose(worked, step_id, value, answers=None):
        seen.update(step=step_id, value=value, answers=dict(answers))
        return [D()] if step_id == "delta2" else []

    monkeypatch.setitem(sys.modules, "tutor.misconceptions", types.SimpleNamespace(
        diagnose=diagnose, CATALOGUE={"no-relu-mask": M()}))
    monkeypatch.setitem(sys.modules, "tutor.words.misconceptions", types.SimpleNamespace(
        explain=lambda w, d, reveal=True: "no ReLU mask at delta2: you used δ = ∂L/∂h; the "
                                          "rule is δ = ∂L/∂h ⊙ ReLU′(z)",
        hint=lambda w, step_id, mid: f"mask it ({step_id}, {mid})"))
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w)
    while s.current.id != "delta2":
        s.submit(fmt(s.current.value, 8))
    fb = s.submit("[-0.2192, 0.1462]")
    assert fb.misconceptions == ("no-relu-mask",)
    assert ("This looks like: no ReLU mask at delta2: you used δ = ∂L/∂h; the rule is "
            "δ = ∂L/∂h ⊙ ReLU′(z)") in fb.lines
    assert seen["step"] == "delta2" and seen["value"] == sp.Matrix([[-0.2192], [0.1462]]) \
        .applyfunc(sp.nsimplify)
    assert "dh2" in seen["answers"]
    assert s.hint().lines == ("Hint (no ReLU mask): mask it (delta2, no-relu-mask)",)


def test_a_variant_is_practised_and_resumed_as_its_own():
    w = work("lab9-variants", seed=3)
    first = fmt(w.steps[0].value)
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--seed", "3"],
                           input=first + "\nquit\n")
    assert r.exit_code == 0, r.output
    assert "Your numbers: variant 3" in r.output and f"✓ z1 = {first}" in r.output
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--seed", "3"], input="quit\n")
    assert "Resuming: 1 of 24 steps already done." in r.output
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--seed", "4"], input="quit\n")
    assert "Resuming" not in r.output


# ─── audit findings: the answer is not given away; the hint adapts; nothing is lost ───
MERGE_TO_DY = ["6", "8", "64", "16", "16", "32"]  # merge-sum up to dy (∂L/∂y = 64)


def test_a_diagnosis_names_the_rule_but_not_the_value_before_the_reveal():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w, tries=2)
    while s.current.id != "delta2":
        s.submit(fmt(s.current.value, 8))
    first = "\n".join(s.submit("[-0.2192, 0.1462]").lines)
    assert "This looks like: no ReLU mask at delta2" in first
    assert "Your rule δ = ∂L/∂h gives [-0.2192, 0.1462]" in first
    assert "the correct rule is δ = ∂L/∂h ⊙ ReLU′(z)" in first
    assert "[-0.2192, 0]" not in first and "gives [-0.2192, 0]" not in first
    assert "delta2[2]: check whether this ReLU is active: z2[2] = -0.17." in first  # §5
    assert "delta2[2] = 0" not in first
    last = s.submit("[-0.2192, 0.1462]")  # the last try: the answer is shown anyway
    assert last.kind == "revealed"
    assert "The answer: delta2 = [-0.2192, 0]" in last.lines


def test_the_diagnosis_speaks_of_the_steps_own_node():
    out = script("merge-sum", MERGE_TO_DY + ["16", "quit"])
    said = " ".join(out.split("This looks like:")[1].split("Type ?")[0].split())
    assert "Your rule ∂L/∂y = the contribution of one consumer gives 16" in said
    assert "the correct rule is ∂L/∂y = Σ over y's consumers of their contributions." in said
    assert "∂L/∂x" not in said and "64" not in said


def test_the_hint_after_a_diagnosis_is_aimed_at_the_bug():
    out = script("merge-sum", MERGE_TO_DY + ["16", "?", "?", "quit"])
    after = out.split("dy = 16", 1)[1]
    assert "Rule:" not in after.split("dy = ?")[0]  # the diagnosis already gave the rule
    first, second = after.split("dy = ?")[1:3]
    assert ("Hint (forgot to sum at a merge): y feeds both u and v: add one term per "
            "consumer, ∂L/∂y = ∂L/∂u·∂u/∂y + ∂L/∂v·∂v/∂y") in " ".join(first.split())
    assert second.strip().startswith("Rule: ∂L/∂y = ∂L/∂v + ∂L/∂u · ∂u/∂y")
    plain = script("merge-sum", MERGE_TO_DY + ["50", "?", "quit"], restart=True)  # no bug: 50
    after = plain.split("dy = 50", 1)[1]
    assert "This looks like" not in after and "Hint (" not in after
    assert "Rule: ∂L/∂y = ∂L/∂v + ∂L/∂u · ∂u/∂y" in after.split("dy = ?")[0]
    assert "With your numbers: ∂L/∂y = ∂L/∂v + ∂L/∂u · ∂u/∂y = 16 + 16 · 3" in after


def test_no_relu_mask_hint_shows_the_signs_and_the_mask():
    w = worked("lab9-relu-sigmoid-bce")
    s = Session(w)
    while s.current.id != "delta2":
        s.submit(fmt(s.current.value, 8))
    s.submit("[-0.2192, 0.1462]")
    assert s.hint().lines == ("Hint (no ReLU mask): z2 = [0.42, -0.17], so ReLU′(z2) = "
                              "[1, 0]: multiply ∂L/∂h2 by ReLU′(z2) entry by entry: 0 "
                              "wherever z2 ≤ 0",)
    assert s.hint().lines[0].startswith("Rule: δ2 = ∂L/∂z2 = ∂L/∂h2 ⊙ ReLU′(z2)")


def test_end_table_per_iteration_residual_block():
    w = worked("residual-block")
    out = script("residual-block", [fmt(s.value, 8) for s in w.steps] + ["n"])
    assert "Parameters (iteration 1)" in out and "Parameters (iteration 2)" in out
    assert "In iteration 1, 2 of 2 parameters will change." in out
    assert "In iteration 2, 0 of 2 parameters will change." in out  # the ReLU died
    it2 = " ".join(out.split("Parameters (iteration 2)")[1].split())
    assert re.search(r"dead ReLU: w1·x = -2.05 [≤<] 0", it2), it2  # rules.py words it
    assert max(len(line) for line in out.splitlines()) <= 80
    rows = {r.name: r for r in Session(w).parameters(2)}
    assert (rows["w1"].changes, rows["w2"].changes) == (0, 0)


def test_wrong_tries_and_hints_survive_quit_and_ctrl_c():
    out = script("merge-sum", MERGE_TO_DY + ["50", "quit"])
    assert "(1 of 3 tries)" in out and "Rule: ∂L/∂y" in out
    out = script("merge-sum", ["?", "50", "^C"])
    assert "dy: 1 wrong try used so far (2 of 3 tries left)." in out
    assert "With your numbers: ∂L/∂y" in out.split("dy = ?")[1]  # the ladder goes on
    assert "(2 of 3 tries)" in out and "[exit 130]" in out
    out = script("merge-sum", ["50", "n"])
    assert "dy: 2 wrong tries and 1 hint used so far (1 of 3 tries left)." in out
    assert "✗ dy = 50 is not right (3 of 3 tries)." in out
    assert "The answer: dy = 64" in out and "Score: 6/7" in out
    rec = Store().answers(1)["dy"]
    assert (rec.result, rec.wrong, rec.hints) == ("revealed", 3, 1)


def _local(folder, name="my-sig.yaml", ex_id="my-merge", x=3):
    src = worked("merge-sum").exercise.file
    text = open(src, encoding="utf-8").read().replace("id: merge-sum", f"id: {ex_id}")
    text = text.replace("params: {x: 3, y: 2}", f"params: {{x: {x}, y: 2}}")
    (folder / name).write_text(text, encoding="utf-8")


def test_a_local_file_resumes_by_its_path_and_lists_by_its_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _local(tmp_path)
    r = CliRunner().invoke(app, ["practice", "my-sig.yaml", "--plain"], input="6\nquit\n")
    assert r.exit_code == 0, r.output
    assert resume_line(r.output) == "tutor practice my-sig.yaml"
    r = CliRunner().invoke(app, ["list"])
    assert re.search(r"my-merge\s+my-sig\.yaml\s+in progress \(1/7\)", r.output), \
        r.output
    r = CliRunner().invoke(app, ["practice", "my-sig.yaml"], input="quit\n")
    assert "Resuming: 1 of 7 steps already done." in r.output
    _local(tmp_path, x=4)  # edited between sessions
    r = CliRunner().invoke(app, ["practice", "my-sig.yaml"], input="quit\n")
    assert "The exercise changed since your last session; starting again." in r.output
    assert "Resuming" not in r.output


def test_a_variant_resumes_with_its_own_option():
    import shlex

    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "alice"],
                           input="quit\n")
    assert resume_line(r.output) == "tutor practice lab9-variants --student alice"
    seed = re.search(r"Your numbers: variant (\d+)", r.output).group(1)
    w = work("lab9-variants", student="alice")
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "alice"],
                           input=fmt(w.steps[0].value) + "\nquit\n")
    cmd = resume_line(r.output)
    r = CliRunner().invoke(app, shlex.split(cmd)[1:], input="quit\n")
    assert f"Your numbers: variant {seed}" in r.output
    assert "Resuming: 1 of 24 steps already done." in r.output
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--seed", "5", "--tries", "2"],
                           input="quit\n")
    assert resume_line(r.output) == "tutor practice lab9-variants --seed 5 --tries 2"


def test_bare_tutor_continues_the_exercise_left_open_last(tmp_path, monkeypatch):
    lab9 = worked("lab9-relu-sigmoid-bce")
    script("residual-block", [fmt(worked("residual-block").steps[0].value), "quit"])
    script("lab9-relu-sigmoid-bce", [fmt(lab9.steps[0].value), "quit"])
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "(lab9-relu-sigmoid-bce)" in r.output
    assert "Resuming: 1 of 24 steps already done." in r.output
    # a variant and a local file are reopened as they were opened
    CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "bob"], input="quit\n")
    r = CliRunner().invoke(app, [], input="quit\n")
    seed = work("lab9-variants", student="bob").seed
    assert f"Your numbers: variant {seed}" in r.output
    assert resume_line(r.output) == "tutor practice lab9-variants --student bob"
    monkeypatch.chdir(tmp_path)
    _local(tmp_path)
    CliRunner().invoke(app, ["practice", "my-sig.yaml"], input="6\nquit\n")
    monkeypatch.chdir("/")  # from anywhere
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "(my-merge)" in r.output and "Resuming: 1 of 7" in r.output
    # finished: the next most recent open one
    w = worked("merge-sum")
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(app, ["practice", "my-sig.yaml"],
                       input="\n".join(fmt(s.value) for s in w.steps[1:]) + "\nn\n")
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "lab9-variants" in r.output


def test_long_piped_input_is_echoed_cut_short():
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--plain"],
                           input="9" * 400 + "\nquit\n")
    assert r.exit_code == 0, r.output
    assert "u = " + "9" * 40 + "… (400 characters)" in r.output
    assert "9" * 100 not in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80


def test_decimal_commas_get_a_hint_and_cost_no_try():
    s = Session(worked("lab9-relu-sigmoid-bce"))
    fb = s.submit("0,6 0,1")
    assert fb.kind == "invalid" and s.wrong == 0
    assert fb.lines == ("Not read: expected a vector of 2, got a vector of 4. No try used.",
                        "The decimal point is '.': type 0.6, not 0,6 (a comma separates "
                        "entries).")
    assert len(s.submit("[1, 2, 3]").lines) == 1  # three entries: no such hint
    m = Session(worked("merge-sum"))
    assert "The decimal point is '.'" in m.submit("6,0").lines[1]


# ─── audit 9 ──────────────────────────────────────────────────────────────────────────
def _to(ex: str, sid: str, **kw) -> Session:
    """A session of ``ex`` with every step before ``sid`` answered right."""
    s = Session(worked(ex), **kw)
    while s.current.id != sid:
        assert s.submit(fmt(s.current.value, 8)).kind == "correct"
    return s


def test_the_end_drawing_shows_the_last_iteration_labelled():
    w = worked("residual-block")
    out = script("residual-block", [fmt(s.value, 8) for s in w.steps] + ["n"])
    end = out.split("✓ it2.w2_new")[1].split("Score:")[0]
    assert "Iteration 2 of 2 (the last):" in end
    assert re.search(r"L .*val=8\b", end) and re.search(r"h .*val=-1\b", end), end
    assert "val=0.5" not in end  # iteration 1's loss
    assert "Iteration 2 of 2:" in out.split("[13/24]")[0]  # the iteration-2 drawings too


def test_the_score_says_how_it_was_earned_and_the_list_keeps_it():
    """Issue 14: 7/7 after a hint and a wrong try is not 7/7 on the first try."""
    w = worked("merge-sum")
    answers = []
    for i, st in enumerate(w.steps):
        answers += {1: ["?"], 2: ["999", "998"]}.get(i, []) + [fmt(st.value, 8)]
    out = script("merge-sum", answers + ["n"])
    assert "Score: 7/7 · 5 on the first try · 2 after a retry or a hint · 1 hint" in out
    r = CliRunner().invoke(app, ["list"], env={"COLUMNS": "100"})
    row = next(line for line in r.output.splitlines() if "merge-sum" in line)
    assert re.search(r"done\s+7/7\s+5/7\s+1\s", row), row
    s = Session(w)
    s.submit("?")
    s.hint()
    s.skip()
    assert s.tally() == Tally(0, 7, 0, 0, 1, 1)
    assert s.tally().text() == "0/7 · 0 on the first try · 1 hint · 1 shown to you"


def test_the_end_table_names_the_exercises_own_loss():
    """branch-merge-l2's loss is J: the table is headed ∂J/∂param, as its rows are ∂J/∂a."""
    w = worked("branch-merge-l2")
    out = script("branch-merge-l2", [fmt(s.value, 8) for s in w.steps] + ["n"])
    table = out.split("Score:")[1]
    assert "∂J/∂param" in table and "∂L/∂param" not in table
    w = worked("lab9-relu-sigmoid-bce")
    out = script("lab9-relu-sigmoid-bce", [fmt(s.value, 8) for s in w.steps] + ["n"])
    assert "∂L/∂param" in out.split("Score:")[1]


def test_every_drawing_with_a_relu_states_the_relu_prime_at_zero_convention():
    """Networks too (diagonal-flip is built on z = 0 exactly), and only where a ReLU is."""
    from io import StringIO

    from rich.console import Console

    from tutor.draw import drawing

    def drawn(ex):
        c = Console(file=StringIO(), width=120)
        c.print(drawing(worked(ex)))
        return c.file.getvalue()

    for ex in ("diagonal-flip-4-3-4", "lab9-relu-sigmoid-bce", "dag-two-relu-gates",
               "residual-block"):
        assert "z = 0 convention: ReLU′(0) = 0" in drawn(ex), ex
    for ex in ("sigmoid-batch-mse", "softmax-cross-entropy", "merge-sum", "branch-merge-l2"):
        assert "ReLU′(0)" not in drawn(ex), ex


def test_a_missed_zero_on_a_scalar_step_points_at_the_cause_not_the_value():
    s = _to("residual-block", "it2.dw1")
    fb = s.submit("2.8")
    text = "\n".join(fb.lines)
    assert "Check whether this ReLU is active: w1·x = -2.05." in fb.lines
    assert "is 0 here" not in text and "it2.dw1 = 0" not in text
    zeros = [s.hint().lines[0] for _ in range(4)][-1]  # aimed hint, rule, numbers, zeros
    assert zeros.startswith("Zeros: it2.dw1 = 0 (dead ReLU: w1·x = -2.05")  # the ladder may
    s.submit("2.8")
    last = "\n".join(s.submit("2.8").lines)  # the reveal says it in full
    assert "The answer: it2.dw1 = 0" in last and "it2.dw1 = 0: dead ReLU" in last
    r = _to("residual-block", "it2.r").submit("-2.05")
    assert "Check whether this ReLU is active: w1·x = -2.05." in r.lines
    dag = _to("dag-two-relu-gates", "dv2").submit("-2")
    assert "Look at the local derivative ∂yhat/∂v2 = h2." in dag.lines
    assert not any("= 0" in line for line in dag.lines)
    assert _to("dag-two-relu-gates", "dw21").submit("-2").lines[1] == "Look at ∂L/∂z2."


def test_a_zero_entry_is_pointed_at_not_given_until_the_zeros_rung_or_the_reveal():
    """Issue 14: h2 = 0.42 -0.17 in Lab 9 (the ReLU forgotten): h2[2]'s 0 is not said
    before the answer is shown; the "Zeros" rung and the reveal say it in full."""
    s = _to("lab9-relu-sigmoid-bce", "h2")
    first = s.submit("0.42 -0.17")
    text = "\n".join(first.lines)
    assert "1 of 2 entries right; check h2[2]." in first.lines
    assert "h2[2]: check whether this ReLU is active: z2[2] = -0.17." in first.lines
    assert "h2[2] = 0" not in text and "[0.42, 0]" not in text
    second = s.submit("0.42 -0.17")
    assert "h2[2] = 0" not in "\n".join(second.lines)
    last = "\n".join(s.submit("0.42 -0.17").lines)
    assert "h2[2] = 0, not -0.17: dead ReLU: z2[2] = -0.17" in last
    assert "The answer: h2 = [0.42, 0]" in last


def test_an_all_zero_vector_is_not_given_away_entry_by_entry(tmp_path):
    src = worked("lab9-relu-sigmoid-bce").exercise.file
    text = open(src, encoding="utf-8").read().replace("input: [1, 0]", "input: [0, 0]")
    (tmp_path / "zero-in.yaml").write_text(text.replace("id: lab9-relu-sigmoid-bce",
                                                        "id: zero-in"), encoding="utf-8")
    w = work(tmp_path / "zero-in.yaml")
    s = Session(w)
    while s.current.id != "dW1":
        s.submit(fmt(s.current.value, 8))
    fb = s.submit("[[1, 1], [1, 1]]")
    text = "\n".join(fb.lines)
    assert "0 of 4 entries right" in text
    assert "dW1[1,1]: look at the input x[1] this weight multiplies." in fb.lines
    assert "dW1[2,1], dW1[2,2]: look at the error signal δ1[2] of unit 2." in fb.lines
    assert "= 0" not in text
    lab9 = _to("lab9-relu-sigmoid-bce", "delta2").submit("[-0.2192, 0.1462]")
    assert "delta2[2]: check whether this ReLU is active: z2[2] = -0.17." in lab9.lines
    assert not any("delta2[2] = 0" in line for line in lab9.lines)


def test_a_wrong_shape_from_a_catalogued_bug_is_named_without_a_try():
    s = _to("affine-relu-layer", "dW1")
    fb = s.submit("[[1,0],[0.5,0],[1,0]]")  # x δᵀ: 3×2 for a 2×3 W
    assert fb.kind == "invalid" and s.wrong == 0
    assert fb.lines[0] == "Not read: expected a 2×3 matrix, got a 3×2 matrix. No try used."
    assert fb.misconceptions == ("outer-product-order",)
    said = " ".join(fb.lines)
    assert "This looks like: x gᵀ for g xᵀ at dW1" in said
    assert "the correct rule is ∂L/∂W = δ xᵀ" in said
    assert s.hint().lines[0].startswith("Hint (x gᵀ for g xᵀ): ∂L/∂W1 has the shape of W1")
    b = _to("sigmoid-batch-mse", "db2")
    fb = b.submit("[-1.0466, 0.6225]")  # δ2 of both examples, unsummed
    assert fb.kind == "invalid" and fb.misconceptions == ("bias-no-batch-sum",)
    assert "the correct rule is ∂L/∂b = Σ over the batch of δ." in " ".join(fb.lines)
    assert "This looks like" not in " ".join(b.submit("[1, 2, 3]").lines)  # no bug: no name


def test_one_slip_one_name_in_practice():
    s = _to("branch-merge-l2", "da")
    fb = s.submit("0.3499")
    assert fb.misconceptions == ("no-regularisation",)
    assert sum(line.startswith("This looks like") for line in fb.lines) == 1


def test_bare_tutor_keeps_the_attempts_try_limit():
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "bob", "--tries",
                                 "2"], input="[9,9]\nquit\n")
    assert "(1 of 2 tries)" in r.output
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "2 tries a step" in r.output
    assert "z1: 1 wrong try used so far (1 of 2 tries left)." in r.output
    assert resume_line(r.output) == "tutor practice lab9-variants --student bob --tries 2"
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "bob"],
                           input="quit\n")  # named without --tries: the attempt's own
    assert "2 tries a step" in r.output
    r = CliRunner().invoke(app, ["practice", "lab9-variants", "--student", "bob", "--tries",
                                 "4"], input="quit\n")  # a new limit, asked for
    assert "4 tries a step" in r.output and "(3 of 4 tries left)" in r.output


def test_hints_already_used_are_shown_again_on_resume():
    script("lab9-relu-sigmoid-bce", ["0.6 0.1", "0.6 0.1", "[1, 1]", "?", "^C"])
    out = script("lab9-relu-sigmoid-bce", ["?", "quit"])
    assert "z2: 1 wrong try and 1 hint used so far (2 of 3 tries left)." in out
    shown = out.split("Your hints so far:")[1].split("[3/24]")[0]
    assert "Rule: z2 = W2 h1 + b2" in shown
    assert "With your numbers: z2 = W2 h1 + b2 = [[0.4, -0.2], [-0.5, 0.3]] [0.6, 0.1]" \
        in shown
    assert "No more hints" in out.split("z2 = ?")[1]  # no third rung at a forward step


def test_with_your_numbers_does_not_repeat_the_formula():
    out = script("merge-sum", ["?", "?", "quit"])
    assert "With your numbers: u = x·y = 3·2" in out and "x·y = x·y" not in out
    s = _to("lab9-relu-sigmoid-bce", "z1")
    s.hint()
    assert s.hint().lines == ("With your numbers: z1 = W1 x + b1 = [[0.5, -0.3], [0.2, 0.7]] "
                              "[1, 0] + [0.1, -0.1]",)
    s = _to("lab9-relu-sigmoid-bce", "h1")
    s.hint()
    assert s.hint().lines == ("With your numbers: h1 = relu(z1) = relu([0.6, 0.1])",)


def test_a_numbers_rung_that_would_be_the_answer_gives_the_names_only():
    s = _to("lab9-relu-sigmoid-bce", "db1")  # ∂L/∂b1 = δ1 for one example
    assert s.hint().lines == ("Rule: ∂L/∂b1 = δ1",)
    second = s.hint().lines[0]
    assert second == "With your numbers: ∂L/∂b1 = δ1, with δ1 as you found it"
    assert fmt(s.current.value) not in second


def test_the_no_relu_mask_diagnosis_speaks_the_graphs_names():
    fb = _to("residual-block", "it2.dw1").submit("2.8")
    said = " ".join(fb.lines)
    assert "Your rule ∂L/∂w1 without the ReLU′(w1·x) factor gives 2.8" in said
    assert "the correct rule is ∂L/∂w1 = ∂L/∂r · ∂r/∂w1 with ∂r/∂w1 = x·ReLU′(w1·x)" in said
    assert "δ" not in said and "∂L/∂h" not in said and "even where w1·x ≤ 0" in said
    s = _to("residual-block", "it2.dw1")
    s.submit("2.8")
    assert s.hint().lines[0] == ("Hint (no ReLU mask): w1·x = -2.05, so ReLU′(w1·x) = 0: keep "
                                 "the factor ReLU′(w1·x) in ∂r/∂w1 = x·ReLU′(w1·x): it is 0 "
                                 "unless w1·x > 0")
    dag = " ".join(_to("dag-two-relu-gates", "dz2").submit("-2").lines)
    assert "Your rule ∂L/∂z2 = ∂L/∂h2 gives -2" in dag and "δ" not in dag


def test_decimal_commas_quote_the_students_own_number():
    s = Session(worked("lab9-relu-sigmoid-bce"))
    fb = s.submit("0,6")  # a vector of 2 read as [0, 6]: the count fits, the intent may not
    assert fb.kind == "invalid" and s.wrong == 0
    assert fb.lines[0].startswith("Not read: is 0,6 the number 0.6, or the entries 0 6? "
                                  "The decimal point is '.'")
    assert s.submit("[1,0]").kind == "wrong"  # brackets: a vector typed without spaces
    while s.current.id != "yhat":
        s.submit(fmt(s.current.value, 8))
    fb = s.submit("0,552")
    assert fb.kind == "invalid" and "type 0.552, not 0,552" in fb.lines[1]
    fb = s.submit("0,6 0,1")  # a scalar step: not twice the count, still a decimal comma
    assert "type 0.6, not 0,6" in fb.lines[1]
    assert len(s.submit("0.6,0.1").lines) == 1  # decimal points already: no notice


def test_no_more_hints_is_not_a_hint_in_progress():
    out = script("merge-sum", ["?", "?", "?", "?", "6", "quit"])
    assert out.count("No more hints") == 2
    assert Store().answers(1)["u"].hints == 2
    r = CliRunner().invoke(app, ["progress"])
    assert re.search(r"forward pass\s+│\s+1\s+│\s+0\s+│\s+1\s+│\s+0\s+│\s+2", r.output), r.output


def test_entries_mode_honours_hint_skip_and_quit():
    w = worked("lab9-relu-sigmoid-bce")
    answers = [fmt(s.value, 8) for s in w.steps]
    i = [s.id for s in w.steps].index("dW2")
    out = script("lab9-relu-sigmoid-bce", answers[:i] + ["entries", "?", "-0.1315", "skip"])
    assert "Rule: ∂L/∂W2 = δ2 · h1ᵀ" in out.split("dW2[1,1] = ?")[1]
    assert "Skipped." in out and "The answer: dW2 = " in out
    assert Store().answers(1)["dW2"].hints == 1
    out = script("lab9-relu-sigmoid-bce", ["entries", "quit"])
    assert "Saved: 13 of 24 steps done." in out and "[exit 0]" in out
    assert "db2 = " not in out.split("db2[1] = quit")[1]  # quit quits, not cancel


def test_end_of_input_ends_the_prompt_line_first():
    out = script("merge-sum", ["6"])
    assert "v = \nSaved: 1 of 7 steps done." in out


def test_the_resume_command_is_on_a_line_of_its_own():
    out = script("lab9-variants", ["quit"], student="a-rather-long-student-identifier",
                 tries=2)
    lines = out.splitlines()
    i = lines.index("Saved: 0 of 24 steps done. To go on where you stopped:")
    assert lines[i + 1] == ("    tutor practice lab9-variants --student "
                            "a-rather-long-student-identifier --tries 2")
    # 85 columns: longer than the terminal, and still one line that copies whole
    out = script("merge-sum", ["^C"])
    assert "Interrupted. Your progress is saved. To go on where you stopped:\n" \
           "    tutor practice merge-sum\n" in out


def test_ctrl_c_at_the_last_question_of_a_finished_exercise_says_it_is_done():
    w = worked("merge-sum")
    out = script("merge-sum", [fmt(s.value) for s in w.steps] + ["^C"])
    assert "[exit 130]" in out and "resume" not in out.split("Score:")[1]
    assert "Interrupted. This exercise is finished and saved. Its worked solution:\n" \
           "    tutor solve merge-sum" in out
    assert Store().status()["merge-sum"].state == "done"


def test_plain_has_no_escape_sequences_even_on_a_terminal():
    """FORCE_COLOR makes rich treat the output as a terminal: NO_COLOR alone still allows
    bold and dim; --plain allows nothing."""
    w = worked("merge-sum")
    stdin = "\n".join(fmt(s.value) for s in w.steps) + "\nn\n"
    env = {"FORCE_COLOR": "1", "NO_COLOR": "1"}
    r = CliRunner().invoke(app, ["practice", "merge-sum"], input=stdin, env=env)
    assert "\x1b[1m" in r.output  # bold: the terminal is real enough
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--plain", "--restart"], input=stdin,
                           env=env)
    assert r.exit_code == 0 and "Score: 7/7" in r.output
    assert "\x1b[" not in r.output


def test_without_a_learning_rate_the_count_says_would_change_under_sgd():
    w = worked("merge-sum")
    out = script("merge-sum", [fmt(s.value) for s in w.steps] + ["n"])
    assert "2 of 2 parameters would change under SGD." in out
    lab9 = worked("lab9-relu-sigmoid-bce")
    out = script("lab9-relu-sigmoid-bce", [fmt(s.value, 8) for s in lab9.steps] + ["n"])
    assert "9 of 15 parameters will change." in out


# ─── audit 10 ─────────────────────────────────────────────────────────────────────────
def _finish_by_cli(ex: str) -> str:
    w = worked(ex)
    r = CliRunner().invoke(app, ["practice", ex, "--plain"],
                           input="\n".join(fmt(s.value, 8) for s in w.steps) + "\nn\n")
    assert r.exit_code == 0 and f"Score: {len(w.steps)}/{len(w.steps)}" in r.output, r.output
    return r.output


def test_opening_a_finished_exercise_does_not_undo_done():
    import time

    _finish_by_cli("merge-sum")
    today = time.strftime("%Y-%m-%d")
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--plain"], input="quit\n")
    assert r.exit_code == 0, r.output
    assert f"You finished this on {today} (7/7); this is a new attempt." in r.output
    assert "Saved:" not in r.output
    assert ("Nothing answered, so this new attempt is not kept: the exercise stays done "
            f"(7/7 on {today}).") in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["list"])
    assert re.search(r"merge-sum\s+bundled\s+done\s+7/7", r.output), r.output
    r = CliRunner().invoke(app, [], input="quit\n")  # a bare `tutor` moves on
    assert f"({IDS[1]})" in r.output and "(merge-sum)" not in r.output
    assert "You finished this" not in r.output  # IDS[1] was never finished
    # Ctrl-C (or end of input) with nothing answered: not kept either
    out = script("merge-sum", ["^C"])
    assert "Interrupted. Nothing answered, so this new attempt is not kept" in out
    assert "[exit 130]" in out
    assert Store().status()["merge-sum"].state == "done"
    # a hint is something: that attempt is under way, kept and resumed
    r = CliRunner().invoke(app, ["practice", "merge-sum", "--plain"], input="?\nquit\n")
    assert "You finished this on" in r.output and "Saved: 0 of 7 steps done." in r.output
    r = CliRunner().invoke(app, ["list"])
    assert re.search(r"merge-sum\s+bundled\s+in progress \(0/7\)\s+7/7",
                     r.output), r.output
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "(merge-sum)" in r.output and "u: 1 hint used so far" in r.output
    assert "You finished this" not in r.output  # not a new attempt any more: a resume


def test_a_never_finished_exercise_quit_at_once_is_still_resumed():
    r = CliRunner().invoke(app, ["practice", "residual-block", "--plain"], input="quit\n")
    assert "Saved: 0 of" in r.output and "You finished" not in r.output
    r = CliRunner().invoke(app, ["list"])
    assert re.search(r"residual-block\s+bundled\s+in progress \(0/\d+\)", r.output)
    r = CliRunner().invoke(app, [], input="quit\n")
    assert "(residual-block)" in r.output


def test_the_tutors_own_notation_is_an_answer():
    s = _to("lab9-relu-sigmoid-bce", "L")
    assert "−[1 ln 0.6346 + " in " ".join(s.hint().lines + s.hint().lines)  # the screen …
    assert s.submit("-ln(0.6346)").kind == "correct"  # … and reads it
    s = _to("lab9-relu-sigmoid-bce", "yhat")
    assert s.submit("1/(1+e^(-0.552))").kind == "correct"
    assert "e = exp(1), ln = log" in script("merge-sum", ["help", "quit"])


def test_decimal_comma_advice_only_for_entries_set_apart_by_spaces():
    s = _to("lab9-relu-sigmoid-bce", "z2")
    fb = s.submit("[[1,2],[3]]")
    assert fb.lines == ("Not read: rows have different lengths: 2 and 1 (at character 8). "
                        "No try used.",)
    assert s.submit("[[1,2], [3]]").lines == (
        "Not read: rows have different lengths: 2 and 1 (at character 9). No try used.",)
    fb = s.submit("[0,42, -0,17]")  # ", " between entries: 0,42 is a decimal comma
    assert fb.lines[1] == ("The decimal point is '.': type 0.42, not 0,42 (a comma separates "
                           "entries).")
    assert s.submit("[0,42 -0,17]").lines[1].startswith("The decimal point is '.'")
    assert s.wrong == 0
    fb = s.submit("[1,2]")  # no spaces: a list of two entries, wrong, no comma advice
    assert fb.kind == "wrong" and not any("decimal" in line for line in fb.lines)


def test_a_number_times_a_vector_as_the_formula_writes_it():
    s = _to("lab9-relu-sigmoid-bce", "dW3")
    assert "-0.3654 · [0.42, 0]ᵀ" in " ".join(s.hint().lines + s.hint().lines)
    fb = s.submit("-0.3654*[0.42, 0]")
    assert fb.kind == "correct" and fb.lines[0] == "✓ dW3 = [-0.1535, 0]"
    assert s.submit("-0.3654").kind == "correct"  # db3
    fb = s.submit("[0.6, -0.4]*(-0.3654)")  # dh2 = W3ᵀ·δ3, the other way round
    assert fb.kind == "correct" and fb.lines[0] == "✓ dh2 = [-0.2192, 0.1462]"
    s = _to("lab9-relu-sigmoid-bce", "W3_new")
    fb = s.submit("[0.6, -0.4] - 0.1*[-0.1535, 0]")  # any other arithmetic: said plainly
    assert fb.kind == "invalid" and s.wrong == 0
    assert fb.lines[0] == ("Not read: arithmetic on vectors and matrices is not read, except a "
                           "number times one (2*[1, 0]): type the entries, e.g. [a, b] (at "
                           "character 13). No try used.")


def test_every_zero_cause_of_the_bundled_exercises_has_its_own_pointer():
    """The hint that points at a zero's cause is made from the typed cause (tutor.words.point),
    never read back out of its words: every cause of the bundled exercises has one that names
    what to look at and does not give the conclusion ("… = 0") away."""
    import sympy as sp

    from tutor.catalog import bundled
    from tutor.cause import Cause, Kind
    from tutor.core import work
    from tutor.words import point

    causes = {c for e in bundled() for s in work(e.id).all_steps for c in s.causes.values()}
    assert len(causes) > 20 and all(isinstance(c, Cause) for c in causes)
    for c in causes:
        hint = point(c)
        assert hint.startswith(("look at", "check", "work out", "compare")) or \
            c.kind is Kind.RELU_BOUNDARY, (c, hint)
        assert " = 0" not in hint.replace(" = 0 exactly", ""), (c, hint)
    dead = Cause.of(Kind.DEAD_RELU, "z2", (1, 0), (2, 1), value=sp.Rational(-17, 100),
                    derivative=True)
    assert point(dead) == "check whether this ReLU is active: z2[2] = -0.17"


def test_a_right_answer_whose_rounded_arithmetic_does_not_add_up_says_approx():
    s = _to("branch-merge-l2", "du")
    fb = s.submit(fmt(s.current.value, 8))
    assert fb.kind == "correct"
    assert "  ∂J/∂u = ∂J/∂v + ∂J/∂h · ∂h/∂u ≈ 0.035 + 0.035 · 4 ≈ 0.1749" in fb.lines


def test_the_syntax_examples_are_no_exercises_numbers():
    """Issue 14: merge-sum's first screen showed Lab 9's numbers as syntax examples."""
    from tutor.template import template

    first = script("merge-sum", ["quit"])
    sheet = template(worked("merge-sum"))
    for lab9 in ("0.3654", "0.552", "0.6346", "73/200", "0.2192", "0.1315", "0.42"):
        assert lab9 not in first and lab9 not in sheet, lab9
    assert "Answers: 0.5 · -3/8" in first


def test_ctrl_c_in_entries_mode_keeps_the_entries_typed():
    """Issue 14: Ctrl-C while typing dW2 entry by entry lost what was typed."""
    w = worked("lab9-relu-sigmoid-bce")
    before = []
    for st in w.steps:
        if st.id == "dW2":
            break
        before.append(fmt(st.value, 8))
    out = script("lab9-relu-sigmoid-bce", before + ["entries", "-0.1315", "-0.0219", "^C"])
    assert "[exit 130]" in out and "progress is saved" in out
    again = script("lab9-relu-sigmoid-bce", ["entries", "0", "0", "n"] +
                   [fmt(st.value, 8) for st in w.steps[len(before) + 1:]] + ["n"])
    assert "Typed before: dW2[1,1] = -0.1315, dW2[1,2] = -0.0219" in again
    asked = again.split("Typed before")[1].split("✓ dW2")[0]
    assert "\n  dW2[1,1] = " not in asked and "\n  dW2[2,1] = 0" in asked  # only the rest
    assert "✓ dW2 = [[-0.1315, -0.0219], [0, 0]]" in again
    assert f"Score: {len(w.steps)}/{len(w.steps)}" in again
