"""The fix when a client family refuses a certificate Outlook accepts
(``client_rejects``, evaluate/clients.py): for a rule about the leaf, the request
for a certificate every family accepts (every name in the subject alternative
names, a 2048-bit key; SHA-256 and the validity are the CA's, so the advice says
which limit applies); for an issuing CA's SHA-1 signature or short key, re-issue
that CA: no request for a leaf fixes it.
"""

from __future__ import annotations

from exporter.evaluate.clients import APPLE_MAX_DAYS, PUBLIC_MAX_DAYS, WHO, Family
from exporter.evaluate.outcome import Reason
from exporter.evaluate.verdict import EndpointVerdict
from exporter.hostnames import is_fqdn
from exporter.remediation.command import SWITCH, Command, Flag, Host, Number, Text, Values
from exporter.remediation.steps import Step, advise, finding

_CA_RULES = (Reason.WEAK_SIGNATURE, Reason.WEAK_KEY)


def client_steps(verdict: EndpointVerdict) -> list[Step]:
    rejects = verdict.client_rejects
    leaf, target = verdict.leaf, verdict.probe.endpoint.target
    if rejects.ok is not False or leaf is None or target is None:
        return []
    server = verdict.probe.endpoint.server.name
    refused = [
        (Family(name), r)
        for name, v in verdict.clients.items()
        for r in v.reasons
        if r.reason
        in (*_CA_RULES, Reason.NO_SAN, Reason.NO_SERVER_AUTH_EKU, Reason.VALIDITY_TOO_LONG)
    ]
    on_ca = [
        r for _, r in refused if r.reason in _CA_RULES and not _about_leaf(r.message, leaf.subject)
    ]
    answers = (finding(verdict, "clients"),)
    steps: list[Step] = []
    if any(r not in on_ca for _, r in refused):
        names = [n for n in dict.fromkeys([target.host, *leaf.dns_names]) if is_fqdn(n)]
        request = Command(
            "New-ExchangeCertificate",
            (
                ("GenerateRequest", SWITCH),
                ("SubjectName", Text(f"cn={names[0] if names else target.host}", "the subject")),
                ("DomainName", Values(tuple(Host(n) for n in names))),
                ("KeySize", Number(2048)),
                ("PrivateKeyExportable", Flag(True)),
            ),
        )
        families = {f for f, _ in refused}
        limit = f"at most {PUBLIC_MAX_DAYS} days from a public CA" + (
            f", {APPLE_MAX_DAYS} from your own" if Family.APPLE in families else ""
        )
        who = " and ".join(WHO[f] for f in sorted(families))
        codes = ", ".join(dict.fromkeys(r.reason.value for _, r in refused if r.reason))
        steps.append(
            advise(
                "Certificate {} on {} is refused by {} ({}): request one every client "
                "accepts, {}, signed with SHA-256 by the CA and valid for {}, then bind it",
                leaf.thumbprint,
                server,
                who,
                codes,
                request,
                limit,
                comment=f"{server}: a certificate every client accepts",
                addresses=answers,
                server=server,
            )
        )
    for outcome in on_ca:
        steps.append(
            advise(
                "{}: re-issue that CA certificate with SHA-256 and a 2048-bit key (or more) "
                "and install it where the chain is sent; no new leaf fixes it while the CA "
                "above it is refused",
                outcome.message or "",
                comment=f"{server}: an issuing CA clients refuse",
                addresses=answers,
                server=server,
            )
        )
    return steps


def _about_leaf(message: str | None, subject: str) -> bool:
    return bool(message) and bool(subject) and (message or "").startswith(subject)
