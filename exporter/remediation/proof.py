"""The proof of a plan: the what-if (remediation/whatif.py) applies the fixes to a
model of the organisation and re-judges every endpoint with the pipeline's own
functions. A fix is printed as commands only when, with every accepted fix
applied, none of the findings it answers is left, no endpoint has a finding it did
not have before, and a certificate it binds names every host its server's service
is reached by; otherwise its steps are advice saying what the what-if found. Fixes
are applied binds first, then records, moves and the rotation, so a record is in
place before the move that needs it; a fix that makes a new finding is found by
applying them one more at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.certfacts import parse_chain
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
    findings,
    rekey,
    what_if,
)

PROOF_ORDER = {Bind: 0, AddRecords: 1, MoveUrl: 2, RotateAuth: 3}


def prove(
    model: OrgModel, before: Sequence[EndpointVerdict], fixes: Sequence[Fix]
) -> dict[int, str]:
    """The fixes that may not be printed as commands, each with what the what-if
    found; the others are proven."""
    before_findings = findings(before)
    order = sorted(range(len(fixes)), key=lambda i: PROOF_ORDER[type(fixes[i].action)])
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


def proof_rank(fix: Fix) -> int:
    return PROOF_ORDER[type(fix.action)]
