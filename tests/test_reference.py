"""The extension reference (``elvit-reference``, book/appendix-reference.md) cannot drift from the
code: it lists exactly what ``setup()`` registers, and every example in it builds."""

from __future__ import annotations

import html
import inspect
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from docutils.parsers.rst import directives as docutils_directives
from sphinx.testing.util import SphinxTestApp
from sphinx.util.console import strip_colors

from elvit_sphinx.pages.directive import COMMON_OPTIONS
from elvit_sphinx.pages.reference_docs import (
    COMMON_OPTION_HELP,
    DirectiveDoc,
    directive_docs,
    examples_in,
    module_docstring,
)
from elvit_sphinx.views import VIEWS

REPO = Path(__file__).resolve().parent.parent
IMAGE = REPO / "tests" / "roots" / "test-basic" / "images" / "noise.png"
GLOSSARY = REPO / "book" / "glossary.md"
LABEL_LINE = re.compile(r"^\(([A-Za-z0-9_-]+)\)=\s*$", re.MULTILINE)
CONF = """\
extensions = ["myst_parser", "elvit_sphinx"]
project = "reference examples"
nitpicky = True
exclude_patterns = ["_build"]
"""


def book_labels() -> list[str]:
    """The book's chapter labels: views link to them (``ViewSpec.links``)."""
    return sorted({label for page in (REPO / "book").glob("*.md")
                   for label in LABEL_LINE.findall(page.read_text(encoding="utf-8"))})


def write_example_project(srcdir: Path, docs: list[DirectiveDoc]) -> dict[str, str]:
    """One page per docstring example (the reference adds sections, so it cannot share a page).

    Returns {page name: directive name}. Images named by the examples are copies of a test
    image, a glossary they name is the book's (a page, as in the book); the book's labels exist
    as stubs, so links from views resolve as they do in the book.
    """
    pages: dict[str, str] = {}
    extra_pages: list[str] = []
    for doc in docs:
        for number, example in enumerate(doc.examples):
            page = f"example-{doc.name}-{number}"
            images = re.findall(r"^:image:\s*(\S+)", example, re.MULTILINE)
            for listed in re.findall(r"^:images:\s*(.+)$", example, re.MULTILINE):
                images += [name.strip() for name in listed.split(",") if name.strip()]
            files = [(srcdir / image, IMAGE) for image in images]
            # A glossary the code graph reads is a page of the project, as in the book.
            glossaries = re.findall(r"^:glossary:\s*(\S+)", example, re.MULTILINE)
            files += [(srcdir / name, GLOSSARY) for name in glossaries]
            extra_pages += [str(Path(name).with_suffix("")) for name in glossaries]
            for target, source in files:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(source, target)
            (srcdir / f"{page}.md").write_text(f"# Example {number} of {doc.name}\n\n{example}")
            pages[page] = doc.name
    stubs = "".join(f"({label})=\n## Stub {label}\n\n" for label in book_labels())
    (srcdir / "labels.md").write_text(f"# Chapter labels\n\n{stubs}")
    toctree = "\n".join(["labels", *sorted(set(extra_pages)), *pages])
    (srcdir / "index.md").write_text(f"# Examples\n\n```{{toctree}}\n{toctree}\n```\n")
    (srcdir / "conf.py").write_text(CONF)
    return pages


@dataclass
class ExampleBuild:
    outdir: Path
    warnings: str
    pages: dict[str, str]
    docs: list[DirectiveDoc]  # as registered by the built application
    directives: list[str]  # names registered with docutils while it ran
    configs: dict[str, object]  # elvit_* name -> Sphinx's registration


@pytest.fixture(scope="module")
def example_build(tmp_path_factory) -> ExampleBuild:
    srcdir = tmp_path_factory.mktemp("reference-examples")
    (srcdir / "conf.py").write_text(CONF)
    app = SphinxTestApp("html", srcdir=srcdir)
    try:
        # What setup() registered, read from the application, not through the module under
        # test: docutils' directive table (app.add_directive writes there) and Sphinx's config.
        docs = directive_docs()
        directives = sorted(name for name in docutils_directives._directives if name.startswith("elvit-"))
        configs = {name: option for name, option in app.config.values.items()
                   if name.startswith("elvit_")}
    finally:
        app.cleanup()
    pages = write_example_project(srcdir, docs)
    app = SphinxTestApp("html", srcdir=srcdir, freshenv=True)
    try:
        app.build()
        return ExampleBuild(Path(app.outdir), strip_colors(app.warning.getvalue()), pages, docs,
                            directives, configs)
    finally:
        app.cleanup()


def text_of(fragment: str) -> str:
    """Visible text of an HTML fragment, with typographic quotes made plain again."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", fragment))
    return " ".join(text.translate(str.maketrans("‘’“”", "''\"\"")).split())


def squashed(text: str) -> str:
    """Text without any whitespace: markup adds or drops spaces around inline elements."""
    return "".join(text.split())


def section_html(page: str, section_id: str) -> str:
    start = page.index(f'<section id="{section_id}">')
    depth, position = 0, start
    for match in re.finditer(r"<(/?)section\b", page[start:]):
        depth += -1 if match[1] else 1
        if depth == 0:
            position = start + match.end()
            break
    return page[start:position]


@pytest.mark.sphinx
def test_every_registered_directive_has_an_example_of_itself(example_build):
    assert {"elvit-reference", *(f"elvit-{name}" for name in VIEWS)} <= set(example_build.directives)
    assert [doc.name for doc in example_build.docs] == example_build.directives
    for doc in example_build.docs:
        assert doc.examples, f"{doc.name}: its documentation ({doc.doc.path}) has no MyST example"
        assert all(example.startswith(f"```{{{doc.name}}}") or example.startswith(f":::{{{doc.name}}}")
                   for example in doc.examples), doc.name


@pytest.mark.sphinx
def test_every_example_builds_without_a_warning(example_build):
    assert example_build.warnings.strip() == ""
    for page, directive in example_build.pages.items():
        built = (example_build.outdir / f"{page}.html").read_text()
        if directive == "elvit-reference":
            assert 'id="reference-directives"' in built and 'id="reference-configuration"' in built
        else:
            assert f'data-elvit-view="{directive.removeprefix("elvit-")}"' in built, page


def reference_page(example_build) -> str:
    [page] = [page for page, name in example_build.pages.items() if name == "elvit-reference"]
    return (example_build.outdir / f"{page}.html").read_text()


@pytest.mark.sphinx
def test_reference_lists_exactly_the_registered_directives_and_their_options(example_build):
    page = reference_page(example_build)
    listing = section_html(page, "reference-directives")
    documented = re.findall(r'<section id="(elvit-[a-z0-9-]+)">', listing)
    assert documented == sorted(example_build.directives)
    for doc in example_build.docs:
        text = text_of(section_html(listing, doc.name))
        first_words = squashed(re.sub(r"[`*]", "", doc.doc.text.split("\n\n")[0]))
        assert first_words[:40] in squashed(text), doc.name
        for option in doc.options:
            assert f":{option.name}:" in text, (doc.name, option.name)
    # Every view directive takes the common options; the reference explains them.
    for name in COMMON_OPTIONS:
        assert f":{name}:" in text_of(listing[:listing.index('<section id="elvit-', 1)])


@pytest.mark.sphinx
def test_reference_lists_every_registered_config_value_with_type_default_and_help(example_build):
    page = reference_page(example_build)
    listing = section_html(page, "reference-configuration")
    assert sorted(re.findall(r'id="confval-(elvit_\w+)"', listing)) == sorted(example_build.configs)
    assert len(example_build.configs) >= 8  # ElvitConfig's fields, at least
    for name, option in example_build.configs.items():
        start = listing.index(f'id="confval-{name}"')
        following = listing.find('id="confval-', start + 1)
        entry = text_of(listing[start:following if following > 0 else len(listing)])
        assert option.description, f"{name} is registered without a help text"
        assert squashed(option.description) in squashed(entry), name
        assert repr(option.default) in entry, name


def test_common_options_are_all_explained():
    assert set(COMMON_OPTION_HELP) == set(COMMON_OPTIONS)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_view_docstring_documents_each_option_and_has_an_example(name):
    view = VIEWS[name]
    doc = module_docstring(inspect.getmodule(view.build)).text
    for option in view.option_spec:
        assert f"``{option}``" in doc or f":{option}:" in doc, f"elvit-{name}: option {option} undocumented"
    assert any(example.startswith(("```{elvit-" + name + "}", ":::{elvit-" + name + "}"))
               for example in examples_in(doc))


def test_examples_are_found_in_both_docstring_styles():
    indented = ".. code-block:: md\n\n    ```{elvit-patches}\n    :image: a.png\n    :patch: 3\n    ```\n"
    literal = "Example (MyST)::\n\n  ````{elvit-conv}\n  :image: b.png\n  ````\n\nMore text.\n"
    assert examples_in(indented) == ["```{elvit-patches}\n:image: a.png\n:patch: 3\n```\n"]
    assert examples_in(literal) == ["````{elvit-conv}\n:image: b.png\n````\n"]
    assert examples_in("```{note}\nnot ours\n```\n") == []


EXTRA_MODULE = '''\
"""Not the documentation: the class docstring wins."""

from sphinx.util.docutils import SphinxDirective


class ExtraDirective(SphinxDirective):
    """``elvit-extra``: a directive registered after the reference page was first built.

    Example:

    .. code-block:: md

        ```{elvit-extra}
        ```
    """

    option_spec = {"size": int}

    def run(self):
        return []
'''

LATE_CONF = CONF + '''
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def setup(app):
    # Stands for a view module merged after the last build: no conf.py or page changes.
    if os.environ.get("ELVIT_TEST_EXTRA_DIRECTIVE"):
        from extra_directive import ExtraDirective

        app.add_directive("elvit-extra", ExtraDirective)
'''


@pytest.mark.sphinx
def test_reference_page_is_rebuilt_when_a_new_directive_is_registered(tmp_path, monkeypatch):
    (tmp_path / "conf.py").write_text(LATE_CONF)
    (tmp_path / "extra_directive.py").write_text(EXTRA_MODULE)
    (tmp_path / "index.md").write_text("# Reference\n\n```{elvit-reference}\n```\n")

    def build() -> str:
        app = SphinxTestApp("html", srcdir=tmp_path)
        try:
            app.build()
            assert strip_colors(app.warning.getvalue()).strip() == ""
            return (Path(app.outdir) / "index.html").read_text()
        finally:
            app.cleanup()

    assert 'id="elvit-extra"' not in build()
    monkeypatch.setenv("ELVIT_TEST_EXTRA_DIRECTIVE", "1")
    page = build()  # same sources, same configuration: only the registrations differ
    extra = text_of(section_html(page, "elvit-extra"))
    assert "a directive registered after the reference page was first built" in extra
    assert ":size:" in extra and "Not the documentation" not in extra


def test_book_appendix_page_uses_the_directive_and_is_in_the_reference_toctree():
    page = (REPO / "book" / "appendix-reference.md").read_text()
    assert page.startswith("(appendix-reference)=\n# ")
    assert page.rstrip().endswith("```{elvit-reference}\n```")
    index = (REPO / "book" / "index.md").read_text()
    reference_toctree = index.split(":caption: Reference", 1)[1].split("```", 1)[0]
    assert "glossary" in reference_toctree and "appendix-reference" in reference_toctree


def test_readme_links_the_online_reference_at_the_books_address():
    book_url = yaml.safe_load((REPO / "CITATION.cff").read_text())["url"].rstrip("/")
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Using the extension in your own Sphinx project", 1)[1].split("\n## ", 1)[0]
    assert f"<{book_url}/appendix-reference.html>" in section
