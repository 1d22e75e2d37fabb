"""One document over HTTPS from a server's own address: the auth metadata document
(``https://SERVER/autodiscover/metadata/json/1``) that carries the organisation's
Auth certificate.

The request goes where the probe's handshakes go (the server's address, SNI for the
URL's host) and is bounded as a whole by ``timeout`` and in size by ``limit``. The
TLS certificate of this request is the Autodiscover one, judged on the
``autodiscover`` endpoint, so it is neither verified nor kept here. Redirects are
not followed: the document is served where it is asked for. Standard library only
(``ssl``, ``http.client``): one small GET needs no more.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time

from exporter.model import is_ip_literal
from exporter.probe.results import DocumentResult, TlsReason
from exporter.probe.tls import os_reason

# A metadata document holds two or three certificates: a few KB.
DOCUMENT_LIMIT = 1024 * 1024
USER_AGENT = "exchange-cert-exporter"


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # judged elsewhere (the autodiscover endpoint)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


_CONTEXT = _context()


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

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        return remaining

    sock: socket.socket | None = None
    phase = "no TCP connection"
    try:
        sock = socket.create_connection((address, port), timeout=left())
        phase = "TLS handshake not finished"
        sni = None if is_ip_literal(host) else host
        sock.settimeout(left())
        sock = _CONTEXT.wrap_socket(sock, server_hostname=sni)
        phase = "no HTTP response"
        connection = http.client.HTTPConnection(host, port, timeout=left())
        connection.sock = sock
        authority = host if port == 443 else f"{host}:{port}"
        connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        for name, value in (
            ("Host", authority),
            ("Accept", "application/json"),
            ("User-Agent", USER_AGENT),
            ("Connection", "close"),
        ):
            connection.putheader(name, value)
        sock.settimeout(left())
        connection.endheaders()
        response = connection.getresponse()
        phase = "the document not read"
        if response.status != 200:
            where = response.getheader("Location")
            more = f" (to {where})" if where and 300 <= response.status < 400 else ""
            return result(
                body=None,
                status=response.status,
                detail=f"HTTP {response.status} {response.reason}{more} for {path}",
            )
        body = b""
        while True:
            sock.settimeout(left())
            chunk = response.read1(65536)
            if not chunk:
                break
            body += chunk
            if len(body) > limit:
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
