"""Reading our scripts' source far enough to know where each string literal is.

Both the catalog of the figures' words (``i18n.py``: the messages of ``elvit.t(...)`` and
``elvit.tParts(...)`` calls) and the test that no visible text escapes translation
(``tests/untranslated.py``) read the scripts through this tokenizer, so they agree on what a
message is: comments are skipped, regular expressions and template literals (with their
``${...}`` expressions, nested or not) are recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: The functions whose first argument is a message: plain string literals joined by + at most.
MESSAGE_FUNCTIONS = {"elvit.t", "elvit.tParts"}
KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "typeof", "case", "do", "else", "in", "of",
            "new", "delete", "void", "throw", "instanceof", "yield", "await", "function"}
_PUNCTUATORS = sorted(">>>= ... === !== **= <<= >>= >>> => == != <= >= && || ?? ?. ++ -- += -= *= /= %= "
                      "&= |= ^= ** << >> { } ( ) [ ] ; , < > + - * / % & | ^ ! ~ ? : = . @".split(),
                      key=len, reverse=True)
_NAME, _NUMBER = re.compile(r"[\w$]+"), re.compile(r"\.?[\w.]+")
_ESCAPE = re.compile(r"\\(u\{([0-9a-fA-F]+)\}|u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|\r\n|.)", re.S)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0",
                   "\n": "", "\r\n": ""}


@dataclass
class Token:
    kind: str  # name, number, punct, string, template, regex
    text: str  # a name or punctuator; a string's value; a template's text outside ${}
    line: int
    parts: list[list[Token]] = field(default_factory=list)  # a template's ${...} expressions

    def is_(self, *texts: str) -> bool:
        return self.kind in ("punct", "name") and self.text in texts


def unescape(body: str) -> str:
    """The value of a string literal's body (JavaScript's escapes)."""
    def one(match: re.Match) -> str:
        code = match.group(2) or match.group(3) or match.group(4)
        return chr(int(code, 16)) if code else _SIMPLE_ESCAPES.get(match.group(1), match.group(1))

    return _ESCAPE.sub(one, body)


def tokenize(source: str) -> list[Token]:
    """The tokens of a script, comments left out; a template literal is one token."""
    tokens, _, _ = _tokens(source, 0, 1, inside_template=False)
    return tokens


def _tokens(src: str, pos: int, line: int, inside_template: bool) -> tuple[list[Token], int, int]:
    """Tokens from pos up to the end, or up to the "}" that closes a template's "${"."""
    tokens: list[Token] = []
    depth = 0
    while pos < len(src):
        c = src[pos]
        if c == "\n":
            line += 1
            pos += 1
        elif c.isspace():
            pos += 1
        elif src.startswith("//", pos):
            end = src.find("\n", pos)
            pos = end if end >= 0 else len(src)
        elif src.startswith("/*", pos):
            end = src.index("*/", pos) + 2
            line += src.count("\n", pos, end)
            pos = end
        elif c in "\"'":
            end = pos + 1
            while src[end] != c:
                end += 2 if src[end] == "\\" else 1
            tokens.append(Token("string", unescape(src[pos + 1:end]), line))
            pos = end + 1
        elif c == "`":
            token, pos, line = _template(src, pos + 1, line)
            tokens.append(token)
        elif c == "/" and _regex_may_start(tokens):
            end, in_class = pos + 1, False
            while src[end] != "/" or in_class:
                in_class = (in_class or src[end] == "[") and src[end] != "]"
                end += 2 if src[end] == "\\" else 1
            end += 1
            while end < len(src) and src[end].isalpha():
                end += 1
            tokens.append(Token("regex", src[pos:end], line))
            pos = end
        elif c.isalpha() or c in "_$":
            match = _NAME.match(src, pos)
            tokens.append(Token("name", match.group(), line))
            pos = match.end()
        elif c.isdigit() or (c == "." and src[pos + 1:pos + 2].isdigit()):
            match = _NUMBER.match(src, pos)
            tokens.append(Token("number", match.group(), line))
            pos = match.end()
        else:
            punct = next(p for p in _PUNCTUATORS if src.startswith(p, pos))
            if inside_template and punct == "}" and depth == 0:
                return tokens, pos + 1, line
            depth += {"{": 1, "}": -1}.get(punct, 0)
            tokens.append(Token("punct", punct, line))
            pos += len(punct)
    return tokens, pos, line


def _template(src: str, pos: int, line: int) -> tuple[Token, int, int]:
    token = Token("template", "", line)
    while src[pos] != "`":
        if src[pos] == "\\":
            escape = _ESCAPE.match(src, pos)
            token.text += unescape(escape.group())
            pos = escape.end()
        elif src.startswith("${", pos):
            part, pos, line = _tokens(src, pos + 2, line, inside_template=True)
            token.parts.append(part)
        else:
            line += src[pos] == "\n"
            token.text += src[pos]
            pos += 1
    return token, pos + 1, line


def _regex_may_start(tokens: list[Token]) -> bool:
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "name":
        return last.text in KEYWORDS
    return last.kind == "punct" and last.text not in (")", "]", "}")


# ------------------------------------------------------------------------------------ messages
def messages(source: str) -> list[tuple[int, str]]:
    """(line, message) of every elvit.t / elvit.tParts call whose message is plain literals."""
    found: list[tuple[int, str]] = []

    def walk(tokens: list[Token]) -> None:
        for i, token in enumerate(tokens):
            if names_message_function(tokens, i) and i + 3 < len(tokens) and tokens[i + 3].is_("("):
                argument = first_argument(tokens, i + 4)
                if is_plain(argument):
                    found.append((token.line, "".join(t.text for t in argument[::2])))
            for part in token.parts:
                walk(part)

    walk(tokenize(source))
    return found


def names_message_function(tokens: list[Token], i: int) -> bool:
    """tokens[i:i + 3] are elvit . t (or tParts), not preceded by another "." (x.elvit.t)."""
    return (tokens[i].kind == "name" and tokens[i].text == "elvit" and i + 2 < len(tokens)
            and tokens[i + 1].is_(".") and f"elvit.{tokens[i + 2].text}" in MESSAGE_FUNCTIONS
            and not (i > 0 and tokens[i - 1].is_(".")))


def first_argument(tokens: list[Token], start: int) -> list[Token]:
    """The tokens of a call's first argument, from just after its "(" (a plain message has no
    brackets, so the first "," or ")" ends it)."""
    end = start
    while end < len(tokens) and not tokens[end].is_(",", ")"):
        end += 1
    return tokens[start:end]


def is_plain(argument: list[Token]) -> bool:
    """String literals or templates without ${}, joined by +."""
    return len(argument) % 2 == 1 and all(
        (t.kind == "string" or (t.kind == "template" and not t.parts)) if k % 2 == 0 else t.is_("+")
        for k, t in enumerate(argument))
