"""What the probe stage hands on: the typed results of a handshake, a DNS lookup and
one endpoint's probe. Types only: no I/O is imported here, so the evaluate stage
and every renderer can read a probe's result without loading the probe engine
(tests/test_architecture.py holds the layers to that).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from exporter.model import Endpoint


class TlsReason(StrEnum):
    OK = "ok"
    REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    RESET = "connection_reset"
    NOT_TLS = "not_tls"
    PROTOCOL_VERSION = "protocol_version"
    HANDSHAKE_FAILED = "handshake_failed"
    NO_CERTIFICATE = "no_certificate"
    # Before the handshake, on the mail protocols' STARTTLS (exporter.probe.starttls):
    BAD_GREETING = "bad_greeting"  # no 220 / * OK / +OK greeting
    NO_STARTTLS = "no_starttls"  # the capabilities do not offer it
    STARTTLS_REFUSED = "starttls_refused"  # offered, then refused
    PROTOCOL_ERROR = "protocol_error"  # a reply that is not the protocol's


@dataclass(frozen=True)
class TlsResult:
    """What one handshake returned.

    Attributes:
        chain: DER certificates as presented, leaf first; empty unless reason is OK.
        protocol, cipher: None when the handshake did not complete.
        detail: the OS or OpenSSL message for a failure.
        duration: seconds spent on connect plus handshake.
    """

    address: str
    port: int
    sni: str | None
    reason: TlsReason
    chain: tuple[bytes, ...] = ()
    protocol: str | None = None
    cipher: str | None = None
    detail: str | None = None
    duration: float = 0.0


@dataclass(frozen=True)
class DocumentResult:
    """What fetching a document over HTTPS returned (the auth metadata document).

    Attributes:
        body: the response body on HTTP 200, else None.
        transport: why the request failed below HTTP (connect, TLS); OK otherwise.
        status: the HTTP status, None when no response came.
        detail: what went wrong, for a person.
    """

    address: str
    port: int
    sni: str | None
    body: bytes | None
    transport: TlsReason = TlsReason.OK
    status: int | None = None
    detail: str | None = None
    duration: float = 0.0


class DnsReason(StrEnum):
    OK = "ok"
    IP_LITERAL = "ip_literal"
    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    TIMEOUT = "timeout"
    ERROR = "error"


@dataclass(frozen=True)
class DnsAnswer:
    """Addresses for ``name``; empty unless reason is OK or IP_LITERAL.

    Attributes:
        detail: for ERROR and TIMEOUT, what went wrong.
    """

    name: str
    addresses: tuple[str, ...]
    reason: DnsReason
    detail: str | None = None

    @property
    def resolved(self) -> bool:
        return self.reason in (DnsReason.OK, DnsReason.IP_LITERAL)


class SkipReason(StrEnum):
    """Why no handshake was attempted."""

    BAD_URL = "bad_url"
    NO_URL = "no_url"
    PLAIN_HTTP = "plain_http"
    SERVER_ADDRESS_UNKNOWN = "server_address_unknown"


@dataclass(frozen=True)
class ProbeResult:
    """Everything the I/O stage learned about one endpoint.

    Attributes:
        url_dns: the URL host's answer from the internal DNS; None when the URL
            could not be parsed.
        server_addresses: the addresses that count as "the server": static
            ``addresses`` or what its fqdn resolves to; empty when unknown.
        server_dns: the fqdn lookup, None when addresses were configured.
        address: where the TLS probe connected, None when it did not.
        tls: None when skipped (see ``skipped``) or on an internal error, and for
            the auth certificate, whose probe is ``document``.
        document: the auth metadata document's fetch; None for other components.
        internal_error: a one-line summary when the probe itself failed;
            ``internal_trace`` the whole traceback, for the debug log only.
    """

    endpoint: Endpoint
    url_dns: DnsAnswer | None
    server_addresses: tuple[str, ...]
    server_dns: DnsAnswer | None
    address: str | None
    tls: TlsResult | None
    skipped: SkipReason | None = None
    internal_error: str | None = None
    duration: float = 0.0
    internal_trace: str | None = None
    document: DocumentResult | None = None


@dataclass(frozen=True)
class ProbeSettings:
    timeout: float
    concurrency: int
