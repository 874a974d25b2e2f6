"""``python -m code_graph``: JSON shape, text output, and syntax errors reported without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "code_graph", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)


def sources(tmp_path: Path) -> Path:
    (tmp_path / "a.py").write_text('"""Module a."""\n\nclass A:\n    """An A."""\n\n    def go(self):\n'
                                   "        return B()\n\n\nfrom b import B\n")
    (tmp_path / "b.py").write_text("class B:\n    pass\n")
    return tmp_path


def test_json_shape(tmp_path):
    result = run(str(sources(tmp_path)), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"nodes", "edges"}
    assert all(set(n) == {"id", "name", "kind", "file", "line", "end_line", "doc"} for n in data["nodes"])
    assert all(set(e) == {"source", "target", "kind"} for e in data["edges"])
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["a.A"] == {"id": "a.A", "name": "A", "kind": "class", "file": str(tmp_path / "a.py"),
                            "line": 3, "end_line": 7, "doc": "An A."}
    assert nodes["a.A.go"]["kind"] == "method" and nodes["a"]["doc"] == "Module a."
    assert {"source": "a.A.go", "target": "b.B", "kind": "instantiates"} in data["edges"]
    assert [n["id"] for n in data["nodes"]] == sorted(nodes)
    assert run(str(tmp_path), "--json").stdout == result.stdout  # deterministic


def test_text_output_and_class_view(tmp_path):
    result = run(str(sources(tmp_path)), "--classes")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"a.A [class] {tmp_path / 'a.py'}:3-7  — An A."
    assert "    instantiates b.B" in result.stdout and "a.A.go" not in result.stdout


def test_syntax_error_is_reported_and_the_rest_still_printed(tmp_path):
    sources(tmp_path)
    (tmp_path / "broken.py").write_text("class Fine:\n    pass\n\nclass Broken(\n")
    result = run(str(tmp_path), "--json")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / 'broken.py'}:4: ")
    ids = {n["id"] for n in json.loads(result.stdout)["nodes"]}
    assert {"a.A", "b.B"} <= ids and not any(i.startswith("broken") for i in ids)


def test_missing_path_and_module_option(tmp_path):
    result = run(str(tmp_path / "missing.py"))
    assert result.returncode == 1 and "missing.py: no such file or directory" in result.stderr
    result = run("--module", "transformers.models.vit.modeling_vit", "--classes", "--json")
    assert result.returncode == 0
    assert "modeling_vit.ViTLayer" in {n["id"] for n in json.loads(result.stdout)["nodes"]}
    assert run().returncode == 2
