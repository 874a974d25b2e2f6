"""Publishing: the GitHub Pages workflow and the Read the Docs configuration.

Both files are validated against the JSON schemas ``check-jsonschema`` vendors (offline), and
then *run* here, as far as a test can: every shell step of the workflow (``run:``) and every Read
the Docs command executes in a scratch checkout, in order, with the real ``python -m
elvit_sphinx`` and stand-ins for ``pip`` and ``nox`` that record what they were asked to do.
That checks the fallback: with the hub unreachable the build still runs (on the embedded model)
and the site ends up where the host publishes it; with a usable checkpoint the build gets it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "book.yml"
READTHEDOCS = REPO / ".readthedocs.yaml"
PAPER_MODEL = "aaraki/vit-base-patch16-224-in21k-finetuned-cifar10"
SITE = "book/_build/html"  # where `nox -s build` writes the book (noxfile.BUILD_COMMAND)
PAGES_BASE_URL = "https://example.github.io/elvit-book"
RTD_CANONICAL_URL = "https://elvit-book.readthedocs.io/en/latest/"


def load_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as true; GitHub reads it as "on"
        data["on"] = data.pop(True)
    return data


# --- Schemas ----------------------------------------------------------------------------------

def check_jsonschema(path: Path, schema: str) -> subprocess.CompletedProcess:
    pytest.importorskip("check_jsonschema",
                        reason="check-jsonschema is not installed (it is in the 'test' extra)")
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           f"vendor.{schema}", str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("path, schema", [(WORKFLOW, "github-workflows"),
                                          (READTHEDOCS, "readthedocs"),
                                          (REPO / "CITATION.cff", "citation-file-format")])
def test_publishing_files_match_their_schemas(path, schema):
    result = check_jsonschema(path, schema)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = load_yaml(WORKFLOW)
    del broken["jobs"]["build"]["runs-on"]
    path = tmp_path / "book.yml"
    path.write_text(yaml.safe_dump(broken))
    assert check_jsonschema(path, "github-workflows").returncode != 0


# --- What the workflow promises ---------------------------------------------------------------

def steps_using(job: dict, action: str) -> list[dict]:
    return [step for step in job["steps"] if step.get("uses", "").startswith(f"{action}@")]


def test_workflow_builds_main_with_the_readme_command_and_deploys_to_pages():
    workflow = load_yaml(WORKFLOW)
    assert workflow["on"]["push"]["branches"] == ["main"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert "pip install nox && nox -s build" in (REPO / "README.md").read_text()
    assert [step["run"] for step in build["steps"] if "nox" in step.get("run", "")][-1] == "nox -s build"
    assert f'"{SITE}"' in (REPO / "noxfile.py").read_text()

    [pages] = steps_using(build, "actions/configure-pages")
    [build_step] = [step for step in build["steps"] if step.get("run") == "nox -s build"]
    assert build_step["env"]["ELVIT_BASEURL"] == f"${{{{ steps.{pages['id']}.outputs.base_url }}}}"
    [upload] = steps_using(build, "actions/upload-pages-artifact")
    assert upload["with"]["path"] == SITE

    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert steps_using(deploy, "actions/deploy-pages")


def test_workflow_caches_the_model_and_the_traces_where_the_build_keeps_them():
    from huggingface_hub import constants

    build = load_yaml(WORKFLOW)["jobs"]["build"]
    cached = {step["with"]["path"] for step in steps_using(build, "actions/cache")}
    home = str(Path.home())
    assert constants.default_cache_path.replace(home, "~", 1) in cached  # huggingface_hub's default
    # The extension caches traces in <outdir>/../.elvit_cache (elvit_sphinx.config.cache_dir).
    assert (Path(SITE).parent / ".elvit_cache").as_posix() in cached
    assert load_yaml(WORKFLOW)["env"]["PAPER_MODEL"] == PAPER_MODEL


# --- Running the steps ------------------------------------------------------------------------

FAKE_PYTHON = """#!/bin/sh
# python, except that `python -m pip ...` is recorded instead of installing anything.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then echo "$*" >> "$FAKE_RECORDS/pip"; exit 0; fi
exec {python} "$@"
"""

FAKE_NOX = """#!{python}
# nox: records its arguments and environment, and writes a one-page site where the build would.
import json, os, pathlib, sys
pathlib.Path(os.environ["FAKE_RECORDS"], "nox.json").write_text(
    json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}))
site = pathlib.Path({site!r})
site.mkdir(parents=True, exist_ok=True)
(site / "index.html").write_text("<p>the book</p>")
"""


@dataclass
class Run:
    workspace: Path
    records: Path
    output: str

    @property
    def nox(self) -> dict:
        return json.loads((self.records / "nox.json").read_text())


def scratch_checkout(tmp_path: Path, **environment: str) -> tuple[Path, Path, dict[str, str]]:
    """A workspace, a records folder and the environment of a CI machine with stand-ins."""
    workspace, records, bin_dir = tmp_path / "checkout", tmp_path / "records", tmp_path / "bin"
    for folder in (workspace, records, bin_dir):
        folder.mkdir()
    for name, text in (("python", FAKE_PYTHON), ("nox", FAKE_NOX)):
        (bin_dir / name).write_text(text.format(python=sys.executable, site=SITE))
        (bin_dir / name).chmod(0o755)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ELVIT_", "HF_", "GITHUB_", "READTHEDOCS"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", PYTHONPATH=str(REPO),
               FAKE_RECORDS=str(records), **environment)
    return workspace, records, env


def unreachable_hub(tmp_path: Path) -> dict[str, str]:
    # An empty cache and no network: exactly what a build sees when the hub is down.
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-hf-cache")}


def usable_checkpoint(tmp_path: Path) -> dict[str, str]:
    """PAPER_MODEL pointing at a checkpoint folder, as if the hub had delivered it."""
    folder = tmp_path / "delivered-checkpoint"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    (folder / "model.safetensors").write_bytes(b"weights")
    return {"PAPER_MODEL": str(folder), "HF_HUB_OFFLINE": "1"}


def expand(text: str, known: dict[str, str]) -> str:
    """GitHub's ``${{ ... }}`` expressions, for the ones this workflow uses (others fail)."""
    def value(match: re.Match) -> str:
        expression = match[1].strip()
        assert expression in known, f"the test does not know the expression {expression!r}"
        return known[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def run_workflow(tmp_path: Path, **overrides: str) -> Run:
    """The build job's shell steps, in order, with GitHub's shell and $GITHUB_ENV semantics."""
    workflow = load_yaml(WORKFLOW)
    workspace, records, env = scratch_checkout(tmp_path)
    github_env = tmp_path / "github_env"
    github_env.touch()
    env.update({**workflow.get("env", {}), "GITHUB_ENV": str(github_env), **overrides})
    known = {"steps.pages.outputs.base_url": PAGES_BASE_URL, "runner.os": "Linux",
             "github.run_id": "1", **{f"env.{k}": v for k, v in env.items()}}
    output = []
    for step in workflow["jobs"]["build"]["steps"]:
        if "run" not in step:
            continue
        exported = dict(line.split("=", 1) for line in github_env.read_text().splitlines() if line)
        step_env = {**env, **exported,
                    **{k: expand(str(v), known) for k, v in step.get("env", {}).items()}}
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                 expand(step["run"], known)],
                                cwd=workspace, env=step_env, capture_output=True, text=True)
        output.append(result.stdout + result.stderr)
        assert result.returncode == 0, f"step {step.get('name', step['run'])!r} failed:\n{output[-1]}"
    return Run(workspace, records, "".join(output))


def run_readthedocs(tmp_path: Path, **overrides: str) -> Run:
    """Read the Docs' build.commands, in order, each in a new shell, as its docs describe."""
    commands = load_yaml(READTHEDOCS)["build"]["commands"]
    workspace, records, env = scratch_checkout(tmp_path)
    env.update(READTHEDOCS="True", READTHEDOCS_OUTPUT=str(workspace / "_readthedocs") + "/",
               READTHEDOCS_CANONICAL_URL=RTD_CANONICAL_URL, **overrides)
    output = []
    for command in commands:
        result = subprocess.run(["bash", "-c", command], cwd=workspace, env=env,
                                capture_output=True, text=True)
        output.append(result.stdout + result.stderr)
        assert result.returncode == 0, f"command {command!r} failed:\n{output[-1]}"
    return Run(workspace, records, "".join(output))


@pytest.mark.parametrize("host", ["github", "readthedocs"])
def test_unreachable_hub_falls_back_to_the_embedded_model_and_still_publishes(tmp_path, host):
    if host == "github":
        run = run_workflow(tmp_path, **unreachable_hub(tmp_path))
        published = run.workspace / load_yaml(WORKFLOW)["jobs"]["build"]["steps"][-1]["with"]["path"]
        base_url = PAGES_BASE_URL
    else:
        run = run_readthedocs(tmp_path, **unreachable_hub(tmp_path))
        published = run.workspace / "_readthedocs" / "html"
        base_url = RTD_CANONICAL_URL
    assert run.nox["argv"] == ["-s", "build"]
    assert "ELVIT_MODEL" not in run.nox["env"]  # the embedded model
    assert f"{PAPER_MODEL} could not be fetched" in run.output and "HF_HUB_OFFLINE" in run.output
    assert run.nox["env"]["ELVIT_BASEURL"] == base_url
    assert run.nox["env"]["HF_HUB_OFFLINE"] == "1"
    assert run.nox["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    assert (published / "index.html").is_file()
    assert "-m pip install nox huggingface_hub" in (run.records / "pip").read_text()


@pytest.mark.parametrize("host", ["github", "readthedocs"])
def test_a_checkpoint_the_hub_delivers_is_the_one_the_book_is_built_with(tmp_path, host):
    environment = usable_checkpoint(tmp_path)
    run = (run_workflow if host == "github" else run_readthedocs)(tmp_path, **environment)
    assert run.nox["argv"] == ["-s", "build"]
    assert run.nox["env"]["ELVIT_MODEL"] == environment["PAPER_MODEL"]
    assert "could not be fetched" not in run.output
