"""Words: where the program's English is made (the start of issue 11's words package).

Small pieces every front end uses — a list said in English, a text clipped to a width, the
names of phases and skills — live here once, so that practice, check, solve and show say
the same thing the same way. The engine returns values; this module makes sentences.
"""
from __future__ import annotations

PHASE_TITLES = {"forward": "Forward pass", "backward": "Backward pass",
                "inputs": "Gradients of the inputs", "update": "SGD update"}

SKILLS = {  # a step's skill (tutor.steps.Step.skill) → its name
    "forward": "forward pass",
    "loss": "loss value",
    "loss_gradient": "loss gradient",
    "delta": "error signal δ",
    "activation_derivative": "activation derivative",
    "weight_grad": "weight gradient",
    "bias_grad": "bias gradient",
    "pass_back": "pass-back",
    "chain_rule": "chain rule at a node",
    "param_grad": "parameter gradient",
    "update": "SGD update",
}


def listing(items: list[str], both: bool = False) -> str:
    """'a', 'a and b' ('both a and b' with ``both``), 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2 and both:
        return f"both {items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def clip(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def phase_title(phase: str, iteration: int = 1, iterations: int = 1) -> str:
    """'Backward pass', or 'Backward pass — iteration 2' when there are several."""
    return PHASE_TITLES[phase] + (f" — iteration {iteration}" if iterations > 1 else "")
