"""The model's source code as the book shows it: analysed, highlighted, named, cached by content.

Every checkpoint the book accepts is a ``ViTForImageClassification`` (``model_source`` refuses
anything else), so the model's code is the installed ``transformers.models.vit.modeling_vit``,
found on disk without importing transformers (which would start torch in the Sphinx process).
The code-graph figure, the source pages, the ``{elvit-class}`` role and the code chapter all
read it through :func:`read_source`, which analyses a file once per process and content.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from code_graph import Graph, Node, locate
from code_graph.members import ClassParts, class_parts
from code_graph.sources import package_prefix

from .highlight import highlighted_lines

#: The module that defines the book's model class (see the module docstring).
MODEL_MODULE = "transformers.models.vit.modeling_vit"
#: The class every accepted checkpoint instantiates.
MODEL_CLASS = "ViTForImageClassification"
#: Folder of the built site that holds the generated source pages.
SOURCE_FOLDER = "_elvit_source"


@dataclass(frozen=True)
class SourceCode:
    """One analysed Python file."""

    path: Path
    sha256: str
    module: str  # the dotted name Python imports it under
    version: str  # "transformers 5.24.0", or "" outside an installed distribution
    graph: Graph  # everything: modules, classes, methods, functions
    classes: Graph  # the class-level view
    parts: dict[str, ClassParts]
    html_lines: list[str]

    @property
    def file_name(self) -> str:
        return self.path.name

    @property
    def page(self) -> str:
        """The source page's name in the built site (without suffix)."""
        return f"{SOURCE_FOLDER}/{self.module}"

    def anchor(self, node_id: str) -> str:
        """The id of a class on the source page: its name inside the module (``ViTLayer``)."""
        return node_id.split(".", 1)[1] if "." in node_id else node_id

    def analysed_classes(self) -> list[Node]:
        """The file's own classes, in source order."""
        return sorted((n for n in self.graph.nodes.values() if n.kind == "class"),
                      key=lambda n: (n.line or 0, n.id))

    def find_class(self, name: str) -> Node | None:
        """A class of this file by name (``ViTLayer``) or by its anchor (``Outer.Inner``)."""
        for node in self.analysed_classes():
            if name in (node.name, self.anchor(node.id)):
                return node
        return None

    def excerpt(self, node: Node) -> list[str]:
        """A node's highlighted lines."""
        if node.line is None or node.end_line is None:
            return []
        return self.html_lines[node.line - 1:node.end_line]

    def text_lines(self, first: int, last: int) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines()[first - 1:last]


def model_source_file() -> Path:
    """The installed file that defines the book's model class; ValueError when there is none."""
    try:
        return locate(MODEL_MODULE)
    except ModuleNotFoundError as exc:
        raise ValueError(f"cannot find the model's source ({MODEL_MODULE}): {exc}") from None


def _version(module: str) -> str:
    top = module.split(".", 1)[0]
    try:
        return f"{top} {metadata.version(top)}"
    except metadata.PackageNotFoundError:
        return ""


@functools.lru_cache(maxsize=8)
def _analyse(path: str, sha256: str) -> SourceCode:
    file = Path(path)
    graph, parts = class_parts([file])
    prefix = package_prefix(file.parent)
    module = f"{prefix}.{file.stem}" if prefix else file.stem
    text = file.read_text(encoding="utf-8")
    return SourceCode(file, sha256, module, _version(module), graph, graph.class_graph(), parts,
                      highlighted_lines(text))


def file_digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_source(path: str | Path) -> SourceCode:
    """The analysis of ``path``, computed once per process for each content of the file."""
    resolved = Path(path).resolve()
    return _analyse(str(resolved), file_digest(resolved))
