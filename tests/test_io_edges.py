"""Issue 10, item 7: what a file system can hand the tutor instead of a file.

A FIFO (which would block a reader forever), /dev/zero (which never ends), a dangling link,
a loop of links, a file name that is not UTF-8: each is one line, with what it is, and never
blocks — for `solve`, `validate`, `check`, a class folder and the exercise list. Every run
is a real process under a timeout, as a user meets it. Exports (JSON, CSV, JUnit) stay valid
UTF-8 for any file name, and an author's or student's control and bidirectional characters
(ESC, BEL, U+202E) are shown as escapes in titles, sources, CSV cells and the piped echo.
"""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import xml.dom.minidom
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file kinds")

ROOT = Path(__file__).resolve().parents[1]
GOOD = ROOT / "exercises" / "affine-relu-layer.yaml"
BAD_NAME = os.fsdecode(b"st\xffu.yaml")  # a Latin-1 name on a UTF-8 system
EVIL = "ev\u202eil\x1b[31m.yaml"  # a bidi override and an ANSI colour in a name
DANGER = (b"\x1b", "\u202e".encode(), b"\x07", b"\xff")


def tutor(*args, cwd, home, stdin="", timeout=30):
    env = {**os.environ, "TUTOR_HOME": str(home), "COLUMNS": "120", "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-m", "tutor", *map(os.fsencode, map(str, args))],
                       input=stdin.encode(), capture_output=True, cwd=cwd, env=env,
                       timeout=timeout)  # a FIFO read would block: the timeout fails the test
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def odd(tmp_path):
    """A folder with one of each odd thing, all named *.yaml."""
    d = tmp_path / "odd"
    d.mkdir()
    os.mkfifo(d / "fifo.yaml")
    (d / "zero.yaml").symlink_to("/dev/zero")
    (d / "dangling.yaml").symlink_to("missing.yaml")
    (d / "loop1.yaml").symlink_to("loop2.yaml")
    (d / "loop2.yaml").symlink_to("loop1.yaml")
    (d / "sub").mkdir()
    (d / "sub" / "up").symlink_to("..")  # a directory loop
    return d


SAID = {  # file → the one line said about it
    "fifo.yaml": "is a named pipe (FIFO), not a {kind}: only regular files are read",
    "zero.yaml": "is a character device, not a {kind}: only regular files are read",
    "dangling.yaml": "a symbolic link to 'missing.yaml', which does not exist",
    "loop1.yaml": "a loop of symbolic links: it never reaches a file",
}


@pytest.mark.parametrize("name", SAID)
def test_solve_says_what_the_path_is_in_one_line(odd, tmp_path, name):
    rc, out, err = tutor("solve", name, cwd=odd, home=tmp_path)
    said = (out + err).decode().strip()
    assert rc == 2 and said == f"error: {name}: " + SAID[name].format(kind="YAML file")


def test_validate_a_folder_of_odd_files_reports_each_and_goes_on(odd, tmp_path):
    import shutil

    shutil.copy(GOOD, odd / "good.yaml")
    rc, out, err = tutor("validate", ".", cwd=odd, home=tmp_path)
    lines = out.decode().splitlines()
    for name in SAID:
        assert f"{name}:1:1: E000 " + SAID[name].format(kind="YAML file") in lines
    assert "loop2.yaml:1:1: E000 a loop of symbolic links: it never reaches a file" in lines
    assert not any(s.startswith("good.yaml") for s in lines)  # the good file is checked too
    assert rc == 2 and "Traceback" not in (out + err).decode()


def test_check_a_class_folder_with_odd_files_grades_the_rest(odd, tmp_path):
    rc, sheet, _ = tutor("template", "affine-relu-layer", cwd=tmp_path, home=tmp_path)
    assert rc == 0
    (odd / "alice.yaml").write_bytes(sheet)
    rc, out, err = tutor("check", "affine-relu-layer", ".", "--format", "json", cwd=odd,
                         home=tmp_path)
    sheets = {s["file"]: s for s in json.loads(out)["sheets"]}
    assert "score" in sheets["alice.yaml"]  # graded (a blank sheet: 0 points)
    for name in SAID:  # a dangling link in a folder is not skipped silently: it is said
        assert sheets[name]["error"] == f"{name}: " + SAID[name].format(kind="sheet")
    assert rc == 2 and "Traceback" not in err.decode()


def test_check_named_odd_files_and_weights_never_block(odd, tmp_path):
    rc, out, err = tutor("check", "affine-relu-layer", "fifo.yaml", "zero.yaml", cwd=odd,
                         home=tmp_path)
    text = (out + err).decode()
    assert rc == 2 and "fifo.yaml: is a named pipe (FIFO), not a sheet" in text
    assert "zero.yaml: is a character device, not a sheet" in text
    rc, out, err = tutor("check", "affine-relu-layer", "fifo.yaml", "--weights", "fifo.yaml",
                         cwd=odd, home=tmp_path)
    assert rc == 2 and "weights file fifo.yaml: is a named pipe (FIFO)" in err.decode()


def test_the_exercise_list_skips_a_fifo_in_the_folder(odd, tmp_path):
    rc, out, err = tutor("list", cwd=odd, home=tmp_path)
    assert rc == 0 and b"affine-relu-layer" in out


def _class_with_odd_names(tmp_path) -> Path:
    rc, sheet, _ = tutor("template", "affine-relu-layer", cwd=tmp_path, home=tmp_path)
    d = tmp_path / "cls"
    d.mkdir()
    (d / BAD_NAME).write_bytes(sheet)
    (d / EVIL).write_bytes(sheet.replace(b"\nstudent:", b'\nstudent: "Bob\\u202e\\x1b[2J"\n#'))
    return d


@pytest.mark.parametrize("fmt", ["json", "csv", "junit", "rich"])
def test_exports_are_valid_utf8_for_any_file_name(tmp_path, fmt):
    _class_with_odd_names(tmp_path)
    rc, out, err = tutor("check", "affine-relu-layer", "cls", "--format", fmt, cwd=tmp_path,
                         home=tmp_path)
    assert rc == 1, err  # both graded, both wrong (blank)
    for bad in DANGER:
        assert bad not in out and bad not in err
    text = out.decode("utf-8")  # raises if not UTF-8
    shown_bad, shown_evil = "cls/st\\xffu.yaml", "cls/ev\\u202eil\\x1b[31m.yaml"
    if fmt == "json":
        files = {s["file"]: s["student"] for s in json.loads(text)["sheets"]}
        assert files == {shown_bad: "st\\xffu", shown_evil: "Bob\\u202e\\x1b[2J"}
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert [r[:2] for r in rows[1:]] == [[shown_evil, "Bob\\u202e\\x1b[2J"],
                                             [shown_bad, "st\\xffu"]]
    elif fmt == "junit":
        suites = xml.dom.minidom.parseString(out).getElementsByTagName("testsuite")
        assert sorted(s.getAttribute("name") for s in suites) == [
            f"Bob\\u202e\\x1b[2J ({shown_evil})", f"st\\xffu ({shown_bad})"]
    else:
        assert shown_bad in text and shown_evil in text


def test_validate_json_and_text_show_a_non_utf8_name_escaped(tmp_path):
    (tmp_path / BAD_NAME).write_text("id: x\nkind: graph\n")
    rc, out, err = tutor("validate", BAD_NAME, "--format", "json", cwd=tmp_path, home=tmp_path)
    assert rc == 1 and {p["file"] for p in json.loads(out.decode("utf-8"))} == {"st\\xffu.yaml"}
    rc, out, err = tutor("solve", BAD_NAME, cwd=tmp_path, home=tmp_path)
    assert rc == 2 and err.decode("utf-8").startswith("error: st\\xffu.yaml:")


def test_an_authors_control_characters_are_shown_as_escapes(tmp_path):
    text = GOOD.read_text(encoding="utf-8")
    text = text.replace('title: "One affine + ReLU layer: the mask, then the affine rules"',
                        'title: "Evil\\x1b]0;pwned\\x07 \\u202eredro"')
    text = text.replace('source: "', 'source: "\\x1b[2J').replace("id: affine-relu-layer",
                                                                    "id: evil")
    (tmp_path / "evil.yaml").write_text(text, encoding="utf-8")
    for args, stdin in ((("solve", "evil.yaml"), ""), (("template", "evil.yaml"), ""),
                        (("practice", "evil.yaml", "--plain"), "quit\n")):
        rc, out, err = tutor(*args, cwd=tmp_path, home=tmp_path, stdin=stdin)
        assert rc == 0, err
        for bad in DANGER:
            assert bad not in out
        assert "Evil\\x1b]0;pwned\\x07 \\u202eredro" in out.decode()
    assert "\\x1b[2Jseed 001" in out.decode()  # the source line, in practice's header


def test_the_piped_echo_shows_what_was_typed_as_escapes(tmp_path):
    rc, out, err = tutor("practice", GOOD, "--plain", cwd=tmp_path, home=tmp_path,
                         stdin="\x1b[2J1\u202e2\nquit\n")
    assert rc == 0 and not any(bad in out for bad in DANGER)
    text = out.decode()
    assert "z1 = \\x1b[2J1\\u202e2" in text
    assert "Not read: unexpected character U+001B (at character 1). No try used." in text
