"""The issuer check reaches Windows' verdict on the chains real organisations run:
one test per row of ../shared/WINDOWS-TRUST.md's table, each against a real TLS
server presenting a chain built for it, each beside a control that differs in
one thing (a serverAuth-only CA passes, a clientAuth-only one fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from exporter.certfacts import parse_chain
from exporter.evaluate.chain import judge_chain
from exporter.evaluate.outcome import Check, Reason, Status
from exporter.lab.certbits import negate_serial
from exporter.lab.pki import ANY_EKU, CLIENT_AUTH, SERVER_AUTH
from exporter.probe.handshakes import probe_tls
from exporter.probe.tls import TlsClient
from exporter.truststore import TrustStore
from tests.pki import CA, DAY, NOW, legacy


@pytest.fixture
def chain_judge(judge, tmp_path: Path):
    """Judge ``leaf`` as issued by a hierarchy whose root is the only anchor."""

    def run(root: CA, leaf: Any, **kwargs: Any) -> Any:
        root_file = root.write(tmp_path / f"root-{id(root)}.pem")
        return judge(leaf, ca_files=[root_file], tweak=legacy, **kwargs)

    return run


def issuer(report) -> tuple[bool | None, Reason | None]:
    outcome = report.verdict.checks[Check.ISSUER_TRUSTED]
    return outcome.ok, outcome.reason


def advisories(report) -> list[Reason | None]:
    return [a.reason for a in report.verdict.advisories]


# --- EKU: CERT_USAGE_MATCH -------------------------------------------------------


def test_server_auth_only_intermediate_is_trusted(chain_judge) -> None:
    """The 2026 public-CA shape; cryptography's Web PKI profile rejected it."""
    root = CA("Public Root")
    inter = CA("TLS Issuing CA", parent=root, eku=[SERVER_AUTH])
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (True, None)
    assert report.status is Status.OK


def test_client_auth_only_intermediate_is_wrong_usage(chain_judge) -> None:
    root = CA("Public Root")
    inter = CA("Client Issuing CA", parent=root, eku=[CLIENT_AUTH])
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (False, Reason.WRONG_USAGE)
    assert "Client Issuing CA" in report.verdict.checks[Check.ISSUER_TRUSTED].message
    assert report.status is Status.CRITICAL


def test_server_auth_only_root_is_trusted(chain_judge) -> None:
    root = CA("TLS Root", eku=[SERVER_AUTH])
    inter = CA("Issuing", parent=root)
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com"))) == (True, None)


def test_client_auth_only_leaf_is_wrong_usage(chain_judge) -> None:
    """An AD CS workstation certificate bound in IIS by mistake."""
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    report = chain_judge(root, inter.issue("mail.contoso.com", eku=[CLIENT_AUTH]))
    assert issuer(report) == (False, Reason.WRONG_USAGE)
    assert "the certificate is not valid for server authentication" in (
        report.verdict.checks[Check.ISSUER_TRUSTED].message
    )
    (fix,) = [step.text for step in report.remediation.steps]
    assert "include Server Authentication (the Web Server template)" in fix
    assert "Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint <new thumbprint>" in fix


@pytest.mark.parametrize("eku", [[ANY_EKU], [], [CLIENT_AUTH, SERVER_AUTH]])
def test_leaf_usage_windows_accepts(chain_judge, eku) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com", eku=eku))) == (True, None)


def test_any_eku_intermediate_is_trusted(chain_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root, eku=[ANY_EKU])
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com"))) == (True, None)


def test_critical_ca_eku_is_no_reason(chain_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root, eku=[SERVER_AUTH], eku_critical=True)
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com"))) == (True, None)


# --- Profile points Windows does not enforce ---------------------------------------


@pytest.mark.parametrize(
    "shape",
    [
        {"bc_critical": False},
        {"key_usage": False},
        {"critical_policies": True},
        {"critical_policies": True, "policy_constraints": True},
        {"aki_by_issuer": True},
    ],
    ids=[
        "bc-not-critical",
        "no-key-usage",
        "critical-policies",
        "critical-policy-constraints-inhibit-any",
        "aki-issuer-serial",
    ],
)
def test_legacy_intermediate_shapes_are_trusted(chain_judge, shape) -> None:
    root = CA("Contoso Root")
    inter = CA("Old Issuing", parent=root, **shape)
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (True, None)
    assert report.status is Status.OK


def test_root_without_key_usage_and_loose_bc_anchors(chain_judge) -> None:
    """The shape of Mozilla's Go Daddy and Starfield Class 2 roots."""
    root = CA("Class 2 Root", key_usage=False, bc_critical=False)
    inter = CA("Issuing", parent=root)
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com"))) == (True, None)


def test_negative_serial_and_pss_with_a_short_salt_are_trusted(chain_judge) -> None:
    root = CA("Contoso RSA Root", key="rsa2048")
    inter = CA("PSS Issuing", parent=root, key="rsa2048", digest="pss20")
    issued = inter.issue("mail.contoso.com")
    issued.cert = negate_serial(issued.cert, inter.key)
    assert issued.cert.serial_number < 0
    report = chain_judge(root, issued)
    assert issuer(report) == (True, None)
    assert report.verdict.checks[Check.NAME_MATCH].ok is True
    # Control: the same PSS intermediate with a broken signature is refused.
    forged = CA("PSS Issuing", parent=CA("Contoso RSA Root", key="rsa2048"), key="rsa2048")
    assert issuer(chain_judge(root, forged.issue("mail.contoso.com")))[0] is False


def test_v1_root_anchors(chain_judge) -> None:
    root = CA("Contoso V1 Root", version1=True)
    assert root.cert.version is x509.Version.v1
    inter = CA("Issuing", parent=root)
    assert issuer(chain_judge(root, inter.issue("mail.contoso.com"))) == (True, None)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [({"is_ca": False}, "invalid CA"), ({"basic_constraints": False}, "invalid CA")],
    ids=["ca-false", "no-basic-constraints"],
)
def test_an_intermediate_that_is_not_a_ca_fails(chain_judge, shape, expected) -> None:
    root = CA("Contoso Root")
    inter = CA("Not A CA", parent=root, **shape)
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)
    assert expected in report.verdict.checks[Check.ISSUER_TRUSTED].message


def test_path_length_is_enforced(chain_judge) -> None:
    root = CA("Contoso Root", path_length=0)
    inter = CA("Issuing", parent=root)
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)
    # Control: path length 1 allows the one intermediate.
    ok_root = CA("Contoso Root", path_length=1)
    ok_inter = CA("Issuing", parent=ok_root)
    assert issuer(chain_judge(ok_root, ok_inter.issue("mail.contoso.com"))) == (True, None)


def test_name_constraints_are_enforced(chain_judge) -> None:
    only = x509.NameConstraints([x509.DNSName("fabrikam.com")], None)
    root = CA("Contoso Root")
    inter = CA("Fabrikam Only", parent=root, name_constraints=only)
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)
    assert issuer(chain_judge(root, inter.issue("mail.fabrikam.com"), host="mail.fabrikam.com"))[0]


def test_expired_intermediate_fails_not_yet_valid_too(chain_judge) -> None:
    root = CA("Contoso Root")
    future = CA("Future Issuing", parent=root, not_before=NOW + DAY, not_after=NOW + 900 * DAY)
    report = chain_judge(root, future.issue("mail.contoso.com", not_before=NOW - DAY))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)


# --- Keys and signatures -----------------------------------------------------------


def test_rsa_1024_root_is_trusted_with_a_weak_key_warning(chain_judge) -> None:
    root = CA("Legacy Root", key="rsa1024")
    inter = CA("Issuing", parent=root)
    outlook_only = {"clients": ["outlook"]}
    report = chain_judge(root, inter.issue("mail.contoso.com"), extra=outlook_only)
    assert issuer(report) == (True, None)
    assert advisories(report) == [Reason.WEAK_KEY]
    assert report.status is Status.WARNING  # Outlook's: a hygiene warning
    # iPhones and Macs refuse it (they use EWS): critical, by their rule.
    everyone = chain_judge(root, inter.issue("mail.contoso.com"))
    assert everyone.status is Status.CRITICAL
    assert everyone.verdict.client_rejects.reason is Reason.CLIENT_REJECTS
    assert [r.reason for r in everyone.verdict.clients["apple"].reasons] == [Reason.WEAK_KEY]
    assert everyone.verdict.clients["outlook"].accepts is True


def test_rsa_512_intermediate_is_blocked(chain_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Tiny Key CA", parent=root, key="rsa512")
    report = chain_judge(root, inter.issue("mail.contoso.com"))
    assert issuer(report) == (False, Reason.INVALID_CHAIN)
    assert "KB 2661254" in report.verdict.checks[Check.ISSUER_TRUSTED].message


@pytest.mark.parametrize("where", ["leaf", "intermediate"])
def test_sha1_under_an_enterprise_root_is_trusted_with_a_warning(chain_judge, where) -> None:
    root = CA("Contoso 2008 Root")
    inter = CA("Issuing", parent=root, digest="sha1" if where == "intermediate" else "sha256")
    leaf = inter.issue("mail.contoso.com", digest="sha1" if where == "leaf" else "sha256")
    report = chain_judge(root, leaf, extra={"clients": ["outlook"]})
    assert issuer(report) == (True, None)
    assert advisories(report) == [Reason.WEAK_SIGNATURE]
    assert report.status is Status.WARNING
    # iPhones and Macs refuse SHA-1 whatever the root: critical when they are counted.
    assert chain_judge(root, leaf).status is Status.CRITICAL
    (fix,) = [step.text for step in report.remediation.steps]
    assert fix.startswith(f"When certificate {report.verdict.leaf.thumbprint} on EXCH01")
    assert "issue it with a SHA-256 signature" in fix
    # Control: the same chain signed with SHA-256 has no advisory.
    clean = CA("Issuing", parent=root).issue("mail.contoso.com")
    assert advisories(chain_judge(root, clean)) == []


def test_sha1_under_a_public_root_is_blocked(make_tls, tmp_path: Path) -> None:
    """Microsoft's SHA-1 block covers roots of its Trusted Root Program only. The
    chain comes from a real server; the store marks its root public, as the system
    bundle's roots are."""
    root = CA("Public Root")
    inter = CA("Issuing", parent=root, digest="sha1")
    server = make_tls("127.0.1.9", inter.issue("mail.contoso.com"), tweak=legacy)
    presented = probe_tls("127.0.1.9", server.port, "mail.contoso.com", 3.0, TlsClient())
    chain = parse_chain(presented.chain)
    der = root.der()
    public = judge_chain(chain, TrustStore((root.cert,), (), frozenset({der})), NOW)
    assert (public.issuer.ok, public.issuer.reason) == (False, Reason.INVALID_CHAIN)
    assert "SHA-1" in (public.issuer.message or "")
    enterprise = judge_chain(chain, TrustStore((root.cert,), ()), NOW)
    assert enterprise.issuer.ok is True


def test_validity_beyond_what_public_cas_issue_is_an_optional_advisory(chain_judge) -> None:
    root = CA("Contoso Root")
    inter = CA("Issuing", parent=root)
    two_years = inter.issue("mail.contoso.com", not_before=NOW - DAY, not_after=NOW + 729 * DAY)
    # Off by default: no client refuses AD CS's two-year template under an enterprise root.
    assert advisories(chain_judge(root, two_years)) == []
    assert chain_judge(root, two_years).status is Status.OK
    report = chain_judge(root, two_years, thresholds={"max_validity": "398d"})
    assert advisories(report) == [Reason.LONG_VALIDITY]
    assert "valid for 730 days, longer than the 398" in report.verdict.advisories[0].message
    assert report.status is Status.WARNING
    (fix,) = [step.text for step in report.remediation.steps]
    assert "a validity public CAs would give it" in fix
    # Controls: a year is fine; the threshold moves it; 0 turns it off.
    year = inter.issue("mail.contoso.com", not_before=NOW - DAY, not_after=NOW + 396 * DAY)
    assert advisories(chain_judge(root, year, thresholds={"max_validity": "398d"})) == []
    assert advisories(chain_judge(root, two_years, thresholds={"max_validity": "825d"})) == []
    assert advisories(chain_judge(root, two_years, thresholds={"max_validity": "0s"})) == []
