"""Many DNS lookups in flight from one thread: the transport under ``DnsResolver``.

Each name gets an A and an AAAA query (distinct random IDs) over one connected UDP
socket per nameserver, at most ``window`` names at a time; a truncated reply is
asked again over TCP. One type's address is enough, whatever the other met (an
error, NXDOMAIN, silence), as a client takes the family that answers; a nameserver
that leaves the name without an address and a type unanswered (SERVFAIL, REFUSED,
ICMP unreachable, silence for its share of the timeout) hands the name to the next
one, within the name's one timeout.
What the answers mean (NXDOMAIN, no address) is ``exporter.probe.dns``'s business.
"""

from __future__ import annotations

import secrets
import select
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.rcode
import dns.rdatatype

from exporter.probe import dnswire

QUERY_TYPES = (dnswire.A, dnswire.AAAA)
_FINAL = (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


@dataclass
class Lookup:
    """One name: its queries at the current nameserver, and how it ended.

    Attributes:
        replies: the current server's final replies (NOERROR or NXDOMAIN); when
            ``done``, every type's, or one with an address.
        unanswered: the current server's types that met an error, and what.
        failures: one line per nameserver that gave no usable answer.
        partial: a nameserver answered one type, without an address, but not the other.
        timed_out: the name's timeout ran out waiting on the last of them.
    """

    name: str
    wire: bytes
    deadline: float = 0.0
    server_deadline: float = 0.0  # when the current nameserver has had its share
    server: int = 0
    queries: dict[int, int] = field(default_factory=dict)  # query ID -> type
    replies: list[dnswire.Reply] = field(default_factory=list)
    unanswered: dict[int, str] = field(default_factory=dict)  # type -> why not
    failures: list[str] = field(default_factory=list)
    partial: bool = False
    done: bool = False
    timed_out: bool = False


class Batch:
    """Runs lookups to their end over one :class:`Exchange`."""

    def __init__(
        self,
        transport: DnsTransport,
        timeout: float,
        window: int,
        ended: Callable[[Lookup], None] | None = None,
    ) -> None:
        """``ended`` is called once for each lookup, as soon as it has ended."""
        self.transport = transport
        self.timeout = timeout
        self.window = window
        self._ended = ended
        self._flying: dict[tuple[int, int], Lookup] = {}  # (nameserver, query ID)
        self._live: dict[int, Lookup] = {}  # id() -> lookup, until it ends
        # A nameserver whose TCP failed once is not asked over TCP again this batch:
        # a firewall that drops TCP 53 would otherwise cost each name its timeout.
        self._tcp_failed: dict[int, str] = {}
        self._waited_on_tcp = False

    def run(self, lookups: list[Lookup]) -> None:
        waiting = deque(lookups)
        while waiting or self._live:
            while waiting and len(self._live) < self.window:
                lookup = waiting.popleft()
                lookup.deadline = time.monotonic() + self.timeout
                self._live[id(lookup)] = lookup
                self._ask(lookup)
            if not self._live:
                continue
            soonest = min(x.server_deadline for x in self._live.values())
            self._handle(self.transport.wait(max(0.0, soonest - time.monotonic())))
            while self._waited_on_tcp:  # what arrived meanwhile is read before expiring
                self._waited_on_tcp = False
                self._handle(self.transport.wait(0.0))
            self._expire()

    def _handle(self, events: list[tuple[int, dnswire.Reply | OSError]]) -> None:
        for server, event in events:
            if isinstance(event, OSError):
                self._server_down(server, event)
            else:
                self._reply(server, event)

    def _ask(self, lookup: Lookup) -> None:
        """Send both queries to the lookup's nameserver, or move on to the next.

        Each nameserver left gets an equal share of the time left, so a silent
        first one (a domain controller that is down) leaves time for the next, as
        Windows' resolver moves on after a second rather than giving up.
        """
        while id(lookup) in self._live:
            now, left = time.monotonic(), len(self.transport.nameservers) - lookup.server
            lookup.server_deadline = now + max(0.0, lookup.deadline - now) / left
            lookup.queries, lookup.replies, lookup.unanswered = {}, [], {}
            for rdtype in QUERY_TYPES:
                # Distinct IDs: equal ones would let one answer stand for both queries.
                ident = secrets.randbits(16)
                while (lookup.server, ident) in self._flying:
                    ident = (ident + 1) % 65536
                lookup.queries[ident] = rdtype
                self._flying[(lookup.server, ident)] = lookup
            try:
                for ident, rdtype in lookup.queries.items():
                    self.transport.send(lookup.server, dnswire.query(lookup.wire, rdtype, ident))
            except OSError as exc:
                self._fail(lookup, f"{self.transport.label(lookup.server)}: {exc.strerror or exc}")
            else:
                return

    def _reply(self, server: int, reply: dnswire.Reply) -> None:
        lookup = self._flying.get((server, reply.ident))
        if lookup is None:
            return  # a reply to an older query
        rdtype = lookup.queries[reply.ident]
        if rdtype not in _pending(lookup) or not reply.answers(lookup.wire, rdtype):
            return  # a repeat, or not our question
        label, failure = self.transport.label(server), None
        if reply.truncated:
            over_tcp = self._tcp_failed.get(server)
            if over_tcp is None:
                # Rare (an answer over 512 bytes), so asked inline: the other names
                # wait for it, within this name's deadline.
                self._waited_on_tcp = True
                try:
                    reply = _tcp(self.transport.nameservers[server], lookup, rdtype, reply.ident)
                except TimeoutError:
                    self._tcp_failed[server] = f"no answer within {self.timeout:g}s"
                    return  # this name's deadline ends it
                except _ServerFailed as exc:
                    over_tcp = self._tcp_failed[server] = str(exc)
            if over_tcp is not None:
                failure = f"{label}: truncated answer, and over TCP: {over_tcp}"
        if failure is None and reply.rcode not in _FINAL:
            failure = f"{label} answered {dns.rcode.to_text(dns.rcode.Rcode(reply.rcode))}"
        if failure is None:
            lookup.replies.append(reply)
        else:
            lookup.unanswered[rdtype] = failure
        self._settle(lookup)

    def _settle(self, lookup: Lookup, expired: bool = False) -> None:
        """Once each type has its reply or error here, or this nameserver's time is up:
        done when each type answered, or one with an address; else the next one."""
        pending = _pending(lookup)
        if pending and not expired:
            return
        if any(r.addresses for r in lookup.replies) or not (pending or lookup.unanswered):
            lookup.done = True
            self._end(lookup)
            return
        lookup.partial = lookup.partial or bool(lookup.replies)
        silent = f"{self.transport.label(lookup.server)} did not answer"
        why = {**dict.fromkeys(pending, silent), **lookup.unanswered}
        if len(set(why.values())) == 1 and not lookup.replies:
            self._retry(lookup, next(iter(why.values())))  # the same for both: once
        else:
            kind = dns.rdatatype.RdataType
            self._retry(lookup, ", ".join(f"{why[t]} for {kind(t).name}" for t in sorted(why)))

    def _server_down(self, server: int, error: OSError) -> None:
        """ICMP port unreachable (ECONNREFUSED): every type still waiting there has
        its error, and a name without an address moves on."""
        failure = f"{self.transport.label(server)}: {error.strerror or error}"
        hit = {id(x): x for (s, _), x in self._flying.items() if s == server}
        for lookup in hit.values():
            lookup.unanswered.update(dict.fromkeys(_pending(lookup), failure))
            self._settle(lookup)

    def _expire(self) -> None:
        now = time.monotonic()
        for lookup in [x for x in self._live.values() if x.server_deadline <= now]:
            lookup.timed_out = True  # told apart from a failure by its "did not answer"
            self._settle(lookup, expired=True)

    def _retry(self, lookup: Lookup, failure: str) -> None:
        self._fail(lookup, failure)
        self._ask(lookup)

    def _fail(self, lookup: Lookup, failure: str) -> None:
        """This nameserver gave no usable answer: the next one, if time allows."""
        self._forget(lookup)
        lookup.failures.append(failure)
        lookup.server += 1
        if lookup.server >= len(self.transport.nameservers) or time.monotonic() >= lookup.deadline:
            self._end(lookup)

    def _end(self, lookup: Lookup) -> None:
        self._forget(lookup)
        if self._live.pop(id(lookup), None) is not None and self._ended is not None:
            self._ended(lookup)

    def _forget(self, lookup: Lookup) -> None:
        for ident in lookup.queries:
            self._flying.pop((lookup.server, ident), None)


def _pending(lookup: Lookup) -> set[int]:
    """The types asked of the current nameserver with neither a reply nor an error."""
    answered = {lookup.queries.get(r.ident) for r in lookup.replies}
    return set(lookup.queries.values()) - answered - set(lookup.unanswered)


class DnsTransport:
    """One connected, non-blocking UDP socket per nameserver, opened on first use."""

    def __init__(self, nameservers: list[tuple[str, int]]) -> None:
        self.nameservers = nameservers
        self._sockets: dict[int, socket.socket] = {}
        self._servers_by_fd: dict[int, int] = {}
        self._poll = select.poll()

    def __enter__(self) -> DnsTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._sockets.values():
            sock.close()

    def label(self, server: int) -> str:
        address, port = self.nameservers[server]
        return f"{address}:{port}"

    def send(self, server: int, wire: bytes) -> None:
        sock = self._sockets.get(server)
        if sock is None:
            address = self.nameservers[server]
            family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            sock = self._sockets[server] = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(address)
            self._poll.register(sock, select.POLLIN)
            self._servers_by_fd[sock.fileno()] = server
        sock.send(wire)

    def wait(self, timeout: float) -> list[tuple[int, dnswire.Reply | OSError]]:
        """Every reply (or socket error) that arrives within ``timeout`` seconds."""
        events: list[tuple[int, dnswire.Reply | OSError]] = []
        for fd, _ in self._poll.poll(timeout * 1000):
            server = self._servers_by_fd[fd]
            sock = self._sockets[server]
            while True:
                try:
                    wire = sock.recv(65535)
                except BlockingIOError:
                    break
                except OSError as exc:
                    events.append((server, exc))
                    break
                reply = dnswire.parse(wire)
                if reply is not None:  # garbage is ignored, as if never received
                    events.append((server, reply))
        return events


class _ServerFailed(Exception):
    """This nameserver gave no usable answer."""


def _tcp(server: tuple[str, int], lookup: Lookup, rdtype: int, ident: int) -> dnswire.Reply:
    # Loaded on the first truncated answer only: about 1.5 MB a process never needs.
    import dns.message  # noqa: PLC0415
    import dns.query  # noqa: PLC0415

    qname = dns.name.from_wire(lookup.wire, 0)[0]
    query = dns.message.make_query(qname, dns.rdatatype.RdataType(rdtype), id=ident)
    try:
        response = dns.query.tcp(
            query, server[0], port=server[1], timeout=max(0.01, lookup.deadline - time.monotonic())
        )
    except (dns.exception.Timeout, TimeoutError):
        raise TimeoutError from None
    except (dns.exception.DNSException, OSError) as exc:
        raise _ServerFailed(str(exc)) from None
    reply = dnswire.parse(response.to_wire())
    if reply is None:
        raise _ServerFailed("an unreadable answer")
    return reply
