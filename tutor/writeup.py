"""``tutor solve``: the worked solution as Rich text, JSON or Markdown. Display only.

Each step: its id, what it means, the formula (symbols, then numbers), the value, the exact
form, and why each zero entry is zero. All of it read from Steps; nothing recomputed.
"""
from __future__ import annotations

import json
from typing import Any

from tutor.render import entry_name, exact_text, fmt, to_json
from tutor.steps import Step

PHASE_TITLES = {"forward": "Forward pass", "backward": "Backward pass",
                "inputs": "Gradients of the inputs", "update": "SGD update"}


def zero_lines(step: Step) -> list[tuple[str, str]]:
    """(entries, why) with entries that share a cause grouped: ('dW2[2,1], dW2[2,2]', '…')."""
    groups: dict[str, list[str]] = {}
    shape = getattr(step.value, "shape", None)
    for idx, why in step.zeros.items():
        groups.setdefault(why, []).append(entry_name(step.id, idx, shape))
    return [(", ".join(names), why) for why, names in groups.items()]


def formula_text(step: Step) -> tuple[str, str]:
    """('δ2 · h1ᵀ', '[-0.2192, 0] · [0.6, 0.1]ᵀ') — symbols, then numbers."""
    f = step.formula
    if f is None or not f.operands:
        return "", ""
    return f.symbolic(), f.numeric()


def step_record(step: Step) -> dict[str, Any]:
    sym, num = formula_text(step)
    rec = {"id": step.id, "phase": step.phase, "skill": step.skill,
           "exact": exact_text(step.value), "value": to_json(step.value),
           "meaning": step.meaning, "formula": sym, "numbers": num,
           "exact_form": step.quantity.exact}
    if step.formula is not None and step.formula.note:
        rec["rule"] = step.formula.note
    zs = zero_lines(step)
    if zs:
        rec["zeros"] = [{"entries": e, "why": w} for e, w in zs]
    return rec


def to_json_text(worked, steps: list[Step]) -> str:
    return json.dumps({"exercise": worked.id, "title": worked.exercise.spec.title,
                       "steps": [step_record(s) for s in steps]}, ensure_ascii=False, indent=2)


def to_markdown(worked, steps: list[Step]) -> str:
    spec = worked.exercise.spec
    out = [f"# {spec.title or spec.id}", ""]
    if spec.source:
        out += [f"*Source: {spec.source}*", ""]
    if spec.notes:
        out += [spec.notes.strip(), ""]
    phase, it = None, None
    for s in steps:
        if s.iteration != it and worked.solution.n_iterations > 1:
            it, phase = s.iteration, None
            out += [f"## Iteration {it}", ""]
        if s.phase != phase:
            phase = s.phase
            out += [f"### {PHASE_TITLES[phase]}", ""]
        sym, num = formula_text(s)
        line = f"- **`{s.id}`** — {s.meaning}"
        if sym and sym != s.meaning:
            line += f" = {sym}"
        if num:
            line += f" = {num}"
        line += f" = **{fmt(s.value)}**"
        exact = exact_text(s.value)
        if exact != fmt(s.value):
            line += f"  (exact: `{exact}`)" if s.quantity.exact else "  (carried at 40 digits)"
        out.append(line)
        if s.formula is not None and s.formula.note:
            out.append(f"  - rule: {s.formula.note}")
        for entries, why in zero_lines(s):
            out.append(f"  - {entries} = 0: {why}")
    return "\n".join(out) + "\n"


def to_rich(worked, steps: list[Step], console) -> None:
    from rich.table import Table
    from rich.text import Text

    spec = worked.exercise.spec
    console.print(Text(spec.title or spec.id, style="bold"), Text(f"  ({spec.id})", style="dim"))
    if spec.source:
        console.print(Text(spec.source, style="dim"))
    if spec.notes:
        console.print(Text(spec.notes.strip(), style="italic"))
    groups: list[tuple[str, list[Step]]] = []
    for s in steps:
        title = PHASE_TITLES[s.phase] + (f" — iteration {s.iteration}"
                                         if worked.solution.n_iterations > 1 else "")
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
            if sym and sym != s.meaning:
                formula.append(f" = {sym}")
            if num:
                formula.append(f"\n  = {num}", style="dim")
            if s.formula is not None and s.formula.note:
                formula.append(f"\n  {s.formula.note}", style="dim italic")
            for entries, why in zero_lines(s):
                formula.append(f"\n  {entries} = 0: {why}", style="yellow")
            value = Text(fmt(s.value))
            exact = exact_text(s.value)
            if exact != fmt(s.value):
                value.append("\n" + (exact if s.quantity.exact else "(40-digit value)"),
                             style="dim")
            table.add_row(s.id, formula, value)
        console.print(table)
