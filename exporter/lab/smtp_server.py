"""A real SMTP server with STARTTLS on loopback, for the demo: it greets, answers
EHLO with STARTTLS among its keywords, answers STARTTLS with 220 and completes the
TLS handshake with its certificate (RFC 3207), then closes. Just what the
exporter's probe needs to see; no mail is taken. The tests use aiosmtpd.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path

from exporter.lab.tls_server import accept_loop


class SmtpServer:
    def __init__(self, address: str, certificate: tuple[Path, Path], name: str) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(*certificate)
        self._name = name
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((address, 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=accept_loop, args=(self._sock, self._stop, self._handle), daemon=True
        )
        self._thread.start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError, ssl.SSLError), conn:
            reader = conn.makefile("rb")
            conn.sendall(f"220 {self._name} Microsoft ESMTP MAIL Service ready\r\n".encode())
            while line := reader.readline(1024):
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    conn.sendall(f"250-{self._name} Hello\r\n250 STARTTLS\r\n".encode())
                elif command == b"STARTTLS":
                    conn.sendall(b"220 2.0.0 SMTP server ready\r\n")
                    with self._context.wrap_socket(conn, server_side=True):
                        return  # the handshake is done: nothing more to serve
                else:
                    conn.sendall(b"221 2.0.0 Bye\r\n")
                    return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=2)
