"""TLS probe results: what a handshake returned, and how a failure is named.

The probe connects to the server's own address (not wherever DNS points) and sends
SNI for the URL's host, as a client that resolved the name correctly would. It
neither verifies nor trusts: judging the chain is the evaluate stage's job, so
the probe must return the chain whatever its validity. The handshakes themselves
run in :mod:`exporter.probe.handshakes`.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TlsReason(StrEnum):
    OK = "ok"
    REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    RESET = "connection_reset"
    NOT_TLS = "not_tls"
    PROTOCOL_VERSION = "protocol_version"
    HANDSHAKE_FAILED = "handshake_failed"
    NO_CERTIFICATE = "no_certificate"


@dataclass(frozen=True)
class TlsResult:
    """What one handshake returned.

    Attributes:
        chain: DER certificates as presented, leaf first; empty unless reason is OK.
        protocol, cipher: None when the handshake did not complete.
        detail: the OS or OpenSSL message for a failure.
        duration: seconds spent on connect plus handshake.
    """

    address: str
    port: int
    sni: str | None
    reason: TlsReason
    chain: tuple[bytes, ...] = ()
    protocol: str | None = None
    cipher: str | None = None
    detail: str | None = None
    duration: float = 0.0


# OpenSSL reasons that mean "the peer does not speak TLS at all".
_NOT_TLS = {
    "WRONG_VERSION_NUMBER",
    "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG",
    "UNEXPECTED_RECORD",
    "HTTP_REQUEST",
    "UNEXPECTED_MESSAGE",
    "RECORD_TOO_LARGE",
}
_VERSION = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "VERSION_TOO_LOW",
}


def make_client_context() -> ssl.SSLContext:
    """A context that accepts any chain: verification happens later, offline."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Exchange 2016+ with current Windows clients speaks TLS 1.2 or 1.3.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def peer_chain(tls: Any) -> tuple[bytes, ...]:
    """The chain as sent, leaf first, from the C object (``_ssl._SSLSocket``)."""
    chain = tls.get_unverified_chain() or []
    return tuple(c if isinstance(c, bytes) else c.public_bytes(_DER) for c in chain)


_DER = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]


def os_reason(exc: OSError) -> TlsReason:
    if isinstance(exc, ConnectionRefusedError):
        return TlsReason.REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return TlsReason.RESET
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TlsReason.TIMEOUT
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return TlsReason.UNREACHABLE
    return TlsReason.UNREACHABLE


def ssl_reason(exc: ssl.SSLError) -> TlsReason:
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return TlsReason.RESET
    reason = (exc.reason or "").upper()
    if reason in _NOT_TLS:
        return TlsReason.NOT_TLS
    if reason in _VERSION:
        return TlsReason.PROTOCOL_VERSION
    return TlsReason.HANDSHAKE_FAILED


def ssl_detail(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLEOFError):
        return "the server closed the connection during the TLS handshake"
    return str(exc.reason or exc).replace("_", " ").lower()
