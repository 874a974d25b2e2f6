"""Annotations written by authors: regions of a tensor, in its own indices, and a text for each.

One annotation per line of the directive's content::

    rows 0..0: the CLS token, added here
    cols 0..63: the first head's channels
    rows 1..last, cols 5..5: channel 5 of every patch

A region is ``rows A..B``, ``cols A..B`` or both separated by a comma (a rectangle); ``row A`` and
``col A`` are one index; bounds are whole numbers counted from 0, or ``last``; both ends are
included. A line that does not start with ``row``/``col`` continues the text of the annotation
above it; blank lines and lines starting with ``#`` are skipped. :func:`parse` checks the
syntax; :func:`resolve` checks the bounds against the tensor of the loaded model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_START = re.compile(r"^\s*(rows?|cols?)\b", re.IGNORECASE)
#: "diagonal 0..3: text": looks like a region, but with an unknown word.
_LOOKS_LIKE_REGION = re.compile(r"^\s*[A-Za-z]+\s+(\d+|last)(\s*\.\.\s*\S+)?\s*[:,]")
_PART = re.compile(r"^(rows?|cols?)\s+(\d+|last)(?:\s*\.\.\s*(\d+|last))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Annotation:
    line: int  # 1-based line of the directive's content
    spec: str  # the region as written
    text: str
    rows: tuple[str, str] | None
    cols: tuple[str, str] | None


class RegionError(ValueError):
    pass


def parse(content: str) -> tuple[list[Annotation], list[str]]:
    """(annotations, problems) from the directive's content."""
    found: list[Annotation] = []
    problems: list[str] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not _START.match(line):
            if found and not _LOOKS_LIKE_REGION.match(line):
                last = found[-1]
                found[-1] = Annotation(last.line, last.spec, f"{last.text} {line}", last.rows, last.cols)
            else:
                problems.append(f"annotation line {number} ({line!r}): expected a region first, "
                                "e.g. 'rows 0..0: the CLS token'")
            continue
        spec, colon, text = line.partition(":")
        if not colon or not text.strip():
            problems.append(f"annotation line {number} ({line!r}): expected 'REGION: text', "
                            "e.g. 'rows 0..0: the CLS token'")
            continue
        try:
            rows, cols = _parse_spec(spec)
        except RegionError as exc:
            problems.append(f"annotation line {number} ({spec.strip()!r}): {exc}")
            continue
        found.append(Annotation(number, " ".join(spec.split()), text.strip(), rows, cols))
    return found, problems


def _parse_spec(spec: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
    rows = cols = None
    for part in (p.strip() for p in spec.split(",")):
        match = _PART.match(part)
        if not match:
            raise RegionError("a region is 'rows A..B', 'cols A..B' or both joined by a comma "
                              "(A, B whole numbers from 0, or 'last')")
        axis, first, last = match.group(1).lower(), match.group(2).lower(), match.group(3)
        bounds = (first, (last or first).lower())
        if axis.startswith("row"):
            if rows:
                raise RegionError("rows are given twice")
            rows = bounds
        else:
            if cols:
                raise RegionError("cols are given twice")
            cols = bounds
    return rows, cols


def _bound(text: str, size: int) -> int:
    return size - 1 if text == "last" else int(text)


def resolve(annotation: Annotation, rows: int, cols: int, tensor: str) -> dict:
    """The region as ``{"r0", "r1", "c0", "c1", "text"}`` (inclusive) in a rows × cols matrix."""
    box = {}
    for axis, bounds, size in (("rows", annotation.rows, rows), ("cols", annotation.cols, cols)):
        first, last = (0, size - 1) if bounds is None else (_bound(bounds[0], size),
                                                           _bound(bounds[1], size))
        if first > last:
            raise RegionError(f"annotation line {annotation.line} ({annotation.spec!r}): {axis} "
                              f"{first}..{last} run backwards")
        if last >= size:
            raise RegionError(f"annotation line {annotation.line} ({annotation.spec!r}): {axis} "
                              f"{first}..{last} are out of range: {tensor} has {axis} 0–{size - 1} "
                              "in this model")
        box[axis[0] + "0"], box[axis[0] + "1"] = first, last
    return {**box, "text": annotation.text}
