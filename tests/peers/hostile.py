"""Misbehaving peers on loopback: a TCP server that accepts and then does what the
test says (never speak, send garbage, reset), and a DNS server that never answers.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable


class TcpPeer:
    """Accepts connections on ``address`` and hands each to ``behaviour``."""

    def __init__(self, address: str, behaviour: Callable[[socket.socket], None]) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((address, 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._behaviour = behaviour
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self._behaviour(conn)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for conn in self._conns:
            conn.close()
        self._thread.join(timeout=2)


def silent(conn: socket.socket) -> None:
    conn.recv(4096)
    threading.Event().wait(30)


def garbage(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + b"\x00" * 64)


def reset(conn: socket.socket) -> None:
    conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def trickle(conn: socket.socket) -> None:
    """A TLS alert-looking byte stream, one byte a second: never finishes."""
    conn.recv(4096)
    for byte in b"\x16\x03\x03\x00\x40" + b"\x02" * 64:
        conn.sendall(bytes([byte]))
        threading.Event().wait(1)


def smtp_greets_and_stalls(conn: socket.socket) -> None:
    """An SMTP server that says 220 and then never answers EHLO."""
    conn.sendall(b"220 exch01.contoso.local Microsoft ESMTP MAIL Service ready\r\n")
    conn.recv(4096)
    threading.Event().wait(30)


def smtp_refuses_starttls(conn: socket.socket) -> None:
    """Offers STARTTLS in its EHLO reply, then refuses it (a missing certificate)."""
    conn.sendall(b"220 exch01.contoso.local Microsoft ESMTP MAIL Service ready\r\n")
    conn.recv(4096)
    conn.sendall(b"250-exch01.contoso.local Hello\r\n250-SIZE 37748736\r\n250 STARTTLS\r\n")
    conn.recv(4096)
    conn.sendall(b"454 4.7.0 TLS not available due to temporary reason\r\n")
    conn.recv(4096)


def smtp_busy(conn: socket.socket) -> None:
    """Greets with 554 (no service here)."""
    conn.sendall(b"554 5.3.2 Service not available\r\n")
    conn.recv(4096)


class FullBacklog:
    """A listener that never accepts, its queue full: a new SYN gets no answer, so a
    connect() hangs as it does towards a firewall that drops packets."""

    def __init__(self, address: str, port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((address, port))
        self._sock.listen(0)
        self.port = self._sock.getsockname()[1]
        self._fillers = []
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((address, self.port))
            self._fillers.append(filler)

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._sock.close()


class SilentUdp:
    """A DNS server that receives and never answers (a firewalled resolver)."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.port = self.sock.getsockname()[1]
        self.address = address

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def close(self) -> None:
        self.sock.close()


class BadDns:
    """A UDP DNS server that answers every query with SERVFAIL, or with an empty
    truncated (TC) answer, whose TCP retry then finds nothing listening; or, in
    "truncate-big", truncates only names starting "big" and answers the others
    with 127.0.1.1 after 50 ms."""

    def __init__(self, mode: str, address: str = "127.0.0.1") -> None:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.address = address
        self._stop = threading.Event()

        def serve() -> None:
            while not self._stop.is_set():
                try:
                    data, peer = self.sock.recvfrom(4096)
                except (TimeoutError, OSError):
                    continue
                query = dns.message.from_wire(data)
                reply = dns.message.make_response(query)
                name = query.question[0].name.to_text()
                if mode == "servfail":
                    reply.set_rcode(dns.rcode.SERVFAIL)
                elif mode == "truncated" or name.startswith("big"):
                    reply.flags |= dns.flags.TC
                else:
                    if query.question[0].rdtype == dns.rdatatype.A:
                        reply.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "127.0.1.1"))
                    threading.Timer(0.05, self.sock.sendto, (reply.to_wire(), peer)).start()
                    continue
                self.sock.sendto(reply.to_wire(), peer)

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
