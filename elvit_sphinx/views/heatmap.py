"""Colour and layout helpers shared by the views: min-max heatmaps, grids, option parsing.

Every heatmap in the book is min-max normalised per map, ``(x - min) / (max - min)``, then looked
up in a 256-colour palette (:mod:`.palettes`). :func:`codes` does the normalisation once, to 8-bit
palette indices; a view sends those indices to the page (one byte per value instead of a float)
and the page's runtime colours them (``elvit.Picture.drawCodes``), giving exactly the pixels
:func:`to_rgb` gives here for the static figures.
"""

from __future__ import annotations

import math

import numpy as np

from elvit_sphinx.views.palettes import palette_rgb

DEFAULT_PALETTE = "viridis"


def grid_shape(d: int) -> tuple[int, int]:
    """The most nearly square ``(rows, cols)`` with ``rows * cols == d`` and ``rows <= cols``.

    192 → (12, 16), 768 → (24, 32); a prime falls back to one row.
    """
    if d < 1:
        raise ValueError(f"cannot lay out {d} values in a grid")
    rows = max(r for r in range(1, math.isqrt(d) + 1) if d % r == 0)
    return rows, d // rows


def codes(values: np.ndarray, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Min-max normalise ``values`` to palette indices 0…255 (uint8).

    With ``axis=None`` the whole array is one map; otherwise min and max are taken over ``axis``
    (e.g. ``axis=1`` for one map per row). A constant map has no range to show: index 0.
    """
    values = np.asarray(values, dtype=np.float64)
    lo = values.min(axis=axis, keepdims=axis is not None)
    hi = values.max(axis=axis, keepdims=axis is not None)
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.where(hi > lo, (values - lo) / span * 255.0, 0.0)
    return np.rint(scaled).astype(np.uint8)


def to_rgb(values: np.ndarray, palette: str = DEFAULT_PALETTE) -> np.ndarray:
    """``values`` (any shape) as RGB colours, shape ``values.shape + (3,)``, min-max normalised."""
    return palette_rgb(palette)[codes(values)]


def minmax_rgb(chw: np.ndarray) -> np.ndarray:
    """A C×H×W float tensor (e.g. one conv kernel) as an H×W×3 uint8 picture, min-max over all."""
    return np.moveaxis(codes(chw), 0, -1)


def int_list(text: str | None) -> list[int]:
    """Directive option converter: ``"0, 1,2 5"`` → ``[0, 1, 2, 5]`` (order kept, duplicates dropped)."""
    if text is None or not text.strip():
        raise ValueError("expected a list of whole numbers, e.g. 0,1,2,3")
    result: list[int] = []
    for part in text.replace(",", " ").split():
        try:
            number = int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a whole number (expected e.g. 0,1,2,3)") from None
        if number < 0:
            raise ValueError(f"{number} is negative; numbering starts at 0")
        if number not in result:
            result.append(number)
    return result
