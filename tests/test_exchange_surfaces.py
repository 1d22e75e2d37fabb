"""The back end site (:444) and the organisation's Auth certificate, against real
TLS servers on loopback: what is judged, on which thresholds, and the fix, command
by command. The mail protocols are tests/test_mail_protocols.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from exporter.certfacts import parse_certificate
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.remediation import StepKind
from exporter.render.html import render_page
from exporter.render.json import snapshot_json
from exporter.render.namespaces import namespaces
from tests.conftest import lab_config, run, run_exporter
from tests.peers.mail import Smtp
from tests.pki import CA, DAY, NOW, Issued, self_signed

ADDRESS = "127.0.1.44"
FQDN = "exch01.contoso.local"
METADATA = "/autodiscover/metadata/json/1"
AUTH_CN = "Microsoft Exchange Server Auth Certificate"


@pytest.fixture
def surfaces(make_dns, make_tls, write_config, root_file) -> Callable[..., Any]:
    """One cycle over EXCH01's ``urls``; ``tls`` is the server the URLs reach."""

    def cycle(urls: dict[str, str], **extra: Any) -> dict[str, Any]:
        dns = make_dns({FQDN: [ADDRESS], "mail.contoso.com": [ADDRESS]})
        entry = {"name": "EXCH01", "fqdn": FQDN, "version": "2019", "urls": urls}
        snapshot = run(write_config(lab_config([entry], dns, [root_file], **extra)))
        return {r.verdict.probe.endpoint.component.value: r for r in snapshot.endpoints} | {
            "_snapshot": snapshot
        }

    return cycle


def _document(*certs: Issued, shape: str = "keyvalue") -> bytes:
    keys = []
    for issued in certs:
        value = base64.b64encode(issued.der()).decode()
        if shape == "keyvalue":
            keys.append(
                {
                    "usage": "signing",
                    "keyinfo": {"x5t": "unused"},
                    "keyvalue": {"type": "x509Certificate", "value": value},
                }
            )
        else:
            keys.append({"kty": "RSA", "x5c": [value]})
    return json.dumps({"id": "_unused", "version": "1.0", "keys": keys}).encode()


def _auth_server(make_tls: Any, issuing_ca: CA, status: int, body: bytes) -> Any:
    """An HTTPS server (the Autodiscover certificate) serving the metadata document."""
    server = make_tls(ADDRESS, issuing_ca.issue("mail.contoso.com", FQDN))
    server.documents[METADATA] = (status, body)
    return server


def test_back_end_is_judged_on_presence_and_date_only(surfaces, make_tls) -> None:
    server = make_tls(ADDRESS, self_signed("EXCH01", FQDN, not_after=NOW + 900 * DAY))
    reports = surfaces({"backend": f"https://{FQDN}:{server.port}/"})
    report = reports["backend"]
    verdict = report.verdict
    assert reports["_snapshot"].names_plan.names == ()
    assert verdict.checks[Check.PROBE_OK].ok is True
    assert verdict.checks[Check.DATE_VALID].ok is True
    for check in (Check.NAME_MATCH, Check.ISSUER_TRUSTED):
        assert verdict.checks[check].ok is None
        assert verdict.checks[check].reason is Reason.SELF_SIGNED_BY_DESIGN
    assert verdict.advisories == ()  # five years, self-signed: no hygiene warning
    assert verdict.status is Status.OK, verdict.checks
    assert report.remediation.steps == ()


def test_back_end_inside_the_critical_threshold_pages_with_the_renewal(surfaces, make_tls) -> None:
    soon = make_tls(ADDRESS, self_signed("EXCH01", FQDN, not_after=NOW + 3 * DAY))
    report = surfaces({"backend": f"https://{FQDN}:{soon.port}/"})["backend"]
    assert report.verdict.status is Status.CRITICAL
    assert report.verdict.expiry.reason is Reason.EXPIRES_SOON
    (step,) = report.remediation.steps
    assert step.kind is StepKind.ADVICE  # no one-line command is confirmed for the binding
    assert "New-ExchangeCertificate -Server 'EXCH01'" in step.text
    assert "'Exchange Back End' site's https binding on port 444" in step.text


def test_expired_back_end_is_critical(surfaces, make_tls) -> None:
    expired = self_signed("EXCH01", FQDN, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    server = make_tls(ADDRESS, expired)
    verdict = surfaces({"backend": f"https://{FQDN}:{server.port}/"})["backend"].verdict
    assert verdict.checks[Check.DATE_VALID].reason is Reason.EXPIRED
    assert verdict.status is Status.CRITICAL


def test_auth_certificate_on_its_own_thresholds(surfaces, make_tls, issuing_ca) -> None:
    for days, status in ((90, Status.OK), (20, Status.WARNING), (10, Status.CRITICAL)):
        auth = self_signed(AUTH_CN, not_after=NOW + days * DAY, san=False)
        server = _auth_server(make_tls, issuing_ca, 200, _document(auth))
        reports = surfaces({"auth_certificate": f"https://{FQDN}:{server.port}{METADATA}"})
        verdict = reports["auth_certificate"].verdict
        assert verdict.checks[Check.PROBE_OK].ok is True, verdict.checks
        assert verdict.leaf is not None
        assert verdict.leaf.common_names == (AUTH_CN,)
        assert verdict.checks[Check.NAME_MATCH].reason is Reason.SELF_SIGNED_BY_DESIGN
        assert verdict.status is status, (days, verdict.expiry.message)
        # The request's own TLS certificate (the Autodiscover one) is not this report's.
        assert verdict.leaf.thumbprint == facts(auth).thumbprint
        assert verdict.auth_certificates == (verdict.leaf,)
    steps = reports["auth_certificate"].remediation.steps
    rotation, pools, hybrid = steps
    assert rotation.kind is StepKind.COMMAND
    assert rotation.text.split("; ") == [
        "$auth = New-ExchangeCertificate -KeySize 2048 -PrivateKeyExportable $true "
        "-SubjectName 'cn=Microsoft Exchange Server Auth Certificate' "
        "-FriendlyName 'Microsoft Exchange Server Auth Certificate' -DomainName @()",
        "Set-AuthConfig -NewCertificateThumbprint $auth.Thumbprint "
        "-NewCertificateEffectiveDate (Get-Date)",
        "Set-AuthConfig -PublishCertificate",
        "Set-AuthConfig -ClearPreviousCertificate",
    ]
    assert rotation.guard == (
        f"(Get-AuthConfig).CurrentCertificateThumbprint -ne '{verdict.leaf.thumbprint}'"
    )
    assert pools.kind is StepKind.IIS
    assert pools.text == (
        f"Invoke-Command -ComputerName '{FQDN}' -ScriptBlock {{ Import-Module "
        "-Name 'WebAdministration'; Restart-WebAppPool -Name 'MSExchangeOWAAppPool'; "
        "Restart-WebAppPool -Name 'MSExchangeECPAppPool' }"
    )
    assert "Hybrid Configuration Wizard" in hybrid.text
    assert hybrid.kind is StepKind.ADVICE


def test_a_rotation_under_way_judges_the_next_certificate(surfaces, make_tls, issuing_ca):
    old = self_signed(AUTH_CN, not_before=NOW - 1800 * DAY, not_after=NOW + 5 * DAY, san=False)
    new = self_signed(AUTH_CN, not_before=NOW - DAY, not_after=NOW + 1800 * DAY, san=False)
    server = _auth_server(make_tls, issuing_ca, 200, _document(old, new))
    reports = surfaces({"auth_certificate": f"https://{FQDN}:{server.port}{METADATA}"})
    verdict = reports["auth_certificate"].verdict
    assert [c.thumbprint for c in verdict.auth_certificates] == [
        c.thumbprint for c in (facts(old), facts(new))
    ]
    assert verdict.leaf.thumbprint == facts(new).thumbprint
    assert verdict.status is Status.OK
    data = snapshot_json(reports["_snapshot"])
    assert data["names_plan"]["names"] == []  # never a name for the next certificate request
    (endpoint,) = data["endpoints"]
    assert [c["thumbprint"] for c in endpoint["auth_certificates"]] == [
        facts(old).thumbprint,
        facts(new).thumbprint,
    ]


def facts(issued: Issued) -> Any:
    return parse_certificate(issued.der())


@pytest.mark.parametrize(
    ("status", "body", "reason", "text"),
    [
        (200, json.dumps({"keys": []}).encode(), Reason.NO_AUTH_CERTIFICATE, "lists no"),
        (200, b"<html>not json</html>", Reason.AUTH_METADATA_UNAVAILABLE, "not JSON"),
        (404, b"{}", Reason.AUTH_METADATA_UNAVAILABLE, "HTTP 404"),
    ],
)
def test_a_document_without_a_certificate_fails_the_probe(
    surfaces, make_tls, issuing_ca, status, body, reason, text
) -> None:
    server = _auth_server(make_tls, issuing_ca, status, body)
    verdict = surfaces({"auth_certificate": f"https://{FQDN}:{server.port}{METADATA}"})[
        "auth_certificate"
    ].verdict
    probe_ok = verdict.checks[Check.PROBE_OK]
    assert probe_ok.ok is False
    assert probe_ok.reason is reason
    assert text in (probe_ok.message or "")
    assert verdict.status is Status.CRITICAL


def test_the_jwks_shape_is_read_and_said(surfaces, make_tls, issuing_ca) -> None:
    auth = self_signed(AUTH_CN, not_after=NOW + 900 * DAY, san=False)
    server = _auth_server(make_tls, issuing_ca, 200, _document(auth, shape="x5c"))
    verdict = surfaces({"auth_certificate": f"https://{FQDN}:{server.port}{METADATA}"})[
        "auth_certificate"
    ].verdict
    assert verdict.leaf.thumbprint == facts(auth).thumbprint
    assert "keys[].x5c" in (verdict.checks[Check.PROBE_OK].message or "")
    assert verdict.status is Status.OK


def test_unreachable_metadata_is_a_probe_failure(surfaces) -> None:
    verdict = surfaces({"auth_certificate": f"https://{FQDN}:1{METADATA}"})[
        "auth_certificate"
    ].verdict
    assert verdict.checks[Check.PROBE_OK].reason is Reason.CONNECTION_REFUSED


def test_every_renderer_shows_the_new_surfaces(
    make_dns, make_tls, write_config, root_file, issuing_ca, tmp_path
) -> None:
    """The CLI as an admin runs it: table, PowerShell, page data and the Nagios check
    over an Auth certificate inside its critical threshold, an expired back end and
    SMTP on the old certificate."""
    auth = self_signed(AUTH_CN, not_after=NOW + 10 * DAY, san=False)
    metadata = _auth_server(make_tls, issuing_ca, 200, _document(auth))
    backend = make_tls(
        ADDRESS, self_signed("EXCH01", FQDN, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    )
    cert, key = issuing_ca.issue(FQDN).write(tmp_path, "old-smtp")
    smtp = Smtp(ADDRESS, cert, key)
    try:
        dns = make_dns({FQDN: [ADDRESS], "mail.contoso.com": [ADDRESS]})
        entry = {
            "name": "EXCH01",
            "fqdn": FQDN,
            "version": "2019",
            "urls": {
                "smtp": f"smtp://mail.contoso.com:{smtp.port}",
                "backend": f"https://{FQDN}:{backend.port}/",
                "auth_certificate": f"https://{FQDN}:{metadata.port}{METADATA}",
            },
        }
        path = str(write_config(lab_config([entry], dns, [root_file])))
        table = run_exporter("report", "--config.file", path, "--format", "table")
        script = run_exporter("report", "--config.file", path, "--format", "powershell")
        nagios = run_exporter("check", "--config.file", path, "--component", "auth_certificate")
        smtp_check = run_exporter(
            "check",
            "--url",
            f"smtp://mail.contoso.com:{smtp.port}",
            "--server-address",
            ADDRESS,
            "--ca-file",
            str(root_file),
        )
    finally:
        smtp.stop()
    assert table.returncode == 2, table.stderr
    for component in ("smtp", "backend", "auth_certificate"):
        assert component in table.stdout
    assert "name_mismatch" not in table.stdout  # the table shows the messages
    assert "is not among the certificate's subject alternative names" in table.stdout
    assert "self-signed by design" not in table.stdout  # not a problem: it does not apply
    assert (
        "Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint <new thumbprint> -Services 'SMTP'"
    ) in script.stdout
    rotation_guard = "(Get-AuthConfig).CurrentCertificateThumbprint -eq '"
    assert f"if ({rotation_guard}{facts(auth).thumbprint}') {{ " in script.stdout
    assert "Set-AuthConfig -PublishCertificate" in script.stdout
    assert "'Exchange Back End' site's https binding on port 444" in script.stdout
    # The Auth certificate's 10 days are critical on its own 14-day threshold, whatever -c says.
    assert nagios.returncode == 2, nagios.stdout
    assert nagios.stdout.startswith("EXCHANGE-CERT CRITICAL"), nagios.stdout
    assert "auth_certificate" in nagios.stdout
    assert smtp_check.returncode == 2, smtp_check.stdout + smtp_check.stderr
    assert "name_mismatch" in smtp_check.stdout


def test_the_page_keeps_the_auth_certificate_apart_from_the_web_certificate(
    surfaces, make_tls, issuing_ca
) -> None:
    """The metadata URL shares its host and port with EWS, but the Auth certificate is
    not the namespace's TLS certificate: the page gives it a group of its own."""
    auth = self_signed(AUTH_CN, not_after=NOW + 900 * DAY, san=False)
    server = _auth_server(make_tls, issuing_ca, 200, _document(auth))
    reports = surfaces(
        {
            "ews": f"https://{FQDN}:{server.port}/EWS/Exchange.asmx",
            "auth_certificate": f"https://{FQDN}:{server.port}{METADATA}",
        }
    )
    groups = {ns.name: ns for ns in namespaces(reports["_snapshot"])}
    assert set(groups) == {f"{FQDN}:{server.port}", f"https://{FQDN}:{server.port}{METADATA}"}
    web = groups[f"{FQDN}:{server.port}"].header(0)
    assert facts(auth).thumbprint not in web
    page = render_page(reports["_snapshot"], NOW)
    assert page.count(facts(auth).thumbprint) >= 1
