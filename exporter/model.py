"""The inventory types that cross the discover -> probe boundary.

Discovery (static config or LDAP) produces :class:`Server` and :class:`Endpoint`
values; everything downstream reads them and never changes them.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from exporter.hostnames import dns_name
from exporter.textsafe import has_unsafe, terminal_safe


class Component(StrEnum):
    """An Exchange client-facing URL, named as in config keys and metric labels."""

    AUTODISCOVER = "autodiscover"  # the SCP's serviceBindingInformation
    EWS = "ews"
    OAB = "oab"
    UM = "um"  # Exchange 2007 only
    OWA = "owa"
    ECP = "ecp"
    EAS = "eas"
    MAPI = "mapi"
    OUTLOOK_ANYWHERE = "outlook_anywhere"
    # Beyond the virtual directories (../shared/EXCHANGE-SURFACES.md):
    SMTP = "smtp"  # STARTTLS on 25 (RFC 3207)
    SMTP_SUBMISSION = "smtp_submission"  # STARTTLS on 587
    IMAP = "imap"  # imaps:// on 993, or imap:// with STARTTLS on 143 (RFC 2595)
    POP = "pop"  # pop3s:// on 995, or pop3:// with STLS on 110
    BACKEND = "backend"  # the Exchange Back End site, 444 (2013 and later)
    AUTH_CERTIFICATE = "auth_certificate"  # the auth metadata document's certificate

    @property
    def is_servers_own(self) -> bool:
        """The back end and the Auth certificate: each server's own, self-signed by
        design, never a namespace's certificate (not compared, not requested)."""
        return self.value in ("backend", "auth_certificate")

    @property
    def service(self) -> str | None:
        """The service a certificate is bound to for this component, as
        ``Enable-ExchangeCertificate -Services`` names it: one certificate per server
        and service serves every name the service is reached by. None for the back
        end and the Auth certificate, which are bound otherwise."""
        return _SERVICES.get(self.value, None if self.is_servers_own else "IIS")

    @property
    def is_virtual_directory(self) -> bool:
        """One of the HTTPS URLs Outlook is given (KB 940726's and its cousins)."""
        return self not in _BEYOND_HTTPS


_SERVICES = {"smtp": "SMTP", "smtp_submission": "SMTP", "imap": "IMAP", "pop": "POP"}
_BEYOND_HTTPS = frozenset({"smtp", "smtp_submission", "imap", "pop", "backend", "auth_certificate"})


class ExchangeVersion(StrEnum):
    """Exchange releases, as written in config (`version: 2016`)."""

    E2007 = "2007"
    E2010 = "2010"
    E2013 = "2013"
    E2016 = "2016"
    E2019 = "2019"
    SE = "SE"

    @property
    def at_least_2016(self) -> bool:
        return self in (ExchangeVersion.E2016, ExchangeVersion.E2019, ExchangeVersion.SE)


@dataclass(frozen=True)
class Server:
    """One Exchange server that serves clients.

    Attributes:
        name: the server's name as Exchange knows it (used in -Identity).
        fqdn: its own DNS name; used to find its addresses when none are given.
        addresses: the addresses that count as "this server" for the DNS check
            and where the TLS probe connects; empty means "resolve fqdn".
        version: None when neither config nor the directory says.
        site: the AD site, None when unknown.
        source: "static" or "ldap".
        roles: the directory's msExchCurrentServerRoles bits; 0 when unknown (static).
    """

    name: str
    fqdn: str
    addresses: tuple[str, ...] = ()
    version: ExchangeVersion | None = None
    site: str | None = None
    source: str = "static"
    roles: int = 0


@dataclass(frozen=True)
class Target:
    """Where a URL points: scheme, host (lower case, no brackets), port and path."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def starttls(self) -> str | None:
        """The plain-text protocol to upgrade first (``smtp``, ``imap``, ``pop3``), or
        None when TLS starts at once."""
        return self.scheme if self.scheme in STARTTLS_SCHEMES else None

    @property
    def is_ip(self) -> bool:
        return is_ip_literal(self.host)


@functools.lru_cache(maxsize=8192)
def is_ip_literal(text: str) -> bool:
    """Whether ``text`` is an IPv4 or IPv6 address; memoised: a refresh asks it of
    the same few hundred host names several times each."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Each scheme's port when the URL names none.
DEFAULT_PORTS = {
    "https": 443,
    "http": 80,
    "smtp": 25,
    "smtps": 465,
    "imap": 143,
    "imaps": 993,
    "pop3": 110,
    "pop3s": 995,
}
# The schemes each component may use; components not listed take https or http.
_SCHEMES: dict[str, tuple[str, ...]] = {
    "smtp": ("smtp", "smtps"),
    "smtp_submission": ("smtp", "smtps"),
    "imap": ("imaps", "imap"),
    "pop": ("pop3s", "pop3"),
    "backend": ("https",),
    "auth_certificate": ("https",),
}
# What a bare host name (no scheme) stands for, by component.
_BARE_HOST = {
    "smtp": "smtp://{host}:25",
    "smtp_submission": "smtp://{host}:587",
    "imap": "imaps://{host}:993",
    "pop": "pop3s://{host}:995",
    "backend": "https://{host}:444/",
    "auth_certificate": "https://{host}/autodiscover/metadata/json/1",
}
# Plain-text protocols upgraded with STARTTLS (RFC 3207, RFC 2595), by scheme.
STARTTLS_SCHEMES = frozenset({"smtp", "imap", "pop3"})


def parse_url(url: str, component: Component | None = None) -> Target:
    """Split an InternalUrl; raise ValueError with a reason a person can act on.

    A bare host name stands for what the component's clients contact: Outlook
    Anywhere's InternalHostname becomes ``https://HOST/rpc/rpcproxy.dll``; for the
    mail protocols, the back end and the auth metadata see ``_BARE_HOST``. Each
    component takes only its own schemes (``smtp://`` for SMTP, ``imaps://`` or
    ``imap://`` for IMAP, ...); ``smtp://HOST`` for submission means port 587.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty URL")
    if has_unsafe(text) or any(ch.isspace() for ch in text):
        # urlsplit drops tabs and newlines silently; the URL as written would not work.
        raise ValueError(f"'{terminal_safe(text)}' has white space or control characters")
    key = component.value if component is not None else ""
    if "://" not in text:
        if component is not None and key not in _BARE_HOST and key != "outlook_anywhere":
            raise ValueError("no scheme: write the whole URL (https://HOST/PATH)")
        if "/" in text:
            raise ValueError("no scheme: a bare host name has no path; write the whole URL")
        if key in _BARE_HOST:
            text = _BARE_HOST[key].format(host=text)
        else:
            text = f"https://{text}/rpc/rpcproxy.dll"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    allowed = _SCHEMES.get(key, ("http", "https"))
    if scheme not in allowed:
        raise ValueError(f"scheme {parts.scheme!r} is not {' or '.join(allowed)}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("no host name")
    host = _checked_host(host)
    if port is None:
        port = 587 if key == "smtp_submission" and scheme == "smtp" else DEFAULT_PORTS[scheme]
    return Target(scheme=scheme, host=host, port=port, path=parts.path or "/")


def _checked_host(host: str) -> str:
    """Checked where it enters: a URL's host becomes a suggestion, a URL and a DNS
    zone in a fix (exporter/hostnames.py)."""
    if is_ip_literal(host):
        return host
    name = dns_name(host)
    if name is None:
        raise ValueError(f"host '{terminal_safe(host)}' is not a valid DNS name")
    return name


@dataclass(frozen=True)
class Endpoint:
    """One URL of one server that a domain-joined Outlook client contacts.

    Attributes:
        url: the InternalUrl (or SCP URL) exactly as configured or discovered.
        target: ``url`` parsed; None when the URL is missing or malformed, in
            which case ``url_error`` says why and the endpoint is reported, not probed.
        external_url: the component's ExternalUrl, when known; remediation
            prefers its host when the certificate covers it.
        identity: the virtual directory's name (``EWS (Default Web Site)``);
            None means the component's default name.
        site_scope: for Autodiscover SCPs, the ``Site=`` keywords.
        tls_certificate_name: for SMTP, the receive connector's TlsCertificateName
            (``<I>issuer<S>subject``) when the config or the directory gives one.
    """

    server: Server
    component: Component
    url: str
    target: Target | None
    url_error: str | None = None
    external_url: str | None = None
    identity: str | None = None
    site_scope: tuple[str, ...] = field(default_factory=tuple)
    tls_certificate_name: str | None = None

    @staticmethod
    def build(
        server: Server,
        component: Component,
        url: str,
        *,
        external_url: str | None = None,
        identity: str | None = None,
        site_scope: tuple[str, ...] = (),
        tls_certificate_name: str | None = None,
    ) -> Endpoint:
        try:
            target: Target | None = parse_url(url, component)
            error = None
        except ValueError as exc:
            target, error = None, str(exc)
        return Endpoint(
            server=server,
            component=component,
            url=url,
            target=target,
            url_error=error,
            external_url=external_url,
            identity=identity,
            site_scope=site_scope,
            tls_certificate_name=tls_certificate_name,
        )


@dataclass(frozen=True)
class DiscoveryStatus:
    """How one source fared this cycle.

    Attributes:
        last_success: UNIX time of the last successful run, None if never.
        error: why the last run failed, None on success.
        reason: a stable code for the failure (LDAP: unreachable, tls_error,
            invalid_credentials, bind_failed, timeout, search_failed, ...).
        stale: the inventory in use is the last good one, not this run's.
        notes: what the source saw and left out (skipped servers, pointer SCPs).
    """

    source: str
    success: bool
    servers: int
    endpoints: int
    last_success: float | None
    error: str | None = None
    reason: str | None = None
    stale: bool = False
    notes: tuple[str, ...] = ()
