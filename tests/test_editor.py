"""The JSON Schema in a real editor: yaml-language-server (what VS Code's YAML extension,
Neovim and Helix run), driven over stdio by a tiny LSP client.

It is installed from the npm registry into a temporary folder (a few seconds); without node
and npm, or without the registry, these tests are skipped. ``TUTOR_YAML_LS`` may name a
yaml-language-server executable (its bin/ script) to use instead.

What an author sees is asserted: hovering on a key shows its title and description once
(not "Learning Rate || Learning Rate || …"), completing `kind: ` offers network and graph,
the bundled exercises get no diagnostics, and where the editor flags a value (a misspelt
activation, `yes` where a boolean belongs) `tutor validate` reports the same line and
column — and where the editor reads `yes` as text, so does tutor.
"""
from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tutor.catalog import bundled
from tutor.scaffold import schema_text
from tutor.validate import validate_file

SETTINGS = {"yaml": {"validate": True, "hover": True, "completion": True,
                     "schemaStore": {"enable": False}}}  # never fetch schemas from the net


class Client:
    """Just enough LSP: requests with ids, notifications, the server's own requests
    answered, published diagnostics kept per document."""

    def __init__(self, server: str):
        self.proc = subprocess.Popen(["node", server, "--stdio"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.inbox: queue.Queue = queue.Queue()
        self.diagnostics: dict[str, list] = {}
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
            self.inbox.put(json.loads(out.read(int(headers["content-length"]))))

    def _send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict, timeout: float = 20) -> dict:
        self.next_id += 1
        rid = self.next_id
        self._send({"id": rid, "method": method, "params": params})
        return self._until(lambda m: m.get("id") == rid and "method" not in m, timeout)

    def _until(self, done, timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("yaml-language-server did not answer")
            try:
                m = self.inbox.get(timeout=left)
            except queue.Empty:
                continue
            if "method" in m and "id" in m:  # the server asks: configuration, capabilities
                items = m.get("params", {}).get("items", [])
                result = ([SETTINGS.get(i.get("section"), SETTINGS) for i in items]
                          if m["method"] == "workspace/configuration" else None)
                self._send({"id": m["id"], "result": result})
            elif m.get("method") == "textDocument/publishDiagnostics":
                self.diagnostics[m["params"]["uri"]] = m["params"]["diagnostics"]
            if done(m):
                return m

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.resolve().as_uri()
        self.diagnostics.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1,
            "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def diagnosed(self, uri: str, timeout: float = 20) -> list[dict]:
        """The diagnostics of a document (the first set the server publishes for it)."""
        if uri not in self.diagnostics:
            self._until(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                        and m["params"]["uri"] == uri, timeout)
        return self.diagnostics[uri]

    def hover(self, uri: str, line: int, character: int) -> str:
        r = self.request("textDocument/hover", {"textDocument": {"uri": uri},
                                                "position": {"line": line,
                                                             "character": character}})
        result = r.get("result")
        return result["contents"]["value"].split("\n\nSource:")[0] if result else ""

    def complete(self, uri: str, line: int, character: int) -> list[str]:
        r = self.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                     "position": {"line": line,
                                                                  "character": character}})
        items = r.get("result") or []
        return [i["label"] for i in (items["items"] if isinstance(items, dict) else items)]

    def close(self) -> None:
        try:
            self.request("shutdown", {}, timeout=5)
            self.notify("exit", {})
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()


def _server(tmp: Path) -> str:
    given = os.environ.get("TUTOR_YAML_LS")
    if given:
        return given
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run yaml-language-server")
    try:
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                               "--prefix", str(tmp), "yaml-language-server@1"],
                              capture_output=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("npm install yaml-language-server took too long")
    server = tmp / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    if done.returncode != 0 or not server.exists():
        pytest.skip("yaml-language-server could not be installed from the npm registry")
    return str(server)


@pytest.fixture(scope="module")
def editor(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("yaml-ls")
    client = Client(_server(tmp))
    client.request("initialize", {"processId": os.getpid(), "rootUri": tmp.as_uri(),
                                  "capabilities": {"workspace": {"configuration": True}}})
    client.notify("initialized", {})
    client.notify("workspace/didChangeConfiguration", {"settings": SETTINGS})
    yield client
    client.close()


@pytest.fixture
def folder(tmp_path):
    """A folder with the schema in it, as `tutor new` leaves one."""
    (tmp_path / "exercise.schema.json").write_text(schema_text(), encoding="utf-8")
    return tmp_path


def _line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if line.startswith(start))


def _keys(text: str):
    """(line, character) of every key in a YAML text (block and flow style)."""
    for i, line in enumerate(text.splitlines()):
        if line.lstrip().startswith("#"):
            continue
        for m in re.finditer(r"(?:^|[{,\s-])([A-Za-z_][A-Za-z_0-9]*):(?:\s|$)", line):
            yield i, m.start(1) + 1


def test_hovering_on_learning_rate_shows_its_title_and_description_once(editor):
    path = next(e.path for e in bundled() if e.id == "lab9-relu-sigmoid-bce")
    text = path.read_text(encoding="utf-8")
    uri = editor.open(path)
    shown = editor.hover(uri, _line_of(text, "learning_rate:"), 3)
    assert shown == ("#### Learning Rate\n\nthe SGD step size η (> 0; 0 is a warning: the "
                     "update changes nothing)")


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.id)
def test_every_key_of_a_bundled_exercise_has_one_title_and_a_description(editor, entry):
    text = entry.path.read_text(encoding="utf-8")
    uri = editor.open(entry.path)
    assert editor.diagnosed(uri) == []
    checked = set()
    for line, col in _keys(text):
        key = text.splitlines()[line][col - 1:].split(":")[0]
        shown = editor.hover(uri, line, col)
        assert "||" not in shown, (key, shown)
        title, _, description = shown.partition("\n\n")
        # a key of the format (its title is the key's: learning_rate → Learning Rate), not
        # a free name (a node, a parameter, a draw path)
        if title.split(":")[0] == "#### " + key.replace("_", " ").title():
            assert description.strip(), (key, shown)
            checked.add(key)
    assert {"id", "kind", "ask"} <= checked


def test_completing_kind_offers_both_kinds(editor, folder):
    f = folder / "new.yaml"
    text = "# yaml-language-server: $schema=exercise.schema.json\nid: new\nkind: \n"
    f.write_text(text, encoding="utf-8")
    uri = editor.open(f)
    assert {"network", "graph"} <= set(editor.complete(uri, 2, 6))


def _diagnosed_and_validated(editor, folder, body: str):
    f = folder / f"x{len(list(folder.glob('*.yaml')))}.yaml"  # a new document each time
    f.write_text("# yaml-language-server: $schema=exercise.schema.json\n" + body,
                 encoding="utf-8")
    said = editor.diagnosed(editor.open(f))
    marks = {(d["range"]["start"]["line"] + 1, d["range"]["start"]["character"] + 1)
             for d in said}
    return marks, validate_file(f)


NETWORK = ("id: n\nkind: network\ninput: [1, 0]\ntarget: 1\n"
           "layers:\n  - {W: [[0.5, -0.3]], b: [0.1], activation: sigmoid}\nloss: bce\n")


def test_a_misspelt_activation_is_flagged_by_both_at_the_same_place(editor, folder):
    marks, problems = _diagnosed_and_validated(
        editor, folder, NETWORK.replace("sigmoid}", "sigmod}"))
    (p,) = problems
    assert (p.line, p.col) in marks and p.message.endswith("(did you mean 'sigmoid'?)")


def test_yes_is_text_to_the_editor_and_to_tutor(editor, folder):
    """yaml-language-server reads YAML 1.2 by default: `yes`, `no`, `on`, `off` are text. So
    does tutor: `title: yes` is the title "yes" for both, and `no_relu_at_zero: yes` is text
    where a boolean belongs — flagged by both, at the same place."""
    marks, problems = _diagnosed_and_validated(editor, folder, NETWORK + "title: yes\n")
    assert marks == set() and problems == []
    marks, problems = _diagnosed_and_validated(
        editor, folder, NETWORK + "variants:\n  draw: {target: {choice: [0, 1]}}\n"
                                  "  require:\n    no_relu_at_zero: yes\n    keep_zeros: off\n"
                                  "    keep_relu_signs: True\n")
    assert {(p.line, p.col) for p in problems} == marks == {(12, 22), (13, 17)}
    assert all("write true or false" in p.message for p in problems)


def test_completing_a_tests_expect_offers_the_verdicts_and_the_misconceptions(editor, folder):
    f = folder / "expect.yaml"
    text = ("# yaml-language-server: $schema=exercise.schema.json\n" + NETWORK +
            "tests:\n  - step: L\n    answer: 0\n    expect: \n")
    f.write_text(text, encoding="utf-8")
    offered = set(editor.complete(editor.open(f), text.count("\n") - 1, 12))
    assert {"correct", "wrong", "follow_through", "invalid", "no-relu-mask"} <= offered
