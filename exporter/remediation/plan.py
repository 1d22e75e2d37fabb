"""The plan: one coherent set of steps per server, proven before it is printed.

Fixes are not computed finding by finding (they contradicted each other across the
servers of one namespace). The planner works on the whole organisation:

1. **Bind** each namespace's target certificate (evaluate/consistency.py: chosen by
   health, never by age) on every server and service of the namespace that presents
   another one, exporting it from a server that has it and importing it first.
2. **Move** an internal URL only when the certificate that will be bound there
   does not name its host, and only onto a name that certificate carries.
3. **Add DNS records** once per name, with the addresses of every server that
   answers it, for names that do not resolve (never "point it at X" per server).
4. **Rotate** the organisation's Auth certificate once.
Rounds repeat (at most three) while a step changes a namespace's members.

Then the proof (remediation/proof.py) applies the fixes in the what-if and keeps
as commands only those that leave none of their findings and make none. What
needs a person (a new certificate, a CA, a record that points elsewhere) is advice
from the per-endpoint builders (remediation/advice.py), left out where a proven
fix already answers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.evaluate.consistency import namespace_key, namespace_targets
from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, ExchangeVersion
from exporter.remediation.actions import fixes_for
from exporter.remediation.advice import advice_for, namesakes
from exporter.remediation.fix import Fix
from exporter.remediation.proof import proof_rank, prove
from exporter.remediation.steps import Step, StepKind, finding
from exporter.remediation.suggest import suggest_host, suggested_url
from exporter.remediation.whatif import (
    Action,
    AddRecords,
    Bind,
    MoveUrl,
    OrgModel,
    RotateAuth,
    endpoint_key,
    what_if,
)

EndpointKey = tuple[str, str, str]
_ROUNDS = 3
_FROM_2013 = (Component.OUTLOOK_ANYWHERE, Component.MAPI)
_BEFORE_2013 = (ExchangeVersion.E2007, ExchangeVersion.E2010)
_MISSING = (Reason.NXDOMAIN, Reason.NO_ADDRESS)


@dataclass(frozen=True)
class Plan:
    """Attributes:
    servers: each server's steps in the order they run; a step of the
        organisation (a shared DNS name, the Auth certificate) stands in every
        section that needs it, behind its guard.
    endpoints: the steps that concern each endpoint (by ``endpoint_key``).
    moves: the host and URL a proven or advised move gives an endpoint.
    actions: the proven actions, in the order the proof applied them (what the
        what-if applies to see the organisation after the plan).
    """

    servers: Mapping[str, tuple[Step, ...]] = field(default_factory=dict)
    endpoints: Mapping[EndpointKey, tuple[Step, ...]] = field(default_factory=dict)
    moves: Mapping[EndpointKey, tuple[str, str]] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()


def candidate_hosts(verdicts: Sequence[EndpointVerdict]) -> set[str]:
    """The names a plan may move a URL to: the refresh looks them up first."""
    leaves = [t.leaf for t in namespace_targets(verdicts).values() if t.leaf is not None]
    hosts: set[str] = set()
    for verdict in verdicts:
        endpoint = verdict.probe.endpoint
        if verdict.leaf is None or verdict.checks[Check.NAME_MATCH].ok is not False:
            continue
        if not endpoint.component.is_virtual_directory:
            continue
        for leaf in (verdict.leaf, *leaves):
            if (host := suggest_host(endpoint, leaf)) is not None:
                hosts.add(host)
    return hosts


def plan_actions(model: OrgModel, before: Sequence[EndpointVerdict]) -> list[Action]:
    """Binds, then moves, then records, repeated while a round adds any."""
    actions: list[Action] = []
    state = list(before)
    for _ in range(_ROUNDS):
        added = _binds(model, state, actions)
        if added:
            actions.extend(added)
            state = what_if(model, actions)
        moves = _moves(model, state, actions)
        if moves:
            actions.extend(moves)
            state = what_if(model, actions)
        records = _records(state, actions)
        actions.extend(records)
        if records:
            state = what_if(model, actions)
        if not (added or moves or records):
            break
    if any(_rotation_due(v) for v in before):
        actions.append(RotateAuth())
    return actions


def _binds(
    model: OrgModel, state: Sequence[EndpointVerdict], actions: list[Action]
) -> list[Action]:
    bound = {(a.server, a.service) for a in actions if isinstance(a, Bind)}
    added: list[Action] = []
    for namespace, target in namespace_targets(state).items():
        leaf, holder = target.leaf, target.holder
        if leaf is None or holder is None or holder.probe.tls is None:
            continue
        for verdict in state:
            endpoint = verdict.probe.endpoint
            service = endpoint.component.service
            if namespace_key(verdict) != namespace or verdict.leaf is None or service is None:
                continue
            key = (endpoint.server.name, service)
            if verdict.leaf.fingerprint_sha256 == leaf.fingerprint_sha256 or key in bound:
                continue
            if model.varies(*key):
                continue  # host-specific bindings: Enable-ExchangeCertificate leaves them
            if service == "SMTP" and endpoint.tls_certificate_name:
                continue  # the connector picks its certificate by name: advice
            bound.add(key)
            holder_name = holder.probe.endpoint.server.name
            added.append(Bind(*key, holder.probe.tls.chain, holder_name, leaf.thumbprint))
    return added


def _moves(
    model: OrgModel, state: Sequence[EndpointVerdict], actions: list[Action]
) -> list[Action]:
    moved = {endpoint_key(a.endpoint) for a in actions if isinstance(a, MoveUrl)}
    added: list[Action] = []
    for found, verdict in zip(model.verdicts, state, strict=True):
        original = found.probe.endpoint
        endpoint = verdict.probe.endpoint
        if endpoint_key(original) in moved or verdict.leaf is None:
            continue
        if verdict.checks[Check.NAME_MATCH].ok is not False:
            continue
        if not endpoint.component.is_virtual_directory:
            continue
        if endpoint.component is Component.UM and endpoint.server.version not in (
            None,
            ExchangeVersion.E2007,
        ):
            continue  # no UM virtual directory to move after 2007: advice
        if endpoint.component in _FROM_2013 and endpoint.server.version in _BEFORE_2013:
            continue  # Set-OutlookAnywhere -InternalHostname and MAPI came with 2013
        host = suggest_host(endpoint, verdict.leaf)
        if host is None or model.varies(endpoint.server.name, endpoint.component.service):
            continue  # with host-specific bindings, the new name's certificate is unknown
        added.append(MoveUrl(original, suggested_url(endpoint, host), host))
    return added


def _records(state: Sequence[EndpointVerdict], actions: list[Action]) -> list[Action]:
    known = {a.name for a in actions if isinstance(a, AddRecords)}
    wanted: dict[str, list[str]] = {}
    for verdict in state:
        dns = verdict.checks[Check.DNS_MATCH]
        target = verdict.probe.endpoint.target
        if dns.ok is not False or dns.reason not in _MISSING or target is None:
            continue
        if not verdict.probe.server_addresses or target.host in known:
            continue
        addresses = wanted.setdefault(target.host, [])
        addresses.extend(a for a in verdict.probe.server_addresses if a not in addresses)
    return [AddRecords(name, tuple(addresses)) for name, addresses in sorted(wanted.items())]


def _rotation_due(verdict: EndpointVerdict) -> bool:
    endpoint = verdict.probe.endpoint
    return endpoint.component is Component.AUTH_CERTIFICATE and verdict.out_of_date


def build_plan(model: OrgModel, before: Sequence[EndpointVerdict]) -> Plan:
    """The organisation's plan from its judged endpoints (``consistent`` decided)."""
    actions = plan_actions(model, before)
    fixes = fixes_for(actions, before)
    refused = prove(model, before, fixes)
    proven_moves = [
        fix.action
        for i, fix in enumerate(fixes)
        if isinstance(fix.action, MoveUrl) and i not in refused
    ]
    moved_to = {move.host for move in proven_moves}
    moved_on = {move.endpoint.server.name for move in proven_moves}
    final: list[Fix] = []
    for i, fix in enumerate(fixes):
        # A record or a bind that answers nothing of its own only served moves: it
        # goes with them when they were refused.
        action = fix.action
        if not fix.addresses and isinstance(action, AddRecords) and action.name not in moved_to:
            continue
        if not fix.addresses and isinstance(action, Bind) and action.server not in moved_on:
            continue
        final.append(fix.refused(refused[i]) if i in refused else fix)
    answered = {f for fix in final if fix.proven for f in fix.addresses}
    # A URL that moves leaves its old name behind: that name's DNS no longer matters.
    by_key = {endpoint_key(v.probe.endpoint): v for v in before}
    answered.update(
        finding(by_key[endpoint_key(fix.action.endpoint)], "dns_match")
        for fix in final
        if fix.proven and isinstance(fix.action, MoveUrl)
    )
    names = namesakes(list(before))
    advice = {
        endpoint_key(v.probe.endpoint): [
            step
            for step in advice_for(v, names)
            if not step.addresses or not set(step.addresses) <= answered
        ]
        for v in before
    }
    proven = tuple(fix.action for fix in sorted(final, key=proof_rank) if fix.proven)
    return dataclasses.replace(_assemble(before, final, advice), actions=proven)


def _assemble(
    before: Sequence[EndpointVerdict],
    fixes: Sequence[Fix],
    advice: Mapping[EndpointKey, list[Step]],
) -> Plan:
    servers: dict[str, dict[str, Step]] = {}
    endpoints: dict[EndpointKey, dict[str, Step]] = {}
    moves: dict[EndpointKey, tuple[str, str]] = {}
    for fix in fixes:
        for server in fix.servers:
            section = servers.setdefault(server, {})
            for step in fix.steps:
                section.setdefault(step.text, step)
        for key in fix.endpoints:
            listed = endpoints.setdefault(key, {})
            for step in fix.steps:
                listed.setdefault(step.text, step)
        if isinstance(fix.action, MoveUrl):
            moves[endpoint_key(fix.action.endpoint)] = (fix.action.host, fix.action.url)
    for verdict in before:
        key = endpoint_key(verdict.probe.endpoint)
        server = verdict.probe.endpoint.server.name
        for step in advice.get(key, []):
            servers.setdefault(server, {}).setdefault(step.text, step)
            endpoints.setdefault(key, {}).setdefault(step.text, step)
    return Plan(
        {name: _ordered(steps.values()) for name, steps in servers.items()},
        {key: _ordered(steps.values()) for key, steps in endpoints.items()},
        moves,
    )


def _ordered(steps: Iterable[Step]) -> tuple[Step, ...]:
    """Commands in the plan's order (binds, records, moves, rotation), advice last."""
    return tuple(sorted(steps, key=lambda s: (s.kind is StepKind.ADVICE, s.order)))
