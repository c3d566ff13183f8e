"""The benchmark script: whole processes and core calls, medians of several runs.

    python bench/run.py            # everything, prints a Markdown report
    python bench/run.py help solve # only some sections

Not a test: timings depend on the machine. The figures go in docs/performance.md.
Each section is a function registered with @section; it returns Markdown table rows.
"""
from __future__ import annotations

import os
import statistics
from fractions import Fraction
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
SECTIONS: dict[str, Callable[[], list[str]]] = {}


def section(name: str):
    def deco(fn):
        SECTIONS[name] = fn
        return fn
    return deco


def tutor_cmd() -> list[str]:
    return [sys.executable, "-m", "tutor"]


def median_process(args: list[str], runs: int = 5, stdin: str | None = None,
                   env: dict | None = None) -> float:
    """Median wall time of a whole process (seconds)."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, **(env or {})})
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def median_call(fn: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


@section("help")
def bench_help() -> list[str]:
    t = median_process(tutor_cmd() + ["--help"], runs=7)
    return [row("`tutor --help` (whole process)", f"{t:.3f} s", "< 0.3 s")]


@section("solve")
def bench_solve() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from tutor.catalog import bundled

    rows = []
    for e in bundled():
        t = median_process(tutor_cmd() + ["solve", e.id, "--format", "json"], runs=5)
        target = "< 1.5 s" if e.id == "lab9-relu-sigmoid-bce" else ""
        rows.append(row(f"`tutor solve {e.id}` (whole process)", f"{t:.3f} s", target))
    return rows


def random_network_yaml(sizes: tuple[int, ...], seed: int = 0, act: str = "relu") -> str:
    """A layered network with rational weights k/m, as an author would write it."""
    import random

    import yaml

    r = random.Random(seed)

    def w():
        return f"{r.randint(-9, 9)}/{r.randint(1, 9)}"

    layers = [{"W": [[w() for _ in range(sizes[i - 1])] for _ in range(sizes[i])],
               "b": [w() for _ in range(sizes[i])],
               "activation": act if i < len(sizes) - 1 else "identity"}
              for i in range(1, len(sizes))]
    spec = {"id": "bench", "kind": "network", "input": [w() for _ in range(sizes[0])],
            "target": [w() for _ in range(sizes[-1])], "layers": layers, "loss": "mse",
            "learning_rate": "0.1", "ask": ["forward", "backward", "update"]}
    return yaml.safe_dump(spec)


@section("engine")
def bench_engine() -> list[str]:
    """Engine time on growing networks beside the naive oracle (diff of the composed loss)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from oracle import network_oracle  # the test oracle: sympy.diff of the whole loss
    import yaml

    from tutor.core import work_exercise
    from tutor.exercise import load_text

    rows = []
    for sizes in [(2, 2, 2, 1), (4, 4, 4, 2), (8, 8, 8, 2), (10, 20, 20, 5), (20, 30, 20, 2)]:
        text = random_network_yaml(sizes)
        spec = yaml.safe_load(text)
        n_params = sum(len(l["W"]) * len(l["W"][0]) + len(l["b"]) for l in spec["layers"])
        n_nodes = n_params + sum(sizes[1:])
        t = median_call(lambda: work_exercise(load_text(text, "bench.yaml")), runs=3)
        if n_params <= 120:
            o = median_call(lambda: network_oracle(spec), runs=1)
            oracle = f"oracle {o:.2f} s"
        else:
            oracle = "oracle not run (too slow)"
        target = "< 5 s" if n_params >= 1000 else ""
        rows.append(row(f"engine, 3-layer ReLU {'-'.join(map(str, sizes))} ({n_params} params; "
                        f"{1e3 * t / n_nodes:.2f} ms per param+unit; {oracle})",
                        f"{t:.3f} s", target))
    return rows


@section("practice")
def bench_practice() -> list[str]:
    """Launch → first question on a real pseudo-terminal (whole process), and the
    in-process feedback time of one answer (right, and wrong: the wrong one solves again
    from the student's own answers)."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    ex = "lab9-relu-sigmoid-bce"
    rows = []
    try:
        import pexpect
    except ImportError:
        pexpect = None
    for mode, flags in (("full screen", []), ("line mode", ["--lines"])):
        if pexpect is None:
            break
        import resource

        times, cpu = [], []
        for _ in range(5):
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            with tempfile.TemporaryDirectory() as home:
                env = {**os.environ, "TUTOR_HOME": home, "TERM": "xterm"}
                t = time.perf_counter()
                child = pexpect.spawn(tutor_cmd()[0],
                                      tutor_cmd()[1:] + ["practice", *flags, ex],
                                      env=env, cwd=str(ROOT), encoding="utf-8", timeout=30,
                                      dimensions=(24, 80))
                child.expect_exact("z1 = ")  # the prompt line, in either mode
                times.append(time.perf_counter() - t)
                child.send("quit\r")  # Enter is CR on a terminal (the full screen reads keys)
                child.expect(pexpect.EOF)
                child.close()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - ru.ru_utime - ru.ru_stime)
        rows.append(row(f"`tutor practice {' '.join(flags + [ex])}`: launch → first question "
                        f"({mode}, pty 80×24)", f"{statistics.median(times):.3f} s", "< 1 s"))
        rows.append(row(f"`tutor practice {' '.join(flags + [ex])}`: CPU time of that "
                        f"process (user + sys, to the first question and quit)",
                        f"{statistics.median(cpu):.3f} s", ""))

    from tutor.core import work
    from tutor.practice import Session
    from tutor.render import fmt

    w = work(ex)
    right, wrong = [], []
    s = Session(w)
    while s.current is not None:
        step = s.current
        bad = fmt(step.value.applyfunc(lambda _: 7) if hasattr(step.value, "shape") else 7)
        t = time.perf_counter()
        fb = s.submit(bad)
        wrong.append(time.perf_counter() - t)
        assert fb.kind == "wrong", fb
        t = time.perf_counter()
        s.submit(fmt(step.value))
        right.append(time.perf_counter() - t)
    rows.append(row(f"`{ex}`: feedback on a right answer (in-process, median of "
                    f"{len(right)})", f"{statistics.median(right) * 1000:.1f} ms", "< 50 ms"))
    rows.append(row(f"`{ex}`: feedback on a wrong answer (in-process, median of "
                    f"{len(wrong)})", f"{statistics.median(wrong) * 1000:.1f} ms", "< 50 ms"))
    return rows


@section("fresh")
def bench_fresh() -> list[str]:
    """A `--new` draw (tutor/fresh.py) of every bundled exercise without variants: the draw
    itself, in-process, after the exercise is loaded — median and slowest of 20 seeds."""
    from tutor.catalog import bundled
    from tutor.exercise import load
    from tutor.fresh import fresh_exercise
    from tutor.variants import realize

    out = []
    for e in bundled():
        ex = load(e.path)
        if ex.spec.variants is not None:
            continue
        fx = fresh_exercise(ex)
        times = []
        for seed in range(1000, 1020):
            t = time.perf_counter()
            realize(fx, seed)
            times.append(time.perf_counter() - t)
        out.append(row(f"`--new` draw, {e.id} (median; slowest of 20)",
                       f"{statistics.median(times):.3f} s; {max(times):.2f} s", "< 0.2 s"))
    return out


def make_lab9_class(folder: Path, n: int = 1000, seed: int = 1) -> dict[str, int]:
    """n Lab 9 answer sheets as a class hands them in: 85 % correct (each step rounded to
    4–6 places at random), 10 % with a wrong δ2 (each a different value; the later steps
    left as the correct ones), 5 % broken (bad YAML, a bracket bomb, a 2 MB file, binary)."""
    import random

    sys.path.insert(0, str(ROOT))
    from tutor.core import work
    from tutor.render import fmt

    rnd = random.Random(seed)
    w = work("lab9-relu-sigmoid-bce")
    head = f'exercise: {w.id}\nsha: "{w.exercise.sha}"\n'
    kinds = {"correct": 0, "wrong_delta": 0, "broken": 0}
    for i in range(n):
        r = rnd.random()
        name = folder / f"student{i:04d}.yaml"
        if r < 0.05:
            kinds["broken"] += 1
            bad = [f"{head}answers:\n  dW2: [1, 2\n  db2: 3\n",
                   f"{head}answers:\n  dW2: " + "[" * 100 + "\n",
                   f"{head}answers:\n  dW2: " + "9" * 2_000_000 + "\n",
                   f"{head}answers: [1, 2]\n"]
            if i % 5 == 4:
                name.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
            else:
                name.write_text(bad[i % 4])
            continue
        answers = {s.id: fmt(s.value, rnd.choice((4, 5, 6))) for s in w.steps}
        if r < 0.15:
            kinds["wrong_delta"] += 1
            answers["delta2"] = f"[-0.2192, {rnd.randint(1, 9999) / 10000}]"
        else:
            kinds["correct"] += 1
        body = "".join(f"  {k}: {v}\n" for k, v in answers.items())
        name.write_text(f"{head}student: s{i:04d}\nanswers:\n{body}")
    return kinds


@section("check")
def bench_check() -> list[str]:
    import tempfile

    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    with tempfile.TemporaryDirectory() as tmp:
        kinds = make_lab9_class(Path(tmp))
        args = tutor_cmd() + ["check", "lab9-relu-sigmoid-bce", tmp, "--format", "csv"]
        rows = []
        for jobs in ("0", "1"):
            c = cpu()
            t = median_process(args + ["--jobs", jobs], runs=3)
            c = (cpu() - c) / 3
            what = (f"`tutor check` 1,000 Lab 9 sheets ({kinds['correct']} correct, "
                    f"{kinds['wrong_delta']} wrong δ2, {kinds['broken']} broken; whole "
                    f"process, {'2 workers' if jobs == '0' else '1 process'}; CPU {c:.2f} s)")
            rows.append(row(what, f"{t:.2f} s", "< 10 s" if jobs == "0" else ""))
    with tempfile.TemporaryDirectory() as tmp:
        n = make_variants_class(Path(tmp))
        args = tutor_cmd() + ["check", "lab9-variants", tmp, "--format", "csv"]
        c = cpu()
        t = median_process(args, runs=3)
        c = (cpu() - c) / 3
        rows.append(row(f"`tutor check` {n} Lab 9 variant sheets, one variant per student "
                        f"(each solved once; whole process, 2 workers; CPU {c:.2f} s)",
                        f"{t:.2f} s", ""))
    return rows


def make_variants_class(folder: Path, n: int = 40) -> int:
    """n correct sheets of the randomized Lab 9, each for its own student's variant."""
    sys.path.insert(0, str(ROOT))
    from tutor.core import work
    from tutor.render import fmt

    for i in range(n):
        w = work("lab9-variants", student=f"s{i:03d}")
        body = "".join(f"  {s.id}: {fmt(s.value, 6)}\n" for s in w.steps)
        (folder / f"s{i:03d}.yaml").write_text(
            f'exercise: {w.id}\nsha: "{w.exercise.sha}"\nstudent: s{i:03d}\n'
            f"seed: {w.seed}\nanswers:\n{body}")
    return n


# ─── a class on lab9-variants (issue 15 item 3) ─────────────────────────────────────────
CLASS_MIX = (("correct", 0.60), ("rounded_chain", 0.10), ("named_mistake", 0.12),
             ("blanks", 0.10), ("slip", 0.08))
MISTAKES = ("no-relu-mask", "loss-sign-flip", "outer-product-order", "update-plus-eta",
            "no-transpose-pass-back", "pass-back-updated-weights")


def class_sheet(i: int, kind: str, rnd, ref: str = "lab9-variants") -> str:
    """The answer sheet of student s<i> on lab9-variants, filled in as ``kind`` says:
    correct (each step rounded to 4–6 places at random), rounded_chain (the forward pass
    rounded to 4 places and everything after it worked from those rounded numbers),
    named_mistake (one catalogued misconception made throughout, 4 places), blanks (correct,
    with 1–6 steps left blank), slip (correct but one step off by a random amount — what no
    single-step check explains, so the misconception catalogue is made throughout)."""
    sys.path.insert(0, str(ROOT))
    from tutor.core import work
    from tutor.misconceptions import buggy_rules
    from tutor.render import fmt
    from tutor.solve import solve

    sid = f"s{i:05d}"
    w = work(ref, student=sid, note=False)
    steps = w.steps
    if kind == "rounded_chain":
        import sympy as sp

        fwd = {s.key: s.value.applyfunc(lambda e: sp.Rational(round(float(e), 4)).limit_denominator(10**4))
               if hasattr(s.value, "shape") else sp.Rational(round(float(s.value), 4)).limit_denominator(10**4)
               for s in steps if s.phase == "forward"}
        q = solve(w.graph, overrides=fwd).quantities
        answers = {s.id: fmt(q[s.key].value, 4) for s in steps}
    elif kind == "named_mistake":
        q = None
        for mid in rnd.sample(MISTAKES, len(MISTAKES)):
            try:  # x gᵀ for the 1×2 W3 has the wrong shape for its update: another one
                q = solve(w.graph, buggy_rules(mid)).quantities
                break
            except Exception:
                continue
        answers = {s.id: fmt(q[s.key].value, 4) if s.key in q else "" for s in steps}
    else:
        answers = {s.id: fmt(s.value, rnd.choice((4, 5, 6))) for s in steps}
        if kind == "blanks":
            for s in rnd.sample(steps, rnd.randint(1, 6)):
                answers[s.id] = ""
        elif kind == "slip":
            s = rnd.choice([s for s in steps if s.phase != "forward"])
            answers[s.id] = fmt(s.value.applyfunc(lambda e: e + rnd.randint(1, 99) / 100)
                                if hasattr(s.value, "shape") else s.value + rnd.randint(1, 99) / 100, 4)
    body = "".join(f"  {k}: {v}\n" for k, v in answers.items())
    return (f'exercise: {w.id}\nsha: "{w.exercise.math_sha}"\nstudent: {sid}\n'
            f"seed: {w.seed}\nanswers:\n{body}")


def _class_part(args) -> dict:
    folder, lo, hi, seed, ref = args
    import random

    rnd = random.Random(seed * 1_000_003 + lo)
    kinds: dict[str, int] = {}
    for i in range(lo, hi):
        r, acc = rnd.random(), 0.0
        kind = CLASS_MIX[-1][0]
        for k, share in CLASS_MIX:
            acc += share
            if r < acc:
                kind = k
                break
        kinds[kind] = kinds.get(kind, 0) + 1
        (Path(folder) / f"s{i:05d}.yaml").write_text(class_sheet(i, kind, rnd, ref),
                                                     encoding="utf-8")
    return kinds


def make_class(folder: Path, n: int, seed: int = 15,
               ref: str = "lab9-variants") -> dict[str, int]:
    """n filled sheets of lab9-variants in ``folder`` (the mix of CLASS_MIX) and a roster
    ``folder.parent / "roster.csv"``; made in one worker process per core."""
    import multiprocessing as mp

    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / "roster.csv").write_text(
        "SIS User ID,Name\n" + "".join(f"s{i:05d},Student {i}\n" for i in range(n)),
        encoding="utf-8")
    jobs = os.cpu_count() or 1
    step = max(1, -(-n // (jobs * 8)))
    parts = [(str(folder), lo, min(n, lo + step), seed, ref) for lo in range(0, n, step)]
    kinds: dict[str, int] = {}
    with mp.get_context("fork").Pool(jobs) as pool:
        for got in pool.imap_unordered(_class_part, parts):
            for k, c in got.items():
                kinds[k] = kinds.get(k, 0) + c
    return kinds


def snapshot(tmp: Path) -> tuple[Path, Path]:
    """A copy of the package and of lab9-variants.yaml to run from (cwd, exercise file):
    the variant cache is keyed by a hash of tutor's source, so an edit to any file of the
    working tree between two timed runs would turn a warm run cold."""
    import shutil

    src = tmp / "src"
    shutil.copytree(ROOT / "tutor", src / "tutor",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "exercises" / "lab9-variants.yaml", tmp / "lab9-variants.yaml")
    return src, tmp / "lab9-variants.yaml"


def _timed(args: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, its stdout)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **env})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(args[2:])}: exit {done.returncode}: {done.stderr[-500:]}")
    return wall, cpu, done.stdout


def bench_class(n: int, runs: int, cold_runs: int | None = None) -> list[str]:
    """A class of n on lab9-variants, whole processes, run from a snapshot of the source:
    `tutor template --roster` (which draws every variant and writes the variant cache),
    then `tutor check … --format csv` of the filled sheets (CLASS_MIX) with a cold cache (a
    new TUTOR_HOME each run) and a warm one (what the template run wrote); medians."""
    import shutil
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src, exercise = snapshot(tmp)
        t = time.perf_counter()
        kinds = make_class(tmp / "class", n, ref=str(exercise))
        made = time.perf_counter() - t
        mix = ", ".join(f"{kinds.get(k, 0)} {k.replace('_', ' ')}" for k, _ in CLASS_MIX)
        warm_home = tmp / "warm"
        wall, cpu, _ = _timed(tutor_cmd() + ["template", str(exercise), "--roster",
                                             str(tmp / "roster.csv"), "--out",
                                             str(tmp / "blank")],
                              {"TUTOR_HOME": str(warm_home)}, src)
        rows.append(row(f"`tutor template lab9-variants --roster` {n:,} students (whole "
                        f"process, one run; CPU {cpu:.1f} s; writes the variant cache)",
                        f"{wall:.2f} s", ""))
        args = tutor_cmd() + ["check", str(exercise), str(tmp / "class"), "--format", "csv"]
        target = "< 5 s" if n <= 300 else "< 60 s"
        outputs = set()
        for label in ("cold", "warm"):
            walls, cpus = [], []
            times = (cold_runs or runs) if label == "cold" else runs
            for k in range(times):
                home = tmp / f"cold{k}" if label == "cold" else warm_home
                w, c, out = _timed(args, {"TUTOR_HOME": str(home)}, src)
                outputs.add(out)
                walls.append(w)
                cpus.append(c)
                if label == "cold":
                    shutil.rmtree(home, ignore_errors=True)
            rows.append(row(f"`tutor check lab9-variants` {n:,} sheets, {n:,} variants "
                            f"({mix}), {label} variant cache, whole process, 2 workers "
                            f"(median of {times}: {', '.join(f'{x:.1f}' for x in walls)} s; "
                            f"CPU {statistics.median(cpus):.1f} s)",
                            f"{statistics.median(walls):.2f} s", target))
        if len(outputs) != 1:
            for k, out in enumerate(sorted(outputs)):
                (ROOT / f"bench-class-{n}-{k}.csv").write_text(out, encoding="utf-8")
            raise RuntimeError(f"cold and warm runs graded the class differently: the "
                               f"{len(outputs)} outputs are in {ROOT}/bench-class-{n}-*.csv")
        rows.append(row(f"(making the {n:,} filled sheets in the benchmark itself, "
                        f"{os.cpu_count()} processes: {made:.0f} s)", "", ""))
    return rows


@section("classcost")
def bench_class_cost(n: int = 300) -> list[str]:
    """Where a class's time goes, in-process, one process: for n students of lab9-variants
    (each its own variant, every cache cold), the draw by search, the draw from a cache hint
    (the try drawn again and solved, no search), and grading each kind of sheet of CLASS_MIX
    (grade + annotate + throughout, each variant graded once: its caches cold)."""
    import random
    import tempfile

    sys.path.insert(0, str(ROOT))
    from tutor import variants as V
    from tutor.catalog import resolve
    from tutor.check import _one
    from tutor.core import work
    from tutor.exercise import load

    rnd = random.Random(15)
    ex = load(resolve("lab9-variants"))
    seeds = [V.student_seed(f"s{i:05d}", ex.id) for i in range(n)]
    t = time.process_time()
    for seed in seeds:
        V.realize(ex, seed)
    search = (time.process_time() - t) / n
    hints = [V.accepted_try(ex, seed) for seed in seeds]
    tries = statistics.mean(h[0] + 1 for h in hints)
    V._PLANS.clear()
    again = load(resolve("lab9-variants"))
    t = time.process_time()
    for seed, hint in zip(seeds, hints):
        V.realize(again, seed, hint)
    hinted = (time.process_time() - t) / n
    rows = [row(f"draw one student's variant by search ({tries:.1f} tries on average; mean of "
                f"{n} students, CPU)", f"{search * 1000:.1f} ms", ""),
            row(f"draw it from a cache hint (the try drawn again and solved; mean of {n})",
                f"{hinted * 1000:.1f} ms", "")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        kinds: dict[str, list[Path]] = {}
        for i in range(n):
            kind = CLASS_MIX[i % len(CLASS_MIX)][0]
            f = folder / f"s{i:05d}.yaml"
            f.write_text(class_sheet(i, kind, rnd), encoding="utf-8")
            kinds.setdefault(kind, []).append(f)
        base = work("lab9-variants")
        for kind, files in kinds.items():
            times = []
            for f in files:
                seed = V.student_seed(f.stem, ex.id)
                w = V.realize(ex, seed)  # drawn above: only the grading is timed
                w.cache.clear()  # the misconception catalogue's values: cold
                t = time.process_time()
                _one(f, base, {None: base, ("seed", seed): w}, {}, None, Fraction(1, 2),
                     "lab9-variants", work)
                times.append(time.process_time() - t)
            rows.append(row(f"grade one {kind.replace('_', ' ')} sheet on its own variant "
                            f"(misconception caches cold; median of {len(files)}, slowest "
                            f"{max(times) * 1000:.0f} ms)",
                            f"{statistics.median(times) * 1000:.1f} ms", ""))
    return rows


BEFORE = """\
import sys
sys.argv[0] = "tutor"
import tutor.misconceptions as M, tutor.solve as S, tutor.variants as V
_realize = V._realize
V._realize = lambda ex, seed, early_proofs=True: _realize(ex, seed, early_proofs=False)
S._plain = lambda v: None
M._reach = lambda w, m: None
from tutor.cli import main
main()
"""


@section("classbefore")
def bench_class_before(n: int = 300, runs: int = 3) -> list[str]:
    """The class of ``bench_class`` graded as before issue 15 item 3 (approximately: the same
    code with its speed-ups switched off — no early proofs, no plain-rational path in
    solve._kept, every misconception solved in throughout — and --no-cache); the grades are
    checked to be the same as with them."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src, exercise = snapshot(tmp)
        make_class(tmp / "class", n, ref=str(exercise))
        args = ["check", str(exercise), str(tmp / "class"), "--format", "csv"]
        outs, walls, cpus = set(), [], []
        for k in range(runs):
            w, c, out = _timed([sys.executable, "-c", BEFORE] + args + ["--no-cache"],
                               {"TUTOR_HOME": str(tmp / f"h{k}")}, src)
            outs.add(out)
            walls.append(w)
            cpus.append(c)
        _, _, now = _timed(tutor_cmd() + args, {"TUTOR_HOME": str(tmp / "now")}, src)
        if outs != {now}:
            raise RuntimeError("the class is graded differently without the speed-ups")
    return [row(f"`tutor check lab9-variants` {n:,} sheets as before issue 15 item 3 (speed-ups "
                f"off, no cache; median of {runs}: {', '.join(f'{x:.1f}' for x in walls)} s; "
                f"CPU {statistics.median(cpus):.1f} s; grades identical to now)",
                f"{statistics.median(walls):.2f} s", "")]


@section("class")
def bench_class_300() -> list[str]:
    return bench_class(300, runs=5)


@section("class10k")
def bench_class_10k() -> list[str]:
    return bench_class(10_000, runs=3, cold_runs=2)  # about 40 minutes in all


@section("authoring")
def bench_authoring() -> list[str]:
    """`tutor validate` on every bundled exercise (whole process), and drawing Lab 9
    variants in-process: with the cheap conditions only, and with every condition
    (misconceptions distinguishable)."""
    import dataclasses

    sys.path.insert(0, str(ROOT))
    from tutor.catalog import bundled, resolve
    from tutor.exercise import load
    from tutor.variants import realize

    files = [str(e.path) for e in bundled()]
    t = median_process(tutor_cmd() + ["validate"] + files, runs=3)
    rows = [row(f"`tutor validate` all {len(files)} bundled exercises (whole process)",
                f"{t:.2f} s", "")]
    t = median_process(tutor_cmd() + ["validate", str(ROOT / "exercises" / "lab9-variants.yaml")],
                       runs=3)
    rows.append(row("`tutor validate exercises/lab9-variants.yaml` (whole process)",
                    f"{t:.2f} s", ""))
    ex = load(resolve("lab9-variants"))
    v = ex.spec.variants
    cheap = dataclasses.replace(ex, spec=ex.spec.model_copy(update={"variants": v.model_copy(
        update={"require": v.require.model_copy(update={"distinguishable": False})})}))
    realize(cheap, 0)
    n = 50
    t0 = time.perf_counter()
    for s in range(n):
        realize(cheap, s)
    per = (time.perf_counter() - t0) / n
    rows.append(row(f"Lab 9 variant without the misconception condition (mean of {n} seeds)",
                    f"{per * 1000:.0f} ms", ""))
    n = 10
    t0 = time.perf_counter()
    for s in range(n):
        realize(ex, s)
    per = (time.perf_counter() - t0) / n
    rows.append(row(f"Lab 9 variant with every condition (mean of {n} seeds)",
                    f"{per * 1000:.0f} ms", ""))
    return rows


@section("diagnose")
def bench_diagnose() -> list[str]:
    """Diagnosing one wrong answer on Lab 9, in-process, after the exercise is loaded: the
    first diagnosis of a step (nothing cached), again (cached), from the student's own
    earlier answers (one extra solve), a whole graded sheet, and indistinguishable()."""
    sys.path.insert(0, str(ROOT))
    from tutor.core import work
    from tutor.grade import grade
    from tutor.misconceptions import buggy_rules, diagnose, indistinguishable
    from tutor.render import fmt
    from tutor.solve import solve

    lab9 = "lab9-relu-sigmoid-bce"
    w0 = work(lab9)
    mask = solve(w0.graph, buggy_rules("no-relu-mask")).quantities
    flip = solve(w0.graph, buggy_rules("loss-sign-flip")).quantities
    both = solve(w0.graph, {**buggy_rules("loss-sign-flip"),
                            "relu": buggy_rules("no-relu-mask")["relu"]}).quantities
    rows = []
    for sid, q in (("delta2", mask), ("dh1", solve(w0.graph, buggy_rules(
            "no-transpose-pass-back")).quantities), ("W1_new", solve(
            w0.graph, buggy_rules("update-plus-eta")).quantities)):
        key = w0.step(sid).key
        fresh = [work(lab9) for _ in range(5)]
        it = iter(fresh)
        t = median_call(lambda: diagnose(next(it), sid, q[key].value), runs=5)
        rows.append(row(f"diagnose one wrong answer, Lab 9 `{sid}` (first time: nothing cached)",
                        f"{t * 1000:.1f} ms", "< 100 ms"))
        w = fresh[0]
        t = median_call(lambda: diagnose(w, sid, q[key].value), runs=7)
        rows.append(row(f"diagnose one wrong answer, Lab 9 `{sid}` (cached)",
                        f"{t * 1000:.2f} ms", "< 100 ms"))
    own = {s.id: flip[s.key].value for s in w0.steps}
    d2 = both[w0.step("delta2").key].value
    w = work(lab9)
    t = median_call(lambda: diagnose(w, "delta2", d2, own), runs=5)
    rows.append(row("diagnose Lab 9 `delta2` from the student's own earlier answers "
                    "(one extra solve)", f"{t * 1000:.1f} ms", "< 100 ms"))
    sheet = {s.id: fmt(mask[s.key].value, 10) for s in w0.steps}
    t = median_call(lambda: grade(w, sheet), runs=5)
    rows.append(row("grade + annotate a whole Lab 9 sheet (no ReLU mask)",
                    f"{t * 1000:.0f} ms", ""))
    fresh = [work(lab9) for _ in range(3)]
    it = iter(fresh)
    t = median_call(lambda: indistinguishable(next(it)), runs=3)
    rows.append(row("indistinguishable(Lab 9), nothing cached", f"{t * 1000:.0f} ms", ""))
    return rows


@section("deep")
def bench_deep() -> list[str]:
    """The deep chains and far logits of issue 10 (tests/exercises_slow): whole-process
    `tutor validate` and `tutor solve`. Before the structural and interval zero tests
    (tutor/interval.py) the 10-node sigmoid chain took 69 s, the tanh chain 30 s."""
    rows = []
    for f in sorted((ROOT / "tests" / "exercises_slow").glob("*.yaml")):
        v = median_process(tutor_cmd() + ["validate", str(f)], runs=3)
        s = median_process(tutor_cmd() + ["solve", str(f), "--format", "json"], runs=3)
        target = "< 2 s"
        rows.append(row(f"`{f.stem}`: validate / solve (whole process)",
                        f"{v:.2f} s / {s:.2f} s", target))
    return rows


@section("fuzz")
def bench_fuzz() -> list[str]:
    """A random fuzz corpus larger than the suite's (tests/test_fuzz.py, its strategies):
    the slowest input of each reader, in CPU and wall time, and the input itself."""
    import warnings

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from hypothesis import HealthCheck, given, settings

    import test_fuzz as fz
    from tutor.grade import grade
    from tutor.validate import validate_text

    found: dict[str, list] = {"answers": [], "exercise": []}
    loose = settings(max_examples=2000, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))

    def timed(kind, fn, arg):
        t, c = time.perf_counter(), time.process_time()
        fn(arg)
        found[kind].append((time.perf_counter() - t, time.process_time() - c, arg))

    w = fz.lab9()
    answers_strategy = fz.st.dictionaries(fz.st.sampled_from(["z3", "yhat", "L", "delta3",
                                                              "db3", "z1", "dW2"]),
                                          fz.any_answer, min_size=1, max_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        given(answers_strategy)(loose(lambda a: timed("answers", lambda x: grade(w, x), a)))()
        given(fz.exercise())(settings(loose, max_examples=500)(
            lambda t: timed("exercise", validate_text, t)))()
    rows = []
    for kind, runs in found.items():
        wall, cpu, arg = max(runs, key=lambda r: r[0])
        shown = repr(arg) if len(repr(arg)) < 90 else repr(arg)[:87] + "…"
        med = statistics.median(r[0] for r in runs)
        rows.append(row(f"fuzz, {kind}: {len(runs)} random inputs, median {med * 1000:.1f} ms;"
                        f" the slowest ({cpu:.2f} s CPU): `{shown}`", f"{wall:.2f} s",
                        "< 1 s each"))
    return rows


ATTENTION_4 = ROOT / "tests" / "data" / "attention-4.yaml"  # also tests/test_tensor.py's


@section("tensor")
def bench_tensor() -> list[str]:
    """Issue 13: tensor graphs solved exactly, whole processes (`tutor solve`), and the
    cost per node on a growing chain of affine + ReLU layers (in-process)."""
    sys.path.insert(0, str(ROOT))
    rows = []
    for ex in ("affine-relu-vector", "batch-softmax-ce", "conv2d-maxpool", "attention-2-tokens",
               "batchnorm-fused", "batchnorm-ninja"):
        t = median_process(tutor_cmd() + ["solve", ex], runs=5)
        rows.append(row(f"`tutor solve {ex}` (whole process)", f"{t:.2f} s", "< 2 s"))
    t = median_process(tutor_cmd() + ["solve", str(ATTENTION_4)], runs=3)
    rows.append(row("`tutor solve` of two causal attention layers, d = 4, 4 tokens "
                    "(whole process)", f"{t:.2f} s", "< 2 s"))
    from tutor.core import work_exercise
    from tutor.exercise import load_text

    for n in (2, 4, 8, 16):
        nodes = "".join(f"  z{k}: W{k} @ {'x' if k == 1 else f'h{k - 1}'} + b{k}\n"
                        f"  h{k}: relu(z{k})\n" for k in range(1, n + 1))
        params = "".join(f"  W{k}: [[1, -0.5], [0.5, 1]]\n  b{k}: [0.5, -1]\n"
                         for k in range(1, n + 1))
        text = (f"id: chain\ntitle: chain\nkind: graph\ninputs:\n  x: [1, 2]\nparams:\n"
                f"{params}nodes:\n{nodes}  L: sum(h{n} * h{n})\nloss: L\n")
        t = median_call(lambda: work_exercise(load_text(text, "chain.yaml")), runs=3)
        rows.append(row(f"a chain of {n} affine + ReLU layers (2 units, exact; "
                        f"{2 * n + 1} nodes), in-process", f"{t * 1000:.0f} ms "
                        f"({t * 1000 / (2 * n + 1):.1f} ms a node)", "flat per node"))
    return rows


@section("symbolic")
def bench_symbolic() -> list[str]:
    """Issue 12: judging one expression answer (in-process, cold: a new judge each time, the
    equivalence points not cached), and a symbolic `tutor solve` as a whole process."""
    sys.path.insert(0, str(ROOT))
    from tutor import equivalence
    from tutor.core import work
    from tutor.grade import grade

    rows = []
    cases = [("two-paths-symbolic", "dx", "2*b*a + 2*b*x", "equivalent, in node names"),
             ("two-paths-symbolic", "dx", "2*b*a", "not equivalent, named"),
             ("affine-relu-symbolic", "dw", "x*1[z > 0]*g", "equivalent, a kink"),
             ("affine-relu-symbolic", "dw", "g*x", "the mask forgotten, named")]
    for ex, sid, text, what in cases:
        w = work(ex)

        def judge():
            equivalence._points.cache_clear()
            w.cache.clear()
            grade(w, {sid: text})
        rows.append(row(f"judging one expression answer ({ex} {sid} = `{text}`: {what})",
                        f"{median_call(judge, runs=9) * 1000:.0f} ms", "< 50 ms"))
    for ex in ("two-paths-symbolic", "affine-relu-symbolic"):
        t = median_process(tutor_cmd() + ["solve", ex], runs=5)
        rows.append(row(f"`tutor solve {ex}` (whole process)", f"{t:.3f} s", "< 1.5 s"))
    return rows


def main(argv: list[str]) -> None:
    unknown = [a for a in argv if a not in SECTIONS]
    if unknown:
        what = "" if unknown[0] in ("-h", "--help") else f"unknown section {unknown[0]!r}\n"
        print(f"{what}usage: python bench/run.py [SECTION…]\nsections: " + ", ".join(SECTIONS)
              + "\nwithout a section: all of them (several minutes); figures for docs/performance.md",
              file=sys.stderr if what else sys.stdout)
        raise SystemExit(2 if what else 0)
    names = argv or list(SECTIONS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print(row("what", "median", "target"))
    print(row("---", "---", "---"))
    for name in names:
        for r in SECTIONS[name]():
            print(r, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
