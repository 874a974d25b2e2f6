"""The package as users get it: a wheel with everything the extension needs, installed into a
fresh virtual environment, builds a Sphinx project; ``python -m elvit_sphinx`` says what it is.

Offline and fast enough for every run: the wheel is built without build isolation (setuptools
from this environment, no download), installed with ``--no-deps --no-index`` into a new venv
that has no packages of its own, and that venv finds the *dependencies* (torch, Sphinx, …) in
this test environment's site-packages through a ``.pth`` file listing those folders. A plain
folder line in a ``.pth`` adds the folder to ``sys.path`` after the venv's own site-packages, and
``.pth`` files inside it are not run, so an editable install of this repository there stays
inactive: ``elvit_sphinx`` can only come from the wheel (the test checks where it was imported
from), with the working tree kept off ``sys.path`` (no ``PYTHONPATH``, another working folder).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import elvit_sphinx
from elvit_sphinx.tracing import model_source

REPO = Path(__file__).resolve().parent.parent
PACKAGE_FILES = ("pyproject.toml", "README.md", "LICENSE", "elvit_sphinx", "code_graph")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def copy_sources(target: Path) -> Path:
    """The files a wheel is built from, copied (pip would write build/ and egg-info into the tree)."""
    target.mkdir(parents=True)
    for name in PACKAGE_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=IGNORED)
        else:
            shutil.copy2(source, target / name)
    return target


def build_wheel(sources: Path, out: Path) -> Path:
    pytest.importorskip("setuptools", minversion="70.1",
                        reason="building the wheel offline needs setuptools (in the test extra)")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "--quiet", "--wheel-dir", str(out), str(sources)],
                   check=True, cwd=sources, env=clean_env())
    [wheel] = out.glob("elvit_sphinx-*.whl")
    return wheel


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **extra}


def dependency_folders() -> list[str]:
    """This environment's site-packages folders (where torch, Sphinx, … are installed)."""
    folders = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return [folder for folder in dict.fromkeys(folders) if Path(folder).is_dir()]


def fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv with only ``wheel`` installed in it; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--no-index", "--quiet", str(wheel)], check=True, env=clean_env())
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_elvit_test_dependencies.pth").write_text("\n".join(dependency_folders()) + "\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    return build_wheel(copy_sources(root / "src"), root / "dist")


def test_wheel_holds_the_extension_its_static_files_and_code_graph(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in [*(REPO / "elvit_sphinx").rglob("*"), *(REPO / "code_graph").rglob("*")]:
        relative = source.relative_to(REPO).as_posix()
        if source.is_file() and "__pycache__" not in relative and not relative.endswith(".pyc"):
            assert relative in names, f"{relative} is missing from {wheel.name}"
    assert "elvit_sphinx/__main__.py" in names
    # The files the extension copies into every built book (runtime, view scripts, vendored d3).
    static = {name for name in names if name.startswith("elvit_sphinx/static/")}
    assert {"elvit_sphinx/static/elvit.js", "elvit_sphinx/static/elvit.css"} <= static
    assert any(name.startswith("elvit_sphinx/static/views/") for name in static)
    assert any(name.startswith("elvit_sphinx/static/vendor/d3-") for name in static)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for requirement in ("torch", "transformers", "sphinx", "myst-nb", "numpy"):
        assert f"Requires-Dist: {requirement}" in metadata


def test_wheel_ships_the_embedded_checkpoint_folder_when_there_is_one(tmp_path):
    sources = copy_sources(tmp_path / "src")
    embedded = sources / "elvit_sphinx" / "compute" / "embedded"
    shutil.rmtree(embedded, ignore_errors=True)
    embedded.mkdir()
    files = {"config.json": json.dumps({"model_type": "vit"}), "model.safetensors": "weights",
             "preprocessor_config.json": "{}"}
    for name, text in files.items():
        (embedded / name).write_text(text)
    names = zipfile.ZipFile(build_wheel(sources, tmp_path / "dist")).namelist()
    for name in files:
        assert f"elvit_sphinx/compute/embedded/{name}" in names


ONE_PAGE = """\
# One page

```{elvit-prediction}
:image: images/noise.png
:top: 3
```

```{elvit-patches}
:image: images/noise.png
:patch: 5
```
"""


@pytest.mark.sphinx
def test_wheel_in_a_fresh_venv_builds_a_sphinx_project_with_two_directives(wheel, tmp_path):
    python = fresh_venv(tmp_path / "venv", wheel)
    work = tmp_path / "work"  # not the repository: nothing may come from the working tree
    project = work / "project"
    (project / "images").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "roots" / "test-basic" / "images" / "noise.png", project / "images")
    (project / "conf.py").write_text('extensions = ["myst_parser", "elvit_sphinx"]\n'
                                     'project = "one page"\n')
    (project / "index.md").write_text(ONE_PAGE)

    where = subprocess.run([str(python), "-c", "import elvit_sphinx; print(elvit_sphinx.__file__)"],
                           check=True, capture_output=True, text=True, cwd=work, env=clean_env())
    assert Path(where.stdout.strip()).resolve().is_relative_to((tmp_path / "venv").resolve()), where.stdout

    out = project / "_build" / "html"
    build = subprocess.run([str(python), "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                            str(project), str(out)],
                           capture_output=True, text=True, cwd=work, env=clean_env())
    assert build.returncode == 0, build.stdout + build.stderr
    page = (out / "index.html").read_text()
    assert 'data-elvit-view="prediction"' in page and 'data-elvit-view="patches"' in page
    for script in ("elvit.js", "views/prediction.js", "views/patches.js"):
        assert (out / "_static" / "elvit" / script).is_file(), script

    version = subprocess.run([str(python), "-X", "importtime", "-m", "elvit_sphinx", "--version"],
                             capture_output=True, text=True, cwd=work, env=clean_env(), check=True)
    installed = Path(where.stdout.strip()).parent
    assert version.stdout.startswith(f"elvit-sphinx {elvit_sphinx.__version__} ({installed})")
    assert "elvit-patches" in version.stdout and "elvit-prediction" in version.stdout
    expected = model_source.resolve("embedded")
    assert f"fingerprint {expected.fingerprint}" in version.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in version.stderr.splitlines()
                if line.startswith("import time:")}
    assert not {name for name in imported if name.split(".")[0] in ("torch", "transformers")}


def run_main(*argv: str, capsys) -> tuple[int, str, str]:
    from elvit_sphinx.__main__ import main

    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_version_names_the_untrained_stand_in_and_its_fingerprint(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(model_source, "EMBEDDED_DIR", tmp_path / "no-checkpoint-here")
    status, out, _ = run_main("--version", capsys=capsys)
    assert status == 0
    expected = model_source.resolve("embedded")
    assert not expected.trained
    assert f"embedded model: untrained stand-in: {expected.label}; fingerprint {expected.fingerprint}" in out


def test_version_names_a_shipped_trained_checkpoint_and_its_fingerprint(capsys, monkeypatch, tmp_path):
    embedded = tmp_path / "embedded"
    embedded.mkdir()
    (embedded / "config.json").write_text(json.dumps(
        {"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    (embedded / "model.safetensors").write_bytes(b"stand-in weights")
    monkeypatch.setattr(model_source, "EMBEDDED_DIR", embedded)
    status, out, _ = run_main("--version", capsys=capsys)
    assert status == 0
    fingerprint = model_source.resolve("embedded").fingerprint
    assert f"embedded model: trained checkpoint in {embedded.resolve()}" in out
    assert out.rstrip().count(fingerprint) == 1


def test_model_check_exits_1_with_the_reason_when_the_hub_is_unreachable(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    status, out, err = run_main("--model", "someone/not-cached-vit", capsys=capsys)
    assert (status, out) == (1, "")
    assert "someone/not-cached-vit" in err and "HF_HUB_OFFLINE" in err


def test_help_is_short_and_points_to_the_reference(capsys):
    from elvit_sphinx.__main__ import parser

    text = parser().format_help()
    assert "appendix-reference" in text and "--version" in text and "--model" in text
    assert len(text.splitlines()) < 25
