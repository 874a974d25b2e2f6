"""Finds words in the figures' scripts that a reader would see untranslated.

Every user-visible string goes through ``elvit.t("message", ...)`` or ``elvit.tParts(...)``
(``elvit_sphinx/pages/i18n.py``); ``nox -s gettext`` collects only those messages. This module reads a
script the way a JavaScript parser would, far enough to tell where each string literal goes, and
reports a literal that has words (two letters or more in a row) and is not a message when:

* it lands somewhere a reader sees it: a text child of ``h(tag, attrs, ...)``, the value of a
  ``title:``/``label:``/``hint:``/``aria-label``... key, ``.textContent =`` and its kind,
  ``setTitle(``, ``replaceChildren(``, ``fail(``, d3's ``.text(``, ``new Error(``, a colour bar's
  labels, ``setAttribute("aria-label", ...)``, an argument substituted by ``elvit.t``; or
* it looks like prose (words with spaces, or a word with a space that values are glued to:
  `` `block ${i}` ``, ``"token " + t``) and is not in a place a reader never sees (a class list,
  a style, an attribute name, a selector, an event name, a comparison, the console).

A message must be plain literals (joined by ``+`` at most): no ``${}``, no variable, because
the catalog is collected from the source, not at run time. Symbols, numbers, single letters and
formulas (``x̂ = (x − μ) / √(σ² + ε)``, ``w − lr·∂L/∂w = ...``: an ``=`` and no name longer than
two letters) pass. Known limit: a single word handed to a helper of a view's own
(``step("LayerNorm")``) is not seen; review such helpers by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elvit_sphinx.pages.js_source import (
    KEYWORDS,
    MESSAGE_FUNCTIONS,
    Token,
    first_argument,
    is_plain,
    names_message_function,
    tokenize,
)

#: Keys, attributes and properties whose string value a reader sees or hears.
VISIBLE_NAMES = {"title", "label", "hint", "xLabel", "yLabel", "axisLabel", "aria-label", "ariaLabel",
                 "aria-description", "aria-valuetext", "aria-roledescription", "alt", "placeholder",
                 "caption", "message", "text", "textContent", "innerText", "innerHTML", "xTickFormat",
                 "yTickFormat", "format", "legend"}
#: Keys, attributes and properties whose string value a reader never sees.
HIDDEN_NAMES = {"class", "className", "style", "id", "role", "type", "font", "fontFamily", "font-family",
                "href", "src", "d", "viewBox", "transform", "cursor", "inputmode", "dtype", "key"}
#: Calls whose every string argument is shown.
VISIBLE_CALLS = {"setTitle", "replaceChildren", "fail", "text", "Error", "alert", "confirm", "prompt"}
#: Calls whose string arguments are names, selectors, classes, events or code.
HIDDEN_CALLS = {"add", "remove", "toggle", "contains", "classed", "readout", "querySelector",
                "querySelectorAll", "closest", "matches", "getElementById", "createElement",
                "createElementNS", "addEventListener", "removeEventListener", "on", "mark", "measure",
                "getEntriesByName", "getAttribute", "removeAttribute", "hasAttribute", "getContext",
                "register", "chunk", "replace", "split", "join", "startsWith", "endsWith", "includes",
                "indexOf", "insert", "selectAll", "matchMedia", "postMessage", "setProperty", "repeat"}
_ASSIGNMENTS = {"=", "+=", "||=", "??="}
_COMPARISONS = {"===", "!==", "==", "!="}
_RUN = re.compile(r"[^\W_]+")


@dataclass
class Finding:
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.line}: {self.text!r} ({self.why})"


# ------------------------------------------------------------------------------------ judging
def untranslated(source: str) -> list[Finding]:
    """Every literal a reader would see untranslated, and every message elvit.t cannot collect."""
    findings: list[Finding] = []
    _judge(tokenize(source), ("unknown", "top level"), findings)
    return sorted(findings, key=lambda f: f.line)


def _judge(tokens: list[Token], inherited: tuple[str, str], findings: list[Finding]) -> None:
    opener = _openers(tokens)
    for i, token in enumerate(tokens):
        if names_message_function(tokens, i):
            _check_message_call(tokens, i, findings)
        if token.kind not in ("string", "template"):
            continue
        where, why = _context(tokens, i, opener, inherited)
        for part in token.parts:
            _judge(part, (where, why) if where != "message" else ("visible", "inside a message"), findings)
        if where == "message" or not _words(token.text) or _is_formula(token.text):
            continue
        if where == "visible" or (where == "unknown" and _is_prose(token)):
            findings.append(Finding(token.line, token.text, why))


def _words(text: str) -> list[str]:
    """Runs of letters and digits with two letters or more ("fc1", "px"; not "σ²", "x̂", "1e")."""
    return [run for run in _RUN.findall(text) if sum(c.isalpha() for c in run) >= 2]


def _is_formula(text: str) -> bool:
    """An equation whose names have two letters at most: `w − lr·∂L/∂w = ${w}`."""
    return "=" in text and all(sum(c.isalpha() for c in word) <= 2 for word in _words(text))


def _is_prose(token: Token) -> bool:
    """Words with spaces between them, or a word with a space where values are glued to it
    (`block ${i}`, "token " + t)."""
    words, text = _words(token.text), token.text
    if len(words) >= 2 and re.search(r"\s", text.strip()):
        return True
    glued = bool(token.parts) or text != text.strip()
    return len(words) == 1 and glued and bool(re.search(r"\s", text))


def _check_message_call(tokens: list[Token], i: int, findings: list[Finding]) -> None:
    name = f"elvit.{tokens[i + 2].text}"
    after = tokens[i + 3] if i + 3 < len(tokens) else None
    if after is None or not after.is_("("):
        if not (after is not None and after.is_("=")):  # the definition itself
            findings.append(Finding(tokens[i].line, name, f"call {name}(...) directly: the catalog is "
                                                          "collected from its calls"))
        return
    argument = first_argument(tokens, i + 4)
    call = f"{name}({' '.join(t.text if t.kind in ('name', 'punct') else '…' for t in argument)})"
    if not is_plain(argument):
        findings.append(Finding(tokens[i].line, call, f"the message of {name} must be plain string literals "
                                                      "(joined by + at most), with {0}, {1}... for values"))


def _openers(tokens: list[Token]) -> dict[int, int]:
    """Index of each closing bracket → index of its opening one."""
    stack, pairs = [], {}
    for k, t in enumerate(tokens):
        if t.is_("(", "[", "{"):
            stack.append(k)
        elif t.is_(")", "]", "}") and stack:
            pairs[k] = stack.pop()
    return pairs


def _context(tokens: list[Token], i: int, opener: dict[int, int], inherited) -> tuple[str, str]:
    """("visible" | "hidden" | "unknown" | "message", why) for the literal tokens[i]."""
    before = tokens[i - 1] if i > 0 else None
    after = tokens[i + 1] if i + 1 < len(tokens) else None
    if (before and before.is_(*_COMPARISONS, "case", "in")) or (after and after.is_(*_COMPARISONS, "in")):
        return "hidden", "compared"
    if after and after.is_(":") and (before is None or before.is_("{", ",")):
        return "hidden", "an object key"
    if after and after.is_(";") and (before is None or before.is_("{", ";")):
        return "hidden", "a directive"  # "use strict";
    commas, j = 0, i - 1
    while j >= 0:
        t = tokens[j]
        if j in opener:  # skip a whole (...), [...] or {...} before the literal
            j = opener[j] - 1
            continue
        if t.is_(","):
            commas += 1
        elif t.is_(";"):
            return "unknown", "a statement"
        elif t.is_("return", "throw"):
            return "unknown", f"{t.text}ed"
        elif t.is_(*_ASSIGNMENTS):
            return _assigned(tokens, j)
        elif t.is_(":") and j >= 2 and tokens[j - 1].kind in ("name", "string") \
                and tokens[j - 2].is_("{", ","):
            return _named(tokens[j - 1].text, f"the value of {tokens[j - 1].text}:")
        elif t.is_("{"):
            return "unknown", "a block"
        elif t.is_("["):
            if j >= 1 and (tokens[j - 1].kind == "name" and tokens[j - 1].text not in KEYWORDS
                           or tokens[j - 1].is_(")", "]")):
                return "hidden", "a property name"
            commas = 0  # an array: where it goes decides
        elif t.is_("("):
            callee = _callee(tokens, j)
            if callee is not None:
                return _called(tokens, j, callee, commas)
            commas = 0  # parentheses around an expression
        j -= 1
    return inherited


def _callee(tokens: list[Token], j: int) -> list[str] | None:
    """Names of the call whose "(" is tokens[j], e.g. ["elvit", "charts", "bars"]; None if not a call."""
    names, k = [], j - 1
    if k < 0 or not (tokens[k].kind == "name" and tokens[k].text not in KEYWORDS or tokens[k].is_(")", "]")):
        return None
    while k >= 0 and tokens[k].kind == "name":
        names.insert(0, tokens[k].text)
        if k >= 1 and tokens[k - 1].is_(".", "?."):
            k -= 2
        else:
            break
    return names or ["?"]


def _called(tokens: list[Token], j: int, callee: list[str], index: int) -> tuple[str, str]:
    name, last = ".".join(callee), callee[-1]
    why = f"argument {index + 1} of {name}()"
    if name in MESSAGE_FUNCTIONS:
        return ("message", why) if index == 0 else ("visible", why)
    if name in ("h", "elvit.h"):
        return ("visible", f"a text child of {name}()") if index >= 2 else ("hidden", why)
    if callee[0] == "console":
        return "hidden", why
    if last in ("setAttribute", "attr"):
        first = tokens[j + 1] if j + 1 < len(tokens) else None
        if index == 1 and first is not None and first.kind == "string":
            return _named(first.text, f"the {first.text} attribute")
        return "hidden", why
    if last in VISIBLE_CALLS or (last == "colorbar" and index >= 1):
        return "visible", why
    if last in HIDDEN_CALLS:
        return "hidden", why
    return "unknown", why


def _assigned(tokens: list[Token], j: int) -> tuple[str, str]:
    names, k = [], j - 1
    while k >= 0 and tokens[k].kind == "name":  # x, or a.b.c read from c back to a
        names.append(tokens[k].text)
        if k < 1 or not tokens[k - 1].is_("."):
            break
        k -= 2
    if not names:
        return "unknown", "assigned"
    if any(n in HIDDEN_NAMES for n in names):
        return "hidden", f"assigned to {names[0]}"
    return _named(names[0], f"assigned to {names[0]}")


def _named(name: str, why: str) -> tuple[str, str]:
    if name in VISIBLE_NAMES:
        return "visible", why
    return ("hidden" if name in HIDDEN_NAMES else "unknown"), why
