"""Samba's AD DC as a real Active Directory: provisioned into a temporary directory,
started with only its LDAP service on 127.0.0.1, LDAPS with the test CA's
certificate. Its LDAP ports are fixed (389/636), so the suite runs it inside the
private network namespace that scripts/check provides.

The msExch* attribute types and classes are added to the schema under private
OIDs (Microsoft's schema files are not available), with their AD names.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from ldap3 import BASE, MODIFY_REPLACE, NONE, SIMPLE, Connection, Server
from ldap3.core.exceptions import LDAPNoSuchObjectResult

from tests.ad_data import CONFIG_DN, DOMAIN_DN, Obj
from tests.peers.process import stop as stop_process

ADMIN_PASSWORD = "Adm1n-Pa55-w0rd!"
BIND_USER = "svc-exporter"
BIND_DN = f"CN={BIND_USER},CN=Users,{DOMAIN_DN}"
SCHEMA_DN = f"CN=Schema,{CONFIG_DN}"
OID = "1.3.6.1.4.1.55555"

# (lDAPDisplayName, cn, OID suffix, attributeSyntax, oMSyntax, single-valued)
ATTRIBUTES = [
    ("msExchInternalHostName", "ms-Exch-Internal-Host-Name", "1.9", "2.5.5.12", 64, True),
    ("msExchExternalHostName", "ms-Exch-External-Host-Name", "1.10", "2.5.5.12", 64, True),
    ("msExchCurrentServerRoles", "ms-Exch-Current-Server-Roles", "1.8", "2.5.5.9", 2, True),
    ("msExchServerSite", "ms-Exch-Server-Site", "1.7", "2.5.5.1", 127, True),
    ("msExchSmtpReceiveBindings", "ms-Exch-Smtp-Receive-Bindings", "1.11", "2.5.5.12", 64, False),
    (
        "msExchSMTPReceiveConnectorFQDN",
        "ms-Exch-SMTP-Receive-Connector-FQDN",
        "1.12",
        "2.5.5.12",
        64,
        True,
    ),
    ("msExchSmtpTLSCertificate", "ms-Exch-Smtp-TLS-Certificate", "1.13", "2.5.5.12", 64, True),
    ("msExchSmtpReceiveEnabled", "ms-Exch-Smtp-Receive-Enabled", "1.14", "2.5.5.8", 1, True),
    (
        "msExchPOPIMAPInternalConnectionSettings",
        "ms-Exch-POP-IMAP-Internal-Connection-Settings",
        "1.15",
        "2.5.5.12",
        64,
        False,
    ),
    (
        "msExchPopImapX509CertificateName",
        "ms-Exch-Pop-Imap-X509-Certificate-Name",
        "1.16",
        "2.5.5.12",
        64,
        True,
    ),
    ("msExchSecureBindings", "ms-Exch-Secure-Bindings", "1.17", "2.5.5.12", 64, False),
]
# The receive connector and IMAP/POP settings classes: (name, cn, suffix, may).
SURFACE_CLASSES = [
    (
        "msExchSmtpReceiveConnector",
        "ms-Exch-Smtp-Receive-Connector",
        "2.14",
        [
            "msExchSmtpReceiveBindings",
            "msExchSMTPReceiveConnectorFQDN",
            "msExchSmtpTLSCertificate",
            "msExchSmtpReceiveEnabled",
        ],
    ),
    *(
        (
            name,
            cn,
            suffix,
            [
                "msExchPOPIMAPInternalConnectionSettings",
                "msExchPopImapX509CertificateName",
                "msExchSecureBindings",
            ],
        )
        for name, cn, suffix in (
            ("protocolCfgIMAPServer", "Protocol-Cfg-IMAP-Server", "2.15"),
            ("protocolCfgPOPServer", "Protocol-Cfg-POP-Server", "2.16"),
        )
    ),
]
VDIR_CLASSES = [
    "msExchWebServicesVirtualDirectory",
    "msExchOabVirtualDirectory",
    "msExchUMVirtualDirectory",
    "msExchOwaVirtualDirectory",
    "msExchEcpVirtualDirectory",
    "msExchMobileVirtualDirectory",
    "msExchMapiVirtualDirectory",
    "msExchRpcHttpVirtualDirectory",
    "msExchAutodiscoverVirtualDirectory",
]


class SambaDC:
    def __init__(self, workdir: Path, password: str, cert: Path, key: Path, ca: Path) -> None:
        self.workdir = workdir
        self.dir = workdir / "dc"
        self.address = "127.0.0.1"
        for port in (389, 636):
            with socket.socket() as probe:
                if probe.connect_ex((self.address, port)) == 0:
                    raise RuntimeError(
                        f"127.0.0.1:{port} is taken: run the suite through "
                        "scripts/check, which gives it a private network namespace"
                    )
        self._run(
            [
                "samba-tool",
                "domain",
                "provision",
                f"--targetdir={self.dir}",
                "--realm=CONTOSO.LOCAL",
                "--domain=CONTOSO",
                "--server-role=dc",
                "--dns-backend=NONE",
                f"--adminpass={ADMIN_PASSWORD}",
                "--host-name=dc01",
                f"--host-ip={self.address}",
                "--option=interfaces=lo",
                "--option=bind interfaces only=yes",
                "--option=server services=ldap",
                "--option=ldap server require strong auth=no",
            ]
        )
        tls = self.dir / "tls"
        tls.mkdir()
        for src, name in ((cert, "cert.pem"), (key, "key.pem"), (ca, "ca.pem")):
            shutil.copy(src, tls / name)
        (tls / "key.pem").chmod(0o600)
        conf = self.dir / "etc" / "smb.conf"
        text = conf.read_text().replace(
            "[global]",
            f"""[global]
\tlog file = {self.dir}/log.%m
\tpid directory = {self.dir}/run
\tncalrpc dir = {self.dir}/ncalrpc
\twinbindd socket directory = {self.dir}/winbindd
\tldap server require strong auth = no
\tdsdb:schema update allowed = true
\ttls enabled = yes
\ttls certfile = {tls}/cert.pem
\ttls keyfile = {tls}/key.pem
\ttls cafile = {tls}/ca.pem""",
            1,
        )
        conf.write_text(text)
        self.conf = conf
        self._run(["samba-tool", "user", "create", BIND_USER, password, "-s", str(conf)])
        self.process = subprocess.Popen(
            ["samba", "-i", "-M", "single", "-s", str(conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    @staticmethod
    def _run(args: list[str]) -> None:
        result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:3])} failed: {result.stdout}{result.stderr}")

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"samba exited: {out[-2000:]}")
            try:
                conn = self.admin()
                conn.unbind()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        raise RuntimeError("samba did not answer LDAP within 60s")

    def admin(self) -> Connection:
        server = Server(self.address, port=389, get_info=NONE, connect_timeout=2)
        return Connection(
            server,
            user=f"CN=Administrator,CN=Users,{DOMAIN_DN}",
            password=ADMIN_PASSWORD,
            authentication=SIMPLE,
            auto_bind=True,
            raise_exceptions=True,
            receive_timeout=30,
            check_names=False,
        )

    def extend_schema(self) -> None:
        conn = self.admin()
        for name, cn, suffix, syntax, om, single in ATTRIBUTES:
            attrs = {
                "objectClass": ["top", "attributeSchema"],
                "lDAPDisplayName": name,
                "attributeID": f"{OID}.{suffix}",
                "attributeSyntax": syntax,
                "oMSyntax": str(om),
                "isSingleValued": "TRUE" if single else "FALSE",
                "adminDisplayName": cn,
            }
            if syntax == "2.5.5.1":  # DN syntax needs its oMObjectClass
                attrs["oMObjectClass"] = b"\x2b\x0c\x02\x87\x73\x1c\x00\x85\x4a"
            conn.add(f"CN={cn},{SCHEMA_DN}", attributes=attrs)
        self._refresh_schema(conn)
        self._class(
            conn,
            "msExchExchangeServer",
            "ms-Exch-Exchange-Server",
            "2.2",
            "container",
            ["msExchServerSite", "msExchCurrentServerRoles", "networkAddress", "serialNumber"],
        )
        self._class(
            conn,
            "msExchVirtualDirectory",
            "ms-Exch-Virtual-Directory",
            "2.4",
            "top",
            ["msExchInternalHostName", "msExchExternalHostName"],
        )
        for name, cn, suffix, may in SURFACE_CLASSES:
            self._class(conn, name, cn, suffix, "top", may)
        self._refresh_schema(conn)
        for index, name in enumerate(VDIR_CLASSES):
            self._class(
                conn, name, f"ms-Exch-{name[6:]}", f"2.{5 + index}", "msExchVirtualDirectory", []
            )
        self._refresh_schema(conn)
        conn.unbind()

    @staticmethod
    def _class(
        conn: Connection, name: str, cn: str, suffix: str, parent: str, may: list[str]
    ) -> None:
        attrs: dict[str, object] = {
            "objectClass": ["top", "classSchema"],
            "lDAPDisplayName": name,
            "governsID": f"{OID}.{suffix}",
            "subClassOf": parent,
            "objectClassCategory": "1",
            "rDNAttID": "cn",
            "possSuperiors": ["container"],
            "adminDisplayName": cn,
            "defaultObjectCategory": f"CN={cn},{SCHEMA_DN}",
            # As Exchange's own classes: Authenticated Users may read (that is how every
            # domain-joined Outlook, and a low-privilege exporter account, reads them).
            "defaultSecurityDescriptor": "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)"
            "(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)",
        }
        if may:
            attrs["mayContain"] = may
        conn.add(f"CN={cn},{SCHEMA_DN}", attributes=attrs)

    @staticmethod
    def _refresh_schema(conn: Connection) -> None:
        conn.modify("", {"schemaUpdateNow": [(MODIFY_REPLACE, ["1"])]})
        conn.search("", "(objectClass=*)", search_scope=BASE, attributes=["schemaNamingContext"])

    def load(self, objs: list[Obj]) -> None:
        """Add the objects; containers AD already has (CN=Sites, CN=Services) are kept."""
        conn = self.admin()
        for obj in objs:
            if obj.classes == ["container"] and self._exists(conn, obj.dn):
                continue
            attrs: dict[str, object] = {"objectClass": obj.classes, **obj.attrs}
            conn.add(obj.dn, attributes=attrs)
        conn.unbind()

    @staticmethod
    def _exists(conn: Connection, dn: str) -> bool:
        try:
            conn.search(dn, "(objectClass=*)", search_scope=BASE, attributes=["cn"])
        except LDAPNoSuchObjectResult:
            return False
        return bool(conn.entries or conn.response)

    def stop(self) -> None:
        stop_process(self.process, timeout=10)
