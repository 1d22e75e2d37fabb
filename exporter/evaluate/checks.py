"""The date check, the expiry judgement and the DNS check: small pure functions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from exporter.certfacts import CertificateFacts
from exporter.evaluate.outcome import Outcome, Reason, Status
from exporter.probe.results import DnsAnswer, DnsReason


def evaluate_date(leaf: CertificateFacts, now: dt.datetime) -> Outcome:
    """Outlook's "date is valid": now lies within the leaf's validity."""
    if now < leaf.not_before:
        return Outcome.failed(
            Reason.NOT_YET_VALID, f"the certificate is not valid before {iso(leaf.not_before)}"
        )
    if now > leaf.not_after:
        return Outcome.failed(Reason.EXPIRED, f"the certificate expired on {iso(leaf.not_after)}")
    return Outcome.passed()


def evaluate_expiry(
    leaf_not_after: dt.datetime,
    chain_not_after: dt.datetime,
    now: dt.datetime,
    warning: float,
    critical: float,
) -> Expiry:
    """Status from the time left on the leaf and, when something in the chain expires
    earlier than the leaf, on that certificate. The leaf wins a tie in severity."""
    candidates = [(leaf_not_after, Reason.EXPIRES_SOON, "the certificate")]
    if chain_not_after < leaf_not_after:
        candidates.append(
            (chain_not_after, Reason.CHAIN_EXPIRES_SOON, "a certificate in the chain")
        )
    worst = NOT_EXPIRING
    for when, reason, what in candidates:
        left = (when - now).total_seconds()
        if left < 0:
            continue  # already expired: the date or issuer check reports it
        status = (
            Status.CRITICAL
            if left <= critical
            else Status.WARNING
            if left <= warning
            else Status.OK
        )
        if status.rank > worst.status.rank:
            message = f"{what} expires in {left / 86400:.1f} days ({iso(when)})"
            worst = Expiry(status, Outcome.failed(reason, message))
    return worst


@dataclass(frozen=True)
class Expiry:
    """The expiry judgement: an Outcome like the checks' (``ok`` False with
    ``expires_soon`` or ``chain_expires_soon`` inside a threshold; None without a
    certificate), and the status that threshold gives."""

    status: Status
    outcome: Outcome


NOT_EXPIRING = Expiry(Status.OK, Outcome.passed())
NO_CERTIFICATE = Expiry(Status.OK, Outcome.not_judged())


def evaluate_validity(leaf: CertificateFacts, max_validity: float) -> tuple[Outcome, ...]:
    """Hygiene: a leaf valid for longer than public CAs issue (398 days since 2020 by
    the CA/Browser Forum's Baseline Requirements; 200 from March 2026). Outlook does
    not care under an enterprise root; an admin planning renewals should. Empty when
    fine or when ``max_validity`` is 0 (off)."""
    days = (leaf.not_after - leaf.not_before).total_seconds() / 86400
    if not max_validity or days * 86400 <= max_validity:
        return ()
    limit = max_validity / 86400
    return (
        Outcome.failed(
            Reason.LONG_VALIDITY,
            f"the certificate is valid for {days:.0f} days, longer than the {limit:.0f} "
            "public CAs issue at most (thresholds.max_validity): plan a shorter validity "
            "at the next renewal",
        ),
    )


def evaluate_dns(url_dns: DnsAnswer, server_addresses: tuple[str, ...], server: str) -> Outcome:
    """True when the URL's host resolves and one address belongs to the server; None
    (with the reason) when the lookup could not be made."""
    if url_dns.reason is DnsReason.NXDOMAIN:
        return Outcome.failed(Reason.NXDOMAIN, f"{url_dns.name} does not exist in internal DNS")
    if url_dns.reason is DnsReason.NO_ADDRESS:
        return Outcome.failed(Reason.NO_ADDRESS, f"{url_dns.name} has no A or AAAA record")
    # The lookup itself failed: whether the record exists is unknown, not "missing"
    # (a DNS outage must never print a command that adds a record that exists).
    if url_dns.reason is DnsReason.TIMEOUT:
        return Outcome.not_judged(Reason.DNS_TIMEOUT, f"{url_dns.name}: {url_dns.detail}")
    if url_dns.reason is DnsReason.ERROR:
        return Outcome.not_judged(Reason.DNS_ERROR, f"{url_dns.name}: {url_dns.detail}")
    if not server_addresses:
        return Outcome.not_judged(
            Reason.SERVER_ADDRESS_UNKNOWN, f"the addresses of {server} are unknown"
        )
    if set(url_dns.addresses) & set(server_addresses):
        return Outcome.passed()
    return Outcome.failed(
        Reason.POINTS_ELSEWHERE,
        f"{url_dns.name} resolves to {', '.join(url_dns.addresses)}, "
        f"not to {server} ({', '.join(server_addresses)})",
    )


def iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
