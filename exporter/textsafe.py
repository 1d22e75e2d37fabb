"""Text from the world made safe to print: for a terminal (``report``'s table,
``check -v``), for a monitoring system reading plugin output (``check``), and for
the prose of a fix (remediation/command.py's ``shown``). A leaf module.

A certificate's names, a directory's server names and URLs, and a peer's error
text are not ours: a SAN can carry ``ESC]0;...BEL`` (retitles the terminal),
``ESC[2J`` (clears it), a newline (a forged output line) or a Unicode bidi
override (text that reads other than it is, CVE-2021-42574). ``terminal_safe``
escapes every C0 and C1 control, DEL, the bidi controls and the Unicode line and
paragraph separators (``str.splitlines`` breaks on them) as ``\\x1b`` or
``\\u202e``. One form for every character: a ``\\n`` written out would turn back
into a newline where Nagios reads passive results (it unescapes ``\\n``), ``\\x0a``
does not. Backslashes themselves are left alone: Exchange identities
(``EXCH01\\EWS (Default Web Site)``) must read as they are.

``nagios_safe`` also replaces ``|``: Nagios takes everything after the first
``|`` of a plugin's output as performance data, long output included, and Icinga
2 splits the whole output at it (monitoring-plugin-guidelines issue #4). U+00A6
BROKEN BAR reads as a pipe, is one character wide, and is in Latin-1 as well as
UTF-8, so any CGI's charset shows it (check_ssl_cert writes `` PIPE ``, which
reads worse in a PowerShell pipeline such as ``Get-ExchangeCertificate ... |
New-ExchangeCertificate``). ``perfdata_label`` quotes a label per the Monitoring
Plugins guidelines (section 2.6): in single quotes, a single quote doubled, and
no ``=`` (the newer interface draft and Icinga 2 forbid it in a label).
"""

from __future__ import annotations

import re

PIPE_STANDIN = "\u00a6"  # BROKEN BAR
EQUALS_STANDIN = "_"

# C0, DEL and C1; ALM, LRM, RLM; LRE..RLO; LS, PS; LRI..PDI; lone surrogates
# (they would make printing raise).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """``text`` with every control, bidi control and line separator escaped: it
    prints as one line and cannot drive the terminal."""
    return _UNSAFE.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character :func:`terminal_safe` would escape."""
    return _UNSAFE.search(text) is not None


def nagios_safe(text: str) -> str:
    """``text`` for a plugin's status line or long output: terminal-safe, one
    line, and without ``|``."""
    return terminal_safe(text).replace("|", PIPE_STANDIN)


def perfdata_label(label: str) -> str:
    """A perfdata label: nagios-safe, ``=`` replaced, single-quoted with any quote
    inside doubled."""
    safe = nagios_safe(label).replace("=", EQUALS_STANDIN)
    return "'" + safe.replace("'", "''") + "'"
