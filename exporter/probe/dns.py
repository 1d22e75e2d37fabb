"""DNS probe: resolve a host through the internal DNS servers that clients use.

Outlook resolves fully qualified names, so names are queried as absolute (no
search list). dnspython builds and parses the messages; the exchange itself is a
lean stub path, because dnspython's generic one (a new socket and selector and a
SystemRandom draw per query, A then AAAA in turn) was 44% of a refresh when
profiled (benchmarks/RESULTS.md): here each thread keeps a connected UDP socket
per nameserver, sends the A and AAAA queries together, matches answers by ID
and question, falls back to TCP on truncation, and tries nameservers in order.
One resolver serves a cycle and caches its answers for that cycle only; threads
that want a name already being looked up wait for that answer rather than ask
again (a server's nine URLs share one name, and sixteen threads start at once).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

QUERY_TYPES = (dns.rdatatype.A, dns.rdatatype.AAAA)


class DnsReason(StrEnum):
    OK = "ok"
    IP_LITERAL = "ip_literal"
    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class DnsAnswer:
    """Addresses for ``name``; empty unless reason is OK or IP_LITERAL.

    Attributes:
        detail: for ERROR and TIMEOUT, what went wrong.
    """

    name: str
    addresses: tuple[str, ...]
    reason: DnsReason
    detail: str | None = None

    @property
    def resolved(self) -> bool:
        return self.reason in (DnsReason.OK, DnsReason.IP_LITERAL)


class _ServerFailed(Exception):
    """This nameserver gave no usable answer; try the next one."""


def _system_nameservers() -> list[tuple[str, int]]:
    try:
        return [(str(ns), 53) for ns in dns.resolver.Resolver().nameservers]
    except dns.resolver.NoResolverConfiguration:
        return []


class DnsResolver:
    """Looks names up through fixed nameservers (or the system's), caching per instance."""

    def __init__(self, nameservers: tuple[tuple[str, int], ...], timeout: float) -> None:
        self.timeout = timeout
        self.nameservers = list(nameservers) or _system_nameservers()
        self._cache: dict[str, Future[DnsAnswer]] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sockets: list[socket.socket] = []

    def lookup(self, host: str) -> DnsAnswer:
        name = host.rstrip(".").lower()
        with self._lock:
            future = self._cache.get(name)
            first = future is None
            if future is None:
                future = self._cache[name] = Future()
        if first:
            try:
                future.set_result(self._lookup(name))
            except BaseException as exc:  # noqa: BLE001 - waiters must never hang; result() re-raises
                future.set_exception(exc)
        return future.result()

    def _lookup(self, name: str) -> DnsAnswer:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            return DnsAnswer(name, (name,), DnsReason.IP_LITERAL)
        if not self.nameservers:
            return DnsAnswer(
                name,
                (),
                DnsReason.ERROR,
                "no nameservers configured and none in the system resolver",
            )
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, (), DnsReason.ERROR, f"not a DNS name: {exc}")
        deadline = time.monotonic() + self.timeout
        failures: list[str] = []
        timed_out = False
        for server in self.nameservers:
            if time.monotonic() >= deadline:
                break
            try:
                return self._ask(server, qname, name, deadline)
            except TimeoutError:
                timed_out = True
                failures.append(f"{server[0]}:{server[1]} did not answer")
            except _ServerFailed as exc:
                failures.append(str(exc))
        if (
            timed_out
            and len(failures) == len(self.nameservers)
            and all("did not answer" in f for f in failures)
        ):
            return DnsAnswer(name, (), DnsReason.TIMEOUT, f"no answer within {self.timeout:g}s")
        detail = "; ".join(failures) or f"no answer within {self.timeout:g}s"
        return DnsAnswer(name, (), DnsReason.ERROR, f"all nameservers failed: {detail}")

    def _socket(self, server: tuple[str, int]) -> socket.socket:
        sockets: dict[tuple[str, int], socket.socket] = getattr(self._local, "sockets", {})
        self._local.sockets = sockets
        sock = sockets.get(server)
        if sock is None:
            family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.connect(server)
            sockets[server] = sock
            with self._lock:
                self._sockets.append(sock)
        return sock

    def close(self) -> None:
        """Close every thread's sockets (the end of a cycle)."""
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def _ask(
        self, server: tuple[str, int], qname: dns.name.Name, name: str, deadline: float
    ) -> DnsAnswer:
        queries = {}
        sock = self._socket(server)
        first = secrets.randbits(16)
        for offset, rdtype in enumerate(QUERY_TYPES):
            # Distinct IDs: equal ones would let one answer stand for both queries.
            query = dns.message.make_query(qname, rdtype, id=(first + offset) % 65536)
            queries[query.id] = query
            try:
                sock.send(query.to_wire())
            except OSError as exc:
                raise _ServerFailed(f"{server[0]}:{server[1]}: {exc.strerror or exc}") from None
        replies: dict[int, dns.message.Message] = {}
        while len(replies) < len(queries):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            try:
                wire = sock.recv(65535)
            except TimeoutError:
                raise TimeoutError from None
            except OSError as exc:  # ICMP port unreachable surfaces as ECONNREFUSED
                raise _ServerFailed(f"{server[0]}:{server[1]}: {exc.strerror or exc}") from None
            try:
                reply = dns.message.from_wire(wire, ignore_trailing=True)
            except dns.exception.DNSException:
                continue  # garbage, or a reply to an older query: keep waiting
            sent = queries.get(reply.id)
            if sent is None or not sent.is_response(reply):
                continue
            if reply.flags & dns.flags.TC:
                reply = self._tcp(server, sent, deadline)
            replies[reply.id] = reply
        return self._interpret(name, server, list(replies.values()))

    @staticmethod
    def _tcp(
        server: tuple[str, int], query: dns.message.Message, deadline: float
    ) -> dns.message.Message:
        try:
            return dns.query.tcp(
                query, server[0], port=server[1], timeout=max(0.01, deadline - time.monotonic())
            )
        except (dns.exception.Timeout, TimeoutError):
            raise TimeoutError from None
        except (dns.exception.DNSException, OSError) as exc:
            raise _ServerFailed(
                f"{server[0]}:{server[1]}: truncated answer, and over TCP: {exc}"
            ) from None

    @staticmethod
    def _interpret(
        name: str, server: tuple[str, int], replies: list[dns.message.Message]
    ) -> DnsAnswer:
        addresses: list[str] = []
        for reply in replies:
            rcode = reply.rcode()
            if rcode == dns.rcode.NXDOMAIN:
                return DnsAnswer(name, (), DnsReason.NXDOMAIN)
            if rcode != dns.rcode.NOERROR:
                raise _ServerFailed(f"{server[0]}:{server[1]} answered {dns.rcode.to_text(rcode)}")
            for rrset in reply.answer:
                if rrset.rdtype in QUERY_TYPES:
                    addresses.extend(str(r.address) for r in rrset)
        if not addresses:
            return DnsAnswer(name, (), DnsReason.NO_ADDRESS)
        return DnsAnswer(name, tuple(dict.fromkeys(addresses)), DnsReason.OK)
