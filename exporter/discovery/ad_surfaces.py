"""The directory's TLS surfaces beyond the virtual directories -> Endpoints (pure).

Attribute names, from Exchange's own schema classes (ReceiveConnectorSchema and
PopImapAdConfigurationSchema in Microsoft.Exchange.Data.Directory, as published in
decompiled form; CSS-Exchange's scripts read the same ``msExchSmtpReceiveBindings``):
- receive connectors, class ``msExchSmtpReceiveConnector`` under
  ``CN=SMTP Receive Connectors,CN=Protocols,CN=<server>``: Bindings
  ``msExchSmtpReceiveBindings`` ("0.0.0.0:25"), Fqdn ``msExchSMTPReceiveConnectorFQDN``,
  TlsCertificateName ``msExchSmtpTLSCertificate``, Enabled ``msExchSmtpReceiveEnabled``;
- IMAP4 and POP3 settings, classes ``protocolCfgIMAPServer`` and ``protocolCfgPOPServer``
  under ``CN=Protocols,CN=<server>``: InternalConnectionSettings
  ``msExchPOPIMAPInternalConnectionSettings`` ("mail.contoso.com:993:SSL"),
  X509CertificateName ``msExchPopImapX509CertificateName``, SSLBindings
  ``msExchSecureBindings``.
The back end and the auth metadata URLs follow from each 2013+ server's FQDN
(../shared/EXCHANGE-SURFACES.md): they need no attribute.
"""

from __future__ import annotations

import re

from exporter.discovery.ad import ROLE_MAILBOX, Entry, server_of
from exporter.model import Component, Endpoint, ExchangeVersion, Server

CONNECTOR_CLASS = "msexchsmtpreceiveconnector"
IMAP_CLASS, POP_CLASS = "protocolcfgimapserver", "protocolcfgpopserver"
# Client-facing ports: 25 (Front End Transport, or Default on 2007/2010) and 587.
_SMTP_PORTS = {25: Component.SMTP, 587: Component.SMTP_SUBMISSION}
# Exchange's own connector names for those ports, preferred when several bind one.
_DEFAULT_NAMES = ("default frontend ", "client frontend ", "default ", "client ")
_PORT = re.compile(r":(\d+)\s*$")
_SINCE_2013 = (
    ExchangeVersion.E2013,
    ExchangeVersion.E2016,
    ExchangeVersion.E2019,
    ExchangeVersion.SE,
)


def derived_endpoints(servers: dict[str, Server], wanted: tuple[Component, ...]) -> list[Endpoint]:
    """``auth_certificate`` for each 2013+ client-access server, ``backend`` for
    those with the mailbox role (every 2016+ server; on 2013 the Exchange Back End
    site is the Mailbox role's, so a CAS-only server has none). An unknown version
    gets neither: a 2010 server has no back end site and no auth metadata."""
    out: list[Endpoint] = []
    for server in servers.values():
        if server.version not in _SINCE_2013:
            continue
        mailbox = server.version is not ExchangeVersion.E2013 or server.roles & ROLE_MAILBOX
        if Component.BACKEND in wanted and mailbox:
            out.append(Endpoint.build(server, Component.BACKEND, f"https://{server.fqdn}:444/"))
        if Component.AUTH_CERTIFICATE in wanted:
            url = f"https://{server.fqdn}/autodiscover/metadata/json/1"
            out.append(Endpoint.build(server, Component.AUTH_CERTIFICATE, url))
    return out


def parse_connectors(
    entries: list[Entry], servers: dict[str, Server]
) -> tuple[list[Endpoint], list[str]]:
    """One SMTP endpoint per server and client port (25, 587): the enabled connector
    that binds it, Exchange's default one first; its FQDN is the name clients get."""
    found: dict[tuple[str, Component], tuple[int, Endpoint]] = {}
    notes: list[str] = []
    for entry in entries:
        if CONNECTOR_CLASS not in {c.lower() for c in entry.all("objectClass")}:
            continue
        server = servers.get((server_of(entry.dn) or "").lower())
        if server is None or (entry.first("msExchSmtpReceiveEnabled") or "TRUE").upper() == "FALSE":
            continue
        name = entry.first("cn") or ""
        ports = {
            int(m.group(1))
            for b in entry.all("msExchSmtpReceiveBindings")
            if (m := _PORT.search(b))
        }
        for port in sorted(ports & set(_SMTP_PORTS)):
            component = _SMTP_PORTS[port]
            host = (
                (entry.first("msExchSMTPReceiveConnectorFQDN") or server.fqdn).rstrip(".").lower()
            )
            rank = _rank(name, server.name)
            endpoint = Endpoint.build(
                server,
                component,
                f"smtp://{host}:{port}",
                identity=f"{server.name}\\{name}",
                tls_certificate_name=entry.first("msExchSmtpTLSCertificate"),
            )
            key = (server.name.lower(), component)
            if key in found:
                loser = endpoint if found[key][0] <= rank else found[key][1]
                notes.append(
                    f"{server.name}: receive connector {loser.identity} on {port} "
                    "was not probed (another one binds the port)"
                )
                if loser is endpoint:
                    continue
            found[key] = (rank, endpoint)
    return [endpoint for _rank_, endpoint in found.values()], notes


def _rank(name: str, server: str) -> int:
    lowered = name.lower()
    for index, prefix in enumerate(_DEFAULT_NAMES):
        if lowered == f"{prefix}{server.lower()}":
            return index
    return len(_DEFAULT_NAMES)


def parse_pop_imap(entries: list[Entry], servers: dict[str, Server]) -> list[Endpoint]:
    """IMAP and POP per server: the internal connection setting clients are given
    (implicit TLS preferred), else X509CertificateName or the FQDN on the SSL port."""
    out: list[Endpoint] = []
    for entry in entries:
        classes = {c.lower() for c in entry.all("objectClass")}
        if IMAP_CLASS in classes:
            component, secure, plain, default = Component.IMAP, "imaps", "imap", 993
        elif POP_CLASS in classes:
            component, secure, plain, default = Component.POP, "pop3s", "pop3", 995
        else:
            continue
        server = servers.get((server_of(entry.dn) or "").lower())
        if server is None:
            continue
        url = _connection_url(entry.all("msExchPOPIMAPInternalConnectionSettings"), secure, plain)
        if url is None:
            host = (entry.first("msExchPopImapX509CertificateName") or server.fqdn).lower()
            ports = [
                int(m.group(1))
                for b in entry.all("msExchSecureBindings")
                if (m := _PORT.search(b.rstrip(":")))
            ]
            url = f"{secure}://{host}:{ports[0] if ports else default}"
        out.append(Endpoint.build(server, component, url))
    return out


def _connection_url(settings: list[str], secure: str, plain: str) -> str | None:
    """``host:port:SSL`` / ``host:port:TLS`` -> a URL; SSL (implicit TLS) first."""
    parsed = []
    for setting in settings:
        parts = setting.strip().split(":")
        if len(parts) == 3 and parts[1].isdigit() and parts[0]:
            kind = parts[2].upper()
            if kind in ("SSL", "TLS"):
                scheme = secure if kind == "SSL" else plain
                parsed.append((kind != "SSL", f"{scheme}://{parts[0].lower()}:{parts[1]}"))
    return min(parsed)[1] if parsed else None
