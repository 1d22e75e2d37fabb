"""AIA fetching and revocation, as a domain member's chain engine does them, against
real peers: TLS servers, an HTTP server for AIA certificates and CRLs, Debian's
``openssl ocsp`` responder, slapd for ``ldap:///`` URLs, dnsmasq for their names.
Each behaviour sits beside a control that differs in one thing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import load_config
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.pipeline import World, run_cycle
from tests.ad_data import CONFIG_DN, Obj
from tests.conftest import lab_config
from tests.peers.ocsp import OcspResponder
from tests.peers.pki_http import PkiHttp
from tests.pki import CA, DAY, NOW, legacy

PKI = "127.0.3.1"
NAMES = {
    "mail.contoso.com": ["127.0.1.1"],
    "exch01.contoso.local": ["127.0.1.1"],
    "pki.contoso.com": [PKI],
    "ocsp.contoso.com": [PKI],
}


@pytest.fixture
def pki_http():
    server = PkiHttp(PKI)
    yield server
    server.close()


@pytest.fixture
def responders(tmp_path: Path) -> Any:
    count = iter(range(100))

    def make(*args: Any, **kwargs: Any) -> OcspResponder:
        return OcspResponder(tmp_path / f"ocsp{next(count)}", *args, **kwargs)

    return make


def outcome(report, check: Check) -> tuple[bool | None, Reason | None]:
    result = report.verdict.checks[check]
    return result.ok, result.reason


def fixes(report) -> list[str]:
    return [step.text for step in report.remediation.steps]


def message(report, check: Check) -> str:
    return report.verdict.checks[check].message or ""


@pytest.fixture
def pki_judge(judge, tmp_path: Path):
    def run(root: CA, leaf: Any, **kwargs: Any) -> Any:
        root_file = root.write(tmp_path / f"root-{id(root)}.pem")
        kwargs.setdefault("records", NAMES)
        return judge(leaf, ca_files=[root_file], **kwargs)

    return run


# --- AIA -----------------------------------------------------------------------------


def test_intermediate_fetched_over_aia_is_trusted_but_incomplete(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    pki_http.serve("/issuing.crt", body=inter.der(), content_type="application/pkix-cert")
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/issuing.crt"))
    report = pki_judge(root, leaf, send=[])
    assert outcome(report, Check.ISSUER_TRUSTED) == (True, None)
    assert outcome(report, Check.CHAIN_COMPLETE) == (False, Reason.INCOMPLETE_CHAIN)
    text = message(report, Check.CHAIN_COMPLETE)
    assert pki_http.url("/issuing.crt") in text
    assert "phones and non-Windows clients will fail" in text
    assert report.status is Status.WARNING
    # It was asked for by name, at the host the URL names, resolved by internal DNS.
    assert pki_http.requests == [("GET", "/issuing.crt", f"pki.contoso.com:{pki_http.port}")]
    assert fixes(report) == [
        "Install the issuing intermediate CA certificate on EXCH01 (Import-Certificate "
        "-FilePath <intermediate.cer> -CertStoreLocation 'Cert:\\LocalMachine\\CA') and restart "
        "IIS (iisreset) so the server sends the whole chain"
    ]
    # Control: the same server sending its intermediate is complete.
    sent = pki_judge(root, leaf)
    assert outcome(sent, Check.CHAIN_COMPLETE) == (True, None)
    assert sent.status is Status.OK


def test_aia_answering_404_leaves_the_issuer_untrusted(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/gone.crt"))
    report = pki_judge(root, leaf, send=[])
    assert outcome(report, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert "HTTP 404" in message(report, Check.ISSUER_TRUSTED)
    assert len(fixes(report)) == 1
    assert fixes(report)[0].startswith("Install the issuing intermediate CA certificate")
    assert outcome(report, Check.CHAIN_COMPLETE) == (None, None)
    assert report.status is Status.CRITICAL


def test_aia_redirect_to_another_host_is_not_followed(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    pki_http.serve("/moved.crt", status=302, headers={"Location": "http://127.0.9.9/x.crt"})
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/moved.crt"))
    report = pki_judge(root, leaf, send=[])
    assert outcome(report, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert "not followed" in message(report, Check.ISSUER_TRUSTED)
    assert [r[1] for r in pki_http.requests] == ["/moved.crt"]
    # The same host on another port is another server: not followed either.
    elsewhere = f"http://pki.contoso.com:{pki_http.port + 1}/issuing.crt"
    pki_http.serve("/port.crt", status=302, headers={"Location": elsewhere})
    pki_http.serve("/issuing.crt", body=inter.der())
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/port.crt"))
    report = pki_judge(root, leaf, send=[])
    assert outcome(report, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert "another host or port; not followed" in message(report, Check.ISSUER_TRUSTED)
    # Control: a redirect on the same host and port is followed.
    pki_http.serve("/here.crt", status=302, headers={"Location": "/issuing.crt"})
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/here.crt"))
    assert outcome(pki_judge(root, leaf, send=[]), Check.ISSUER_TRUSTED) == (True, None)


def test_aia_turned_off_fetches_nothing(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    pki_http.serve("/issuing.crt", body=inter.der())
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/issuing.crt"))
    report = pki_judge(root, leaf, send=[], extra={"aia": {"enabled": False}})
    assert outcome(report, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert pki_http.url("/issuing.crt") in message(report, Check.ISSUER_TRUSTED)
    assert pki_http.requests == []


def test_aia_and_crl_are_cached_across_refreshes(
    make_tls, make_dns, write_config, tmp_path: Path, pki_http
) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root, crl=pki_http.url("/root.crl"))
    aia = pki_http.serve("/issuing.crt", body=inter.der())
    crl = pki_http.serve("/root.crl", body=root.crl())
    leaf = inter.issue("mail.contoso.com", aia=pki_http.url("/issuing.crt"))
    tls = make_tls("127.0.1.1", leaf, send=[])
    dns = make_dns(NAMES)
    servers = [
        {
            "name": f"EXCH0{n}",
            "fqdn": "exch01.contoso.local",
            "urls": {c: f"https://mail.contoso.com:{tls.port}/{c}" for c in ("ews", "oab", "owa")},
        }
        for n in (1, 2)
    ]
    config = load_config(
        str(write_config(lab_config(servers, dns, [root.write(tmp_path / "root.pem")])))
    )
    world = World()
    for _ in range(3):
        snapshot = run_cycle(config, world)
        assert {r.verdict.checks[Check.ISSUER_TRUSTED].ok for r in snapshot.endpoints} == {True}
        assert {r.verdict.checks[Check.NOT_REVOKED].ok for r in snapshot.endpoints} == {True}
    # Six endpoints, three refreshes: one fetch each.
    assert (aia.hits, crl.hits) == (1, 1)
    # Control: a new cache fetches again.
    run_cycle(config, World())
    assert (aia.hits, crl.hits) == (2, 2)


# --- Revocation: CRL -------------------------------------------------------------------


def test_revoked_leaf_is_critical(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    pki_http.serve("/issuing.crl", body=inter.crl([(leaf.cert, NOW - 2 * DAY)]))
    report = pki_judge(root, leaf)
    assert outcome(report, Check.NOT_REVOKED) == (False, Reason.REVOKED)
    text = message(report, Check.NOT_REVOKED)
    assert "keyCompromise" in text
    assert f"{(NOW - 2 * DAY):%Y-%m-%d}" in text
    assert report.status is Status.CRITICAL
    assert outcome(report, Check.ISSUER_TRUSTED) == (True, None)
    thumb = report.verdict.leaf.thumbprint
    assert fixes(report) == [
        "A certificate of the chain EXCH01 sends is revoked: request a new certificate for "
        "EXCH01 from a CA that is not revoked, import it with Import-ExchangeCertificate "
        "-Server 'EXCH01' -FileData <the .pfx file's bytes> -Password <its password>, then "
        "Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint <new thumbprint> "
        f"-Services 'IIS', and remove {thumb}"
    ]


def test_leaf_not_listed_in_the_crl_passes(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    other = inter.issue("other.contoso.com")
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    pki_http.serve("/issuing.crl", body=inter.crl([(other.cert, NOW - DAY)]))
    report = pki_judge(root, leaf)
    assert outcome(report, Check.NOT_REVOKED) == (True, None)
    assert report.status is Status.OK


def test_revoked_intermediate_is_critical(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root, crl=pki_http.url("/root.crl"))
    pki_http.serve("/root.crl", body=root.crl([(inter.cert, NOW - DAY)]))
    report = pki_judge(root, inter.issue("mail.contoso.com"))
    assert outcome(report, Check.NOT_REVOKED) == (False, Reason.REVOKED)
    assert "Contoso Issuing CA" in message(report, Check.NOT_REVOKED)


def test_sha1_crl_of_an_old_ad_cs_hierarchy_is_read(pki_judge, pki_http) -> None:
    """AD CS CAs built before 2012 sign CRLs with SHA-1; Windows reads them."""
    root = CA("Contoso 2008 Root", key="rsa2048")
    inter = CA("Contoso 2008 Issuing", parent=root, key="rsa2048", digest="sha1")
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/old.crl"))
    pki_http.serve("/old.crl", body=inter.crl([(leaf.cert, NOW - DAY)], sha1=True))
    revoked = pki_judge(root, leaf, tweak=legacy)
    assert outcome(revoked, Check.NOT_REVOKED) == (False, Reason.REVOKED)
    fine = inter.issue("mail.contoso.com", crl=pki_http.url("/old-empty.crl"))
    pki_http.serve("/old-empty.crl", body=inter.crl(sha1=True))
    report = pki_judge(root, fine, tweak=legacy)
    assert outcome(report, Check.NOT_REVOKED) == (True, None)
    assert [a.reason for a in report.verdict.advisories] == [Reason.WEAK_SIGNATURE]


def test_crl_signed_by_someone_else_is_not_believed(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    impostor = CA("Contoso Issuing CA", parent=root)  # same name, other key
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    pki_http.serve("/issuing.crl", body=impostor.crl([(leaf.cert, NOW - DAY)]))
    report = pki_judge(root, leaf)
    assert outcome(report, Check.NOT_REVOKED) == (None, Reason.REVOCATION_UNAVAILABLE)
    assert "not signed by its issuer" in message(report, Check.NOT_REVOKED)


def test_expired_crl_is_a_warning(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    stale = inter.crl(last_update=NOW - 20 * DAY, next_update=NOW - 3 * DAY)
    pki_http.serve("/issuing.crl", body=stale)
    report = pki_judge(root, leaf)
    assert outcome(report, Check.NOT_REVOKED) == (None, Reason.CRL_EXPIRED)
    assert report.status is Status.WARNING
    assert fixes(report) == [
        "On the CA that issued the chain, publish a fresh CRL (certutil -crl) and make its "
        "CRL distribution points reachable from clients; check with certutil -verify "
        f"-urlfetch on certificate {report.verdict.leaf.thumbprint}. Exchange marks the "
        "certificate RevocationCheckFailure until it can check"
    ]


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"hang": 30.0}, "no answer within the timeout"),
        ({"stream": 50 << 20}, "larger than"),
        ({"body": b"this is not a CRL"}, "is not a CRL"),
        ({"status": 500}, "HTTP 500"),
    ],
    ids=["hangs", "50MB", "garbage", "http-500"],
)
def test_cdp_faults_are_bounded_warnings(pki_judge, pki_http, route, expected) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    pki_http.serve("/issuing.crl", **route)
    start = time.monotonic()
    report = pki_judge(root, leaf, extra={"revocation": {"timeout": "1s"}})
    assert time.monotonic() - start < 8
    assert outcome(report, Check.NOT_REVOKED) == (None, Reason.REVOCATION_UNAVAILABLE)
    assert expected in message(report, Check.NOT_REVOKED)
    assert report.status is Status.WARNING


def test_revocation_turned_off_fetches_nothing(pki_judge, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    leaf = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    pki_http.serve("/issuing.crl", body=inter.crl([(leaf.cert, NOW - DAY)]))
    report = pki_judge(root, leaf, extra={"revocation": {"enabled": False}})
    assert outcome(report, Check.NOT_REVOKED) == (None, None)
    assert pki_http.requests == []


# --- Revocation: OCSP, from Debian's openssl ocsp ---------------------------------------


def test_ocsp_revoked_and_good(pki_judge, responders, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    good = inter.issue("mail.contoso.com", ocsp=pki_http.url("/ocsp", "ocsp.contoso.com"))
    bad = inter.issue("mail.contoso.com", ocsp=pki_http.url("/ocsp", "ocsp.contoso.com"))
    responder = responders(inter, pki_http, [good.cert], [(bad.cert, NOW - DAY)])
    revoked = pki_judge(root, bad)
    assert outcome(revoked, Check.NOT_REVOKED) == (False, Reason.REVOKED)
    assert "per OCSP" in message(revoked, Check.NOT_REVOKED)
    assert revoked.status is Status.CRITICAL
    fine = pki_judge(root, good)
    assert outcome(fine, Check.NOT_REVOKED) == (True, None)
    assert responder.answered == 2


def test_ocsp_unknown_falls_back_to_the_crl(pki_judge, responders, pki_http) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    ocsp = pki_http.url("/ocsp", "ocsp.contoso.com")
    leaf = inter.issue("mail.contoso.com", ocsp=ocsp, crl=pki_http.url("/i.crl"))
    responders(inter, pki_http, [])  # does not know the certificate
    pki_http.serve("/i.crl", body=inter.crl([(leaf.cert, NOW - DAY)]))
    assert outcome(pki_judge(root, leaf), Check.NOT_REVOKED) == (False, Reason.REVOKED)
    # Control: without the CRL, "unknown" alone leaves revocation unknown.
    alone = inter.issue("mail.contoso.com", ocsp=ocsp)
    report = pki_judge(root, alone)
    assert outcome(report, Check.NOT_REVOKED) == (None, Reason.REVOCATION_UNAVAILABLE)
    assert "does not know the certificate" in message(report, Check.NOT_REVOKED)


# --- ldap:/// through the configured directory ------------------------------------------

PKS = f"CN=Public Key Services,CN=Services,{CONFIG_DN}"


def _pki_objects(inter: CA, crl: bytes) -> list[Obj]:
    return [
        Obj(f"CN=Services,{CONFIG_DN}", ["container"]),
        Obj(PKS, ["container"]),
        Obj(f"CN=AIA,{PKS}", ["container"]),
        Obj(f"CN=CDP,{PKS}", ["container"]),
        Obj(f"CN=DC01,CN=CDP,{PKS}", ["container"]),
        Obj(
            f"CN=Contoso Issuing CA,CN=AIA,{PKS}",
            ["container", "pkiCA"],
            {"cACertificate;binary": [inter.der()]},
        ),
        Obj(
            f"CN=Contoso Issuing CA,CN=DC01,CN=CDP,{PKS}",
            ["cRLDistributionPoint"],
            {"certificateRevocationList;binary": [crl]},
        ),
    ]


def _ldap_section(slapd: Any, password_file: Path, ca: Path) -> dict[str, Any]:
    from tests.peers.slapd import BIND_DN

    return {
        "url": slapd.ldaps_url,
        "bind_dn": BIND_DN,
        "bind_password_file": str(password_file),
        "ca_file": str(ca),
        "timeout": "2s",
    }


def test_ldap_aia_and_cdp_through_the_directory(
    pki_judge, make_slapd, password_file, ldap_tls_files
) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    aia = f"ldap:///CN=Contoso%20Issuing%20CA,CN=AIA,{PKS}?cACertificate?base?objectClass=certificationAuthority"
    cdp = f"ldap:///CN=Contoso%20Issuing%20CA,CN=DC01,CN=CDP,{PKS}?certificateRevocationList?base?objectClass=cRLDistributionPoint"
    leaf = inter.issue("mail.contoso.com", aia=aia, crl=cdp)
    slapd = make_slapd(_pki_objects(inter, inter.crl([(leaf.cert, NOW - DAY)])))
    ldap = _ldap_section(slapd, password_file, ldap_tls_files["ca"])
    report = pki_judge(root, leaf, send=[], extra={"ldap": ldap})
    assert outcome(report, Check.ISSUER_TRUSTED) == (True, None)
    assert outcome(report, Check.CHAIN_COMPLETE) == (False, Reason.INCOMPLETE_CHAIN)
    assert outcome(report, Check.NOT_REVOKED) == (False, Reason.REVOKED)
    # Control: without a configured directory the same URLs cannot be read.
    alone = pki_judge(root, leaf, send=[])
    assert outcome(alone, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert "no directory is configured" in message(alone, Check.ISSUER_TRUSTED)


def test_ldap_url_naming_another_directory_is_refused(
    pki_judge, make_slapd, password_file, ldap_tls_files
) -> None:
    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    aia = f"ldap://dc99.fabrikam.com/CN=Contoso%20Issuing%20CA,CN=AIA,{PKS}?cACertificate"
    slapd = make_slapd(_pki_objects(inter, inter.crl()))
    ldap = _ldap_section(slapd, password_file, ldap_tls_files["ca"])
    report = pki_judge(
        root, inter.issue("mail.contoso.com", aia=aia), send=[], extra={"ldap": ldap}
    )
    assert outcome(report, Check.ISSUER_TRUSTED) == (False, Reason.INCOMPLETE_CHAIN)
    assert "not the configured 127.0.0.1" in message(report, Check.ISSUER_TRUSTED)


# --- Nagios: the whole output, as a plugin's caller reads it ------------------------------


def test_nagios_check_reports_revoked_and_incomplete_chains(
    make_tls, make_dns, write_config, tmp_path: Path, pki_http
) -> None:
    from tests.conftest import run_exporter

    root = CA("Contoso Root")
    inter = CA("Contoso Issuing CA", parent=root)
    pki_http.serve("/issuing.crt", body=inter.der())
    revoked = inter.issue("mail.contoso.com", crl=pki_http.url("/issuing.crl"))
    fetched = inter.issue("mail2.contoso.com", aia=pki_http.url("/issuing.crt"))
    pki_http.serve("/issuing.crl", body=inter.crl([(revoked.cert, NOW - DAY)]))
    bad = make_tls("127.0.1.1", revoked)
    aia = make_tls("127.0.1.2", fetched, send=[])
    dns = make_dns(
        {**NAMES, "exch02.contoso.local": ["127.0.1.2"], "mail2.contoso.com": ["127.0.1.2"]}
    )

    def server(name: str, host: str, tls: Any) -> dict[str, Any]:
        return {
            "name": name,
            "fqdn": f"{name.lower()}.contoso.local",
            "urls": {"ews": f"https://{host}:{tls.port}/EWS/Exchange.asmx"},
        }

    servers = [
        server("EXCH01", "mail.contoso.com", bad),
        server("EXCH02", "mail2.contoso.com", aia),
    ]
    config = lab_config(servers, dns, [root.write(tmp_path / "r.pem")])
    path = str(write_config(config))
    result = run_exporter("check", "--config.file", path, "--server", "EXCH01")
    assert result.returncode == 2, result.stdout
    first, *rest = result.stdout.splitlines()
    assert first.startswith("EXCHANGE-CERT CRITICAL - 1 of 1 endpoints critical: EXCH01 ews")
    assert "(revoked)" in first
    assert any(line.startswith("  not_revoked: the certificate is revoked on") for line in rest)
    assert any("fix: A certificate of the chain EXCH01 sends is revoked" in line for line in rest)
    warned = run_exporter("check", "--config.file", path, "--server", "EXCH02")
    assert warned.returncode == 1, warned.stdout
    assert "EXCH02 ews (incomplete_chain)" in warned.stdout.splitlines()[0]
    assert "phones and non-Windows clients will fail" in warned.stdout
