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

Then the proof (:func:`prove`): the what-if (remediation/whatif.py) applies the
fixes to a model of the organisation and re-judges every endpoint with the
pipeline's own functions. A fix is printed as commands only when, with every
accepted fix applied, none of the findings it answers is left and no endpoint has
a finding it did not have before; otherwise its steps are advice saying what the
what-if found. What needs a person (a new certificate, a CA, a record that points
elsewhere) is advice from the per-endpoint builders, left out where a proven fix
already answers it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from exporter.certfacts import parse_chain
from exporter.evaluate.consistency import namespace_key, namespace_targets
from exporter.evaluate.names import covers
from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, ExchangeVersion
from exporter.remediation.actions import fix_for
from exporter.remediation.advice import advice_for, namesakes
from exporter.remediation.fix import Fix
from exporter.remediation.steps import Finding, Step, StepKind
from exporter.remediation.suggest import suggest_host, suggested_url
from exporter.remediation.whatif import (
    Action,
    AddRecords,
    Bind,
    MoveUrl,
    OrgModel,
    RotateAuth,
    endpoint_key,
    findings,
    rekey,
    what_if,
)

EndpointKey = tuple[str, str, str]
_ROUNDS = 3
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
        added = _binds(state, actions)
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


def _binds(state: Sequence[EndpointVerdict], actions: list[Action]) -> list[Action]:
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
        host = suggest_host(endpoint, verdict.leaf)
        if host is not None:
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


_PROOF_ORDER = {Bind: 0, AddRecords: 1, MoveUrl: 2, RotateAuth: 3}


def prove(
    model: OrgModel, before: Sequence[EndpointVerdict], fixes: Sequence[Fix]
) -> dict[int, str]:
    """The fixes that may not be printed as commands, each with what the what-if
    found; the others are proven."""
    before_findings = findings(before)
    order = sorted(range(len(fixes)), key=lambda i: _PROOF_ORDER[type(fixes[i].action)])
    # A record may only serve URLs a move brings onto its name: it stands or falls
    # with them (a record nobody needs is dropped after the proof).
    active = [i for i in order if fixes[i].addresses or isinstance(fixes[i].action, AddRecords)]
    refused = {i: "it answers nothing the what-if can see" for i in order if i not in active}

    def after(indexes: Sequence[int]) -> tuple[list[EndpointVerdict], dict[Finding, str]]:
        verdicts = what_if(model, [fixes[i].action for i in indexes])
        return verdicts, rekey(before, verdicts)

    for _ in range(len(fixes) + 1):
        verdicts, state = after(active)
        if any(f not in before_findings for f in state):
            for n in range(1, len(active) + 1):
                _, partial = after(active[:n])
                new = [f for f in partial if f not in before_findings]
                if new:
                    culprit = active[n - 1]
                    refused[culprit] = (
                        f"the what-if finds it would cause {new[0]}: {partial[new[0]]}"
                    )
                    active.remove(culprit)
                    break
            continue
        lacking = _lacking(fixes, active, verdicts)
        left = {i: [f for f in fixes[i].addresses if f in state] for i in active}
        stale = {
            i: f"{found[0]} would remain: {state[found[0]]}" for i, found in left.items() if found
        }
        stale.update(lacking)
        if not stale:
            break
        for i, why in stale.items():
            refused[i] = f"the what-if finds {why}"
            active.remove(i)
    return refused


def _lacking(
    fixes: Sequence[Fix], active: Sequence[int], verdicts: Sequence[EndpointVerdict]
) -> dict[int, str]:
    """Binds of a certificate that would not name every host its server's service
    is reached by once the plan is done (a refused move keeps its old name)."""
    out: dict[int, str] = {}
    for i in active:
        action = fixes[i].action
        if not isinstance(action, Bind):
            continue
        leaf = parse_chain(action.chain[:1])
        for verdict in verdicts:
            endpoint = verdict.probe.endpoint
            target = endpoint.target
            if (endpoint.server.name, endpoint.component.service) != (
                action.server,
                action.service,
            ):
                continue
            if target is not None and leaf and not covers(leaf[0], target.host):
                out[i] = (
                    f"the certificate would not name {target.host}, which {action.server} serves"
                )
                break
    return out


def build_plan(model: OrgModel, before: Sequence[EndpointVerdict]) -> Plan:
    """The organisation's plan from its judged endpoints (``consistent`` decided)."""
    actions = plan_actions(model, before)
    fixes = [fix_for(action, model, before, actions) for action in actions]
    refused = prove(model, before, fixes)
    moved_to = {
        fix.action.host
        for i, fix in enumerate(fixes)
        if isinstance(fix.action, MoveUrl) and i not in refused
    }
    final: list[Fix] = []
    for i, fix in enumerate(fixes):
        record = fix.action
        if isinstance(record, AddRecords) and not fix.addresses and record.name not in moved_to:
            continue  # it only served moves that were refused
        final.append(fix.refused(refused[i]) if i in refused else fix)
    answered = {f for fix in final if fix.proven for f in fix.addresses}
    names = namesakes(list(before))
    advice = {
        endpoint_key(v.probe.endpoint): [
            step
            for step in advice_for(v, names)
            if not step.addresses or not set(step.addresses) <= answered
        ]
        for v in before
    }
    proven = tuple(fix.action for fix in sorted(final, key=_proof_rank) if fix.proven)
    return dataclasses.replace(_assemble(before, final, advice), actions=proven)


def _proof_rank(fix: Fix) -> int:
    return _PROOF_ORDER[type(fix.action)]


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
