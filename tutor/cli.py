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


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


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
            raise typer.Exit(130) from None
        except Exception as err:  # a bug: say so plainly, no traceback unless asked
            if _state["traceback"] or os.environ.get("TUTOR_TRACEBACK"):
                raise
            _console(stderr=True).print(
                f"[bold red]internal error:[/] {_escape(type(err).__name__)}: {_escape(str(err))}\n"
                "This is a bug in tutor. Run again with --traceback and report it.")
            raise typer.Exit(3) from None

    return wrapper


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
        ctx.invoke(practice, exercise=None)


# ─── solve ─────────────────────────────────────────────────────────────────────────────
class SolveFormat(str, Enum):
    rich = "rich"
    json = "json"
    markdown = "markdown"


@app.command()
@handled
def solve(
    exercise: str = typer.Argument(..., help="Bundled id or path to an exercise YAML file."),
    format: SolveFormat = typer.Option(SolveFormat.rich, "--format", "-f",
                                       help="rich (terminal), json, or markdown (a solution key)."),
    all: bool = typer.Option(False, "--all", help="Every quantity, not only the steps asked."),
):
    """The whole worked solution: forward → backward → update, every step with its formula,
    exact value and decimal value, and the reason for every zero."""
    from tutor import writeup
    from tutor.core import work

    w = work(exercise)
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
        None, help="Bundled id or path; default: the next unfinished bundled exercise."),
):
    """The step-by-step quiz: answer each step; `?` for a hint, `skip`, `quit`."""
    from tutor.practice import run

    raise typer.Exit(run(exercise))


@app.command("list")
@handled
def list_() -> None:
    """Bundled and local exercises, with your progress."""
    from tutor.catalog import bundled, local
    from rich.table import Table

    table = Table(title="Exercises", title_justify="left")
    table.add_column("id", style="bold")
    table.add_column("where")
    for e in bundled() + local():
        table.add_row(e.id, "bundled" if e.bundled else str(e.path))
    _console().print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
