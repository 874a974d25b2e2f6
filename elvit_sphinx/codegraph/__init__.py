"""The model's source code in the book: the code-graph figure's helpers, source pages, a role.

* :mod:`.source_code` — the installed model source, analysed (:mod:`code_graph`) and
  highlighted once per process and file content;
* :mod:`.glossary` — the book's glossary entries read from its source file (concept nodes);
* :mod:`.highlight` — Pygments HTML, one string per source line;
* :mod:`.source_pages` — ``_elvit_source/<module>.html`` pages and the ``{elvit-class}`` role;
* :mod:`.chapter` — what the code chapter glues (walks, excerpts, version facts).

The figure itself is the view ``elvit_sphinx/views/codegraph.py``.
"""
