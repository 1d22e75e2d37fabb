"""The demo scenario: three Exchange servers on loopback that show KB 940726.

- EXCH01 (Exchange 2016): internal URLs on its own name, certificate for
  mail.contoso.com: the KB 940726 name mismatch on every URL, plus the DNS step
  (mail.contoso.com is not in internal DNS).
- EXCH02 (Exchange 2019): internal URLs on mail.contoso.com, certificate covers
  it, DNS points at it: healthy.
- EXCH03 (Exchange 2013): healthy names, but its certificate expires in 5 days.
- Beyond the virtual directories: EXCH02's SMTP still presents the certificate
  that expired before the renewal (IIS got the new one), and the organisation's
  Auth certificate, published in EXCH02's auth metadata document, expires in 20
  days (a warning on its own 60/14-day thresholds).

Everything binds 127.0.0.1 (ports chosen by the OS), so nothing is reachable from
elsewhere and nothing needs root.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from exporter.lab.dns_server import LabDnsServer
from exporter.lab.pki import CA, DAY, self_signed
from exporter.lab.smtp_server import SmtpServer
from exporter.lab.tls_server import TlsServer

LOOPBACK = "127.0.0.1"


@dataclass
class Lab:
    """The running lab; ``close()`` stops every server."""

    config_path: Path
    servers: list[TlsServer | SmtpServer] = field(default_factory=list)
    dns: LabDnsServer | None = None

    def close(self) -> None:
        for server in self.servers:
            server.close()
        if self.dns is not None:
            self.dns.close()


def _urls(host: str, port: int, components: dict[str, str]) -> dict[str, str]:
    return {name: f"https://{host}:{port}{path}" for name, path in components.items()}


METADATA = "/autodiscover/metadata/json/1"


def _auth_document(der: bytes) -> bytes:
    """The auth metadata document's shape (exporter/evaluate/authcert.py)."""
    key = {
        "usage": "signing",
        "keyinfo": {"x5t": ""},
        "keyvalue": {"type": "x509Certificate", "value": base64.b64encode(der).decode()},
    }
    return json.dumps({"id": "_demo", "version": "1.0", "keys": [key]}).encode()


def start_lab(directory: Path, interval: str = "30s") -> Lab:
    now = dt.datetime.now(dt.UTC)
    root = CA("Contoso Demo Root CA")
    issuing = CA("Contoso Demo Issuing CA", parent=root)
    root_file = root.write(directory / "contoso-root-ca.pem")
    mail = issuing.issue("mail.contoso.com", "autodiscover.contoso.com")
    expiring = issuing.issue(
        "exch03.contoso.local", not_before=now - 360 * DAY, not_after=now + 5 * DAY
    )
    exch01 = TlsServer(LOOPBACK, mail.write(directory, "exch01"))
    exch02 = TlsServer(LOOPBACK, mail.write(directory, "exch02"))
    exch03 = TlsServer(LOOPBACK, expiring.write(directory, "exch03"))
    # OWA with the certificate an IIS request signed by AD CS's Web Server template
    # gets: the name only in the CN. Windows accepts it; Edge, Chrome and iPhones do not.
    cn_only = issuing.issue(cn="webmail.contoso.com", san=False)
    webmail = TlsServer(LOOPBACK, cn_only.write(directory, "exch02-owa"))
    before_renewal = issuing.issue(
        "exch02.contoso.local", not_before=now - 400 * DAY, not_after=now - 3 * DAY
    )
    smtp02 = SmtpServer(LOOPBACK, before_renewal.write(directory, "exch02-smtp"), "EXCH02")
    auth = self_signed(
        "Microsoft Exchange Server Auth Certificate",
        not_before=now - 1805 * DAY,
        not_after=now + 20 * DAY,
        san=False,
    )
    exch02.documents[METADATA] = (200, _auth_document(auth.der()))
    # For `preflight` (README): the renewal that would end every finding, beside
    # exch01.pem, the certificate the servers have now.
    candidate = issuing.issue(
        "mail.contoso.com",
        "autodiscover.contoso.com",
        "webmail.contoso.com",
        "exch01.contoso.local",
        "exch02.contoso.local",
        "exch03.contoso.local",
    )
    candidate.write(directory, "preflight-candidate")
    dns = LabDnsServer(
        {
            "exch01.contoso.local": [LOOPBACK],
            "exch02.contoso.local": [LOOPBACK],
            "exch03.contoso.local": [LOOPBACK],
            "autodiscover.contoso.com": [LOOPBACK],
            "webmail.contoso.com": [LOOPBACK],
        }
    )
    lab = Lab(directory / "demo.yaml", [exch01, exch02, exch03, webmail, smtp02], dns)
    kb_paths = {
        "autodiscover": "/Autodiscover/Autodiscover.xml",
        "ews": "/EWS/Exchange.asmx",
        "oab": "/OAB",
        "mapi": "/mapi",
    }
    config: dict[str, Any] = {
        "servers": [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "version": "2016",
                "site": "HQ",
                "urls": _urls("exch01.contoso.local", exch01.port, kb_paths),
                "external_urls": {
                    "ews": f"https://mail.contoso.com:{exch01.port}/EWS/Exchange.asmx"
                },
            },
            {
                "name": "EXCH02",
                "fqdn": "exch02.contoso.local",
                "version": "2019",
                "site": "HQ",
                "addresses": [LOOPBACK],
                "urls": {
                    **_urls(
                        "autodiscover.contoso.com",
                        exch02.port,
                        {"autodiscover": kb_paths["autodiscover"], "ews": kb_paths["ews"]},
                    ),
                    "owa": f"https://webmail.contoso.com:{webmail.port}/owa",
                    "smtp": f"smtp://exch02.contoso.local:{smtp02.port}",
                    "auth_certificate": f"https://exch02.contoso.local:{exch02.port}{METADATA}",
                },
            },
            {
                "name": "EXCH03",
                "fqdn": "exch03.contoso.local",
                "version": "2013",
                "site": "Branch",
                "urls": _urls("exch03.contoso.local", exch03.port, {"ews": kb_paths["ews"]}),
            },
        ],
        "trust": {"ca_files": [str(root_file)], "system": False},
        "dns": {"nameservers": [f"{dns.address}:{dns.port}"], "timeout": "2s"},
        "probe": {"interval": interval, "timeout": "5s", "concurrency": 8},
        "thresholds": {"expiry_warning": "30d", "expiry_critical": "7d"},
    }
    header = "# The demo lab's configuration, written by `exchange-cert-exporter demo`.\n"
    lab.config_path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return lab
