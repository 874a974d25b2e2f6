"""CIFAR-10 as uint8 arrays, from an image folder, a tarball of one, or torchvision's download.

Accepted sources (the data is never assumed to exist; callers pass a path):

* a folder in image-folder layout: ``<root>/<split>/<class>/*.jpg`` (or ``.png``);
* a ``.tar``/``.tar.gz`` holding that layout under any prefix, e.g. the project's
  ``cifar10-jpg.tar.gz`` (``cifar10/<split>/<class>/<NNNN>.jpg``);
* ``torchvision:<dir>`` — ``torchvision.datasets.CIFAR10(<dir>, download=True)``, only where
  torchvision happens to be installed and the network is reachable (not a dependency).

Images come back as one ``(N, 32, 32, 3)`` uint8 array: small enough (150 MB for all 50,000
training images) to sit on the accelerator whole, so the training loop never waits on a
data loader.
"""

from __future__ import annotations

import io
import os
import tarfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elvit_sphinx.compute.model import CIFAR10_CLASSES

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TORCHVISION_PREFIX = "torchvision:"
#: Below this many images a process pool costs more than it saves.
_PARALLEL_MIN = 2000


class CifarDataError(ValueError):
    """The data source is missing or not in a layout this module reads."""


@dataclass
class CifarSplit:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64, indices into ``classes``
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def _decode(blob: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _decode_many(blobs: list[bytes], workers: int | None) -> list[np.ndarray]:
    workers = workers if workers is not None else min(16, os.cpu_count() or 1)
    if workers <= 1 or len(blobs) < _PARALLEL_MIN:
        return [_decode(b) for b in blobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_decode, blobs, chunksize=512))


def _class_order(found: set[str]) -> tuple[str, ...]:
    # The canonical CIFAR-10 order (also the embedded model's id2label) whenever it fits, so a
    # label index means the same thing in the data, the model and the confusion matrix.
    if found == set(CIFAR10_CLASSES):
        return CIFAR10_CLASSES
    return tuple(sorted(found))


def _select(entries: list[tuple[str, str, object]], split: str, per_class: int | None):
    """entries: (class, file name, handle). Sorted by name so every source gives one order."""
    by_class: dict[str, list[tuple[str, object]]] = {}
    for cls, name, handle in entries:
        by_class.setdefault(cls, []).append((name, handle))
    if not by_class:
        raise CifarDataError(f"no images found for split {split!r}")
    classes = _class_order(set(by_class))
    chosen = []
    for label, cls in enumerate(classes):
        files = sorted(by_class[cls], key=lambda item: item[0])
        chosen.extend((label, handle) for _, handle in files[:per_class])
    return classes, chosen


def _from_folder(root: Path, split: str, per_class: int | None, workers: int | None):
    split_dir = root / split
    if not split_dir.is_dir():
        raise CifarDataError(f"{root}: no {split}/ folder (expected {split}/<class>/*.jpg)")
    entries = [
        (cls_dir.name, f.name, f)
        for cls_dir in split_dir.iterdir() if cls_dir.is_dir()
        for f in cls_dir.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES
    ]
    classes, chosen = _select(entries, split, per_class)
    blobs = [path.read_bytes() for _, path in chosen]
    return classes, [label for label, _ in chosen], _decode_many(blobs, workers)


def _from_tarball(path: Path, split: str, per_class: int | None, workers: int | None):
    blobs_by_member: dict[str, bytes] = {}
    entries = []
    # One sequential pass: a .tar.gz cannot seek cheaply, so read the bytes while scanning and
    # drop what the per-class limit does not keep afterwards.
    with tarfile.open(path) as tar:
        for member in tar:
            parts = member.name.split("/")
            if (not member.isfile() or len(parts) < 3 or parts[-3] != split
                    or not parts[-1].lower().endswith(IMAGE_SUFFIXES)):
                continue
            blobs_by_member[member.name] = tar.extractfile(member).read()
            entries.append((parts[-2], parts[-1], member.name))
    classes, chosen = _select(entries, split, per_class)
    blobs = [blobs_by_member[name] for _, name in chosen]
    return classes, [label for label, _ in chosen], _decode_many(blobs, workers)


def _from_torchvision(root: str, split: str, per_class: int | None):
    try:
        from torchvision.datasets import CIFAR10
    except ImportError:
        raise CifarDataError(
            "torchvision is not installed (it is optional); pass a folder or the tarball"
        ) from None
    dataset = CIFAR10(root, train=(split == "train"), download=True)
    if tuple(dataset.classes) != CIFAR10_CLASSES:
        raise CifarDataError(f"unexpected torchvision class list {dataset.classes}")
    labels = np.asarray(dataset.targets, dtype=np.int64)
    # Stable sort by label keeps the dataset's own order within a class, like the other sources.
    order = np.argsort(labels, kind="stable")
    if per_class is not None:
        order = np.concatenate([order[labels[order] == c][:per_class] for c in range(10)])
    return CIFAR10_CLASSES, labels[order].tolist(), list(dataset.data[order])


def load_split(
    source: str | os.PathLike, split: str, per_class: int | None = None,
    workers: int | None = None,
) -> CifarSplit:
    """Load ``split`` ("train" or "test") of ``source``; ``per_class`` keeps the first N of each.

    Within a class, images are ordered by file name, so a limit picks the same images from the
    folder and from the tarball.
    """
    text = os.fspath(source)
    if text.startswith(TORCHVISION_PREFIX):
        classes, labels, images = _from_torchvision(text[len(TORCHVISION_PREFIX):], split,
                                                    per_class)
    else:
        path = Path(text).expanduser()
        if path.is_dir():
            classes, labels, images = _from_folder(path, split, per_class, workers)
        elif path.is_file() and tarfile.is_tarfile(path):
            classes, labels, images = _from_tarball(path, split, per_class, workers)
        elif not path.exists():
            raise CifarDataError(f"data source {text!r} does not exist")
        else:
            raise CifarDataError(f"data source {text!r} is neither a folder nor a tar archive")
    shapes = {image.shape for image in images}
    if len(shapes) != 1:
        raise CifarDataError(f"{text}: images differ in size ({sorted(shapes)[:3]} …)")
    return CifarSplit(
        images=np.stack(images), labels=np.asarray(labels, dtype=np.int64),
        classes=tuple(classes), source=text,
    )
