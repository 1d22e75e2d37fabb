"""``report --format powershell``: a reviewable .ps1, one section per server
(remediation/plan.py), each of which runs on its own, top to bottom, and again.

Each section starts with ``$ErrorActionPreference = 'Stop'``, so a step that fails
(a DNS record the shell cannot add) stops it before a URL moves onto the name. The
file is ASCII, values in commands as ``[char]`` codes beyond it (command.py), so
Windows PowerShell reads it the same whatever the code page. A section holds its
server's steps in the plan's order: a certificate imported and
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
from exporter.remediation.command import shown
from exporter.snapshot import Snapshot


def comment(text: str) -> str:
    """Comment lines in ASCII: a value's controls escaped (``shown``) and anything
    beyond ASCII as ``\\uNNNN``, so the file reads the same in every code page."""
    safe = shown(text).encode("ascii", "backslashreplace").decode("ascii")
    return "\n".join(f"# {line}" for line in safe.splitlines() or [""])


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
        # A fixed, long header: a short comment close to "SIG # Begin signature
        # block" would make PowerShell take the rest of the file for a signature.
        lines.append(comment(f"===== Server {server} ({fqdns.get(server, '')}): runs on its own"))
        # A step that fails stops the section: a URL never moves onto a name whose
        # DNS record could not be added.
        lines.append("$ErrorActionPreference = 'Stop'")
        for step in steps:
            answers = sorted({f"{f.component} {f.check}" for f in step.addresses})
            about = f" [answers: {', '.join(answers)}]" if answers else ""
            lines.append(comment(f"{step.comment}{about}"))
            if step.kind is StepKind.ADVICE:
                lines.append(comment(f"ADVICE: {step.text}"))
                continue
            fixes += 1
            lines.append(step.runs)
        lines.append("")
    if fixes == 0:
        lines.append("# Nothing to run: no endpoint needs a command.")
    return "\n".join(lines) + "\n"
