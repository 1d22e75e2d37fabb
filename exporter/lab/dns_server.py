"""A small authoritative DNS responder for the demo lab (UDP, loopback only).

It answers A/AAAA queries from a fixed table and NXDOMAIN for anything else, which
is all the demo needs; the test suite uses Debian's dnsmasq instead, a real server.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class LabDnsServer:
    def __init__(self, records: dict[str, list[str]], address: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(address).is_loopback:
            raise ValueError(f"the lab DNS server binds loopback only, not {address}")
        self.records = {name.lower().rstrip("."): addrs for name, addrs in records.items()}
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, 0))
        self._sock.settimeout(0.2)
        self.address = address
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="lab-dns", daemon=True)
        self._thread.start()

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        addresses = self.records.get(name)
        if addresses is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        want = "AAAA" if question.rdtype == dns.rdatatype.AAAA else "A"
        matching = [a for a in addresses if (":" in a) == (want == "AAAA")]
        if question.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA) and matching:
            response.answer.append(
                dns.rrset.from_text_list(question.name, 60, "IN", want, matching)
            )
        return response

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
                if not query.question:
                    continue
                self._sock.sendto(self._answer(query).to_wire(), peer)
            except (dns.exception.DNSException, OSError):
                continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
