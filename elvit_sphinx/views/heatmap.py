"""Colour and layout helpers shared by the views: min-max heatmaps, RGBA packing, option parsing.

Every heatmap in the book is min-max normalised per map, ``(x - min) / (max - min)``, then looked
up in a 256-colour palette. :func:`codes` does the normalisation once, to 8-bit palette indices;
a view may send those indices to the page (one byte per value instead of a float) and colour
them there with :data:`PAINT_JS`, which gives exactly the pixels :func:`to_rgba` gives here.

Bokeh draws an image's first row at the *bottom*; :func:`bokeh_rows` flips an array so that its
first row appears at the top, as in the book's figures (and as a reader expects of a photo).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_PALETTE = "Viridis256"


def grid_shape(d: int) -> tuple[int, int]:
    """The most nearly square ``(rows, cols)`` with ``rows * cols == d`` and ``rows <= cols``.

    192 → (12, 16), 768 → (24, 32); a prime falls back to one row.
    """
    if d < 1:
        raise ValueError(f"cannot lay out {d} values in a grid")
    rows = max(r for r in range(1, math.isqrt(d) + 1) if d % r == 0)
    return rows, d // rows


def palette_rgba(palette: str | Sequence[str] = DEFAULT_PALETTE) -> np.ndarray:
    """A palette (Bokeh name or list of ``#rrggbb``) as 256 packed RGBA ``uint32`` colours."""
    if isinstance(palette, str):
        import bokeh.palettes

        colours = getattr(bokeh.palettes, palette)
    else:
        colours = list(palette)
    if len(colours) != 256:
        raise ValueError(f"a heatmap palette needs 256 colours, not {len(colours)}")
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8)
    return pack_rgba(rgb)


def pack_rgba(rgb: np.ndarray) -> np.ndarray:
    """``...×3`` uint8 RGB → ``...`` uint32 whose bytes are R, G, B, 255 (Bokeh's image_rgba)."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], axis=-1)
    return np.ascontiguousarray(rgba).view("<u4")[..., 0]


def codes(values: np.ndarray) -> np.ndarray:
    """Min-max normalise ``values`` (as one map) to palette indices 0…255 (uint8).

    A constant map has no range to show; it gets index 0 everywhere.
    """
    values = np.asarray(values, dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - lo) / (hi - lo) * 255.0).astype(np.uint8)


def to_rgba(values: np.ndarray, palette: str | Sequence[str] = DEFAULT_PALETTE) -> np.ndarray:
    """``values`` (any shape) as packed RGBA colours of the same shape, min-max normalised."""
    return palette_rgba(palette)[codes(values)]


def bokeh_rows(image: np.ndarray) -> np.ndarray:
    """Flip rows so that ``image[0]`` is drawn at the top by Bokeh's ``image_rgba``."""
    return np.ascontiguousarray(np.flipud(image))


def minmax_rgb(chw: np.ndarray) -> np.ndarray:
    """A C×H×W float tensor (e.g. one conv kernel) as an H×W×3 uint8 picture, min-max over all."""
    return np.moveaxis(codes(chw), 0, -1)


def f32(values) -> list:
    """A float array as a (nested) list of numbers that keep float32 precision and no more.

    ``float(np.float32(0.1))`` is 0.10000000149011612: 19 characters of JSON for 9 digits of
    information. Shortest round-trip float32 text makes the page smaller and the numbers exact.
    """
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim == 0:
        return float(str(arr[()]))  # NumPy prints a float32 scalar as its shortest round trip
    return [f32(v) for v in arr]


def int_list(text: str | None) -> list[int]:
    """Directive option converter: ``"0, 1,2 5"`` → ``[0, 1, 2, 5]`` (order kept, duplicates dropped)."""
    if text is None or not text.strip():
        raise ValueError("expected a list of channel numbers, e.g. 0,1,2,3")
    result: list[int] = []
    for part in text.replace(",", " ").split():
        try:
            number = int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a whole number (expected e.g. 0,1,2,3)") from None
        if number < 0:
            raise ValueError(f"{number} is negative; channel numbers start at 0")
        if number not in result:
            result.append(number)
    return result


# Paint one map on the page: `codes` are palette indices (from codes() above), `target` is the
# data array of an image_rgba glyph (rows × cols, first row drawn at the bottom), `palette` the
# 256 packed colours from palette_rgba(). Rows are flipped as bokeh_rows() does.
PAINT_JS = """
function paint(target, codes, offset, rows, cols, palette) {
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++)
      target[(rows - 1 - r) * cols + c] = palette[codes[offset + r * cols + c]]
}
"""

# Copy patch (row, col) of an image stored as bokeh_rows(pack_rgba(image)) (H × W) into `target`
# (P × P, also bottom-up). Patch row 0 is at the top of the picture, i.e. at the end of the data.
CROP_JS = """
function crop(target, image, H, W, P, row, col) {
  const y0 = H - (row + 1) * P
  for (let j = 0; j < P; j++)
    for (let i = 0; i < P; i++)
      target[j * P + i] = image[(y0 + j) * W + col * P + i]
}
"""


def bare_figure(width: int, height: int, x_end: float, y_end: float, title: str, **kwargs):
    """A plot for pictures: fixed pixel size, data ranges from 0, no axes, grid or toolbar."""
    from bokeh.plotting import figure

    fig = figure(frame_width=width, frame_height=height, x_range=(0, x_end), y_range=(0, y_end),
                 title=title, tools="", toolbar_location=None, min_border=4, **kwargs)
    fig.axis.visible = False
    fig.grid.visible = False
    return fig
