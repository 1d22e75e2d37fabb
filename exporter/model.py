"""The inventory types that cross the discover -> probe boundary.

Discovery (static config or LDAP) produces :class:`Server` and :class:`Endpoint`
values; everything downstream reads them and never changes them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit


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
    """

    name: str
    fqdn: str
    addresses: tuple[str, ...] = ()
    version: ExchangeVersion | None = None
    site: str | None = None
    source: str = "static"


@dataclass(frozen=True)
class Target:
    """Where a URL points: scheme, host (lower case, no brackets), port and path."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


def parse_url(url: str) -> Target:
    """Split an InternalUrl; raise ValueError with a reason a person can act on.

    Outlook Anywhere's InternalHostname is a bare host name: it becomes
    ``https://HOST/rpc/rpcproxy.dll``, which is what Outlook contacts.
    """
    text = url.strip()
    if not text:
        raise ValueError("empty URL")
    if "://" not in text:
        text = f"https://{text}/rpc/rpcproxy.dll"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise ValueError(f"scheme {parts.scheme!r} is not http or https")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port: {exc}") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise ValueError("no host name")
    return Target(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=parts.path or "/",
    )


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
    """

    server: Server
    component: Component
    url: str
    target: Target | None
    url_error: str | None = None
    external_url: str | None = None
    identity: str | None = None
    site_scope: tuple[str, ...] = field(default_factory=tuple)

    @staticmethod
    def build(
        server: Server,
        component: Component,
        url: str,
        *,
        external_url: str | None = None,
        identity: str | None = None,
        site_scope: tuple[str, ...] = (),
    ) -> Endpoint:
        try:
            target: Target | None = parse_url(url)
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
