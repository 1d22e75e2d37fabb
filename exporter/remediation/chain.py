"""Advice for the chain checks (an untrusted issuer, an incomplete chain, the wrong
usage, revocation), for a certificate that needs renewing, and for the hygiene
advisories. Pure, like the rest of remediation. Binding a certificate another
server holds is the plan's (remediation/plan.py), proven before it is printed;
what is here needs a person: a new certificate, a CA, a Group Policy.
"""

from __future__ import annotations

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Endpoint
from exporter.remediation.command import (
    SWITCH,
    Command,
    Number,
    Pipeline,
    Placeholder,
    Sub,
    Text,
    Thumbprint,
    Values,
)
from exporter.remediation.steps import Step, advise, finding


def enable_command(server: str, thumbprint: Text | Placeholder, *services: str) -> Command:
    return Command(
        "Enable-ExchangeCertificate",
        (
            ("Server", Text(server, "the server's name")),
            ("Thumbprint", thumbprint),
            ("Services", Values(tuple(Text(s) for s in services))),
        ),
    )


def certificate_present(server: str, thumbprint: str) -> Sub:
    """The guard of an import: the certificate is on ``server`` already."""
    return Sub(
        Command(
            "Get-ExchangeCertificate",
            (
                ("Server", Text(server, "the server's name")),
                ("Thumbprint", Thumbprint(thumbprint)),
                ("ErrorAction", Text("SilentlyContinue")),
            ),
        )
    )


def import_example(server: str) -> Command:
    return Command(
        "Import-ExchangeCertificate",
        (
            ("Server", Text(server, "the server's name")),
            ("FileData", Placeholder("the .pfx file's bytes")),
            ("Password", Placeholder("its password")),
        ),
    )


NEW_THUMBPRINT = Placeholder("new thumbprint")


def chain_steps(verdict: EndpointVerdict) -> list[Step]:
    leaf = verdict.leaf
    steps: list[Step] = []
    issuer = verdict.checks[Check.ISSUER_TRUSTED]
    if issuer.ok is False and issuer.reason is not None:
        steps.append(_issuer_step(verdict, issuer.reason, leaf))
    if verdict.checks[Check.CHAIN_COMPLETE].ok is False:
        steps.append(_issuer_step(verdict, Reason.INCOMPLETE_CHAIN, leaf))
    revocation = verdict.checks[Check.NOT_REVOKED]
    if revocation.reason is not None and leaf is not None:
        steps.append(_revocation_step(verdict, revocation.reason, leaf))
    return steps


def _replace_with_new(endpoint: Endpoint) -> tuple[Command, Command]:
    server, service = endpoint.server.name, endpoint.component.service or "IIS"
    return import_example(server), enable_command(server, NEW_THUMBPRINT, service)


def _issuer_step(verdict: EndpointVerdict, reason: Reason, leaf: CertificateFacts | None) -> Step:
    endpoint = verdict.probe.endpoint
    server = endpoint.server.name
    thumb = leaf.thumbprint if leaf else "(none)"
    check = "chain_complete" if reason is Reason.INCOMPLETE_CHAIN else "issuer_trusted"
    comment = f"{server}: the issuer is not trusted ({reason.value})"
    addresses = (finding(verdict, check),)
    if reason is Reason.SELF_SIGNED:
        return advise(
            "Replace the self-signed certificate on {}: request one from your enterprise "
            "or a public CA for the names clients use, import it with {}, then {}",
            server,
            *_replace_with_new(endpoint),
            comment=comment,
            addresses=addresses,
        )
    if reason is Reason.INCOMPLETE_CHAIN:
        install = Command(
            "Import-Certificate",
            (
                ("FilePath", Placeholder("intermediate.cer")),
                ("CertStoreLocation", Text("Cert:\\LocalMachine\\CA")),
            ),
        )
        return advise(
            "Install the issuing intermediate CA certificate on {} ({}) and restart IIS "
            "(iisreset) so the server sends the whole chain",
            server,
            install,
            comment=comment,
            addresses=addresses,
        )
    if reason is Reason.WRONG_USAGE:
        return advise(
            "Certificate {} on {} (or a CA above it) is not valid for server "
            "authentication: request a new one from a template whose Application Policies "
            "include Server Authentication (the Web Server template), from a CA allowed to "
            "issue it, import it with {}, then {}",
            thumb,
            server,
            *_replace_with_new(endpoint),
            comment=comment,
            addresses=addresses,
        )
    if reason in (Reason.UNTRUSTED_ROOT, Reason.UNKNOWN_ISSUER):
        return advise(
            "Distribute the issuing root CA to domain-joined clients through Group Policy: "
            "certutil -dspublish -f <root-ca.cer> RootCA (or Computer Configuration > "
            "Windows Settings > Security Settings > Public Key Policies > Trusted Root "
            "Certification Authorities)",
            comment=comment,
            addresses=addresses,
        )
    return advise(
        "Check the chain of certificate {} on {} with certutil -verify -urlfetch and "
        "replace what is invalid",
        thumb,
        server,
        comment=comment,
        addresses=addresses,
    )


def _revocation_step(verdict: EndpointVerdict, reason: Reason, leaf: CertificateFacts) -> Step:
    endpoint = verdict.probe.endpoint
    server = endpoint.server.name
    addresses = (finding(verdict, "not_revoked"),)
    if reason is Reason.REVOKED:
        return advise(
            "A certificate of the chain {} sends is revoked: request a new certificate for "
            "{} from a CA that is not revoked, import it with {}, then {}, and remove {}",
            server,
            server,
            *_replace_with_new(endpoint),
            leaf.thumbprint,
            comment=f"{server}: revoked certificate",
            addresses=addresses,
        )
    return advise(
        "On the CA that issued the chain, publish a fresh CRL (certutil -crl) and make "
        "its CRL distribution points reachable from clients; check with certutil -verify "
        "-urlfetch on certificate {}. Exchange marks the certificate "
        "RevocationCheckFailure until it can check",
        leaf.thumbprint,
        comment=f"{server}: revocation could not be checked ({reason.value})",
        addresses=addresses,
    )


def renew_step(verdict: EndpointVerdict) -> Step | None:
    """Advice to renew the leaf (or the chain) when it is out of date or expiring
    and the plan binds nothing healthier in its place."""
    endpoint, leaf = verdict.probe.endpoint, verdict.leaf
    if leaf is None or not verdict.out_of_date:
        return None
    server = endpoint.server.name
    addresses = tuple(
        finding(verdict, check)
        for check, failed in (
            ("date_valid", verdict.checks[Check.DATE_VALID].ok is False),
            ("expiry", verdict.expiring),
        )
        if failed
    )
    if verdict.expiry.reason is Reason.CHAIN_EXPIRES_SOON:
        return advise(
            "An intermediate or root certificate in the chain {} sends expires soon: "
            "install its renewed CA certificate on {} (Cert:\\LocalMachine\\CA) or "
            "re-issue certificate {} from a current CA",
            server,
            server,
            leaf.thumbprint,
            comment=f"{server}: chain certificate expiring",
            addresses=addresses,
        )
    expired = verdict.checks[Check.DATE_VALID].reason is Reason.EXPIRED
    request = Pipeline(
        (
            Command(
                "Get-ExchangeCertificate",
                (
                    ("Server", Text(server, "the server's name")),
                    ("Thumbprint", Thumbprint(leaf.thumbprint)),
                ),
            ),
            Command(
                "New-ExchangeCertificate",
                (("GenerateRequest", SWITCH), ("KeySize", Number(2048))),
            ),
        )
    )
    service = endpoint.component.service or "IIS"
    return advise(
        "Renew certificate {} on {}, which {}: request a new one from your CA ({}), then {}",
        leaf.thumbprint,
        server,
        "has expired" if expired else "expires soon",
        request,
        enable_command(server, NEW_THUMBPRINT, service),
        comment=f"{server}: certificate valid until {leaf.not_after:%Y-%m-%d}",
        addresses=addresses,
    )


def hygiene_steps(verdict: EndpointVerdict) -> list[Step]:
    """Advice for the advisories: for the next renewal, so it comes after every fix."""
    endpoint, leaf = verdict.probe.endpoint, verdict.leaf
    server = endpoint.server.name
    codes = dict.fromkeys(a.reason for a in verdict.advisories)
    what = {
        Reason.WEAK_SIGNATURE: "a SHA-256 signature",
        Reason.WEAK_KEY: "a 2048-bit key",
        Reason.LONG_VALIDITY: "a validity public CAs would give it",
    }
    wanted = [what[c] for c in codes if c in what]
    if not wanted or leaf is None:
        return []
    return [
        advise(
            "When certificate {} on {} (or the CA above it) is next renewed, issue it with "
            "{}: Outlook accepts it today, public CAs and stricter clients do not",
            leaf.thumbprint,
            server,
            " and ".join(wanted),
            comment=f"{server}: certificate hygiene",
            addresses=tuple(finding(verdict, f"advisory:{c.value}") for c in codes if c),
        )
    ]
