"""An independent oracle: compose the whole loss in plain SymPy and differentiate it.

Shares no code with the engine: it reads the exercise YAML with PyYAML itself, builds every
expression with SymPy's own functions (ReLU as a Piecewise, whose derivative at 0 is 0 — the
default convention), and takes ``sympy.diff`` of the fully composed loss. No chain rule of
ours, no rules table, no summing at merges: if the engine agrees, it is right.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp
import yaml


def _relu(z):
    return sp.Piecewise((z, z > 0), (0, True))


def _leaky(z, a=sp.Rational(1, 100)):
    return sp.Piecewise((z, z > 0), (a * z, True))


def _sigmoid(z):
    return 1 / (1 + sp.exp(-z))


def _elu(z, a=1):  # its derivative at 0 is the left one, α: PyTorch's convention
    return sp.Piecewise((z, z > 0), (a * (sp.exp(z) - 1), True))


def _softplus(z):
    return sp.log(1 + sp.exp(z))


LOCALS = {"relu": _relu, "leaky_relu": _leaky, "sigmoid": _sigmoid, "tanh": sp.tanh,
          "elu": _elu, "softplus": _softplus,
          "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "max": sp.Max, "min": sp.Min}


def num(v) -> sp.Expr:
    if isinstance(v, bool):
        raise TypeError(v)
    if isinstance(v, int):
        return sp.Integer(v)
    if isinstance(v, float):  # PyYAML gives floats: go back through the shortest repr text
        f = Fraction(repr(v))
        return sp.Rational(f.numerator, f.denominator)
    return sp.sympify(str(v).replace("^", "**"), locals=dict(LOCALS), rational=True)


def load(text: str) -> dict:
    return yaml.safe_load(text)


# ─── graph exercises ─────────────────────────────────────────────────────────────────
def graph_oracle(spec: dict) -> list[dict]:
    """Per iteration: {'values': {node: v}, 'grads': {param or input: ∂loss/∂it}, 'new': {...}}."""
    inputs = {k: num(v) for k, v in (spec.get("inputs") or {}).items()}
    params = {k: num(v) for k, v in spec["params"].items()}
    consts = {k: num(v) for k, v in (spec.get("constants") or {}).items()}
    names = list(inputs) + list(params) + list(consts) + list(spec["nodes"])
    syms = {n: sp.Symbol(n + "_") for n in names}  # suffix: `lambda` is a keyword
    loc = {**LOCALS, **{n + "_": s for n, s in syms.items()}}

    def parse(text):
        import re

        text = re.sub(r"\b([A-Za-z_]\w*)\b(?!\s*\()",
                      lambda m: m.group(1) + "_" if m.group(1) in syms else m.group(1), str(text))
        return sp.sympify(text.replace("^", "**"), locals=loc, rational=True)

    node_exprs = {n: parse(t) for n, t in spec["nodes"].items()}

    def composed(name):  # substitute node definitions until only leaves remain
        e = node_exprs[name]
        for _ in range(len(node_exprs) + 1):
            e2 = e.xreplace({syms[n]: node_exprs[n] for n in node_exprs})
            if e2 == e:
                break
            e = e2
        return e

    loss = composed(spec["loss"])
    lr = num(spec["learning_rate"]) if spec.get("learning_rate") is not None else None
    out = []
    for data in spec.get("iterations") or [{}]:
        leaves = {**inputs, **{k: num(v) for k, v in data.items()}, **params}
        leaves = {**consts, **leaves}
        sub = {syms[k]: v for k, v in leaves.items()}
        values = {n: composed(n).xreplace(sub) for n in node_exprs}
        grads = {k: sp.diff(loss, syms[k]).xreplace(sub)
                 for k in list(params) + list(inputs)}
        row = {"values": values, "grads": grads, "tie": _tie(loss, sub)}
        if lr is not None:
            params = {k: params[k] - lr * grads[k] for k in params}
            row["new"] = dict(params)
        out.append(row)
    return out


def _tie(loss, sub) -> bool:
    """Whether some max/min of the composed loss has tied arguments here: no derivative
    exists there, and no two conventions need agree (the engine's W306)."""
    for atom in loss.atoms(sp.Max, sp.Min):
        vals = sorted((sp.N(a.xreplace(sub), 50) for a in atom.args), reverse=True)
        if isinstance(atom, sp.Min):
            vals.reverse()
        if len(vals) > 1 and abs(vals[0] - vals[1]) < sp.Float("1e-40"):
            return True
    return False


# ─── network exercises ───────────────────────────────────────────────────────────────
def _mat(v) -> sp.Matrix:
    if isinstance(v, list) and v and isinstance(v[0], list):
        return sp.Matrix([[num(e) for e in r] for r in v])
    if isinstance(v, list):
        return sp.Matrix([[num(e) for e in v]])
    return sp.Matrix([[num(v)]])


def network_oracle(spec: dict) -> dict:
    """Values, and ∂L/∂W, ∂L/∂b, ∂L/∂x by differentiating the composed loss."""
    col = spec.get("layout", "column") == "column"
    x = _mat(spec["input"])
    if col and not (isinstance(spec["input"][0], list)):
        x = x.T
    Ws, bs, Wsym, bsym = [], [], [], []
    for i, layer in enumerate(spec["layers"], 1):
        W = _mat(layer["W"])
        b = _mat(layer["b"] if isinstance(layer["b"], list) else [layer["b"]])
        b = b.T if col else b
        Ws.append(W)
        bs.append(b)
        Wsym.append(sp.Matrix(*W.shape, lambda r, c: sp.Symbol(f"W{i}_{r}_{c}")))
        bsym.append(sp.Matrix(*b.shape, lambda r, c: sp.Symbol(f"b{i}_{r}_{c}")))
    xsym = sp.Matrix(*x.shape, lambda r, c: sp.Symbol(f"x_{r}_{c}"))
    h = xsym
    batch = x.cols if col else x.rows
    zs, hs = [], []
    for layer, W, b in zip(spec["layers"], Wsym, bsym):
        z = W * h + b * sp.ones(1, batch) if col else h * W + sp.ones(batch, 1) * b
        act = layer.get("activation", "identity")
        if act == "softmax":
            m = z if col else z.T
            p = sp.Matrix(*m.shape, lambda r, c: sp.exp(m[r, c]) /
                          sum(sp.exp(m[k, c]) for k in range(m.rows)))
            h = p if col else p.T
        else:
            slope = num(layer["slope"]) if layer.get("slope") is not None else sp.Rational(1, 100)
            alpha = num(layer["alpha"]) if layer.get("alpha") is not None else 1
            f = {"identity": lambda e: e, "relu": _relu, "sigmoid": _sigmoid, "tanh": sp.tanh,
                 "leaky_relu": lambda e: _leaky(e, slope), "elu": lambda e: _elu(e, alpha),
                 "softplus": _softplus}[act]
            h = z.applyfunc(f)
        zs.append(z)
        hs.append(h)
    yhat = h
    t = spec["target"]
    out_units = Ws[-1].rows if col else Ws[-1].cols
    if spec["loss"] == "ce" and isinstance(t, int) and out_units > 1:
        t = [1 if k == t else 0 for k in range(out_units)]
    y = _mat(t)
    if y.shape != yhat.shape:
        y = y.T
    n_all = yhat.rows * yhat.cols
    diff = [yhat[k] - y[k] for k in range(n_all)]
    loss = spec["loss"]
    if loss == "mse":
        L = sum(d**2 for d in diff) / n_all
    elif loss == "sse":
        L = sum(d**2 for d in diff)
    elif loss == "half_sse":
        L = sum(d**2 for d in diff) / 2
    elif loss == "bce":
        L = -sum(y[k] * sp.log(yhat[k]) + (1 - y[k]) * sp.log(1 - yhat[k])
                 for k in range(n_all)) / n_all
    else:  # ce: mean over examples
        L = -sum(y[k] * sp.log(yhat[k]) for k in range(n_all)) / batch
    sub = {}
    for W, S in zip(Ws, Wsym):
        sub.update({S[k]: W[k] for k in range(len(S))})
    for b, S in zip(bs, bsym):
        sub.update({S[k]: b[k] for k in range(len(S))})
    sub.update({xsym[k]: x[k] for k in range(len(x))})

    def grad(S):
        # Keep only the variable being differentiated symbolic: the composed loss of a deep
        # sigmoid stack is huge in all variables at once, small in one.
        def one(r, c):
            v = S[r, c]
            partial = L.xreplace({k: val for k, val in sub.items() if k != v})
            return sp.diff(partial, v).xreplace({v: sub[v]})

        return sp.Matrix(*S.shape, one)

    out = {
        "L": L.xreplace(sub),
        "z": [z.xreplace(sub) for z in zs],
        "h": [hh.xreplace(sub) for hh in hs],
        "dW": [grad(S) for S in Wsym],
        "db": [grad(S) for S in bsym],
        "dx": grad(xsym),
    }
    if spec.get("learning_rate") is not None:  # one SGD step: θ − η ∂L/∂θ
        lr = num(spec["learning_rate"])
        out["W_new"] = [W - lr * d for W, d in zip(Ws, out["dW"])]
        out["b_new"] = [b - lr * d for b, d in zip(bs, out["db"])]
    return out


def equal(a, b) -> bool:
    """Exactly equal (matrices entrywise); falls back to 50-digit agreement for exp/log forms."""
    if isinstance(a, sp.MatrixBase) or isinstance(b, sp.MatrixBase):
        a, b = sp.Matrix(a), sp.Matrix(b)
        if a.shape != b.shape:
            if a.shape == (1, 1) or b.shape == (1, 1):
                return equal(a[0], b[0]) if len(a) == len(b) == 1 else False
            return False
        return all(equal(p, q) for p, q in zip(a, b))
    a, b = sp.sympify(a), sp.sympify(b)
    d = a - b
    if d.is_Rational:
        return d == 0
    # exp/log/sqrt forms: 60 digits, not d.is_zero (which can think for seconds per entry)
    if a.has(sp.Float) or b.has(sp.Float):  # a value the engine carried at 40 digits
        return abs(sp.N(d, 60)) <= sp.Float("1e-30") * (1 + abs(sp.N(b, 60)))
    return abs(sp.N(d, 60)) < sp.Float("1e-45")


# ─── tensor graph exercises (issue 13) ───────────────────────────────────────────────
def _np_leaf(v, name, symbolic: bool):
    """A leaf as a NumPy object array of SymPy entries: a vector [1, 2] is a column (n, 1),
    a matrix is its rows; ``symbolic`` gives each entry a symbol of its own."""
    import numpy as np

    if isinstance(v, list) and v and isinstance(v[0], list):
        rows = [[num(e) for e in r] for r in v]
    elif isinstance(v, list):
        rows = [[num(e)] for e in v]
    else:
        return sp.Symbol(f"{name}__") if symbolic else num(v), num(v)
    vals = np.array(rows, dtype=object)
    if not symbolic:
        return vals, vals
    syms = np.empty(vals.shape, dtype=object)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            syms[i, j] = sp.Symbol(f"{name}__{i}_{j}")
    return syms, vals


def _np_namespace():
    """What a tensor node may call, written with NumPy (no code of the engine)."""
    import numpy as np

    def ew(f):
        vf = np.vectorize(f, otypes=[object])
        return lambda a: vf(a) if isinstance(a, np.ndarray) else f(a)

    def softmax(z, axis=0):
        e = ew(sp.exp)(z)
        return e / e.sum(axis=axis, keepdims=True)

    def log_softmax(z, axis=0):
        e = ew(sp.exp)(z)
        return z - ew(sp.log)(e.sum(axis=axis, keepdims=True))

    def reduce(kind):
        def f(a, axis=None):
            s = a.sum(axis=axis, keepdims=axis is not None)
            n = a.size if axis is None else a.shape[axis]
            return s / n if kind == "mean" else s
        return f

    def cross_entropy(z, y):
        return -(y * log_softmax(z, 0)).sum() / z.shape[1]

    def norm(axis):  # batch norm: each row over the batch; layer norm: each column
        def f(x, gamma, beta, eps):
            mu = x.sum(axis=axis, keepdims=True) / x.shape[axis]
            var = ((x - mu) ** 2).sum(axis=axis, keepdims=True) / x.shape[axis]
            return gamma * (x - mu) / ew(sp.sqrt)(var + eps) + beta
        return f

    def attention(causal):
        def f(Q, K, V):
            S = (Q @ K.T) / sp.sqrt(Q.shape[1])
            M = np.array([[1 if (j <= i or not causal) else 0 for j in range(S.shape[1])]
                          for i in range(S.shape[0])], dtype=object)
            E = ew(sp.exp)(S) * M
            return (E / E.sum(axis=1, keepdims=True)) @ V
        return f

    def conv(x, w, stride=1):
        kh, kw = w.shape
        oh, ow = (x.shape[0] - kh) // stride + 1, (x.shape[1] - kw) // stride + 1
        out = np.empty((oh, ow), dtype=object)
        for i in range(oh):
            for j in range(ow):
                out[i, j] = sum(x[i * stride + a, j * stride + b] * w[a, b]
                                for a in range(kh) for b in range(kw))
        return out

    def maxpool(x):
        out = np.empty((x.shape[0] // 2, x.shape[1] // 2), dtype=object)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = sp.Max(*x[2 * i:2 * i + 2, 2 * j:2 * j + 2].flatten())
        return out

    def embedding(C, ids):
        return C[[int(v) for v in ids.flatten()], :]

    def onehot(ids, n):
        return np.array([[1 if int(v) == i else 0 for v in ids.flatten()] for i in range(n)],
                        dtype=object)

    return {"batchnorm": norm(1), "layernorm": norm(0), "attention": attention(False),
            "causal_attention": attention(True), "conv1d": conv, "conv2d": conv,
            "maxpool": maxpool, "embedding": embedding, "onehot": onehot,
            "relu": ew(_relu), "sigmoid": ew(_sigmoid), "tanh": ew(sp.tanh),
            "exp": ew(sp.exp), "log": ew(sp.log), "sqrt": ew(sp.sqrt),
            "softplus": ew(_softplus), "leaky_relu": ew(_leaky), "elu": ew(_elu),
            "sum": reduce("sum"), "mean": reduce("mean"), "softmax": softmax,
            "log_softmax": log_softmax, "cross_entropy": cross_entropy}


def _np_eval(text: str, env: dict):
    """A node's text evaluated by Python over NumPy arrays (trusted test input): ``**`` and
    ``*`` elementwise, ``@`` the matrix product, ``.T``, ``x[i]``/``x[i, j]`` 0-based (a
    row stays a (1, n) row; an entry of a column vector is a number)."""
    import ast

    import numpy as np

    class Rows(ast.NodeTransformer):  # x[i] → _row(x, i): a row keeps two axes
        def visit_Subscript(self, node):
            self.generic_visit(node)
            idx = node.slice
            if isinstance(idx, ast.Tuple):
                return node
            return ast.Call(ast.Name("_row", ast.Load()), [node.value, idx], [])

    def _row(a, i):
        return a[i, 0] if a.shape[1] == 1 else a[i:i + 1, :]

    tree = Rows().visit(ast.parse(text.replace("^", "**"), mode="eval"))
    ast.fix_missing_locations(tree)

    def exact(node):  # decimals as exact rationals, before Python reads them as floats
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            return ast.Call(ast.Name("_q", ast.Load()), [ast.Constant(ast.unparse(node))], [])
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                setattr(node, field, [exact(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, exact(value))
        return node

    tree = exact(tree)
    ast.fix_missing_locations(tree)
    ns = {**_np_namespace(), **env, "_row": _row, "_q": lambda s: num(s), "np": np}
    return eval(compile(tree, "<node>", "eval"), {"__builtins__": {}}, ns)


def tensor_oracle(spec: dict) -> dict:
    """{'values': {node: array}, 'grads': {leaf: array}}: every node composed by NumPy over
    symbols, and each gradient entry ``sympy.diff`` of the composed scalar loss."""
    import numpy as np

    leaves, sub, symbols = {}, {}, {}
    for sec in ("inputs", "params", "constants"):
        for name, v in (spec.get(sec) or {}).items():
            sym, val = _np_leaf(v, name, symbolic=sec != "constants")
            leaves[name] = sym
            if sec != "constants":
                symbols[name] = sym
                if isinstance(sym, np.ndarray):
                    sub.update({sym[k]: val[k] for k in np.ndindex(sym.shape)})
                else:
                    sub[sym] = val
    env = dict(leaves)
    pending = dict(spec["nodes"])
    while pending:  # in dependency order: evaluate what can be, until all are
        for name, text in list(pending.items()):
            try:
                env[name] = _np_eval(str(text), env)
            except NameError:
                continue
            del pending[name]
    loss = env[spec["loss"]]
    loss = loss.item() if isinstance(loss, np.ndarray) else loss

    def value(a):
        if isinstance(a, np.ndarray):
            return a if a.ndim == 2 else a.reshape(1, -1)
        return a

    values = {}
    for n in spec["nodes"]:
        v = value(env[n])
        values[n] = (np.vectorize(lambda e: sp.sympify(e).xreplace(sub), otypes=[object])(v)
                     if isinstance(v, np.ndarray) else sp.sympify(v).xreplace(sub))
    grads = {}
    for name, sym in symbols.items():
        if isinstance(sym, np.ndarray):
            g = np.empty(sym.shape, dtype=object)
            for k in np.ndindex(sym.shape):
                g[k] = sp.diff(loss, sym[k]).xreplace(sub)
            grads[name] = g
        else:
            grads[name] = sp.diff(loss, sym).xreplace(sub)
    return {"values": values, "grads": grads}
