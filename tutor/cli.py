"""The command line: thin wrappers over the core, and the one place errors become exit codes.

Heavy modules (SymPy, pydantic, the engine) are imported inside the commands, so
``tutor --help`` stays instant. Every TutorError becomes its message and exit status here
(0 ok, 1 wrong answers / invalid exercises, 2 usage or unreadable input); ``--traceback``
shows the Python traceback instead, for debugging.
"""
from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from tutor import __version__
from tutor.errors import ExitCode, TutorError

app = typer.Typer(
    name="tutor",
    help="Compute backpropagation by hand, checked exactly.\n\n"
         "Run `tutor` to practise the next exercise, `tutor list` to see them all, "
         "`tutor solve EXERCISE` for a worked solution. EXERCISE is a bundled id "
         "(e.g. lab9-relu-sigmoid-bce) or a path to a YAML file.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"traceback": False}


def _flags_show_no_type() -> None:
    """Typer's help prints a type beside every option, `<bool>` beside a flag too, which reads
    as if `--grads true` were wanted. A flag takes no value, so show none (a no-op on a Typer
    without that column)."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover
        return
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_tutor", False):
        return

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich._tutor = True
    TyperOption.display_type_rich = display_type_rich


_flags_show_no_type()


def _console(stderr: bool = False):
    from rich.console import Console

    # errors are never wrapped: `file:line:col: message` stays one line for editors and grep
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr)


def handled(fn):
    """Run a command; turn user-facing errors into a message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except TutorError as err:
            if _state["traceback"]:
                raise
            _console(stderr=True).print(f"[bold red]error:[/] {_escape(str(err))}")
            raise typer.Exit(int(err.exit_code)) from None
        except KeyboardInterrupt:
            _console(stderr=True).print("\ninterrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except BrokenPipeError:  # `tutor solve … | head`: the reader has gone; nothing to say
            _quiet_pipe()
            raise typer.Exit(int(ExitCode.OK)) from None
        except Exception as err:  # a bug: say so plainly, no traceback unless asked
            if _state["traceback"] or os.environ.get("TUTOR_TRACEBACK"):
                raise
            _console(stderr=True).print(
                f"[bold red]internal error:[/] {_escape(type(err).__name__)}: {_escape(str(err))}\n"
                "This is a bug in tutor. Run again with --traceback and report it.")
            raise typer.Exit(int(ExitCode.INTERNAL)) from None

    return wrapper


def _quiet_pipe() -> None:
    """Point stdout at /dev/null so that Python's flush at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test runner): nothing to quiet
        pass


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _version(value: bool):
    if value:
        typer.echo(f"tutor {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    traceback: bool = typer.Option(False, "--traceback",
                                   help="Show Python tracebacks (for debugging tutor)."),
):
    """Compute backpropagation by hand, checked exactly."""
    _state["traceback"] = traceback
    if ctx.invoked_subcommand is None:
        ctx.invoke(practice, exercise=None, tries=None, seed=None, student=None, plain=False,
                   restart=False, lines=False, new=False)


# ─── solve ─────────────────────────────────────────────────────────────────────────────
class Unnamed(str, Enum):
    flag = "flag"
    file = "file"
    base = "base"


class SolveFormat(str, Enum):
    rich = "rich"
    json = "json"
    markdown = "markdown"


@app.command()
@handled
def solve(
    exercise: str = typer.Argument(..., metavar="EXERCISE", help="Bundled id or path to an exercise YAML file."),
    format: SolveFormat = typer.Option(SolveFormat.rich, "--format", "-f",
                                       help="rich (terminal), json, or markdown (a solution key)."),
    all: bool = typer.Option(False, "--all", help="Every quantity, not only the steps asked."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The variant of this seed "
                                       "(any exercise: one without variants: gets fresh numbers, as practice --new)."),
    student: Optional[str] = typer.Option(None, "--student", help="The student's variant "
                                          "(a stable hash of the id)."),
):
    """The whole worked solution, step by step.

    Forward → backward → update: every step with its formula, exact value and decimal value,
    and the reason for every zero."""
    from tutor import writeup
    from tutor.core import work

    w = work(exercise, fresh=True, **_variant_kw(seed, student))
    steps = w.all_steps if all else w.steps
    if format is SolveFormat.json:
        typer.echo(writeup.to_json_text(w, steps))
    elif format is SolveFormat.markdown:
        typer.echo(writeup.to_markdown(w, steps), nl=False)
    else:
        writeup.to_rich(w, steps, _console())


# ─── practice, list, progress ──────────────────────────────────────────────────────────
@app.command()
@handled
def practice(
    exercise: Optional[str] = typer.Argument(
        None, metavar="EXERCISE", help="Bundled id or path; default: the exercise you left unfinished last, "
                   "else the next unfinished bundled one."),
    tries: Optional[int] = typer.Option(
        None, "--tries", min=1, max=20, show_default=False,
        help="Wrong answers allowed before a step's answer is shown (default: the "
             "unfinished attempt's own limit, else 3)."),
    new: bool = typer.Option(False, "--new", help="Fresh numbers: the same exercise (shapes, "
                             "activations, dead units) with numbers never seen before."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The numbers of this seed again "
                                       "(any exercise: --new says its seed)."),
    student: Optional[str] = typer.Option(None, "--student",
                                          help="Student id: picks your own variant "
                                               "(exercises with variants)."),
    plain: bool = typer.Option(False, "--plain", help="No colour or other escape sequence, no "
                               "redrawing at every step."),
    restart: bool = typer.Option(False, "--restart",
                                 help="Start over instead of resuming an unfinished attempt."),
    lines: bool = typer.Option(False, "--lines",
                               help="Line by line, not the full screen (for screen readers; "
                                    "pipes, --plain and TERM=dumb are line by line anyway)."),
):
    """The step-by-step quiz: answer each step; `?` for a hint, `skip`, `quit`.

    On a terminal the whole screen is used: the drawing, the feedback on your last answer,
    the hints and the prompt together (F1 hint, F2 skip, F3 the drawing alone, F4 entry by
    entry, Ctrl-Q quit). Progress is saved after every answer (in $TUTOR_HOME or your data
    folder): run the same command again to resume."""
    from tutor.practice import run

    given = [o for o, v in (("--new", new or None), ("--seed", seed), ("--student", student))
             if v is not None]
    if len(given) > 1:
        from tutor.errors import UsageError

        raise UsageError(f"give one of --new, --seed and --student, not {' and '.join(given)}")
    raise typer.Exit(run(exercise, tries=tries, seed=seed, student=student, plain=plain,
                         restart=restart, lines=lines, screen=_full_screen, new=new))


def _full_screen(io, store, attempt: int) -> str:
    from tutor.screen import PracticeApp

    return PracticeApp(io, store, attempt).run()


@app.command("list")
@handled
def list_() -> None:
    """Bundled and local exercises, with your progress."""
    from tutor.catalog import bundled, local
    from tutor.progress import Store, StoreError
    from rich.table import Table

    try:
        status = Store().status()
    except StoreError as err:  # still list the exercises
        _console(stderr=True).print(f"[yellow]warning:[/] {_escape(str(err))}")
        status = {}
    from rich import box

    table = Table(title="Exercises", title_justify="left", caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  # no column rules, so that the six columns fit 80 columns
                  caption="best: the best finished attempt's score; 1st try: of its steps, "
                          "right with no wrong try and no hint")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("where")
    table.add_column("status")
    table.add_column("best", justify="right", no_wrap=True)
    table.add_column("1st try", justify="right", no_wrap=True)
    table.add_column("hints", justify="right", no_wrap=True)
    for e in bundled() + local():
        st = status.get(e.id)
        done = st is not None and st.best is not None
        table.add_row(e.id, "bundled" if e.bundled else e.path.name,
                      st.text() if st is not None else "new",
                      f"{st.best}/{st.best_max}" if done else "",
                      f"{st.best_first}/{st.best_max}" if done else "",
                      str(st.best_hints) if done else "")
    _console().print(table)


@app.command()
@handled
def progress() -> None:
    """Your record per skill (δ, weight gradient, bias gradient, pass-back, …)."""
    from tutor.progress import Store
    from tutor.words import SKILLS
    from rich.table import Table

    store = Store()
    recs = {r.skill: r for r in store.skills()}
    if not recs:
        _console().print(f"No answers yet. Run `tutor` to start. (Progress file: {store.path})")
        return
    table = Table(title="Your record per skill", title_justify="left")
    for col in ("skill", "steps", "right first try", "right", "shown", "hints"):
        table.add_column(col, justify="left" if col == "skill" else "right")
    for key, name in SKILLS.items():
        r = recs.get(key)
        if r is not None:
            table.add_row(name, str(r.steps), str(r.first_try), str(r.correct),
                          str(r.revealed), str(r.hints))
    _console().print(table)
    _mastery_chart(store)
    _console().print(f"Progress file: {store.path}", style="dim")


def _mastery_chart(store) -> None:
    """`tutor progress`: mastery per skill as bars (tutor.mastery over the answers), and
    what a bare `tutor` opens next, with why."""
    from rich.text import Text

    from tutor.adapt import candidates, masteries
    from tutor.practice import pick
    from tutor.words import mastery as said

    console = _console()
    skills = masteries(store)
    styles = {"mastered": "green", "learning": "yellow", "weak": "red"}
    console.print()
    console.print(Text(said.chart_title(), style="bold"))
    for line, state in said.chart_rows(skills):
        console.print(Text(line, style=styles.get(state, "")), no_wrap=True, overflow="crop")
    more = said.untried(skills, sorted({k for c in candidates(store) for k in c.skills}))
    if more:
        console.print(Text(more, style="dim"))
    picked = pick(store)
    if picked is None:
        line = said.next_line(None)
    elif picked[3] is None:  # an attempt left open: a bare `tutor` resumes it
        line = said.resume_line(picked[0])
    else:
        line = said.next_line(picked[3])
    console.print(Text(line, style="bold"))


# ─── template, check ───────────────────────────────────────────────────────────────────
@app.command()
@handled
def template(
    exercise: str = typer.Argument(..., metavar="EXERCISE", help="Bundled id or path to an exercise YAML file."),
    student: str = typer.Option("", "--student", help="Fill in the student field "
                                "(and, for exercises with variants, pick the student's variant)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The variant (exercises with "
                                       "variants only)."),
    roster: Optional[Path] = typer.Option(None, "--roster", metavar="FILE.csv",
                                          help="One personal sheet per student of this CSV "
                                               "(an id column; written to --out)."),
    out: Optional[Path] = typer.Option(None, "--out", metavar="DIR",
                                       help="Where --roster writes the sheets (ID.yaml each)."),
    cache: bool = typer.Option(True, "--cache/--no-cache",
                               help="With --roster, for an exercise with variants: write "
                                    "which draw gave each student's variant to the variant "
                                    "cache, so that `tutor check` need not search again."),
    course: Optional[Path] = typer.Option(None, "--course", metavar="COURSE.yaml",
                                          help="EXERCISE is then an assignment of this "
                                               "course file: its exercise, and with --out its "
                                               "roster's sheets; its secret picks each "
                                               "student's variant (docs/course.md)."),
):
    """A blank answer sheet (YAML) to fill in and grade.

    The given numbers (as comments), then every step id in order, each with its meaning and
    shape. Save it, fill it in, grade it with `tutor check EXERCISE SHEET`. For a class:
    `tutor template EXERCISE --roster students.csv --out sheets/` writes one sheet per
    student (their own variant where the exercise has variants); a sheet already there is
    never overwritten. A course: `tutor template --course course.yaml lab9 --out lab9/`."""
    from tutor.core import work
    from tutor.errors import UsageError
    from tutor.template import template as make

    if course is not None:
        raise typer.Exit(_course_template(course, exercise, student, seed, roster, out,
                                          cache))
    if roster is not None or out is not None:
        if roster is None or out is None:
            raise UsageError("--roster and --out go together: tutor template EXERCISE "
                             "--roster students.csv --out DIR")
        if seed is not None or student:
            raise UsageError("--roster names every student: not with --student or --seed")
        raise typer.Exit(_roster_sheets(exercise, roster, out, cache))
    if seed is not None and student:
        raise UsageError("give --student or --seed, not both: a sheet that names a student "
                         "is graded against that student's own variant")
    kw = {k: v for k, v in (("seed", seed), ("student", student or None)) if v is not None}
    w = work(exercise, **kw, note=False)
    if seed is not None and w.exercise.spec.variants is None:
        from tutor.core import ignored_note

        ignored_note(seed, None)  # --student still fills in the sheet's student field
    typer.echo(make(w, student), nl=False)


def _course_template(course_file: Path, name: str, student: str, seed: Optional[int],
                     roster: Optional[Path], out: Optional[Path], cache: bool) -> int:
    """tutor template --course COURSE ASSIGNMENT: with --out, the roster's sheets; with
    --student, that student's sheet; either way each variant from the course secret."""
    import shlex

    from tutor import course as courses
    from tutor.core import work
    from tutor.errors import UsageError
    from tutor.template import template as make

    if roster is not None or seed is not None:
        raise UsageError("--course gives the roster and each student's variant: not with "
                         "--roster or --seed")
    c = courses.read_course(course_file)
    asg = c.assignment(name)
    secret = c.secret()
    _secret_warning(secret)
    grade = (f"tutor check --course {shlex.quote(str(course_file))} "
             f"{shlex.quote(asg.name)} SHEETS")
    if out is not None:
        if student:
            raise UsageError("--out writes the sheet of every student on the roster: not "
                             "with --student")
        class_list = c.roster()
        if class_list is None:
            raise UsageError(f"{c.file} names no roster: for --out, add `roster: "
                             "students.csv`")
        return _roster_sheets(asg.exercise, class_list, out, cache, secret, grade)
    w = work(asg.exercise, note=False)
    if student and w.exercise.spec.variants is not None:
        w = work(asg.exercise, seed=courses.variant_seed(student, w.exercise.id, secret),
                 note=False)
    typer.echo(make(w, student, grade), nl=False)
    return 0


def _secret_warning(secret) -> None:
    from tutor.course import secret_warning

    said = secret_warning(secret) if secret is not None else None
    if said:
        typer.echo(f"warning: {said}", err=True)


def _roster_sheets(exercise: str, roster_file, out: Path, cache: bool = True,
                   secret=None, grade: Optional[str] = None) -> int:
    """tutor template --roster: the sheets, a progress bar on a terminal, one summary line.
    ``roster_file``: a path, or a Roster already read (a course's)."""
    from collections import Counter

    from rich.progress import Progress

    from tutor.drawcache import for_command
    from tutor.roster import read_roster
    from tutor.template import personal_sheets

    roster = read_roster(roster_file) if isinstance(roster_file, (str, Path)) else roster_file
    done: Counter = Counter()
    kept: list[str] = []
    err = _console(stderr=True)
    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("writing sheets", total=len(roster.students))
        for st, path, status in personal_sheets(exercise, roster, out,
                                                for_command(cache, read=False), secret,
                                                grade):
            done[status] += 1
            if status == "kept":
                kept.append(path.name)
            bar.advance(task)
    parts = [f"{done['written']} written"] + [f"{done[k]} {k}" for k in ("unchanged", "kept")
                                              if done[k]]
    typer.echo(f"{len(roster.students)} sheets in {out}: " + ", ".join(parts))
    if kept:
        typer.echo(f"warning: {len(kept)} files already there and different (filled in?), "
                   f"not overwritten: " + ", ".join(kept[:10])
                   + (f", … ({len(kept) - 10} more)" if len(kept) > 10 else ""), err=True)
    return 0


class CheckFormat(str, Enum):
    rich = "rich"
    json = "json"
    csv = "csv"
    junit = "junit"
    canvas = "canvas"
    moodle = "moodle"
    markdown = "markdown"
    html = "html"


@app.command()
@handled
def check(
    exercise: str = typer.Argument(..., metavar="EXERCISE", help="Bundled id or path to an "
                                   "exercise YAML file (with --course: the assignment)."),
    sheets: List[Path] = typer.Argument(..., metavar="SHEETS", help="Answer sheets (YAML), or folders of them."),
    format: CheckFormat = typer.Option(CheckFormat.rich, "--format", "-f",
                                       help="rich (tables), json, csv (one row per sheet, "
                                            "points per step), junit (XML for CI), canvas or "
                                            "moodle (a grade import file: one row per student), "
                                            "markdown or html (a class report: the score "
                                            "distribution as a chart, the misconceptions and "
                                            "the commonest mistakes per step: `-f html > "
                                            "class.html`)."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="YAML: step id or phase "
                                           "(forward, backward, inputs, update) → weight; "
                                           "default 1 per step."),
    ft_credit: Optional[float] = typer.Option(None, "--ft-credit", min=0.0, max=1.0,
                                              help="Share of a step's weight earned by "
                                                   "follow-through (default 0.5)."),
    summary: bool = typer.Option(False, "--summary", help="With --format csv: the class "
                                 "summary instead: each misconception's total (each student "
                                 "once), its steps, and the other answer notes, with names."),
    unnamed: Unnamed = typer.Option(Unnamed.flag, "--unnamed",
                                    help="A sheet without `student:`, for an exercise with "
                                         "variants: flag it, not graded (its seed is never "
                                         "trusted); file: its file name is the student; "
                                         "base: grade it against the base values."),
    roster: Optional[Path] = typer.Option(None, "--roster", metavar="FILE.csv",
                                          help="The class list: sheets of students not on it "
                                               "are flagged, students with no sheet listed "
                                               "(and given an empty row in canvas/moodle)."),
    assignment: str = typer.Option("", "--assignment", help="The grade column's name in "
                                   "canvas/moodle files (default: the exercise title)."),
    jobs: int = typer.Option(0, "--jobs", "-j", min=0, help="Worker processes; 0: one per core "
                             "(up to 4) from 200 sheets up, or from 8 sheets up for an "
                             "exercise with variants (each student's variant is drawn anew)."),
    feedback: Optional[Path] = typer.Option(
        None, "--feedback", metavar="DIR",
        help="Also write each student's feedback into DIR (made if missing): ID.md and "
             "ID.html (opens in any browser, nothing fetched) with their score, each step "
             "not right with its diagnosis, the misconception and the rule in words, and "
             "the worked solution with their own numbers. One pair per student (the "
             "counted sheet of one who handed in two); only DIR is written to."),
    cache: bool = typer.Option(True, "--cache/--no-cache",
                               help="For an exercise with variants: use the variant cache "
                                    "(which draw gave each student's variant, written by "
                                    "`tutor template --roster` and earlier checks; checked "
                                    "before use). --no-cache draws every variant anew."),
    course: Optional[Path] = typer.Option(
        None, "--course", metavar="COURSE.yaml",
        help="Grade an assignment of a course file: EXERCISE is the assignment's name; the "
             "course gives its exercise, roster, step weights, points, due date and late "
             "penalty, and its secret picks each student's variant (docs/course.md)."),
    submitted: Optional[Path] = typer.Option(
        None, "--submitted", metavar="TIMES.csv",
        help="With --course: when each student handed in (an id column and a submitted "
             "column); default: each sheet's file modification time."),
):
    """Grade answer sheets (files or folders of them).

    Per step: correct, wrong, missing, invalid, or follow-through (right given your own
    earlier answers). Exit 0 when all are correct, 1 when anything is not, 2 for unreadable
    input (a sheet, an empty folder, a bad exercise) or feedback that cannot be written; the
    other sheets are still graded. Back to the class: `tutor check EXERCISE class/
    --feedback feedback/ --format html > class.html` writes each student their own page
    (Markdown and HTML) and the teacher the class report."""
    from fractions import Fraction

    from tutor import check as checking
    from tutor.core import work
    from tutor.errors import visible

    if summary and format is not CheckFormat.csv:
        typer.echo("note: --summary goes with --format csv (the class summary is already in "
                   "the rich report of several sheets and in --format json)", err=True)
    w = asg = c = secret = times = None
    if course is not None:
        from tutor import course as courses
        from tutor.errors import UsageError

        given = [o for o, v in (("--roster", roster), ("--weights", weights),
                                ("--assignment", assignment or None)) if v is not None]
        if given:
            raise UsageError(f"--course gives the roster, the weights and the column name: "
                             f"not with {', '.join(given)}")
        c = courses.read_course(course)
        asg = c.assignment(exercise)
        if ft_credit is not None and asg.ft_credit is not None:
            raise UsageError(f"the course gives {asg.name}'s ft_credit: not with --ft-credit")
        secret = c.secret()
        _secret_warning(secret)
        exercise, assignment = asg.exercise, asg.title
        if asg.ft_credit is not None:
            ft_credit = asg.ft_credit
        if asg.weights is not None:
            w = asg.step_weights([s.id for s in work(exercise).steps])
        if submitted is not None:
            times = courses.read_times(submitted, c.timezone)
    elif submitted is not None:
        from tutor.errors import UsageError

        raise UsageError("--submitted goes with --course (the due date and the late penalty "
                         "are the course file's)")
    if ft_credit is None:
        ft_credit = 0.5
    if weights is not None:
        w = checking.load_weights(weights, [s.id for s in work(exercise).steps])
    class_list = c.roster() if c is not None else None
    if roster is not None:
        from tutor.roster import read_roster

        class_list = read_roster(roster)
    if feedback is not None and feedback.exists() and not feedback.is_dir():
        from tutor.errors import UsageError

        raise UsageError(f"--feedback {visible(str(feedback))}: that is a file; give a "
                         "folder (it is made if missing)")
    from tutor import feedback as fb

    bar = _ProgressBar()
    try:
        from tutor.drawcache import for_command

        report = checking.check(exercise, sheets, w, Fraction(str(ft_credit)), bar.update,
                                jobs, unnamed.value, roster=class_list,
                                keep=fb.key if feedback is not None else None,
                                cache=for_command(cache), secret=secret)
    finally:
        bar.close()
    if asg is not None:
        report = courses.finish(report, asg, times, c.timezone)
    if format is CheckFormat.json:
        typer.echo(checking.to_json(report))
    elif format is CheckFormat.csv:
        typer.echo(checking.summary_csv(report) if summary else checking.to_csv(report),
                   nl=False)
    elif format is CheckFormat.junit:
        typer.echo(checking.to_junit(report), nl=False)
    elif format in (CheckFormat.canvas, CheckFormat.moodle):
        typer.echo(checking.to_gradebook(report, format.value, class_list, assignment),
                   nl=False)
    elif format is CheckFormat.markdown:
        typer.echo(fb.class_markdown(report), nl=False)
    elif format is CheckFormat.html:
        typer.echo(fb.class_html(report), nl=False)
    else:
        checking.to_rich(report, _console())
    if format is not CheckFormat.rich:  # the rich report has them; the others on stderr
        for note in report.notes:
            typer.echo(f"warning: {visible(note)}", err=True)
        if not report.results:
            typer.echo("error: no answer sheets to grade", err=True)
    bad = [r for r in report.results if r.error is not None]
    if format is not CheckFormat.rich or len(report.results) > 1:  # and once more at the end
        if bad and format is CheckFormat.rich:
            typer.echo(f"{len(bad)} of {len(report.results)} sheets not graded:", err=True)
        for r in bad:  # unreadable sheets also go to stderr, after the report
            typer.echo(f"error: {visible(r.error)}", err=True)
    if feedback is not None:
        done = fb.write(report, feedback, class_list)
        for note in done.notes:
            typer.echo(f"note: {visible(note)}", err=True)
        typer.echo(f"feedback for {done.students} student{'s' if done.students != 1 else ''} "
                   f"in {visible(str(feedback))}: {len(done.files)} files (.md and .html)",
                   err=True)
    raise typer.Exit(report.exit_code)


class _ProgressBar:
    """A rich progress bar on stderr, only for long runs (many sheets, many variants) and
    only on a terminal."""

    def __init__(self, label: str = "grading", at_least: int = 20):
        self.bar = self.task = None
        self.label, self.at_least = label, at_least

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < self.at_least or not sys.stderr.isatty():
                return
            from rich.markup import escape
            from rich.progress import Progress

            from tutor.errors import visible

            self.bar = Progress(console=_console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task(escape(visible(self.label)), total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command("course")
@handled
def course_(
    course: Path = typer.Argument(..., metavar="COURSE.yaml", help="A course file."),
    new_secret: bool = typer.Option(False, "--new-secret",
                                    help="Write a new random secret to the file the course's "
                                         "`secret:` names (never over an existing one)."),
):
    """Check a course file and show what it says: roster, secret, each assignment's
    exercise, due date, points, weights and late penalty.

    Everything is read as `tutor template --course` and `tutor check --course` read it
    (each exercise loaded, each weight checked against its steps, the roster and the
    secret read), so a mistake is found here, at its file:line:col, exit 2."""
    from tutor import course as courses
    from tutor.core import work
    from tutor.errors import UsageError, visible

    c = courses.read_course(course)
    if new_secret:
        if c.secret_file is None:
            raise UsageError(f"{visible(c.file)} names no secret: add `secret: course.secret`"
                             " first")
        made = courses.new_secret(Path(c.secret_file))
        typer.echo(f"a new course secret in {visible(str(made))} (readable by you only): "
                   "keep it, and a copy; every student's variant depends on it", err=True)
    roster = c.roster()
    secret = c.secret()
    _secret_warning(secret)
    for a in c.assignments.values():
        w = work(a.exercise, note=False)
        a.step_weights([s.id for s in w.steps])
    for line in courses.summary(c):
        typer.echo(visible(line))
    if roster is not None:
        typer.echo(f"  {len(roster.students)} students on the roster")


# ─── authoring: validate, schema, new, show ────────────────────────────────────────────
def _variant_kw(seed: Optional[int], student: Optional[str]) -> dict:
    """--seed/--student as keywords for core.work (only those given)."""
    from tutor.errors import UsageError

    if seed is not None and student is not None:
        raise UsageError("give --seed or --student, not both")
    return {k: v for k, v in (("seed", seed), ("student", student)) if v is not None}


class ValidateFormat(str, Enum):
    text = "text"
    json = "json"


@app.command()
@handled
def validate(
    files: Optional[List[Path]] = typer.Argument(None, metavar="FILES",
                                                 help="Exercise YAML files, or folders of them."),
    format: ValidateFormat = typer.Option(ValidateFormat.text, "--format", "-f",
                                          help="text (file:line:col: CODE message) or json."),
    ignore: Optional[str] = typer.Option(None, "--ignore",
                                         help="Comma-separated codes to skip, e.g. W302,W303."),
    no_warnings: bool = typer.Option(False, "--no-warnings", help="Report errors only."),
    strict: bool = typer.Option(False, "--strict", help="Also W305: every single step whose "
                                "answer a catalogued misconception reproduces."),
    codes: bool = typer.Option(False, "--codes", help="List every code and what it means."),
    variants: Optional[int] = typer.Option(
        None, "--variants", min=1, metavar="N",
        help="Draw seeds 0…N-1 of every exercise with a variants: block (not only seed 0) "
             "and check each, with its tests:."),
):
    """Lint exercise files: every problem at once.

    Each as `file:line:col: CODE message` (`--codes` lists the codes). Exit 1 when there is
    any problem, 2 when a file cannot be read (E000: missing, not UTF-8); the other files
    are still checked. An exercise's `tests:` (answers and the verdicts they must get) are
    checked too."""
    import json

    from tutor.errors import UsageError
    from tutor.validate import CODES, UNREADABLE, unknown_codes, validate_file

    if codes:
        for code, meaning in CODES.items():
            typer.echo(f"{code}  {meaning}")
        raise typer.Exit(int(ExitCode.OK))
    if not files:
        raise UsageError("give one or more exercise files or folders (or --codes to list the "
                         "codes)")
    skip = {c.strip().upper() for c in (ignore or "").split(",") if c.strip()}
    unknown = unknown_codes(sorted(skip))
    if unknown:
        raise UsageError(f"--ignore: no such code {', '.join(unknown)}; the codes are "
                         f"{', '.join(CODES)} (tutor validate --codes says what each means)")
    found, unreadable = [], False
    # a folder stands for the exercise files in it (*.yaml, *.yml)
    files = [g for f in files for g in (sorted(list(f.glob("*.yaml")) + list(f.glob("*.yml")))
                                        if f.is_dir() else [f])]
    for f in files:
        bar = _ProgressBar(f"variants of {f.name}", at_least=10)
        try:
            problems = validate_file(f, strict, variants or 0, bar.update)
        finally:
            bar.close()
        for p in problems:
            unreadable = unreadable or p.code == UNREADABLE
            if p.code == UNREADABLE or (p.code not in skip
                                        and not (no_warnings and p.is_warning)):
                found.append(p)  # an unreadable file is always said (and exits 2)
    if format is ValidateFormat.json:
        typer.echo(json.dumps([p.record() for p in found], ensure_ascii=False, indent=2))
    else:
        for p in found:
            typer.echo(p.text())
        errors = sum(not p.is_warning for p in found)
        warnings = len(found) - errors
        summary = (f"Found {errors} error{'s' * (errors != 1)} and {warnings} "
                   f"warning{'s' * (warnings != 1)} in {len(files)} file{'s' * (len(files) != 1)}."
                   if found else f"All clean: {len(files)} file{'s' * (len(files) != 1)}.")
        typer.echo(summary, err=True)
    code = ExitCode.USAGE if unreadable else ExitCode.FAILED if found else ExitCode.OK
    raise typer.Exit(int(code))


@app.command()
@handled
def schema(
    write: Optional[Path] = typer.Option(None, "--write", help="Write the schema to this file "
                                         "instead of printing it."),
):
    """The JSON Schema of the exercise format (for editors: yaml-language-server)."""
    from tutor.scaffold import schema_text

    text = schema_text()
    if write is None:
        typer.echo(text, nl=False)
    else:
        from tutor.errors import InputError

        try:
            write.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {write}: {exc}") from None
        typer.echo(f"wrote {write}", err=True)


class NewKind(str, Enum):
    network = "network"
    graph = "graph"


@app.command()
@handled
def new(
    name: str = typer.Argument(..., metavar="NAME", help="The exercise id; the file is NAME.yaml."),
    kind: NewKind = typer.Option(NewKind.network, "--kind", "-k", help="network or graph."),
    directory: Path = typer.Option(Path("."), "--dir", "-d", help="Where to write it."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
):
    """Scaffold an exercise that validates and solves as is.

    A commented YAML file, and exercise.schema.json beside it (for editors) when it is not
    there yet."""
    from tutor.scaffold import create

    path, schema = create(name, kind.value, directory, force)
    typer.echo(f"created {path}")
    if schema is not None:
        typer.echo(f"created {schema} (the JSON Schema its first line points editors at)")
    typer.echo(f"next: tutor validate {path} · tutor solve {path} · tutor practice {path}")


class ShowFormat(str, Enum):
    text = "text"
    dot = "dot"


@app.command()
@handled
def show(
    exercise: str = typer.Argument(..., metavar="EXERCISE", help="Bundled id or path to an exercise YAML file."),
    grads: Optional[bool] = typer.Option(
        None, "--grads/--no-grads", "-g", help="Show the gradients too (default: once you "
        "have finished the exercise in practice)."),
    format: ShowFormat = typer.Option(ShowFormat.text, "--format", "-f",
                                      help="text (the terminal) or dot (Graphviz)."),
    iteration: int = typer.Option(1, "--iteration", "-i", help="Which SGD iteration."),
    seed: Optional[int] = typer.Option(None, "--seed", help="The variant of this seed "
                                       "(any exercise: one without variants: gets fresh numbers, as practice --new)."),
    student: Optional[str] = typer.Option(None, "--student", help="The student's variant."),
):
    """Draw the network or graph with its values.

    With --grads the gradients too (shown by default once you have finished the exercise);
    `--format dot | dot -Tsvg > graph.svg` for Graphviz."""
    from tutor.core import work
    from tutor.show import show as render

    w = work(exercise, fresh=True, **_variant_kw(seed, student))
    if grads is None:  # DESIGN §3: the gradients once the exercise is solved
        grads = _finished(w.id)
        if grads:
            typer.echo("gradients shown: you have finished this exercise (--no-grads hides "
                       "them)", err=True)
    render(w, grads=grads, fmt=format.value, it=iteration, console=_console())


def _finished(exercise_id: str) -> bool:
    """Whether the user has finished this exercise in practice at least once (a user who
    never practised has no store, and `show` does not create one)."""
    from tutor.progress import Store, StoreError, default_path

    if not default_path().exists():
        return False
    try:
        st = Store().status().get(exercise_id)
    except StoreError:  # no readable progress store: nothing finished
        return False
    return st is not None and st.finished > 0


# ─── export: Moodle XML, Canvas QTI ────────────────────────────────────────────────────
class ExportFormat(str, Enum):
    moodle_xml = "moodle-xml"
    qti = "qti"


class ExportQuestions(str, Enum):
    step = "step"
    exercise = "exercise"


@app.command()
@handled
def export(
    exercise: str = typer.Argument(..., metavar="EXERCISE", help="Bundled id or path to an exercise YAML file."),
    format: ExportFormat = typer.Option(
        ..., "--format", "-f", help="moodle-xml (Question bank → Import → Moodle XML format) "
        "or qti (Canvas: Settings → Import Course Content → QTI .zip file)."),
    variants: Optional[int] = typer.Option(
        None, "--variants", metavar="N", help="Seeds 0…N-1, each student a random one: Moodle, "
        "one question per variant in one category (a quiz's random question); Canvas, one "
        "quiz per variant."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Only the variant of this seed."),
    questions: Optional[ExportQuestions] = typer.Option(
        None, "--questions", help="step: a question per step; exercise: one Moodle cloze "
        "question holding every step (the default with --variants)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE",
                                       help="Where to write (moodle-xml: default stdout; qti: "
                                            "default EXERCISE-qti.zip)."),
):
    """Export an exercise as quiz questions for Moodle or Canvas.

    Each step is a question keyed by its exact value, to the exercise's tolerance: a scalar
    a numerical question; a vector or matrix a Moodle cloze question (a number field per
    entry, in the value's shape) or, in Canvas, a numerical question per entry. No STACK or
    plug-in needed. See docs/export.md.

    tutor export lab9-relu-sigmoid-bce -f moodle-xml -o lab9.xml ·
    tutor export lab9-variants -f moodle-xml --variants 100 -o bank.xml ·
    tutor export lab9-relu-sigmoid-bce -f qti -o lab9.zip"""
    from tutor.export import export as run

    bar = _ProgressBar("variants", at_least=10)
    try:
        said = run(exercise, format.value, variants, seed,
                   questions.value if questions else None, out, bar.update)
    finally:
        bar.close()
    typer.echo(said, err=True)


def _reflowed(doc: str) -> str:
    """A command's docstring as help: each paragraph one line, for Rich to wrap at the
    terminal's width (Typer's rich mode keeps the docstring's own line breaks, which at 80
    columns left a word or two alone on every other line). A paragraph of commands
    (every line ``tutor …``) keeps its lines."""
    paragraphs = [p.strip() for p in doc.strip().split("\n\n")]
    out = []
    for p in paragraphs:
        lines = [line.strip() for line in p.splitlines()]
        if all(line.startswith("tutor ") for line in lines):
            out.append("\n".join(lines))
        else:
            out.append(" ".join(lines))
    return "\n\n".join(out)


def _reflow_help() -> None:
    import inspect

    for c in app.registered_commands:
        if c.help is None and c.callback is not None and c.callback.__doc__:
            c.help = _reflowed(inspect.getdoc(c.callback))


_reflow_help()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        _quiet_pipe()
        sys.exit(int(ExitCode.OK))


if __name__ == "__main__":
    main()
