"""What the extension reference documents, collected from the running code (no hand-kept lists).

* **Directives**: every ``elvit-*`` directive registered with docutils. Sphinx's
  ``app.add_directive`` registers there, so a view module merged tomorrow appears on the next
  build without anyone editing the reference. Its text is the view module's docstring (written
  as the directive's user documentation, in reStructuredText); a directive that is not a view
  is documented by its class docstring, or else its module's.
* **Options**: each directive's ``option_spec`` (what docutils really accepts), with the view's
  ``defaults``.
* **Configuration values**: every ``elvit_*`` value registered with Sphinx, with the type,
  default and help text given at registration (``config.py``'s ``ElvitConfig``).
* **Examples**: the MyST blocks ```` ```{elvit-...} ```` in those docstrings;
  ``tests/test_reference.py`` builds every one, so an example cannot rot.

:mod:`elvit_sphinx.pages.reference` turns this into pages; this module only collects (and imports
neither torch nor Sphinx's application machinery).
"""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from docutils.parsers.rst import directives

from elvit_sphinx.pages.directive import COMMON_OPTIONS
from elvit_sphinx.views.base import ViewSpec

DIRECTIVE_PREFIX = "elvit-"
CONFIG_PREFIX = "elvit_"

#: The options every view directive shares (``directive.COMMON_OPTIONS``): what each accepts
#: and what it means. A test checks that the keys match, so a new common option cannot go
#: undocumented.
COMMON_OPTION_HELP = {
    "image": ("a path relative to the page",
              "the image the model looks at (PNG, JPEG, …; converted to RGB). Required."),
    "caption": ("plain text",
                "shown under the figure, before the sentence naming the model and the image it "
                "was computed from."),
}

# How the option converters docutils ships read to a book author.
_CONVERTER_WORDS = {
    directives.unchanged_required: "text",
    directives.unchanged: "text (may be empty)",
    directives.nonnegative_int: "whole number ≥ 0",
    directives.positive_int: "whole number ≥ 1",
    directives.flag: "nothing (a flag)",
    directives.path: "a path",
    directives.uri: "a URI",
    directives.class_option: "class names",
}

_EXAMPLE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|:{3,})\{(?P<name>elvit-[a-z0-9-]+)\}[^\n]*\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class SourceText:
    """A piece of reStructuredText and where it was written (for warnings and rebuilds)."""

    text: str
    path: str
    line: int  # line of ``path`` that holds the first line of ``text``


@dataclass(frozen=True)
class OptionDoc:
    name: str
    accepts: str  # reStructuredText
    default: str  # reStructuredText


@dataclass(frozen=True)
class DirectiveDoc:
    name: str
    doc: SourceText
    options: tuple[OptionDoc, ...]

    @property
    def examples(self) -> list[str]:
        return examples_in(self.doc.text)


@dataclass(frozen=True)
class ConfigDoc:
    name: str
    type: str
    default: str
    help: str


def registered_directives() -> dict[str, type]:
    """``{name: directive class}`` for every ``elvit-*`` directive now registered, by name.

    docutils keeps directives in one module-level table, which Sphinx's ``add_directive`` fills
    (and restores after each application), so this is exactly what ``setup()`` registered.
    """
    table = directives._directives  # noqa: SLF001 - docutils has no public listing
    return {name: table[name] for name in sorted(table) if name.startswith(DIRECTIVE_PREFIX)}


def examples_in(text: str) -> list[str]:
    """Every MyST ```` ```{elvit-...} ```` block in ``text``, dedented, fences included."""
    found = []
    for match in _EXAMPLE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] if line[:indent].isspace() else line.lstrip()
                       for line in match["body"].splitlines(keepends=True))
        found.append(f"{match['fence']}{{{match['name']}}}\n{body}{match['fence']}\n")
    return found


def module_docstring(module) -> SourceText:
    """A module's docstring (cleaned) and the line of its source file where its text starts."""
    path = inspect.getsourcefile(module) or module.__file__
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    raw = ast.get_docstring(tree, clean=False)
    if raw is None:
        return SourceText("", path, 1)
    # cleandoc drops leading blank lines: count them so warnings point at the right line.
    skipped = len(raw) - len(raw.lstrip("\n"))
    return SourceText(inspect.cleandoc(raw), path, tree.body[0].lineno + skipped)


def _class_docstring(directive: type) -> SourceText | None:
    doc = directive.__dict__.get("__doc__")
    if not doc:
        return None
    try:
        lines, start = inspect.getsourcelines(directive)
    except (OSError, TypeError):
        return SourceText(inspect.cleandoc(doc), "<unknown>", 1)
    # The docstring's first line is on the line after ``class ...:`` (good enough for warnings).
    return SourceText(inspect.cleandoc(doc), inspect.getsourcefile(directive) or "<unknown>",
                      start + 1)


def _view_of(directive: type) -> ViewSpec | None:
    view = getattr(directive, "view", None)
    return view if isinstance(view, ViewSpec) else None


def documentation_of(directive: type) -> SourceText:
    view = _view_of(directive)
    if view is not None:
        return module_docstring(inspect.getmodule(view.build))
    return _class_docstring(directive) or module_docstring(inspect.getmodule(directive))


def _choices(converter) -> list[str]:
    """The words a ``directives.choice``-based converter accepts, read from its error message.

    docutils' ``choice`` answers an unknown word with ``"x" unknown; choose from "a" or "b".``
    (views wrap it in a small function with the list inside, so the list is not inspectable).
    """
    try:
        converter("\0")
    except ValueError as exc:
        message = str(exc)
        if "choose from" in message:
            return re.findall(r'"([^"\0]*)"', message.split("choose from", 1)[1])
    except Exception:  # noqa: BLE001 - a converter that fails otherwise simply has no choices
        return []
    return []


def describe_converter(converter) -> str:
    if converter in _CONVERTER_WORDS:
        return _CONVERTER_WORDS[converter]
    words = _choices(converter)
    if words:
        return "one of " + ", ".join(f"``{word}``" for word in words)
    doc = inspect.getdoc(converter)
    if doc:  # a converter's docstring is reStructuredText, like every docstring here
        return doc.splitlines()[0].removeprefix("Directive option converter: ")
    return "see the description above"


def _literal(value) -> str:
    if isinstance(value, list | tuple):
        value = ",".join(str(item) for item in value)
    return f"``{value}``"


def describe_default(name: str, view: ViewSpec | None) -> str:
    if name == "image" and name in COMMON_OPTIONS:
        return "required"
    defaults = view.defaults if view is not None else {}
    value = defaults.get(name)
    if value is None or value == "":
        return "not set (see above)" if view is not None and name not in COMMON_OPTIONS else "not set"
    return _literal(value)


def directive_doc(name: str, directive: type) -> DirectiveDoc:
    view = _view_of(directive)
    spec = getattr(directive, "option_spec", None) or {}
    options = tuple(
        OptionDoc(option, escape_rst(COMMON_OPTION_HELP[option][0]) if view and option in COMMON_OPTION_HELP
                  else describe_converter(converter), describe_default(option, view))
        for option, converter in spec.items())
    return DirectiveDoc(name, documentation_of(directive), options)


def directive_docs() -> list[DirectiveDoc]:
    return [directive_doc(name, directive) for name, directive in registered_directives().items()]


def _type_words(valid_types) -> str:
    try:
        names = sorted(getattr(kind, "__name__", str(kind)) for kind in valid_types)
    except TypeError:  # Sphinx's ENUM(...) and other non-iterable validators
        return str(valid_types)
    return " or ".join(names)


def config_docs(config) -> list[ConfigDoc]:
    """Every registered ``elvit_*`` configuration value of a Sphinx ``Config``, by name."""
    docs = []
    for name, option in sorted(config.values.items()):
        if not name.startswith(CONFIG_PREFIX):
            continue
        default = option.default
        shown = "computed" if callable(default) else repr(default)
        docs.append(ConfigDoc(name, _type_words(option.valid_types), shown,
                              getattr(option, "description", "") or ""))
    return docs


def escape_rst(text: str) -> str:
    """Plain text safe inside reStructuredText: markup characters are backslash-escaped, and so
    are hyphens, which smart quotes would otherwise turn into dashes (``--`` in a command)."""
    return re.sub(r"([\\`*_|\[\]<>:-])", r"\\\1", text)
