"""``report --format powershell``: a reviewable .ps1 with every fix, commented per
server and component. Commands run as written in the Exchange Management Shell;
advice that needs a human choice is left as a comment, never as code.
"""

from __future__ import annotations

from exporter.evaluate.checks import iso
from exporter.pipeline import Snapshot
from exporter.remediation import StepKind

_RUNNABLE = (StepKind.COMMAND, StepKind.IIS, StepKind.DNS)


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.splitlines() or [""])


def render_powershell(snapshot: Snapshot) -> str:
    lines = [
        "# exchange-cert-exporter: fixes for Exchange internal URLs (Microsoft KB 940726)",
        f"# Generated {iso(snapshot.started_at)}. Review every line before you run it",
        "# in the Exchange Management Shell. Steps marked ADVICE need your decision.",
        "",
    ]
    fixes = 0
    for report in snapshot.endpoints:
        if not report.remediation.steps:
            continue
        endpoint = report.verdict.probe.endpoint
        lines.append(
            _comment(
                f"=== {endpoint.server.name} / {endpoint.component.value}: {endpoint.url} "
                f"({report.status.value})"
            )
        )
        for step in report.remediation.steps:
            lines.append(_comment(step.comment))
            if step.kind in _RUNNABLE:
                lines.append(step.text)
                fixes += 1
            else:
                lines.append(_comment(f"ADVICE: {step.text}"))
        lines.append("")
    if fixes == 0:
        lines.append("# Nothing to run: no endpoint needs a command.")
    return "\n".join(lines) + "\n"
