"""Outlook's three checks and the DNS check, against real TLS servers and dnsmasq.

Every failing case sits next to a passing control that differs in one thing.
"""

from __future__ import annotations

import datetime as dt

from exporter.evaluate.outcome import Check, Reason, Status
from tests.pki import CA, DAY, NOW, self_signed


def checks(report) -> dict[str, bool | None]:
    return {c.value: o.ok for c, o in report.verdict.checks.items()}


def reason(report, check: Check) -> Reason | None:
    return report.verdict.checks[check].reason


def test_trusted_matching_certificate_passes_everything(judge, issuing_ca: CA) -> None:
    report = judge(issuing_ca.issue("mail.contoso.com"))
    assert checks(report) == {
        "probe_ok": True,
        "dns_match": True,
        "name_match": True,
        "issuer_trusted": True,
        "date_valid": True,
        "chain_complete": True,
        "not_revoked": None,  # the lab certificate names no CDP and no responder
        "consistent": None,  # alone in its namespace
    }
    assert report.status is Status.OK
    assert report.remediation.steps == ()
    assert report.tls_server.sni_seen == ["mail.contoso.com"]


def test_kb940726_name_mismatch(judge, issuing_ca: CA) -> None:
    report = judge(issuing_ca.issue("mail.contoso.com"), host="exch01.contoso.local")
    assert checks(report)["name_match"] is False
    assert checks(report)["issuer_trusted"] is True
    assert reason(report, Check.NAME_MATCH) is Reason.NAME_MISMATCH
    assert report.status is Status.CRITICAL


def test_san_present_only_cn_matches_is_a_mismatch(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", cn="exch01.contoso.local")
    assert checks(judge(cert, host="exch01.contoso.local"))["name_match"] is False


def test_cn_only_certificate_matches_by_cn(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue(cn="exch01.contoso.local", san=False)
    assert checks(judge(cert, host="exch01.contoso.local"))["name_match"] is True


def test_wildcard_certificate(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("*.contoso.local")
    assert checks(judge(cert, host="exch01.contoso.local"))["name_match"] is True


def test_wildcard_does_not_cover_two_labels(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("*.local")
    assert checks(judge(cert, host="exch01.contoso.local"))["name_match"] is False


def test_sni_decides_which_certificate_is_judged(judge, issuing_ca: CA) -> None:
    default = issuing_ca.issue("default.contoso.local")
    named = issuing_ca.issue("mail.contoso.com")
    report = judge(default, by_sni={"mail.contoso.com": named})
    assert checks(report)["name_match"] is True
    # Control: without the SNI binding the default certificate is presented and fails.
    assert checks(judge(default))["name_match"] is False


def test_self_signed(judge) -> None:
    report = judge(self_signed("mail.contoso.com"))
    assert checks(report)["issuer_trusted"] is False
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.SELF_SIGNED
    assert checks(report)["name_match"] is True


def test_unknown_issuer(judge) -> None:
    stranger = CA("Fabrikam Root CA")
    report = judge(stranger.issue("mail.contoso.com"))
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.UNKNOWN_ISSUER
    assert "Fabrikam Root CA" in (report.verdict.checks[Check.ISSUER_TRUSTED].message or "")


def test_untrusted_root_sent_by_server(judge) -> None:
    stranger = CA("Fabrikam Root CA")
    inter = CA("Fabrikam Issuing", parent=stranger)
    cert = inter.issue("mail.contoso.com")
    report = judge(cert, send=[inter.cert, stranger.cert])
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.UNTRUSTED_ROOT


def test_missing_intermediate_is_incomplete_chain(
    judge, root_ca: CA, issuing_ca: CA, tmp_path
) -> None:
    bundle = tmp_path / "known.pem"
    bundle.write_bytes(root_ca.pem() + issuing_ca.pem())
    cert = issuing_ca.issue("mail.contoso.com")
    report = judge(cert, send=[], ca_files=[bundle])
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.INCOMPLETE_CHAIN
    assert "Contoso Issuing CA" in (report.verdict.checks[Check.ISSUER_TRUSTED].message or "")
    # Control: the same certificate with its intermediate sent is trusted.
    assert checks(judge(cert, ca_files=[bundle]))["issuer_trusted"] is True


def test_missing_intermediate_with_aia_hint(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", aia="http://pki.contoso.com/issuing.crt")
    report = judge(cert, send=[])
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.INCOMPLETE_CHAIN
    assert (
        "http://pki.contoso.com/issuing.crt" in report.verdict.checks[Check.ISSUER_TRUSTED].message
    )


def test_expired_certificate_fails_date_not_trust(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", not_before=NOW - 400 * DAY, not_after=NOW - DAY)
    report = judge(cert)
    assert checks(report)["date_valid"] is False
    assert reason(report, Check.DATE_VALID) is Reason.EXPIRED
    assert checks(report)["issuer_trusted"] is True
    assert report.status is Status.CRITICAL


def test_not_yet_valid(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", not_before=NOW + 2 * DAY, not_after=NOW + 400 * DAY)
    report = judge(cert)
    assert reason(report, Check.DATE_VALID) is Reason.NOT_YET_VALID
    assert checks(report)["issuer_trusted"] is True


def test_expired_intermediate_fails_trust(judge, root_ca: CA) -> None:
    old = CA("Old Issuing CA", parent=root_ca, not_before=NOW - 900 * DAY, not_after=NOW - DAY)
    cert = old.issue("mail.contoso.com", not_before=NOW - 800 * DAY, not_after=NOW + 30 * DAY)
    report = judge(cert)
    assert checks(report)["issuer_trusted"] is False
    assert reason(report, Check.ISSUER_TRUSTED) is Reason.INVALID_CHAIN


def test_expiry_thresholds(judge, issuing_ca: CA) -> None:
    soon = issuing_ca.issue("mail.contoso.com", not_after=NOW + 20 * DAY)
    report = judge(soon)
    assert report.status is Status.WARNING
    assert report.verdict.expiry.reason is Reason.EXPIRES_SOON
    very_soon = issuing_ca.issue("mail.contoso.com", not_after=NOW + 3 * DAY)
    assert judge(very_soon).status is Status.CRITICAL
    # Control: with a 10-day warning threshold the 20-day certificate is fine.
    assert (
        judge(soon, thresholds={"expiry_warning": "10d", "expiry_critical": "2d"}).status
        is Status.OK
    )


def test_chain_expiry_is_tracked_separately(judge, root_ca: CA) -> None:
    short = CA("Short Issuing CA", parent=root_ca, not_after=NOW + 10 * DAY)
    report = judge(short.issue("mail.contoso.com", not_after=NOW + 300 * DAY))
    assert report.verdict.chain_not_after < report.verdict.not_after
    assert report.verdict.expiry.reason is Reason.CHAIN_EXPIRES_SOON
    assert report.status is Status.WARNING


def test_clock_is_injected(judge, issuing_ca: CA) -> None:
    cert = issuing_ca.issue("mail.contoso.com", not_after=NOW + 100 * DAY)
    later = NOW + dt.timedelta(days=101)
    assert reason(judge(cert, now=later), Check.DATE_VALID) is Reason.EXPIRED


# --- DNS, through dnsmasq -------------------------------------------------------


def test_dns_name_missing(judge, issuing_ca: CA) -> None:
    report = judge(
        issuing_ca.issue("mail.contoso.com"), records={"exch01.contoso.local": ["127.0.1.1"]}
    )
    assert checks(report)["dns_match"] is False
    assert reason(report, Check.DNS_MATCH) is Reason.NXDOMAIN
    # The certificate is still judged: connecting to the server's own address.
    assert checks(report)["name_match"] is True
    assert checks(report)["probe_ok"] is True


def test_dns_points_elsewhere(judge, issuing_ca: CA) -> None:
    report = judge(
        issuing_ca.issue("mail.contoso.com"),
        records={"mail.contoso.com": ["127.0.9.9"], "exch01.contoso.local": ["127.0.1.1"]},
    )
    outcome = report.verdict.checks[Check.DNS_MATCH]
    assert outcome.reason is Reason.POINTS_ELSEWHERE
    assert "127.0.9.9" in outcome.message
    assert report.verdict.probe.address == "127.0.1.1"


def test_dns_static_addresses_count_as_the_server(judge, issuing_ca: CA) -> None:
    report = judge(
        issuing_ca.issue("mail.contoso.com"),
        records={"mail.contoso.com": ["127.0.1.5"]},
        server={"addresses": ["127.0.1.1", "127.0.1.5"]},
    )
    assert checks(report)["dns_match"] is True
    assert report.verdict.probe.server_dns is None


def test_server_name_missing_but_url_resolving_stays_ok(judge, issuing_ca: CA) -> None:
    """Only the server's own name does not resolve: the URL's host does, the probe
    reaches the certificate, and nothing is wrong for Outlook. dns_match is not
    judged (server_address_unknown) and that is no warning."""
    report = judge(
        issuing_ca.issue("mail.contoso.com"), records={"mail.contoso.com": ["127.0.1.1"]}
    )
    assert report.verdict.checks[Check.DNS_MATCH].ok is None
    assert reason(report, Check.DNS_MATCH) is Reason.SERVER_ADDRESS_UNKNOWN
    assert checks(report)["probe_ok"] is True
    assert report.status is Status.OK
