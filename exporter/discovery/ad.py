"""Active Directory's Exchange objects -> Servers and Endpoints (pure; no I/O).

What Outlook reads (../shared/EXCHANGE.md): servers (msExchExchangeServer), the
Autodiscover SCPs (serviceConnectionPoint) and the virtual directories
(msExchVirtualDirectory subclasses, ``(Default Web Site)`` copies only).
DNs are parsed with ldap3's RFC 4514 parser and compared case-insensitively,
because CN values hold spaces, parentheses and escaped commas, and slapd and AD
spell attribute types differently.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from ldap3.core.exceptions import LDAPInvalidDnError
from ldap3.utils.dn import parse_dn

from exporter.hostnames import dns_name
from exporter.model import Component, Endpoint, ExchangeVersion, Server
from exporter.textsafe import has_unsafe, terminal_safe

SCP_URL_KEYWORD = "77378f46-2c66-4aa9-a6a6-3e7a48b19596"
SCP_POINTER_KEYWORD = "67661d7f-8fc4-4fa7-bfac-e1d7794c1f68"

# Exchange's ServerRole enum (EXCHANGE.md): Cafe=1, Mailbox=2, ClientAccess=4, Edge=64.
ROLE_CAFE, ROLE_MAILBOX, ROLE_CLIENT_ACCESS, ROLE_EDGE = 1, 2, 4, 64

VDIR_CLASSES = {
    "msexchwebservicesvirtualdirectory": Component.EWS,
    "msexchoabvirtualdirectory": Component.OAB,
    "msexchumvirtualdirectory": Component.UM,
    "msexchowavirtualdirectory": Component.OWA,
    "msexchecpvirtualdirectory": Component.ECP,
    "msexchmobilevirtualdirectory": Component.EAS,
    "msexchmapivirtualdirectory": Component.MAPI,
    "msexchrpchttpvirtualdirectory": Component.OUTLOOK_ANYWHERE,
}
DEFAULT_WEB_SITE = "(default web site)"
_VERSION = re.compile(r"Version\s+(\d+)\.(\d+)\s*\(Build\s+(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    """One LDAP entry: its DN and attributes (names lower-cased, values as text)."""

    dn: str
    attrs: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self.attrs.get(name.lower()) or []
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return self.attrs.get(name.lower()) or []


@dataclass(frozen=True)
class AdInventory:
    servers: tuple[Server, ...]
    endpoints: tuple[Endpoint, ...]
    notes: tuple[str, ...]


_UNESCAPED_HASH = re.compile(r"(?<![\\=])#")


def rdns(dn: str) -> list[tuple[str, str]]:
    """[(type lower-cased, value)] from the leaf up; [] for a DN that does not parse."""
    try:
        return [(attr.lower(), value) for attr, value, _sep in parse_dn(dn, escape=False)]
    except LDAPInvalidDnError:
        pass
    # ldap3 wants every '#' escaped; RFC 4514 section 2.4 only a leading one, and a
    # directory returns 'CN=EWS # 2 (Default Web Site)' as it is. Such a virtual
    # directory must not be lost.
    try:
        repaired = _UNESCAPED_HASH.sub(r"\\#", dn)
        return [(attr.lower(), value) for attr, value, _sep in parse_dn(repaired, escape=False)]
    except LDAPInvalidDnError:
        return []


def server_of(dn: str) -> str | None:
    """The server a protocol object belongs to: the CN right after CN=Protocols."""
    parts = rdns(dn)
    for index, (attr, value) in enumerate(parts[:-1]):
        if attr == "cn" and value.lower() == "protocols" and parts[index + 1][0] == "cn":
            return _unescape(parts[index + 1][1])
    return None


def _unescape(value: str) -> str:
    """RFC 4514 unescaping: ``\\,`` -> ``,`` and ``\\2C`` -> ``,`` (hex pairs are UTF-8 bytes)."""
    out = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            pair = value[index + 1 : index + 3]
            if len(pair) == 2 and all(c in string.hexdigits for c in pair):
                out += bytes.fromhex(pair)
                index += 3
                continue
            out += value[index + 1].encode()
            index += 2
            continue
        out += char.encode()
        index += 1
    return out.decode("utf-8", "replace")


def parse_version(serial: str | None) -> ExchangeVersion | None:
    """``Version 15.1 (Build 30225.5)`` -> 2016 (EXCHANGE.md); 15.2 from build 2562 is SE."""
    match = _VERSION.search(serial or "")
    if match is None:
        return None
    major, minor, build = (int(g) for g in match.groups())
    if major == 8:
        return ExchangeVersion.E2007
    if major == 14:
        return ExchangeVersion.E2010
    if major == 15:
        if minor == 0:
            return ExchangeVersion.E2013
        if minor == 1:
            return ExchangeVersion.E2016
        return ExchangeVersion.SE if build >= 2562 else ExchangeVersion.E2019
    return None


def serves_clients(roles: int, version: ExchangeVersion | None) -> bool:
    """Client access per version: 2007/2010 ClientAccess; 2013 ClientAccess or Cafe;
    2016 and later every Mailbox server. Edge never."""
    if roles & ROLE_EDGE:
        return False
    if version in (ExchangeVersion.E2007, ExchangeVersion.E2010):
        return bool(roles & ROLE_CLIENT_ACCESS)
    if version is ExchangeVersion.E2013:
        return bool(roles & (ROLE_CLIENT_ACCESS | ROLE_CAFE))
    if version is not None:
        return bool(roles & (ROLE_MAILBOX | ROLE_CLIENT_ACCESS | ROLE_CAFE))
    return bool(roles & (ROLE_CLIENT_ACCESS | ROLE_CAFE | ROLE_MAILBOX))


def _fqdn(entry: Entry) -> str | None:
    for value in entry.all("networkAddress"):
        if value.lower().startswith("ncacn_ip_tcp:"):
            return value.split(":", 1)[1].strip().rstrip(".").lower() or None
    return None


def _site(dn: str | None) -> str | None:
    parts = rdns(dn or "")
    return _unescape(parts[0][1]) if parts else None


def parse_servers(
    entries: list[Entry], sites: tuple[str, ...], names: tuple[str, ...]
) -> tuple[dict[str, Server], list[str]]:
    """Client-facing servers by lower-case name, and notes on the ones left out."""
    servers: dict[str, Server] = {}
    notes: list[str] = []
    wanted_sites = {s.lower() for s in sites}
    wanted_names = {n.lower() for n in names}
    for entry in entries:
        name = entry.first("cn") or (_unescape(rdns(entry.dn)[0][1]) if rdns(entry.dn) else "")
        if not name:
            continue
        version = parse_version(entry.first("serialNumber"))
        roles_text = entry.first("msExchCurrentServerRoles") or "0"
        roles = int(roles_text) if roles_text.lstrip("-").isdigit() else 0
        site = _site(entry.first("msExchServerSite"))
        fqdn = _fqdn(entry)
        if not serves_clients(roles, version):
            notes.append(f"{name}: skipped, no client access role (roles {roles})")
            continue
        if wanted_sites and (site or "").lower() not in wanted_sites:
            continue
        if wanted_names and name.lower() not in wanted_names:
            continue
        if fqdn is None:
            notes.append(f"{name}: skipped, no ncacn_ip_tcp networkAddress")
            continue
        if has_unsafe(name):
            # Checked where it enters, as the config checks it: a name that can
            # add a line to a report or a script is no Exchange server's.
            notes.append(f"{terminal_safe(name)}: skipped, its name has control characters")
            continue
        if dns_name(fqdn) is None:
            # Checked where it enters: the FQDN becomes -ComputerName in a fix.
            notes.append(
                f"{name}: skipped, its networkAddress '{terminal_safe(fqdn)}' is not a DNS name"
            )
            continue
        servers[name.lower()] = Server(name, fqdn, (), version, site, "ldap", roles)
    return servers, notes


def parse_scps(
    entries: list[Entry], servers: dict[str, Server]
) -> tuple[list[Endpoint], list[str]]:
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    for entry in entries:
        keywords = [k.lower() for k in entry.all("keywords")]
        url = entry.first("serviceBindingInformation") or ""
        if SCP_POINTER_KEYWORD in keywords or url.lower().startswith("ldap://"):
            domains = [
                k.split("=", 1)[1] for k in entry.all("keywords") if k.lower().startswith("domain=")
            ]
            notes.append(
                f"pointer SCP {entry.dn} -> {url} (another forest; not probed)"
                + (f" for {', '.join(domains)}" if domains else "")
            )
            continue
        if SCP_URL_KEYWORD not in keywords:
            continue
        owner = server_of(entry.dn)
        server = servers.get((owner or "").lower())
        if server is None:
            continue
        scope = tuple(
            k.split("=", 1)[1] for k in entry.all("keywords") if k.lower().startswith("site=")
        )
        endpoints.append(Endpoint.build(server, Component.AUTODISCOVER, url, site_scope=scope))
    return endpoints, notes


def parse_vdirs(entries: list[Entry], servers: dict[str, Server]) -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    for entry in entries:
        classes = {c.lower() for c in entry.all("objectClass")}
        component = next((c for cls, c in VDIR_CLASSES.items() if cls in classes), None)
        name = entry.first("cn") or ""
        if component is None or not name.lower().endswith(DEFAULT_WEB_SITE):
            continue  # other classes, and the 2013+ "(Exchange Back End)" copies
        server = servers.get((server_of(entry.dn) or "").lower())
        if server is None:
            continue
        endpoints.append(
            Endpoint.build(
                server,
                component,
                entry.first("msExchInternalHostName") or "",
                external_url=entry.first("msExchExternalHostName"),
                identity=name,
            )
        )
    return endpoints


def build_ad_inventory(
    server_entries: list[Entry],
    scp_entries: list[Entry],
    vdir_entries: list[Entry],
    sites: tuple[str, ...] = (),
    names: tuple[str, ...] = (),
    components: tuple[Component, ...] | None = None,
    surfaces: list[Entry] | None = None,
) -> AdInventory:
    """``components``: which to keep (None: every one found); ``surfaces``: receive
    connectors and IMAP/POP settings (:mod:`exporter.discovery.ad_surfaces`)."""
    from exporter.discovery import ad_surfaces  # noqa: PLC0415 - it imports this module

    servers, notes = parse_servers(server_entries, sites, names)
    scps, scp_notes = parse_scps(scp_entries, servers)
    vdirs = parse_vdirs(vdir_entries, servers)
    wanted = components if components is not None else tuple(Component)
    smtp, smtp_notes = ad_surfaces.parse_connectors(surfaces or [], servers)
    found = [
        *scps,
        *vdirs,
        *smtp,
        *ad_surfaces.parse_pop_imap(surfaces or [], servers),
        *ad_surfaces.derived_endpoints(servers, wanted),
    ]
    seen: set[tuple[str, Component]] = set()
    endpoints = []
    for endpoint in sorted(
        (e for e in found if e.component in wanted),
        key=lambda e: (e.server.name.lower(), list(Component).index(e.component)),
    ):
        key = (endpoint.server.name.lower(), endpoint.component)
        if key in seen:
            notes.append(
                f"{endpoint.server.name}: a second {endpoint.component.value} "
                f"({endpoint.url}) was ignored"
            )
            continue
        seen.add(key)
        endpoints.append(endpoint)
    ordered = tuple(sorted(servers.values(), key=lambda s: s.name.lower()))
    return AdInventory(ordered, tuple(endpoints), tuple(notes + scp_notes + smtp_notes))
