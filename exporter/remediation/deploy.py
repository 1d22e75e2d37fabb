"""Preflight's deployment plan: a certificate file judged clean on every endpoint,
put on each server of the inventory and enabled for the services its endpoints
there use, as commands (never text built from input: remediation/command.py).

Per server, in the order it must run:
1. ``Import-ExchangeCertificate -Server S -FileData (Get-Content -LiteralPath F
   -Encoding Byte -ReadCount 0)``: Microsoft's own example
   (learn.microsoft.com/powershell/module/exchange/import-exchangecertificate), with
   ``-LiteralPath`` so a file name with ``[`` is not a wildcard; for a .pfx
   ``-Password`` from ``Read-Host -AsSecureString``, never in the script. Guarded by
   ``Get-ExchangeCertificate -Server S -Thumbprint T``, so a section runs again.
2. ``Enable-ExchangeCertificate -Server S -Thumbprint T -Services ...``: IIS, SMTP,
   IMAP, POP, as its endpoints use them.
3. IMAP and POP pick their certificate by name: ``Set-ImapSettings``/
   ``Set-PopSettings -X509CertificateName`` and their services' restart, as the
   report's bind fix does (remediation/surfaces.py).
4. A receive connector that names its certificate (``TlsCertificateName``) is
   pointed at this one.

A file without its private key (PEM, DER, .p7b) completes the pending request of
the server that made the request, and only there: :func:`key_note` says so beside
the plan.
"""

from __future__ import annotations

from collections.abc import Sequence

from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, Endpoint
from exporter.remediation.chain import certificate_present, enable_command
from exporter.remediation.command import (
    SWITCH,
    Assign,
    Command,
    Number,
    Sub,
    Text,
    Thumbprint,
    Var,
)
from exporter.remediation.steps import Step, StepKind, run
from exporter.remediation.surfaces import certificate_name_steps, connector_step

SMTP = (Component.SMTP, Component.SMTP_SUBMISSION)


def deployment(
    verdicts: Sequence[EndpointVerdict], cert_path: str, thumbprint: str, *, with_key: bool
) -> dict[str, list[Step]]:
    """Per server (in inventory order), the steps that put the file there and use it."""
    by_server: dict[str, list[Endpoint]] = {}
    for verdict in verdicts:
        endpoint = verdict.probe.endpoint
        if endpoint.component.service is not None:
            by_server.setdefault(endpoint.server.name, []).append(endpoint)
    return {
        server: _server_steps(server, endpoints, cert_path, thumbprint, with_key)
        for server, endpoints in by_server.items()
    }


def _server_steps(
    server: str, endpoints: list[Endpoint], cert_path: str, thumbprint: str, with_key: bool
) -> list[Step]:
    used = list(dict.fromkeys(e.component.service for e in endpoints if e.component.service))
    enable = enable_command(server, Thumbprint(thumbprint), *used)
    steps = [
        _import(server, cert_path, thumbprint, with_key),
        run(StepKind.COMMAND, (enable,), f"{server}: enable it for {', '.join(used)}",
            server=server),
    ]  # fmt: skip
    for component in (Component.IMAP, Component.POP):
        named = next((e for e in endpoints if e.component is component and e.target), None)
        if named is not None and named.target is not None:
            steps.extend(certificate_name_steps(named, named.target.host, ()))
    steps.extend(
        connector_step(e, Thumbprint(thumbprint))
        for e in endpoints
        if e.component in SMTP and e.tls_certificate_name
    )
    return steps


def _import(server: str, cert_path: str, thumbprint: str, with_key: bool) -> Step:
    data = Sub(
        Command(
            "Get-Content",
            (
                ("LiteralPath", Text(cert_path, "the file")),
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
    password = Assign(
        "password",
        Command("Read-Host", (("AsSecureString", SWITCH), ("Prompt", Text("The .pfx password")))),
    )
    return run(
        StepKind.COMMAND,
        (password, load) if with_key else (load,),
        f"{server}: import the certificate",
        done=certificate_present(server, thumbprint),
        server=server,
    )


def key_note(with_key: bool) -> str | None:
    """What the plan's import needs that preflight cannot see: the private key."""
    if with_key:
        return None
    return (
        "The file holds no private key: its import completes the pending request on the "
        "server that made the request, and fails on the others. Run that server's import "
        "first, export the certificate with its private key there as a .pfx (with "
        "Export-ExchangeCertificate), and give preflight that .pfx for the rest."
    )
