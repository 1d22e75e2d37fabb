"""``preflight``'s output: a table, the JSON (the endpoints in ``report``'s shape plus
``would_break`` and ``missing_names``), and, when nothing would break, the
deployment plan (remediation/deploy.py) per server as PowerShell. Formats
``PreflightResult`` and the plan's steps; derives nothing.
"""

from __future__ import annotations

from typing import Any

from exporter.preflight import PreflightResult
from exporter.remediation import Remediation, StepKind
from exporter.remediation.steps import Step
from exporter.render.json import endpoint_json, names_plan_json
from exporter.render.powershell import comment
from exporter.snapshot import EndpointReport
from exporter.textsafe import terminal_safe

NO_FIX = Remediation(None, None, ())


def preflight_json(
    result: PreflightResult, plan: dict[str, list[Step]], note: str | None = None
) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "endpoints": [endpoint_json(EndpointReport(v, NO_FIX)) for v in result.verdicts],
        "not_judged": [
            {"server": e.server.name, "component": e.component.value, "url": e.url}
            for e in result.not_judged
        ],
        "would_break": [
            {
                "server": b.server,
                "component": b.component,
                "url": b.url,
                "checks": list(b.checks),
                "families": list(b.families),
            }
            for b in result.would_break
        ],
        "missing_names": list(result.missing_names),
        "names_plan": names_plan_json(result.names_plan),
        "plan": {
            s: [{"kind": st.kind.value, "text": st.text} for st in steps]
            for s, steps in plan.items()
        },
        "plan_note": note if plan else None,
    }


def preflight_table(
    result: PreflightResult, plan: dict[str, list[Step]], note: str | None = None
) -> str:
    lines = []
    if result.would_break:
        lines.append(f"{len(result.would_break)} endpoint(s) would break with this certificate:")
        for b in result.would_break:
            why = ", ".join([*b.checks, *(f"{f} refuses" for f in b.families)])
            lines.append(f"  {b.server} {b.component} {b.url}: {why}")
    else:
        lines.append(f"Nothing would break: {len(result.verdicts)} endpoint(s) judged.")
    for verdict in result.verdicts:
        for name, outcome in verdict.outcomes:
            if outcome.ok is False and outcome.message:
                where = f"{verdict.probe.endpoint.server.name} {verdict.probe.endpoint.component}"
                lines.append(f"    {where} {name}: {outcome.message}")
    if result.missing_names:
        lines.append(f"Names the certificate lacks: {', '.join(result.missing_names)}")
    for endpoint in result.not_judged:
        what = f"Not judged ({endpoint.component.value}, its own certificate)"
        lines.append(f"{what}: {endpoint.server.name} {endpoint.url}")
    if plan:
        lines.append("Deployment plan (Exchange Management Shell):")
        if note:
            lines.append(f"  {note}")
        for server, steps in plan.items():
            lines.append(f"  {server}:")
            lines.extend(f"    {s.text}" for s in steps)
    return "\n".join(terminal_safe(line) for line in lines) + "\n"


def preflight_powershell(plan: dict[str, list[Step]], note: str | None = None) -> str:
    lines = [
        "# exchange-cert-exporter preflight: the deployment plan, one section per server.",
        "# Get-Content reads the file at the path preflight was given: run this where",
        "# that path names it, or change the path.",
    ]
    if plan and note:
        lines.append(comment(note))
    if not plan:
        lines.append(
            "# Nothing to run: the certificate would break an endpoint (see --format table)."
        )
    for server, steps in plan.items():
        lines.append(comment(f"===== Server {server}: runs on its own"))
        lines.append("$ErrorActionPreference = 'Stop'")
        for step in steps:
            lines.append(comment(step.comment))
            if step.kind is StepKind.ADVICE:
                # Not a command (a value it could not quote): read, never run.
                lines.append(comment(f"ADVICE: {step.text}"))
            else:
                lines.append(step.runs)
    return "\n".join(lines) + "\n"
