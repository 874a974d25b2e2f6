"""Two images pasted side by side into one: the paper's "two objects in one input" scenario.

EL-VIT (section VI-B, Fig. 10) shows a cat and a dog in one image: the CLS token is similar to
both, and each animal's patches become similar to one another. The book makes such an image from
two of its own examples::

    python -m elvit_sphinx.analysis.composite book/images/cifar10-test-cat-0001.jpg \\
        book/images/cifar10-test-dog-0001.jpg book/images/composite-cat-dog.png --names cat dog

Each image is fitted into a square tile (pixels copied unchanged when it already is one, as the
32×32 CIFAR-10 images are), the two tiles sit side by side in the middle of a square grey canvas
(the model's input is square: a 2:1 strip would be stretched), and the tiles' boxes are written
beside the result as ``<stem>.regions.json`` (:mod:`elvit_sphinx.analysis.image_regions`).

Why a committed file rather than one made during each build: a figure directive and a
notebook cell both need a file path before anything runs, the build must not write into the
book's sources (they may be read-only, and a generated file there would show up as a change),
and an image under the output folder has no path a page can name. So the generated PNG and its
regions are committed in ``book/images/`` and ``tests/test_composite.py`` regenerates them and
checks that the bytes are the same: the file is reproducible from the two inputs and this code.
The PNG is written uncompressed, so its bytes do not depend on the zlib build.
"""

from __future__ import annotations

import argparse
import os

from PIL import Image

from elvit_sphinx.analysis.image_regions import ImageRegions, regions_path
from elvit_sphinx.tracing.images import load_rgb

#: Neutral grey: the padding is plain background, with no colour of either object.
BACKGROUND = (128, 128, 128)


def _tile(image: Image.Image, side: int) -> Image.Image:
    """``image`` fitted into a ``side``×``side`` tile (aspect kept, centred on the background)."""
    if image.size == (side, side):
        return image
    scale = side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    tile = Image.new("RGB", (side, side), BACKGROUND)
    tile.paste(resized, ((side - size[0]) // 2, (side - size[1]) // 2))
    return tile


def compose_side_by_side(left_path: str, right_path: str,
                         names: tuple[str, str]) -> tuple[Image.Image, ImageRegions]:
    """The composite image and the boxes of its two tiles (named ``names``)."""
    left, right = load_rgb(left_path).rgb, load_rgb(right_path).rgb
    side = min(max(left.size), max(right.size))
    canvas = Image.new("RGB", (2 * side, 2 * side), BACKGROUND)
    top = side // 2
    canvas.paste(_tile(left, side), (0, top))
    canvas.paste(_tile(right, side), (side, top))
    regions = ImageRegions(
        width=2 * side, height=2 * side,
        regions={names[0]: [(0, top, side, top + side)], names[1]: [(side, top, 2 * side, top + side)]},
        source=(f"made by elvit_sphinx.analysis.composite from {os.path.basename(left_path)} (left) and "
                f"{os.path.basename(right_path)} (right); each box is the tile of one image"))
    return canvas, regions


def png_bytes(image: Image.Image) -> bytes:
    """The PNG encoding of ``image``, stored without compression (reproducible bytes)."""
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def write_composite(left_path: str, right_path: str, out_path: str,
                    names: tuple[str, str]) -> tuple[str, str]:
    """Write the composite PNG and its regions file; return both paths."""
    image, regions = compose_side_by_side(left_path, right_path, names)
    with open(out_path, "wb") as handle:
        handle.write(png_bytes(image))
    json_path = regions_path(out_path)
    with open(json_path, "w", encoding="utf-8") as handle:
        handle.write(regions.to_json())
    return out_path, json_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left")
    parser.add_argument("right")
    parser.add_argument("output", help="the PNG to write; the regions go beside it")
    parser.add_argument("--names", nargs=2, default=("left", "right"), metavar=("LEFT", "RIGHT"))
    args = parser.parse_args()
    for path in write_composite(args.left, args.right, args.output, tuple(args.names)):
        print(path)


if __name__ == "__main__":
    main()
