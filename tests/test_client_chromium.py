"""Issue #24: a real client for the ``browser`` rules. Debian's Chromium, headless,
trusting the test's enterprise root through a private NSS database (HOME is a temp
dir; libnss3-tools' certutil put the root in its ``.pki/nssdb``), loads OWA from a
real TLS server on loopback for each certificate below; the product's ``browser``
verdict on the same server must be what Chromium did, case by case.

Measured here (Debian's Chromium 156, headless), every certificate under the same
enterprise root (EC P-256 keys and SHA-256 unless the case says otherwise):

| certificate | Chromium | product ``browser`` |
|---|---|---|
| SAN covers the host (control) | loads | accepts |
| CN-only | ERR_CERT_COMMON_NAME_INVALID | refuses: no_san |
| SAN another host, CN the host | ERR_CERT_COMMON_NAME_INVALID | refuses: name_mismatch |
| SHA-1-signed leaf | ERR_CERT_INVALID | refuses: weak_signature |
| SHA-1-signed issuing CA | ERR_CERT_INVALID | refuses: weak_signature |
| both again, RSA-2048 keys (sha1WithRSA) | ERR_CERT_INVALID | refuses: weak_signature |
| RSA-1024 leaf | loads | accepts |
| RSA-1024 issuing CA | loads | accepts |
| leaf without an EKU extension | loads | accepts |
| 730-day leaf | loads | accepts |
| 1000-day leaf | loads | accepts |
| expired leaf (control) | ERR_CERT_DATE_INVALID | refuses: expired |

And the negative control: the SAN-covers-the-host certificate fails with
ERR_CERT_AUTHORITY_INVALID in a Chromium whose NSS database is empty, so the
test's root is what made the pages load. ../shared/CLIENTS.md's table says the same.

One browser for every case (module-scoped), each page in a fresh browser context
(no connection or TLS session shared between cases), each navigation bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.evaluate.outcome import Reason
from tests.peers.chromium_nss import Visit, launch, nss_home, visit
from tests.pki import CA, DAY, NOW, Issued, legacy

HOST = "mail.contoso.com"
ADDRESS = "127.0.24.1"  # every case's server, each on its own port
RESOLVER_RULES = f"MAP {HOST} {ADDRESS}"
PAGE = b'{"page": "owa"}'


class Hierarchy:
    """The test's enterprise PKI: one root (the one in Chromium's NSS database and in
    the product's ca_files) and the issuing CAs the cases need."""

    def __init__(self) -> None:
        self.root = CA("Contoso Enterprise Root CA")
        self.issuing = CA("Contoso Issuing CA", parent=self.root)
        self.sha1_issuing = CA("Contoso SHA-1 Issuing CA", parent=self.root, digest="sha1")
        self.rsa1024_issuing = CA("Contoso RSA-1024 Issuing CA", parent=self.root, key="rsa1024")
        # AD CS 2008's shape: RSA keys, SHA-1 signatures (sha1WithRSAEncryption).
        self.rsa_issuing = CA("Contoso 2008 Issuing CA", parent=self.root, key="rsa2048")
        self.rsa_sha1_issuing = CA(
            "Contoso 2008 SHA-1 Issuing CA", parent=self.root, key="rsa2048", digest="sha1"
        )


def _days(n: int) -> dict[str, Any]:
    return {"not_before": NOW - DAY, "not_after": NOW - DAY + n * DAY}


# id: (the certificate, Chromium's net error or None when the page loads,
#      the product's reasons for refusing it)
CASES: dict[str, tuple[Callable[[Hierarchy], Issued], str | None, list[Reason]]] = {
    "san-covers-host": (lambda h: h.issuing.issue(HOST), None, []),
    "cn-only": (
        lambda h: h.issuing.issue(cn=HOST, san=False),
        "ERR_CERT_COMMON_NAME_INVALID",
        [Reason.NO_SAN],
    ),
    "san-other-host-cn-host": (
        lambda h: h.issuing.issue("owa.fabrikam.com", cn=HOST),
        "ERR_CERT_COMMON_NAME_INVALID",
        [Reason.NAME_MISMATCH],
    ),
    "sha1-leaf": (
        lambda h: h.issuing.issue(HOST, digest="sha1"),
        "ERR_CERT_INVALID",
        [Reason.WEAK_SIGNATURE],
    ),
    "sha1-issuing-ca": (
        lambda h: h.sha1_issuing.issue(HOST),
        "ERR_CERT_INVALID",
        [Reason.WEAK_SIGNATURE],
    ),
    "sha1-rsa-leaf": (
        lambda h: h.rsa_issuing.issue(HOST, key="rsa2048", digest="sha1"),
        "ERR_CERT_INVALID",
        [Reason.WEAK_SIGNATURE],
    ),
    "sha1-rsa-issuing-ca": (
        lambda h: h.rsa_sha1_issuing.issue(HOST, key="rsa2048"),
        "ERR_CERT_INVALID",
        [Reason.WEAK_SIGNATURE],
    ),
    "rsa1024-leaf": (lambda h: h.issuing.issue(HOST, key="rsa1024"), None, []),
    "rsa1024-issuing-ca": (lambda h: h.rsa1024_issuing.issue(HOST), None, []),
    "no-eku": (lambda h: h.issuing.issue(HOST, eku=[]), None, []),
    "730-days": (lambda h: h.issuing.issue(HOST, **_days(730)), None, []),
    "1000-days": (lambda h: h.issuing.issue(HOST, **_days(1000)), None, []),
    "expired": (
        lambda h: h.issuing.issue(HOST, not_before=NOW - 400 * DAY, not_after=NOW - DAY),
        "ERR_CERT_DATE_INVALID",
        [Reason.EXPIRED],
    ),
}


@pytest.fixture(scope="module")
def pki() -> Hierarchy:
    return Hierarchy()


@pytest.fixture(scope="module")
def root_pem(pki: Hierarchy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pki.root.write(tmp_path_factory.mktemp("chromium-root") / "root.pem")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def chromium(playwright: Any, root_pem: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Chromium trusting the test's root, and nothing else the test could add."""
    home = nss_home(tmp_path_factory.mktemp("chromium-home"), [root_pem])
    browser = launch(playwright, home, RESOLVER_RULES)
    yield browser
    browser.close()


def _serve_owa(judged: Any) -> str:
    """The URL of the page on the server the product just judged (same certificate,
    same chain): OWA answers 200 with a tiny body."""
    server = judged.tls_server
    server.documents["/owa"] = (200, PAGE)
    return f"https://{HOST}:{server.port}/owa"


def _judge(judge: Callable[..., Any], issued: Issued, root_pem: Path) -> Any:
    # legacy: security level 0, so the server will present SHA-1 and RSA-1024 chains.
    return judge(
        issued,
        host=HOST,
        address=ADDRESS,
        component="owa",
        path="/owa",
        ca_files=[root_pem],
        tweak=legacy,
    )


def _loaded(seen: Visit) -> bool:
    if seen.loaded:
        assert (seen.status, seen.body) == (200, PAGE)
        return True
    assert seen.certificate_error, f"not a certificate error: {seen.error}"
    return False


@pytest.mark.parametrize("case", list(CASES))
def test_the_browser_verdict_is_what_chromium_did(
    case: str, pki: Hierarchy, root_pem: Path, judge, chromium
) -> None:
    make, chromium_error, refused_for = CASES[case]
    issued = make(pki)
    judged = _judge(judge, issued, root_pem)
    assert judged.verdict.leaf.der == issued.der()  # the product judged this certificate
    seen = visit(chromium, _serve_owa(judged))
    verdict = judged.verdict.clients["browser"]
    reasons = [r.reason for r in verdict.reasons]
    assert verdict.accepts is _loaded(seen), (
        f"{case}: Chromium {seen.error or 'loaded the page'}, product says {verdict}"
    )
    # What was measured (the module's table), and the product's reason for it.
    assert seen.error == chromium_error
    assert reasons == refused_for


def test_without_the_root_in_nss_chromium_refuses_the_good_certificate(
    pki: Hierarchy, root_pem: Path, judge, chromium, playwright, tmp_path: Path
) -> None:
    """The negative control: the same server, a Chromium whose NSS database is empty
    fails with ERR_CERT_AUTHORITY_INVALID, so the root in NSS is what made it load."""
    judged = _judge(judge, pki.issuing.issue(HOST), root_pem)
    url = _serve_owa(judged)
    assert visit(chromium, url).loaded
    bare = launch(playwright, nss_home(tmp_path / "home"), RESOLVER_RULES)
    try:
        assert visit(bare, url).error == "ERR_CERT_AUTHORITY_INVALID"
    finally:
        bare.close()
