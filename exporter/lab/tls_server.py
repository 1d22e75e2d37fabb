"""A real TLS server on loopback for the lab: OpenSSL through Python's ssl.

It binds the address it is given (a test gives each fake Exchange server its own
127.0.1.x), picks the certificate by SNI like IIS with SNI bindings, completes
the handshake, answers one line of HTTP and closes. A bind failure raises.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from pathlib import Path


class TlsServer:
    def __init__(
        self,
        address: str,
        default: tuple[Path, Path],
        by_sni: dict[str, tuple[Path, Path]] | None = None,
        port: int = 0,
        tweak: Callable[[ssl.SSLContext], None] | None = None,
    ) -> None:
        self.address = address
        self._tweak = tweak
        self._default = self._context(*default)
        self._by_sni = {name: self._context(*files) for name, files in (by_sni or {}).items()}
        self._default.sni_callback = self._pick
        for context in self._by_sni.values():
            context.sni_callback = self._pick
        self.sni_seen: list[str | None] = []
        # Paths answered with (status, JSON body); without any, every connection gets
        # 204 right after the handshake.
        self.documents: dict[str, tuple[int, bytes]] = {}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, port))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _context(self, cert: Path, key: Path) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if self._tweak is not None:
            # Before the certificate: e.g. TLS 1.0 only, or security level 0 so that
            # OpenSSL will serve an RSA-1024 or SHA-1 chain as old IIS servers do.
            self._tweak(context)
        context.load_cert_chain(cert, key)
        return context

    def replace_certificate(self, default: tuple[Path, Path]) -> None:
        """Serve another certificate from the next handshake on (an admin's fix)."""
        context = self._context(*default)
        context.sni_callback = self._pick
        self._default = context

    def _pick(self, sslobj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.sni_seen.append(name)
        if name in self._by_sni:
            sslobj.context = self._by_sni[name]

    def _serve(self) -> None:
        accept_loop(self._sock, self._stop, self._handle)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            with self._default.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(self._answer(tls) if self.documents else _NO_CONTENT)
        except (OSError, ssl.SSLError):
            pass

    def _answer(self, tls: ssl.SSLSocket) -> bytes:
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 16384:
            chunk = tls.recv(4096)
            if not chunk:
                break
            request += chunk
        parts = request.split(b" ", 2)
        path = parts[1].decode("latin-1") if len(parts) > 1 else ""
        if path not in self.documents:
            return _NO_CONTENT
        status, body = self.documents[path]
        return (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + body

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)


_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"


def accept_loop(
    sock: socket.socket, stop: threading.Event, handle: Callable[[socket.socket], None]
) -> None:
    """Accept until ``stop`` is set, each connection handled in a thread of its own
    (the lab's servers: TLS here, SMTP in smtp_server)."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = sock.accept()
        except (TimeoutError, OSError):
            continue
        threading.Thread(target=handle, args=(conn,), daemon=True).start()
