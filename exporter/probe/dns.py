"""DNS probe: resolve a host through the internal DNS servers that clients use.

Outlook resolves fully qualified names, so names are queried as absolute (no
search list), A and AAAA, through the configured nameservers in order; either
family's address resolves the name, as it does for a client. One
resolver serves a cycle and caches its answers for that cycle only. The probe
stage hands it every name of the cycle at once (:meth:`DnsResolver.resolve_all`),
which ``dnsbatch`` asks from one thread; a thread that wants a name already being
looked up waits for that answer rather than ask again. dnspython validates names
and carries the TCP fallback; ``dnswire`` encodes and reads the hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future

import dns.exception
import dns.name
import dns.rcode

from exporter.model import is_ip_literal
from exporter.probe import dnswire
from exporter.probe.dnsbatch import Batch, DnsTransport, Lookup
from exporter.probe.results import DnsAnswer, DnsReason

ALL_FAILED = "all nameservers failed"
PARTIAL = "no address, and not every record type answered"


def _system_nameservers() -> list[tuple[str, int]]:
    import dns.resolver  # noqa: PLC0415 - only without dns.nameservers configured

    try:
        return [(str(ns), 53) for ns in dns.resolver.Resolver().nameservers]
    except dns.resolver.NoResolverConfiguration:
        return []


class DnsResolver:
    """Looks names up through fixed nameservers (or the system's), caching per instance.

    :meth:`resolve_all` asks for many names from one thread (``dnsbatch``): sixteen
    probe threads each asking in turn spent most of their DNS time handing the GIL
    to one another (0.31 ms of CPU a name at 16 threads, 0.04 ms from one thread).
    """

    window = 64  # names in flight at once: brisk, and gentle with the DNS server

    def __init__(
        self,
        nameservers: tuple[tuple[str, int], ...],
        timeout: float,
        known: Mapping[str, DnsAnswer] | None = None,
    ) -> None:
        """``known``: answers already found this cycle (a probe worker process gets
        its share's from the serving process, which asked once for all)."""
        self.timeout = timeout
        self.nameservers = list(nameservers) or _system_nameservers()
        self._cache: dict[str, Future[DnsAnswer]] = {}
        for name, answer in (known or {}).items():
            future = self._cache[_normal(name)] = Future()
            future.set_result(answer)
        self._lock = threading.Lock()

    def lookup(self, host: str) -> DnsAnswer:
        name = _normal(host)
        future = self._cache.get(name)  # the planner's case: asked already, or being asked
        if future is None:
            self.resolve_all((name,))
            future = self._cache[name]
        return future.result()

    def answers(self, hosts: Iterable[str]) -> dict[str, DnsAnswer]:
        """Every name's answer, asked all at once (:meth:`resolve_all`), by name."""
        wanted = list(hosts)
        self.resolve_all(wanted)
        return {_normal(host): self.lookup(host) for host in wanted}

    def resolve_all(self, hosts: Iterable[str]) -> dict[str, DnsAnswer]:
        """Look up every name not yet known and return the answers for ``hosts``.
        Names are asked in the order given, and each answer is published as soon as
        its lookup ends, so another thread can :meth:`lookup` the first names while
        later ones are still being asked. A name another thread is already looking
        up is left to it, and waited for. An unexpected error is kept for each
        unanswered name's :meth:`lookup` to raise."""
        wanted = list(dict.fromkeys(_normal(h) for h in hosts))
        mine: dict[str, Future[DnsAnswer]] = {}
        with self._lock:
            for name in wanted:
                if name not in self._cache:
                    mine[name] = self._cache[name] = Future()
        if mine:
            try:
                self._resolve(mine)
            except BaseException as exc:  # noqa: BLE001 - waiters must never hang
                for future in mine.values():  # each endpoint's probe meets it, as data
                    if not future.done():
                        future.set_exception(exc)
        futures = {name: self._cache[name] for name in wanted}
        return {n: f.result() for n, f in futures.items() if f.exception() is None}

    def unanswered(self) -> list[DnsAnswer]:
        """The lookups so far that no nameserver answered (a timeout, or every
        nameserver failing), as opposed to names that do not exist."""
        out = []
        for future in list(self._cache.values()):
            if not future.done() or future.exception() is not None:
                continue
            answer = future.result()
            if answer.reason is DnsReason.TIMEOUT or (
                answer.reason is DnsReason.ERROR and (answer.detail or "").startswith(ALL_FAILED)
            ):
                out.append(answer)
        return out

    def _resolve(self, futures: dict[str, Future[DnsAnswer]]) -> None:
        lookups: list[Lookup] = []
        for name, future in futures.items():
            early = self._without_asking(name)
            if isinstance(early, DnsAnswer):
                future.set_result(early)
            else:
                lookups.append(Lookup(name, early))
        if not lookups:
            return

        def ended(lookup: Lookup) -> None:
            futures[lookup.name].set_result(self._meaning(lookup))

        with DnsTransport(self.nameservers) as transport:
            Batch(transport, self.timeout, self.window, ended).run(lookups)
        for lookup in lookups:  # pragma: no cover - every lookup ends in Batch.run
            if not futures[lookup.name].done():
                ended(lookup)

    def _without_asking(self, name: str) -> DnsAnswer | bytes:
        """The answer when no question is needed, else the name's wire form."""
        wire = dnswire.plain_name_wire(name)
        if wire is not None and self.nameservers:
            return wire
        if is_ip_literal(name):
            return DnsAnswer(name, (name,), DnsReason.IP_LITERAL)
        if not self.nameservers:
            return DnsAnswer(
                name,
                (),
                DnsReason.ERROR,
                "no nameservers configured and none in the system resolver",
            )
        try:
            return dns.name.from_text(name).to_wire() or b""
        except dns.exception.DNSException as exc:
            return DnsAnswer(name, (), DnsReason.ERROR, f"not a DNS name: {exc}")

    def _meaning(self, lookup: Lookup) -> DnsAnswer:
        """One family's address is enough; "does not exist" needs every type's
        NXDOMAIN (a broken server says it for AAAA beside an A record); and a type
        left unanswered beside no address leaves the name unknown, never "missing"."""
        name = lookup.name
        if lookup.done:
            addresses = [a for reply in lookup.replies for a in reply.addresses]
            if addresses:
                return DnsAnswer(name, tuple(dict.fromkeys(addresses)), DnsReason.OK)
            if all(r.rcode == dns.rcode.NXDOMAIN for r in lookup.replies):
                return DnsAnswer(name, (), DnsReason.NXDOMAIN)
            return DnsAnswer(name, (), DnsReason.NO_ADDRESS)
        failures = lookup.failures
        if lookup.partial:
            return DnsAnswer(name, (), DnsReason.ERROR, f"{PARTIAL}: {'; '.join(failures)}")
        if (
            lookup.timed_out
            and len(failures) == len(self.nameservers)
            and all(f.endswith("did not answer") for f in failures)
        ):
            return DnsAnswer(name, (), DnsReason.TIMEOUT, f"no answer within {self.timeout:g}s")
        detail = "; ".join(failures) or f"no answer within {self.timeout:g}s"
        return DnsAnswer(name, (), DnsReason.ERROR, f"{ALL_FAILED}: {detail}")


def _normal(host: str) -> str:
    return host.rstrip(".").lower()
