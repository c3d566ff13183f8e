"""`tutor check`: grade answer sheets — one at the terminal, or a class folder for a gradebook.

    check(ref, paths) → Report(results: one SheetResult per sheet file, in path order)

Each exercise variant is solved once (one Worked per distinct seed) and every distinct answer
text is parsed and compared once per variant (grade's ``memo``), so a class costs little more
than reading its files. A sheet that cannot be read is reported with ``file:line: message``
and the others are still graded; nothing is ever written into a sheet.

Exit status: 2 if any sheet is unreadable (after grading the rest), else 1 if any step of any
sheet is not correct (wrong, invalid, missing or follow-through), else 0.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable

from tutor.errors import ExitCode, InputError, UsageError, visible
from tutor.budget import SHEET_SECONDS, within
from tutor.compare import Reason
from tutor.grade import FT_CREDIT, Score, Verdict, Weights, grade, score
from tutor.sheets import Sheet, SheetWarning, read_sheet, unknown_ids
from tutor.words import entry_names, record, wrong_entry_names, zero_misses
from tutor.words.misconceptions import explain

SHEET_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class SheetResult:
    file: str
    sheet: Sheet | None = None
    verdicts: tuple[Verdict, ...] = ()
    score: Score | None = None
    warnings: tuple[SheetWarning, ...] = ()
    stale: bool = False  # the sheet's sha is not the exercise's: made for another version
    error: InputError | None = None  # unreadable: not graded
    seed: int | None = None  # the variant graded against (None: the exercise's base values)
    notes: tuple[str, ...] = ()  # about the grading itself: "seed … is not bob's variant …"
    counted: bool = True  # in the class figures (False: another sheet of the same student is)
    # what check(keep=…) kept of the Worked this sheet was graded against (its variant's):
    # made once per variant where the sheet was graded, so it crosses worker processes
    kept: Any = field(default=None, compare=False, repr=False)
    # with a course (tutor check --course): tutor.course.Final — the score scaled to the
    # assignment's points, when it was handed in, the points after the late penalty
    final: Any = None

    @property
    def student(self) -> str:
        return self.sheet.student if self.sheet else Path(self.file).stem

    @property
    def first_wrong(self) -> str | None:
        for v in self.verdicts:
            if v.status in ("wrong", "invalid"):
                return v.step_id
        return None

    @property
    def all_correct(self) -> bool:
        return self.error is None and all(v.status == "correct" for v in self.verdicts)


@dataclass(frozen=True)
class Report:
    exercise: str
    title: str
    sha: str
    step_ids: tuple[str, ...]
    results: tuple[SheetResult, ...]
    ft_credit: Fraction = FT_CREDIT
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. folders with no sheets

    @property
    def graded(self) -> list[SheetResult]:
        return [r for r in self.results if r.error is None]

    @property
    def counted(self) -> list[SheetResult]:
        """The graded sheets the class figures count: one per student."""
        return [r for r in self.graded if r.counted]

    @property
    def exit_code(self) -> int:
        if any(r.error is not None for r in self.results) or not self.results:
            return int(ExitCode.USAGE)
        return int(ExitCode.OK if all(r.all_correct for r in self.results) else ExitCode.FAILED)

    def code_counts(self) -> list[tuple[str, int]]:
        """Answer-note codes of the steps not correct: code → number of sheets, most first."""
        return [(c["code"], c["students"]) for c in self.code_rows()]

    def code_rows(self) -> list[dict]:
        """One row per answer-note code of the steps not correct, most frequent first:
        {code, students, step, misconception (id or None), name, label} — the name in words
        ("no ReLU mask", or the verdict: "wrong answer"), the label with its step
        ("no ReLU mask at delta2")."""
        c: Counter = Counter()
        what: dict = {}
        for r in self.counted:
            seen = set()
            for v in r.verdicts:
                if v.status == "correct" or v.code in seen:
                    continue
                seen.add(v.code)
                c[v.code] += 1
                mid = v.misconceptions[0] if v.misconceptions else None
                what[v.code] = (v.step_id, mid)
        rows = []
        for code, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
            step, mid = what[code]
            name = _misconception_names((mid,))[0] if mid else VERDICT_NAMES.get(
                code[len(step) + 1:], code[len(step) + 1:])
            rows.append({"code": code, "students": n, "step": step, "misconception": mid,
                         "name": name, "label": f"{name} at {step}"})
        return rows

    def misconception_counts(self) -> list[dict]:
        """Per misconception, across steps: {id, name, students (each sheet counted once,
        however many steps show it — +η in every update is one student), steps: [{step,
        students}]}, most frequent first."""
        total: Counter = Counter()
        steps: dict = {}
        for r in self.counted:
            mids = set()
            for v in r.verdicts:
                if v.status != "correct" and v.misconceptions:
                    mid = v.misconceptions[0]
                    mids.add(mid)
                    per = steps.setdefault(mid, {})
                    per[v.step_id] = per.get(v.step_id, 0) + 1
            total.update(mids)
        order = {s: i for i, s in enumerate(self.step_ids)}
        out = []
        for mid, n in sorted(total.items(), key=lambda kv: (-kv[1], kv[0])):
            per = sorted(steps[mid].items(), key=lambda kv: order.get(kv[0], len(order)))
            out.append({"id": mid, "name": _misconception_names((mid,))[0], "students": n,
                        "steps": [{"step": k, "students": m} for k, m in per]})
        return out


# ─── finding and grading sheets ────────────────────────────────────────────────────────
def collect(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Sheet files in the order given; a folder gives its *.yaml / *.yml files, sorted,
    at any depth. A file named twice (``cls cls/mask.yaml``, or by two spellings of its
    path) is graded once, where it first appears. Returns (files, notes about folders
    without sheets)."""
    files, notes = [], []
    for p in map(Path, paths):
        if p.is_dir():
            # not only regular files: a FIFO, a device or a dangling link named *.yaml is
            # listed too, and reading it says what it is (one line; it never blocks)
            seen = sorted(f for f in p.rglob("*") if not f.is_dir() and not any(
                part.startswith(".") for part in f.relative_to(p).parts))
            found = [f for f in seen if f.suffix.lower() in SHEET_SUFFIXES]
            skipped = [f for f in seen if f.suffix.lower() not in SHEET_SUFFIXES]
            if skipped:  # a .txt or .docx handed in is said, not silently left out
                names = ", ".join(str(f.relative_to(p)) for f in skipped[:5])
                more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
                notes.append(f"{p}: {len(skipped)} file{'s' if len(skipped) != 1 else ''} "
                             f"not graded (not .yaml or .yml): {names}{more}")
            if not found:
                notes.append(f"{p}: no .yaml or .yml sheets in this folder")
            files.extend(found)
        else:
            files.append(p)  # missing files are reported as unreadable sheets
    return _unique(files), notes


def _unique(files: list[Path]) -> list[Path]:
    """``files`` without repeats (the same file by its resolved path), first order kept."""
    seen, out = set(), []
    for f in files:
        try:
            key = f.resolve()
        except (OSError, RuntimeError):  # a symlink loop: keep it, reading it will say so
            key = f
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def load_weights(path: str | Path, known_ids: list[str]) -> Weights:
    """A weights file: YAML mapping of step id or phase → a number ≥ 0 (default 1)."""
    from tutor.course import parse_weights
    from tutor.sheets import MAX_BYTES, precheck
    from tutor.yamlio import load_yaml, read_text

    p = Path(path)
    try:  # a FIFO or device is refused, never waited on (read_text)
        text = read_text(p, max_bytes=MAX_BYTES, kind="weights file")
    except InputError as exc:
        raise UsageError(f"weights file {exc}") from None
    precheck(text, str(p))
    doc = load_yaml(text, str(p))
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise InputError("a weights file maps step ids or phases to numbers: `dW2: 2`",
                         str(p), 1)

    def where(key: str) -> tuple:
        m = doc.mark((key,))
        return (getattr(m, "line", None), None)

    return parse_weights(data, known_ids, str(p), where)


PARALLEL_FROM = 200  # sheets; below this one process is faster than starting workers
VARIANT_PARALLEL_FROM = 8  # sheets of an exercise with variants: each variant is a new draw


def check(ref: str, paths: Iterable[str | Path], weights: Weights | None = None,
          ft_credit: Any = FT_CREDIT,
          progress: Callable[[int, int], None] | None = None, jobs: int = 0,
          unnamed: str = "flag", roster=None,
          keep: Callable[[Any], Any] | None = None, cache=None, secret=None) -> Report:
    """Grade every sheet under ``paths`` against exercise ``ref`` (see the module docstring).

    ``jobs``: worker processes (0: one per core, up to 4, when there are at least
    PARALLEL_FROM sheets — or VARIANT_PARALLEL_FROM for an exercise with variants, where each
    student's variant costs a draw (~0.5 s) — else one). Workers are forked after the
    exercise is solved, so each starts warm. ``roster`` (tutor.roster.Roster): a sheet
    whose student is not on it says so, and the report lists who handed in nothing.
    ``keep(worked)``: a picklable value made from the Worked a sheet was graded against —
    once per variant, in the process that graded it — and kept as that sheet's
    ``SheetResult.kept``: how `tutor check --feedback` gives each student the worked solution
    of their own numbers without solving any variant again (tutor.feedback.key).
    ``cache`` (tutor.drawcache.DrawCache): which try of each student's seed gave their
    variant, read before drawing it and written after (by each worker, per part).
    ``secret`` (tutor.course.CourseSecret): the course secret that, with a student's id,
    picks their variant (tutor.course.variant_seeds); None: the id alone, as always.
    """
    import os

    from tutor.core import work

    base = work(ref)
    files, notes = collect(paths)
    varied = base.exercise.spec.variants is not None
    if not varied:
        cache = None
    elif cache is not None:
        cache.load(base.exercise)  # before the workers fork: each starts with the entries
    if jobs <= 0:
        enough = VARIANT_PARALLEL_FROM if varied else PARALLEL_FROM
        jobs = min(os.cpu_count() or 1, 4) if len(files) >= enough else 1
    ctx = _fork_context() if jobs > 1 else None
    state = _State(ref, base, weights, ft_credit, unnamed, keep, cache, secret)
    with _collected_between_sheets(len(files)):
        if ctx is None:
            results = []
            try:
                for n, f in enumerate(files, start=1):
                    results.append(state.one(f))
                    if progress:
                        progress(n, len(files))
            finally:
                if cache is not None:
                    cache.flush()
        else:
            results = _parallel(ctx, jobs, state, files, progress)
    results = once_per_student(results)
    foreign = foreign_seeds(results, secret is not None)
    if foreign:
        notes.append(foreign)
    if roster is not None:
        results, missing = against_roster(results, roster)
        if missing:
            notes.append(f"{len(missing)} of {len(roster.students)} students on the roster "
                         f"handed in no sheet: " + ", ".join(missing[:20])
                         + (f", … ({len(missing) - 20} more)" if len(missing) > 20 else ""))
    return Report(base.id, base.exercise.spec.title or base.id, base.exercise.sha,
                  tuple(s.id for s in base.steps), tuple(results),
                  Fraction(ft_credit), tuple(notes))


def foreign_seeds(results: list[SheetResult], secret: bool) -> str | None:
    """When most sheets (3 or more) carry a seed that is not their student's variant, the
    likeliest cause is the teacher's, not the class's: sheets made under a course secret
    graded without it, or with another one. Said once for the class."""
    carried = [r for r in results if r.error is None and r.sheet is not None
               and r.sheet.seed is not None and r.seed is not None]
    foreign = [r for r in carried if r.sheet.seed != r.seed]
    if len(foreign) < 3 or 2 * len(foreign) <= len(carried):
        return None
    why = ("made with another course secret? The course's secret picks each variant" if secret
           else "made with a course secret? Grade them with --course COURSE.yaml, whose "
                "secret picks each variant")
    return (f"{len(foreign)} of {len(carried)} sheets carry a seed that is not their "
            f"student's variant, each graded against the student's own: {why}")


def against_roster(results: list[SheetResult], roster) -> tuple[list[SheetResult], list[str]]:
    """Each sheet whose student is not on the roster gets a note (graded all the same: the
    teacher decides); the roster ids with no sheet, in roster order."""
    from dataclasses import replace

    from tutor.roster import student_key

    on = roster.ids()
    out, seen = [], set()
    for r in results:
        if r.error is None:
            key = student_key(r.student)
            seen.add(key)
            if key not in on:
                r = replace(r, notes=r.notes + (f"{r.student} is not on the roster "
                                                f"({Path(roster.file).name})",))
        out.append(r)
    return out, [st.id for st in roster.students if student_key(st.id) not in seen]


def once_per_student(results: list[SheetResult]) -> list[SheetResult]:
    """Two sheets of one student (the name as tutor.variants matches it: case and spaces
    aside): each is graded and says so; the class figures count the last one by file name."""
    from dataclasses import replace

    from tutor.roster import student_key

    groups: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        if r.error is None:
            groups.setdefault(student_key(r.student), []).append(i)
    out = list(results)
    for idx in groups.values():
        if len(idx) < 2:
            continue
        files = sorted((results[i].file for i in idx))
        keep = files[-1]
        note = (f"{results[idx[0]].student} has {len(idx)} sheets ({', '.join(files)}): each "
                f"graded; the class figures count {keep}")
        for i in idx:
            out[i] = replace(out[i], notes=out[i].notes + (note,),
                             counted=results[i].file == keep)
    return out


KEPT_VARIANTS = 128  # variants a grading process keeps solved (each with its caches)
COLLECT_EVERY = 100  # sheets between two garbage collections, in a class of many


@contextmanager
def _collected_between_sheets(n: int):
    """For a class (more than COLLECT_EVERY sheets): Python's garbage collector off while
    sheets are graded, and run by ``_State.one`` between two sheets instead, every
    COLLECT_EVERY of them, what was loaded before grading frozen out of it. A full
    collection of a grading process's heap takes up to 0.75 s (measured: 600 Lab 9 variant
    sheets, 18 of them, 15 % of the time); landing inside a sheet's time budgets (1 s for
    the follow-through solve, 2 s to read an answer: tutor.budget) it made a grade depend
    on when the collector ran — 5 of 10,000 sheets graded differently from run to run on a
    loaded machine. Between sheets it is harmless."""
    import gc

    if n <= COLLECT_EVERY or not gc.isenabled():
        yield
        return
    gc.collect()
    gc.freeze()  # the modules, the exercise, the base solve: never garbage
    gc.disable()  # forked workers start so too
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


class _State:
    """What grading needs across sheets: one Worked and one grade memo per variant (and,
    with ``keep``, what is kept of each variant's Worked, by its seed).

    Of an exercise with variants only the last KEPT_VARIANTS variants stay in memory: a
    class of 10,000 kept every one, 1.7 GB a worker, and a full garbage collection of such
    a heap takes long enough to run a sheet's follow-through over its time budget (so a
    grade could depend on when the collector ran). A variant dropped and asked for again
    (a second sheet of the same student, far down the list) is drawn again: the same one."""

    def __init__(self, ref, base, weights, ft_credit, unnamed: str = "flag", keep=None,
                 cache=None, secret=None):
        self.ref, self.base, self.weights, self.ft_credit = ref, base, weights, ft_credit
        self.unnamed, self.secret = unnamed, secret
        self.variants: dict = {None: base}
        self.memos: dict = {}
        self.keep, self.kept = keep, {}
        self.cache = cache
        self.graded = 0

    def _variant(self, ref, seed=None, **kw):
        """A variant of the exercise loaded once for the run (``base.exercise``), through
        the variant cache: each student's is drawn once, the file read once."""
        from tutor.core import variant, work

        if seed is None or kw:
            return work(ref, seed=seed, **kw)
        return variant(self.base.exercise, int(seed), self.cache)

    def _drop(self, n: int) -> None:
        """Forget the ``n`` variants solved longest ago (never the base values)."""
        drawn = self.base.exercise.drawn
        for key in [k for k in self.variants if k is not None][:n]:
            self.variants.pop(key, None)
            self.memos.pop(key, None)
            drawn.pop(key[1], None)

    def _kept(self, worked) -> Any:
        seed = getattr(worked, "seed", None)
        if seed not in self.kept:
            self.kept[seed] = self.keep(worked)
        return self.kept[seed]

    def one(self, f: Path) -> SheetResult:
        """One sheet's result; whatever goes wrong with it stays with it (the class goes on)."""
        import gc

        from tutor.core import work
        from tutor.errors import TutorError

        self.graded += 1
        if self.graded % COLLECT_EVERY == 0 and not gc.isenabled():
            gc.collect()  # between two sheets, never inside a sheet's time budget

        varied = self.base.exercise.spec.variants is not None
        get = self._variant if varied else work
        if varied and len(self.variants) > KEPT_VARIANTS:
            self._drop(len(self.variants) - KEPT_VARIANTS // 2)
        try:
            return _one(f, self.base, self.variants, self.memos, self.weights,
                        self.ft_credit, self.ref, get, self.unnamed,
                        self._kept if self.keep is not None else None, self.secret)
        except TutorError as err:
            return SheetResult(str(f), error=InputError(str(err), str(f)))
        except Exception as exc:  # a bug in tutor: said, and the other sheets are graded
            return SheetResult(str(f), error=InputError(
                f"internal error while grading this sheet ({type(exc).__name__}: {exc}); "
                "the other sheets are graded. This is a bug in tutor: please report it",
                str(f), code="E999"))


def _fork_context():
    import multiprocessing as mp

    try:
        return mp.get_context("fork")
    except ValueError:  # no fork on this platform: grade in one process
        return None


_WORKER: dict = {}


def _parallel(ctx, jobs: int, state: _State, files: list[Path], progress) -> list[SheetResult]:
    """Grade in ``jobs`` forked workers; results come back light (no SymPy values for the
    base variant: the parent fills ``expected`` in from its own steps).

    Each worker has a pipe of its own and is handed one part at a time; no lock or queue is
    shared, so nothing can be left held by a worker that dies. Workers ignore SIGINT: Ctrl-C
    (sent to the whole foreground process group) reaches the parent only, which kills every
    worker at once (SIGKILL) and lets KeyboardInterrupt go on to the CLI (exit 130) — no
    worker traceback, no waiting for a part to finish, no hang."""
    from multiprocessing.connection import wait

    _WORKER["state"] = state
    chunk = max(1, min(50, len(files) // (jobs * 4) or 1))
    parts = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    out: list = [None] * len(parts)
    by_id = {s.id: s.value for s in state.base.steps}
    workers: list = []  # (process, parent end of its pipe)
    done = 0
    try:
        todo = iter(range(len(parts)))
        for _ in range(min(jobs, len(parts))):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(theirs, parts), daemon=True)
            proc.start()
            theirs.close()
            workers.append((proc, mine))
            mine.send(next(todo))
        busy = {conn: proc for proc, conn in workers}
        while busy:
            for conn in wait(list(busy)):
                try:
                    kind, index, payload = conn.recv()
                except EOFError:
                    raise RuntimeError("a grading worker ended unexpectedly "
                                       f"(exit status {busy[conn].exitcode})") from None
                if kind == "error":
                    raise RuntimeError(f"a grading worker failed: {payload}")
                out[index] = [_unpack(p, by_id) for p in payload]
                done += len(payload)
                if progress:
                    progress(done, len(files))
                nxt = next(todo, None)
                conn.send(nxt)
                if nxt is None:
                    del busy[conn]
    finally:
        _WORKER.clear()
        for proc, conn in workers:
            if proc.is_alive():
                proc.kill()
        for proc, conn in workers:
            proc.join(1)
            conn.close()
    return [r for part in out for r in part]


def _worker_main(conn, parts: list[list[Path]]) -> None:
    """A forked grading worker: grade the part whose index the parent sends, send the
    results back, until it sends None. Never runs the parent's exit handlers (os._exit)."""
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    status = 0
    try:
        while True:
            index = conn.recv()
            if index is None:
                break
            try:
                payload = _grade_part(parts[index])
            except BaseException as exc:  # a bug: the parent says so
                conn.send(("error", index, f"{type(exc).__name__}: {exc}"))
                break
            conn.send(("ok", index, payload))
    except (EOFError, OSError):  # the parent is gone
        status = 1
    finally:
        try:
            conn.close()
        finally:
            os._exit(status)


def _grade_part(part: list[Path]) -> list[tuple]:
    state = _WORKER["state"]
    out = [_pack(state.one(f), state.base) for f in part]
    if state.cache is not None:  # this worker's draws, one transaction per part
        state.cache.flush()
    return out


def _pack(r: SheetResult, base_worked) -> tuple:
    err = None if r.error is None else (
        type(r.error).__name__, r.error.message, r.error.file, r.error.line, r.error.col,
        r.error.code)
    base = r.sheet is not None and r.seed is None
    vs = tuple((v.step_id, v.status, v.answer, v.reason, v.first_wrong, v.misconceptions,
                None if v.status == "correct" else v.follow_value,
                None if base else v.expected, v.wrong_entries, v.zero_misses,
                v.explanation)
               for v in r.verdicts)
    return (r.file, r.sheet, vs, r.score, r.warnings, r.stale, err, r.seed, r.notes, r.kept)


def _unpack(p: tuple, by_id: dict) -> SheetResult:
    file, sheet, vs, sc, warnings, stale, err, seed, notes, kept = p
    if err is not None:
        return SheetResult(file, error=InputError(err[1], err[2], err[3], err[4], err[5]))
    verdicts = tuple(Verdict(sid, status, answer, None,
                             by_id.get(sid) if expected is None else expected, follow,
                             why, first_wrong, tuple(mis), wrong_entries=tuple(bad),
                             zero_misses=tuple(zeros), explanation=explanation)
                     for sid, status, answer, why, first_wrong, mis, follow, expected,
                     bad, zeros, explanation in vs)
    return SheetResult(file, sheet, verdicts, sc, warnings, stale, seed=seed, notes=notes,
                       kept=kept)


UNNAMED = ("flag", "file", "base")  # what `tutor check --unnamed` does with a sheet
# that does not say whose it is, for an exercise with variants (docs/check.md)


def variant_key(base, sheet: Sheet, unnamed: str = "flag",
                secret=None) -> tuple[Any, str | None]:
    """(which variant a sheet is graded against, a note about that choice).

    For an exercise with variants the variant comes from the student's identity, never from
    a seed the sheet carries (a sheet must not pick its own numbers): a sheet that names its
    student is graded against that student's own variant (tutor.variants.student_seed, as
    `tutor template --student` and `tutor practice --student` pick it) — a sheet with bob's
    name and alice's seed (a copied sheet) is graded as bob's, with a note. A sheet without
    ``student:`` is, by ``unnamed``: "flag" — not graded, said why (the default); "file" —
    its file name is the student id (alice.yaml is alice's); "base" — graded against the
    exercise's base values, with a note. ``secret``: the course secret, mixed into the
    student's seed (tutor.course.variant_seeds, as `tutor template --course` takes it)."""
    if getattr(base.exercise.spec, "variants", None) is None:
        return None, None
    student, named = sheet.student, sheet.named
    if not named and unnamed == "file":
        student, named = Path(sheet.file).stem, True
    if not named:
        if unnamed == "base":
            return None, "no student: line: graded against the base values (--unnamed base)"
        raise InputError("no student: line, so it cannot be told whose variant this sheet "
                         f"is ({base.id} gives each student their own numbers, and a sheet's "
                         "seed: is never trusted): add `student: ID`, or grade it with "
                         "--unnamed file (the file name is the student) or --unnamed base",
                         sheet.file, 1)
    if named:
        from tutor.course import variant_seeds

        own, *earlier = variant_seeds(student, base.id, secret)
        note = None
        if sheet.seed is not None and sheet.seed in earlier:  # made before ids were normalised
            return ("seed", sheet.seed), None
        if sheet.seed is not None and sheet.seed != own:
            note = (f"seed {sheet.seed} is not {student}'s variant ({own}): graded "
                    f"against {student}'s own")
        elif not sheet.named:
            note = f"no student: line: graded as {student}'s (its file name, --unnamed file)"
        return ("seed", own), note
    return None, None


def _one(f: Path, base, variants, memos, weights, ft_credit, ref, work,
         unnamed: str = "flag", keep=None, secret=None) -> SheetResult:
    try:
        sheet = read_sheet(f)
        if sheet.exercise is not None and sheet.exercise != base.id:
            raise InputError(f"this sheet is for exercise {sheet.exercise!r}, not {base.id!r}",
                             str(f), sheet.header_lines.get("exercise"))
        key, note = variant_key(base, sheet, unnamed, secret)
        if key not in variants:
            variants[key] = work(ref, **dict([key]))
        worked = variants[key]
    except InputError as err:
        return SheetResult(str(f), error=err)
    answers = {k: v for k, v in sheet.answers.items() if k not in sheet.invalid}
    with within(SHEET_SECONDS) as budget:  # nothing a sheet holds can stall the class
        verdicts = grade(worked, answers, memo=memos.setdefault(key, {}))
        verdicts = [replace(v, explanation=explain(worked, v.diagnosis))  # a grader's report
                    if v.diagnosis is not None else v for v in verdicts]     # reveals answers
    if budget.exceeded:  # every step invalid, with the reason: the teacher sees why
        why = Reason("over_budget", what="grading this sheet", seconds=budget.seconds)
        verdicts = [Verdict(s.id, "invalid", sheet.answers.get(s.id), expected=s.value,
                            reason=why) for s in worked.steps]
    if sheet.invalid:
        verdicts = [Verdict(v.step_id, "invalid", sheet.answers.get(v.step_id),
                            expected=v.expected,
                            reason=Reason("given", text=sheet.invalid[v.step_id]))
                    if v.step_id in sheet.invalid else v for v in verdicts]
    warnings = list(sheet.warnings) + unknown_ids(sheet, [s.id for s in worked.steps])
    stale = bool(sheet.sha) and not worked.exercise.is_version(sheet.sha)
    if not sheet.sha:  # not a pass: which version it was made for cannot be told
        warnings.append(SheetWarning(str(f), None, f"no sha: line, so it cannot be told which "
                                     f"version of {base.id} this sheet was made for: graded "
                                     f"against the current one"))
    if stale:
        warnings.append(SheetWarning(str(f), None, f"made for another version of {base.id} "
                                     f"(sha {sheet.sha}, the exercise is now "
                                     f"{worked.exercise.sha}): graded against the current one",
                                     stale=True))
    notes = (note,) if note else ()
    return SheetResult(str(f), sheet, tuple(verdicts),
                       score(worked, verdicts, weights, ft_credit), tuple(warnings), stale,
                       seed=getattr(worked, "seed", None), notes=notes,
                       kept=keep(worked) if keep is not None else None)


# ─── output ───────────────────────────────────────────────────────────────────────────
def num(x: Fraction | None) -> Any:
    """A score for JSON/CSV: an int when whole, else a float rounded to 4 places."""
    if x is None:
        return None
    return int(x) if x.denominator == 1 else round(float(x), 4)


def _text(v: Any) -> str:
    from tutor.render import fmt

    return "" if v is None else fmt(v)


def sheet_notes(r: SheetResult) -> list[str]:
    """Everything flagged about a graded sheet, compact, for one cell or line: its notes
    (a seed that is not the student's), "stale" when it was made for another version of the
    exercise, and its warnings ("line 7: unknown step id 'dw2' ignored (did you mean
    dW2?)") without the file name the row already gives."""
    out = list(r.notes) + [w.short() for w in r.warnings]
    if r.stale and not any(w.stale for w in r.warnings):
        out.append("stale: made for another version of the exercise")
    return out


def reason(v: Verdict) -> str:
    """Why a step earned less than full marks, in words."""
    from tutor.words import comma_advice, verdict_text

    message = verdict_text(v)
    if v.status in ("correct", "missing"):
        return message
    if v.status == "invalid":
        return message + (f"; {comma_advice(v.comma)}" if v.comma else "")
    plain = v.reason is None or v.reason.kind == "does_not_match"  # said by "expected …"
    parts = [] if plain else [message]
    if v.comma:
        parts.append(comma_advice(v.comma))
    if v.status == "wrong":
        parts.append(f"expected {_text(v.expected)}")
    if v.wrong_entries:
        n = len(v.expected) if hasattr(v.expected, "shape") else len(v.wrong_entries)
        parts.append(f"{len(v.wrong_entries)} of {n} entries wrong: "
                     + ", ".join(wrong_entry_names(v)))
    parts += zero_misses(v)
    names = _misconception_names(v.misconceptions)
    if names:
        parts.append("misconception: " + ", ".join(names))
    return "; ".join(parts)


def _misconception_names(ids: tuple) -> list[str]:
    from tutor.misconceptions import CATALOGUE

    return [CATALOGUE[i].name if i in CATALOGUE else i for i in ids]


VERDICT_NAMES = {"wrong": "wrong answer", "missing": "left blank", "invalid": "invalid answer",
                 "follow-through": "follow-through"}
STYLE = {"correct": "green", "follow_through": "yellow", "wrong": "red", "missing": "dim",
         "invalid": "magenta"}


def to_rich(report: Report, console) -> None:
    """A table per sheet (verdict, points, answer, reason), then a class summary."""
    from rich.markup import escape
    from rich.table import Table

    def shown(text: Any) -> str:  # sheet text: control characters visible, markup inert
        return escape(visible(text))

    for note in report.notes:
        console.print(f"[yellow]warning:[/] {shown(note)}")
    for r in report.results:
        if r.error is not None:
            console.print(f"[bold red]error:[/] {shown(r.error)} (not graded)")
            continue
        for w in r.warnings:
            console.print(f"[yellow]warning:[/] {shown(w)}")
        for n in r.notes:
            console.print(f"[bold yellow]note:[/] {shown(r.file)}: {shown(n)}")
        s = r.score
        t = Table(title=f"{shown(r.file)} — {shown(r.student)}: "
                        f"{_pts(s.total)} / {_pts(s.max)}", title_justify="left")
        for col in ("step", "verdict", "points", "answer", "why"):
            t.add_column(col, overflow="fold")
        for v in r.verdicts:
            t.add_row(v.step_id, f"[{STYLE[v.status]}]{v.status.replace('_', '-')}[/]",
                      f"{_pts(s.points[v.step_id])}/{_pts(s.weights[v.step_id])}",
                      escape(_clip(visible(v.answer))), shown(reason(v)))
        console.print(t)
        if r.first_wrong:
            console.print(f"first wrong step: [bold]{r.first_wrong}[/]")
        for v in r.verdicts:
            if v.explanation:
                console.print(f"[bold]{escape(v.code)}[/]: {shown(v.explanation)}")
    graded = report.graded
    if len(report.results) > 1:
        dup = len(graded) - len(report.counted)
        t = Table(title=f"{escape(report.exercise)}: {len(graded)} of {len(report.results)} "
                        "sheets graded" + (f" ({len(report.counted)} students: {dup} "
                                           f"second sheet{'s' if dup != 1 else ''})"
                                           if dup else ""), title_justify="left")
        notes = {id(r): sheet_notes(r) for r in graded}
        noted = any(notes.values())
        course = any(r.final is not None for r in graded)
        for col in ("sheet", "student", "score") + (("final",) if course else ()) + (
                "first wrong",) + (("note",) if noted else ()):
            t.add_column(col)
        for r in report.results:
            final = "" if r.final is None else \
                f"{_pts(r.final.points)} / {_pts(r.final.possible)}"
            t.add_row(shown(r.file), shown(r.student),
                      "unreadable" if r.error else f"{_pts(r.score.total)} / {_pts(r.score.max)}",
                      *((final,) if course else ()), r.first_wrong or "",
                      *((shown("; ".join(notes.get(id(r), ()))),) if noted else ()))
        console.print(t)
        mis = report.misconception_counts()
        if mis:
            console.print("misconceptions (each student counted once):")
            for line in class_lines(report, mis):
                console.print(f"  {shown(line)}")
        counts = report.code_counts()
        if counts:
            console.print("answer notes (students with each):")
            for code, n in counts:
                console.print(f"  {n:>4} of {len(report.counted)}  {shown(code)}")


def class_lines(report: Report, mis: list[dict] | None = None) -> list[str]:
    """"14 of 120 students: no ReLU mask at delta2" — one line per misconception; its steps
    with their own counts when those differ ("at delta2 (14), dW2 (2)")."""
    n = len(report.counted)
    out = []
    for m in report.misconception_counts() if mis is None else mis:
        same_n = all(s["students"] == m["students"] for s in m["steps"])
        at = ", ".join(s["step"] if same_n else f"{s['step']} ({s['students']})"
                       for s in m["steps"])
        out.append(f"{m['students']:>{len(str(n))}} of {n} students: {m['name']} at {at}")
    return out


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _pts(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.4g}"


def sheet_record(r: SheetResult, exercise: str) -> dict:
    if r.error is not None:
        return {"exercise": exercise, "file": visible(r.file), "error": str(r.error)}
    s = r.score
    steps = []
    for v in r.verdicts:
        steps.append({
            "id": v.step_id, "verdict": v.status,
            "misconception": v.misconceptions[0] if v.misconceptions else None,
            "code": v.code, "points": num(s.points[v.step_id]),
            "weight": num(s.weights[v.step_id]), "answer": v.answer,
            "expected": _text(v.expected) or None,
            "given_yours": _text(v.follow_value) if v.status == "follow_through" else None,
            "first_wrong": v.first_wrong, "message": reason(v) or None,
            "wrong_entries": wrong_entry_names(v), "zero_causes": zero_misses(v),
            "zeros": [{"entries": entry_names(v.step_id, m.entries, m.shape),
                       "cause": record(m.cause)} for m in v.zero_misses],
            "explanation": v.explanation or None,
        })
    # file and student as shown everywhere: a name's control characters and non-UTF-8 bytes
    # escaped (``st\\xffu.yaml``), so the export is valid UTF-8 JSON
    return {"exercise": exercise, "file": visible(r.file), "student": visible(r.student),
            "seed": r.seed, "sheet_seed": r.sheet.seed if r.sheet else None,
            "stale": r.stale, "score": num(s.total), "max": num(s.max),
            "first_wrong": r.first_wrong, "notes": list(r.notes),
            "warnings": [visible(w) for w in r.warnings], "steps": steps,
            **({"course": course_record(r.final)} if r.final is not None else {})}


def to_json(report: Report) -> str:
    """{"exercise", "sheets": [{"exercise", "file", "student", "score", "max", "steps": […]}],
    "summary": {"sheets", "graded", "unreadable", "codes": [{"code", "students"}]}}"""
    doc = {
        "exercise": report.exercise, "sha": report.sha, "ft_credit": num(report.ft_credit),
        "sheets": [sheet_record(r, report.exercise) for r in report.results],
        "summary": summary_record(report),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def summary_record(report: Report) -> dict:
    graded = report.graded
    return {"sheets": len(report.results), "graded": len(graded),
            "students": len(report.counted),  # each student once (two sheets: the last)
            "unreadable": len(report.results) - len(graded),
            "all_correct": sum(r.all_correct for r in report.counted),
            "codes": report.code_rows(),
            "misconceptions": report.misconception_counts()}


def to_csv(report: Report) -> str:
    """A gradebook: one row per sheet — file, student, seed, score, max, first wrong, error,
    then the points of every step. With a course (``SheetResult.final``), after max:
    out_of, earned (the score scaled to out_of), submitted, days_late, penalty, final."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    course = any(r.final is not None for r in report.results)
    extra = COURSE_COLUMNS if course else ()
    w.writerow(["file", "student", "seed", "score", "max", *extra, "first_wrong", "error",
                "note", *report.step_ids])
    for r in report.results:
        if r.error is not None:
            w.writerow([cell(r.file), cell(r.student), "", "", "", *[""] * len(extra), "",
                        cell(str(r.error)), "", *[""] * len(report.step_ids)])
            continue
        pts = r.score.points
        w.writerow([cell(r.file), cell(r.student), "" if r.seed is None else r.seed,
                    num(r.score.total), num(r.score.max),
                    *(course_cells(r.final) if course else ()), r.first_wrong or "", "",
                    cell("; ".join(sheet_notes(r))),
                    *[num(pts[i]) if i in pts else "" for i in report.step_ids]])
    return buf.getvalue()


COURSE_COLUMNS = ("out_of", "earned", "submitted", "days_late", "penalty", "final")


def course_cells(f) -> list:
    """A sheet's COURSE_COLUMNS (blank without a course Final)."""
    if f is None:
        return [""] * len(COURSE_COLUMNS)
    return [num(f.possible), num(f.earned),
            f.submitted.isoformat(timespec="seconds") if f.submitted else "",
            "" if f.days_late is None else f.days_late, num(f.penalty), num(f.points)]


def course_record(f) -> dict | None:
    """A sheet's course Final for JSON: {out_of, earned, submitted, days_late, penalty,
    final, source} (None without a course)."""
    if f is None:
        return None
    return dict(zip(COURSE_COLUMNS, course_cells(f)), source=f.source or None,
                submitted=f.submitted.isoformat(timespec="seconds") if f.submitted else None,
                days_late=f.days_late)


def to_gradebook(report: Report, system: str, roster=None, assignment: str = "") -> str:
    """A grade import file, one row per student (the counted sheet of each; roster students
    with no sheet get an empty score, which both systems leave as it was):

      canvas  Student, ID, SIS User ID, SIS Login ID, Section, <assignment> — a "Points
              Possible" row first; the student id goes in SIS User ID (Canvas matches on it)
      moodle  ID number, Full name, <assignment> — map "ID number" to the user field of
              that name when importing (Grades → Import → CSV file)

    Scores are points (weights applied), as plain decimals; with a course
    (``SheetResult.final``), the assignment's points after the late penalty."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    title = assignment or report.title or report.exercise
    from tutor.roster import student_key

    names = {student_key(st.id): st for st in roster.students} if roster is not None else {}
    rows: list[tuple[str, str, str]] = []  # (id, name, score)
    seen = set()
    for r in report.counted:
        key = student_key(r.student)
        seen.add(key)
        st = names.get(key)
        rows.append((st.id if st else r.student, st.name if st else "",
                     num(r.final.points if r.final is not None else r.score.total)))
    if roster is not None:
        rows += [(st.id, st.name, "") for st in roster.students
                 if student_key(st.id) not in seen]
    top = next((num(r.final.possible if r.final is not None else r.score.max)
                for r in report.results if r.error is None), "")
    if system == "canvas":
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", cell(title)])
        w.writerow(["Points Possible", "", "", "", "", top])
        for sid, name, points in rows:
            w.writerow([cell(name), "", cell(sid), "", "", points])
    else:
        w.writerow(["ID number", "Full name", cell(title)])
        for sid, name, points in rows:
            w.writerow([cell(sid), cell(name), points])
    return buf.getvalue()


_FORMULA_START = ("=", "+", "-", "@")


def cell(text: str) -> str:
    """A CSV text cell a spreadsheet will not run and a terminal will not obey: control
    characters, bidirectional overrides and a file name's non-UTF-8 bytes made visible
    escapes (:func:`visible`: a CR or tab becomes ``\\x0d``, ``\\x09``, so no reader ends
    the row there), then a cell that starts with = + - @ (``=HYPERLINK(…)`` as a student's
    name) gets a leading ' (OWASP's CSV-injection advice). Only for text from sheets and
    files — never a score or seed: those are written as numbers."""
    out = visible(text)
    return "'" + out if out.startswith(_FORMULA_START) else out


def summary_csv(report: Report) -> str:
    """The class summary: code, students, of (graded sheets), step, misconception, name.

    Each misconception first as its total across steps (code = its id, step blank: each
    student counted once; name "no ReLU mask"), then one row per step it was found at
    (name "no ReLU mask at delta2"); then the other answer notes (``dW2.wrong``,
    ``dh1.missing``: name "wrong answer at dW2"), most frequent first."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["code", "students", "of", "step", "misconception", "name"])
    n = len(report.counted)
    rows = report.code_rows()
    order = {sid: i for i, sid in enumerate(report.step_ids)}
    for m in report.misconception_counts():
        w.writerow([m["id"], m["students"], n, "", m["id"], m["name"]])
        for c in sorted((c for c in rows if c["misconception"] == m["id"]),
                        key=lambda c: order.get(c["step"], len(order))):
            w.writerow([c["code"], c["students"], n, c["step"], m["id"], c["label"]])
    for c in rows:
        if c["misconception"] is None:
            w.writerow([c["code"], c["students"], n, c["step"], "", c["label"]])
    return buf.getvalue()


def to_junit(report: Report) -> str:
    """JUnit XML: a testsuite per sheet, a testcase per step; anything not correct is a
    failure (its type the verdict), an unreadable sheet an error."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=f"tutor check {report.exercise}")
    totals = Counter()
    for r in report.results:
        student, file = visible(r.student), visible(r.file)  # XML 1.0 has no control chars
        suite = ET.SubElement(root, "testsuite", name=f"{student} ({file})")
        if r.error is not None:
            case = ET.SubElement(suite, "testcase", classname=file, name="sheet")
            ET.SubElement(case, "error", message=visible(r.error), type="unreadable")
            counts = {"tests": 1, "failures": 0, "errors": 1}
        else:
            notes = sheet_notes(r)
            props = ET.SubElement(suite, "properties")
            for k, val in (("student", student), ("score", num(r.score.total)),
                           ("max", num(r.score.max)), ("first_wrong", r.first_wrong or ""),
                           ("stale", "true" if r.stale else "false"),
                           ("notes", visible("; ".join(notes)))):
                ET.SubElement(props, "property", name=k, value=str(val))
            fails = 0
            for v in r.verdicts:
                case = ET.SubElement(suite, "testcase", classname=student, name=v.step_id)
                if v.status != "correct":
                    fails += 1
                    ET.SubElement(case, "failure", message=visible(f"{v.code}: {reason(v)}"),
                                  type=v.status)
            if notes:
                ET.SubElement(suite, "system-out").text = "\n".join(map(visible, notes))
            counts = {"tests": len(r.verdicts), "failures": fails, "errors": 0}
        for k, n in counts.items():
            suite.set(k, str(n))
            totals[k] += n
    for k in ("tests", "failures", "errors"):
        root.set(k, str(totals[k]))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
