"""The benchmark script: whole processes and core calls, medians of several runs.

    python bench/run.py            # everything, prints a Markdown report
    python bench/run.py help solve # only some sections

Not a test: timings depend on the machine. The figures go in docs/performance.md.
Each section is a function registered with @section; it returns Markdown table rows.
"""
from __future__ import annotations

import os
import statistics
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


def main(argv: list[str]) -> None:
    names = argv or list(SECTIONS)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores\n")
    print(row("what", "median", "target"))
    print(row("---", "---", "---"))
    for name in names:
        for r in SECTIONS[name]():
            print(r, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
