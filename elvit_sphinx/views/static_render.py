"""Drawing a view's static picture (PNG) at build time, from the same data the page receives.

Each view's ``static(data)`` (see :class:`.base.ViewSpec`) lays out its panels with these
helpers and returns a PIL image. matplotlib draws them with its Agg renderer (no display, no
browser); it is imported only when a picture is drawn, so starting Sphinx stays fast.
Heatmaps use the palette indices and palettes the page uses, so the static picture shows the
same colours as the interactive figure.
"""

from __future__ import annotations

import textwrap

import numpy as np

from elvit_sphinx.views.encoding import decode

DPI = 100
TEXT = "#222222"
ACCENT = "#ff3b30"
BAR, BAR_TOP = "#7570b3", "#d95f02"
BLUE, MUTED, BORDER, PANEL = "#0a84ff", "#555555", "#c8c8c8", "#f6f6f6"
#: token_grid: the CLS cell's side and where the patches start, in patch cells (x in the panel).
CLS_CELL, PATCHES_LEFT = 1.5, 2.1


def new_figure(width_px: int, height_px: int):
    """A matplotlib Figure of that size in pixels, not registered with pyplot."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    figure.patch.set_facecolor("white")
    return figure


def to_image(figure):
    """The drawn figure as an RGB PIL image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy())


def panel(figure, left: float, top: float, width: float, height: float):
    """New axes at a place given in pixels from the figure's top-left corner."""
    fig_width, fig_height = figure.bbox.width, figure.bbox.height
    return figure.add_axes((left / fig_width, 1 - (top + height) / fig_height,
                            width / fig_width, height / fig_height))


def sketch(figure, left: float, top: float, width: float, height: float):
    """A panel for a diagram: no axes, data units are pixels from the panel's top-left corner."""
    ax = panel(figure, left, top, width, height)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return ax


def box(ax, x: float, y: float, width: float, height: float, edge: str = BORDER, face: str = PANEL,
        linewidth: float = 1.2) -> None:
    """A rounded box (a diagram's step), at (x, y) = its top-left corner in the panel's units."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0,rounding_size=6",
                                facecolor=face, edgecolor=edge, linewidth=linewidth))


def arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = MUTED) -> None:
    """An arrow from ``start`` to ``end`` (head at the end)."""
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.5,
                                                      "shrinkA": 0, "shrinkB": 0, "mutation_scale": 12})


def fmt(value: float, digits: int) -> str:
    """A number as the page writes it (``elvit.fmt``): fixed digits, a real minus sign."""
    return f"{value:.{digits}f}".replace("-", "−")


def picture(ax, rgb: np.ndarray, title: str = "", grid: int = 0, box=None, smooth: bool = False) -> None:
    """An RGB array (rows × cols × 3) without axes; ``grid`` draws that many cells per side,
    ``box`` = (col, row, width, height) frames a region, in array units. ``smooth`` averages
    cells where the picture is smaller than the array (as the page does for a shrunk raster)
    instead of dropping them; otherwise every cell is a sharp block."""
    rows, cols = rgb.shape[:2]
    ax.imshow(rgb, interpolation="antialiased" if smooth else "nearest", interpolation_stage="rgba",
              extent=(0, cols, rows, 0))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9, color=TEXT, loc="left")
    if grid:
        for k in range(1, grid):
            ax.axhline(k * rows / grid, color="white", alpha=0.5, linewidth=0.5)
            ax.axvline(k * cols / grid, color="white", alpha=0.5, linewidth=0.5)
    if box is not None:
        from matplotlib.patches import Rectangle

        col, row, width, height = box
        ax.add_patch(Rectangle((col, row), width, height, fill=False, edgecolor=ACCENT, linewidth=2))


def coloured(codes: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Palette indices (any shape) → RGB colours (shape + (3,))."""
    return np.asarray(palette).reshape(256, 3)[np.asarray(codes, dtype=np.intp)]


def heatmap(ax, codes: np.ndarray, palette_packed: dict, title: str = "", box=None,
            smooth: bool = False) -> None:
    picture(ax, coloured(codes, decode(palette_packed)), title, box=box, smooth=smooth)


def codes_between(values, lo: float, hi: float) -> np.ndarray:
    """Palette indices of ``values`` on the colour range lo…hi, clamped (``elvit.heat.codes``);
    no range, or a value that is not a number, gives index 0."""
    values = np.asarray(values, dtype=np.float64)
    if not hi > lo:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = np.rint((values - lo) / (hi - lo) * 255.0)
    return np.where(np.isnan(scaled), 0, np.clip(scaled, 0, 255)).astype(np.uint8)


def colorbar(ax, palette_packed: dict, low: str, high: str, label: str = "") -> None:
    """The palette as a horizontal bar, ``low`` under its left end and ``high`` under its right
    (the page's ``elvit.colorbar``); ``label`` to its left."""
    colours = coloured(np.arange(256)[None, :], decode(palette_packed))
    ax.imshow(colours, interpolation="nearest", extent=(0, 1, 0, 1), aspect="auto")
    ax.set_yticks([])
    ax.set_xticks([0, 1], [low, high], fontsize=8, color=TEXT)
    ax.get_xticklabels()[0].set_horizontalalignment("left")
    ax.get_xticklabels()[1].set_horizontalalignment("right")
    ax.tick_params(axis="x", length=2, pad=2)
    if label:
        ax.set_ylabel(label, fontsize=8, color=TEXT, rotation=0, ha="right", va="center")


def token_grid(ax, codes: np.ndarray, palette_packed: dict, grid: int, chosen: int | None = None,
               title: str = "") -> None:
    """The tokens of a model as the page's token picker draws them: the CLS cell (``codes[0]``)
    beside the grid×grid patches (token ``i + 1`` is patch ``i``, row by row); ``chosen`` framed."""
    from matplotlib.patches import Rectangle

    colours = coloured(np.asarray(codes), decode(palette_packed))
    cls_size, left = CLS_CELL, PATCHES_LEFT
    ax.imshow(colours[1:].reshape(grid, grid, 3), interpolation="nearest",
              extent=(left, left + grid, grid, 0))
    ax.add_patch(Rectangle((0, 0), cls_size, cls_size, facecolor=colours[0] / 255, edgecolor=BORDER))
    ax.text(cls_size / 2, cls_size + 0.3, "CLS", ha="center", va="top", fontsize=8, color=TEXT)
    for k in range(1, grid):
        ax.plot([left + k, left + k], [0, grid], color="white", alpha=0.35, linewidth=0.5)
        ax.plot([left, left + grid], [k, k], color="white", alpha=0.35, linewidth=0.5)
    if chosen is not None:
        where = (0, 0, cls_size) if chosen == 0 else (left + (chosen - 1) % grid, (chosen - 1) // grid, 1)
        ax.add_patch(Rectangle(where[:2], where[2], where[2], fill=False, edgecolor=ACCENT, linewidth=2))
    ax.set_xlim(-0.1, left + grid + 0.1)
    ax.set_ylim(grid + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, color=TEXT, loc="left")


def bars(ax, labels: list[str], values, highlight: int | None = None, xlabel: str = "",
         title: str = "", xmax: float | None = None) -> None:
    """Horizontal bars, the first label at the top, the value written after each bar."""
    values = np.asarray(values, dtype=np.float64)
    positions = np.arange(len(labels))[::-1]
    colours = [BAR_TOP if i == highlight else BAR for i in range(len(labels))]
    ax.barh(positions, values, color=colours, height=0.7)
    ax.set_yticks(positions, labels, fontsize=8)
    top = xmax if xmax is not None else max(float(values.max()), 1e-12) * 1.15
    ax.set_xlim(0, top)
    for y, value in zip(positions, values, strict=True):
        ax.text(value + top * 0.01, y, f"{value:.3f}", va="center", fontsize=7, color=TEXT)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9, color=TEXT, loc="left")


def text_block(ax, paragraphs: list[str], chars: int, fontsize: float = 8.5) -> None:
    """Paragraphs of prose in an empty panel, each wrapped at ``chars`` characters."""
    ax.axis("off")
    text = "\n".join(textwrap.fill(paragraph, chars) for paragraph in paragraphs)
    ax.text(0, 1, text, va="top", ha="left", fontsize=fontsize, color=TEXT, transform=ax.transAxes,
            linespacing=1.35)


def text_panel(ax, lines: list[str]) -> None:
    """Lines of text in an empty panel (the readout of the interactive figure)."""
    ax.axis("off")
    ax.text(0, 1, "\n".join(lines), va="top", ha="left", fontsize=8, family="monospace", color=TEXT,
            transform=ax.transAxes)


def titled_colorbar(ax, palette_packed: dict, low: str, high: str, title: str = "") -> None:
    """A horizontal colour bar: palette index 0 at the left (``low``), 255 at the right (``high``),
    a sentence-long ``title`` above it (:func:`colorbar` puts a short label to its left)."""
    ax.imshow(coloured(np.arange(256)[None, :], decode(palette_packed)), aspect="auto",
              interpolation="nearest", extent=(0, 256, 1, 0))
    ax.set_yticks([])
    ax.set_xticks([0, 256], [low, high], fontsize=8)
    ax.tick_params(axis="x", length=2, pad=2, colors=TEXT)
    first, last = ax.get_xticklabels()
    first.set_horizontalalignment("left")
    last.set_horizontalalignment("right")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_linewidth(0.5)
    if title:
        ax.set_title(title, fontsize=8, color=TEXT, loc="left")


class PixelLayout:
    """A figure laid out in pixels from its top-left corner (matplotlib counts from the bottom
    left, in fractions): panels and texts placed where a computed layout puts them."""

    def __init__(self, width_px: int, height_px: int):
        self.width, self.height = int(width_px), int(height_px)
        self.figure = new_figure(self.width, self.height)

    def axes(self, x: float, y: float, width: float, height: float):
        """An axes whose box is ``width`` × ``height`` pixels with its top-left corner at (x, y)."""
        return self.figure.add_axes((x / self.width, 1 - (y + height) / self.height,
                                     width / self.width, height / self.height))

    def text(self, x: float, y: float, text: str, size: float = 9, **style) -> None:
        """Text whose top-left corner is at (x, y) pixels (``ha``/``va`` override the anchor)."""
        style = {"ha": "left", "va": "top", "color": TEXT} | style
        self.figure.text(x / self.width, 1 - y / self.height, text, fontsize=size, **style)

    def image(self):
        return to_image(self.figure)


def resample(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB array at ``width`` × ``height`` pixels: each pixel repeated when enlarged (the
    picture keeps its exact colours), averaged when shrunk."""
    from PIL import Image

    rgb = np.asarray(rgb, dtype=np.uint8)
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = width < rgb.shape[1] or height < rgb.shape[0]
    method = Image.Resampling.BOX if shrink else Image.Resampling.NEAREST
    return np.asarray(Image.fromarray(rgb).resize((width, height), method))


def whole_scale(size: int, target: float) -> float:
    """The scale that shows ``size`` pixels in about ``target``: a whole number when enlarging
    (every source pixel the same square), ``target / size`` when shrinking."""
    return max(1, int(target // size)) if size <= target else target / size


def value_map(values, grid: int, palette_packed: dict, cell: int) -> tuple[np.ndarray, float, float]:
    """``grid``² values (patches in reading order) as a min-max heatmap, ``cell`` pixels a
    patch, as the page paints it (``heatmap.codes``); returns (RGB, min, max)."""
    from elvit_sphinx.views.heatmap import codes

    values = np.asarray(values, dtype=np.float64).reshape(grid, grid)
    rgb = coloured(codes(values), decode(palette_packed))
    return np.repeat(np.repeat(rgb, cell, axis=0), cell, axis=1), float(values.min()), float(values.max())
