"""One document over HTTPS from a server's own address: the auth metadata document
(``https://SERVER/autodiscover/metadata/json/1``) that carries the organisation's
Auth certificate; and the deadline-bound HTTP exchange it and the PKI fetcher share.

The request goes where the probe's handshakes go (the server's address, SNI for the
URL's host) and is bounded as a whole by ``timeout`` (connect, TLS handshake,
request, headers, body) and in size by ``limit``. The TLS certificate of this
request is the Autodiscover one, judged on the ``autodiscover`` endpoint, so it is
neither verified nor kept here. Redirects are not followed: the document is served
where it is asked for.

Why a deadline and not a timeout: ``http.client`` reads the status line and headers
through a buffered file, one ``recv`` at a time, so a socket timeout bounds each
read, not the request; a peer sending one header byte a second never trips it.
Here every send and ``recv`` is given only the time left before the deadline
(:class:`_Bounded`), and ``http.client`` parses what arrives (its own line and
header-count limits bound the buffer). CPython bounds a whole TLS handshake by the
socket's timeout, so setting it to the time left covers the handshake too.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from exporter.model import is_ip_literal
from exporter.probe.results import DocumentResult, TlsReason
from exporter.probe.tls import os_reason

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

# A metadata document holds two or three certificates: a few KB.
DOCUMENT_LIMIT = 1024 * 1024
USER_AGENT = "exchange-cert-exporter"
READ_CHUNK = 65536


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # judged elsewhere (the autodiscover endpoint)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


_CONTEXT = _context()


def time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (time.monotonic()); TimeoutError once it has passed."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("timed out")
    return remaining


class _Bounded:
    """A socket as ``http.client`` uses it (``sendall``, ``makefile``, ``close``),
    every send and read given only the time left before ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def sendall(self, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        while view:  # send by send: one sendall's timeout would restart on an SSLSocket
            self.sock.settimeout(time_left(self.deadline))
            view = view[self.sock.send(view) :]

    def makefile(self, _mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Reads(self))

    def close(self) -> None:
        """The caller owns the socket (``http.client`` closes its own on Connection: close)."""


class _Reads(io.RawIOBase):
    """The raw byte stream under ``http.client``'s buffered reader."""

    def __init__(self, bounded: _Bounded) -> None:
        self._bounded = bounded

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        sock = self._bounded.sock
        sock.settimeout(time_left(self._bounded.deadline))
        return sock.recv_into(buffer)


def http_request(
    sock: socket.socket,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes | None,
    deadline: float,
) -> http.client.HTTPResponse:
    """Send one request on a connected ``sock`` (``Connection: close``) and read the
    response's status line and headers, all by ``deadline``; then :func:`read_body`.
    Raises TimeoutError, OSError, ``http.client.HTTPException`` or ValueError (a
    target or header value http.client will not send)."""
    connection = http.client.HTTPConnection("unused")  # handed its socket: never connects
    connection.sock = cast(socket.socket, _Bounded(sock, deadline))
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in (*headers, ("Connection", "close")):
        connection.putheader(name, value)
    if body is not None:
        connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    return connection.getresponse()


def read_body(response: http.client.HTTPResponse, limit: int) -> bytes | None:
    """The body (by the deadline given to :func:`http_request`), None when it is
    larger than ``limit`` (then not read further)."""
    length = response.getheader("Content-Length") or ""
    if length.isdigit() and int(length) > limit:
        return None
    body = bytearray()
    while chunk := response.read1(READ_CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def fetch_document(
    address: str,
    port: int,
    host: str,
    path: str,
    timeout: float,
    limit: int = DOCUMENT_LIMIT,
) -> DocumentResult:
    """GET ``path`` from ``address``:``port`` with SNI and Host ``host``."""
    start = time.monotonic()
    deadline = start + timeout

    def result(
        body: bytes | None,
        status: int | None = None,
        transport: TlsReason = TlsReason.OK,
        detail: str | None = None,
    ) -> DocumentResult:
        took = time.monotonic() - start
        return DocumentResult(address, port, host, body, transport, status, detail, took)

    sock: socket.socket | None = None
    phase = "no TCP connection"
    try:
        sock = socket.create_connection((address, port), timeout=time_left(deadline))
        phase = "TLS handshake not finished"
        sni = None if is_ip_literal(host) else host
        sock.settimeout(time_left(deadline))  # the whole handshake (see the docstring)
        sock = _CONTEXT.wrap_socket(sock, server_hostname=sni)
        phase = "no HTTP response"
        headers = (
            ("Host", host if port == 443 else f"{host}:{port}"),
            ("Accept", "application/json"),
            ("User-Agent", USER_AGENT),
        )
        response = http_request(sock, "GET", path, headers, None, deadline)
        phase = "the document not read"
        if response.status != 200:
            where = response.getheader("Location")
            more = f" (to {where})" if where and 300 <= response.status < 400 else ""
            return result(
                body=None,
                status=response.status,
                detail=f"HTTP {response.status} {response.reason}{more} for {path}",
            )
        body = read_body(response, limit)
        if body is None:
            return result(
                body=None, status=200, detail=f"the document is larger than {limit} bytes"
            )
        return result(body=body, status=200)
    except TimeoutError:
        return result(body=None, transport=TlsReason.TIMEOUT, detail=f"{phase} within {timeout:g}s")
    except ssl.SSLError as exc:
        return result(
            body=None,
            transport=TlsReason.HANDSHAKE_FAILED,
            detail=exc.reason or exc.strerror or str(exc),
        )
    except (http.client.HTTPException, ValueError) as exc:
        return result(
            body=None,
            transport=TlsReason.PROTOCOL_ERROR,
            detail=f"not an HTTP response: {type(exc).__name__}",
        )
    except OSError as exc:
        return result(body=None, transport=os_reason(exc), detail=exc.strerror or str(exc))
    finally:
        if sock is not None:
            sock.close()
