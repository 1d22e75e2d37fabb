"""The rotation of the organisation's Auth certificate, as Microsoft Learn's
"Maintain (rotate) the Exchange Server Auth certificate" does it:
``New-ExchangeCertificate ... -SubjectName "cn=Microsoft Exchange Server Auth
Certificate" -DomainName @()``, ``Set-AuthConfig -NewCertificateThumbprint
-NewCertificateEffectiveDate``, ``-PublishCertificate``, ``-ClearPreviousCertificate``,
then the OWA and ECP app pools on each server, and in hybrid the Hybrid
Configuration Wizard. The what-if models it as a fresh certificate
(``whatif.RotateAuth``).
"""

from __future__ import annotations

from exporter.evaluate.verdict import EndpointVerdict
from exporter.remediation.command import (
    SWITCH,
    Assign,
    Command,
    Compare,
    Flag,
    Number,
    Sub,
    Text,
    Thumbprint,
    Values,
    Var,
)
from exporter.remediation.kb940726 import recycle_app_pools
from exporter.remediation.steps import Step, StepKind, advise, run
from exporter.remediation.surfaces import date_findings, expiring

AUTH_SUBJECT = "cn=Microsoft Exchange Server Auth Certificate"
AUTH_NAME = "Microsoft Exchange Server Auth Certificate"
_AUTH_POOLS = ("MSExchangeOWAAppPool", "MSExchangeECPAppPool")


def auth_steps(verdict: EndpointVerdict) -> list[Step]:
    """Rotate the organisation's Auth certificate (Microsoft Learn's procedure). The
    rotation is one guarded step, run once for the organisation however many
    servers report the certificate: it is done once the current certificate is no
    longer the old one."""
    leaf = expiring(verdict)
    if leaf is None:
        return []
    server = verdict.probe.endpoint.server
    answers = date_findings(verdict)
    rotation = (
        _assign_new_auth_certificate(),
        Command(
            "Set-AuthConfig",
            (
                ("NewCertificateThumbprint", Var("auth", "Thumbprint")),
                ("NewCertificateEffectiveDate", Sub(Command("Get-Date"))),
            ),
        ),
        Command("Set-AuthConfig", (("PublishCertificate", SWITCH),)),
        Command("Set-AuthConfig", (("ClearPreviousCertificate", SWITCH),)),
    )
    current = Sub(Command("Get-AuthConfig"), "CurrentCertificateThumbprint")
    return [
        run(
            StepKind.COMMAND,
            rotation,
            f"rotate the Auth certificate ({leaf.thumbprint}, valid until "
            f"{leaf.not_after:%Y-%m-%d}) for the organisation; answer No when asked to "
            "replace the default SMTP certificate",
            done=Compare(current, "-ne", Thumbprint(leaf.thumbprint)),
            addresses=answers,
        ),
        run(
            StepKind.IIS,
            (recycle_app_pools(server.fqdn, *_AUTH_POOLS),),
            f"OWA and ECP on {server.name} sign in with the new certificate",
            addresses=answers,
            server=server.name,
        ),
        advise(
            "In hybrid, run the Hybrid Configuration Wizard again so Exchange Online "
            "trusts the new Auth certificate",
            comment="hybrid only",
        ),
    ]


def _assign_new_auth_certificate() -> Assign:
    return Assign(
        "auth",
        Command(
            "New-ExchangeCertificate",
            (
                ("KeySize", Number(2048)),
                ("PrivateKeyExportable", Flag(True)),
                ("SubjectName", Text(AUTH_SUBJECT)),
                ("FriendlyName", Text(AUTH_NAME)),
                ("DomainName", Values(())),
            ),
        ),
    )
