"""The proof of a plan: the what-if (remediation/whatif.py) applies the fixes to a
model of the organisation and re-judges every endpoint with the pipeline's own
functions. A fix is printed as commands only when, with every accepted fix
applied, none of the findings it answers is left, no endpoint has a finding it did
not have before, and a certificate it binds names every host its server's service
is reached by; otherwise its steps are advice saying what the what-if found.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.certfacts import parse_chain
from exporter.evaluate.consistency import namespace_key
from exporter.evaluate.names import covers
from exporter.evaluate.verdict import EndpointVerdict
from exporter.remediation.fix import Fix
from exporter.remediation.steps import Finding
from exporter.remediation.whatif import (
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

PROOF_ORDER = {Bind: 0, AddRecords: 1, MoveUrl: 2, RotateAuth: 3}


def prove(
    model: OrgModel, before: Sequence[EndpointVerdict], fixes: Sequence[Fix]
) -> dict[int, str]:
    """The fixes that may not be printed as commands, each with what the what-if
    found; the others are proven. Every fix starts accepted (a bind or a record may
    only serve a move, and stands or falls with it); each round applies all the
    accepted ones at once, and refuses, for each finding that is new, the last fix
    that touches its endpoint or its namespace, then those whose findings remain or
    whose certificate lacks a name. A round refuses at least one fix, so the proof
    ends; it is cheap when the plan holds (one what-if) and refuses generously,
    never wrongly, when it does not."""
    before_findings = findings(before)
    active = sorted(range(len(fixes)), key=lambda i: PROOF_ORDER[type(fixes[i].action)])
    refused: dict[int, str] = {}
    for _ in range(len(fixes) + 1):
        verdicts = what_if(model, [fixes[i].action for i in active])
        state = rekey(before, verdicts)
        new = [f for f in state if f not in before_findings]
        if new:
            for finding, culprit in _culprits(new, active, fixes, before, verdicts).items():
                refused[culprit] = f"the what-if finds it would cause {finding}: {state[finding]}"
            active = [i for i in active if i not in refused]
            continue
        stale = _lacking(fixes, active, verdicts)
        for i in active:
            found = [f for f in fixes[i].addresses if f in state]
            if found:
                stale[i] = f"{found[0]} would remain: {state[found[0]]}"
        if not stale:
            break
        for i, why in stale.items():
            refused[i] = f"the what-if finds {why}"
        active = [i for i in active if i not in refused]
    return refused


def _culprits(
    new: Sequence[Finding],
    active: Sequence[int],
    fixes: Sequence[Fix],
    before: Sequence[EndpointVerdict],
    verdicts: Sequence[EndpointVerdict],
) -> dict[Finding, int]:
    """For each new finding, the last applied fix that touches its endpoint, else
    one that touches an endpoint of its namespace after the plan, else the last
    fix applied: one culprit per finding, the same fix possibly for several."""
    keys = [endpoint_key(v.probe.endpoint) for v in before]
    namespace_of_key = {key: namespace_key(v) for key, v in zip(keys, verdicts, strict=True)}
    out: dict[Finding, int] = {}
    for finding in new:
        key = (finding.server, finding.component, finding.url)
        namespace = namespace_of_key.get(key)
        touching = [i for i in active if key in fixes[i].endpoints]
        if not touching and namespace is not None:
            touching = [
                i
                for i in active
                if any(namespace_of_key.get(k) == namespace for k in fixes[i].endpoints)
            ]
        out[finding] = (touching or list(active))[-1]
    return out


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


def proof_rank(fix: Fix) -> int:
    return PROOF_ORDER[type(fix.action)]
