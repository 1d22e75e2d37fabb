"""A reader of the PowerShell the fixes are written in, by PowerShell's own rules,
for the tests: it splits a line into tokens the way PowerShell's tokenizer
(``tokenizer.cs``) does for the forms a command line can take, and decodes string
literals, so a test can see what PowerShell would pass to each parameter.

- Single-quoted strings start and end at any of ``'`` U+2018 U+2019 U+201A U+201B
  (``CharTraits.IsSingleQuote``); two in a row keep the second (``ScanStringLiteral``).
- Double-quoted strings start and end at any of ``"`` U+201C U+201D U+201E
  (``IsDoubleQuote``); a backtick escapes the next character; ``$`` expands. The
  fixes never write one, so one found outside a single-quoted string is code.
- A parameter is a dash (``-`` or the en, em and horizontal-bar dashes,
  ``IsDash``) followed by a letter; ``$name`` and ``$name.Member`` are variables;
  ``;`` ``|`` ``{`` ``}`` ``(`` ``)`` ``,`` are operators; ``#`` starts a comment;
  a newline ends the statement; anything else is a bare word.
"""

from __future__ import annotations

SINGLE = "'\u2018\u2019\u201a\u201b"
DOUBLE = '"\u201c\u201d\u201e'
DASHES = "-\u2013\u2014\u2015"
OPERATORS = ";|{}(),+"
SPACE = " \t\u00a0"


class Unterminated(ValueError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:  # noqa: PLR0912 - one branch a token kind
    """``(kind, value)`` pairs: ``str`` (decoded), ``dq`` (raw), ``param``, ``var``,
    ``op``, ``char`` (``[char]0xNNNN``'s hex), ``newline``, ``comment``, ``word``."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in SPACE:
            i += 1
        elif c in "\r\n":
            out.append(("newline", c))
            i += 1
        elif c == "#":
            end = min((text.find(n, i) for n in "\r\n" if n in text[i:]), default=len(text))
            out.append(("comment", text[i:end]))
            i = end
        elif c in SINGLE:
            value, i = _single(text, i + 1)
            out.append(("str", value))
        elif c in DOUBLE:
            value, i = _double(text, i + 1)
            out.append(("dq", value))
        elif c in OPERATORS:
            out.append(("op", c))
            i += 1
        elif c == "[" and text.startswith("[char]0x", i):
            j = i + len("[char]0x")
            while j < len(text) and text[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(("char", text[i + len("[char]0x") : j]))
            i = j
        elif c == "@" and text.startswith("@()", i):
            out.append(("op", "@()"))
            i += 3
        elif c == "$":
            j = i + 1
            while j < len(text) and (text[j].isalnum() or text[j] in "_."):
                j += 1
            out.append(("var", text[i + 1 : j]))
            i = j
        elif c in DASHES and i + 1 < len(text) and text[i + 1].isalpha():
            j = i + 1
            while j < len(text) and text[j].isalnum():
                j += 1
            out.append(("param", text[i + 1 : j]))
            i = j
        else:
            j = i
            while j < len(text) and text[j] not in SPACE + "\r\n" + OPERATORS + SINGLE + DOUBLE:
                j += 1
            out.append(("word", text[i:j]))
            i = j
    return out


def _single(text: str, i: int) -> tuple[str, int]:
    buf = []
    while i < len(text):
        c = text[i]
        if c in SINGLE:
            if i + 1 < len(text) and text[i + 1] in SINGLE:
                buf.append(text[i + 1])
                i += 2
                continue
            return "".join(buf), i + 1
        buf.append(c)
        i += 1
    raise Unterminated(text)


def _double(text: str, i: int) -> tuple[str, int]:
    buf = []
    while i < len(text):
        c = text[i]
        if c == "`" and i + 1 < len(text):
            buf.append(text[i : i + 2])
            i += 2
            continue
        if c in DOUBLE:
            if i + 1 < len(text) and text[i + 1] in DOUBLE:
                buf.append(c)
                i += 2
                continue
            return "".join(buf), i + 1
        buf.append(c)
        i += 1
    raise Unterminated(text)


def arguments(text: str) -> tuple[str, dict[str, tuple[str, str] | None]]:
    """One command line as PowerShell reads it: the cmdlet and each parameter's
    one argument (``None`` for a switch). Raises when the line is anything else:
    a second statement, a stray token, a double-quoted string."""
    tokens = tokenize(text)
    if not tokens or tokens[0][0] != "word":
        raise AssertionError(f"not a command: {text!r}")
    params: dict[str, tuple[str, str] | None] = {}
    i = 1
    while i < len(tokens):
        kind, value = tokens[i]
        if kind != "param":
            raise AssertionError(f"stray token {tokens[i]!r} in {text!r}")
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if following is None or following[0] == "param":
            params[value] = None
            i += 1
            continue
        if following == ("op", "("):
            decoded, i = _concatenation(tokens, i + 2, text)
            params[value] = ("str", decoded)
            continue
        if following[0] not in ("str", "var", "word"):
            raise AssertionError(f"argument of -{value} is {following!r} in {text!r}")
        params[value] = following
        i += 2
    return tokens[0][1], params


def decode(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The tokens with each ``('a' + [char]0xNNNN + ...)`` read as the one string it
    makes (UTF-16 code units joined as PowerShell joins them)."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == ("op", "(") and i + 1 < len(tokens) and tokens[i + 1][0] in ("str", "char"):
            try:
                value, i = _concatenation(tokens, i + 1, "")
            except AssertionError:
                out.append(tokens[i])
                i += 1
                continue
            out.append(("str", value))
            continue
        out.append(tokens[i])
        i += 1
    return out


def _concatenation(tokens: list[tuple[str, str]], i: int, text: str) -> tuple[str, int]:
    """``'a' + [char]0x00D2 + 'b'`` up to its ``)``: the string, and the index after."""
    units = bytearray()
    expect_operand = True
    while i < len(tokens):
        kind, value = tokens[i]
        if expect_operand and kind == "str":
            units += value.encode("utf-16-le", "surrogatepass")
        elif expect_operand and kind == "char":
            units += int(value, 16).to_bytes(2, "little")
        elif not expect_operand and (kind, value) == ("op", "+"):
            pass
        elif not expect_operand and (kind, value) == ("op", ")"):
            return units.decode("utf-16-le", "surrogatepass"), i + 1
        else:
            raise AssertionError(f"not a string expression at {tokens[i]!r} in {text!r}")
        expect_operand = not expect_operand
        i += 1
    raise AssertionError(f"unterminated expression in {text!r}")
