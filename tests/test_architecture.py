"""Import rules: only elvit_sphinx/compute/ touches torch or transformers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
HEAVY = {"torch", "transformers", "torchvision"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_compute_imports_torch_or_transformers():
    offenders = []
    for package in ("elvit_sphinx", "code_graph"):
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).exists() else []:
            if "compute" in path.relative_to(ROOT).parts:
                continue
            if imported_modules(path) & HEAVY:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_loading_the_extension_imports_no_torch():
    # torch: Sphinx's forked -j workers would deadlock (see compute_client.py).
    code = ("import sys, elvit_sphinx.extension, elvit_sphinx.notebook; "
            "heavy = {'torch', 'transformers'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
