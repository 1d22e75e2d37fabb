"""A DNS front on loopback that answers one query type itself and passes the rest to
a real DNS server (dnsmasq): the half-broken resolvers clients meet, which say
NXDOMAIN (or REFUSED, SERVFAIL) for AAAA while the name's A record exists.

dnsmasq cannot be made to say this itself: it turns an NXDOMAIN for one type into
NODATA when it holds another type for the name (it is right to). It does refuse AAAA
beside an ``--address=/name/IPv4`` when it has no upstream, which
tests/test_dns_one_family.py uses directly.
"""

from __future__ import annotations

import socket
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype


class SplitDns:
    """Answers ``rdtype`` queries with ``rcode`` (None: never answers them, as a
    firewall that drops AAAA) and relays the others to ``upstream`` (``(address,
    port)``), one query at a time."""

    def __init__(
        self,
        upstream: tuple[str, int],
        rdtype: str = "AAAA",
        rcode: str | None = "NXDOMAIN",
        address: str = "127.0.0.1",
    ) -> None:
        self.upstream = upstream
        self.rdtype = dns.rdatatype.from_text(rdtype)
        self.rcode = None if rcode is None else dns.rcode.from_text(rcode)
        self.address = address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((address, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def nameserver(self) -> str:
        return f"{self.address}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            if query.question and query.question[0].rdtype == self.rdtype:
                if self.rcode is None:
                    continue
                reply = dns.message.make_response(query)
                reply.set_rcode(self.rcode)
                self.sock.sendto(reply.to_wire(), peer)
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as relay:
                relay.settimeout(2)
                relay.sendto(data, self.upstream)
                try:
                    answer = relay.recv(65535)
                except (TimeoutError, OSError):
                    continue
            self.sock.sendto(answer, peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
