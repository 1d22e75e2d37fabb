"""Fixes for the chain checks (an untrusted issuer, an incomplete chain, the wrong
usage, revocation) and advice for the hygiene advisories. Pure, like the rest of
remediation."""

from __future__ import annotations

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Check, Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.model import Endpoint
from exporter.remediation.steps import Step, StepKind
from exporter.remediation.surfaces import services_for


def chain_steps(verdict: EndpointVerdict) -> list[Step]:
    endpoint = verdict.probe.endpoint
    leaf = verdict.leaf
    steps: list[Step] = []
    issuer = verdict.checks[Check.ISSUER_TRUSTED]
    if issuer.ok is False and issuer.reason is not None:
        steps.append(_issuer_step(endpoint, issuer.reason, leaf))
    if verdict.checks[Check.CHAIN_COMPLETE].ok is False:
        steps.append(_issuer_step(endpoint, Reason.INCOMPLETE_CHAIN, leaf))
    revocation = verdict.checks[Check.NOT_REVOKED]
    if revocation.reason is not None and leaf is not None:
        steps.append(_revocation_step(endpoint, revocation.reason, leaf))
    newest = verdict.newest_in_namespace
    if verdict.checks[Check.CONSISTENT].ok is False and newest is not None:
        server = endpoint.server.name
        steps.append(
            Step(
                StepKind.COMMAND,
                f"Enable-ExchangeCertificate -Server {server} -Thumbprint {newest.thumbprint} "
                f"-Services {services_for(endpoint.component)}",
                f"{server}: serve the namespace's newest certificate, as the other servers "
                f"do (import it first with Import-ExchangeCertificate -Server {server} if "
                "it is not on this server)",
            )
        )
    return steps


def _issuer_step(endpoint: Endpoint, reason: Reason, leaf: CertificateFacts | None) -> Step:
    server = endpoint.server.name
    thumb = leaf.thumbprint if leaf else "<thumbprint>"
    if reason is Reason.SELF_SIGNED:
        text = (
            f"Replace the self-signed certificate on {server}: request one from your "
            f"enterprise or a public CA for the names clients use, import it with "
            f"Import-ExchangeCertificate -Server {server}, then "
            f"Enable-ExchangeCertificate -Server {server} -Thumbprint <new thumbprint> "
            f"-Services {services_for(endpoint.component)}"
        )
    elif reason is Reason.INCOMPLETE_CHAIN:
        text = (
            f"Install the issuing intermediate CA certificate on {server} "
            f"(Import-Certificate -FilePath <intermediate.cer> "
            f"-CertStoreLocation Cert:\\LocalMachine\\CA) and restart IIS (iisreset) "
            f"so the server sends the whole chain"
        )
    elif reason is Reason.WRONG_USAGE:
        text = (
            f"Certificate {thumb} on {server} (or a CA above it) is not valid for server "
            "authentication: request a new one from a template whose Application Policies "
            "include Server Authentication (the Web Server template), from a CA allowed to "
            f"issue it, import it with Import-ExchangeCertificate -Server {server}, then "
            f"Enable-ExchangeCertificate -Server {server} -Thumbprint <new thumbprint> "
            f"-Services {services_for(endpoint.component)}"
        )
    elif reason in (Reason.UNTRUSTED_ROOT, Reason.UNKNOWN_ISSUER):
        text = (
            "Distribute the issuing root CA to domain-joined clients through Group Policy: "
            "certutil -dspublish -f <root-ca.cer> RootCA (or Computer Configuration > "
            "Windows Settings > Security Settings > Public Key Policies > Trusted Root "
            "Certification Authorities)"
        )
    else:
        text = (
            f"Check the chain of certificate {thumb} on {server} with "
            f"certutil -verify -urlfetch and replace what is invalid"
        )
    return Step(StepKind.ADVICE, text, f"{server}: the issuer is not trusted ({reason.value})")


def _revocation_step(endpoint: Endpoint, reason: Reason, leaf: CertificateFacts) -> Step:
    server = endpoint.server.name
    if reason is Reason.REVOKED:
        return Step(
            StepKind.ADVICE,
            f"A certificate of the chain {server} sends is revoked: request a new certificate "
            f"for {server} from a CA that is not revoked, import it with "
            f"Import-ExchangeCertificate -Server {server}, then Enable-ExchangeCertificate "
            f"-Server {server} -Thumbprint <new thumbprint> -Services "
            f"{services_for(endpoint.component)}, and remove "
            f"{leaf.thumbprint}",
            f"{server}: revoked certificate",
        )
    return Step(
        StepKind.ADVICE,
        "On the CA that issued the chain, publish a fresh CRL (certutil -crl) and make "
        "its CRL distribution points reachable from clients; check with certutil -verify "
        f"-urlfetch on certificate {leaf.thumbprint}. Exchange marks the certificate "
        "RevocationCheckFailure until it can check",
        f"{server}: revocation could not be checked ({reason.value})",
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
        Step(
            StepKind.ADVICE,
            f"When certificate {leaf.thumbprint} on {server} (or the CA above it) is next "
            f"renewed, issue it with {' and '.join(wanted)}: Outlook accepts it today, "
            "public CAs and stricter clients do not",
            f"{server}: certificate hygiene",
        )
    ]
