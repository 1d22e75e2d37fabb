"""``preflight``'s output: a table, the JSON (the endpoints in ``report``'s shape plus
``would_break`` and ``missing_names``), and, when nothing would break, the
deployment plan per server as PowerShell: ``Import-ExchangeCertificate -Server S
-FileData ... -Password ...`` and ``Enable-ExchangeCertificate -Server S -Thumbprint
T -Services ...`` with the services the certificate's names serve there. The plan
is what preflight judged: every endpoint with the certificate bound, none breaking.
Formats ``PreflightResult``; derives nothing.
"""

from __future__ import annotations

from typing import Any

from exporter.preflight import PreflightResult
from exporter.remediation import Remediation, StepKind
from exporter.remediation.chain import enable_command
from exporter.remediation.command import (
    SWITCH,
    Assign,
    Command,
    Number,
    Sub,
    Text,
    Thumbprint,
    Values,
    Var,
    shown,
)
from exporter.remediation.steps import Step, run
from exporter.render.json import endpoint_json, names_plan_json
from exporter.snapshot import EndpointReport
from exporter.textsafe import terminal_safe

NO_FIX = Remediation(None, None, ())


def deployment(
    result: PreflightResult, cert_path: str, thumbprint: str, *, with_key: bool
) -> dict[str, list[Step]]:
    """Per server: import the file, then enable it for the services its endpoints use.

    The import is Microsoft's own example (Import-ExchangeCertificate, learn.microsoft.com
    /powershell/module/exchange/import-exchangecertificate): ``-FileData`` from
    ``Get-Content -Encoding Byte -ReadCount 0``, and for a .pfx ``-Password``, read
    with ``Read-Host -AsSecureString`` so it never sits in the script. A file without
    its key (PEM, DER, .p7b) completes the pending request of the server that made it
    only; ``key_note`` says so beside the plan."""
    services: dict[str, list[str]] = {}
    for verdict in result.verdicts:
        endpoint = verdict.probe.endpoint
        service = endpoint.component.service
        if service is not None:
            found = services.setdefault(endpoint.server.name, [])
            if service not in found:
                found.append(service)
    out: dict[str, list[Step]] = {}
    for server, used in services.items():
        password = Assign(
            "password",
            Command(
                "Read-Host", (("AsSecureString", SWITCH), ("Prompt", Text("The .pfx password")))
            ),
        )
        data = Sub(
            Command(
                "Get-Content",
                (
                    ("Path", Text(cert_path, "the file")),
                    ("Encoding", Text("Byte")),
                    ("ReadCount", Number(0)),
                ),
            )
        )
        load = Command(
            "Import-ExchangeCertificate",
            (
                ("Server", Text(server, "the server's name")),
                ("FileData", data),
                *((("Password", Var("password")),) if with_key else ()),
            ),
        )
        enable = enable_command(server, Thumbprint(thumbprint), "IIS")
        enable = Command(
            enable.cmdlet,
            (*enable.params[:2], ("Services", Values(tuple(Text(s) for s in used)))),
        )
        out[server] = [
            run(
                StepKind.COMMAND,
                (password, load) if with_key else (load,),
                f"{server}: import the certificate",
                server=server,
            ),
            run(
                StepKind.COMMAND,
                (enable,),
                f"{server}: enable it for {', '.join(used)}",
                server=server,
            ),
        ]
    return out


def key_note(with_key: bool) -> str | None:
    """What the plan's import needs that preflight cannot see: the private key."""
    if with_key:
        return None
    return (
        "The file holds no private key: its import completes the pending request on the "
        "server that made the request, and fails on the others. Run that server's import "
        "first, export the certificate with its key there (Export-ExchangeCertificate "
        "-BinaryEncoded -Password), and give preflight that .pfx for the rest."
    )


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
        lines.append(f"# {note}".encode("ascii", "backslashreplace").decode())
    if not plan:
        lines.append(
            "# Nothing to run: the certificate would break an endpoint (see --format table)."
        )
    for server, steps in plan.items():
        lines.append(
            f"# ===== Server {shown(server)}: runs on its own".encode(
                "ascii", "backslashreplace"
            ).decode()
        )
        lines.append("$ErrorActionPreference = 'Stop'")
        for step in steps:
            lines.append(f"# {step.comment}".encode("ascii", "backslashreplace").decode())
            lines.append(step.runs)
    return "\n".join(lines) + "\n"
