"""Practice that adapts (issue 14 item 5): BKT mastery per skill, the exercise a bare `tutor`
picks for the weakest skill, `tutor progress`'s chart, and the variant offered after a named
misconception that tells it apart from the truth."""
from __future__ import annotations

import io
import re
from fractions import Fraction as F

import pytest
import sympy as sp
from rich.console import Console
from typer.testing import CliRunner

from tutor import mastery as M
from tutor.catalog import bundled
from tutor.cli import app
from tutor.core import work
from tutor.mastery import Candidate, Mastery, Observation, Params
from tutor.practice import pick, run
from tutor.progress import Answer, Store
from tutor.render import fmt

TENTHS = Params(F(1, 10), F(1, 10), F(1, 10), F(1, 10))  # OATutor's defaults, exactly
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTOR_HOME", str(tmp_path))
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


# ─── the model: BKT updates against hand computations ─────────────────────────────────
def test_a_right_answer_from_the_prior():
    # P(L|right) = P(L)(1−S) / (P(L)(1−S) + (1−P(L))G) = (0.1·0.9) / (0.09 + 0.9·0.1)
    #            = 0.09 / 0.18 = 1/2;  then P(L′) = 1/2 + (1 − 1/2)·0.1 = 11/20 = 0.55
    assert M.posterior(F(1, 10), True, TENTHS) == F(1, 2)
    assert M.update(F(1, 10), True, TENTHS) == F(11, 20)
    assert M.update(0.1, True) == pytest.approx(0.55)  # floats, the defaults: the same


def test_a_second_right_answer():
    # P(L|right) = (11/20·9/10) / (11/20·9/10 + 9/20·1/10) = (99/200) / (108/200) = 11/12
    # P(L′) = 11/12 + 1/12·1/10 = 111/120 = 37/40 = 0.925
    assert M.posterior(F(11, 20), True, TENTHS) == F(11, 12)
    assert M.update(F(11, 20), True, TENTHS) == F(37, 40)


def test_a_wrong_answer():
    # P(L|wrong) = P(L)S / (P(L)S + (1−P(L))(1−G)) = (0.1·0.1) / (0.01 + 0.9·0.9) = 1/82
    # P(L′) = 1/82 + 81/82·1/10 = (10 + 81)/820 = 91/820 ≈ 0.1110: learning lifts it a little
    assert M.posterior(F(1, 10), False, TENTHS) == F(1, 82)
    assert M.update(F(1, 10), False, TENTHS) == F(91, 820)
    assert M.update(0.1, False) == pytest.approx(0.110976, abs=1e-6)
    # after a right one: (11/20·1/10) / (11/200 + 9/20·9/10) = 11/92;
    # 11/92 + 81/92·1/10 = 191/920 ≈ 0.2076
    assert M.update(F(11, 20), False, TENTHS) == F(191, 920)


def test_other_parameters():
    q = Params(p_init=F(3, 10), p_transit=F(3, 20), p_slip=F(1, 10), p_guess=F(1, 4))
    # right: (3/10·9/10) / (27/100 + 7/10·1/4) = (54/200) / (89/200) = 54/89;
    #        54/89 + 35/89·3/20 = 1080/1780 + 105/1780 = 1185/1780 = 237/356
    assert M.update(q.p_init, True, q) == F(237, 356)
    # wrong: (3/10·1/10) / (3/100 + 7/10·3/4) = (6/200) / (111/200) = 2/37;
    #        2/37 + 35/37·3/20 = 40/740 + 105/740 = 145/740 = 29/148
    assert M.update(q.p_init, False, q) == F(29, 148)


def test_trace_replays_in_order_per_skill():
    obs = [Observation("delta", False), Observation("forward", True),
           Observation("delta", False), Observation("forward", True),
           Observation("delta", False)]
    t = M.trace(obs, TENTHS)
    # δ: 1/10 → 91/820 (above); then (91/820·1/10) / (91/8200 + 729/820·9/10) = 91/6652,
    # 91/6652 + 6561/6652·1/10 = 7471/66520; then 7471/538912 + 531441/5389120 = 606151/5389120
    assert M.update(F(91, 820), False, TENTHS) == F(7471, 66520)
    assert t["delta"] == Mastery("delta", F(606151, 5389120), 3, 0)
    assert t["forward"] == Mastery("forward", F(37, 40), 2, 2)
    assert "loss" not in t  # never observed: no estimate (no evidence)
    assert t["delta"].state == "weak" and t["forward"].state == "learning"
    # per-skill parameters: δ with a higher prior, the others the defaults
    t2 = M.trace(obs[:1], {"delta": Params(p_init=F(1, 2), p_transit=0, p_slip=F(1, 10),
                                           p_guess=F(1, 10))})
    # (1/2·1/10) / (1/20 + 1/2·9/10) = (1/20) / (10/20) = 1/10, no transition
    assert t2["delta"].p == F(1, 10)


def test_how_answers_count_as_observations():
    assert M.observed("correct", 0, 0) is True  # right on the first try, no hint
    assert M.observed("correct", 1, 0) is False  # right after a wrong try
    assert M.observed("correct", 0, 1) is False  # right after a hint
    assert M.observed("revealed", 3, 0) is False  # shown after the last try
    assert M.observed("skipped", 0, 0) is False  # skipped
    a = Answer("delta2", "delta", "correct", "[1, 0]", 0, 2)
    assert M.observation(a) == Observation("delta", False)


def test_the_states():
    assert [M.state(p) for p in (0.11, 0.5, 0.94, 0.95)] == ["weak", "learning", "learning",
                                                             "mastered"]


# ─── the pick, as a pure function ─────────────────────────────────────────────────────
CANDS = [Candidate("graph", ("forward", "loss", "chain_rule")),
         Candidate("small", ("forward", "loss", "delta", "weight_grad")),
         Candidate("long", ("forward",) * 8 + ("delta", "delta", "weight_grad")),
         Candidate("dense", ("forward", "delta", "delta", "weight_grad"))]


def _m(**ps):
    return {k: Mastery(k, p, 2, 0) for k, p in ps.items()}


def test_no_record_the_first_exercise_in_order():
    c = M.choose({}, CANDS)
    assert (c.exercise, c.reason, c.new) == ("graph", "first", False)


def test_a_weak_skill_picks_the_exercise_that_trains_it_most():
    c = M.choose(_m(forward=0.99, loss=0.9, chain_rule=0.9, delta=0.12), CANDS)
    # "long" and "dense" both have 2 δ steps; "dense" has the larger share (2 of 4)
    assert (c.exercise, c.reason, c.skill, c.steps, c.total) == ("dense", "weakest", "delta",
                                                                   2, 4)
    assert c.mastery == 0.12 and not c.new


def test_no_weak_skill_the_next_unfinished_in_order():
    done = [Candidate(c.id, c.skills, c.id == "graph") for c in CANDS]
    c = M.choose(_m(forward=0.925, loss=0.55, chain_rule=0.925), done)
    assert (c.exercise, c.reason, c.skill) == ("small", "order", "loss")


def test_everything_done_the_weakest_skill_with_new_numbers():
    done = [Candidate(c.id, c.skills, True) for c in CANDS]
    c = M.choose(_m(forward=0.99, loss=0.97, chain_rule=0.96, delta=0.98, weight_grad=0.9),
                 done)
    assert (c.exercise, c.reason, c.skill, c.new) == ("small", "weakest", "weight_grad", True)


# ─── a scripted student weak at δ ─────────────────────────────────────────────────────
def _plus_one(v):
    return v + sp.ones(*v.shape) if isinstance(v, sp.MatrixBase) else v + 1


def session(ex: str, answers: list[str]) -> str:
    out = io.StringIO()
    feed = iter(answers)

    def ask(prompt):
        try:
            text = next(feed)
        except StopIteration:
            raise EOFError from None
        out.write(prompt + text + "\n")
        return text

    code = run(ex, ask=ask, console=Console(file=out, width=80, no_color=True), store=Store())
    assert code == 0
    return out.getvalue()


def weak_at_delta(ex: str) -> str:
    """Every δ step wrong three times (the answer is shown), every other step right."""
    answers = []
    for s in work(ex).steps:
        if s.skill == "delta":
            answers += [fmt(_plus_one(s.value), 8)] * 3
        else:
            answers.append(fmt(s.value, 8))
    out = session(ex, answers + ["n"])
    assert "Score:" in out, out
    return out


def test_a_student_weak_at_delta_is_sent_to_delta_heavy_work():
    weak_at_delta("affine-relu-layer")
    weak_at_delta("lab9-relu-sigmoid-bce")
    store = Store()
    got = {a.skill for a in store.history()}
    assert "delta" in got and len(got) > 4
    _, _, _, choice = pick(store)
    assert (choice.exercise, choice.skill, choice.reason) == ("diagonal-flip-4-3-4", "delta",
                                                              "weakest")
    # 3 δ steps wrong: 1/10 → 0.1110 → 0.1123 → 0.1125 (test_trace_replays_in_order_per_skill)
    assert choice.mastery == pytest.approx(606151 / 5389120)
    # the most δ steps of any bundled exercise, and of those the largest share of δ
    counts = {e.id: [s.skill for s in work(e.id).steps] for e in bundled()}
    most = max(k.count("delta") for k in counts.values())
    picked = counts["diagonal-flip-4-3-4"]
    assert picked.count("delta") == most == 2
    assert picked.count("delta") / len(picked) == max(
        k.count("delta") / len(k) for k in counts.values())
    r = CliRunner().invoke(app, [], input="quit\n")
    assert r.exit_code == 0, r.output
    assert ("Next: diagonal-flip-4-3-4 — trains the error signal δ (2 of its 13 steps), your "
            "weakest skill (mastery 0.11).") in " ".join(r.output.split())
    assert "(diagonal-flip-4-3-4)" in r.output and "Your numbers" not in r.output
    # still weak at δ after the diagonal flip too: the same exercise, with new numbers
    weak_at_delta("diagonal-flip-4-3-4")
    r = CliRunner().invoke(app, [], input="quit\n")
    said = " ".join(r.output.split())
    assert "Next: diagonal-flip-4-3-4 (new numbers) — trains the error signal δ" in said
    assert "(diagonal-flip-4-3-4)" in r.output and "Your numbers: fresh numbers, seed" in said


def test_a_student_with_no_weak_skill_goes_on_in_teaching_order():
    w = work("merge-sum")
    session("merge-sum", [fmt(s.value, 8) for s in w.steps] + ["n"])
    _, _, _, choice = pick(Store())
    ids = [e.id for e in bundled()]
    assert (choice.exercise, choice.reason) == (ids[1], "order")
    assert choice.skill == "loss" and choice.mastery == pytest.approx(0.55)  # 1 step, right


def test_progress_shows_the_mastery_chart_and_what_comes_next():
    weak_at_delta("lab9-relu-sigmoid-bce")
    r = CliRunner().invoke(app, ["progress"])
    assert r.exit_code == 0, r.output
    out = ANSI.sub("", r.output)
    assert "Mastery per skill (chance learned; mastered from 0.95, weak below 0.5)" in out
    assert re.search(r"error signal δ\s+██░{18}\s+0\.11\s+weak\s+first try 0/2", out), out
    assert re.search(r"forward pass\s+█{20}\s+1\.00\s+mastered\s+first try 6/6", out), out
    assert re.search(r"loss value\s+█{11}░{9}\s+0\.55\s+learning\s+first try 1/1", out), out
    assert ("Not practised yet: activation derivative, chain rule at a node, parameter "
            "gradient and backward recipe") in " ".join(out.split())
    said = " ".join(out.split())
    assert ("Next: diagonal-flip-4-3-4 — trains the error signal δ (2 of its 13 steps), your "
            "weakest skill (mastery 0.11).") in said
    assert all(len(line) <= 80 for line in out.splitlines() if "Progress file" not in line)
    # an attempt left open: next is where you left off
    CliRunner().invoke(app, ["practice", "merge-sum"], input="6\nquit\n")
    r = CliRunner().invoke(app, ["progress"])
    assert "Next: merge-sum, where you left off." in r.output


def test_history_is_in_time_order_and_leaves_out_abandoned_attempts(tmp_path):
    store = Store(tmp_path / "p.sqlite3")
    a = store.open_attempt("ex", "sha1", None, 3)
    store.record(a.id, Answer("u", "forward", "correct", "6", 0, 0))
    b = store.open_attempt("ex", "sha1", None, 3, restart=True)  # a abandoned
    store.record(b.id, Answer("delta2", "delta", "revealed", None, 3, 0))
    store.record(b.id, Answer("u", "forward", "correct", "6", 0, 1))
    assert [(h.step, h.result, h.hints) for h in store.history()] == [
        ("delta2", "revealed", 0), ("u", "correct", 1)]
    assert store.seeds("ex") == set()


# ─── after a named misconception: numbers that tell it apart ──────────────────────────
def test_a_named_misconception_is_offered_a_variant_that_separates_it():
    from tutor.misconceptions import diagnose, indistinguishable

    w = work("lab9-relu-sigmoid-bce")
    answers = []
    for s in w.steps:
        if s.id == "delta2":
            answers.append("[-0.2192, 0.1462]")  # ∂L/∂h2 without the ReLU mask
        answers.append(fmt(s.value, 8))
    r = CliRunner().invoke(app, ["practice", "lab9-relu-sigmoid-bce", "--lines"],
                           input="\n".join(answers) + "\nn\n")
    assert r.exit_code == 0, r.output
    assert "This looks like: no ReLU mask" in " ".join(r.output.split())
    said = " ".join(r.output.split())
    assert ("To practise again: fresh numbers where “no ReLU mask” also gives a wrong answer "
            "at delta2:") in said
    cmd = re.search(r"^    tutor practice lab9-relu-sigmoid-bce --seed (\d+)$", r.output, re.M)
    assert cmd, r.output
    seed = int(cmd.group(1))
    v = work("lab9-relu-sigmoid-bce", seed=seed, fresh=True)
    assert v.seed == seed and v.exercise.fresh
    assert ("delta2", "no-relu-mask") not in indistinguishable(v)
    # in those numbers the unmasked rule (δ2 = ∂L/∂h2) is wrong, and is named as the bug
    dh2, delta2 = v.step("dh2").value, v.step("delta2").value
    assert dh2 != delta2
    assert [d.misconception.id for d in diagnose(v, "delta2", dh2)] == ["no-relu-mask"]
    # a session without a named misconception offers nothing
    r = CliRunner().invoke(app, ["practice", "lab9-relu-sigmoid-bce", "--lines"],
                           input="\n".join(fmt(s.value, 8) for s in w.steps) + "\nn\n")
    assert r.exit_code == 0 and "To practise again" not in r.output
