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
- The Auth certificate's rotation: Microsoft Learn, "Maintain (rotate) the Exchange
  Server Auth certificate" (New-ExchangeCertificate ... "cn=Microsoft Exchange Server
  Auth Certificate", Set-AuthConfig -NewCertificateThumbprint/-NewCertificateEffectiveDate,
  -PublishCertificate, -ClearPreviousCertificate, the OWA and ECP app pools).
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
from exporter.remediation.kb940726 import ps_quote
from exporter.remediation.steps import Step, StepKind

# Enable-ExchangeCertificate's -Services value, by component.
SERVICES = {
    Component.SMTP: "SMTP",
    Component.SMTP_SUBMISSION: "SMTP",
    Component.IMAP: "IMAP",
    Component.POP: "POP",
}
_SETTINGS = {
    Component.IMAP: ("Set-ImapSettings", "MSExchangeIMAP4,MSExchangeIMAP4BE"),
    Component.POP: ("Set-PopSettings", "MSExchangePOP3,MSExchangePOP3BE"),
}
AUTH_SUBJECT = "cn=Microsoft Exchange Server Auth Certificate"
AUTH_NAME = "Microsoft Exchange Server Auth Certificate"
_AUTH_POOLS = ("MSExchangeOWAAppPool", "MSExchangeECPAppPool")


def services_for(component: Component) -> str:
    """What ``Enable-ExchangeCertificate -Services`` takes for this component."""
    return SERVICES.get(component, "IIS")


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


def mail_steps(verdict: EndpointVerdict) -> list[Step]:
    """SMTP, IMAP, POP: a certificate that names the host clients are given, enabled
    for the service (and named where Exchange picks it by name)."""
    endpoint = verdict.probe.endpoint
    leaf = verdict.leaf
    wrong_name = verdict.checks[Check.NAME_MATCH].ok is False
    if leaf is None or endpoint.target is None or not (wrong_name or expiring(verdict)):
        return []
    server, host = endpoint.server.name, endpoint.target.host
    service = services_for(endpoint.component)
    why = "does not name" if wrong_name else "expires or has expired; renew one that names"
    steps = [
        Step(
            StepKind.ADVICE,
            f"The {service} certificate on {server} ({leaf.thumbprint}) {why} {host}: "
            f"find or request one that does (Get-ExchangeCertificate -Server {server}), "
            f"then Enable-ExchangeCertificate -Server {server} -Thumbprint <thumbprint> "
            f"-Services {service}",
            f"{server} {endpoint.component.value}: clients connect to {host}",
        )
    ]
    if endpoint.component in _SETTINGS:
        cmdlet, services = _SETTINGS[endpoint.component]
        steps.append(
            Step(
                StepKind.COMMAND,
                f"{cmdlet} -Server {ps_quote(server)} -X509CertificateName {host}",
                f"{server}: {cmdlet[4:]} picks the certificate that names {host}",
            )
        )
        steps.append(
            Step(
                StepKind.COMMAND,
                f"Invoke-Command -ComputerName {endpoint.server.fqdn} -ScriptBlock "
                f"{{ Restart-Service {services} }}",
                f"{server}: the {cmdlet[4:8].upper()} services read the certificate at start",
            )
        )
    smtp = endpoint.component in (Component.SMTP, Component.SMTP_SUBMISSION)
    if smtp and endpoint.tls_certificate_name:
        steps.append(_connector_step(endpoint))
    return steps


def _connector_step(endpoint: Endpoint) -> Step:
    connector = connector_identity(endpoint)
    return Step(
        StepKind.ADVICE,
        f"The receive connector {connector} names its certificate "
        f"({endpoint.tls_certificate_name}): name the new one, "
        f"$c = Get-ExchangeCertificate -Server {endpoint.server.name} -Thumbprint <thumbprint>; "
        f"Set-ReceiveConnector {ps_quote(connector)} -TlsCertificateName "
        '"<I>$($c.Issuer)<S>$($c.Subject)"'
        '; in hybrid do the same on the send connector "Outbound to Office 365" '
        "(Set-SendConnector) or run the Hybrid Configuration Wizard again",
        f"{connector}: TlsCertificateName still names the old certificate",
    )


def backend_steps(verdict: EndpointVerdict) -> list[Step]:
    """The Exchange Back End site's self-signed certificate, expiring or expired."""
    leaf = expiring(verdict)
    if leaf is None:
        return []
    server = verdict.probe.endpoint.server
    return [
        Step(
            StepKind.ADVICE,
            f"Renew the Exchange Back End certificate on {server.name} ({leaf.thumbprint}, "
            f"valid until {leaf.not_after:%Y-%m-%d}): create a new self-signed certificate "
            f"for {server.name} and {server.fqdn} with New-ExchangeCertificate -Server "
            f"{server.name}, then in IIS Manager on {server.name} select it for the "
            "'Exchange Back End' site's https binding on port 444; OWA, ECP, EWS and "
            "MAPI fail for every user once it expires",
            f"{server.name}: back end certificate",
        )
    ]


def auth_steps(verdict: EndpointVerdict) -> list[Step]:
    """Rotate the organisation's Auth certificate (Microsoft Learn's procedure). The
    rotation is one guarded step, run once for the organisation however many
    servers report the certificate: it is done once the current certificate is no
    longer the old one."""
    leaf = expiring(verdict)
    if leaf is None:
        return []
    server = verdict.probe.endpoint.server
    rotation = "; ".join(
        (
            f"$auth = New-ExchangeCertificate -KeySize 2048 -PrivateKeyExportable $true "
            f'-SubjectName "{AUTH_SUBJECT}" -FriendlyName "{AUTH_NAME}" -DomainName @()',
            "Set-AuthConfig -NewCertificateThumbprint $auth.Thumbprint "
            "-NewCertificateEffectiveDate (Get-Date)",
            "Set-AuthConfig -PublishCertificate",
            "Set-AuthConfig -ClearPreviousCertificate",
        )
    )
    pools = "; ".join(f"Restart-WebAppPool -Name {pool}" for pool in _AUTH_POOLS)
    return [
        Step(
            StepKind.COMMAND,
            rotation,
            f"rotate the Auth certificate ({leaf.thumbprint}, valid until "
            f"{leaf.not_after:%Y-%m-%d}) for the organisation; answer No when asked to "
            "replace the default SMTP certificate",
            guard=f'(Get-AuthConfig).CurrentCertificateThumbprint -ne "{leaf.thumbprint}"',
        ),
        Step(
            StepKind.IIS,
            f"Invoke-Command -ComputerName {server.fqdn} -ScriptBlock "
            f"{{ Import-Module WebAdministration; {pools} }}",
            f"OWA and ECP on {server.name} sign in with the new certificate",
        ),
        Step(
            StepKind.ADVICE,
            "In hybrid, run the Hybrid Configuration Wizard again so Exchange Online "
            "trusts the new Auth certificate",
            "hybrid only",
        ),
    ]


def expiring(verdict: EndpointVerdict) -> CertificateFacts | None:
    """The leaf when it is out of date or inside the expiry thresholds."""
    return verdict.leaf if verdict.out_of_date else None
