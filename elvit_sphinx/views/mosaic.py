"""Tensors as mosaics of small heatmaps (EL-VIT, Fig. 5 and 6), and their PNG sprites.

Two kinds of picture:

* ``tiles`` — a tokens × channels tensor is drawn transposed: each channel becomes one small
  image (a *tile*) of its values over the tokens, in the layout of the paper's Fig. 6: the CLS
  token's cell at the top left, then the patches in their ``grid × grid`` arrangement, row by row,
  as they sit in the image (a tensor without CLS, ``embeddings.patches``, has only the grid).
  Each tile is min-max normalised on its own, ``(x − min) / (max − min)``. An attention tensor
  ``heads × tokens × head_dim`` gives ``head_dim`` tiles per head; each head starts a new row.
* ``maps`` — an attention matrix ``heads × tokens × tokens`` is one square map per head (row =
  query token, column = key token), min-max normalised per head.

What travels to the page is not the mosaic but its *data matrix*, one row per tile (its tokens in
order) or per query row of a map, as an 8-bit grayscale PNG of palette indices
(:func:`.heatmap.codes`), with the minimum and maximum of each tile or map as float32: the page
colours the indices with the palette and places the rows into the mosaic (``static/mosaic.js``,
the same geometry as :class:`Layout`), and a hovered cell's value is read back as
``min + code / 255 · (max − min)``, within half a colour step of the trace's value.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from elvit_sphinx.views import heatmap
from elvit_sphinx.views.encoding import encode

#: Pixels between tiles, and the extra pixels before each head's first row of tiles.
GAP = 1
GROUP_GAP = 3
#: Width : height the mosaics aim at.
ASPECT = 4 / 3


@dataclass(frozen=True)
class Layout:
    """Where every tile (or map) of a mosaic sits; ``static/mosaic.js`` follows the same rules."""

    kind: str  # "tiles" or "maps"
    count: int  # tiles (channels) or maps (heads) drawn
    tokens: int  # values per tile, or the side of a map
    grid: int
    cls: bool  # the first token is the CLS token (its own cell above the grid)
    group: int  # tiles per group: each group (head) starts a new row
    per_row: int
    tile_w: int
    tile_h: int

    @property
    def gap(self) -> int:
        return GAP if self.kind == "tiles" else 2

    @property
    def rows_per_group(self) -> int:
        return math.ceil(min(self.group, self.count) / self.per_row)

    @property
    def groups(self) -> int:
        return math.ceil(self.count / self.group)

    @property
    def width(self) -> int:
        return min(self.per_row, self.count) * (self.tile_w + self.gap) - self.gap

    @property
    def height(self) -> int:
        rows = (self.groups - 1) * self.rows_per_group + math.ceil(
            (self.count - (self.groups - 1) * self.group) / self.per_row)
        return rows * (self.tile_h + self.gap) - self.gap + (self.groups - 1) * GROUP_GAP

    def origin(self, index: int) -> tuple[int, int]:
        """Top-left pixel (x, y) of tile or map ``index``."""
        group, within = divmod(index, self.group)
        row = group * self.rows_per_group + within // self.per_row
        return ((within % self.per_row) * (self.tile_w + self.gap),
                row * (self.tile_h + self.gap) + group * GROUP_GAP)

    def cell(self, token: int) -> tuple[int, int]:
        """(x, y) of a token's cell inside a tile (tiles only)."""
        if self.cls:
            return (0, 0) if token == 0 else ((token - 1) % self.grid, 1 + (token - 1) // self.grid)
        return token % self.grid, token // self.grid

    def to_json(self) -> dict:
        return {**asdict(self), "gap": self.gap, "group_gap": GROUP_GAP,
                "rows_per_group": self.rows_per_group, "width": self.width, "height": self.height}


def layout_for(shape: tuple[int, ...], grid: int, kind: str = "tiles", shown: int | None = None) -> Layout:
    """The mosaic of a tensor of ``shape``, drawing its first ``shown`` tiles (or maps)."""
    if kind == "maps":  # heads × tokens × tokens
        heads, tokens, _ = shape
        count = shown or heads
        per_row = max(1, math.ceil(math.sqrt(count * ASPECT)))
        per_row = math.ceil(count / math.ceil(count / per_row))  # rows as full as possible
        return Layout("maps", count, tokens, grid, True, count, per_row, tokens, tokens)
    if len(shape) == 3:  # heads × tokens × head_dim: each head's channels form a group
        heads, tokens, group = shape
        channels = heads * group
    else:
        tokens, channels = shape
        group = channels
    count = shown or channels
    group = min(group, count)
    cls = tokens == grid * grid + 1
    tile_w, tile_h = grid, grid + (1 if cls else 0)
    return Layout("tiles", count, tokens, grid, cls, group,
                  _best_per_row(count, group, tile_w, tile_h, GAP), tile_w, tile_h)


def _best_per_row(count: int, group: int, tile_w: int, tile_h: int, gap: int) -> int:
    ideal = max(1, round(math.sqrt(count * (tile_h + gap) / (tile_w + gap) * ASPECT)))
    # A divisor of the group size (a head's channels, or all of them) near the ideal keeps
    # every row full.
    divisors = [k for k in range(1, group + 1) if group % k == 0]
    best = min(divisors, key=lambda k: abs(math.log(k / ideal)))
    return best if abs(math.log(best / ideal)) < math.log(2) else min(ideal, group)


def data_matrix(values: np.ndarray, layout: Layout) -> np.ndarray:
    """The rows the PNG holds: one per tile (its tokens in order) or per map row."""
    values = np.asarray(values)
    if layout.kind == "maps":
        return values[:layout.count].reshape(layout.count * layout.tokens, layout.tokens)
    if values.ndim == 3:  # heads × tokens × d → (heads·d) × tokens, head by head
        values = values.transpose(0, 2, 1).reshape(-1, values.shape[1])
    else:
        values = values.T
    return values[:layout.count]


def picture_codes(values: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(codes as the PNG holds them, minimum and maximum of each tile or map)."""
    matrix = data_matrix(values, layout)
    if layout.kind == "maps":
        maps = matrix.reshape(layout.count, layout.tokens * layout.tokens)
        codes = heatmap.codes(maps, axis=1).reshape(matrix.shape)
        return codes, maps.min(axis=1), maps.max(axis=1)
    return heatmap.codes(matrix, axis=1), matrix.min(axis=1), matrix.max(axis=1)


def png_bytes(codes: np.ndarray) -> bytes:
    """8-bit grayscale PNG of palette indices (no colour profile: browsers read it back exactly)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(codes, dtype=np.uint8), mode="L").save(buffer, "PNG",
                                                                                optimize=True)
    return buffer.getvalue()


def picture(values: np.ndarray, layout: Layout) -> dict:
    """One mosaic's payload: the PNG (base64, for a ``data:`` URL) and per-tile min and max."""
    codes, low, high = picture_codes(values, layout)
    return {"png": base64.b64encode(png_bytes(codes)).decode("ascii"),
            "lo": encode(low, "f32"), "hi": encode(high, "f32")}


def rgb_thumbnail_png(image: np.ndarray, size: int) -> str:
    """The input image, at most ``size`` pixels wide, as a base64 PNG."""
    thumb = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if thumb.width > size:
        thumb = thumb.resize((size, round(size * thumb.height / thumb.width)), Image.Resampling.BOX)
    buffer = io.BytesIO()
    thumb.save(buffer, "PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- The static picture (views/detail.py): the mosaic painted here, as mosaic.js paints it -----

def layout_from_json(entry: dict) -> Layout:
    """The :class:`Layout` a ``layout.to_json()`` came from."""
    return Layout(**{name: entry[name] for name in Layout.__dataclass_fields__})


def sheet_codes(picture_payload: dict) -> np.ndarray:
    """The palette indices a :func:`picture` payload's PNG holds (rows × cols, uint8)."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(picture_payload["png"]))).convert("L"))


def mosaic_codes(codes: np.ndarray, layout: Layout) -> np.ndarray:
    """The mosaic as palette indices (layout.height × layout.width, int16), −1 in the gaps and
    beside the CLS cell: every tile or map at :meth:`Layout.origin`, as ``mosaic.paint`` does."""
    out = np.full((layout.height, layout.width), -1, dtype=np.int16)
    origins = np.array([layout.origin(i) for i in range(layout.count)], dtype=np.intp).reshape(-1, 2)
    if layout.kind == "maps":
        n = layout.tokens
        maps = np.asarray(codes)[:layout.count * n].reshape(layout.count, n, n)
        for (x, y), values in zip(origins, maps, strict=True):
            out[y:y + n, x:x + n] = values
        return out
    cells = np.array([layout.cell(t) for t in range(layout.tokens)], dtype=np.intp).reshape(-1, 2)
    rows = origins[:, 1, None] + cells[None, :, 1]
    cols = origins[:, 0, None] + cells[None, :, 0]
    out[rows, cols] = np.asarray(codes)[:layout.count, :layout.tokens]
    return out
