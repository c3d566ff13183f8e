"""The words of ``tutor validate``'s warnings that are made from values (tutor.validate finds
them, as data; here they become the sentence after ``file:line:col: CODE``).

    pool_tie("maxpool(r)", "r", [((1, 0), ((2, 0), (2, 1), (3, 0), (3, 1)), (2, 0), 0)], (4, 4), 1)
      → "maxpool(r): window [2,1] ties for its max at 0 (r[3,1], r[3,2], r[4,1], r[4,2]); which
         entry gets the window's gradient is a convention: tutor gives it to the first, r[3,1],
         row by row (as PyTorch does) — change a value so one entry wins"
"""
from __future__ import annotations

from tutor.render import entry_name, fmt
from tutor.words import listing


def pool_tie(call: str, name: str, ties: list, shape: tuple, iteration: int = 1) -> str:
    """W309: the 2×2 windows of a max pool whose largest entry is not alone. ``ties``: one
    (window, tied entries, winner, value) per such window, each index 0-based — the window's
    (row, column) in the pooled output, the entries of the input ``name`` (of ``shape``)."""
    window, tied, winner, value = ties[0]
    pooled = (shape[0] // 2, shape[1] // 2)
    at = "the window" if pooled == (1, 1) else "window " + entry_name("", window, pooled)
    more = len(ties) - 1
    others = f" (and {more} more window{'s' if more > 1 else ''})" if more else ""
    it = f" (iteration {iteration})" if iteration > 1 else ""
    entries = listing([entry_name(name, k, shape) for k in tied])
    return (f"{call}: {at} ties for its max at {fmt(value)}{it}: {entries}{others}; "
            f"which entry gets the window's gradient is a convention — tutor gives it to the "
            f"first, {entry_name(name, winner, shape)}, row by row (as PyTorch does); change a "
            "value so one entry wins")
