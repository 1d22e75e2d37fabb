"""One refresh cycle: discover -> probe -> evaluate -> remediate, into a Snapshot.

Everything that touches the world comes in through :class:`World`, so tests point
it at their own loopback DNS and TLS servers and a fixed clock. The Snapshot is
immutable: the exporter swaps a reference to it, renderers only read it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.certfacts import parse_chain
from exporter.config import Config
from exporter.config.clients import client_families
from exporter.discovery.sources import Discoverer
from exporter.evaluate.outcome import Status, worst
from exporter.evaluate.verdict import evaluate_endpoint
from exporter.model import Endpoint
from exporter.pki.fetch import FetchCache, Fetcher
from exporter.pki.judge import judge_chains
from exporter.probe.dns import DnsResolver
from exporter.probe.results import ProbeSettings
from exporter.probe.runner import probe_all
from exporter.probe.tls import TlsClient
from exporter.remediation import plan_organisation, remediation_for
from exporter.remediation.names_plan import plan_names
from exporter.snapshot import DnsHealth, EndpointReport, Snapshot


@dataclass
class World:
    """The seams to the outside world, injectable for tests."""

    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    tls: TlsClient = field(default_factory=TlsClient)
    resolver_factory: Callable[[Config], DnsResolver] = field(
        default=lambda config: DnsResolver(config.dns.nameservers, config.dns.timeout)
    )
    # AIA certificates, CRLs and OCSP answers, kept across refreshes.
    fetch_cache: FetchCache = field(default_factory=FetchCache)


def run_cycle(
    config: Config,
    world: World | None = None,
    discoverer: Discoverer | None = None,
    select: Callable[[Endpoint], bool] | None = None,
) -> Snapshot:
    """One refresh. Pass the same ``discoverer`` every cycle to keep the last good
    directory inventory across directory failures; ``select`` keeps only some endpoints."""
    world = world or World()
    started_at = world.now()
    start = time.monotonic()
    inventory = (discoverer or Discoverer(config)).discover(started_at.timestamp())
    resolver = world.resolver_factory(config)
    settings = ProbeSettings(config.probe.timeout, config.probe.concurrency)
    endpoints = [e for e in inventory.endpoints if select is None or select(e)]
    probes = probe_all(endpoints, resolver, settings, world.tls)
    now = world.now()
    chains = judge_chains(
        (parse_chain(p.tls.chain) for p in probes if p.tls is not None),
        config.trust.store,
        now,
        Fetcher(resolver, config.ldap, world.fetch_cache),
        config.aia,
        config.revocation,
    )
    families = client_families(config.clients, config.client_components)
    judged = [
        evaluate_endpoint(p, config.trust.store, config.thresholds, now, chains, families)
        for p in probes
    ]
    # The names a fix may move a URL to are asked at once, like the probes', so the
    # plan's what-if knows what each resolves to.
    verdicts, plan = plan_organisation(
        judged, resolver.answers, config.trust.store, config.thresholds, now, chains, families
    )
    reports = tuple(EndpointReport(v, remediation_for(plan, v)) for v in verdicts)
    status = worst([r.status for r in reports]) if reports else Status.UNKNOWN
    duration = time.monotonic() - start
    dns = dns_health(resolver)
    names = plan_names(verdicts)
    return Snapshot(reports, inventory.statuses, started_at, duration, status, dns, names, plan)


def dns_health(resolver: DnsResolver) -> DnsHealth:
    servers = tuple(f"{host}:{port}" for host, port in resolver.nameservers)
    unanswered = resolver.unanswered()
    if not unanswered:
        return DnsHealth(servers)
    example = unanswered[0]
    message = (
        f"the internal DNS servers ({', '.join(servers) or 'none'}) did not answer "
        f"{len(unanswered)} lookup{'s' if len(unanswered) != 1 else ''} "
        f"(e.g. {example.name}: {example.detail}); DNS checks are not judged and no "
        "record is suggested until they answer"
    )
    return DnsHealth(servers, len(unanswered), message)
