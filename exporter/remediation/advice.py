"""What needs a person, per endpoint: advice the plan prints where no proven fix
answers the same findings (remediation/plan.py drops the rest). Each step names
the findings it is about (``Step.addresses``)."""

from __future__ import annotations

from collections.abc import Mapping

from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, ExchangeVersion
from exporter.remediation.chain import chain_steps, hygiene_steps, renew_step
from exporter.remediation.clientfix import client_steps
from exporter.remediation.kb940726 import setter_for
from exporter.remediation.steps import Step, advise, finding
from exporter.remediation.surfaces import backend_steps, mail_steps

# Each name's servers and their addresses: a DNS record is the name's, not a server's.
Namesakes = Mapping[str, list[tuple[str, tuple[str, ...]]]]


def namesakes(verdicts: list[EndpointVerdict]) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for verdict in verdicts:
        endpoint = verdict.probe.endpoint
        if endpoint.target is None:
            continue
        entry = (endpoint.server.name, verdict.probe.server_addresses)
        found = out.setdefault(endpoint.target.host, [])
        if entry not in found:
            found.append(entry)
    return out


def advice_for(verdict: EndpointVerdict, names: Namesakes) -> list[Step]:
    component = verdict.probe.endpoint.component
    if component is Component.BACKEND:
        return backend_steps(verdict)
    if component is Component.AUTH_CERTIFICATE:
        return []  # the plan's rotation
    steps: list[Step] = []
    if component.is_virtual_directory:
        steps.extend(_name_advice(verdict))
    else:
        steps.extend(mail_steps(verdict))
    steps.extend(_dns_advice(verdict, names))
    steps.extend(_no_target_advice(verdict))
    if component.is_virtual_directory or verdict.checks[Check.NAME_MATCH].ok is not False:
        steps.extend(chain_steps(verdict))
    if component.is_virtual_directory and (renew := renew_step(verdict)) is not None:
        steps.append(renew)
    steps.extend(client_steps(verdict))
    steps.extend(hygiene_steps(verdict))
    return steps


def _name_advice(verdict: EndpointVerdict) -> list[Step]:
    if verdict.checks[Check.NAME_MATCH].ok is not False:
        return []
    endpoint = verdict.probe.endpoint
    server = endpoint.server
    answers = (finding(verdict, "name_match"),)
    if endpoint.component is Component.UM and server.version not in (None, ExchangeVersion.E2007):
        return [
            advise(
                "Set-UMVirtualDirectory exists only on Exchange 2007; on this version "
                "unified messaging uses the EWS URL: fix EWS instead.",
                comment="UM web service",
                addresses=answers,
                server=server.name,
            )
        ]
    host = endpoint.target.host if endpoint.target else endpoint.url
    return [
        advise(
            "Issue a certificate for {} that names {}, or move the URL to a name the "
            "certificate carries with {} (KB 940726).",
            server.name,
            host,
            setter_for(endpoint.component, server.version).cmdlet,
            comment=f"{server.name} {endpoint.component.value}: the certificate lacks {host}",
            addresses=answers,
            server=server.name,
        )
    ]


def _dns_advice(verdict: EndpointVerdict, names: Namesakes) -> list[Step]:
    dns = verdict.checks[Check.DNS_MATCH]
    target = verdict.probe.endpoint.target
    if dns.ok is not False or target is None:
        return []
    host = target.host
    servers = names.get(host, [])
    listed = "; ".join(
        f"{name} ({', '.join(addresses) or 'address unknown'})" for name, addresses in servers
    )
    answers = (finding(verdict, "dns_match"),)
    if dns.reason is Reason.POINTS_ELSEWHERE:
        return [
            advise(
                "Point the internal record for {} at the servers that answer it: {}; or, if "
                "it rightly points at a load balancer, add that address to those servers' "
                "addresses in the exporter config ({})",
                host,
                listed,
                dns.message or "",
                comment=f"internal DNS for {host}",
                addresses=answers,
            )
        ]
    return [
        advise(
            "Make {} resolve, for internal clients, to the servers that answer it: {}",
            host,
            listed,
            comment=dns.message or f"internal DNS for {host}",
            addresses=answers,
        )
    ]


def _no_target_advice(verdict: EndpointVerdict) -> list[Step]:
    """A namespace whose servers present different certificates, none of which may
    be deployed on all of them: the fix is a new certificate, never a bind."""
    consistent = verdict.checks[Check.CONSISTENT]
    target = verdict.probe.endpoint.target
    if consistent.ok is not False or verdict.target_in_namespace is not None or target is None:
        return []
    return [
        advise(
            "No certificate the servers of {} present may be deployed on all of them: "
            "request one that names {} and every other name they serve (report --format "
            "names prints the request), then bind it on each server",
            f"{target.host}:{target.port}",
            target.host,
            comment=f"{target.host}:{target.port}: one certificate for the namespace",
            addresses=(finding(verdict, "consistent"),),
        )
    ]
