"""Every client's verdict (issue #24), one test per rule against a real TLS server
presenting a certificate built for it, each beside its control: Apple's 825 days
for any root against AD CS's 730-day template; 398 days under a public root; a
subjectAltName against a CN-only certificate; SHA-256 against SHA-1; 2048 against
1024 bits; serverAuth in the EKU against none, on a leaf issued after 2019-07-01.
Chromium's own verdicts are tests/test_client_chromium.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.certfacts import parse_chain
from exporter.evaluate.chain import judge_chain
from exporter.evaluate.clients import (
    DEFAULT_COMPONENTS,
    ChainTraits,
    Family,
    clients_outcome,
    evaluate_clients,
)
from exporter.evaluate.names import evaluate_name
from exporter.evaluate.outcome import Check, Outcome, Reason, Status
from exporter.lab.pki import CLIENT_AUTH
from exporter.model import Component
from exporter.probe.handshakes import probe_tls
from exporter.probe.tls import TlsClient
from exporter.remediation import StepKind
from exporter.truststore import TrustStore
from tests.pki import CA, DAY, NOW, legacy


@pytest.fixture
def client_judge(judge, tmp_path: Path):
    """Judge ``leaf`` as issued by a hierarchy whose root is the only (enterprise)
    anchor, on ``component`` (EWS: Outlook and Apple; OWA: Apple and browsers)."""

    def run(root: CA, leaf: Any, component: str = "ews", **kwargs: Any) -> Any:
        root_file = root.write(tmp_path / f"root-{id(root)}.pem")
        path = {"ews": "/EWS/Exchange.asmx", "owa": "/owa"}[component]
        return judge(
            leaf, ca_files=[root_file], tweak=legacy, component=component, path=path, **kwargs
        )

    return run


def refusals(report: Any, family: str) -> list[Reason | None]:
    return [r.reason for r in report.verdict.clients[family].reasons]


def test_ad_cs_two_year_template_breaks_no_client(client_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    two_years = inter.issue("mail.contoso.com", not_before=NOW - DAY, not_after=NOW + 729 * DAY)
    report = client_judge(root, two_years)
    assert report.status is Status.OK
    assert report.verdict.advisories == ()
    assert {f: v.accepts for f, v in report.verdict.clients.items()} == {
        "outlook": True,
        "apple": True,
    }
    # Control: 826 days is more than Apple allows any root.
    long = inter.issue("mail.contoso.com", not_before=NOW - DAY, not_after=NOW + 825 * DAY)
    refused = client_judge(root, long)
    assert refused.status is Status.CRITICAL
    assert refused.verdict.checks[Check.NAME_MATCH].ok is True  # Outlook is fine
    assert refused.verdict.clients["outlook"].accepts is True
    assert refusals(refused, "apple") == [Reason.VALIDITY_TOO_LONG]
    rejects = refused.verdict.client_rejects
    assert rejects.reason is Reason.CLIENT_REJECTS
    assert "iPhones, iPads and Macs (apple) refuse it" in (rejects.message or "")
    assert "826 days, more than the 825" in (rejects.message or "")
    # The fix: the request for a certificate every client accepts, and the limit.
    (fix,) = [s for s in refused.remediation.steps if "every client accepts" in s.text]
    assert fix.kind is StepKind.ADVICE
    assert (
        "New-ExchangeCertificate -GenerateRequest -SubjectName 'cn=mail.contoso.com' " in fix.text
    )
    assert "-DomainName 'mail.contoso.com' -KeySize 2048" in fix.text
    assert "825 from your own" in fix.text


def test_a_cn_only_certificate_is_refused_by_phones_and_browsers(client_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    cn_only = inter.issue(cn="mail.contoso.com", san=False)
    report = client_judge(root, cn_only, component="owa")
    assert report.verdict.checks[Check.NAME_MATCH].ok is True  # Windows falls back to the CN
    assert refusals(report, "browser") == [Reason.NO_SAN]
    assert refusals(report, "apple") == [Reason.NO_SAN]
    assert report.status is Status.CRITICAL
    # Control: the same name in the SAN is accepted by every family.
    san = client_judge(root, inter.issue("mail.contoso.com"), component="owa")
    assert san.status is Status.OK
    assert all(v.accepts for v in san.verdict.clients.values())


@pytest.mark.parametrize("where", ["leaf", "intermediate"])
def test_sha1_is_refused_by_phones_and_browsers(client_judge, where) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root, digest="sha1" if where == "intermediate" else "sha256")
    leaf = inter.issue("mail.contoso.com", digest="sha1" if where == "leaf" else "sha256")
    report = client_judge(root, leaf, component="owa")
    assert refusals(report, "browser") == [Reason.WEAK_SIGNATURE]
    assert refusals(report, "apple") == [Reason.WEAK_SIGNATURE]
    assert report.status is Status.CRITICAL
    # The advisory stays, whichever family is enabled.
    assert [a.reason for a in report.verdict.advisories] == [Reason.WEAK_SIGNATURE]
    # Control: SHA-256.
    clean = CA("Issuing", parent=root).issue("mail.contoso.com")
    assert client_judge(root, clean, component="owa").status is Status.OK


def test_rsa_1024_is_refused_by_phones_not_browsers(client_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    weak = inter.issue("mail.contoso.com", key="rsa1024")
    report = client_judge(root, weak, component="owa")
    assert refusals(report, "apple") == [Reason.WEAK_KEY]
    assert report.verdict.clients["browser"].accepts is True  # Chromium 156 loads it
    assert report.status is Status.CRITICAL
    strong = inter.issue("mail.contoso.com", key="rsa2048")
    assert client_judge(root, strong, component="owa").status is Status.OK


def test_no_server_auth_eku_is_refused_by_apple_after_2019(client_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    no_eku = inter.issue("mail.contoso.com", eku=[])
    report = client_judge(root, no_eku)
    assert report.verdict.checks[Check.ISSUER_TRUSTED].ok is True  # Windows: no EKU is any
    assert refusals(report, "apple") == [Reason.NO_SERVER_AUTH_EKU]
    assert report.status is Status.CRITICAL
    # Controls: the EKU with serverAuth; and a leaf issued before 2019-07-01.
    assert client_judge(root, inter.issue("mail.contoso.com")).status is Status.OK
    old = inter.issue(
        "mail.contoso.com", eku=[], not_before=NOW - 3000 * DAY, not_after=NOW + 300 * DAY
    )
    old_report = client_judge(root, old)
    # Issued in 2018: neither the EKU rule nor the 825 days apply (3300 days).
    assert refusals(old_report, "apple") == []
    assert old_report.status is Status.OK


def test_a_client_auth_only_leaf_is_outlooks_finding_not_a_second_one(client_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    report = client_judge(root, inter.issue("mail.contoso.com", eku=[CLIENT_AUTH]))
    assert report.verdict.checks[Check.ISSUER_TRUSTED].reason is Reason.WRONG_USAGE
    assert report.verdict.client_rejects.ok is not False  # the check already says it


def test_398_days_under_a_public_root(make_tls, tmp_path: Path) -> None:
    """From 2020-09-01 a leaf under a public root is refused by Apple and Chromium
    beyond 398 days. The chain comes from a real server; the store marks its root
    public, as the system bundle's roots are."""
    root = CA("Public Root")
    inter = CA("Public Issuing CA", parent=root)
    store = TrustStore((root.cert,), (), frozenset({root.der()}))

    def verdicts(days: int) -> dict[str, Any]:
        leaf = inter.issue(
            "mail.contoso.com", not_before=NOW - DAY, not_after=NOW + (days - 1) * DAY
        )
        server = make_tls("127.0.1.19", leaf)
        presented = probe_tls("127.0.1.19", server.port, "mail.contoso.com", 3.0, TlsClient())
        chain = parse_chain(presented.chain)
        judged = judge_chain(chain, store, NOW)
        assert judged.public_root is True
        checks = {
            Check.NAME_MATCH: evaluate_name(chain[0], "mail.contoso.com"),
            Check.ISSUER_TRUSTED: judged.issuer,
            Check.DATE_VALID: Outcome.passed(),
        }
        traits = ChainTraits(judged.advisories, judged.public_root)
        return evaluate_clients(
            Component.OWA, "mail.contoso.com", chain[0], checks, traits, DEFAULT_COMPONENTS
        )

    year = verdicts(398)
    assert {f: v.accepts for f, v in year.items()} == {"apple": True, "browser": True}
    longer = verdicts(399)
    assert [r.reason for r in longer["browser"].reasons] == [Reason.VALIDITY_TOO_LONG]
    assert [r.reason for r in longer["apple"].reasons] == [Reason.VALIDITY_TOO_LONG]
    assert clients_outcome(longer).reason is Reason.CLIENT_REJECTS


def test_an_organisation_without_phones_says_so(client_judge, tmp_path: Path) -> None:
    """clients: [outlook, browser]: apple is judged nowhere, and RSA-1024 (which only
    Apple refuses) is a hygiene warning again."""
    root = CA("Contoso Root")
    weak = CA("Issuing", parent=root).issue("mail.contoso.com", key="rsa1024")
    report = client_judge(root, weak, component="owa", extra={"clients": ["outlook", "browser"]})
    assert set(report.verdict.clients) == {"browser"}
    assert report.status is Status.WARNING
    # client_components moves a family onto a component.
    moved = client_judge(
        root,
        weak,
        component="ews",
        extra={"clients": ["outlook", "browser"], "client_components": {"browser": ["ews"]}},
    )
    assert set(moved.verdict.clients) == {"outlook", "browser"}
    assert Family.APPLE.value not in moved.verdict.clients


def test_the_page_shows_each_familys_verdict(client_judge) -> None:
    from exporter.render.html import render_page
    from exporter.snapshot import Snapshot

    root = CA("Contoso Root")
    cn_only = CA("Contoso Issuing CA", parent=root).issue(cn="mail.contoso.com", san=False)
    report = client_judge(root, cn_only, component="owa")
    snapshot = Snapshot((report.report,), (), NOW, 0.0, report.status)
    page = render_page(snapshot, NOW)
    assert '<div class="reason clients"><b>clients</b>: apple ' in page
    assert "browser" in page.split('class="reason clients"')[1].split("</div>")[0]
    assert "(no_san)" in page
    assert 'title="apple refuses; browser refuses"' in page
