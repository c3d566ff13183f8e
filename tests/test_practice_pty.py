"""A real terminal session (pexpect): answer, ask a hint, answer right, a wrong try, Ctrl-C,
resume (the wrong try kept), finish. Every answer is typed only once its prompt is on the
screen (``prompt``: the step's header line holds "z2 = " too, and is not the prompt).

Timeouts are generous (the machine may be shared and loaded): every expect waits up to
TIMEOUT seconds, and Ctrl-C is sent only once the prompt for the step is on the screen."""
from __future__ import annotations

import os
import re
import sys
import time

import pytest

pexpect = pytest.importorskip("pexpect")

from tutor.core import work  # noqa: E402
from tutor.render import fmt  # noqa: E402

EX = "lab9-relu-sigmoid-bce"
TIMEOUT = 60


def spawn(home, *args):
    env = {**os.environ, "TUTOR_HOME": str(home), "TERM": "xterm", "NO_COLOR": "1",
           "COLUMNS": "80", "LINES": "40"}
    env.pop("TUTOR_TRACEBACK", None)
    return pexpect.spawn(sys.executable, ["-m", "tutor", "practice", "--lines", *(args or (EX,))],
                         env=env, encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 80))


def prompt(child, step_id: str | None = None) -> None:
    """Wait for the prompt itself: ``h1 = `` at the start of a line and the last thing on
    the screen — input() is reading. (The step's header "[2/24] h1: h1 = relu(z1)" holds
    "h1 = " too, and so do the feedback lines: only the prompt starts a line with it and
    is followed by nothing.) Escape sequences a line editor may write first are allowed."""
    name = re.escape(step_id) if step_id is not None else r"[\w.]+"  # None: any step
    child.expect(r"\r\n(?:\x1b\[[0-9;?]*[A-Za-z])*" + name + r" = $")


def test_terminal_session_with_hint_interrupt_and_resume(tmp_path):
    steps = work(EX).steps
    child = spawn(tmp_path)
    child.expect_exact("[1/24] z1: z1 = W1 x + b1  (vector of 2)")
    prompt(child, "z1")
    child.sendline("0.6 0.1")
    child.expect_exact("✓ z1 = [0.6, 0.1]")
    child.expect_exact("[2/24] h1: h1 = relu(z1)  (vector of 2)")
    prompt(child, "h1")
    child.sendline("?")
    child.expect_exact("Rule: h1 = relu(z1)")
    prompt(child, "h1")
    child.sendline("[0.6, 0.1]")
    child.expect_exact("✓ h1 = [0.6, 0.1]")
    # line by line, no redraw between the explanation and the next prompt (issue 14)
    child.expect_exact("[3/24] z2: z2 = W2 h1 + b2  (vector of 2)")
    prompt(child, "z2")
    child.sendline("[1, 1]")
    child.expect_exact("✗ z2 = [1, 1] is not right (1 of 3 tries).")
    child.expect_exact("Rule: z2 = W2 h1 + b2")  # the last line of the feedback
    prompt(child, "z2")  # input() is reading
    time.sleep(0.3)
    child.sendintr()  # Ctrl-C at the prompt
    child.expect_exact("Interrupted. Your progress is saved. To go on where you stopped:\r\n"
                       "    tutor practice lab9-relu-sigmoid-bce\r\n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130

    child = spawn(tmp_path)
    child.expect_exact("Resuming: 2 of 24 steps already done.")
    child.expect_exact("z2: 1 wrong try used so far (2 of 3 tries left).")
    child.expect_exact("Your hints so far:")
    child.expect_exact("Rule: z2 = W2 h1 + b2")  # the hint earned before Ctrl-C, again
    for s in steps[2:]:
        prompt(child, s.id)
        child.sendline(fmt(s.value))
        child.expect_exact(f"✓ {s.id} = ")
    child.expect_exact("Score: 24/24")
    child.expect_exact("9 of 15 parameters will change.")
    child.expect_exact("Show the worked solution? [y/N] ")
    child.sendline("n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in (child.before or "")


def test_plain_ctrl_d_and_a_long_resume_command(tmp_path):
    """--plain under NO_COLOR: no escape sequence at all; Ctrl-D ends the prompt's line
    before "Saved"; the resume command is on a line of its own, not wrapped at 80 columns."""
    child = spawn(tmp_path, "lab9-variants", "--student", "a-rather-long-student-identifier",
                  "--tries", "2", "--plain")
    child.expect_exact("[1/24] z1: ")
    prompt(child, "z1")
    head = child.before + child.after
    time.sleep(0.3)
    child.sendeof()
    child.expect(pexpect.EOF)
    out = child.before  # everything after the prompt "z1 = "
    child.close()
    assert child.exitstatus == 0
    assert "\x1b[" not in head + out
    assert out == ("\r\nSaved: 0 of 24 steps done. To go on where you stopped:\r\n    tutor "
                   "practice lab9-variants --student a-rather-long-student-identifier "
                   "--tries 2\r\n")


def test_ctrl_c_at_the_worked_solution_prompt_of_a_finished_exercise(tmp_path):
    child = spawn(tmp_path, "merge-sum", "--plain")
    for k in range(1, 8):
        child.expect_exact(f"[{k}/7] ")
        prompt(child)
        child.sendline("skip")
    child.expect_exact("Show the worked solution? [y/N] ")
    time.sleep(0.3)
    child.sendintr()
    child.expect_exact("Interrupted. This exercise is finished and saved. Its worked "
                       "solution:\r\n    tutor solve merge-sum\r\n")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130


def test_the_full_screen_on_a_real_terminal_to_the_end_and_ctrl_c(tmp_path):
    """tutor practice on an 80×24 pseudo-terminal opens the full screen (tutor/screen.py):
    answers typed and Enter (CR), the last step's feedback and the score printed after it
    closes; Ctrl-C in it saves and exits 130, and the next run resumes."""
    env = {**os.environ, "TUTOR_HOME": str(tmp_path), "TERM": "xterm-256color",
           "COLUMNS": "80", "LINES": "24"}
    env.pop("NO_COLOR", None)

    def start():
        return pexpect.spawn(sys.executable, ["-m", "tutor", "practice", "merge-sum"], env=env,
                             encoding="utf-8", timeout=TIMEOUT, dimensions=(24, 80))

    child = start()
    child.expect_exact("your answer")  # the prompt's placeholder: the screen is up
    for answer in ("6", "8"):
        child.send(answer + "\r")
        time.sleep(0.5)
    child.expect_exact("✓ v = 8")  # v's feedback, on the screen
    child.sendcontrol("c")
    child.expect_exact("Interrupted. Your progress is saved.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130

    child = start()
    child.expect_exact("your answer")
    for answer in ("64", "16", "16", "32", "64"):
        child.send(answer + "\r")
        time.sleep(0.5)
    child.expect_exact("✓ dy = 64")  # printed after the screen closed
    child.expect_exact("Score: 7/7 · 7 on the first try")
    child.expect_exact("Show the worked solution? [y/N]")
    child.send("n\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
