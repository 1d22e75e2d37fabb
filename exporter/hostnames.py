"""Host names, checked once where they enter (config, directory, certificate) and
before any of them becomes a suggestion, a URL or a DNS zone in a fix.

A DNS name here is what a fix may hand to a cmdlet or a DNS server: LDH labels
(letters, digits, hyphens; RFC 1123 section 2.1, RFC 952), 1-63 octets each, at most
253 in all, one optional trailing dot, and IDNA: an A-label (``xn--``) must be a valid
IDNA 2008 label, and a name written in Unicode is taken as its A-label form
(RFC 5890, through the ``idna`` package, which implements IDNA 2008 and UTS #46).
Every pattern is anchored with ``\\Z``: ``$`` also matches before a final newline,
so ``mail.contoso.com\\n`` would pass a ``$``-anchored check.
"""

from __future__ import annotations

import functools
import re

import idna

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_MAX_NAME = 253


@functools.lru_cache(maxsize=8192)
def dns_name(text: str) -> str | None:
    """``text`` as a lower-case DNS name without the trailing dot (Unicode labels as
    their A-labels), or None when it is not a valid one. A single label counts:
    Exchange servers' short names are DNS names too."""
    if not text:
        return None
    name = text[:-1] if text.endswith(".") else text
    if not name or name.startswith(".") or ".." in name:
        return None
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return None
    name = name.lower()
    if len(name) > _MAX_NAME:
        return None
    for label in name.split("."):
        if not _LDH_LABEL.match(label):
            return None
        if label.startswith("xn--") or label[2:4] == "--":
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                return None
    return name


def is_dns_name(text: str) -> bool:
    return dns_name(text) is not None


def is_fqdn(text: str) -> bool:
    """A DNS name of at least two labels: what a fix may suggest to clients."""
    name = dns_name(text)
    return name is not None and "." in name
