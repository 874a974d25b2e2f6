"""What the interpretation chapter's hidden cells measure, and how its prose words the results.

The chapter (``book/09-what-did-the-model-look-at.md``) makes claims about what the model does:
"CLS is more similar to the horse than to the grass", "the cat's patches become more alike in
deeper blocks". A build with another checkpoint must never state something its own figures
contradict, so every such sentence is chosen here from the numbers of the current build:

* :func:`similarity_phrase` words a :class:`~elvit_sphinx.analysis.interpretation.Contrast` (an AUC: the
  chance that an object patch beats another patch) on a fixed five-step scale;
* :func:`trend_phrase` words how a quantity changes from the first block to the last;
* :func:`cls_evidence` and :func:`pair_evidence` compute the per-block numbers the chapter's
  tables show, from a trace and the object masks stored beside the image
  (:mod:`elvit_sphinx.analysis.image_regions`).

It also makes the chapter's gallery (:func:`gallery_html`: each image with the model's
prediction) and lists the reader's own images (:func:`exported_reader_images`). NumPy and Pillow
only: notebook cells import it.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Sequence

import numpy as np

from elvit_sphinx.analysis.interpretation import Contrast, block_similarities, contrast, mean_pairwise
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

#: The reader's usable ``elvit_images`` (absolute paths, JSON), exported by the build for the
#: notebook kernel (:mod:`elvit_sphinx.pages.reader_images`).
READER_IMAGES_VARIABLE = "ELVIT_BUILD_READER_IMAGES"

#: AUC bounds of the wording scale; 0.5 means no preference either way.
CLEAR, SOME = 0.8, 0.6


def exported_reader_images() -> list[str]:
    """The reader's own images this build uses (empty outside a build or without any)."""
    try:
        paths = json.loads(os.environ.get(READER_IMAGES_VARIABLE, "[]"))
    except json.JSONDecodeError:
        return []
    return [path for path in paths if isinstance(path, str)]


# ------------------------------------------------------------------------------ wording


def preference(auc: float) -> str:
    """``clearly more``, ``somewhat more``, ``about as``, ``somewhat less`` or ``clearly less``."""
    if auc >= CLEAR:
        return "clearly more"
    if auc >= SOME:
        return "somewhat more"
    if auc > 1 - SOME:
        return "about as"
    if auc > 1 - CLEAR:
        return "somewhat less"
    return "clearly less"


def similarity_phrase(result: Contrast, inside: str, outside: str) -> str:
    """E.g. "clearly more similar to the horse's patches than to the other patches (AUC 0.83)"."""
    word = preference(result.auc)
    joint = "as" if word == "about as" else "than"
    return f"{word} similar to {inside} {joint} to {outside} (AUC {result.auc:.2f})"


def trend_phrase(values: Sequence[float], what: str = "", digits: int = 2,
                 tolerance: float = 0.05) -> str:
    """How ``values`` (one per block, first to last) change, e.g. "rises from 0.38 after block 1
    to 0.55 after block 12"; changes smaller than ``tolerance`` "stay near" their mean."""
    first, last = float(values[0]), float(values[-1])
    blocks = f"after block 1 to {last:.{digits}f} after block {len(values)}"
    subject = f"{what} " if what else ""
    if abs(last - first) < tolerance:
        low, high = min(values), max(values)
        return (f"{subject}stays near {float(np.mean(values)):.{digits}f} "
                f"(between {low:.{digits}f} and {high:.{digits}f})")
    verb = "rises" if last > first else "falls"
    return f"{subject}{verb} from {first:.{digits}f} {blocks}"


def class_index(config: TraceConfig, name: str) -> int | None:
    """The class called ``name`` (any case), or None when the model has none."""
    for index, label in config.id2label.items():
        if label.strip().lower() == name.lower():
            return index
    return None


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def signed(value: float, digits: int = 3) -> str:
    """A number as the chapter prints it, with a real minus sign."""
    return f"{value:.{digits}f}".replace("-", "\u2212")


# ------------------------------------------------------------------------------ evidence


def cls_evidence(trace: Trace, mask: np.ndarray, others: np.ndarray | None = None) -> list[Contrast]:
    """Per block: the CLS token's similarity to the patches in ``mask`` versus ``others``
    (default: every other patch)."""
    mask = np.asarray(mask, dtype=bool)
    others = ~mask if others is None else np.asarray(others, dtype=bool)
    keep = mask | others
    return [contrast(sims[0, 1:][keep], mask[keep]) for sims in block_similarities(trace)]


def pair_evidence(trace: Trace, pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[float]]:
    """Per named pair of patch masks: the mean similarity between their patches, per block."""
    sims = block_similarities(trace)
    return {name: [mean_pairwise(block, a, b) for block in sims] for name, (a, b) in pairs.items()}


def token_lengths(trace: Trace) -> list[float]:
    """Per block: the mean length (Euclidean norm) of the tokens of its output."""
    return [float(np.linalg.norm(trace.block(i, "output").astype(np.float64), axis=1).mean())
            for i in range(trace.config.num_layers)]


# ------------------------------------------------------------------------------ pictures


def _png_data_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def thumbnail(trace: Trace, side: int = 112) -> str:
    """The image the model saw, shrunk to ``side`` pixels, as a PNG data URI."""
    from PIL import Image

    picture = Image.fromarray(trace["input.image"]).resize((side, side), Image.Resampling.LANCZOS)
    return _png_data_uri(np.asarray(picture))


def mask_picture(trace: Trace, masks: dict[str, np.ndarray], side: int = 112) -> str:
    """The model's image with every patch outside the masks faded: which patches count as the
    object(s) in the chapter's numbers. An HTML ``<img>``."""
    config = trace.config
    inside = np.zeros(config.num_patches, dtype=bool)
    for mask in masks.values():
        inside |= mask
    grid, patch = config.grid, config.patch_size
    per_pixel = np.kron(inside.reshape(grid, grid), np.ones((patch, patch), dtype=bool))
    image = trace["input.image"].astype(np.float64)
    faded = np.where(per_pixel[..., None], image, 0.25 * image + 0.75 * 255)
    from PIL import Image

    small = Image.fromarray(np.rint(faded).astype(np.uint8)).resize((side, side), Image.Resampling.LANCZOS)
    names = " and ".join(masks)
    return (f'<img src="{_png_data_uri(np.asarray(small))}" width="{side}" height="{side}" '
            f'alt="{html.escape(config.image_name)} with the patches outside the {html.escape(names)} '
            'faded" class="elvit-mask-picture">')


def gallery_html(traces: Sequence[Trace]) -> str:
    """Each image as the model saw it, with the model's most likely class and its probability."""
    items = []
    for trace in traces:
        probs = trace["probs"]
        top = int(np.argmax(probs))
        name = html.escape(trace.config.image_name)
        label = html.escape(trace.config.id2label[top])
        items.append(f'<figure><img src="{thumbnail(trace)}" alt="{name}" width="112" height="112">'
                     f"<figcaption><code>{name}</code><br>{label} ({100 * float(probs[top]):.1f}%)"
                     "</figcaption></figure>")
    return '<div class="elvit-gallery">' + "".join(items) + "</div>"
