"""``tutor solve``: the worked solution as Rich text, JSON or Markdown. Display only.

Each step: its id, what it means, the formula (symbols, then numbers), the value, the exact
form, and why each zero entry is zero. All of it read from Steps; nothing recomputed.
"""
from __future__ import annotations

import json
from typing import Any

from tutor.render import EXACT_SHORT, entry_name, exact_text, fmt, to_json
from tutor.steps import Step
from tutor import words
from tutor.words import PHASE_TITLES, SKILLS, phase_title, record, say
from tutor.formula import Formula, Operand
from tutor.words.notation import adds_up
from tutor.words.notation import (LOSS_TEX, meaning_text, note_text, only_the_value, restates, tex,
                                  tex_name, tex_new_name, tex_value, text)


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


def formula_text(step: Step) -> tuple[str, str]:
    """('δ2 · h1ᵀ', '[-0.2192, 0] · [0.6, 0.1]ᵀ') — symbols, then numbers."""
    f = step.formula
    if f is None or not f.operands():
        return "", ""
    if step.phase == "formulas":  # a formula question: the formula is the answer
        return text(f), ""
    return text(f), text(f, numbers=True)


def step_record(step: Step) -> dict[str, Any]:
    sym, num = formula_text(step)
    rec = {"id": step.id, "phase": step.phase, "skill": step.skill,
           "exact": exact_text(step.value), "value": to_json(step.value),
           "meaning": meaning_text(step.meaning), "formula": sym, "numbers": num,
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


def to_markdown(worked, steps: list[Step], depth: int = 0) -> str:
    """The solution key a teacher can publish: every step as display math in the notation of
    the seeds (z^{(ℓ)}, δ^{(ℓ)}, ∂L/∂W^{(ℓ)} = δ^{(ℓ)} h^{(ℓ−1)⊤}, ⊙ 1[z > 0] …), symbols first,
    then the numbers, then the value; the rule, the exact form and every zero's cause below.
    GitHub, GitLab, Jupyter and pandoc render the $$…$$ blocks. ``depth``: every heading that
    many levels further down (a key inside another document: a student's feedback)."""
    spec = worked.exercise.spec
    h = "#" * depth
    out = [f"{h}# {spec.title or spec.id}", ""]
    meta = [f"`{spec.id}`"]
    if words.source(worked):
        meta.append(f"*{words.source(worked)}*")
    if words.variant(worked):
        meta.append(words.variant(worked))
    out += [" · ".join(meta), ""]
    if spec.notes:
        out += [spec.notes.strip(), ""]
    graded = f"Answers are graded to {words.tolerance_label(worked.tolerance, worked.symbolic)}."
    if any(s.quantity.exact and len(exact_text(s.value)) > EXACT_SHORT for s in steps):
        graded += (" Exact forms are shown where they are short; `tutor solve --format json` "
                   "gives every one.")
    out += [graded, ""]
    out += given_markdown(worked, depth)
    phase, it = None, None
    for s in steps:
        if s.iteration != it and worked.solution.n_iterations > 1:
            it, phase = s.iteration, None
            out += [f"{h}## Iteration {it}", ""]
        if s.phase != phase:
            phase = s.phase
            out += [f"{h}### {PHASE_TITLES[phase]}", ""]
        out += [f"**`{s.id}`** · {SKILLS.get(s.skill, s.skill)}", "",
                "$$" + display_tex(worked, s) + "$$", ""]
        notes = []
        exact = exact_text(s.value)
        if exact != fmt(s.value):
            if not s.quantity.exact:
                notes.append("carried at 40 significant digits")
            elif len(exact) <= EXACT_SHORT:
                notes.append(f"exact: `{exact}`")
        if s.phase == "formulas":  # the answer as a student types it
            notes.append(f"typed: `{fmt(s.value)}`")
        if note_text(s.formula):
            notes.append(f"rule: {note_text(s.formula)}")
        for entries, why in zero_lines(s):
            notes.append(f"{entries} = 0: {why}")
        if notes:
            out += [f"- {n}" for n in notes] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def given_markdown(worked, depth: int = 0) -> list[str]:
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
    out = ["#" * depth + "## Given", ""]
    for role in ("inputs", "constants", "parameters"):
        if role in groups:
            line = ", ".join(f"${t}$" for t in groups[role])
            if tex_width(line) <= PAGE_WIDTH - 12:
                out.append(f"- {role}: " + line)
            else:  # too wide for a printed line: one value a line
                out.append(f"- {role}:")
                out += [f"    - ${t}$" for t in groups[role]]
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


PAGE_WIDTH = 80  # about the characters of display math across a printed page (A4, Letter)


def display_tex(worked, s: Step) -> str:
    """The step's display math: on one line when it fits across a page (PAGE_WIDTH, as
    estimated by tex_width), else one ``=`` per line (an aligned block), so that a batch's
    matrices do not run off a printed key."""
    lhs, parts = step_parts(worked, s)
    line = lhs + "".join(rel + part for rel, part in parts)
    if tex_width(line) <= PAGE_WIDTH or not parts:
        return line
    rows = [f"{lhs} &{parts[0][0].lstrip()}{parts[0][1]}"]
    rows += [f"&{rel.lstrip()}{part}" for rel, part in parts[1:]]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def tex_width(t: str) -> float:
    """About how many characters wide display math ``t`` prints: a matrix as wide as its
    widest row, a fraction as its wider part, sub- and superscripts smaller, a command one
    character, a relation or operator with its spacing. An estimate, for line breaking."""
    import re

    text_cmds = {"mathbf", "mathcal", "mathrm", "text", "hat", "tfrac", "operatorname"}
    wide = {"=": 3, "+": 3, "-": 2, "cdot": 3, "odot": 3, "approx": 3}

    def group(i: int) -> tuple[str, int]:  # t[i] == "{": its inside and the index after
        depth = 0
        for j in range(i, len(t)):
            depth += {"{": 1, "}": -1}.get(t[j], 0)
            if depth == 0:
                return t[i + 1:j], j + 1
        return t[i + 1:], len(t)

    w, i = 0.0, 0
    while i < len(t):
        c = t[i]
        if t.startswith("\\begin{bmatrix}", i):
            j = t.find("\\end{bmatrix}", i)
            j = len(t) if j < 0 else j
            rows = t[i + len("\\begin{bmatrix}"):j].split("\\\\")
            w += 2 + max(sum(tex_width(x) + 1.5 for x in r.split("&")) for r in rows)
            i = j + len("\\end{bmatrix}")
        elif c == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", t[i:])
            name = m[1]
            i += len(m[0])
            if name == "frac" and t[i:i + 1] == "{":
                a, i = group(i)
                b, i = group(i) if t[i:i + 1] == "{" else ("", i)
                w += max(tex_width(a), tex_width(b)) + 0.5
            elif name in text_cmds and t[i:i + 1] == "{":
                a, i = group(i)
                w += tex_width(a)
            elif name not in ("left", "right"):
                w += wide.get(name, 1)
        elif c == "{":
            a, i = group(i)
            w += tex_width(a)
        elif c in "^_":
            if t[i + 1:i + 2] == "{":
                a, i = group(i + 1)
                w += 0.7 * tex_width(a)
            else:
                w, i = w + 0.7, i + 2
        else:
            w += 0 if c == " " else wide.get(c, 1)
            i += 1
    return w


def step_tex(worked, s: Step) -> str:
    """lhs = symbols = numbers = value, for one step, from the step's meaning and formula."""
    lhs, parts = step_parts(worked, s)
    return lhs + "".join(rel + part for rel, part in parts)


def step_parts(worked, s: Step) -> tuple[str, list[tuple[str, str]]]:
    """The step's display as its left-hand side and the (relation, right-hand side) that
    follow it: ("z^{(1)}", [(" = ", symbols), (" = ", numbers), (" = ", value)])."""
    import sympy as sp

    g = worked.graph
    net = g.kind == "network"
    it, kind, name = s.key
    node = g.nodes[name]
    value = tex_value(s.value)
    if kind == "new":  # W^{(2)}_{\text{new}}; w_{1} → w_{1,\text{new}}
        lhs = tex_new_name(name, net)
    elif kind == "value":
        lhs = tex_name(name, net)
    else:  # δ2 = ∂L/∂z2, or ∂L/∂W2
        lhs = tex_name(s.meaning.lhs, net)
        d = s.meaning.definition
        if isinstance(d, Operand):
            lhs += " = " + tex_name(d.name, net)
        elif d is not None:
            lhs += " = " + tex(Formula(d), net)
    f = s.formula
    if f is None or not f.operands():
        if kind == "value" and node.op == "expr":
            return lhs, [(" = ", sp.latex(node.attrs["expr"])), (" = ", value)]
        return lhs, [(" = ", value)]
    sym, num = tex(f, net, False), tex(f, net, True)
    if kind == "formula":  # a formula question: the recipe in symbols is the answer
        return lhs, [(" = ", sym)]
    if kind == "value" and node.op == "loss":
        sym = LOSS_TEX[node.attrs["fn"]]  # the loss as the seeds define it
    if num == sym or only_the_value(f, s.value):
        return lhs, [(" = ", sym), (" = ", value)]
    eq = " = " if adds_up(worked, s) else r" \approx "  # rounded numbers: about the value
    return lhs, [(" = ", sym), (eq, num), (eq, value)]


def step_text(worked, s: Step) -> dict[str, Any]:
    """One step as plain text, the way the terminal table (and a student's HTML feedback)
    shows it: ``formula`` 'δ2 = ∂L/∂z2 = ∂L/∂h2 ⊙ ReLU′(z2)' (the meaning, then the formula
    in symbols), ``numbers`` '= [-0.2192, 0.1462] ⊙ [1, 0]' ('≈ …' when the rounded numbers
    only come near the value; '' when there are none), ``rule`` 'ReLU′(z) = 1[z > 0]' (or
    ''), ``zeros`` [(entries, why)], ``value`` '[-0.2192, 0]', ``exact`` the exact form when
    it differs from the value ('(40-digit value)' when it is carried, not exact; else '')."""
    sym, num = formula_text(s)
    formula = meaning_text(s.meaning)
    if sym and not restates(s):
        formula += f" = {sym}"
    exact = exact_text(s.value)
    return {"formula": formula,
            "numbers": "" if not num else f"{'=' if adds_up(worked, s) else '≈'} {num}",
            "rule": note_text(s.formula), "zeros": zero_lines(s), "value": fmt(s.value),
            "exact": "" if exact == fmt(s.value)
            else exact if s.quantity.exact else "(40-digit value)"}


def to_rich(worked, steps: list[Step], console) -> None:
    from rich.table import Table
    from rich.text import Text

    spec = worked.exercise.spec
    variant = f", {words.variant(worked)}" if words.variant(worked) else ""
    console.print(Text(spec.title or spec.id, style="bold"),
                  Text(f"  ({spec.id}{variant})", style="dim"))
    if words.source(worked):
        console.print(Text(words.source(worked), style="dim"))
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
            t = step_text(worked, s)
            formula = Text(t["formula"])
            if t["numbers"]:
                formula.append(f"\n  {t['numbers']}", style="dim")
            if t["rule"]:
                formula.append(f"\n  {t['rule']}", style="dim italic")
            for entries, why in t["zeros"]:
                formula.append(f"\n  {entries} = 0: {why}", style="yellow")
            value = Text(t["value"])
            if t["exact"]:
                value.append("\n" + t["exact"], style="dim")
            table.add_row(s.id, formula, value)
        console.print(table)
