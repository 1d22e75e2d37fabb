"""The vocabulary of verdicts: checks, reasons (stable ids) and outcomes.

Reason values are a public contract: they appear in the report JSON, on the
page and in Nagios output. Add new ones; never rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Check(StrEnum):
    """The checks reported per endpoint: Outlook's three, plus reachability, DNS, whether
    the server sends its whole chain, revocation (as WinINet checks it), and whether
    every server of the namespace presents the same certificate."""

    PROBE_OK = "probe_ok"
    DNS_MATCH = "dns_match"
    NAME_MATCH = "name_match"
    ISSUER_TRUSTED = "issuer_trusted"
    DATE_VALID = "date_valid"
    CHAIN_COMPLETE = "chain_complete"
    NOT_REVOKED = "not_revoked"
    CONSISTENT = "consistent"


class Reason(StrEnum):
    # probe_ok
    BAD_URL = "bad_url"
    NO_INTERNAL_URL = "no_internal_url"
    PLAIN_HTTP = "plain_http"
    SERVER_ADDRESS_UNKNOWN = "server_address_unknown"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    CONNECTION_RESET = "connection_reset"
    NOT_TLS = "not_tls"
    PROTOCOL_VERSION = "protocol_version"
    HANDSHAKE_FAILED = "handshake_failed"
    NO_CERTIFICATE = "no_certificate"
    INTERNAL_ERROR = "internal_error"
    BAD_GREETING = "bad_greeting"
    NO_STARTTLS = "no_starttls"
    STARTTLS_REFUSED = "starttls_refused"
    PROTOCOL_ERROR = "protocol_error"
    AUTH_METADATA_UNAVAILABLE = "auth_metadata_unavailable"  # the document: HTTP, JSON
    NO_AUTH_CERTIFICATE = "no_auth_certificate"  # the document holds none
    # dns_match
    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    DNS_TIMEOUT = "dns_timeout"
    DNS_ERROR = "dns_error"
    POINTS_ELSEWHERE = "points_elsewhere"
    # name_match
    NAME_MISMATCH = "name_mismatch"
    # issuer_trusted
    SELF_SIGNED = "self_signed"
    UNTRUSTED_ROOT = "untrusted_root"
    UNKNOWN_ISSUER = "unknown_issuer"
    INCOMPLETE_CHAIN = "incomplete_chain"  # also chain_complete's: fetched over AIA
    INVALID_CHAIN = "invalid_chain"
    WRONG_USAGE = "wrong_usage"
    # not_revoked
    REVOKED = "revoked"
    REVOCATION_UNAVAILABLE = "revocation_unavailable"
    CRL_EXPIRED = "crl_expired"
    # consistent
    CERTIFICATE_DIFFERS = "certificate_differs"
    # hygiene: warnings Outlook does not show (EndpointVerdict.advisories)
    WEAK_SIGNATURE = "weak_signature"
    WEAK_KEY = "weak_key"
    LONG_VALIDITY = "long_validity"
    # clients: a family that uses the component refuses the certificate
    # (evaluate/clients.py): the endpoint's reason, and each family's rules
    CLIENT_REJECTS = "client_rejects"
    NO_SAN = "no_san"
    NO_SERVER_AUTH_EKU = "no_server_auth_eku"
    VALIDITY_TOO_LONG = "validity_too_long"
    # notes: worth telling, no status (EndpointVerdict.notes)
    UNUSED_CERTIFICATE = "unused_certificate"
    # date_valid
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    # name_match, issuer_trusted: not judged on the back end's and the Auth
    # certificate, self-signed by design
    SELF_SIGNED_BY_DESIGN = "self_signed_by_design"
    # expiry (not one of Outlook's checks, but it decides warning vs ok)
    EXPIRES_SOON = "expires_soon"
    CHAIN_EXPIRES_SOON = "chain_expires_soon"


class Status(StrEnum):
    """Nagios-ordered: a higher rank is worse."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return {"ok": 0, "warning": 1, "unknown": 2, "critical": 3}[self.value]

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warning": 1, "critical": 2, "unknown": 3}[self.value]


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.OK)


@dataclass(frozen=True)
class Outcome:
    """One check's result. ``ok`` is None when the check could not be judged
    (no certificate, no DNS answer to compare); then ``reason`` may say why."""

    ok: bool | None
    reason: Reason | None = None
    message: str | None = None

    @property
    def noteworthy(self) -> bool:
        """A reason worth listing among an endpoint's problems: not one that only
        says why a check does not apply (``self_signed_by_design``)."""
        return self.reason is not None and self.reason not in _BY_DESIGN

    @staticmethod
    def passed() -> Outcome:
        return Outcome(True)

    @staticmethod
    def failed(reason: Reason, message: str) -> Outcome:
        return Outcome(False, reason, message)

    @staticmethod
    def not_judged(reason: Reason | None = None, message: str | None = None) -> Outcome:
        return Outcome(None, reason, message)


# Reasons that say a check does not apply, not that something is wrong: kept in the
# JSON's reasons, left out of the problems the page, table and metrics list.
_BY_DESIGN = frozenset({Reason.SELF_SIGNED_BY_DESIGN})
