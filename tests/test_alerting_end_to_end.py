"""The whole alerting path with real processes on loopback: the KB 940726 lab,
`serve`, Prometheus with the shipped rules (short `for:` in the test's copy),
Alertmanager with the shipped template, and a receiver run by the test. The
page arrives with the exact command; after the certificate is fixed in the lab,
the resolved notification arrives. Every dashboard query returns data."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from exporter.lab.pki import CA
from tests.conftest import lab_config
from tests.peers.pki_http import PkiHttp
from tests.peers.prometheus import Alertmanager, Prometheus, Receiver

ROOT = Path(__file__).parent.parent
RULES = ROOT / "alerts" / "exchange-certificates.rules.yml"
TEMPLATE = ROOT / "alerts" / "exchange-certificates.tmpl"


def fast_rules(tmp_path: Path) -> Path:
    data = yaml.safe_load(RULES.read_text())
    for group in data["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000))
    return path


def alerting_stack(tmp_path: Path, exporter_port: int, receiver_port: int):
    """Alertmanager (webhook and Slack-style receivers, the shipped template) and a
    Prometheus scraping the exporter every second with the shipped rules, for 0s."""
    am = Alertmanager(
        tmp_path / "am",
        {
            "route": {
                "receiver": "oncall",
                "group_by": ["alertname", "server", "component"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "oncall",
                    "webhook_configs": [
                        {"url": f"http://127.0.0.1:{receiver_port}/webhook", "send_resolved": True}
                    ],
                    "slack_configs": [
                        {
                            "api_url": f"http://127.0.0.1:{receiver_port}/slack",
                            "channel": "#exchange",
                            "send_resolved": True,
                            "title": '{{ template "exchange.certificates.title" . }}',
                            "text": '{{ template "exchange.certificates.text" . }}',
                        }
                    ],
                }
            ],
            "templates": [str(TEMPLATE)],
        },
    )
    prometheus = Prometheus(
        tmp_path / "prom",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am.port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "exchange-cert",
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                }
            ],
        },
        [fast_rules(tmp_path)],
    )
    return am, prometheus


def _healthy_surfaces(tmp_path: Path, make_tls, issuing_ca: CA):
    """SMTP with a certificate for mail.contoso.com, a back end and an Auth
    certificate years from expiry, all on EXCH01's 127.0.6.1."""
    import base64
    import json

    from tests.peers.mail import Smtp
    from tests.pki import DAY, NOW, self_signed

    cert, key = issuing_ca.issue("mail.contoso.com").write(tmp_path, "smtp")
    smtp = Smtp("127.0.6.1", cert, key)
    backend = make_tls(
        "127.0.6.1", self_signed("EXCH01", "exch01.contoso.local", not_after=NOW + 900 * DAY)
    )
    auth = self_signed(
        "Microsoft Exchange Server Auth Certificate", not_after=NOW + 900 * DAY, san=False
    )
    metadata = make_tls("127.0.6.1", issuing_ca.issue("exch01.contoso.local"))
    key_value = {"type": "x509Certificate", "value": base64.b64encode(auth.der()).decode()}
    metadata.documents["/autodiscover/metadata/json/1"] = (
        200,
        json.dumps({"keys": [{"keyvalue": key_value}]}).encode(),
    )
    return smtp, backend, metadata


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_page_carries_the_fix_and_resolves(
    request,
    tmp_path,
    make_tls,
    make_dns,
    write_config,
    root_file,
    issuing_ca: CA,
    start_exporter,
    receiver,
) -> None:
    start = time.monotonic()
    # A CDP, so the dashboard's revocation matrix has data like the others.
    cdp = PkiHttp("127.0.6.9")
    cdp.serve("/issuing.crl", body=issuing_ca.crl())
    request.addfinalizer(cdp.close)
    crl = cdp.url("/issuing.crl", host="127.0.6.9")
    mail = issuing_ca.issue("mail.contoso.com", crl=crl)
    tls = make_tls("127.0.6.1", mail)
    dns = make_dns({"exch01.contoso.local": ["127.0.6.1"], "mail.contoso.com": ["127.0.6.1"]})
    # Healthy surfaces beyond the web URLs, so their dashboard rows have data too.
    smtp, backend, metadata = _healthy_surfaces(tmp_path, make_tls, issuing_ca)
    request.addfinalizer(smtp.stop)
    config = lab_config(
        [
            {
                "name": "EXCH01",
                "fqdn": "exch01.contoso.local",
                "version": "2019",
                "urls": {
                    "ews": f"https://exch01.contoso.local:{tls.port}/EWS/Exchange.asmx",
                    "smtp": f"smtp://mail.contoso.com:{smtp.port}",
                    "backend": f"https://exch01.contoso.local:{backend.port}/",
                    "auth_certificate": f"https://exch01.contoso.local:{metadata.port}"
                    "/autodiscover/metadata/json/1",
                },
            }
        ],
        dns,
        [root_file],
    )
    config["probe"] = {"interval": "2s", "timeout": "1s", "concurrency": 4}
    exporter = start_exporter(write_config(config))
    am, prometheus = alerting_stack(tmp_path, exporter.port, receiver.port)
    try:
        command = (
            "Set-WebServicesVirtualDirectory -Identity 'EXCH01\\EWS (Default Web Site)' "
            f"-InternalUrl 'https://mail.contoso.com:{tls.port}/EWS/Exchange.asmx'"
        )

        def firing(path, body):
            return (
                path == "/webhook"
                and body["status"] == "firing"
                and any(
                    a["labels"]["alertname"] == "ExchangeInternalUrlCertNameMismatch"
                    for a in body["alerts"]
                )
            )

        _, body = receiver.wait_for(firing, timeout=60)
        (alert,) = [
            a
            for a in body["alerts"]
            if a["labels"]["alertname"] == "ExchangeInternalUrlCertNameMismatch"
        ]
        assert alert["labels"]["server"] == "EXCH01"
        assert alert["labels"]["component"] == "ews"
        assert alert["labels"]["severity"] == "critical"
        assert alert["annotations"]["remediation"] == command + "\n"
        assert (
            f"https://exch01.contoso.local:{tls.port}/EWS/Exchange.asmx"
            in alert["annotations"]["description"]
        )
        # The templated message body (the Slack receiver) carries the command too.
        _, slack = receiver.wait_for(
            lambda p, b: p == "/slack" and "FIRING" in b["attachments"][0]["title"]
        )
        text = slack["attachments"][0]["text"]
        assert "Fix (EXCH01, in the Exchange Management Shell):" in text
        assert command in text

        # Every dashboard expression runs against this Prometheus and returns data.
        from scripts.generate_dashboard import QUERIES, build

        build()
        empty = []
        for title, expr in QUERIES.items():
            concrete = expr.replace("$server", ".*").replace("$component", ".*")
            if not prometheus.query(concrete):
                empty.append(title)
        assert empty == []

        # The admin fixes it: the certificate now names the URL's host.
        fixed = issuing_ca.issue("mail.contoso.com", "exch01.contoso.local", crl=crl)
        tls.replace_certificate(fixed.write(tmp_path, "fixed"))

        def resolved(path, body):
            return (
                path == "/webhook"
                and body["status"] == "resolved"
                and any(
                    a["labels"]["alertname"] == "ExchangeInternalUrlCertNameMismatch"
                    for a in body["alerts"]
                )
            )

        receiver.wait_for(resolved, timeout=60)
        assert time.monotonic() - start < 120
    finally:
        prometheus.stop()
        am.stop()


def _alert(body: dict, name: str, server: str) -> dict | None:
    return next(
        (
            a
            for a in body["alerts"]
            if a["labels"]["alertname"] == name and a["labels"]["server"] == server
        ),
        None,
    )


def test_a_renewal_left_behind_pages_and_its_fix_shows(
    tmp_path, make_tls, make_dns, write_config, root_file, issuing_ca: CA, start_exporter, receiver
) -> None:
    """Issue #16: two servers answer mail.contoso.com; the renewal reached EXCH01 only.
    ExchangeCertificateInconsistent arrives for EXCH02 with the Enable-ExchangeCertificate
    command; once EXCH02 serves the new certificate, ExchangeCertificateChanged tells
    on-call and the inconsistency resolves."""
    from cryptography.hazmat.primitives import hashes

    from tests.peers.dnsmasq import free_port
    from tests.pki import DAY, NOW

    start = time.monotonic()
    old = issuing_ca.issue("mail.contoso.com", not_before=NOW - 300 * DAY, not_after=NOW + 60 * DAY)
    new = issuing_ca.issue("mail.contoso.com", not_before=NOW - DAY)
    thumb = new.cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - a thumbprint
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.6.31 mail.contoso.com\n127.0.6.32 mail.contoso.com\n")
    dns = make_dns({}, extra=[f"--addn-hosts={hosts}"])
    port = free_port("127.0.6.31")
    make_tls("127.0.6.31", new, port=port)
    behind = make_tls("127.0.6.32", old, port=port)
    servers = [
        {
            "name": name,
            "fqdn": f"{name.lower()}.contoso.local",
            "version": "2019",
            "addresses": [address],
            "urls": {"ews": f"https://mail.contoso.com:{port}/EWS/Exchange.asmx"},
        }
        for name, address in (("EXCH01", "127.0.6.31"), ("EXCH02", "127.0.6.32"))
    ]
    config = lab_config(servers, dns, [root_file])
    config["probe"] = {"interval": "2s", "timeout": "1s", "concurrency": 4}
    exporter = start_exporter(write_config(config))
    am, prometheus = alerting_stack(tmp_path, exporter.port, receiver.port)
    try:
        inconsistent = "ExchangeCertificateInconsistent"
        _, body = receiver.wait_for(
            lambda p, b: (
                p == "/webhook"
                and b["status"] == "firing"
                and _alert(b, inconsistent, "EXCH02") is not None
            ),
            timeout=60,
        )
        alert = _alert(body, inconsistent, "EXCH02")
        assert alert is not None
        assert alert["labels"]["severity"] == "warning"
        # Exported from EXCH01, which has it, imported on EXCH02 unless it is there
        # already (the guard the .ps1 runs it behind), then enabled there.
        assert alert["annotations"]["remediation"] == (
            f"if (-not (Get-ExchangeCertificate -Server 'EXCH02' -Thumbprint '{thumb}' "
            "-ErrorAction 'SilentlyContinue')) { "
            "$password = Read-Host -AsSecureString -Prompt "
            "'A password to protect the exported certificate in transit'; "
            f"$pfx = Export-ExchangeCertificate -Server 'EXCH01' -Thumbprint '{thumb}' "
            "-BinaryEncoded -Password $password; "
            "Import-ExchangeCertificate -Server 'EXCH02' -FileData $pfx.FileData "
            "-Password $password }\n"
            f"Enable-ExchangeCertificate -Server 'EXCH02' -Thumbprint '{thumb}' -Services 'IIS'\n"
        )
        assert not any(
            _alert(b, inconsistent, "EXCH01") for p, b in receiver.received if p == "/webhook"
        )
        # The admin binds the new certificate on EXCH02.
        behind.replace_certificate(new.write(tmp_path, "renewed"))
        _, changed = receiver.wait_for(
            lambda p, b: (
                p == "/webhook"
                and b["status"] == "firing"
                and _alert(b, "ExchangeCertificateChanged", "EXCH02") is not None
            ),
            timeout=60,
        )
        info = _alert(changed, "ExchangeCertificateChanged", "EXCH02")
        assert info is not None
        assert info["labels"]["severity"] == "info"
        receiver.wait_for(
            lambda p, b: (
                p == "/webhook"
                and b["status"] == "resolved"
                and _alert(b, inconsistent, "EXCH02") is not None
            ),
            timeout=60,
        )
        assert time.monotonic() - start < 120
    finally:
        prometheus.stop()
        am.stop()


def test_auth_and_back_end_certificates_page_with_their_fixes(
    tmp_path, make_tls, make_dns, write_config, root_file, issuing_ca: CA, start_exporter, receiver
) -> None:
    """Issue #15: the Auth certificate inside its 14 days and an expired back end page
    through Prometheus and Alertmanager, each with its rotation or renewal."""
    import base64
    import json

    from tests.pki import DAY, NOW, self_signed

    auth = self_signed(
        "Microsoft Exchange Server Auth Certificate", not_after=NOW + 10 * DAY, san=False
    )
    value = base64.b64encode(auth.der()).decode()
    metadata = make_tls("127.0.6.41", issuing_ca.issue("exch01.contoso.local"))
    metadata.documents["/autodiscover/metadata/json/1"] = (
        200,
        json.dumps({"keys": [{"keyvalue": {"type": "x509Certificate", "value": value}}]}).encode(),
    )
    backend = make_tls(
        "127.0.6.41",
        self_signed(
            "EXCH01", "exch01.contoso.local", not_before=NOW - 900 * DAY, not_after=NOW - DAY
        ),
    )
    dns = make_dns({"exch01.contoso.local": ["127.0.6.41"]})
    server = {
        "name": "EXCH01",
        "fqdn": "exch01.contoso.local",
        "version": "2019",
        "urls": {
            "backend": f"https://exch01.contoso.local:{backend.port}/",
            "auth_certificate": (
                f"https://exch01.contoso.local:{metadata.port}/autodiscover/metadata/json/1"
            ),
        },
    }
    config = lab_config([server], dns, [root_file])
    config["probe"] = {"interval": "2s", "timeout": "1s", "concurrency": 4}
    exporter = start_exporter(write_config(config))
    am, prometheus = alerting_stack(tmp_path, exporter.port, receiver.port)
    try:
        found = {}
        for name in ("ExchangeAuthCertificateExpiring", "ExchangeBackEndCertificateExpiring"):
            _, body = receiver.wait_for(
                lambda p, b, name=name: (
                    p == "/webhook" and b["status"] == "firing" and _alert(b, name, "EXCH01")
                ),
                timeout=60,
            )
            found[name] = _alert(body, name, "EXCH01")
        rotation = found["ExchangeAuthCertificateExpiring"]
        assert rotation["labels"]["severity"] == "critical"
        assert rotation["labels"]["component"] == "auth_certificate"
        assert "Set-AuthConfig -PublishCertificate" in rotation["annotations"]["remediation"]
        assert (
            "Restart-WebAppPool -Name 'MSExchangeOWAAppPool'"
            in rotation["annotations"]["remediation"]
        )
        renewal = found["ExchangeBackEndCertificateExpiring"]
        assert renewal["labels"]["severity"] == "critical"
        assert renewal["annotations"]["summary"] == "The back end certificate on EXCH01 has expired"
        assert (
            "'Exchange Back End' site's https binding on port 444"
            in (renewal["annotations"]["remediation"])
        )
        # Not the generic date alert: "Outlook warns" is not this certificate's story.
        assert not any(
            _alert(b, "ExchangeInternalUrlCertDateInvalid", "EXCH01")
            for p, b in receiver.received
            if p == "/webhook"
        )
    finally:
        prometheus.stop()
        am.stop()


def test_a_certificate_browsers_refuse_pages_with_its_fix(
    tmp_path, make_tls, make_dns, write_config, root_file, issuing_ca: CA, start_exporter, receiver
) -> None:
    """Issue #24: OWA presents its name only in the CN. Outlook's checks pass; Edge,
    Chrome and iPhones refuse it. ExchangeInternalUrlClientRejects arrives with the
    request for a certificate every client accepts, and resolves once OWA presents
    one with the name in its subject alternative names."""
    dns = make_dns({"mail.contoso.com": ["127.0.6.41"]})
    owa = make_tls("127.0.6.41", issuing_ca.issue(cn="mail.contoso.com", san=False))
    servers = [
        {
            "name": "EXCH01",
            "fqdn": "exch01.contoso.local",
            "version": "2019",
            "addresses": ["127.0.6.41"],
            "urls": {"owa": f"https://mail.contoso.com:{owa.port}/owa"},
        }
    ]
    config = lab_config(servers, dns, [root_file])
    config["probe"] = {"interval": "2s", "timeout": "1s", "concurrency": 4}
    exporter = start_exporter(write_config(config))
    am, prometheus = alerting_stack(tmp_path, exporter.port, receiver.port)
    try:
        name = "ExchangeInternalUrlClientRejects"
        _, body = receiver.wait_for(
            lambda p, b: p == "/webhook" and b["status"] == "firing" and _alert(b, name, "EXCH01"),
            timeout=60,
        )
        alert = _alert(body, name, "EXCH01")
        assert alert is not None
        assert alert["labels"]["severity"] == "critical"
        assert alert["labels"]["client"] in ("apple", "browser")
        remediation = alert["annotations"]["remediation"]
        assert "is refused by iPhones, iPads and Macs (apple) and Edge and Chrome (browser)" in (
            remediation
        )
        assert (
            "New-ExchangeCertificate -GenerateRequest -SubjectName 'cn=mail.contoso.com' "
            "-DomainName 'mail.contoso.com' -KeySize 2048"
        ) in remediation
        # Outlook's own alerts stay quiet: its checks pass.
        assert not any(
            _alert(b, "ExchangeInternalUrlCertNameMismatch", "EXCH01")
            for p, b in receiver.received
            if p == "/webhook"
        )
        # The admin binds a certificate with the name in its SAN.
        owa.replace_certificate(issuing_ca.issue("mail.contoso.com").write(tmp_path, "fixed"))
        receiver.wait_for(
            lambda p, b: (
                p == "/webhook" and b["status"] == "resolved" and _alert(b, name, "EXCH01")
            ),
            timeout=60,
        )
    finally:
        prometheus.stop()
        am.stop()
