"""Ctrl-C during a parallel `tutor check`, on a real pseudo-terminal (issue 10): the workers
end quietly and at once — exit 130 within a second, "interrupted", no traceback, no worker
left running. Ctrl-C is sent as a terminal sends it (to the whole foreground process
group: the workers get it too), once the progress bar is on the screen, at three moments."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

SEED = Path(__file__).parent / "sheets" / "lab9-seed003.yaml"


def _class(folder: Path, n: int) -> None:
    """n sheets; most with a different wrong δ2 (each a follow-through solve: slow enough)."""
    text = SEED.read_text()
    for i in range(n):
        wrong = text.replace("delta2: [-0.2192, 0]", f"delta2: [-0.2192, {i % 97}]")
        (folder / f"s{i:04}.yaml").write_text(wrong.replace("seed003", f"st{i}"))


def _alive(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (the class folder)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
            except OSError:
                pass
    return out


@pytest.mark.parametrize("delay", [0.0, 0.7, 1.5])
def test_ctrl_c_in_a_parallel_check_ends_at_once_without_a_traceback(tmp_path, delay):
    folder = tmp_path / f"class-{delay}"
    folder.mkdir()
    _class(folder, 1500)
    env = {**os.environ, "TUTOR_HOME": str(tmp_path / "home"), "TERM": "xterm",
           "COLUMNS": "80", "LINES": "24"}
    env.pop("TUTOR_TRACEBACK", None)
    child = pexpect.spawn(sys.executable, ["-m", "tutor", "check", "lab9-relu-sigmoid-bce",
                                           str(folder), "--jobs", "2"],
                          env=env, encoding="utf-8", timeout=60, dimensions=(24, 80))
    child.expect_exact("grading")  # the workers are running
    time.sleep(delay)
    child.sendintr()
    t = time.monotonic()
    child.expect(pexpect.EOF, timeout=10)
    took = time.monotonic() - t
    child.close()
    screen = child.before
    assert child.exitstatus == 130, (child.exitstatus, child.signalstatus, screen[-500:])
    assert took < 1.0, took
    assert "interrupted" in screen
    assert "Traceback" not in screen and "Error" not in screen
    time.sleep(0.2)
    assert _alive(str(folder)) == []  # no worker left behind
