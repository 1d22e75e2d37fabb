"""Preflight: judge a certificate against the whole organisation before it is bound
(``exchange-cert-exporter preflight CERT_FILE``).

KB 940726 happens at one moment: when an admin replaces Exchange's certificate.
Preflight asks before the change "if I bind this certificate, which URLs, servers
and clients break, and what is missing?": every endpoint of the inventory, found
as ``report`` finds it (static list or Active Directory, with the internal DNS),
is judged as it would be with the certificate bound on its server for its service,
by the pipeline's own functions (``evaluate_endpoint``, the chain judgement with
AIA and revocation unless ``--no-fetch``, the client families, ``consistent``):
no second implementation of any check. The presented chain is the file's leaf and
its chain, so ``chain_complete`` says what the file provides. The back end's
self-signed certificate and the Auth certificate are not what it is meant for:
listed, not judged. Without a config, ``--name`` judges the certificate for just
those names, on a component of each client family.

Pure but for the injected world (DNS, fetching) and the clock value ``at``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from exporter.certfacts import parse_chain
from exporter.config import Config
from exporter.config.clients import client_families
from exporter.config.schema import FetchConfig
from exporter.discovery.sources import Discoverer
from exporter.evaluate.outcome import Check, Status
from exporter.evaluate.verdict import EndpointVerdict, evaluate_endpoint
from exporter.model import Component, Endpoint, Server
from exporter.pipeline import World
from exporter.pki.fetch import Fetcher
from exporter.pki.judge import judge_chains
from exporter.probe.dns import DnsResolver
from exporter.probe.results import ProbeResult, SkipReason, TlsReason, TlsResult
from exporter.probe.runner import names_to_resolve, plan_endpoint
from exporter.remediation import plan_organisation
from exporter.remediation.names_plan import NamesPlan, plan_names
from exporter.truststore import TrustStore

# Without a config: each name on a component every client family uses.
NAME_COMPONENTS = (Component.EWS, Component.OWA)


@dataclass(frozen=True)
class Breakage:
    """An endpoint that would break: the failing checks and the refusing families."""

    server: str
    component: str
    url: str
    checks: tuple[str, ...]
    families: tuple[str, ...]


@dataclass(frozen=True)
class PreflightResult:
    """Attributes:
    verdicts: every judged endpoint as it would be with the certificate bound.
    not_judged: the endpoints the certificate is not meant for (back end, Auth).
    would_break: the endpoints a client would meet an error on.
    missing_names: the names clients are given that the certificate lacks.
    names_plan: the names plan over the judged endpoints.
    """

    verdicts: tuple[EndpointVerdict, ...]
    not_judged: tuple[Endpoint, ...]
    would_break: tuple[Breakage, ...]
    missing_names: tuple[str, ...]
    names_plan: NamesPlan
    status: Status


def preflight(
    config: Config,
    chain_der: tuple[bytes, ...],
    store: TrustStore,
    at: dt.datetime,
    *,
    fetch: bool = True,
    names: Sequence[str] = (),
    world: World | None = None,
) -> PreflightResult:
    """``chain_der``: the file's leaf first, then its chain (DER)."""
    world = world or World()
    if names:
        endpoints = _named_endpoints(names)
    else:
        endpoints = list(Discoverer(config).discover(at.timestamp()).endpoints)
    own = tuple(e for e in endpoints if e.component.is_servers_own)
    judged_endpoints = [e for e in endpoints if not e.component.is_servers_own]
    resolver = world.resolver_factory(config)
    if not names:
        resolver.resolve_all(names_to_resolve(judged_endpoints))
    probes = [_as_bound(e, chain_der, None if names else resolver) for e in judged_endpoints]
    # With --name there is no inventory: no DNS is asked, nothing is looked up.
    lookup = (lambda hosts: {}) if names else resolver.answers
    off = FetchConfig(enabled=False)
    aia, revocation = (config.aia, config.revocation) if fetch else (off, off)
    fetcher = Fetcher(resolver, config.ldap, world.fetch_cache) if fetch else None
    chains = judge_chains([parse_chain(chain_der)], store, at, fetcher, aia, revocation)
    families = client_families(config.clients, config.client_components)
    judged = [evaluate_endpoint(p, store, config.thresholds, at, chains, families) for p in probes]
    verdicts, _ = plan_organisation(judged, lookup, store, config.thresholds, at, chains, families)
    return _result(verdicts, own)


def _named_endpoints(names: Sequence[str]) -> list[Endpoint]:
    server = Server("PREFLIGHT", "preflight.invalid")
    return [
        Endpoint.build(server, component, f"https://{name}/{component.value}")
        for name in names
        for component in NAME_COMPONENTS
    ]


def _as_bound(
    endpoint: Endpoint, chain_der: tuple[bytes, ...], resolver: DnsResolver | None
) -> ProbeResult:
    """The endpoint as the probe would find it with the certificate bound: its DNS
    as the refresh asks it, the handshake presenting the file's chain."""
    if resolver is not None:
        base, handshake = plan_endpoint(endpoint, resolver)
        if handshake is None:
            # report makes no handshake either (no URL, plain http, no address): its
            # verdict, and preflight's, is the reason, not the certificate.
            return base
    elif endpoint.target is None:  # --name hosts are validated before they get here
        return ProbeResult(endpoint, None, (), None, None, None, SkipReason.BAD_URL)
    else:
        base = ProbeResult(endpoint, None, (), None, None, None)
    target = endpoint.target
    if target is None:
        return base
    sni = None if target.is_ip else target.host
    tls = TlsResult(base.address or "", target.port, sni, TlsReason.OK, chain_der)
    return dataclasses.replace(base, tls=tls, skipped=None)


def _result(verdicts: Sequence[EndpointVerdict], own: tuple[Endpoint, ...]) -> PreflightResult:
    breaks = []
    for verdict in verdicts:
        failing = tuple(
            c.value
            for c in (Check.NAME_MATCH, Check.ISSUER_TRUSTED, Check.DATE_VALID, Check.NOT_REVOKED)
            if verdict.checks[c].ok is False
        )
        refusing = tuple(f for f, v in verdict.clients.items() if v.accepts is False)
        if failing or refusing:
            endpoint = verdict.probe.endpoint
            breaks.append(
                Breakage(
                    endpoint.server.name, endpoint.component.value, endpoint.url, failing, refusing
                )
            )
    plan = plan_names(verdicts)
    # A use with no handshake (plain http, no address) says nothing of the name.
    missing = tuple(n.name for n in plan.names if any(u.covered is False for u in n.uses))
    status = max((v.status for v in verdicts), key=lambda s: s.rank, default=Status.UNKNOWN)
    return PreflightResult(tuple(verdicts), own, tuple(breaks), missing, plan, status)
