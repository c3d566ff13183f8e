"""One exit-code enum holds every status the program returns (tutor.errors.ExitCode), and a
reader that stops early (`tutor validate DIR | head -1`) ends the program quietly."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tutor.errors import ExitCode

ROOT = Path(__file__).resolve().parents[1]


def test_every_status_is_in_the_enum_and_the_readme():
    assert {int(c) for c in ExitCode} == {0, 1, 2, 3, 130}
    readme = (ROOT / "README.md").read_text()
    for words in ("0 all good", "1 wrong answers", "2 usage", "3 a bug in tutor",
                  "130 interrupted"):
        assert words in " ".join(readme.split()), words


def test_no_literal_exit_status_outside_the_enum():
    """typer.Exit(3) or sys.exit(130) written as numbers would drift from the enum."""
    import re

    for path in (ROOT / "tutor").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"(typer\.Exit|sys\.exit|SystemExit)\(\s*\d", text), path


@pytest.mark.parametrize("args", [
    ["validate", str(ROOT / "tests" / "broken")],
    ["solve", "lab9-relu-sigmoid-bce", "--format", "json"],
    ["solve", "lab9-relu-sigmoid-bce"],
    ["show", "lab9-relu-sigmoid-bce"],
])
def test_a_closed_pipe_ends_quietly(args, tmp_path):
    env = {**os.environ, "TUTOR_HOME": str(tmp_path), "COLUMNS": "80"}
    env.pop("TUTOR_TRACEBACK", None)
    p = subprocess.Popen([sys.executable, "-m", "tutor", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=ROOT)
    p.stdout.read(20)  # `| head -c 20`: the reader stops, and closes its end
    p.stdout.close()
    err = p.stderr.read().decode()
    code = p.wait(timeout=60)
    assert "Traceback" not in err and "internal error" not in err and "BrokenPipe" not in err
    assert code in (0, 1), (code, err)  # never 3 (a bug) for a closed pipe
