"""Finding the files to analyse, naming their modules, and parsing them without running them.

Every file gets two names. The *display* name is the id prefix of its nodes and is relative to
what the user named: a file ``…/vit/modeling_vit.py`` is ``modeling_vit``, a package folder
``pkg/`` gives ``pkg``, ``pkg.sub``… The *real* name is the one Python would import it under
(found by walking up the folders that hold an ``__init__.py``), e.g.
``transformers.models.vit.modeling_vit``; relative imports are resolved against it, so that
``from ...modeling_utils import PreTrainedModel`` names ``transformers.modeling_utils`` even
when only one file of the package is analysed.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

from .model import SourceError

#: Folders never searched: caches, virtual environments, version control.
_SKIPPED_DIRS = {"__pycache__", "node_modules"}


@dataclass(frozen=True)
class SourceFile:
    """One file to analyse: where it is, its display name and its importable name."""

    path: Path
    module: str
    real: str

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


@dataclass(frozen=True)
class Parsed:
    """A parsed file: its syntax tree and its number of lines."""

    file: SourceFile
    tree: ast.Module
    lines: int


def package_prefix(folder: Path) -> str:
    """The dotted package name of ``folder`` (``""`` when it holds no ``__init__.py``)."""
    parts: list[str] = []
    folder = folder.resolve()
    while (folder / "__init__.py").is_file() and folder.name:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _module_name(root: Path, path: Path, *above: str) -> str:
    rel = path.relative_to(root)
    return _join(*above, *rel.parts[:-1], "" if path.name == "__init__.py" else path.stem)


def _walk(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            if not (path.name.startswith(".") or path.name in _SKIPPED_DIRS):
                found.extend(_walk(path))
        elif path.suffix == ".py" and path.is_file():
            found.append(path)
    return found


def discover(paths: list[str | Path]) -> tuple[list[SourceFile], list[SourceError]]:
    """The Python files under ``paths`` (files or folders), named, in a deterministic order.

    A missing path, or a second file with a display name already taken, is an error; a file
    reached twice (as itself and through its folder) is analysed once.
    """
    files: list[SourceFile] = []
    errors: list[SourceError] = []
    for arg in map(Path, paths):
        if arg.is_file():
            prefix = package_prefix(arg.parent)
            module = prefix.rsplit(".", 1)[-1] if arg.name == "__init__.py" else arg.stem
            real = prefix if arg.name == "__init__.py" else _join(prefix, arg.stem)
            files.append(SourceFile(arg, module, real))
        elif arg.is_dir():
            # A package folder keeps its own name, as ``import pkg`` would.
            top = arg.resolve().name if (arg / "__init__.py").is_file() else ""
            prefix = package_prefix(arg.resolve().parent) if top else ""
            for path in _walk(arg):
                module = _module_name(arg, path, top)
                files.append(SourceFile(path, module, _join(prefix, module)))
        else:
            errors.append(SourceError(str(arg), 0, "no such file or directory"))
    unique: list[SourceFile] = []
    seen_paths: set[Path] = set()
    seen_modules: dict[str, Path] = {}
    for source in files:
        resolved = source.path.resolve()
        if resolved in seen_paths:
            continue
        seen_paths.add(resolved)
        if source.module in seen_modules:
            errors.append(SourceError(
                str(source.path), 0, f"module name {source.module!r} already used by "
                f"{seen_modules[source.module]}; analyse the folder above both instead"))
            continue
        seen_modules[source.module] = source.path
        unique.append(source)
    return unique, errors


def parse(source: SourceFile) -> Parsed | SourceError:
    """Parse one file (honouring its encoding declaration); never executes it."""
    name = str(source.path)
    try:
        data = source.path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
        tree = ast.parse(text, filename=name)
    except SyntaxError as error:
        return SourceError(name, error.lineno or 1, f"syntax error: {error.msg}")
    except (UnicodeDecodeError, LookupError, ValueError) as error:
        # ValueError: null bytes (3.11); LookupError: an unknown declared encoding.
        return SourceError(name, 1, f"cannot read source: {error}")
    except OSError as error:
        return SourceError(name, 0, f"cannot read file: {error.strerror or error}")
    return Parsed(source, tree, max(1, len(text.splitlines())))


def locate(module: str) -> Path:
    """The source file of an installed module, found without importing it or its parents.

    ``importlib.util.find_spec`` of a dotted name imports the parent packages (running, for
    ``transformers``, its whole ``__init__``), so only the top-level package is looked up and
    the rest of the path is followed on disk.

    >>> locate("transformers.models.vit.modeling_vit").name  # doctest: +SKIP
    'modeling_vit.py'
    """
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ModuleNotFoundError(f"no installed module named {top!r}", name=top)
    if not rest:
        if spec.origin is None:
            raise ModuleNotFoundError(f"{top!r} has no source file", name=top)
        return Path(spec.origin)
    for location in spec.submodule_search_locations or ():
        base = Path(location).joinpath(*rest)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    raise ModuleNotFoundError(f"no source file for {module!r} in {top!r}", name=module)
