"""Commands as data, and the one renderer that writes them as PowerShell.

A fix is run by an admin in an elevated Exchange Management Shell, so no value from
outside the code (the config, the directory, a certificate, a peer) may change what
a command does. Every such value is a typed argument (:class:`Text`, :class:`Host`,
:class:`Url`, :class:`Thumbprint`, :class:`Address`) and is written by
:func:`literal` as a single-quoted string; numbers and booleans are typed literals;
cmdlet, parameter and variable names are the code's own and are checked against
their grammar. Nothing else in the project writes command text
(tests/test_architecture.py fails if a module builds one).

PowerShell's quoting rules, as its tokenizer implements them (PowerShell's
``tokenizer.cs``, ``ScanStringLiteral``, and ``CharTraits.cs``, ``IsSingleQuote``;
about_Quoting_Rules): a single-quoted string is verbatim (no ``$`` expansion, no
backtick escapes, newlines included); it ends at any of the five characters
PowerShell takes as a single quote, ``'`` U+2018 U+2019 U+201A U+201B, unless the next
character is one of them too, in which case the second is kept. The typographic
double quotes (U+201C U+201D U+201E) are ``"`` to PowerShell, which is why no value
is ever written double-quoted. A value is written in ASCII only (:func:`literal`):
its non-ASCII characters as ``[char]0xNNNN``, so neither a typographic quote nor a
code page (Windows PowerShell reads a file without a byte-order mark as ANSI) can
end a literal.

The module is long because the argument types, the statements and their one
renderer are one contract: nothing outside it writes command text.

A value that cannot be a valid instance of what the parameter takes (a host name
that is not a DNS name, an identity with control characters, a placeholder such as
``<new thumbprint>`` the admin must fill in) is a :func:`problems` entry: the step
that holds it is advice, never a command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from exporter.hostnames import dns_name
from exporter.model import is_ip_literal
from exporter.textsafe import has_unsafe, terminal_safe

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_CMDLET = re.compile(r"[A-Z][A-Za-z]+-[A-Z][A-Za-z0-9]+\Z")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_VARIABLE = re.compile(r"[a-z][a-z0-9]*\Z")
_THUMBPRINT = re.compile(r"[0-9A-F]{40}\Z")
_OPERATORS = frozenset({"-eq", "-ne", "-contains", "-notcontains"})


def literal(value: str) -> str:
    """``value`` as a PowerShell string expression that evaluates to it, in ASCII.

    ASCII text is one single-quoted literal with ``'`` doubled. Anything else is
    joined from such literals and ``[char]0xNNNN`` (each UTF-16 code unit): Windows
    PowerShell 5.1 reads a .ps1 without a byte-order mark in the system's ANSI code
    page, where the UTF-8 bytes of a letter such as U+00D2 include 0x92, a
    typographic single quote that would end the literal. In ASCII the file reads
    the same in every code page, and no typographic quote ever stands in it.
    """
    if value.isascii():
        return _quoted(value)
    parts: list[str] = []
    run: list[str] = []
    units = value.encode("utf-16-le", "surrogatepass")
    for index in range(0, len(units), 2):
        code = units[index] | units[index + 1] << 8
        if code < 0x80:
            run.append(chr(code))
            continue
        if run:
            parts.append(_quoted("".join(run)))
            run = []
        parts.append(f"[char]0x{code:04X}")
    if run:
        parts.append(_quoted("".join(run)))
    if parts[0].startswith("[char]"):
        parts.insert(0, "''")  # a string first, so + concatenates
    return "(" + " + ".join(parts) + ")"


def _quoted(text: str) -> str:
    return "'" + "".join(ch * 2 if ch in SINGLE_QUOTES else ch for ch in text) + "'"


def shown(value: str) -> str:
    """A value from outside, for prose a person reads (advice, comments): control
    and bidirectional-format characters escaped (exporter/textsafe.py), so a value
    can neither add a line nor reorder the text around it."""
    return terminal_safe(value)


def _control_problem(what: str, value: str) -> str | None:
    if has_unsafe(value):
        return f"{what} '{shown(value)}' has control characters"
    return None


# ----- arguments ------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Any text from outside the code; ``what`` names it in a problem."""

    value: str
    what: str = "the value"

    def render(self) -> str:
        return literal(self.value)

    def problem(self) -> str | None:
        if not self.value:
            return f"{self.what} is empty"
        return _control_problem(self.what, self.value)


@dataclass(frozen=True)
class Host(Text):
    """A DNS name, as exporter/hostnames.py writes it (lower case, A-labels)."""

    what: str = "the host name"

    def problem(self) -> str | None:
        name = dns_name(self.value)
        if name is None:
            return f"{self.what} '{shown(self.value)}' is not a valid DNS name"
        if name != self.value.rstrip(".").lower():
            return f"{self.what} '{shown(self.value)}' is not written as {name!r}"
        return None


@dataclass(frozen=True)
class Url(Text):
    """An http(s) URL whose host is a DNS name or an address literal."""

    what: str = "the URL"

    def problem(self) -> str | None:
        control = _control_problem(self.what, self.value)
        if control or any(ch.isspace() for ch in self.value):
            return control or f"{self.what} '{shown(self.value)}' has white space"
        try:
            parts = urlsplit(self.value)
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            return f"{self.what} '{shown(self.value)}' is not a URL"
        if parts.scheme not in ("https", "http"):
            return f"{self.what} '{shown(self.value)}' is not an http(s) URL"
        if not is_ip_literal(host) and dns_name(host) is None:
            return f"the host of {self.what} '{shown(self.value)}' is not a valid DNS name"
        return None


@dataclass(frozen=True)
class Thumbprint(Text):
    """A certificate's SHA-1 thumbprint, 40 upper-case hex digits as Windows shows it."""

    what: str = "the thumbprint"

    def problem(self) -> str | None:
        if not _THUMBPRINT.match(self.value):
            return f"{self.what} '{shown(self.value)}' is not a thumbprint"
        return None


@dataclass(frozen=True)
class Address(Text):
    """An IPv4 or IPv6 address."""

    what: str = "the address"

    def problem(self) -> str | None:
        if not is_ip_literal(self.value):
            return f"{self.what} '{shown(self.value)}' is not an IP address"
        return None


@dataclass(frozen=True)
class Flag:
    """A boolean parameter's value: ``$true`` or ``$false``."""

    value: bool

    def render(self) -> str:
        return "$true" if self.value else "$false"

    def problem(self) -> str | None:
        return None


@dataclass(frozen=True)
class Number:
    value: int

    def render(self) -> str:
        return str(int(self.value))

    def problem(self) -> str | None:
        return None


@dataclass(frozen=True)
class Switch:
    """A switch parameter: its name alone."""

    def render(self) -> str:
        return ""

    def problem(self) -> str | None:
        return None


SWITCH = Switch()


@dataclass(frozen=True)
class Var:
    """A variable the script itself set (``$pfx``), optionally one of its members."""

    name: str
    member: str | None = None

    def __post_init__(self) -> None:
        if not _VARIABLE.match(self.name) or (self.member and not _NAME.match(self.member)):
            raise ValueError(f"not a variable the code may name: {self.name!r}")

    def render(self) -> str:
        return f"${self.name}" + (f".{self.member}" if self.member else "")

    def problem(self) -> str | None:
        return None


@dataclass(frozen=True)
class Placeholder:
    """What only the admin knows (``<new thumbprint>``): in advice, never a command."""

    what: str

    def render(self) -> str:
        return f"<{self.what}>"

    def problem(self) -> str | None:
        return f"it needs {self.what}, which only you can choose"


@dataclass(frozen=True)
class Values:
    """An array argument: ``'a','b'``, or ``@()`` when empty."""

    items: tuple[Arg, ...]

    def render(self) -> str:
        return ",".join(item.render() for item in self.items) or "@()"

    def problem(self) -> str | None:
        return next((p for item in self.items if (p := item.problem())), None)


@dataclass(frozen=True)
class Concat:
    """A string joined from parts: ``('<I>' + $c.Issuer)``."""

    parts: tuple[Arg, ...]

    def render(self) -> str:
        return "(" + " + ".join(part.render() for part in self.parts) + ")"

    def problem(self) -> str | None:
        return next((p for part in self.parts if (p := part.problem())), None)


@dataclass(frozen=True)
class Sub:
    """A command's result as a value: ``(Get-AuthConfig).CurrentCertificateThumbprint``."""

    statement: Command | Pipeline
    member: str | None = None

    def __post_init__(self) -> None:
        if self.member is not None and not _NAME.match(self.member):
            raise ValueError(f"not a member name: {self.member!r}")

    def render(self) -> str:
        return f"({render(self.statement)})" + (f".{self.member}" if self.member else "")

    def problem(self) -> str | None:
        return next(problems(self.statement), None)


@dataclass(frozen=True)
class Block:
    """A script block: ``{ first; second }``."""

    statements: tuple[Statement, ...]

    def render(self) -> str:
        return "{ " + "; ".join(render(s) for s in self.statements) + " }"

    def problem(self) -> str | None:
        return next((p for s in self.statements for p in problems(s)), None)


Arg = Text | Flag | Number | Switch | Var | Placeholder | Values | Concat | Sub | Block


# ----- statements -----------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One cmdlet call with named parameters, in the order given."""

    cmdlet: str
    params: tuple[tuple[str, Arg], ...] = ()

    def __post_init__(self) -> None:
        if not _CMDLET.match(self.cmdlet):
            raise ValueError(f"not a cmdlet name: {self.cmdlet!r}")
        for name, _ in self.params:
            if not _NAME.match(name):
                raise ValueError(f"not a parameter name: {name!r}")

    def arg(self, name: str) -> Arg | None:
        return next((value for key, value in self.params if key == name), None)


@dataclass(frozen=True)
class Pipeline:
    commands: tuple[Command, ...]


@dataclass(frozen=True)
class Assign:
    """``$name = statement``."""

    name: str
    value: Command | Pipeline

    def __post_init__(self) -> None:
        Var(self.name)  # the same grammar


@dataclass(frozen=True)
class Unless:
    """``statements``, run only while ``done`` (true once they took effect) is false:
    ``if (<not done>) { ... }``. For one step that adds several things, each once."""

    done: Condition
    statements: tuple[Command | Pipeline | Assign, ...]


Statement = Command | Pipeline | Assign | Unless


@dataclass(frozen=True)
class Compare:
    """A guard: ``left -op right``."""

    left: Arg
    op: str
    right: Arg

    def __post_init__(self) -> None:
        if self.op not in _OPERATORS:
            raise ValueError(f"not an operator: {self.op!r}")


@dataclass(frozen=True)
class Not:
    inner: Condition


Condition = Compare | Not | Sub


def negate(condition: Condition) -> Condition:
    """The plain opposite: ``-ne`` becomes ``-eq`` rather than ``-not (... -ne ...)``."""
    if isinstance(condition, Not):
        return condition.inner
    if isinstance(condition, Compare):
        flipped = {"-eq": "-ne", "-ne": "-eq", "-contains": "-notcontains"}
        flipped["-notcontains"] = "-contains"
        return Compare(condition.left, flipped[condition.op], condition.right)
    return Not(condition)


# ----- the renderer ---------------------------------------------------------------


def render(node: Statement | Condition) -> str:
    """The PowerShell text of a statement or a condition."""
    if isinstance(node, Command):
        parts = [node.cmdlet]
        for name, value in node.params:
            text = value.render()
            parts.append(f"-{name} {text}" if text else f"-{name}")
        return " ".join(parts)
    if isinstance(node, Pipeline):
        return " | ".join(render(c) for c in node.commands)
    if isinstance(node, Assign):
        return f"${node.name} = {render(node.value)}"
    if isinstance(node, Unless):
        return render_guarded(node.statements, node.done)
    if isinstance(node, Compare):
        return f"{node.left.render()} {node.op} {node.right.render()}"
    if isinstance(node, Not):
        inner = render(node.inner)
        # A command's result is in parentheses already: -not (Get-X ...).
        return (
            f"-not {inner}"
            if isinstance(node.inner, Sub) and not node.inner.member
            else (f"-not ({inner})")
        )
    return node.render()


def render_script(statements: tuple[Statement, ...]) -> str:
    return "; ".join(render(s) for s in statements)


def render_guarded(statements: tuple[Statement, ...], done: Condition | None) -> str:
    """The statements, run only while ``done`` (true once they took effect) is false."""
    body = render_script(statements)
    if done is None:
        return body
    return f"if ({render(negate(done))}) {{ {body} }}"


def problems(node: Statement | Condition) -> Iterator[str]:
    """Why ``node`` may not be written as a command: each argument that is not a
    valid instance of what its parameter takes."""
    nodes, args = _parts(node)
    for arg in args:
        if (problem := arg.problem()) is not None:
            yield problem
    for child in nodes:
        yield from problems(child)


def _parts(node: Statement | Condition) -> tuple[list[Statement | Condition], list[Arg]]:
    """A node's statements or conditions, and its arguments."""
    if isinstance(node, Command):
        return [], [value for _, value in node.params]
    if isinstance(node, Pipeline):
        return list(node.commands), []
    if isinstance(node, Assign):
        return [node.value], []
    if isinstance(node, Unless):
        return [node.done, *node.statements], []
    if isinstance(node, Compare):
        return [], [node.left, node.right]
    if isinstance(node, Not):
        return [node.inner], []
    return [], [node]


@dataclass(frozen=True)
class Prose:
    """Advice a person reads: a template from the code with ``{}`` fields, filled
    with rendered commands (examples, never run as they stand) and values from
    outside (shown with control characters escaped)."""

    template: str
    args: tuple[str | Statement, ...] = ()

    def text(self) -> str:
        return self.template.format(
            *(shown(a) if isinstance(a, str) else shown(render(a)) for a in self.args)
        )
