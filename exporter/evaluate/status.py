"""An endpoint's status from its outcomes, and which outcomes count against it
(the findings the plan answers and its what-if compares). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exporter.evaluate.outcome import Check, Outcome, Reason, Status, worst

if TYPE_CHECKING:
    from exporter.evaluate.verdict import EndpointVerdict

# False, yet Outlook goes on: a chain Windows completes over AIA; a namespace whose
# servers present different certificates (the old one expires by surprise).
_WARN_WHEN_FALSE = {Check.CHAIN_COMPLETE, Check.CONSISTENT}
# Not judged, yet worth a warning: Outlook goes on, but something is wrong
# (Exchange marks the certificate RevocationCheckFailure; ../shared/WINDOWS-TRUST.md),
# or the exporter could not ask (the internal DNS did not answer). By check: a
# reason can mean "not judged, and fine" on another (dns_match is null with
# server_address_unknown when only the server's own name does not resolve).
_WARN_WHEN_UNKNOWN = {
    (Check.PROBE_OK, Reason.PLAIN_HTTP),
    (Check.PROBE_OK, Reason.NO_INTERNAL_URL),
    (Check.PROBE_OK, Reason.SERVER_ADDRESS_UNKNOWN),  # null only when DNS did not answer
    (Check.NOT_REVOKED, Reason.REVOCATION_UNAVAILABLE),
    (Check.NOT_REVOKED, Reason.CRL_EXPIRED),
    (Check.DNS_MATCH, Reason.DNS_TIMEOUT),
    (Check.DNS_MATCH, Reason.DNS_ERROR),
}


def status_of(
    checks: dict[Check, Outcome], advisories: tuple[Outcome, ...], expiry: Status
) -> Status:
    statuses = [expiry]
    if advisories:
        statuses.append(Status.WARNING)
    if checks[Check.PROBE_OK].reason is Reason.INTERNAL_ERROR:
        statuses.append(Status.UNKNOWN)
    for check, outcome in checks.items():
        if outcome.ok is None and (check, outcome.reason) in _WARN_WHEN_UNKNOWN:
            statuses.append(Status.WARNING)
        elif outcome.ok is False and outcome.reason is not Reason.INTERNAL_ERROR:
            # A chain Windows completes over AIA still works for Outlook: a warning.
            serious = check not in _WARN_WHEN_FALSE
            statuses.append(Status.CRITICAL if serious else Status.WARNING)
    return worst(statuses)


_CHECK_NAMES = frozenset(c.value for c in Check)


def counted_problems(verdict: EndpointVerdict) -> list[tuple[str, Outcome]]:
    """What counts against this endpoint's status, by check name (``expiry`` and
    ``advisory:<code>`` included): the findings a fix answers and the what-if compares."""
    found = [
        (name, outcome)
        for name, outcome in verdict.outcomes
        if outcome.ok is False
        or (
            outcome.ok is None
            and name in _CHECK_NAMES
            and (Check(name), outcome.reason) in _WARN_WHEN_UNKNOWN
        )
    ]
    found.extend((f"advisory:{a.reason.value}", a) for a in verdict.advisories if a.reason)
    return found


def rejects_status(rejects: Outcome) -> Status:
    """A family that uses the component refuses the certificate: its users see an
    error, as Outlook's users do on a failed check."""
    return Status.CRITICAL if rejects.ok is False else Status.OK
