"""``tutor solve``: the worked solution as Rich text, JSON or Markdown. Display only.

Each step: its id, what it means, the formula (symbols, then numbers), the value, the exact
form, and why each zero entry is zero. All of it read from Steps; nothing recomputed.
"""
from __future__ import annotations

import json
import re
from typing import Any

from tutor.render import entry_name, exact_text, fmt, to_json
from tutor.steps import Step
from tutor.words import PHASE_TITLES, SKILLS, phase_title, record, say
from tutor.words.notation import note_text, tex, tex_name, tex_value, text


def zero_groups(step: Step) -> list[tuple[str, Any]]:
    """(entries, Cause) with entries that share a cause grouped: ('dW2[2,1], dW2[2,2]', c)."""
    groups: dict[str, tuple[Any, list[str]]] = {}  # by the words: two causes that read alike
    shape = getattr(step.value, "shape", None)
    for idx, c in step.causes.items():
        groups.setdefault(say(c), (c, []))[1].append(entry_name(step.id, idx, shape))
    return [(", ".join(names), c) for c, names in groups.values()]


def zero_lines(step: Step) -> list[tuple[str, str]]:
    """(entries, why) with entries that share a cause grouped: ('dW2[2,1], dW2[2,2]', '…')."""
    return [(names, say(c)) for names, c in zero_groups(step)]


def same_text(sym: str, meaning: str) -> bool:
    """Whether a formula only repeats the step's meaning, up to spacing: 'η · ∂L/∂w' for
    'η·∂L/∂w', or 'W1 x + b1' for 'z1 = W1 x + b1'."""
    a, b = sym.replace(" ", ""), meaning.replace(" ", "")
    return a == b or b.endswith("=" + a)


def formula_text(step: Step) -> tuple[str, str]:
    """('δ2 · h1ᵀ', '[-0.2192, 0] · [0.6, 0.1]ᵀ') — symbols, then numbers."""
    f = step.formula
    if f is None or not f.operands():
        return "", ""
    return text(f), text(f, numbers=True)


def step_record(step: Step) -> dict[str, Any]:
    sym, num = formula_text(step)
    rec = {"id": step.id, "phase": step.phase, "skill": step.skill,
           "exact": exact_text(step.value), "value": to_json(step.value),
           "meaning": step.meaning, "formula": sym, "numbers": num,
           "exact_form": step.quantity.exact}
    if note_text(step.formula):
        rec["rule"] = note_text(step.formula)
    zs = zero_groups(step)
    if zs:  # the words, and the cause as data (tutor.cause.Cause.record)
        rec["zeros"] = [{"entries": e, "why": say(c), "cause": record(c)} for e, c in zs]
    return rec


def to_json_text(worked, steps: list[Step]) -> str:
    head = {"exercise": worked.id, "title": worked.exercise.spec.title}
    if getattr(worked, "seed", None) is not None:
        head["seed"] = worked.seed  # the variant
    return json.dumps({**head, "steps": [step_record(s) for s in steps]}, ensure_ascii=False,
                      indent=2)


def to_markdown(worked, steps: list[Step]) -> str:
    """The solution key a teacher can publish: every step as display math in the notation of
    the seeds (z^{(ℓ)}, δ^{(ℓ)}, ∂L/∂W^{(ℓ)} = δ^{(ℓ)} h^{(ℓ−1)⊤}, ⊙ 1[z > 0] …), symbols first,
    then the numbers, then the value; the rule, the exact form and every zero's cause below.
    GitHub, GitLab, Jupyter and pandoc render the $$…$$ blocks."""
    spec = worked.exercise.spec
    out = [f"# {spec.title or spec.id}", ""]
    meta = [f"`{spec.id}`"]
    if spec.source:
        meta.append(f"*{spec.source}*")
    if getattr(worked, "seed", None) is not None:
        meta.append(f"variant (seed) {worked.seed}")
    out += [" · ".join(meta), ""]
    if spec.notes:
        out += [spec.notes.strip(), ""]
    out += [f"Answers are graded to {worked.tolerance.label}.", ""]
    out += given_markdown(worked)
    phase, it = None, None
    for s in steps:
        if s.iteration != it and worked.solution.n_iterations > 1:
            it, phase = s.iteration, None
            out += [f"## Iteration {it}", ""]
        if s.phase != phase:
            phase = s.phase
            out += [f"### {PHASE_TITLES[phase]}", ""]
        out += [f"**`{s.id}`** · {SKILLS.get(s.skill, s.skill)}", "",
                "$$" + step_tex(worked, s) + "$$", ""]
        notes = []
        exact = exact_text(s.value)
        if exact != fmt(s.value):
            notes.append(f"exact: `{exact}`" if s.quantity.exact
                         else "carried at 40 significant digits")
        if note_text(s.formula):
            notes.append(f"rule: {note_text(s.formula)}")
        for entries, why in zero_lines(s):
            notes.append(f"{entries} = 0: {why}")
        if notes:
            out += [f"- {n}" for n in notes] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def given_markdown(worked) -> list[str]:
    """## Given: every parameter, input, target and constant (the student's own numbers for a
    variant), the learning rate, and what each later iteration changes."""
    g = worked.graph
    net = g.kind == "network"
    roles = {"param": "parameters", "input": "inputs", "const": "constants"}
    groups: dict[str, list[str]] = {}
    for node in g.nodes.values():
        if node.is_leaf and node.name in g.init:
            groups.setdefault(roles[node.op], []).append(
                f"{tex_name(node.name, net)} = {tex_value(g.init[node.name])}")
    out = ["## Given", ""]
    for role in ("inputs", "constants", "parameters"):
        if role in groups:
            out.append(f"- {role}: " + ", ".join(f"${t}$" for t in groups[role]))
    from tutor.rules import act_param
    from tutor.words import ACT_PARAM

    for node in g.nodes.values():
        a = act_param(node)
        if a is not None:
            out.append(f"- {ACT_PARAM[node.attrs['fn']].removesuffix(' α')}, layer "
                       f"{node.attrs.get('layer')}: $\\alpha = {tex_value(a)}$")
    if g.learning_rate is not None:
        out.append(f"- learning rate: $\\eta = {tex_value(g.learning_rate)}$")
    if len(g.iterations) > 1:
        for k, data in enumerate(g.iterations, start=1):
            changed = [f"${tex_name(n, net)} = {tex_value(v)}$" for n, v in data.items()
                       if k == 1 or g.iterations[k - 2].get(n) != v]
            if changed and k > 1:
                out.append(f"- iteration {k}: " + ", ".join(changed)
                           + " (the parameters are those updated by iteration "
                           + f"{k - 1})")
            elif k > 1:
                out.append(f"- iteration {k}: the same data, the updated parameters")
    if g.relu_prime_at_zero:
        out.append("- convention: $\\mathrm{ReLU}'(0) = 1$")
    return out + [""]


# ─── TeX in the notation of the seeds (display only) ────────────────────────────────────
_LOSS_TEX = {"mse": r"\frac{1}{n}\sum (\hat{y} - y)^2", "sse": r"\sum (\hat{y} - y)^2",
             "half_sse": r"\tfrac{1}{2}\sum (\hat{y} - y)^2",
             "bce": r"-\frac{1}{n}\sum \left[y \ln \hat{y} + (1 - y)\ln(1 - \hat{y})\right]",
             "ce": r"-\frac{1}{B}\sum y \ln \hat{y}"}
_ACT_TEX = {"relu": r"\mathrm{ReLU}", "leaky_relu": r"\mathrm{LeakyReLU}", "sigmoid": r"\sigma",
            "elu": r"\mathrm{ELU}", "softplus": r"\mathrm{softplus}",
            "tanh": r"\tanh", "softmax": r"\mathrm{softmax}", "identity": ""}


def step_tex(worked, s: Step) -> str:
    """lhs = symbols = numbers = value, for one step."""
    import sympy as sp

    g = worked.graph
    net = g.kind == "network"
    it, kind, name = s.key
    value = tex_value(s.value)
    if kind == "value":
        node = g.nodes[name]
        lhs = tex_name(name, net)
        sol = worked.solution
        if node.op == "affine":
            w, x, b = node.parents
            sym = (f"{tex_name(w, net)} {tex_name(x, net)} + {tex_name(b, net)}" if
                   g.layout == "column" else
                   f"{tex_name(x, net)} {tex_name(w, net)} + {tex_name(b, net)}")
            vals = [tex_value(sol.value(p, it)) for p in (w, x, b)]
            num = (f"{vals[0]} {vals[1]} + {vals[2]}" if g.layout == "column"
                   else f"{vals[1]} {vals[0]} + {vals[2]}")
            return f"{lhs} = {sym} = {num} = {value}"
        if node.op == "act":
            fn = _ACT_TEX[node.attrs["fn"]]
            z = node.parents[0]
            if not fn:
                return f"{lhs} = {tex_name(z, net)} = {value}"
            return (f"{lhs} = {fn}\\left({tex_name(z, net)}\\right) = "
                    f"{fn}\\left({tex_value(sol.value(z, it))}\\right) = {value}")
        if node.op == "loss":
            num = tex(s.formula, net, True) if s.formula is not None else ""
            return " = ".join([lhs, _LOSS_TEX[node.attrs["fn"]]] + ([num] if num else [])
                              + [value])
        if node.op == "expr":  # as the author wrote it, the numbers in the same places
            if s.formula is None or not s.formula.operands():
                return f"{lhs} = {sp.latex(node.attrs['expr'])} = {value}"
            expr, num = tex(s.formula, net, False), tex(s.formula, net, True)
            return " = ".join([lhs, expr] + ([num] if num != value else []) + [value])
        return f"{lhs} = {value}"
    if kind == "new":  # W^{(2)}_{\text{new}}; w_{1} → w_{1,\text{new}} (one subscript)
        lhs = tex_name(name, net)
        lhs = (lhs[:-1] + r",\text{new}}" if re.search(r"_\{[^{}]*\}$", lhs)
               else lhs + r"_{\text{new}}")
    elif net and name.startswith("z"):
        lhs = tex_name("δ" + name[1:], net) + " = " + tex_name(f"∂L/∂{name}", net)
    else:
        lhs = tex_name(f"∂{g.loss}/∂{name}", net)
    f = s.formula
    if f is None or not f.operands():
        return f"{lhs} = {value}"
    sym, num = tex(f, net, False), tex(f, net, True)
    same = num in (f"{{{value}}}", f"{{({value})}}")  # one operand: its number is the value
    parts = [lhs, sym] + ([num] if num != sym and not same else []) + [value]
    return " = ".join(parts)


def to_rich(worked, steps: list[Step], console) -> None:
    from rich.table import Table
    from rich.text import Text

    spec = worked.exercise.spec
    variant = f", variant {worked.seed}" if getattr(worked, "seed", None) is not None else ""
    console.print(Text(spec.title or spec.id, style="bold"),
                  Text(f"  ({spec.id}{variant})", style="dim"))
    if spec.source:
        console.print(Text(spec.source, style="dim"))
    if spec.notes:
        console.print(Text(spec.notes.strip(), style="italic"))
    groups: list[tuple[str, list[Step]]] = []
    for s in steps:
        title = phase_title(s.phase, s.iteration, worked.solution.n_iterations)
        if not groups or groups[-1][0] != title:
            groups.append((title, []))
        groups[-1][1].append(s)
    for title, group in groups:
        table = Table(title=title, title_justify="left", title_style="bold cyan",
                      show_lines=False, expand=False, pad_edge=False)
        table.add_column("step", style="bold", no_wrap=True)
        table.add_column("formula", overflow="fold")
        table.add_column("value", overflow="fold", style="green")
        for s in group:
            sym, num = formula_text(s)
            formula = Text(s.meaning)
            if sym and not same_text(sym, s.meaning):
                formula.append(f" = {sym}")
            if num:
                formula.append(f"\n  = {num}", style="dim")
            if note_text(s.formula):
                formula.append(f"\n  {note_text(s.formula)}", style="dim italic")
            for entries, why in zero_lines(s):
                formula.append(f"\n  {entries} = 0: {why}", style="yellow")
            value = Text(fmt(s.value))
            exact = exact_text(s.value)
            if exact != fmt(s.value):
                value.append("\n" + (exact if s.quantity.exact else "(40-digit value)"),
                             style="dim")
            table.add_row(s.id, formula, value)
        console.print(table)
