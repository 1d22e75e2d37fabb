"""TLS probe: one connection, one deadline, the whole presented chain.

The probe connects to the server's own address (not wherever DNS points) and sends
SNI for the URL's host, as a client that resolved the name correctly would. It
neither verifies nor trusts: judging the chain is the evaluate stage's job, so
the probe must return the chain whatever its validity.

The deadline covers connect plus handshake: the handshake runs non-blocking
under select(), so a peer that trickles one byte a second still ends on time.
"""

from __future__ import annotations

import errno
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


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


def _peer_chain(sock: ssl.SSLSocket) -> tuple[bytes, ...]:
    # get_unverified_chain is public from Python 3.13; 3.10-3.12 have it on _sslobj.
    getter = getattr(sock, "get_unverified_chain", None)
    if getter is None:
        getter = getattr(getattr(sock, "_sslobj", None), "get_unverified_chain", None)
    if getter is not None:
        chain = getter() or []
        return tuple(
            c if isinstance(c, bytes) else c.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
            for c in chain
        )
    leaf = sock.getpeercert(binary_form=True)
    return (leaf,) if leaf else ()


def probe_tls(
    address: str,
    port: int,
    sni: str | None,
    timeout: float,
    context: ssl.SSLContext,
    clock: Callable[[], float] = time.monotonic,
) -> TlsResult:
    start = clock()
    deadline = start + timeout

    def result(
        reason: TlsReason,
        detail: str | None = None,
        chain: tuple[bytes, ...] = (),
        protocol: str | None = None,
        cipher: str | None = None,
    ) -> TlsResult:
        return TlsResult(
            address, port, sni, reason, chain, protocol, cipher, detail, clock() - start
        )

    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        return result(TlsReason.TIMEOUT, f"no TCP connection within {timeout:g}s")
    except OSError as exc:
        return result(_os_reason(exc), exc.strerror or str(exc))
    try:
        sock = context.wrap_socket(raw, server_hostname=sni, do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        raw.close()
        return result(TlsReason.HANDSHAKE_FAILED, str(exc))
    with sock:
        sock.setblocking(False)
        try:
            _handshake(sock, deadline, clock)
        except TimeoutError:
            return result(TlsReason.TIMEOUT, f"TLS handshake not finished within {timeout:g}s")
        except ssl.SSLError as exc:
            return result(_ssl_reason(exc), _ssl_detail(exc))
        except OSError as exc:
            return result(_os_reason(exc), exc.strerror or str(exc))
        chain = _peer_chain(sock)
        if not chain:
            return result(TlsReason.NO_CERTIFICATE, "the server presented no certificate")
        cipher = sock.cipher()
        return result(
            TlsReason.OK, chain=chain, protocol=sock.version(), cipher=cipher[0] if cipher else None
        )


def _handshake(sock: ssl.SSLSocket, deadline: float, clock: Callable[[], float]) -> None:
    while True:
        try:
            sock.do_handshake()
            return
        except ssl.SSLWantReadError:
            wait_read = True
        except ssl.SSLWantWriteError:
            wait_read = False
        remaining = deadline - clock()
        if remaining <= 0:
            raise TimeoutError
        readable, writable, _ = select.select(
            [sock] if wait_read else [], [] if wait_read else [sock], [], remaining
        )
        if not readable and not writable:
            raise TimeoutError


def _os_reason(exc: OSError) -> TlsReason:
    if isinstance(exc, ConnectionRefusedError):
        return TlsReason.REFUSED
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return TlsReason.RESET
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return TlsReason.TIMEOUT
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EADDRNOTAVAIL):
        return TlsReason.UNREACHABLE
    return TlsReason.UNREACHABLE


def _ssl_reason(exc: ssl.SSLError) -> TlsReason:
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return TlsReason.RESET
    reason = (exc.reason or "").upper()
    if reason in _NOT_TLS:
        return TlsReason.NOT_TLS
    if reason in _VERSION:
        return TlsReason.PROTOCOL_VERSION
    return TlsReason.HANDSHAKE_FAILED


def _ssl_detail(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLEOFError):
        return "the server closed the connection during the TLS handshake"
    return str(exc.reason or exc).replace("_", " ").lower()
