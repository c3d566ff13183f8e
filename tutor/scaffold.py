"""``tutor new`` and ``tutor schema``: a commented skeleton that solves as is, and the schema.

The skeletons are the smallest exercises that show every part of the format: a network of
two layers (a ReLU layer, a sigmoid output, binary cross-entropy) and a computation graph
with a merge and a ReLU. Each line says what may go there instead. ``tutor validate`` and
``tutor solve`` accept both unchanged (tests/test_show_new.py checks it).

The editor line of a new exercise is ``# yaml-language-server: $schema=exercise.schema.json``:
a path relative to the exercise, so the file works on any machine and in any checkout.
``create`` writes that schema (``tutor schema``) beside the exercise when it is not there;
an existing one is left alone (``tutor schema --write exercise.schema.json`` refreshes it).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from tutor.errors import InputError, UsageError

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "exercise.schema.json"
LOCAL_SCHEMA = "exercise.schema.json"  # what a new exercise points at, beside it

NETWORK = """\
# yaml-language-server: $schema={schema}
# A layered network. Check it with `tutor validate {file}`, see it with `tutor show {file}`,
# solve it with `tutor solve {file}`. Numbers are exact: 0.1 is 1/10; "1/3" is a third.
format_version: 1
id: {id}
title: "{title}"
source: ""                # where it comes from (a lab, a textbook page)
kind: network
layout: column            # column: z = W x + b, W is outputs × inputs; row: z = x W + b
input: [1, 1]             # one example; a batch is a matrix, one example per column
target: 1
layers:                   # activation: identity, relu, leaky_relu (slope: 0.01), elu
                          #   (alpha: 1), softplus, sigmoid, tanh, softmax
  - {{W: [[0.5, -0.3], [0.2, 0.7]], b: [0.1, -1], activation: relu}}   # unit 2 is dead
  - {{W: [[0.6, -0.4]], b: [0.3], activation: sigmoid}}
loss: bce                 # mse (mean), sse (sum), half_sse (½·sum), bce, ce (softmax + CE)
learning_rate: 0.1        # needed when ask has update
ask: [forward, backward, update]   # any of forward, backward, inputs (∂L/∂x), update
tolerance: {{decimals: 4}}          # or {{sig: 3}}, {{rel: 0.01}}, {{abs: 0.001}}
conventions: {{relu_prime_at_zero: 0}}
# Randomized variants (one per student: tutor practice/template/check --student ID):
# variants:
#   draw:
#     layers[0].W[0][0]: {{range: [-0.9, 0.9], step: 0.1, exclude: [0]}}
#     input: {{choice: [[1, 1], [1, 2], [2, 1]]}}
#   require: {{dead_relu: [1], no_relu_at_zero: true, distinguishable: true}}
"""

GRAPH = """\
# yaml-language-server: $schema={schema}
# A computation graph. Check it with `tutor validate {file}`, see it with `tutor show {file}`,
# solve it with `tutor solve {file}`. Numbers are exact: 0.1 is 1/10; "1/3" is a third.
format_version: 1
id: {id}
title: "{title}"
source: ""                # where it comes from
kind: graph
inputs: {{x: 2}}            # data: no gradient asked unless ask has inputs, never updated
params: {{w: 0.5, b: -1.5}} # trainable: gradients asked and updated
constants: {{y: 1}}         # fixed numbers
nodes:                    # name: expression over the names above, in any order (a DAG)
  z: w*x + b              # + - * / ** ( ) and relu, leaky_relu, elu, softplus, sigmoid,
  h: relu(z)              # tanh, exp, log, sqrt, max, min   (here z < 0: a dead ReLU)
  u: h + z                # z is used twice: its gradient sums both paths
  L: (u - y)**2
loss: L
learning_rate: 0.1
ask: [forward, backward, update]
tolerance: {{decimals: 4}}
# iterations: [{{x: 2}}, {{x: -1}}]   # successive SGD steps, each with its own inputs
# variants:
#   draw:
#     w: {{range: [-1, 1], step: 0.25, exclude: [0]}}
#   require: {{no_relu_at_zero: true}}
"""


def schema_text() -> str:
    """The JSON Schema as shipped in tutor/schema/exercise.schema.json."""
    from tutor.exercise import json_schema
    from tutor.misconceptions import CATALOGUE  # their ids: completions in an editor

    return json.dumps(json_schema(tuple(CATALOGUE)), indent=2, ensure_ascii=False) + "\n"


def skeleton(name: str, kind: str, schema: str | None = None) -> str:
    """The commented YAML of a new exercise called ``name``."""
    ident = exercise_id(name)
    title = ident.replace("-", " ").replace("_", " ").capitalize()
    body = NETWORK if kind == "network" else GRAPH
    return body.format(id=ident, title=title, file=f"{ident}.yaml",
                       schema=schema or LOCAL_SCHEMA)


def exercise_id(name: str) -> str:
    stem = name[:-5] if name.endswith(".yaml") else name[:-4] if name.endswith(".yml") else name
    stem = Path(stem).name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", stem) or len(stem) > 80:
        raise UsageError(f"'{name}' is not a valid exercise id: letters, digits, '-', '_' and "
                         "'.', starting with a letter or digit (e.g. lab10-tanh)")
    return stem


def create(name: str, kind: str, directory: Path = Path("."), force: bool = False
           ) -> tuple[Path, Path | None]:
    """Write ``directory/NAME.yaml`` (refuse to overwrite unless ``force``) and, when it is
    not there yet, ``directory/exercise.schema.json`` for editors. Returns the exercise
    and the schema file written (None when one was already there)."""
    if kind not in ("network", "graph"):
        raise UsageError(f"--kind must be network or graph, not {kind!r}")
    ident = exercise_id(name)
    if not Path(directory).is_dir():
        raise UsageError(f"{directory} is not a folder")
    path = Path(directory) / f"{ident}.yaml"
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite it")
    schema = Path(directory) / LOCAL_SCHEMA
    try:
        path.write_text(skeleton(ident, kind), encoding="utf-8")
        if schema.exists():
            schema = None
        else:
            schema.write_text(schema_text(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename or path}: {exc.strerror or exc}") from None
    return path, schema
