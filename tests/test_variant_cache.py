"""Variants at class speed (issue 15 item 3): draws refused before they are solved, and the
variant cache of `tutor check` — neither may ever change which variant a student gets.

Every test runs with its own TUTOR_HOME (tests/conftest.py), so the cache is a temporary one.
"""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tutor import drawcache, variants as V
from tutor.catalog import resolve
from tutor.core import work
from tutor.exercise import load, load_text
from tutor.graph import compile_exercise
from tutor.misconceptions import indistinguishable
from tutor.worked import work_exercise

ROOT = Path(__file__).resolve().parents[1]
LAB9 = ROOT / "exercises" / "lab9-variants.yaml"


def drawn(w) -> dict:
    """A variant's given numbers, as text (what decides everything else)."""
    return {k: str(v) for k, v in w.graph.init.items()}


def fresh_process_state() -> None:
    """Forget what this process drew (another `tutor check` run would start so)."""
    V._PLANS.clear()


# ─── refusing before the solve (tutor.variants.hidden) ─────────────────────────────────
def _hidden_of(text: str):
    """(hidden's pair, the full check's pairs) of one exercise, from its own values."""
    w = work_exercise(load_text(text, "h.yaml"))
    values = {n: w.solution.value(n) for n in w.graph.nodes}
    pair = V.hidden(w.graph, values, {s.key for s in w.steps})
    full = indistinguishable(w)
    ids = {s.key: s.id for s in w.steps}
    return (None if pair is None else (ids[pair[0]], pair[1])), full


NET = """\
id: h
kind: network
layout: {layout}
input: [1, 1]
target: 0
layers:
  - {{W: {W1}, b: [0.1, 0.1], activation: relu}}
  - {{W: {W2}, b: {b2}, activation: relu}}
  - {{W: {W3}, b: [-0.4], activation: sigmoid}}
loss: bce
learning_rate: 0.1
ask: [forward, backward, update]
"""


@pytest.mark.parametrize("case, want", [
    # layer 1 all alive (z1 = [0.7, 0.3]): ReLU′ = 1 everywhere, a missing mask is invisible
    (dict(layout="column", W1="[[0.5, 0.1], [0.1, 0.1]]", W2="[[0.5, 0.3], [-0.4, 0.2]]",
          b2="[0.1, 0.1]", W3="[[-0.7, -0.7]]"), ("delta1", "no-relu-mask")),
    # layer 2 all dead (3 units, so W2 is not square): h2 = 0, the update leaves W3 as it was
    (dict(layout="column", W1="[[0.5, 0.1], [-0.5, 0.2]]",
          W2="[[-0.5, 0.3], [-0.4, 0.2], [-0.3, 0.1]]", b2="[0.1, 0.1, 0.1]",
          W3="[[-0.7, -0.7, 0.5]]"), ("dh2", "pass-back-updated-weights")),
    # unit 2 dead in both layers: δ2 h1ᵀ = [[a, 0], [0, 0]] is symmetric
    (dict(layout="column", W1="[[0.5, 0.1], [-0.5, 0.2]]", W2="[[0.5, 0.3], [-0.4, 0.2]]",
          b2="[0.1, 0.1]", W3="[[-0.7, -0.7]]"), ("dW2", "outer-product-order")),
    # the same in row layout (W is inputs × outputs)
    (dict(layout="row", W1="[[0.5, -0.5], [0.1, 0.2]]", W2="[[0.5, -0.4], [0.3, 0.2]]",
          b2="[0.1, 0.1]", W3="[[-0.7], [-0.7]]"), ("dW2", "outer-product-order")),
    # only unit 2 of layer 2 alive and W2[0][1] = W2[1][0]: W2 δ2 = W2ᵀ δ2
    (dict(layout="column", W1="[[0.5, 0.1], [-0.5, 0.2]]", W2="[[-0.5, 0.3], [0.3, 0.2]]",
          b2="[0.1, 0.1]", W3="[[-0.7, -0.7]]"), ("dh1", "no-transpose-pass-back")),
])
def test_each_early_proof_is_a_pair_the_full_check_finds(case, want):
    pair, full = _hidden_of(NET.format(**case))
    assert pair == want
    assert want in full


def test_no_early_proof_without_a_reason():
    # unit 1 dead in layer 1, unit 2 in layer 2, no symmetric W: nothing can be proved
    pair, full = _hidden_of(NET.format(layout="column", W1="[[-0.5, 0.1], [0.5, 0.2]]",
                                       W2="[[0.5, 0.3], [-0.4, 0.2]]", b2="[0.1, -0.5]",
                                       W3="[[-0.7, -0.7]]"))
    assert pair is None


def test_a_draw_refused_early_is_one_the_full_check_refuses():
    """Every try of 12 students of lab9-variants: where ``hidden`` refuses a try before it is
    solved, the solved try has that very pair among its indistinguishable ones."""
    ex = load(resolve("lab9-variants"))
    v = ex.spec.variants
    plan = V._plan(ex)
    proved = 0
    for i in range(12):
        rng = random.Random(V.student_seed(f"early{i}", ex.id))
        for _ in range(v.tries):
            draws = {s.path: s.draw(rng) for s in plan.found}
            vex = V.variant_exercise(ex, draws)
            graph = compile_exercise(vex)
            values = V.forward_values(graph)
            if V._relu_fails(V._relu_inputs(graph, lambda n, it: values[n], 1), v.require,
                             graph.kind):
                continue
            pair = V.hidden(graph, values, plan.keys)
            w = work_exercise(vex)
            if pair is None:
                if not V.unmet(w, v.require):
                    break  # this student's variant
                continue
            proved += 1
            assert (plan.keys[pair[0]], pair[1]) in indistinguishable(w), (i, draws)
    assert proved > 50  # most refusals are proved early


# the variants of the first students as the search without early proofs gave them (the
# code before issue 15 item 3): pinned, so no speed-up may change them
PINNED = {
    "s0000": (15288788, {"W1": "Matrix([[-4/5, -4/5], [9/10, -3/10]])",
                         "W2": "Matrix([[-1/5, 2/5], [-3/10, -3/5]])", "W3": "Matrix([[3/5, -1/2]])",
                         "b1": "Matrix([[3/10], [1/5]])", "b2": "Matrix([[-1/5], [1/5]])",
                         "b3": "Matrix([[-1/5]])", "x": "Matrix([[1], [1]])", "y": "Matrix([[0]])"}),
    "s0001": (849050706, {"W1": "Matrix([[-2/5, -1/5], [-1/10, 4/5]])",
                          "W2": "Matrix([[4/5, -1/5], [-7/10, 1/10]])", "W3": "Matrix([[-4/5, 3/5]])",
                          "b1": "Matrix([[-1/5], [3/10]])", "b2": "Matrix([[1/5], [-3/10]])",
                          "b3": "Matrix([[0]])", "x": "Matrix([[1], [0]])", "y": "Matrix([[0]])"}),
    "s0123": (265562606, {"W1": "Matrix([[-3/5, 1/2], [-4/5, 1/5]])",
                          "W2": "Matrix([[-1/5, 9/10], [-2/5, 3/10]])", "W3": "Matrix([[3/10, 4/5]])",
                          "b1": "Matrix([[1/5], [-1/5]])", "b2": "Matrix([[-3/10], [3/10]])",
                          "b3": "Matrix([[2/5]])", "x": "Matrix([[1], [1]])", "y": "Matrix([[0]])"}),
}


@pytest.mark.parametrize("student", sorted(PINNED))
def test_a_students_variant_is_what_it_always_was(student):
    seed, given = PINNED[student]
    w = work("lab9-variants", student=student)
    assert w.seed == seed and drawn(w) == given
    slow = V._realize(load(resolve("lab9-variants")), seed, early_proofs=False)
    assert drawn(slow) == given


# ─── the variant cache ───────────────────────────────────────────────────────────────
def _roster(tmp_path: Path, n: int) -> Path:
    p = tmp_path / "roster.csv"
    p.write_text("SIS User ID\n" + "".join(f"st{i:02d}\n" for i in range(n)), encoding="utf-8")
    return p


def _template(ref: str, tmp_path: Path, n: int) -> dict:
    """`tutor template --roster` in-process, writing the cache; the variants it drew."""
    from tutor.roster import read_roster
    from tutor.template import personal_sheets

    fresh_process_state()
    cache = drawcache.DrawCache(read=False)
    list(personal_sheets(ref, read_roster(_roster(tmp_path, n)), tmp_path / "blank", cache))
    return {f"st{i:02d}": drawn(work(ref, student=f"st{i:02d}")) for i in range(n)}


def _variants_with(ref, n: int, cache) -> dict:
    fresh_process_state()
    return {f"st{i:02d}": drawn(work(ref, student=f"st{i:02d}", cache=cache))
            for i in range(n)}


def _rows(home: Path) -> list:
    db = sqlite3.connect(home / "cache" / "variants.sqlite3")
    try:
        return db.execute("SELECT engine, exercise, seed, try, digest, mac FROM draws "
                          "ORDER BY seed").fetchall()
    finally:
        db.close()


def test_each_students_variant_is_the_same_with_and_without_the_cache(tmp_path):
    n = 10
    want = _template("lab9-variants", tmp_path, n)
    home = Path(os.environ["TUTOR_HOME"])
    assert len(_rows(home)) == n and (home / "cache" / "variants.key").stat().st_mode & 0o077 == 0
    cache = drawcache.DrawCache()
    got = _variants_with("lab9-variants", n, cache)
    assert got == want
    assert cache.hits == n and cache.misses == 0  # every variant from its hint
    assert _variants_with("lab9-variants", n, None) == want


def test_an_edited_exercise_does_not_read_the_old_entries(tmp_path):
    ex_file = tmp_path / "lab9v.yaml"
    shutil.copy(LAB9, ex_file)
    n = 6
    _template(str(ex_file), tmp_path, n)
    old = load(ex_file)
    assert len(drawcache.DrawCache().load(old)) == n
    # one number of the base values edited: another content hash, so another key
    text = ex_file.read_text(encoding="utf-8").replace("b: [-0.4]", "b: [-0.3]")
    assert text != ex_file.read_text(encoding="utf-8")
    ex_file.write_text(text, encoding="utf-8")
    new = load(ex_file)
    assert new.sha != old.sha
    cache = drawcache.DrawCache()
    assert cache.load(new) == {}
    got = _variants_with(str(ex_file), n, cache)
    assert cache.hits == 0 and cache.misses == n
    assert got == _variants_with(str(ex_file), n, None)
    # and an engine that is not this one reads nothing either
    cache.flush()
    other = drawcache.DrawCache()
    real = drawcache._FINGERPRINT[:]
    try:
        drawcache._FINGERPRINT[:] = ["another engine"]
        assert other.load(new) == {}
    finally:
        drawcache._FINGERPRINT[:] = real


def _set(home: Path, seed: int, **cols) -> None:
    db = sqlite3.connect(home / "cache" / "variants.sqlite3")
    try:
        for col, value in cols.items():
            db.execute(f"UPDATE draws SET {col} = ? WHERE seed = ?", (value, seed))
        db.commit()
    finally:
        db.close()


def test_a_tampered_entry_never_changes_a_variant(tmp_path):
    n = 8
    want = _template("lab9-variants", tmp_path, n)
    home = Path(os.environ["TUTOR_HOME"])
    ex = load(resolve("lab9-variants"))
    rows = {seed: (k, digest) for _, _, seed, k, digest, _ in _rows(home)}
    key = drawcache.DrawCache().key()
    plan = V._plan(ex)

    def refused_early(seed: int, k: int) -> int | None:
        """An earlier try of ``seed`` than its variant's that the forward pass refuses."""
        rng = random.Random(seed)
        for j in range(k):
            draws = {s.path: s.draw(rng) for s in plan.found}
            graph = compile_exercise(V.variant_exercise(ex, draws))
            values = V.forward_values(graph)
            if V._relu_fails(V._relu_inputs(graph, lambda n, it: values[n], 1),
                             ex.spec.variants.require, graph.kind):
                return j
        return None

    seed, j = next((s, j) for s, (k, _) in rows.items()
                   if (j := refused_early(s, k)) is not None)
    k, digest = rows[seed]

    def forged(j: int) -> tuple[int, str, str]:
        """Try j of this seed with its real digest, and a MAC made with the key."""
        rng = random.Random(seed)
        for _ in range(j + 1):
            draws = {s.path: s.draw(rng) for s in plan.found}
        d = V.draw_digest(draws)
        return j, d, drawcache.DrawCache()._mac(key, ex.sha, seed, j, d)

    def variants_now() -> dict:
        return _variants_with("lab9-variants", n, drawcache.DrawCache())

    def later_variant() -> tuple[int, str]:
        """The next try after k that meets every condition: another variant of this seed."""
        rng = random.Random(seed)
        for j in range(ex.spec.variants.tries):
            draws = {s.path: s.draw(rng) for s in plan.found}
            if j <= k:
                continue
            try:
                w = work_exercise(V.variant_exercise(ex, draws))
            except Exception:
                continue
            if not V.unmet(w, ex.spec.variants.require):
                return j, V.draw_digest(draws)
        raise AssertionError("no second variant")

    # another variant of the same seed, its real digest, the old MAC: not used
    j2, d2 = later_variant()
    _set(home, seed, **{"try": j2, "digest": d2})
    assert variants_now() == want

    # another try, the MAC left as it was: not used
    _set(home, seed, **{"try": k + 1})
    assert variants_now() == want
    # a digest edited: not used
    _set(home, seed, **{"try": k, "digest": "0" * 32})
    assert variants_now() == want
    # the MAC made anew with the key, for an earlier try (one the conditions refuse):
    # drawn again from the seed and checked, so refused, and the search finds the right one
    j, d, mac = forged(j)
    _set(home, seed, **{"try": j, "digest": d, "mac": mac})
    assert variants_now() == want
    # a try past variants.tries, or not a number
    _set(home, seed, **{"try": 10**6})
    assert variants_now() == want
    _set(home, seed, **{"try": "3; DROP TABLE draws"})
    assert variants_now() == want
    # the whole file overwritten with garbage: no hints, no error, and the next write
    # starts a new database (the old file is kept aside)
    (home / "cache" / "variants.sqlite3").write_bytes(b"\x00garbage" * 100)
    cache = drawcache.DrawCache()
    assert _variants_with("lab9-variants", n, cache) == want and cache.hits == 0
    assert cache.flush() == n
    assert len(_rows(home)) == n
    assert list((home / "cache").glob("variants.sqlite3.bad-*"))
    # the key file gone: every entry unreadable (a new key is made on the next write)
    (home / "cache" / "variants.key").unlink()
    cache = drawcache.DrawCache()
    assert _variants_with("lab9-variants", n, cache) == want and cache.hits == 0


def _class(tmp_path: Path, n: int) -> Path:
    """n correct sheets of lab9-variants, each for its own student."""
    from tutor.render import fmt

    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(n):
        w = work("lab9-variants", student=f"st{i:02d}")
        body = "".join(f"  {s.id}: {fmt(s.value, 6)}\n" for s in w.steps)
        (folder / f"st{i:02d}.yaml").write_text(
            f'exercise: lab9-variants\nsha: "{w.exercise.math_sha}"\nstudent: st{i:02d}\n'
            f"answers:\n{body}", encoding="utf-8")
    return folder


def _tutor(*args, home: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tutor", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TUTOR_HOME": str(home)})


def test_parallel_checks_write_one_intact_cache(tmp_path):
    """Two `tutor check --jobs 2` at once on a fresh cache (four writers), then a check that
    reads it: the same grades every time, every student's entry there once, the database
    intact."""
    n = 10
    folder = _class(tmp_path, n)
    home = tmp_path / "home"
    args = ("check", "lab9-variants", str(folder), "--format", "csv", "--jobs", "2")
    runs = [_tutor(*args, home=home) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], [e for _, e in outs]
    assert outs[0][0] == outs[1][0]
    rows = _rows(home)
    assert sorted(r[2] for r in rows) == sorted({r[2] for r in rows}) and len(rows) == n
    db = sqlite3.connect(home / "cache" / "variants.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    warm = _tutor(*args, home=home)
    out, err = warm.communicate(timeout=600)
    assert warm.returncode == 0, err
    assert out == outs[0][0]
    cold = _tutor(*args[:-2], "--jobs", "1", "--no-cache", home=tmp_path / "other")
    out, err = cold.communicate(timeout=600)
    assert cold.returncode == 0, err
    assert out == outs[0][0]
    assert not (tmp_path / "other" / "cache").exists()  # --no-cache writes nothing


def test_a_cache_hint_is_redrawn_from_the_seed_not_read():
    """What a hint may say is only which try: the values come from the seed."""
    fresh_process_state()
    ex = load(resolve("lab9-variants"))
    seed = V.student_seed("st00", ex.id)
    w = V.realize(ex, seed)
    k, digest = V.accepted_try(ex, seed)
    again = V.realize(load(resolve("lab9-variants")), seed, (k, digest))
    assert drawn(again) == drawn(w) and again.seed == seed
    for bad in ((k, "f" * 32), ("x", digest), None, (k,), (-1, digest)):
        other = V.realize(load(resolve("lab9-variants")), seed, bad)
        assert drawn(other) == drawn(w)


# ─── grading a class of variants: the bug made throughout, only where it can reach ──────
def test_a_bug_that_cannot_reach_a_step_is_not_solved_for_it_and_nothing_changes(monkeypatch):
    """misconceptions.throughout skips a misconception whose swapped rules the step does not
    depend on (``_reach``); the diagnoses are the same as when every bug is solved."""
    import tutor.misconceptions as M
    from tutor.grade import grade
    from tutor.misconceptions import buggy_rules
    from tutor.render import fmt
    from tutor.solve import solve

    rnd = random.Random(4)
    sheets = []
    for i in range(6):
        w = work("lab9-variants", student=f"reach{i}")
        steps = [s for s in w.steps if s.phase != "forward"]
        right = {s.id: fmt(s.value, 6) for s in w.steps}
        for s in rnd.sample(steps, 3):  # a slip at one step
            sheets.append((w, {**right, s.id: fmt(s.value.applyfunc(lambda e: e + 0.25), 4)}))
        flip = solve(w.graph, buggy_rules("loss-sign-flip")).quantities
        sheets.append((w, {**right, "delta3": "", "dW2": fmt(flip[w.step("dW2").key].value, 6)}))
        mask = solve(w.graph, buggy_rules("no-relu-mask")).quantities
        sheets.append((w, {**{s.id: fmt(mask[s.key].value, 6) for s in w.steps},
                           "delta2": "", "delta1": ""}))

    def diagnoses():
        out = []
        for w, answers in sheets:
            w.cache.clear()
            out.append([(v.step_id, v.status, v.misconceptions, v.code)
                        for v in grade(w, answers)])
        return out

    skipped = []
    real = M._reach
    monkeypatch.setattr(M, "_reach", lambda w, m: skipped.append(m) or real(w, m))
    fast = diagnoses()
    assert skipped  # the reach was asked …
    monkeypatch.setattr(M, "_reach", lambda w, m: None)
    assert diagnoses() == fast  # … and changed nothing
    assert any(v[2] for sheet in fast for v in sheet)  # some bugs were named
    flip = sheets[3][0].step("dW2").key
    w = sheets[3][0]
    assert flip in real(w, "loss-sign-flip") and flip not in real(w, "update-plus-eta")


def test_the_bug_made_throughout_from_the_unreached_true_values_is_the_whole_buggy_solve():
    """misconceptions._whole gives the buggy solve the true value of every quantity outside
    the bug's reach (``_unreached``), so it computes only what the bug changes: for every
    misconception, on Lab 9 and on several variants, each quantity equals the buggy solve's
    own from scratch."""
    import tutor.misconceptions as M
    from tutor.solve import solve

    checked = 0
    for w in [work("lab9-relu-sigmoid-bce")] + [work("lab9-variants", student=f"u{i}")
                                                  for i in range(3)]:
        for mid in M.CATALOGUE:
            fixed = M._unreached(w, mid)
            for table in M._TABLES[mid]:
                try:
                    full = solve(w.graph, table).quantities
                except Exception:
                    continue
                fast = solve(w.graph, table, overrides=fixed).quantities
                assert fast.keys() == full.keys()
                for k, q in full.items():
                    assert fast[k].value == q.value, (mid, k)
                checked += bool(fixed)
    assert checked > 20


def test_a_long_class_keeps_few_variants_and_grades_the_same(tmp_path, monkeypatch):
    """Only the last KEPT_VARIANTS variants stay solved; a student's second sheet far down
    the list is graded against their variant drawn again — the same grades."""
    import tutor.check as C

    folder = _class(tmp_path, 6)
    shutil.copy(folder / "st00.yaml", folder / "zz-st00-again.yaml")

    def grades():
        fresh_process_state()
        report = C.check("lab9-variants", [folder], jobs=1, cache=drawcache.DrawCache())
        return [(r.file, r.seed, r.score.total if r.score else None) for r in report.results]

    want = grades()
    monkeypatch.setattr(C, "KEPT_VARIANTS", 2)
    seen = []
    real = C._State._drop
    monkeypatch.setattr(C._State, "_drop", lambda self, n: seen.append(n) or real(self, n))
    assert grades() == want
    assert seen  # variants were dropped on the way
    assert want[0][1] == want[-1][1]  # the copied sheet: st00's variant both times


def test_a_long_class_collects_garbage_between_sheets_only(tmp_path, monkeypatch):
    """Past COLLECT_EVERY sheets the collector runs between sheets (never inside a sheet's
    time budget); the grades are those of a short run, and the collector is on again after."""
    import gc

    import tutor.check as C
    from tutor.render import fmt

    w = work("lab9-relu-sigmoid-bce")
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(12):
        body = "".join(f"  {s.id}: {fmt(s.value, 4 + i % 3)}\n" for s in w.steps)
        (folder / f"s{i:02d}.yaml").write_text(
            f"exercise: {w.id}\nsha: \"{w.exercise.math_sha}\"\nanswers:\n{body}",
            encoding="utf-8")
    want = [r.score.total for r in C.check(w.id, [folder], jobs=1).results]
    monkeypatch.setattr(C, "COLLECT_EVERY", 5)
    runs = []
    monkeypatch.setattr(gc, "collect", lambda *a: runs.append(gc.isenabled()) or 0)
    got = [r.score.total for r in C.check(w.id, [folder], jobs=1).results]
    assert got == want
    assert runs and not any(runs[1:])  # one before grading, then with the collector off
    assert gc.isenabled() and gc.get_freeze_count() == 0
