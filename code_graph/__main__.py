"""``python -m code_graph PATH... [--json] [--classes]``: print the graph of Python files.

Files that do not parse are reported on stderr as ``file:line: message`` and the exit status
is 1, but the graph of the other files is still printed: one broken file in a folder should
not hide the rest.
"""

from __future__ import annotations

import argparse
import sys

from .analyzer import analyze
from .sources import locate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m code_graph",
        description="Static class-call graph of Python files (parsed with ast, never imported).",
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="Python files or folders")
    parser.add_argument("-m", "--module", action="append", default=[], metavar="NAME",
                        help="an installed module, located without importing it (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--classes", action="store_true",
                        help="print the class-level view (edges lifted from methods to classes)")
    args = parser.parse_args(argv)
    paths = list(args.paths)
    for name in args.module:
        try:
            paths.append(str(locate(name)))
        except ModuleNotFoundError as error:
            print(f"{name}: {error}", file=sys.stderr)
            return 2
    if not paths:
        parser.error("give at least one PATH or --module")
    graph = analyze(paths)
    shown = graph.class_graph() if args.classes else graph
    sys.stdout.write(shown.to_json() + "\n" if args.json else shown.to_text())
    for error in graph.errors:
        print(error, file=sys.stderr)
    return 1 if graph.errors else 0


if __name__ == "__main__":
    sys.exit(main())
