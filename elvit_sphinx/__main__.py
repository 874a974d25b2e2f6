"""``python -m elvit_sphinx``: what is installed, and whether a checkpoint can be used.

* ``--version``: this package's version and location, its directives, and the embedded model
  (the trained checkpoint shipped in ``compute/embedded/``, or the untrained stand-in) with
  its fingerprint, the same one the book's build line prints.
* ``--model SPEC``: resolve an ``elvit_model`` value as a build would (a hub id missing from the
  local Hugging Face cache is downloaded into it) and describe it; exit status 1, with the
  reason, when it cannot be used. The publishing workflows use it to fall back to the embedded
  model when the hub is unreachable.

Neither imports torch: resolving a model only reads files and package metadata.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

import elvit_sphinx
from elvit_sphinx.tracing import model_source

REFERENCE = "appendix-reference.html in the built book (book/appendix-reference.md)"


def describe(source: model_source.ModelSource) -> str:
    where = f" in {source.path}" if source.path else ""
    kind = "trained checkpoint" if source.trained else "untrained stand-in"
    return f"{kind}{where}: {source.label}; fingerprint {source.fingerprint}"


def embedded_description() -> str:
    try:
        return describe(model_source.resolve(model_source.EMBEDDED))
    except metadata.PackageNotFoundError as exc:  # the stand-in's fingerprint names torch's version
        return f"untrained stand-in (fingerprint unknown: {exc.name} is not installed)"
    except model_source.ModelSourceError as exc:  # a broken checkpoint folder in the package
        return f"unusable: {exc}"


def directive_names() -> list[str]:
    from elvit_sphinx.views import VIEWS  # numpy and docutils, not torch

    return [f"elvit-{name}" for name in sorted(VIEWS)] + ["elvit-reference"]


def version_report() -> str:
    package = Path(elvit_sphinx.__file__).parent
    return "\n".join([
        f"elvit-sphinx {elvit_sphinx.__version__} ({package})",
        f"embedded model: {embedded_description()}",
        f"directives: {', '.join(directive_names())}",
        f"reference: {REFERENCE}",
    ])


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m elvit_sphinx",
        description="elvit-sphinx: a Sphinx extension that runs a Vision Transformer while the "
                    "book is built and draws interactive figures of its forward pass. Add "
                    "\"elvit_sphinx\" to extensions in conf.py; every directive, option and "
                    f"setting is documented in {REFERENCE}.")
    parser.add_argument("--version", action="store_true",
                        help="print the installed version, its directives and the embedded model")
    parser.add_argument("--model", metavar="SPEC",
                        help="check that an elvit_model value ('embedded', a save_pretrained() "
                             "folder or a Hugging Face id, downloaded into the local cache if "
                             "missing) can be used; exit status 1 if not")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.model:
        try:
            source = model_source.resolve(args.model, base_dir=Path.cwd())
        except model_source.ModelSourceError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(describe(source))
        return 0
    print(version_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
