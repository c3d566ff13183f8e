"""Where exercises come from: the bundled ones (shipped inside the package) and files.

EXERCISE on the command line is a path to a YAML file or the id of a bundled exercise.
The bundled files live in the repository's ``exercises/`` and are installed as the package
``tutor.exercises``, so they are found after a plain ``pip install .`` too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tutor.errors import UsageError

ORDER = (  # the order a new student meets them (bare `tutor` takes the first unfinished)
    "merge-sum",
    "practice-two-paths",
    "two-paths-symbolic",
    "residual-block",
    "dag-two-relu-gates",
    "affine-relu-layer",
    "affine-relu-symbolic",
    "affine-relu-vector",
    "residual-vector",
    "lab9-relu-sigmoid-bce",
    "diagonal-flip-4-3-4",
    "softmax-cross-entropy",
    "branch-merge-l2",
    "batch-softmax-ce",
    "conv1d-relu",
    "conv2d-maxpool",
    "attention-2-tokens",
    "batchnorm-ninja",
    "batchnorm-fused",
)


def bundled_dir() -> Path:
    """The installed ``tutor/exercises`` package, or ``exercises/`` beside a checkout."""
    try:
        from importlib.resources import files

        d = Path(str(files("tutor.exercises")))
        if d.is_dir() and any(d.glob("*.yaml")):
            return d
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "exercises"


@dataclass(frozen=True)
class Entry:
    id: str
    path: Path
    bundled: bool


def bundled() -> list[Entry]:
    """Bundled exercises, in teaching order (ids are file stems)."""
    files = {p.stem: p for p in sorted(bundled_dir().glob("*.yaml"))}
    ids = [i for i in ORDER if i in files] + sorted(set(files) - set(ORDER))
    return [Entry(i, files[i], True) for i in ids]


_ID = re.compile(r"""^id:[ \t]*["']?([A-Za-z0-9][A-Za-z0-9_.-]*)["']?[ \t]*(?:#.*)?$""", re.M)


def local(folder: Path | None = None) -> list[Entry]:
    """Exercise files in the current folder (``*.yaml`` with a ``kind:`` line), each under
    its ``id:`` — the key progress is kept by — (the file stem when it has none)."""
    folder = folder or Path.cwd()
    out = []
    for p in sorted(folder.glob("*.y*ml")):
        if not p.is_file():  # a FIFO would block the listing, a device never end
            continue
        try:
            with open(p, "rb") as f:
                head = f.read(4000).decode("utf-8", errors="replace")
        except OSError:
            continue
        if "\nkind:" in "\n" + head and "\nanswers:" not in "\n" + head:
            m = _ID.search(head)
            out.append(Entry(m.group(1) if m else p.stem, p, False))
    return out


def resolve(ref: str) -> Path:
    """EXERCISE → a file path: an existing path, else a bundled id (with did-you-mean)."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or p.exists() or "/" in ref:
        if p.is_dir():
            raise UsageError(f"{ref} is a folder; name an exercise file")
        return p
    entries = {e.id: e.path for e in bundled()}
    if ref in entries:
        return entries[ref]
    import difflib

    near = difflib.get_close_matches(ref, list(entries), n=1)
    hint = f" Did you mean '{near[0]}'?" if near else ""
    raise UsageError(f"no exercise '{ref}': not a file and not a bundled id.{hint} "
                     "See `tutor list`.")
