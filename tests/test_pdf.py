"""The whole book as a PDF through Sphinx's LaTeX builder, every figure as its static picture."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from test_book import copy_book

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not all(shutil.which(t) for t in ("latexmk", "xelatex", "pdfimages")),
                                 reason="TeX Live (latexmk, xelatex) or poppler-utils not installed")]


def test_pdf_has_every_figure_as_a_picture_and_the_maths_typeset(tmp_path):
    src = copy_book(tmp_path)
    latex = tmp_path / "latex"
    env = {**os.environ, "ELVIT_MODEL": ""}
    built = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "latex",
                            str(src), str(latex)], capture_output=True, text=True, timeout=1500, env=env)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    tex = (latex / "elvit-book.tex").read_text()
    figures = len(re.findall(r"\\sphinxincludegraphics", tex))
    assert figures >= 5 and "Interactive figure" not in tex  # every view drew its picture
    made = subprocess.run(["make", "-C", str(latex), "all-pdf",
                           "LATEXMKOPTS=-interaction=nonstopmode -halt-on-error"],
                          capture_output=True, text=True, timeout=900)
    assert made.returncode == 0, made.stdout[-3000:]
    pdf = latex / "elvit-book.pdf"
    listing = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout
    assert len(listing.splitlines()) - 2 == figures  # header lines, then one line per image
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Computed during this build by" in text and "Cite this chapter" in text
    assert "\\frac" not in text and "$$" not in text  # formulas typeset, not left as source
