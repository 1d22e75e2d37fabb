"""The DNS wire format for the one exchange the probe makes: an A or AAAA query for
one name, and the reply's ID, flags, question and addresses.

dnspython still validates unusual names and carries the TCP fallback; this module
is the hot path only: plain host names checked and encoded, one question per
query, the addresses of a reply (why it exists: benchmarks/README.md, "Design
history"). tests/test_dnswire.py checks it against dnspython on generated
replies, and that no input makes it raise.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import struct
from dataclasses import dataclass

A = 1
AAAA = 28
_IN = 1
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_TYPE_CLASS = struct.Struct("!HH")
_QR = 0x8000
_OPCODE = 0x7800
_TC = 0x0200
_RD = 0x0100


# A host name as Exchange URLs carry them: letters, digits, '-' and '_' in labels of
# 1 to 63, an optional final dot, and a last label that is not all digits (so never
# an IPv4 literal). Anything else goes through dnspython.
_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*\.?")


def plain_name_wire(name: str) -> bytes | None:
    """The uncompressed wire form of a plain host name, as dnspython would write it;
    None for anything else (escapes, IDNA, an IP literal, a name too long)."""
    if len(name) > 253 or not _PLAIN_NAME.fullmatch(name):
        return None
    labels = name.rstrip(".").split(".")
    if any(len(label) > 63 for label in labels):
        return None
    return b"".join(bytes((len(label),)) + label.encode() for label in labels) + b"\0"


def query(qname_wire: bytes, rdtype: int, ident: int) -> bytes:
    """A recursive query for one name (its uncompressed wire form) and type."""
    return _HEADER.pack(ident, _RD, 1, 0, 0, 0) + qname_wire + _TYPE_CLASS.pack(rdtype, _IN)


@dataclass(frozen=True)
class Reply:
    ident: int
    rcode: int
    truncated: bool
    question: bytes  # the question section as sent back: name, type and class
    addresses: tuple[str, ...]  # A and AAAA data of the answer section, in order

    def answers(self, qname_wire: bytes, rdtype: int) -> bool:
        """Whether this is the reply to our query (ID aside): same name, any case."""
        return self.question.lower() == qname_wire.lower() + _TYPE_CLASS.pack(rdtype, _IN)


def parse(wire: bytes) -> Reply | None:
    """The reply in ``wire``; None when it is not a well-formed response."""
    try:
        return _parse(wire)
    except (IndexError, struct.error, ValueError):
        return None


def _parse(wire: bytes) -> Reply | None:
    ident, flags, qdcount, ancount, _, _ = _HEADER.unpack_from(wire)
    if not flags & _QR or flags & _OPCODE or qdcount != 1:
        return None
    pos = _skip_name(wire, _HEADER.size) + _TYPE_CLASS.size
    if pos > len(wire):
        return None
    question = wire[_HEADER.size : pos]
    addresses = []
    for _ in range(ancount):
        pos = _skip_name(wire, pos)
        rdtype, rdclass, _ttl, length = _RR.unpack_from(wire, pos)
        pos += _RR.size
        data = wire[pos : pos + length]
        if len(data) != length:
            return None
        pos += length
        if rdclass != _IN:
            continue
        if rdtype == A and length == 4:
            addresses.append(socket.inet_ntoa(data))
        elif rdtype == AAAA and length == 16:
            addresses.append(str(ipaddress.IPv6Address(data)))
    return Reply(ident, flags & 0x000F, bool(flags & _TC), question, tuple(addresses))


def _skip_name(wire: bytes, pos: int) -> int:
    """The offset after the (possibly compressed) name at ``pos``."""
    while True:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            if pos + 2 > len(wire):
                raise IndexError(pos)
            return pos + 2
        if length & 0xC0:
            raise ValueError(f"label type {length:#x}")
        pos += 1 + length
