"""``report --format powershell``: a reviewable .ps1, one section per server
(remediation/plan.py), each of which runs on its own, top to bottom, and again.

A section holds its server's steps in the plan's order: a certificate imported and
enabled before a URL moves onto a name it carries, a DNS record before a URL that
needs it, the application pools recycled after. A step of the organisation (a
record for a name several servers answer, the Auth certificate's rotation) stands
in every section that needs it, behind its guard (``Step.guard``: true once it is
done), so running two sections does it once. Advice that needs a human choice,
and every step the what-if could not prove, is a comment, never code. The text is
the plan's; nothing here writes a command.
"""

from __future__ import annotations

from exporter.evaluate.checks import iso
from exporter.remediation import StepKind
from exporter.snapshot import Snapshot


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.splitlines() or [""])


def render_powershell(snapshot: Snapshot) -> str:
    lines = [
        "# exchange-cert-exporter: fixes for Exchange internal URLs (Microsoft KB 940726)",
        f"# Generated {iso(snapshot.started_at)}. Review every line before you run it",
        "# in the Exchange Management Shell. Steps marked ADVICE need your decision.",
        "# Each server's section runs on its own, top to bottom, and may run again.",
        "",
    ]
    fqdns = {
        r.verdict.probe.endpoint.server.name: r.verdict.probe.endpoint.server.fqdn
        for r in snapshot.endpoints
    }
    fixes = 0
    for server, steps in snapshot.plan.servers.items():
        lines.append(_comment(f"===== {server} ({fqdns.get(server, '')})"))
        for step in steps:
            answers = sorted({f"{f.component} {f.check}" for f in step.addresses})
            about = f" [answers: {', '.join(answers)}]" if answers else ""
            lines.append(_comment(f"{step.comment}{about}"))
            if step.kind is StepKind.ADVICE:
                lines.append(_comment(f"ADVICE: {step.text}"))
                continue
            fixes += 1
            lines.append(step.runs)
        lines.append("")
    if fixes == 0:
        lines.append("# Nothing to run: no endpoint needs a command.")
    return "\n".join(lines) + "\n"
