"""The probe's TLS client and how a failure is named (what a handshake returned is
:class:`exporter.probe.results.TlsResult`).

The probe connects to the server's own address (not wherever DNS points) and sends
SNI for the URL's host, as a client that resolved the name correctly would. It
neither verifies nor trusts: judging the chain is the evaluate stage's job, so
the probe must return the chain whatever its validity. The handshakes themselves
run in :mod:`exporter.probe.handshakes`.
"""

from __future__ import annotations

import os
import socket

from cryptography.hazmat.bindings.openssl.binding import Binding
from OpenSSL import SSL, crypto

from exporter.model import is_ip_literal
from exporter.probe.results import TlsReason

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


class TlsClient:
    """How the probe speaks TLS: pyOpenSSL over the OpenSSL inside the cryptography
    wheel (README, "Why these libraries"). One per process; its context is shared
    by the handshake threads and never changed after it is made.

    It accepts any chain (verification happens later, offline) and offers TLS 1.2
    and 1.3, as Exchange 2016+ and current Windows clients speak, with the key
    exchange groups Windows offers (:data:`WINDOWS_GROUPS`).

    Attributes:
        windows_groups: whether those groups could be set (else OpenSSL's defaults).
    """

    def __init__(self) -> None:
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_verify(SSL.VERIFY_NONE)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        self.windows_groups = _offer_groups(context, WINDOWS_GROUPS)
        self.context = context

    def wrap(self, sock: socket.socket, sni: str | None) -> SSL.Connection:
        """A client connection over connected ``sock``, sending ``sni`` (none for an
        IP literal); ValueError for a name no client would send."""
        connection = SSL.Connection(self.context, sock)
        name = sni_bytes(sni) if sni is not None else None
        if name is not None:
            connection.set_tlsext_host_name(name)
        connection.set_connect_state()
        return connection


# The elliptic curves Windows 10 and 11 offer by default, in their order (schannel:
# curve25519, NistP256, NistP384). OpenSSL 3.5 and later also offer a post-quantum
# hybrid key share by default, which makes the ClientHello 1.5 KB rather than 300
# bytes (a load balancer that mishandles a ClientHello spread over two packets
# fails it where Outlook connects) and costs a tenth of the probe's CPU.
WINDOWS_GROUPS = "X25519:P-256:P-384"


def _offer_groups(context: SSL.Context, groups: str) -> bool:
    """Offer only ``groups``; False (OpenSSL's defaults stand) where this pyOpenSSL
    and cryptography lack the call. pyOpenSSL has no public one: this is OpenSSL's
    ``SSL_CTX_set1_curves_list`` through the bindings pyOpenSSL itself is built on."""
    try:
        set_groups = Binding.lib.SSL_CTX_set1_curves_list
        handle = context._context  # pyOpenSSL's SSL_CTX pointer
    except AttributeError:
        return False
    return bool(set_groups(handle, groups.encode()) == 1)


def sni_bytes(name: str) -> bytes | None:
    """``name`` as the SNI extension carries it (IDNA), or None for an IP literal,
    which clients do not send (RFC 6066); the rules Python's ssl module applies."""
    if is_ip_literal(name):
        return None
    if not name or name.startswith("."):
        raise ValueError("the server name is empty or starts with a leading dot")
    if "\0" in name:
        raise ValueError("the server name contains a null character")
    try:
        encoded = name.encode("idna")
    except UnicodeError as exc:
        raise ValueError(f"the server name is not a valid IDNA name: {exc}") from exc
    if len(encoded.rstrip(b".")) > 253:
        raise ValueError("the server name is longer than a DNS name can be (253 characters)")
    return encoded


def peer_chain(connection: SSL.Connection) -> tuple[bytes, ...]:
    """The chain as sent, leaf first, in DER."""
    chain = connection.get_peer_cert_chain() or []
    return tuple(crypto.dump_certificate(crypto.FILETYPE_ASN1, c) for c in chain)


def os_reason(exc: OSError) -> TlsReason:
    if isinstance(exc, ConnectionRefusedError):
        return TlsReason.REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return TlsReason.RESET
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TlsReason.TIMEOUT
    # EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL, and any other failure to reach the
    # peer: the detail carries the OS's own words.
    return TlsReason.UNREACHABLE


def tls_failure(exc: SSL.Error) -> tuple[TlsReason, str]:
    """The reason and message for a failed handshake step."""
    if isinstance(exc, SSL.ZeroReturnError):
        return TlsReason.RESET, "the server closed the TLS connection during the handshake"
    if isinstance(exc, SSL.SysCallError):
        code, message = exc.args if len(exc.args) == 2 else (-1, "")
        if isinstance(code, int) and code > 0:
            error = OSError(code, os.strerror(code))
            return os_reason(error), error.strerror or str(message)
        return TlsReason.RESET, _EOF
    queue = exc.args[0] if exc.args and isinstance(exc.args[0], list) else []
    # pyOpenSSL gives OpenSSL's error queue as (library, function, reason), oldest first.
    reasons = [str(e[2]) for e in queue if isinstance(e, tuple) and len(e) == 3]
    keys = [r.upper().replace(" ", "_") for r in reasons]
    for key, reason in zip(keys, reasons, strict=True):
        if key in _NOT_TLS:
            return TlsReason.NOT_TLS, reason
        if key in _VERSION:
            return TlsReason.PROTOCOL_VERSION, reason
        if key in _EOF_REASONS:
            return TlsReason.RESET, _EOF
    return TlsReason.HANDSHAKE_FAILED, reasons[0] if reasons else (str(exc) or type(exc).__name__)


_EOF = "the server closed the connection during the TLS handshake"
_EOF_REASONS = {"UNEXPECTED_EOF_WHILE_READING"}
