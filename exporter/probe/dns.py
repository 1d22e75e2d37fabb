"""DNS probe: resolve a host through the internal DNS servers that clients use.

Outlook resolves fully qualified names, so names are queried as absolute (no
search list). A and AAAA answers are merged. One resolver is shared by a cycle and
caches answers for that cycle only, since many URLs share one host name.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver


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
        detail: for ERROR and TIMEOUT, what the resolver said.
    """

    name: str
    addresses: tuple[str, ...]
    reason: DnsReason
    detail: str | None = None

    @property
    def resolved(self) -> bool:
        return self.reason in (DnsReason.OK, DnsReason.IP_LITERAL)


class DnsResolver:
    """Looks names up through fixed nameservers (or the system's), caching per instance."""

    def __init__(self, nameservers: tuple[tuple[str, int], ...], timeout: float) -> None:
        self.timeout = timeout
        self._cache: dict[str, DnsAnswer] = {}
        self._lock = threading.Lock()
        self._setup_error: str | None = None
        if nameservers:
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(address, port) for address, port in nameservers
            ]
        else:
            try:
                self._resolver = dns.resolver.Resolver()
            except dns.resolver.NoResolverConfiguration:
                self._resolver = dns.resolver.Resolver(configure=False)
                self._setup_error = "no nameservers configured and none in the system resolver"
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout

    def lookup(self, host: str) -> DnsAnswer:
        name = host.rstrip(".").lower()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            return cached
        answer = self._lookup(name)
        with self._lock:
            self._cache[name] = answer
        return answer

    def _lookup(self, name: str) -> DnsAnswer:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            return DnsAnswer(name, (name,), DnsReason.IP_LITERAL)
        if self._setup_error:
            return DnsAnswer(name, (), DnsReason.ERROR, self._setup_error)
        addresses: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = self._resolver.resolve(
                    dns.name.from_text(name), rdtype, search=False, raise_on_no_answer=False
                )
            except dns.resolver.NXDOMAIN:
                return DnsAnswer(name, (), DnsReason.NXDOMAIN)
            except dns.exception.Timeout:
                return DnsAnswer(name, (), DnsReason.TIMEOUT, f"no answer within {self.timeout:g}s")
            except dns.resolver.NoNameservers as exc:
                return DnsAnswer(name, (), DnsReason.ERROR, _no_nameservers_detail(exc))
            except (dns.exception.DNSException, OSError) as exc:
                return DnsAnswer(name, (), DnsReason.ERROR, str(exc) or type(exc).__name__)
            addresses.extend(str(r.address) for r in answer)
        if not addresses:
            return DnsAnswer(name, (), DnsReason.NO_ADDRESS)
        return DnsAnswer(name, tuple(addresses), DnsReason.OK)


def _no_nameservers_detail(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    for _server, _tcp, _port, error in (e[:4] for e in errors):
        text = str(error)
        if text:
            return f"all nameservers failed: {text}"
    return "all nameservers failed (SERVFAIL or REFUSED)"
