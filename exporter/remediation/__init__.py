"""Remediation: the pipeline stage after evaluate. From a verdict (and the DNS answer
for the suggested host) build the exact steps that fix *this* endpoint.

Pure: the only I/O it depends on (resolving the suggested host) is done by the
pipeline and passed in. Every command comes from kb940726.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, Endpoint, ExchangeVersion
from exporter.probe.results import DnsAnswer, DnsReason
from exporter.remediation.chain import chain_steps, hygiene_steps
from exporter.remediation.kb940726 import (
    AUTODISCOVER_APP_POOL,
    ps_quote,
    recycle_autodiscover_command,
    set_url_command,
    setter_for,
)
from exporter.remediation.steps import Step, StepKind
from exporter.remediation.suggest import suggest_host, suggested_url
from exporter.remediation.surfaces import auth_steps, backend_steps, mail_steps, services_for

__all__ = ["Remediation", "Step", "StepKind", "build_remediation", "suggest_for"]


@dataclass(frozen=True)
class Remediation:
    """Attributes:
    suggested_url: the URL to set, None when the name already matches or no
        certificate name can be proposed.
    steps: in the order to carry them out; empty when nothing is wrong.
    """

    suggested_url: str | None
    suggested_host: str | None
    steps: tuple[Step, ...]

    @property
    def texts(self) -> list[str]:
        return [step.text for step in self.steps]


def suggest_for(verdict: EndpointVerdict) -> str | None:
    """The host to move the URL to, when the name check failed (virtual directories
    only: a mail client keeps the name it was given, so the certificate must change)."""
    leaf = verdict.leaf
    if leaf is None or verdict.checks[Check.NAME_MATCH].ok is not False:
        return None
    if not verdict.probe.endpoint.component.is_virtual_directory:
        return None
    return suggest_host(verdict.probe.endpoint, leaf)


def build_remediation(verdict: EndpointVerdict, suggested_dns: DnsAnswer | None) -> Remediation:
    endpoint = verdict.probe.endpoint
    if endpoint.component is Component.BACKEND:
        return Remediation(None, None, tuple(backend_steps(verdict)))
    if endpoint.component is Component.AUTH_CERTIFICATE:
        return Remediation(None, None, tuple(auth_steps(verdict)))
    if not endpoint.component.is_virtual_directory:
        return Remediation(None, None, tuple(_mail_remediation(verdict)))
    steps: list[Step] = []
    host = suggest_for(verdict)
    url = suggested_url(endpoint, host) if host else None
    if verdict.checks[Check.NAME_MATCH].ok is False:
        steps.extend(_name_steps(verdict, host, url, suggested_dns))
    dns = verdict.checks[Check.DNS_MATCH]
    if dns.ok is False and endpoint.target is not None:
        steps.extend(
            _dns_steps(
                endpoint,
                endpoint.target.host,
                verdict.probe.server_addresses,
                dns.reason,
                dns.message,
            )
        )
    leaf = verdict.leaf
    steps.extend(chain_steps(verdict))
    if leaf is not None and verdict.out_of_date:
        steps.append(_renew_step(endpoint, leaf, verdict.expiry.reason))
    steps.extend(hygiene_steps(verdict))
    return Remediation(url, host, tuple(steps))


def _mail_remediation(verdict: EndpointVerdict) -> list[Step]:
    """SMTP, IMAP, POP: the certificate follows the name clients are given."""
    endpoint = verdict.probe.endpoint
    steps = mail_steps(verdict)
    dns = verdict.checks[Check.DNS_MATCH]
    if dns.ok is False and endpoint.target is not None:
        server_addresses = verdict.probe.server_addresses
        host = endpoint.target.host
        steps.extend(_dns_steps(endpoint, host, server_addresses, dns.reason, dns.message))
    if verdict.checks[Check.NAME_MATCH].ok is not False:
        steps.extend(chain_steps(verdict))
    steps.extend(hygiene_steps(verdict))
    return steps


def _name_steps(
    verdict: EndpointVerdict, host: str | None, url: str | None, suggested_dns: DnsAnswer | None
) -> list[Step]:
    endpoint = verdict.probe.endpoint
    server = endpoint.server
    if host is None or url is None:
        return [
            Step(
                StepKind.ADVICE,
                f"Issue a certificate for {server.name} that names "
                f"{endpoint.target.host if endpoint.target else endpoint.url}, or move the "
                f"URL to a name the certificate carries with "
                f"{setter_for(endpoint.component, server.version).cmdlet} (KB 940726).",
                "no usable name on the certificate to suggest",
            )
        ]
    if endpoint.component is Component.UM and server.version not in (None, ExchangeVersion.E2007):
        return [
            Step(
                StepKind.ADVICE,
                "Set-UMVirtualDirectory exists only on Exchange 2007; on this version "
                "unified messaging uses the EWS URL: fix EWS instead.",
                "UM web service",
            )
        ]
    value = host if endpoint.component is Component.OUTLOOK_ANYWHERE else url
    steps = [
        Step(
            StepKind.COMMAND,
            set_url_command(
                server.name, endpoint.component, server.version, value, endpoint.identity
            ),
            f"{server.name} {endpoint.component.value}: point the internal URL at a name "
            f"the certificate carries ({host})",
        )
    ]
    if endpoint.component is Component.AUTODISCOVER:
        steps.append(
            Step(
                StepKind.IIS,
                recycle_autodiscover_command(server.fqdn),
                f"recycle {AUTODISCOVER_APP_POOL} on {server.name} so the new "
                "Autodiscover URL is served",
            )
        )
    server_addresses = verdict.probe.server_addresses
    if suggested_dns is not None and suggested_dns.reason in (DnsReason.TIMEOUT, DnsReason.ERROR):
        # Unanswered is not "missing": no record is added for a name that may exist.
        steps.append(
            Step(
                StepKind.ADVICE,
                f"Make sure {host} resolves, for internal clients, to {server.name} before "
                f"moving the URL: the exporter could not look it up ({suggested_dns.detail}).",
                f"internal DNS for {host}: not answered",
            )
        )
    elif suggested_dns is not None and not set(suggested_dns.addresses) & set(server_addresses):
        if suggested_dns.addresses:
            # The name exists internally but points elsewhere: adding a second A record
            # would make round-robin, so the existing record must be changed instead.
            message = (
                f"{host} resolves to {', '.join(suggested_dns.addresses)} for internal "
                f"clients, not to {server.name}"
            )
            steps.extend(
                _dns_steps(endpoint, host, server_addresses, Reason.POINTS_ELSEWHERE, message)
            )
        else:
            steps.extend(_dns_steps(endpoint, host, server_addresses, None, None))
    return steps


def _dns_steps(
    endpoint: Endpoint,
    host: str,
    server_addresses: tuple[str, ...],
    reason: Reason | None,
    message: str | None,
) -> list[Step]:
    server = endpoint.server
    if not server_addresses:
        return [
            Step(
                StepKind.ADVICE,
                f"Make {host} resolve, for internal clients, to {server.name}'s address.",
                message or f"internal DNS for {host}",
            )
        ]
    if reason is Reason.POINTS_ELSEWHERE:
        return [
            Step(
                StepKind.ADVICE,
                f"Point the internal record for {host} at {server.name} "
                f"({', '.join(server_addresses)}); if it rightly points at a load balancer, "
                f"add that address to {server.name}'s addresses in the exporter config.",
                message or "",
            )
        ]
    zone = host.split(".", 1)[1] if "." in host else host
    label = host.split(".", 1)[0]
    address = server_addresses[0]
    record = "AAAA" if ":" in address else "A"
    family = "IPv6Address" if record == "AAAA" else "IPv4Address"
    return [
        Step(
            StepKind.DNS,
            f"Add-DnsServerResourceRecord{record} -ZoneName {ps_quote(zone)} "
            f"-Name {ps_quote(label)} -{family} {address}",
            f"internal DNS: {host} must resolve to {server.name} ({address}); "
            "run on a DNS server of the domain and adjust -ZoneName if the zone differs",
            guard=f"Resolve-DnsName -Name {ps_quote(host)} -Type {record} -DnsOnly "
            "-ErrorAction SilentlyContinue",
        )
    ]


def _renew_step(endpoint: Endpoint, leaf: CertificateFacts, reason: Reason | None) -> Step:
    server = endpoint.server.name
    if reason is Reason.CHAIN_EXPIRES_SOON:
        return Step(
            StepKind.ADVICE,
            f"An intermediate or root certificate in the chain {server} sends expires "
            f"soon: install its renewed CA certificate on {server} "
            f"(Cert:\\LocalMachine\\CA) or re-issue certificate {leaf.thumbprint} "
            f"from a current CA",
            f"{server}: chain certificate expiring",
        )
    return Step(
        StepKind.ADVICE,
        f"Renew certificate {leaf.thumbprint} on {server} "
        f"(Get-ExchangeCertificate -Server {server} -Thumbprint {leaf.thumbprint} | "
        f"New-ExchangeCertificate -GenerateRequest for a CA certificate), then "
        f"Enable-ExchangeCertificate -Server {server} -Thumbprint <new thumbprint> "
        f"-Services {services_for(endpoint.component)}",
        f"{server}: certificate valid until {leaf.not_after:%Y-%m-%d}",
    )
