"""A directory shaped like a real Exchange organisation, for slapd and Samba alike.

``organisation(config_dn)`` returns entries in parent-first order and
``EXPECTED`` what discovery must read from them (what Outlook's lookup reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DOMAIN_DN = "DC=contoso,DC=local"
CONFIG_DN = f"CN=Configuration,{DOMAIN_DN}"
URL_KEYWORD = "77378F46-2C66-4aa9-A6A6-3E7A48B19596"
POINTER_KEYWORD = "67661d7F-8FC4-4fa7-BFAC-E1D7794C1F68"
BULK_SERVERS = 100  # x 11 virtual directories: more than one 1000-entry page


@dataclass
class Obj:
    dn: str
    classes: list[str]
    attrs: dict[str, list[str | bytes]] = field(default_factory=dict)


def _container(dn: str) -> Obj:
    return Obj(dn, ["container"])


def _server(
    parent: str, name: str, serial: str, roles: int, site: str | None, fqdn: str | None = None
) -> list[Obj]:
    dn = f"CN={name},{parent}"
    attrs = {
        "serialNumber": [serial],
        "msExchCurrentServerRoles": [str(roles)],
        "networkAddress": [
            f"ncacn_ip_tcp:{fqdn or name.lower() + '.contoso.local'}",
            f"netbios:{name}",
        ],
    }
    if site:
        attrs["msExchServerSite"] = [f"CN={site},CN=Sites,{CONFIG_DN}"]
    return [
        Obj(dn, ["msExchExchangeServer"], attrs),
        _container(f"CN=Protocols,{dn}"),
        _container(f"CN=HTTP,CN=Protocols,{dn}"),
        _container(f"CN=Autodiscover,CN=Protocols,{dn}"),
    ]


def _scp(server_dn: str, name: str, url: str, sites: tuple[str, ...] = ()) -> Obj:
    keywords = [URL_KEYWORD, *(f"Site={s}" for s in sites)]
    return Obj(
        f"CN={name},CN=Autodiscover,CN=Protocols,{server_dn}",
        ["serviceConnectionPoint"],
        {
            "serviceBindingInformation": [url],
            "keywords": keywords,
            "serviceClassName": ["ms-Exchange-AutoDiscover-Service"],
            "serviceDNSName": [name],
        },
    )


def _vdir(
    server_dn: str,
    cls: str,
    name: str,
    internal: str | None,
    external: str | None = None,
    site: str = "Default Web Site",
) -> Obj:
    attrs = {}
    if internal is not None:
        attrs["msExchInternalHostName"] = [internal]
    if external is not None:
        attrs["msExchExternalHostName"] = [external]
    return Obj(f"CN={name} ({site}),CN=HTTP,CN=Protocols,{server_dn}", [cls], attrs)


WEB = [
    ("msExchWebServicesVirtualDirectory", "EWS", "/EWS/Exchange.asmx"),
    ("msExchOabVirtualDirectory", "OAB", "/OAB"),
    ("msExchOwaVirtualDirectory", "owa", "/owa"),
    ("msExchEcpVirtualDirectory", "ecp", "/ecp"),
    ("msExchMobileVirtualDirectory", "Microsoft-Server-ActiveSync", "/Microsoft-Server-ActiveSync"),
    ("msExchMapiVirtualDirectory", "mapi", "/mapi"),
    ("msExchRpcHttpVirtualDirectory", "Rpc", "/rpc"),
]


def _surfaces(server_dn: str, name: str) -> list[Obj]:
    """Receive connectors and IMAP/POP settings as Exchange 2016+ has them, plus the
    connectors discovery must leave out (server to server, relay, disabled)."""
    receive = f"CN=SMTP Receive Connectors,CN=Protocols,{server_dn}"
    lower = name.lower()

    def connector(cn: str, bindings: list[str], fqdn: str, **more: list[str]) -> Obj:
        attrs: dict[str, list[str | bytes]] = {
            "msExchSmtpReceiveBindings": list(bindings),
            "msExchSMTPReceiveConnectorFQDN": [fqdn],
        }
        attrs.update(more)
        return Obj(f"CN={cn},{receive}", ["msExchSmtpReceiveConnector"], attrs)

    return [
        _container(receive),
        connector("Relay " + name, ["10.0.0.5:25"], "relay.contoso.com"),
        connector(
            f"Default Frontend {name}",
            ["0.0.0.0:25", "[::]:25"],
            "mail.contoso.com",
            msExchSmtpTLSCertificate=["<I>CN=Contoso Issuing CA<S>CN=mail.contoso.com"],
        ),
        connector(f"Client Frontend {name}", ["0.0.0.0:587"], f"{lower}.contoso.local"),
        connector(f"Default {name}", ["0.0.0.0:2525"], f"{lower}.contoso.local"),
        connector(
            f"Old {name}", ["0.0.0.0:587"], "old.contoso.com", msExchSmtpReceiveEnabled=["FALSE"]
        ),
        _container(f"CN=IMAP4,CN=Protocols,{server_dn}"),
        Obj(
            f"CN=1,CN=IMAP4,CN=Protocols,{server_dn}",
            ["protocolCfgIMAPServer"],
            {
                "msExchPOPIMAPInternalConnectionSettings": [
                    f"{lower}.contoso.local:143:TLS",
                    "mail.contoso.com:993:SSL",
                ],
                "msExchPopImapX509CertificateName": ["mail.contoso.com"],
            },
        ),
        _container(f"CN=POP3,CN=Protocols,{server_dn}"),
        Obj(
            f"CN=1,CN=POP3,CN=Protocols,{server_dn}",
            ["protocolCfgPOPServer"],
            {
                "msExchPopImapX509CertificateName": ["mail.contoso.com"],
                "msExchSecureBindings": [":995:"],
            },
        ),
    ]


def organisation(
    host: str = "{name}.contoso.local",
    port: int | None = None,
    site_class: str = "container",
    bulk: int = BULK_SERVERS,
) -> list[Obj]:
    """The org. URLs use ``host`` ({name} = the server's lower-case name) and ``port``.
    ``site_class`` is "site" in a real AD (where CN=Sites and CN=Services already exist)."""

    def url(name: str, path: str) -> str:
        netloc = host.format(name=name.lower()) + (f":{port}" if port else "")
        return f"https://{netloc}{path}"

    org = f"CN=Contoso,CN=Microsoft Exchange,CN=Services,{CONFIG_DN}"
    modern = f"CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,{org}"
    legacy = f"CN=First Administrative Group\\, Legacy,CN=Administrative Groups,{org}"
    objs = [
        _container(f"CN=Sites,{CONFIG_DN}"),
        Obj(f"CN=HQ,CN=Sites,{CONFIG_DN}", [site_class]),
        Obj(f"CN=Branch,CN=Sites,{CONFIG_DN}", [site_class]),
        _container(f"CN=Services,{CONFIG_DN}"),
        _container(f"CN=Microsoft Exchange,CN=Services,{CONFIG_DN}"),
        _container(org),
        _container(f"CN=Administrative Groups,{org}"),
        _container(modern),
        _container(f"CN=Servers,{modern}"),
        _container(legacy),
        _container(f"CN=Servers,{legacy}"),
    ]

    # Exchange 2007 (CAS+Mailbox+UM+Hub) under a legacy admin group whose CN has a comma.
    e07 = f"CN=EXCH07,CN=Servers,{legacy}"
    objs += _server(f"CN=Servers,{legacy}", "EXCH07", "Version 8.3 (Build 83.6)", 54, "HQ")
    objs += [
        _scp(e07, "EXCH07", url("EXCH07", "/Autodiscover/Autodiscover.xml")),
        _vdir(e07, "msExchWebServicesVirtualDirectory", "EWS", url("EXCH07", "/EWS/Exchange.asmx")),
        _vdir(
            e07,
            "msExchOabVirtualDirectory",
            "OAB",
            url("EXCH07", "/OAB").replace("https://", "http://"),
        ),
        _vdir(
            e07,
            "msExchUMVirtualDirectory",
            "UnifiedMessaging",
            url("EXCH07", "/UnifiedMessaging/Service.asmx"),
        ),
    ]

    # Exchange 2010 (CAS+Mailbox+Hub) in HQ; OWA has no InternalUrl.
    servers = f"CN=Servers,{modern}"
    e10 = f"CN=EXCH10,{servers}"
    objs += _server(servers, "EXCH10", "Version 14.3 (Build 123.4)", 38, "HQ")
    objs += [
        _scp(e10, "EXCH10", url("EXCH10", "/Autodiscover/Autodiscover.xml"), ("HQ",)),
        _vdir(
            e10,
            "msExchWebServicesVirtualDirectory",
            "EWS",
            url("EXCH10", "/EWS/Exchange.asmx"),
            "https://mail.contoso.com/EWS/Exchange.asmx",
        ),
        _vdir(e10, "msExchOwaVirtualDirectory", "owa", None),
    ]

    # Exchange 2016 (HQ) and 2019 (Branch), with back-end copies on port 444.
    for name, serial, site in (
        ("EXCH16", "Version 15.1 (Build 2507.6)", "HQ"),
        ("EXCH19", "Version 15.2 (Build 1544.4)", "Branch"),
    ):
        dn = f"CN={name},{servers}"
        objs += _server(servers, name, serial, 2, site)
        objs.append(_scp(dn, name, url(name, "/Autodiscover/Autodiscover.xml"), (site,)))
        objs += _surfaces(dn, name)
        for cls, vdir, path in WEB:
            objs.append(_vdir(dn, cls, vdir, url(name, path)))
            objs.append(
                _vdir(
                    dn,
                    cls,
                    vdir,
                    f"https://{name.lower()}.contoso.local:444{path}",
                    site="Exchange Back End",
                )
            )

    # A 2013 Client Access server without the mailbox role: no Exchange Back End site.
    objs += _server(servers, "CAS13", "Version 15.0 (Build 1497.2)", 4, "HQ")
    objs.append(
        _vdir(
            f"CN=CAS13,{servers}",
            "msExchWebServicesVirtualDirectory",
            "EWS",
            "https://cas13.contoso.local/EWS/Exchange.asmx",
        )
    )
    # Left out: Edge transport, a 2013 mailbox-only server.
    objs += _server(servers, "EDGE01", "Version 15.1 (Build 2507.6)", 64, None, "edge01.dmz.local")
    objs += _server(servers, "MBX13", "Version 15.0 (Build 1497.2)", 2, "HQ")
    objs.append(
        _vdir(
            f"CN=MBX13,{servers}",
            "msExchWebServicesVirtualDirectory",
            "EWS",
            "https://mbx13.contoso.local/EWS/Exchange.asmx",
        )
    )
    # A pointer SCP to another forest: reported, never probed.
    objs.append(_container(f"CN=Forest Pointers,CN=Services,{CONFIG_DN}"))
    objs.append(
        Obj(
            f"CN=Fabrikam,CN=Forest Pointers,CN=Services,{CONFIG_DN}",
            ["serviceConnectionPoint"],
            {
                "serviceBindingInformation": ["LDAP://fabrikam.local"],
                "keywords": [POINTER_KEYWORD, "Domain=fabrikam.com"],
            },
        )
    )
    # Bulk 2016 servers in Branch: 1100 virtual directories in all.
    for n in range(bulk):
        name = f"BULK{n:03d}"
        dn = f"CN={name},{servers}"
        objs += _server(servers, name, "Version 15.1 (Build 2507.6)", 2, "Branch")
        for cls, vdir, path in WEB:
            objs.append(_vdir(dn, cls, vdir, url(name, path)))
        for cls, vdir, path in WEB[:4]:
            objs.append(
                _vdir(
                    dn,
                    cls,
                    vdir,
                    f"https://{name.lower()}.contoso.local:444{path}",
                    site="Exchange Back End",
                )
            )
    return objs


# What discovery must return: (server, component) -> InternalUrl path (None = missing).
EXPECTED_NAMED = {
    ("CAS13", "ews"),
    ("CAS13", "auth_certificate"),  # and no backend: CAS-only on 2013
    ("EXCH07", "autodiscover"),
    ("EXCH07", "ews"),
    ("EXCH07", "oab"),
    ("EXCH07", "um"),
    ("EXCH10", "autodiscover"),
    ("EXCH10", "ews"),
    ("EXCH10", "owa"),
    *(
        (s, c)
        for s in ("EXCH16", "EXCH19")
        for c in (
            "autodiscover",
            "ews",
            "oab",
            "owa",
            "ecp",
            "eas",
            "mapi",
            "outlook_anywhere",
            "backend",
            "auth_certificate",
        )
    ),
}
# With ``ldap.components`` asking for the mail protocols too: the URL each one gives.
EXPECTED_MAIL = {
    (server, component): url
    for server in ("EXCH16", "EXCH19")
    for component, url in (
        ("smtp", "smtp://mail.contoso.com:25"),
        ("smtp_submission", f"smtp://{server.lower()}.contoso.local:587"),
        ("imap", "imaps://mail.contoso.com:993"),
        ("pop", "pop3s://mail.contoso.com:995"),
    )
}
# Each bulk server's virtual directories, plus its back end and auth metadata URLs.
EXPECTED_BULK_ENDPOINTS = BULK_SERVERS * (len(WEB) + 2)


def assert_mail_inventory(inventory: Any, status: Any) -> None:
    """What discovery must read of the mail protocols, from slapd and Samba alike."""
    mail = {
        (e.server.name, e.component.value): e
        for e in inventory.endpoints
        if e.component.value in ("smtp", "smtp_submission", "imap", "pop")
    }
    assert {key: e.url for key, e in mail.items()} == EXPECTED_MAIL
    smtp = mail[("EXCH16", "smtp")]
    assert smtp.identity == "EXCH16\\Default Frontend EXCH16"  # the default beats the relay
    assert smtp.tls_certificate_name == "<I>CN=Contoso Issuing CA<S>CN=mail.contoso.com"
    assert mail[("EXCH16", "smtp_submission")].identity == "EXCH16\\Client Frontend EXCH16"
    assert any("Relay EXCH16 on 25 was not probed" in n for n in status.notes)
    # Only the components asked for: ews, not the others.
    assert {e.component.value for e in inventory.endpoints} == {
        "ews",
        "smtp",
        "smtp_submission",
        "imap",
        "pop",
    }
