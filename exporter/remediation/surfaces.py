"""The fixes for the TLS surfaces beyond the virtual directories: SMTP, IMAP and POP,
the Exchange Back End site and the Auth certificate (../shared/EXCHANGE-SURFACES.md).

Sources, per command:
- ``Enable-ExchangeCertificate -Server -Thumbprint -Services SMTP|IMAP|POP|IIS``, and
  ``Set-ImapSettings``/``Set-PopSettings -Server -X509CertificateName`` with the
  restart of ``MSExchangeIMAP4,MSExchangeIMAP4BE`` (POP: ``MSExchangePOP3,...BE``):
  the cmdlets' reference pages, xExchange's xExchImapSettings DSC resource (it passes
  ``-Server`` and ``-X509CertificateName``), ../shared/EXCHANGE-SURFACES.md.
- ``Set-ReceiveConnector "SERVER\\NAME" -TlsCertificateName "<I>issuer<S>subject"``:
  the cmdlet's page; the attribute is ``msExchSmtpTLSCertificate``
  (ReceiveConnectorSchema).
- The Auth certificate's rotation: remediation/rotation.py.
- The back end's renewal and its IIS binding on port 444 have no one-line command
  we could confirm: it is said in words.
A certificate the exporter cannot know (the new one's thumbprint) is ``<thumbprint>``
in an ADVICE step, never in a COMMAND.
"""

from __future__ import annotations

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Check
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Component, Endpoint, ExchangeVersion
from exporter.remediation.chain import NEW_THUMBPRINT, enable_command
from exporter.remediation.command import (
    Assign,
    Command,
    Concat,
    Host,
    Placeholder,
    Text,
    Values,
    Var,
)
from exporter.remediation.kb940726 import restart_remotely
from exporter.remediation.steps import Finding, Step, StepKind, advise, finding, run

SETTINGS = {
    Component.IMAP: ("Set-ImapSettings", ("MSExchangeIMAP4", "MSExchangeIMAP4BE")),
    Component.POP: ("Set-PopSettings", ("MSExchangePOP3", "MSExchangePOP3BE")),
}


def services_for(component: Component) -> str:
    """What ``Enable-ExchangeCertificate -Services`` takes for this component."""
    return component.service or "IIS"


def connector_identity(endpoint: Endpoint) -> str:
    """The receive connector clients of this URL reach: the configured or discovered
    one, else Exchange's default name for the version."""
    if endpoint.identity:
        return endpoint.identity
    server, version = endpoint.server.name, endpoint.server.version
    legacy = version in (ExchangeVersion.E2007, ExchangeVersion.E2010)
    if endpoint.component is Component.SMTP_SUBMISSION:
        return f"{server}\\Client {server}" if legacy else f"{server}\\Client Frontend {server}"
    return f"{server}\\Default {server}" if legacy else f"{server}\\Default Frontend {server}"


def certificate_name_steps(
    endpoint: Endpoint, host: str, answers: tuple[Finding, ...]
) -> list[Step]:
    """IMAP and POP pick their certificate by name: point them at ``host`` and
    restart their services (run after the certificate is enabled)."""
    if endpoint.component not in SETTINGS:
        return []
    server = endpoint.server.name
    cmdlet, services = SETTINGS[endpoint.component]
    name = cmdlet[4:8].upper()
    settings = Command(
        cmdlet,
        (
            ("Server", Text(server, "the server's name")),
            ("X509CertificateName", Host(host, "the host name clients use")),
        ),
    )
    restart = restart_remotely(
        endpoint.server.fqdn,
        Command("Restart-Service", (("Name", Values(tuple(Text(s) for s in services))),)),
    )
    return [
        run(
            StepKind.COMMAND,
            (settings,),
            f"{server}: {cmdlet[4:]} picks the certificate that names {host}",
            addresses=answers,
            server=server,
        ),
        run(
            StepKind.IIS,
            (restart,),
            f"{server}: the {name} services read the certificate at start",
            addresses=answers,
            server=server,
        ),
    ]


def mail_steps(verdict: EndpointVerdict) -> list[Step]:
    """SMTP, IMAP, POP: a certificate that names the host clients are given, enabled
    for the service (and named where Exchange picks it by name). Advice: which
    certificate is the admin's choice unless the plan binds one another server has."""
    endpoint = verdict.probe.endpoint
    leaf = verdict.leaf
    wrong_name = verdict.checks[Check.NAME_MATCH].ok is False
    if leaf is None or endpoint.target is None or not (wrong_name or verdict.out_of_date):
        return []
    server, host = endpoint.server.name, endpoint.target.host
    service = services_for(endpoint.component)
    expired = verdict.checks[Check.DATE_VALID].ok is False
    why = (
        "does not name"
        if wrong_name
        else (
            "has expired; renew one that names" if expired else "expires soon; renew one that names"
        )
    )
    checks = [
        c
        for c, bad in (
            ("name_match", wrong_name),
            ("date_valid", expired),
            ("expiry", verdict.expiring),
        )
        if bad
    ]
    find = Command("Get-ExchangeCertificate", (("Server", Text(server, "the server's name")),))
    steps = [
        advise(
            "The {} certificate on {} ({}) {} {}: find or request one that does ({}), then {}",
            service,
            server,
            leaf.thumbprint,
            why,
            host,
            find,
            enable_command(server, NEW_THUMBPRINT, service),
            comment=f"{server} {endpoint.component.value}: clients connect to {host}",
            addresses=tuple(finding(verdict, c) for c in checks),
            server=server,
        )
    ]
    if endpoint.component in SETTINGS:
        # Without a certificate to bind, these run after the admin's Enable: advice
        # too (the what-if cannot see a certificate only the admin will choose).
        settings, restart = certificate_name_steps(endpoint, host, steps[0].addresses)
        steps.append(
            advise(
                "Then make {} pick it by the name clients use: {}; and restart its "
                "services, which read the certificate at start: {}",
                service,
                settings.text,
                restart.text,
                comment=settings.comment,
                addresses=steps[0].addresses,
                server=server,
            )
        )
    smtp = endpoint.component in (Component.SMTP, Component.SMTP_SUBMISSION)
    if smtp and endpoint.tls_certificate_name:
        steps.append(connector_step(endpoint))
    return steps


def connector_step(endpoint: Endpoint, thumbprint: Text | Placeholder = NEW_THUMBPRINT) -> Step:
    """A receive connector that names its certificate must name the new one: advice
    while the new one is the admin's choice, a command once ``thumbprint`` is known
    (preflight's deployment plan)."""
    connector = connector_identity(endpoint)
    server = endpoint.server.name
    find = Command(
        "Get-ExchangeCertificate",
        (("Server", Text(server, "the server's name")), ("Thumbprint", thumbprint)),
    )
    name_it = Command(
        "Set-ReceiveConnector",
        (
            ("Identity", Text(connector, "the receive connector")),
            (
                "TlsCertificateName",
                Concat((Text("<I>"), Var("c", "Issuer"), Text("<S>"), Var("c", "Subject"))),
            ),
        ),
    )
    if not isinstance(thumbprint, Placeholder):
        return run(
            StepKind.COMMAND,
            (Assign("c", find), name_it),
            f"{connector}: name the new certificate (its TlsCertificateName names the old one)",
            server=server,
        )
    return advise(
        "The receive connector {} names its certificate ({}): name the new one, {}; {}; "
        'in hybrid do the same on the send connector "Outbound to Office 365" '
        "(Set-SendConnector) or run the Hybrid Configuration Wizard again",
        connector,
        endpoint.tls_certificate_name or "",
        Assign("c", find),
        name_it,
        comment=f"{connector}: TlsCertificateName still names the old certificate",
        server=server,
    )


def backend_steps(verdict: EndpointVerdict) -> list[Step]:
    """The Exchange Back End site's self-signed certificate, expiring or expired."""
    leaf = expiring(verdict)
    if leaf is None:
        return []
    server = verdict.probe.endpoint.server
    expired = verdict.checks[Check.DATE_VALID].ok is False
    return [
        advise(
            "Renew the Exchange Back End certificate on {} ({}, {} {}): create "
            "a new self-signed certificate for {} and {} with {}, then in IIS Manager on "
            "{} select it for the 'Exchange Back End' site's https binding on port 444; "
            "OWA, ECP, EWS and MAPI fail for every user once it expires",
            server.name,
            leaf.thumbprint,
            "expired on" if expired else "valid until",
            f"{leaf.not_after:%Y-%m-%d}",
            server.name,
            server.fqdn,
            Command(
                "New-ExchangeCertificate", (("Server", Text(server.name, "the server's name")),)
            ),
            server.name,
            comment=f"{server.name}: back end certificate",
            addresses=date_findings(verdict),
            server=server.name,
        )
    ]


def date_findings(verdict: EndpointVerdict) -> tuple[Finding, ...]:
    out = []
    if verdict.checks[Check.DATE_VALID].ok is False:
        out.append(finding(verdict, "date_valid"))
    if verdict.expiring:
        out.append(finding(verdict, "expiry"))
    return tuple(out)


def expiring(verdict: EndpointVerdict) -> CertificateFacts | None:
    """The leaf when it is out of date or inside the expiry thresholds."""
    return verdict.leaf if verdict.out_of_date else None
