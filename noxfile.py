"""Sessions: build (the book), pdf, gettext, tests, lint, bench, train, evaluate.

Every session installs with ``constraints.txt``: torch must stay at the pinned CPU build
(a looser pin pulls a multi-GB CUDA wheel).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["build", "tests"]
nox.options.reuse_venv = "yes"  # the stack is ~1.5 GB: install once, then reuse

CONSTRAINTS = ("-c", "constraints.txt")
BUILD_COMMAND = ("sphinx-build", "-W", "--keep-going", "-n", "-b", "html", "book", "book/_build/html")


def install(session: nox.Session, extras: str = "") -> None:
    session.install(*CONSTRAINTS, "-e", f".{extras}")


@nox.session
def build(session: nox.Session) -> None:
    """Build the HTML book into book/_build/html (warnings are errors)."""
    install(session, "[book]")
    session.run(*BUILD_COMMAND, *session.posargs)
    session.log("The book is in book/_build/html/index.html")


LATEX_TOOLS = ("latexmk", "xelatex", "makeindex")


@nox.session
def pdf(session: nox.Session) -> None:
    """The whole book as a PDF (book/_build/latex/elvit-book.pdf): figures as static pictures.

    Needs TeX Live; on Debian: apt-get install texlive-latex-recommended texlive-latex-extra
    texlive-fonts-recommended texlive-xetex latexmk fonts-freefont-otf.
    """
    import shutil

    missing = [tool for tool in LATEX_TOOLS if shutil.which(tool) is None]
    if missing:
        session.error(f"TeX Live is missing ({', '.join(missing)}); see this session's docstring")
    install(session, "[book]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "latex", "book", "book/_build/latex",
                *session.posargs)
    session.run("make", "-C", "book/_build/latex", "all-pdf",
                "LATEXMKOPTS=-interaction=nonstopmode -halt-on-error", external=True)
    session.log("The PDF is book/_build/latex/elvit-book.pdf")


@nox.session
def gettext(session: nox.Session) -> None:
    """Message catalogs (.pot) of the prose and of the figures' own words into
    book/_build/gettext; translate them with e.g. sphinx-intl into book/locale/<lang>/."""
    install(session, "[book]")
    session.run("sphinx-build", "-b", "gettext", "book", "book/_build/gettext", *session.posargs)
    session.log("Catalogs in book/_build/gettext (elvit.pot holds the figures' words)")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (browser tests need /usr/bin/chromium; they skip without it)."""
    install(session, "[test]")
    session.run("pytest", *(session.posargs or ["-q"]))


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Build, page-size and reader-speed figures as JSON (benchmarks/bench.py; needs Chromium)."""
    install(session, "[test]")  # playwright drives Chromium for the reader-speed figures
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session
def train(session: nox.Session) -> None:
    """Train the embedded model: nox -s train -- --data PATH --out FOLDER [...]."""
    install(session)
    session.run("python", "-m", "elvit_sphinx.compute.train", *session.posargs)


@nox.session
def evaluate(session: nox.Session) -> None:
    """Test accuracy of a checkpoint: nox -s evaluate -- CHECKPOINT --data PATH."""
    install(session)
    session.run("python", "-m", "elvit_sphinx.compute.evaluate", *session.posargs)
