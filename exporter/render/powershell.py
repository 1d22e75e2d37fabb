"""``report --format powershell``: a reviewable .ps1 with every fix, one section per
server that can run top to bottom, and twice. Within a server each distinct
command appears once (several components often need the same DNS record), in the
order that works: DNS records first (the KB 940726 fix assumes the name resolves),
then the Exchange commands, then the application pool recycles; a step that would
fail the second time runs only behind its guard (``Step.guard``). Advice that
needs a human choice is left as a comment, never as code.
"""

from __future__ import annotations

from exporter.evaluate.checks import iso
from exporter.remediation import Step, StepKind
from exporter.snapshot import EndpointReport, Snapshot

_ORDER = {StepKind.DNS: 0, StepKind.COMMAND: 1, StepKind.IIS: 2, StepKind.ADVICE: 3}


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in text.splitlines() or [""])


def _per_server(snapshot: Snapshot) -> dict[str, list[EndpointReport]]:
    servers: dict[str, list[EndpointReport]] = {}
    for report in snapshot.endpoints:
        if report.remediation.steps:
            servers.setdefault(report.verdict.probe.endpoint.server.name, []).append(report)
    return servers


def _distinct(reports: list[EndpointReport]) -> list[tuple[Step, list[str]]]:
    """Each step once, with the components that need it, in the order that works."""
    found: dict[str, tuple[Step, list[str]]] = {}
    for report in reports:
        component = report.verdict.probe.endpoint.component.value
        for step in report.remediation.steps:
            entry = found.setdefault(step.text, (step, []))
            if component not in entry[1]:
                entry[1].append(component)
    return sorted(found.values(), key=lambda item: _ORDER[item[0].kind])


def render_powershell(snapshot: Snapshot) -> str:
    lines = [
        "# exchange-cert-exporter: fixes for Exchange internal URLs (Microsoft KB 940726)",
        f"# Generated {iso(snapshot.started_at)}. Review every line before you run it",
        "# in the Exchange Management Shell. Steps marked ADVICE need your decision.",
        "# Each server's section runs top to bottom, and may run again.",
        "",
    ]
    fixes = 0
    for server, reports in _per_server(snapshot).items():
        fqdn = reports[0].verdict.probe.endpoint.server.fqdn
        lines.append(_comment(f"===== {server} ({fqdn})"))
        for step, components in _distinct(reports):
            lines.append(_comment(f"{step.comment} [{', '.join(components)}]"))
            if step.kind is StepKind.ADVICE:
                lines.append(_comment(f"ADVICE: {step.text}"))
                continue
            fixes += 1
            if step.guard is not None:
                lines.append(f"if (-not ({step.guard})) {{ {step.text} }}")
            else:
                lines.append(step.text)
        lines.append("")
    if fixes == 0:
        lines.append("# Nothing to run: no endpoint needs a command.")
    return "\n".join(lines) + "\n"
